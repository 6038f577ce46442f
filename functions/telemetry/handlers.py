"""The FaaS span every handler gets: its parent, kind and attributes from the trigger's event, then a flush.

`traced_handler` wraps a Lambda entry point; `http_invocation`, `sns_invocation` and `step_invocation` say how
an API Gateway request, an SNS delivery and a Step Functions task become the span (FaaS and messaging semantic
conventions).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind, Status, StatusCode

from functions.contract import OPERATION_NAME
from functions.telemetry import sdk
from functions.telemetry.ids import epoch_ms, execution_span_id, execution_trace_id, state_span_id
from functions.telemetry.propagation import (
    execution_parent,
    execution_started_by,
    extract_headers,
    extract_sns_record,
    state_parent,
)

logger = logging.getLogger("functions.telemetry")

# The span of a Step Functions execution (the shipper writes it too, for an execution that timed out).
EXECUTION_SPAN_NAME = "StepFunctions.Execution"
# Long causes (a Python traceback) are cut: the span says what failed, the logs keep the rest.
_MAX_CAUSE_CHARS = 1024
_NS_PER_MS = 1_000_000

# OpenTelemetry's `faas.trigger` values WikiRoam's functions have (`timer`: the scheduled gap check).
Trigger = Literal["http", "pubsub", "timer", "other"]
Handler = TypeVar("Handler", bound=Callable[..., Any])


class EntrySpan:
    """How one trigger's event becomes the FaaS span: its parent, kind, attributes and links."""

    # A plain class: a dataclass costs a cold start about 0.5 ms to define (see `sdk`).
    def __init__(
        self,
        *,
        parent: Context | None = None,
        kind: SpanKind = SpanKind.SERVER,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
        links: list[Link] | None = None,
        on_result: Callable[[trace.Span, Any], None] | None = None,
        state: StepState | None = None,
    ) -> None:
        self.parent = parent
        self.kind = kind
        self.name = name
        self.attributes: dict[str, Any] = attributes if attributes is not None else {}
        self.links: list[Link] = links if links is not None else []
        self.on_result = on_result
        self.state = state


