"""Step Functions execution events to spans: the failures, and the states no step writes a span for.

The state machine logs at level ERROR by default (`wikiroam:stateMachineLogLevel`): its events are the failures,
each failed, timed-out or throttled attempt (`TaskFailed`, `TaskTimedOut`...) and each failed execution
(`FailStateEntered`, `ExecutionFailed`...). Every attempt becomes an error span, under its state's span when the
batch says which state it is (level ALL), else under the execution's span; a Fail state becomes a span ending
with the execution. A task's state span and the execution's span are written by the steps themselves
(`telemetry.StepState`), with the ids derived here too, so none is written twice; the shipper writes the
execution's span only for an execution no step could end (timed out, aborted). At level ALL (debugging), the
Choice, Succeed and Pass states' spans come from here as well.

A span needs its start and its end. A batch holds what CloudWatch delivered together, so an execution's events
may straddle two batches: a state span is emitted when its entered and exited events (or the execution's end)
are in one batch; a half without its other half is counted and logged, never guessed.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from functions import __version__, telemetry

logger = logging.getLogger("functions.shipping")

SCOPE_NAME = "wikiroam.shipper"
EXECUTION_SPAN_NAME = telemetry.EXECUTION_SPAN_NAME
# Long causes (a Python traceback) are cut: the span says what failed, the logs keep the rest.
MAX_CAUSE_CHARS = 1024
_ENDED = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
# Executions that end while a state runs: no step writes their span, the shipper does.
_ENDED_UNDER_A_STEP = {"ExecutionAborted", "ExecutionTimedOut"}
_TASK_FAILED = {"TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed"}
# The steps write their own state's span (`telemetry.StepState`).
_WRITTEN_BY_STEPS = "Task"


@dataclass(frozen=True)
class StateMachineEvent:
    """One Step Functions log event (logging level ALL, with or without execution data)."""

    id: int
    type: str
    timestamp_ms: int
    execution_arn: str
    details: Mapping[str, Any]


def parse_state_machine_event(message: str) -> StateMachineEvent | None:
    """The Step Functions event in a log message, or None when the message is not one."""
    if not message.startswith("{"):
        return None
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str) or "execution_arn" not in data:
        return None
    try:
        return StateMachineEvent(
            id=int(data.get("id", 0)),
            type=data["type"],
            timestamp_ms=int(data["event_timestamp"]),
            execution_arn=str(data["execution_arn"]),
            details=details if isinstance(details := data.get("details"), dict) else {},
        )
    except (KeyError, TypeError, ValueError):
        return None


def _attribute(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, list | tuple):
        return KeyValue(
            key=key, value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=str(v)) for v in value]))
        )
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _attributes(values: Mapping[str, Any]) -> list[KeyValue]:
    return [_attribute(k, v) for k, v in values.items() if v is not None]


def _ms_to_ns(ms: int) -> int:
    return ms * 1_000_000


def _json_details(details: Mapping[str, Any], key: str) -> Any:
    raw = details.get(key)
    if not isinstance(raw, str):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


@dataclass
class _OpenState:
    name: str
    state_type: str
    entered: StateMachineEvent
    attempts: int = 0
    scheduled_ms: int | None = None


@dataclass
class _Execution:
    arn: str
    trace_id: int | None = None
    parent_span_id: int | None = None
    started: StateMachineEvent | None = None
    ended: StateMachineEvent | None = None


def state_machine_spans(
    events: Iterable[StateMachineEvent], resource: Mapping[str, Any]
) -> tuple[ResourceSpans | None, int]:
    """Spans for the executions and states in these events, and how many events had no other half here."""
    by_execution: dict[str, list[StateMachineEvent]] = {}
    for event in events:
        by_execution.setdefault(event.execution_arn, []).append(event)
    spans: list[Span] = []
    unpaired = 0
    for arn, execution_events in by_execution.items():
        execution_spans, execution_unpaired = _execution_spans(arn, sorted(execution_events, key=lambda e: e.id))
        spans.extend(execution_spans)
        unpaired += execution_unpaired
    if unpaired:
        logger.warning(
            "%d Step Functions events had no start or end in this batch: their spans are not emitted", unpaired
        )
    if not spans:
        return None, unpaired
    arn_parts = next(iter(by_execution)).split(":")
    resource_attributes = {
        **resource,
        "cloud.provider": "aws",
        "cloud.platform": "aws_step_functions",
        "cloud.region": arn_parts[3] if len(arn_parts) > 3 else None,
        "cloud.account.id": arn_parts[4] if len(arn_parts) > 4 else None,
    }
    return (
        ResourceSpans(
            resource=Resource(attributes=_attributes(resource_attributes)),
            scope_spans=[ScopeSpans(scope=InstrumentationScope(name=SCOPE_NAME, version=__version__), spans=spans)],
        ),
        unpaired,
    )


def _trace_of(execution: _Execution, event: StateMachineEvent) -> None:
    """Learn the execution's trace from `_trace` in any input or output an event carries.

    Only events logged with execution data carry one: executions named before names carried the trace, or a
    state machine logging its data (`wikiroam:executionDataInLogs`).
    """
    if execution.trace_id is not None:
        return
    for key in ("input", "output"):
        span_context = telemetry.extract_trace_carrier(_json_details(event.details, key))
        if span_context is not None:
            execution.trace_id = span_context.trace_id
            execution.parent_span_id = span_context.span_id
            return


def _execution_spans(arn: str, events: list[StateMachineEvent]) -> tuple[list[Span], int]:
    execution = _Execution(arn)
    # The execution's name carries the trace (`<pageid>-<traceparent>`): every event has it, in its ARN.
    named = telemetry.extract_execution_trace(arn)
    if named is not None:
        execution.trace_id, execution.parent_span_id = named.trace_id, named.span_id
    for event in events:
        _trace_of(execution, event)
    trace_id = (execution.trace_id or telemetry.execution_trace_id(arn)).to_bytes(16, "big")
    execution_id = telemetry.execution_span_id(arn).to_bytes(8, "big")
    spans: list[Span] = []
    unpaired = 0
    state: _OpenState | None = None
    for event in events:
        if event.type == "ExecutionStarted":
            execution.started = event
        elif event.type in _ENDED:
            execution.ended = event
        if event.type in _ENDED or event.type.endswith(("StateEntered", "StateExited")):
            # A Fail state has no Exited event: the execution's end is its end.
            closes = event.type in _ENDED or (state is not None and state.name == event.details.get("name"))
            if state is not None and closes and not event.type.endswith("StateEntered"):
                if state.state_type != _WRITTEN_BY_STEPS:
                    spans.append(_state_span(arn, state, event, trace_id, execution_id))
            elif (state is not None and state.state_type != _WRITTEN_BY_STEPS) or (
                event.type.endswith("StateExited") and not event.type.startswith(_WRITTEN_BY_STEPS)
            ):
                unpaired += 1
            state = _entered(event) if event.type.endswith("StateEntered") else None
        elif event.type in _TASK_FAILED:
            spans.append(_attempt_failed_span(arn, state, event, trace_id, execution_id))
        elif state is not None and event.type == "TaskScheduled":
            state.attempts += 1
            state.scheduled_ms = event.timestamp_ms
    unpaired += state is not None and state.state_type != _WRITTEN_BY_STEPS
    if execution.ended is not None and execution.ended.type in _ENDED_UNDER_A_STEP:
        spans.insert(0, _execution_span(execution, execution.started, execution.ended, trace_id, execution_id))
    return spans, unpaired


def _entered(event: StateMachineEvent) -> _OpenState:
    name = str(event.details.get("name", ""))
    return _OpenState(name=name, state_type=event.type.removesuffix("StateEntered"), entered=event)


def _attempt_failed_span(
    arn: str, state: _OpenState | None, event: StateMachineEvent, trace_id: bytes, execution_id: bytes
) -> Span:
    """One failed attempt (a task failed, timed out, or was not started: a throttle), as an error span.

    Its state is known when the batch holds the state's entry (level ALL): the span is then that state's child;
    at level ERROR the event does not name its state, and the span is the execution's child.
    """
    error = str(event.details.get("error") or event.type)
    cause = str(event.details.get("cause") or "")[:MAX_CAUSE_CHARS]
    attributes: dict[str, Any] = {"aws.step_functions.execution.arn": arn, "error.type": error}
    parent = execution_id
    start_ms = event.timestamp_ms
    if state is not None:
        parent = telemetry.state_span_id(arn, state.name, state.entered.timestamp_ms).to_bytes(8, "big")
        attributes["aws.step_functions.state.name"] = state.name
        attributes["aws.step_functions.state.retry_count"] = max(state.attempts - 1, 0)
        start_ms = state.scheduled_ms if state.scheduled_ms is not None else start_ms
    at = _ms_to_ns(event.timestamp_ms)
    exception = {"exception.type": error, "exception.message": cause}
    return Span(
        trace_id=trace_id,
        span_id=random.getrandbits(64).to_bytes(8, "big"),
        parent_span_id=parent,
        name=event.type,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=_ms_to_ns(start_ms),
        end_time_unix_nano=at,
        attributes=_attributes(attributes),
        events=[Span.Event(time_unix_nano=at, name="exception", attributes=_attributes(exception))],
        status=Status(code=Status.STATUS_CODE_ERROR, message=f"{error}: {cause}"[:MAX_CAUSE_CHARS].rstrip(": ")),
    )


def _state_span(arn: str, state: _OpenState, end: StateMachineEvent, trace_id: bytes, parent_id: bytes) -> Span:
    span_id = telemetry.state_span_id(arn, state.name, state.entered.timestamp_ms)
    attributes: dict[str, Any] = {
        "aws.step_functions.execution.arn": arn,
        "aws.step_functions.state.name": state.name,
        "aws.step_functions.state.type": state.state_type,
    }
    status = Status()
    if end.type in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
        error = str(end.details.get("error") or end.type)
        cause = str(end.details.get("cause") or "")
        attributes["error.type"] = error
        status = Status(code=Status.STATUS_CODE_ERROR, message=f"{error}: {cause}"[:MAX_CAUSE_CHARS].rstrip(": "))
    return Span(
        trace_id=trace_id,
        span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent_id,
        name=state.name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=_ms_to_ns(state.entered.timestamp_ms),
        end_time_unix_nano=_ms_to_ns(end.timestamp_ms),
        attributes=_attributes(attributes),
        status=status,
    )


def _execution_span(
    execution: _Execution,
    started: StateMachineEvent | None,
    ended: StateMachineEvent,
    trace_id: bytes,
    span_id: bytes,
) -> Span:
    """The span of an execution that ended while a state ran (from its start, or its end when the batch or the
    log level has no start)."""
    arn_parts = execution.arn.split(":")
    attributes: dict[str, Any] = {
        "aws.step_functions.execution.arn": execution.arn,
        "aws.step_functions.execution.status": ended.type.removeprefix("Execution").upper(),
    }
    if len(arn_parts) >= 8:
        attributes["aws.step_functions.state_machine.name"] = arn_parts[6]
        attributes["aws.step_functions.execution.name"] = arn_parts[7]
    status = Status()
    events = []
    if ended.type != "ExecutionSucceeded":
        error = str(ended.details.get("error") or ended.type)
        cause = str(ended.details.get("cause") or "")[:MAX_CAUSE_CHARS]
        attributes["error.type"] = error
        status = Status(code=Status.STATUS_CODE_ERROR, message=f"{error}: {cause}".rstrip(": "))
        events.append(
            Span.Event(
                time_unix_nano=_ms_to_ns(ended.timestamp_ms),
                name="exception",
                attributes=_attributes({"exception.type": error, "exception.message": cause}),
            )
        )
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=execution.parent_span_id.to_bytes(8, "big") if execution.parent_span_id else b"",
        name=EXECUTION_SPAN_NAME,
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=_ms_to_ns((started or ended).timestamp_ms),
        end_time_unix_nano=_ms_to_ns(ended.timestamp_ms),
        attributes=_attributes(attributes),
        events=events,
        status=status,
    )
