"""The shipper's logic: CloudWatch Logs subscription batches in, OTLP/HTTP export requests out.

A batch comes from one log group. From a function's group it holds span lines (`OTLPv1 ...`, see
`functions.telemetry`), decoded back into the export requests the functions encoded. From the state machine's
group it holds Step Functions execution events (level ERROR unless an operator asks for ALL,
`wikiroam:stateMachineLogLevel`), which become spans here: each failed, timed-out or throttled attempt an error
span, each Fail state (and at level ALL each Choice and Succeed state) a state span with the id the steps derive
(`telemetry.state_span_id`), in the trace the execution's name carries (in the ARN of every event). The task
states' and executions' spans are the steps' own (`telemetry.StepState`). The events need no execution data:
the state machine logs without it unless an operator turns it on for debugging (`wikiroam:executionDataInLogs`).

A span needs its start and its end. A batch holds what CloudWatch delivered together, so an execution's events
may straddle two batches: a state span is emitted when its entered and exited events (or the execution's end)
are in one batch. A half that has no other half in its batch is counted (`StateEventsUnpaired`) and logged,
never guessed: its state span is missing from the trace.

Requests are split under the endpoint's byte limit and retried on 429, 5xx and connection errors with bounded,
jittered backoff that honours Retry-After; other 4xx are not retried. Nothing is dropped silently: every span
that does not reach the endpoint is in an error log line and in the `SpansDropped` metric (CloudWatch EMF).
The shipper writes no span lines itself, and its own log group is not subscribed: it cannot feed itself.

| module | what |
|---|---|
| `batches` | a CloudWatch Logs subscription batch, decoded; its span lines and state events as export requests |
| `states` | Step Functions execution events to execution and state spans |
| `export` | requests split under the byte limit, POSTed with retries, every span accounted for (EMF metrics) |
"""

from __future__ import annotations

from functions.shipping.batches import Extracted, InvalidLogBatch, LogBatch, LogEvent, decode_awslogs, extract
from functions.shipping.export import (
    METRIC_NAMESPACE,
    Endpoint,
    HttpAnswer,
    RequestsTransport,
    Shipper,
    ShipResult,
    Split,
    Transport,
    TransportError,
    count_spans,
    emf_line,
    iter_spans,
    split_requests,
)
from functions.shipping.states import (
    EXECUTION_SPAN_NAME,
    SCOPE_NAME,
    StateMachineEvent,
    parse_state_machine_event,
    state_machine_spans,
)

__all__ = [
    "EXECUTION_SPAN_NAME",
    "METRIC_NAMESPACE",
    "SCOPE_NAME",
    "Endpoint",
    "Extracted",
    "HttpAnswer",
    "InvalidLogBatch",
    "LogBatch",
    "LogEvent",
    "RequestsTransport",
    "ShipResult",
    "Shipper",
    "Split",
    "StateMachineEvent",
    "Transport",
    "TransportError",
    "count_spans",
    "decode_awslogs",
    "emf_line",
    "extract",
    "iter_spans",
    "parse_state_machine_event",
    "split_requests",
    "state_machine_spans",
]