class StepState:
    """The Step Functions state a task invocation runs in: the step writes its span, and the execution's.

    The state machine logs at level ERROR (`wikiroam:stateMachineLogLevel`): nothing of a state that succeeds
    reaches its log group, so the state span is written by the step, with the id the shipper derives
    (`state_span_id`). Only the attempt that ends the state writes it (it succeeded, or failed with no retry
    left): earlier attempts' spans name it as their parent all the same. The attempt that ends the execution,
    as the state machine's `ends_execution` says (`components/cache_workflow.py`), writes the execution's span,
    from the execution's start time to its own end, the child of the StartSyncExecution span that started it.
    """

    def __init__(
        self,
        execution_arn: str,
        state_name: str,
        entered_time: str,
        *,
        retry_count: int,
        state_input: Any,
        execution_start: str | None = None,
        ends_execution: Mapping[str, Any] | None = None,
    ) -> None:
        self.execution_arn = execution_arn
        self.state_name = state_name
        self.entered_ms = epoch_ms(entered_time)
        self.retry_count = retry_count
        self.state_input = state_input
        self.execution_start = execution_start
        self.ends_execution = ends_execution or {}

    def start(self, telemetry: sdk.SandboxTelemetry) -> trace.Span:
        """The state's span, started when the state was entered (ended by `end`, if this attempt ends it)."""
        span = telemetry.start_span_with_id(
            state_span_id(self.execution_arn, self.state_name, self.entered_ms),
            self.state_name,
            context=execution_parent(self.execution_arn, self.state_input),
            kind=SpanKind.INTERNAL,
            start_time=self.entered_ms * _NS_PER_MS,
            attributes={
                "aws.step_functions.execution.arn": self.execution_arn,
                "aws.step_functions.state.name": self.state_name,
                "aws.step_functions.state.type": "Task",
                "aws.step_functions.state.retry_count": self.retry_count,
            },
        )
        if self.retry_count:
            span.add_event("retry", {"aws.step_functions.state.retry_count": self.retry_count})
        return span

    def end(
        self,
        telemetry: sdk.SandboxTelemetry,
        span: trace.Span,
        *,
        result: Any,
        error: BaseException | None,
        final_failure: Callable[[BaseException, int], bool] | None,
    ) -> None:
        """End the state's span unless a retry follows this failed attempt; then the execution's, if it ends."""
        if error is not None:
            if final_failure is not None and not final_failure(error, self.retry_count):
                return
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[: sdk.MAX_ATTRIBUTE_LENGTH]))
        span.end()
        status = self._execution_status(result, error)
        if status is not None:
            self._write_execution(telemetry, status, error)

    def _execution_status(self, result: Any, error: BaseException | None) -> str | None:
        if error is not None:
            failed = self.ends_execution.get("on_failure")
            return failed if isinstance(failed, str) else None
        status = self.ends_execution.get("on_success")
        when = self.ends_execution.get("when")
        if isinstance(when, Mapping) and not (
            isinstance(result, Mapping) and all(result.get(key) == value for key, value in when.items())
        ):
            return None
        return status if isinstance(status, str) else None

    def _write_execution(self, telemetry: sdk.SandboxTelemetry, status: str, error: BaseException | None) -> None:
        arn_parts = self.execution_arn.split(":")
        attributes: dict[str, Any] = {
            "aws.step_functions.execution.arn": self.execution_arn,
            "aws.step_functions.execution.status": status,
        }
        if len(arn_parts) >= 8:
            attributes["aws.step_functions.state_machine.name"] = arn_parts[6]
            attributes["aws.step_functions.execution.name"] = arn_parts[7]
        started_by = execution_started_by(self.execution_arn, self.state_input)
        start_ms = self.entered_ms
        if self.execution_start is not None:
            try:
                start_ms = min(epoch_ms(self.execution_start), start_ms)
            except ValueError:
                attributes["wikiroam.telemetry.start_error"] = (
                    f"unreadable execution start {self.execution_start!r:.60}"
                )
        span = telemetry.start_span_with_id(
            execution_span_id(self.execution_arn),
            EXECUTION_SPAN_NAME,
            trace_id=None if started_by else execution_trace_id(self.execution_arn),
            context=trace.set_span_in_context(NonRecordingSpan(started_by)) if started_by else Context(),
            kind=SpanKind.SERVER,
            start_time=start_ms * _NS_PER_MS,
            attributes=attributes,
        )
        if status != "SUCCEEDED":
            # The error the execution fails with: the one a Catch put in the state's input, else this attempt's.
            caught = self.state_input.get("error") if isinstance(self.state_input, Mapping) else None
            caught = caught if isinstance(caught, Mapping) else {}
            name = str(caught.get("Error") or (type(error).__name__ if error is not None else status))
            cause = str(caught.get("Cause") or (error if error is not None else ""))[:_MAX_CAUSE_CHARS]
            span.set_attribute("error.type", name)
            span.add_event("exception", {"exception.type": name, "exception.message": cause})
            span.set_status(Status(StatusCode.ERROR, f"{name}: {cause}".rstrip(": ")))
        span.end()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def http_invocation(event: Any) -> EntrySpan:
    """An API Gateway HTTP API (payload v2) request: the server span, child of the caller's `traceparent`."""
    event = event if isinstance(event, Mapping) else {}
    request_context = _mapping(event.get("requestContext"))
    http = _mapping(request_context.get("http"))
    method = str(http.get("method") or "GET")
    route = event.get("routeKey") if isinstance(event.get("routeKey"), str) else None
    attributes: dict[str, Any] = {"http.request.method": method}
    for key, value in (
        ("url.path", event.get("rawPath") or http.get("path")),
        ("user_agent.original", http.get("userAgent")),
        ("client.address", http.get("sourceIp")),
        ("network.protocol.name", "http"),
    ):
        if isinstance(value, str) and value:
            attributes[key] = value
    name = f"{method} {http.get('path') or event.get('rawPath') or ''}".strip()
    if route and route != "$default":
        attributes["http.route"] = route.split(" ", 1)[-1]
        name = route

    def on_result(span: trace.Span, result: Any) -> None:
        status = result.get("statusCode") if isinstance(result, Mapping) else None
        if isinstance(status, int):
            span.set_attribute("http.response.status_code", status)
            # A server span is in error for 5xx only: a 4xx is the client's mistake.
            if status >= 500:
                span.set_attribute("error.type", str(status))
                span.set_status(Status(StatusCode.ERROR))

    headers = event.get("headers") if isinstance(event.get("headers"), Mapping) else None
    return EntrySpan(parent=extract_headers(headers), name=name, attributes=attributes, on_result=on_result)


