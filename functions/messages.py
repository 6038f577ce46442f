"""The messages between the parts of the pipeline: cache requests on SNS and the state machine's input.

Pure contracts (shapes, parsing, names); the calls that send them are in `functions.messaging`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from functions.contract import RECORD_FAILURE_OPERATION, TASK_OPERATION, TRACE_KEY
from functions.errors import InvalidCacheRequest, InvalidTaskPayload

Reason = Literal["search", "page"]
MAX_PAGES_PER_REQUEST = 50
_EXECUTION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# A W3C traceparent (version 00) is 55 characters of [0-9a-f-], all allowed in an execution name: with a page id
# of up to 16 digits (the API's largest) the name stays within AWS's 80 characters.
_TRACEPARENT = r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}"
_IS_TRACEPARENT = re.compile(rf"^{_TRACEPARENT}$")
_NAME_WITH_TRACEPARENT = re.compile(rf"^[0-9]+-({_TRACEPARENT})$")


@dataclass(frozen=True)
class PageRef:
    """A page named by id, with its title for logs and link records."""

    pageid: int
    title: str


@dataclass(frozen=True)
class CacheRequest:
    """Pages a reader has seen that are not cached yet; one SNS message per search or page view."""

    pages: tuple[PageRef, ...]
    reason: Reason

    def to_json(self) -> str:
        """The SNS message body."""
        return json.dumps(
            {"pages": [{"pageid": p.pageid, "title": p.title} for p in self.pages], "reason": self.reason},
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, body: str) -> CacheRequest:
        """Parse an SNS message body; `InvalidCacheRequest` says what is wrong with it."""
        try:
            data = json.loads(body)
        except (TypeError, ValueError):
            raise InvalidCacheRequest("the cache request is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidCacheRequest("the cache request is not a JSON object")
        reason = data.get("reason")
        if reason not in ("search", "page"):
            raise InvalidCacheRequest(f"the cache request's reason {reason!r} is not 'search' or 'page'")
        raw_pages = data.get("pages")
        if not isinstance(raw_pages, list) or not 1 <= len(raw_pages) <= MAX_PAGES_PER_REQUEST:
            raise InvalidCacheRequest(f"the cache request needs 1 to {MAX_PAGES_PER_REQUEST} pages")
        return cls(pages=tuple(page_ref(p, InvalidCacheRequest) for p in raw_pages), reason=reason)


def page_ref(raw: Any, error: type[Exception]) -> PageRef:
    """A `PageRef` from `{"pageid": int, "title": str}`, or `error` naming what is wrong."""
    if not isinstance(raw, dict):
        raise error(f"a page must be an object with pageid and title, not {raw!r:.80}")
    pageid, title = raw.get("pageid"), raw.get("title")
    if isinstance(pageid, bool) or not isinstance(pageid, int) or pageid <= 0:
        raise error(f"a page's pageid must be a positive integer, not {pageid!r:.40}")
    if not isinstance(title, str) or not title.strip():
        raise error(f"page {pageid} has no title")
    return PageRef(pageid=pageid, title=title)


def execution_input(page: PageRef, reason: Reason, trace: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The state machine's input for caching one page; `trace` (W3C `traceparent`...) goes under `_trace`.

    The steps read `page` only, so `_trace` rides along through every state's input untouched. The execution's
    name carries the traceparent too (`execution_name`); `_trace` adds what a name cannot hold (`tracestate`,
    `baggage`) for the steps, and the trace for logs written with execution data before names carried it.
    """
    document: dict[str, Any] = {"page": {"pageid": page.pageid, "title": page.title}, "reason": reason}
    if trace:
        document[TRACE_KEY] = dict(trace)
    return document


