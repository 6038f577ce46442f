"""The shipper's logic: CloudWatch Logs subscription batches in, OTLP/HTTP export requests out.

A batch comes from one log group. From a function's group it holds span lines (`OTLPv1 ...`, see
`functions.telemetry`), decoded back into the export requests the functions encoded. From the state machine's
group it holds Step Functions execution events, which become spans here: one per execution (the child of the
trigger's StartExecution span, through `_trace` in the execution's input) and one per state entered (with the
id the step functions derive for their parent, `telemetry.state_span_id`), retries and failures as events.

A span needs its start and its end. A batch holds what CloudWatch delivered together, so an execution's events
may straddle two batches: a state span is emitted when its entered and exited events (or the execution's end)
are in one batch, the execution span when its started and ended events are. A half that has no other half in
its batch is counted (`StateEventsUnpaired`) and logged, never guessed: its state span is missing from the
trace, and the step function spans under it keep their ids, with a parent the backend does not have.

Requests are split under the endpoint's byte limit and retried on 429, 5xx and connection errors with bounded,
jittered backoff that honours Retry-After; other 4xx are not retried. Nothing is dropped silently: every span
that does not reach the endpoint is in an error log line and in the `SpansDropped` metric (CloudWatch EMF).
The shipper writes no span lines itself, and its own log group is not subscribed: it cannot feed itself.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import logging
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TextIO

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from functions import __version__, telemetry

logger = logging.getLogger(__name__)

METRIC_NAMESPACE = "WikiRoam/Telemetry"
SCOPE_NAME = "wikiroam.shipper"
EXECUTION_SPAN_NAME = "StepFunctions.Execution"
# Long causes (a Python traceback) are cut: the span says what failed, the logs keep the rest.
MAX_CAUSE_CHARS = 1024
_ENDED = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
_TASK_FAILED = {"TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed"}


# --- the CloudWatch Logs batch


@dataclass(frozen=True)
class LogEvent:
    """One log event of a subscription batch."""

    id: str
    timestamp: int
    message: str


@dataclass(frozen=True)
class LogBatch:
    """A decoded subscription batch: its log group and events (none for CloudWatch's control messages)."""

    log_group: str
    log_stream: str
    events: tuple[LogEvent, ...]


class InvalidLogBatch(ValueError):
    """The event is not a CloudWatch Logs subscription batch."""


def decode_awslogs(event: Any) -> LogBatch:
    """Decode `{"awslogs": {"data": base64(gzip(json))}}`; a CONTROL_MESSAGE batch has no events."""
    data = event.get("awslogs", {}).get("data") if isinstance(event, Mapping) else None
    if not isinstance(data, str):
        raise InvalidLogBatch("the event has no awslogs.data: it is not a CloudWatch Logs subscription batch")
    try:
        document = json.loads(gzip.decompress(base64.b64decode(data, validate=True)))
    except (binascii.Error, OSError, EOFError, ValueError) as error:
        raise InvalidLogBatch(f"awslogs.data is not base64 gzip JSON ({type(error).__name__})") from None
    if not isinstance(document, dict):
        raise InvalidLogBatch("awslogs.data is not a JSON object")
    group, stream = str(document.get("logGroup", "")), str(document.get("logStream", ""))
    if document.get("messageType") == "CONTROL_MESSAGE":
        return LogBatch(group, stream, ())
    events = tuple(
        LogEvent(id=str(e.get("id", "")), timestamp=int(e.get("timestamp") or 0), message=str(e.get("message", "")))
        for e in document.get("logEvents") or []
        if isinstance(e, dict)
    )
    return LogBatch(group, stream, events)


def encode_awslogs(log_group: str, log_stream: str, events: Sequence[LogEvent]) -> dict[str, Any]:
    """The subscription event CloudWatch Logs would deliver for these events (for the local stack and tests)."""
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["wikiroam-telemetry"],
        "logEvents": [{"id": e.id, "timestamp": e.timestamp, "message": e.message} for e in events],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(document).encode())).decode()}}


# --- span lines


@dataclass
class Extracted:
    """What a batch holds: export requests, and what could not become spans."""

    requests: list[ExportTraceServiceRequest] = field(default_factory=list)
    damaged_lines: int = 0
    unpaired_state_events: int = 0