def sns_invocation(event: Any) -> EntrySpan:
    """An SNS delivery: a consumer span, child of the publisher's span (SNS delivers one record per invocation).

    Should an event ever hold several records, the span is the child of the first one's publisher and links
    to every record's publisher.
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    records = [r for r in records if isinstance(r, Mapping)] if isinstance(records, list) else []
    contexts = [extract_sns_record(r) for r in records]
    links = [
        Link(span_context)
        for span_context in (trace.get_current_span(c).get_span_context() for c in contexts[1:])
        if span_context.is_valid
    ]
    sns = records[0].get("Sns") if records and isinstance(records[0].get("Sns"), Mapping) else {}
    topic = str(sns.get("TopicArn") or "").rsplit(":", 1)[-1]
    attributes: dict[str, Any] = {
        "messaging.system": "aws_sns",
        "messaging.operation.type": "process",
        "messaging.batch.message_count": len(records),
    }
    if topic:
        attributes["messaging.destination.name"] = topic
    if isinstance(sns.get("MessageId"), str):
        attributes["messaging.message.id"] = sns["MessageId"]
    return EntrySpan(
        parent=contexts[0] if contexts else None, kind=SpanKind.CONSUMER, attributes=attributes, links=links
    )


def step_invocation(event: Any) -> EntrySpan:
    """A Step Functions task (`lambda:invoke` with the state's context): the child of the state's span."""
    state_input = event.get("input") if isinstance(event, Mapping) else None
    context = event.get("context") if isinstance(event, Mapping) else None
    if not isinstance(context, Mapping):
        return EntrySpan()
    execution_arn, state_name = context.get("execution_id"), context.get("state_name")
    entered_time, retry_count = context.get("entered_time"), context.get("retry_count")
    attributes: dict[str, Any] = {}
    parent = None
    state = None
    retries = retry_count if isinstance(retry_count, int) and not isinstance(retry_count, bool) else None
    if isinstance(execution_arn, str) and isinstance(state_name, str) and isinstance(entered_time, str):
        attributes["aws.step_functions.execution.arn"] = execution_arn
        attributes["aws.step_functions.state.name"] = state_name
        try:
            parent = state_parent(execution_arn, state_name, entered_time, state_input)
            execution_start, ends_execution = context.get("execution_start"), context.get("ends_execution")
            state = StepState(
                execution_arn,
                state_name,
                entered_time,
                retry_count=retries or 0,
                state_input=state_input,
                execution_start=execution_start if isinstance(execution_start, str) else None,
                ends_execution=ends_execution if isinstance(ends_execution, Mapping) else None,
            )
        except ValueError:
            # An entered time we cannot read: the span still exists, as a root, and says why in its attributes.
            attributes["wikiroam.telemetry.parent_error"] = f"unreadable entered_time {entered_time!r:.60}"
    if retries is not None:
        attributes["aws.step_functions.state.retry_count"] = retries
    return EntrySpan(parent=parent, attributes=attributes, state=state)


def traced_handler(
    describe: Callable[[Any], EntrySpan],
    *,
    trigger: Trigger,
    name: str,
    operation: str,
    final_failure: Callable[[BaseException, int], bool] | None = None,
) -> Callable[[Handler], Handler]:
    """Wrap a Lambda entry point in its FaaS span, and flush the invocation's spans when it ends, even failing.

    `name` is the span's name when the trigger gives none better (a stable name: physical function names
    change per stack); `operation` its `operation.name`, which names its trace metrics. For a Step Functions
    task, `final_failure(error, retry_count)` says whether the state machine gives up on the state after this
    error (no retry left): only then does a failed attempt write the state's span (every error, without it).
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def traced(event: Any, context: Any) -> Any:
            telemetry = sdk.configure_once(
                getattr(context, "function_name", None), getattr(context, "invoked_function_arn", None)
            )
            if telemetry is None:
                return handler(event, context)
            cold_start = sdk.take_cold_start()
            try:
                invocation = describe(event)
                attributes: dict[str, Any] = {
                    "faas.trigger": trigger,
                    "faas.coldstart": cold_start,
                    OPERATION_NAME: operation,
                }
                request_id = getattr(context, "aws_request_id", None)
                if isinstance(request_id, str):
                    attributes["faas.invocation_id"] = request_id
                function_arn = getattr(context, "invoked_function_arn", None)
                if isinstance(function_arn, str):
                    attributes["cloud.resource_id"] = function_arn
                    parts = function_arn.split(":")
                    if len(parts) > 4 and parts[4].isdigit():
                        attributes["cloud.account.id"] = parts[4]
                attributes.update(invocation.attributes)
                state, state_span = invocation.state, None
                parent = invocation.parent
                if state is not None:
                    state_span = state.start(telemetry)
                    parent = trace.set_span_in_context(state_span)
                result: Any = None
                failure: BaseException | None = None
                try:
                    with telemetry.tracer.start_as_current_span(
                        invocation.name or name,
                        context=parent,
                        kind=invocation.kind,
                        attributes=attributes,
                        links=invocation.links,
                        record_exception=False,
                        set_status_on_exception=False,
                    ) as span:
                        try:
                            result = handler(event, context)
                        except BaseException as error:
                            sdk.record_error(error, span)
                            failure = error
                            raise
                        if invocation.on_result is not None:
                            invocation.on_result(span, result)
                finally:
                    if state is not None and state_span is not None:
                        _end_state(
                            state, telemetry, state_span, result=result, failure=failure, final_failure=final_failure
                        )
                return result
            finally:
                sdk.flush()

        return traced  # type: ignore[return-value]

    return decorate


def _end_state(
    state: StepState,
    telemetry: sdk.SandboxTelemetry,
    span: trace.Span,
    *,
    result: Any,
    failure: BaseException | None,
    final_failure: Callable[[BaseException, int], bool] | None,
) -> None:
    try:
        state.end(telemetry, span, result=result, error=failure, final_failure=final_failure)
    except Exception:
        # The step's answer (or its own error) is what Step Functions must see: telemetry only logs.
        logger.exception("could not write the spans of state %s", state.state_name)