def execution_name(page: PageRef, message_id: str, traceparent: str | None = None) -> str:
    """The execution's name (80 characters of [A-Za-z0-9_-] at most, as AWS requires).

    Started inside a trace, `<pageid>-<traceparent>`: the name is part of the execution ARN in every event the
    state machine logs, so the shipper learns the trace from the logs without their execution data. The span id
    in it is the StartSyncExecution span's own, so the name is unique per start. Without a trace (telemetry off),
    `<pageid>-<SNS message id>`.
    """
    if traceparent is not None and _IS_TRACEPARENT.match(traceparent):
        return f"{page.pageid}-{traceparent}"
    return f"{page.pageid}-{_EXECUTION_NAME_UNSAFE.sub('', message_id)}"[:80]


def execution_traceparent(execution: str) -> str | None:
    """The W3C traceparent an execution's name carries, from the name or its ARN; None when it carries none.

    Standard ARNs are `arn:aws:states:<region>:<account>:execution:<state machine>:<name>`, Express ones add
    `:<execution id>` after the name: the name is the eighth field of either.
    """
    if execution.startswith("arn:"):
        parts = execution.split(":")
        if len(parts) < 8:
            return None
        execution = parts[7]
    matched = _NAME_WITH_TRACEPARENT.match(execution)
    return matched.group(1) if matched else None


@dataclass(frozen=True)
class StateContext:
    """The part of the Step Functions context object each task receives."""

    execution_id: str
    state_name: str
    entered_time: str
    retry_count: int


@dataclass(frozen=True)
class TaskEvent:
    """A cache step's payload: the page, the whole state input, and the state's context."""

    page: PageRef
    state: Mapping[str, Any]
    context: StateContext


def parse_task_event(event: Any) -> TaskEvent:
    """Parse `{"input": <state input>, "context": {...}}`; `InvalidTaskPayload` says what is wrong."""
    if not isinstance(event, dict):
        raise InvalidTaskPayload("the task payload is not a JSON object")
    state, context = event.get("input"), event.get("context")
    if not isinstance(state, dict):
        raise InvalidTaskPayload("the task payload has no 'input' object (the state's input)")
    if not isinstance(context, dict):
        raise InvalidTaskPayload("the task payload has no 'context' object (the state's context)")
    fields = ("execution_id", "state_name", "entered_time")
    missing = [f for f in fields if not isinstance(context.get(f), str) or not context[f]]
    retry_count = context.get("retry_count")
    if missing or isinstance(retry_count, bool) or not isinstance(retry_count, int):
        raise InvalidTaskPayload(f"the task payload's context lacks {', '.join(missing) or 'retry_count'}")
    return TaskEvent(
        page=page_ref(state.get("page"), InvalidTaskPayload),
        state=state,
        context=StateContext(
            execution_id=context["execution_id"],
            state_name=context["state_name"],
            entered_time=context["entered_time"],
            retry_count=retry_count,
        ),
    )


# Error names are ASCII identifiers with dots (`Sandbox.Timedout`); anything longer is cut, not trusted as a name.
MAX_ERROR_NAME_LENGTH = 100


@dataclass(frozen=True)
class CaughtFailure:
    """The Catch path's payload: the task that failed, and the error Step Functions caught (`$.error`)."""

    task: TaskEvent
    error: str
    cause: str


def task_operation(event: Any) -> str | None:
    """Which operation of a step function a payload asks for; None for the step itself."""
    operation = event.get(TASK_OPERATION) if isinstance(event, dict) else None
    return operation if isinstance(operation, str) else None


def parse_caught_failure(event: Any) -> CaughtFailure:
    """Parse a `record_failure` payload: a task payload whose input holds the caught `error` object."""
    if task_operation(event) != RECORD_FAILURE_OPERATION:
        raise InvalidTaskPayload(f"the payload's operation is not {RECORD_FAILURE_OPERATION!r}")
    task = parse_task_event(event)
    error = task.state.get("error")
    name = error.get("Error") if isinstance(error, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise InvalidTaskPayload("the payload's input has no caught error ('error': {'Error', 'Cause'})")
    cause = error.get("Cause") if isinstance(error, dict) else None
    return CaughtFailure(
        task=task, error=name.strip()[:MAX_ERROR_NAME_LENGTH], cause=cause if isinstance(cause, str) else ""
    )