def extract(batch: LogBatch, resource: Mapping[str, Any]) -> Extracted:
    """The export requests in a batch: span lines as they were written, state machine events turned to spans."""
    found = Extracted()
    machine_events = []
    for event in batch.events:
        request, damage = _decode(event.message)
        if damage:
            found.damaged_lines += 1
            logger.error("log event %s of %s: %s; its spans are lost", event.id, batch.log_group, damage)
            continue
        if request is not None:
            found.requests.append(request)
            continue
        machine_event = parse_state_machine_event(event.message)
        if machine_event is not None:
            machine_events.append(machine_event)
    if machine_events:
        spans, unpaired = state_machine_spans(machine_events, resource)
        found.unpaired_state_events = unpaired
        if spans is not None:
            found.requests.append(ExportTraceServiceRequest(resource_spans=[spans]))
    return found


def _decode(message: str) -> tuple[ExportTraceServiceRequest | None, str]:
    try:
        return telemetry.decode_span_line(message), ""
    except ValueError as error:
        return None, str(error)


# --- Step Functions execution events -> spans


@dataclass(frozen=True)
class StateMachineEvent:
    """One Step Functions log event (logging level ALL, execution data included)."""

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
    events: list[Span.Event] = field(default_factory=list)
    attempts: int = 0
    last_failed: tuple[str, str] | None = None


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
    """Learn the execution's trace from `_trace` in any input or output an event carries."""
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
                spans.append(_state_span(arn, state, event, trace_id, execution_id))
            elif state is not None or event.type.endswith("StateExited"):
                unpaired += 1
            state = _entered(event) if event.type.endswith("StateEntered") else None
        elif state is not None:
            _task_event(state, event)
    unpaired += state is not None
    if execution.started is not None and execution.ended is not None:
        spans.insert(0, _execution_span(execution, execution.started, execution.ended, trace_id, execution_id))
    elif execution.started is not None or execution.ended is not None:
        unpaired += 1
    return spans, unpaired


def _entered(event: StateMachineEvent) -> _OpenState:
    name = str(event.details.get("name", ""))
    return _OpenState(name=name, state_type=event.type.removesuffix("StateEntered"), entered=event)


def _task_event(state: _OpenState, event: StateMachineEvent) -> None:
    at = _ms_to_ns(event.timestamp_ms)
    if event.type == "TaskScheduled":
        state.attempts += 1
        if state.attempts > 1:
            attributes = {"aws.step_functions.state.retry_count": state.attempts - 1}
            if state.last_failed is not None:
                attributes["error.type"] = state.last_failed[0]  # type: ignore[assignment]
            state.events.append(Span.Event(time_unix_nano=at, name="retry", attributes=_attributes(attributes)))
    elif event.type in _TASK_FAILED:
        error = str(event.details.get("error") or event.type)
        cause = str(event.details.get("cause") or "")[:MAX_CAUSE_CHARS]
        state.last_failed = (error, cause)
        state.events.append(
            Span.Event(
                time_unix_nano=at,
                name="exception",
                attributes=_attributes(
                    {
                        "exception.type": error,
                        "exception.message": cause,
                        "aws.step_functions.state.retry_count": max(state.attempts - 1, 0),
                    }
                ),
            )
        )
    elif event.type == "TaskSucceeded":
        state.last_failed = None


def _state_span(arn: str, state: _OpenState, end: StateMachineEvent, trace_id: bytes, parent_id: bytes) -> Span:
    span_id = telemetry.state_span_id(arn, state.name, state.entered.timestamp_ms)
    attributes: dict[str, Any] = {
        "aws.step_functions.execution.arn": arn,
        "aws.step_functions.state.name": state.name,
        "aws.step_functions.state.type": state.state_type,
    }
    if state.attempts:
        attributes["aws.step_functions.state.retry_count"] = state.attempts - 1
    status = Status()
    if state.last_failed is not None or end.type in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
        error, cause = state.last_failed or (str(end.details.get("error") or end.type), "")
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
        events=state.events,
        status=status,
    )


def _execution_span(
    execution: _Execution, started: StateMachineEvent, ended: StateMachineEvent, trace_id: bytes, span_id: bytes
) -> Span:
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
        start_time_unix_nano=_ms_to_ns(started.timestamp_ms),
        end_time_unix_nano=_ms_to_ns(ended.timestamp_ms),
        attributes=_attributes(attributes),
        events=events,
        status=status,
    )


# --- splitting under the endpoint's byte limit

# Framing a nested message costs a tag byte and a length varint (5 bytes at most): count 6 per level.
_FRAME = 6


@dataclass
class Split:
    """Export requests each under the byte limit, and the spans too large to fit any request alone."""

    requests: list[ExportTraceServiceRequest]
    oversized_spans: int = 0


def count_spans(request: ExportTraceServiceRequest) -> int:
    """How many spans an export request holds."""
    return sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)


def split_requests(requests: Iterable[ExportTraceServiceRequest], max_bytes: int) -> Split:
    """Repack the spans of these requests into as few requests as fit under `max_bytes` each, in order."""
    out: list[ExportTraceServiceRequest] = []
    oversized = 0
    current = ExportTraceServiceRequest()
    size = 0
    for request in requests:
        for resource_spans in request.resource_spans:
            resource_cost = resource_spans.resource.ByteSize() + len(resource_spans.schema_url) + 3 * _FRAME
            for scope_spans in resource_spans.scope_spans:
                scope_cost = scope_spans.scope.ByteSize() + len(scope_spans.schema_url) + 3 * _FRAME
                target: ScopeSpans | None = None
                for span in scope_spans.spans:
                    span_cost = span.ByteSize() + 3 * _FRAME
                    if span_cost + scope_cost + resource_cost > max_bytes:
                        oversized += 1
                        logger.error(
                            "a span of %d bytes (%s) exceeds the %d-byte request limit: dropped",
                            span.ByteSize(),
                            span.name,
                            max_bytes,
                        )
                        continue
                    extra = span_cost + (scope_cost if target is None else 0)
                    extra += resource_cost if target is None else 0
                    if size + extra > max_bytes:
                        out.append(current)
                        current, size, target = ExportTraceServiceRequest(), 0, None
                        extra = span_cost + scope_cost + resource_cost
                    if target is None:
                        group = current.resource_spans.add()
                        group.resource.CopyFrom(resource_spans.resource)
                        group.schema_url = resource_spans.schema_url
                        target = group.scope_spans.add()
                        target.scope.CopyFrom(scope_spans.scope)
                        target.schema_url = scope_spans.schema_url
                    target.spans.append(span)
                    size += extra
    if current.resource_spans:
        out.append(current)
    return Split(out, oversized)


# --- posting


@dataclass(frozen=True)
class Endpoint:
    """An OTLP/HTTP traces URL and the headers it wants (e.g. Datadog's `dd-api-key`)."""

    url: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class HttpAnswer:
    """What the endpoint answered."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportError(Exception):
    """The request did not get an answer (connection refused or reset, timeout)."""


class Transport(Protocol):
    """Sends one POST; raises `TransportError` when no answer came."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        """POST `body` and return the answer."""
        ...


class RequestsTransport:
    """The production transport: one `requests` session, reused across invocations for its connections."""

    def __init__(self) -> None:
        import requests

        self._requests = requests
        self._session = requests.Session()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        """POST through the session; connection failures and timeouts become `TransportError`."""
        try:
            response = self._session.post(url, data=body, headers=dict(headers), timeout=timeout)
        except (self._requests.ConnectionError, self._requests.Timeout) as error:
            raise TransportError(f"{type(error).__name__}: {error}") from None
        return HttpAnswer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


@dataclass
class ShipResult:
    """What one batch came to: spans shipped and dropped, requests sent, and what could not become spans."""

    spans_shipped: int = 0
    spans_dropped: int = 0
    requests_sent: int = 0
    damaged_lines: int = 0
    unpaired_state_events: int = 0

    def as_dict(self) -> dict[str, int]:
        """The result as the handler returns it."""
        return dict(self.__dict__)


@dataclass
class Shipper:
    """Posts export requests to one endpoint, split, retried and accounted for."""

    endpoint: Endpoint | None
    transport: Transport
    max_request_bytes: int
    environment: str = ""
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    timeout: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[float, float], float] = random.uniform
    metrics: TextIO | None = None

    def ship_batch(self, batch: LogBatch, seconds_left: Callable[[], float] | None = None) -> ShipResult:
        """Ship every span a batch holds, and report the outcome as an EMF metric line."""
        found = extract(batch, self._resource())
        result = self.ship(found.requests, seconds_left)
        result.damaged_lines = found.damaged_lines
        result.unpaired_state_events = found.unpaired_state_events
        self._emit_metrics(result)
        return result

    def ship(
        self, requests: Sequence[ExportTraceServiceRequest], seconds_left: Callable[[], float] | None = None
    ) -> ShipResult:
        """Split the requests under the byte limit and POST each; spans that do not arrive are counted dropped."""
        result = ShipResult()
        if not requests:
            return result
        split = split_requests(requests, self.max_request_bytes)
        result.spans_dropped += split.oversized_spans
        if self.endpoint is None:
            count = sum(count_spans(r) for r in split.requests)
            logger.error("no OTLP endpoint is configured: %d spans dropped (set the telemetry secret)", count)
            result.spans_dropped += count
            return result
        deadline = self.clock() + seconds_left() if seconds_left is not None else None
        for request in split.requests:
            count = count_spans(request)
            sent, attempts = self._post(request.SerializeToString(), count, deadline)
            result.requests_sent += attempts
            if sent:
                result.spans_shipped += count
            else:
                result.spans_dropped += count
        return result

    def _post(self, body: bytes, count: int, deadline: float | None) -> tuple[bool, int]:
        assert self.endpoint is not None  # checked by ship()
        headers = {**self.endpoint.headers, "content-type": "application/x-protobuf"}
        reason = ""
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            retry_after: float | None = None
            try:
                answer = self.transport.post(self.endpoint.url, body, headers, self.timeout)
            except TransportError as error:
                reason = str(error)
            else:
                if 200 <= answer.status < 300:
                    self._check_partial_success(answer, count)
                    return True, attempt
                if answer.status != 429 and answer.status < 500:
                    logger.error(
                        "the OTLP endpoint refused a request of %d bytes with HTTP %d (not retried): "
                        "%d spans dropped; it said: %.300s",
                        len(body),
                        answer.status,
                        count,
                        answer.body.decode("utf-8", "replace"),
                    )
                    return False, attempt
                reason = f"HTTP {answer.status}"
                retry_after = retry_after_seconds(answer.headers.get("retry-after"))
            if attempt >= self.max_attempts:
                break
            ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
            delay = min(retry_after, self.max_delay) if retry_after is not None else self.jitter(0.0, ceiling)
            # Leave the invocation time to report: a retry that cannot finish before the timeout is not tried.
            if deadline is not None and self.clock() + delay + self.timeout > deadline:
                reason += " (no time left for another attempt)"
                break
            self.sleep(delay)
        logger.error(
            "the OTLP endpoint did not take a request of %d bytes after %d attempts (%s): %d spans dropped",
            len(body),
            attempt,
            reason,
            count,
        )
        return False, attempt

    def _check_partial_success(self, answer: HttpAnswer, count: int) -> None:
        if not answer.body:
            return
        try:
            response = ExportTraceServiceResponse.FromString(answer.body)
        except Exception:  # noqa: BLE001 (a 2xx whose body is not a response is accepted; the spans arrived)
            return
        rejected = response.partial_success.rejected_spans
        if rejected:
            logger.error(
                "the OTLP endpoint rejected %d of %d spans: %s", rejected, count, response.partial_success.error_message
            )

    def _resource(self) -> dict[str, Any]:
        resource: dict[str, Any] = {"service.name": telemetry.SERVICE_NAME, "service.version": __version__}
        if self.environment:
            resource["deployment.environment"] = self.environment
            resource["deployment.environment.name"] = self.environment
        return resource

    def _emit_metrics(self, result: ShipResult) -> None:
        """One CloudWatch EMF line: counts per invocation, which CloudWatch sums (no shared counter to race)."""
        line = emf_line(
            {
                "SpansShipped": result.spans_shipped,
                "SpansDropped": result.spans_dropped,
                "SpanLinesDamaged": result.damaged_lines,
                "StateEventsUnpaired": result.unpaired_state_events,
            },
            {"Environment": self.environment or "unknown"},
        )
        stream = self.metrics or sys.stdout
        stream.write(line + "\n")
        stream.flush()


def emf_line(counts: Mapping[str, int], dimensions: Mapping[str, str], now_ms: int | None = None) -> str:
    """A CloudWatch Embedded Metric Format line with these counts in the `WikiRoam/Telemetry` namespace."""
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(time.time() * 1000) if now_ms is None else now_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRIC_NAMESPACE,
                        "Dimensions": [list(dimensions)],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in counts],
                    }
                ],
            },
            **dimensions,
            **counts,
        },
        separators=(",", ":"),
    )


def iter_spans(requests: Iterable[ExportTraceServiceRequest]) -> Iterator[Span]:
    """Every span of these requests, in order."""
    for request in requests:
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                yield from scope_spans.spans
