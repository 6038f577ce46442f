"""W3C context across every hop: HTTP headers, SNS message attributes, and the execution's name (and input).

The propagators are imported at their first use, and a carrier without `traceparent` or `baggage` (a health
check, a request from a client that starts no trace) is answered without them: their modules (regular
expressions compiled at import) were 3 ms of a cold start's CPU here (bench.init), for an empty context.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from functions.contract import TRACE_KEY
from functions.messages import execution_traceparent
from functions.telemetry.ids import execution_span_id, execution_trace_id, state_span_id

if TYPE_CHECKING:
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


@functools.cache
def _composite() -> CompositePropagator:
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator

    return CompositePropagator([_tracecontext(), W3CBaggagePropagator()])


@functools.cache
def _tracecontext() -> TraceContextTextMapPropagator:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


def _extract(carrier: dict[str, str]) -> Context:
    # What the propagators return for a carrier with neither header (`tracestate` alone is ignored by them).
    if not carrier.get("traceparent") and not carrier.get("baggage"):
        return Context()
    return _composite().extract(carrier)


def inject_headers(context: Context | None = None) -> dict[str, str]:
    """The W3C headers (`traceparent`, `tracestate`, `baggage`) of the current (or given) context."""
    carrier: dict[str, str] = {}
    _composite().inject(carrier, context=context)
    return carrier


def extract_headers(headers: Mapping[str, Any] | None) -> Context:
    """The context W3C headers carry (header names in any case); an empty context when they carry none."""
    carrier = {str(k).lower(): str(v) for k, v in (headers or {}).items() if isinstance(v, str)}
    return _extract(carrier)


def sns_message_attributes(context: Context | None = None) -> dict[str, dict[str, str]]:
    """SNS `MessageAttributes` carrying the current context (String type, as SNS delivers it to Lambda)."""
    return {key: {"DataType": "String", "StringValue": value} for key, value in inject_headers(context).items()}


def extract_sns_record(record: Mapping[str, Any]) -> Context:
    """The producer's context from one Lambda SNS record (`Sns.MessageAttributes.<name>.Value`)."""
    sns = record.get("Sns") if isinstance(record, Mapping) else None
    attributes = sns.get("MessageAttributes") if isinstance(sns, Mapping) else None
    carrier: dict[str, str] = {}
    for key, attribute in (attributes or {}).items():
        if isinstance(attribute, Mapping) and isinstance(attribute.get("Value"), str):
            carrier[str(key).lower()] = attribute["Value"]
    return _extract(carrier)


def trace_carrier(context: Context | None = None) -> dict[str, str]:
    """What goes under `_trace` in an execution input: `traceparent`, and `tracestate`/`baggage` when set."""
    return inject_headers(context)


def extract_trace_carrier(state_input: Any) -> SpanContext | None:
    """The span context in a state input's `_trace`, or None."""
    carrier = state_input.get(TRACE_KEY) if isinstance(state_input, Mapping) else None
    if not isinstance(carrier, Mapping):
        return None
    span_context = trace.get_current_span(
        _tracecontext().extract({k: v for k, v in carrier.items() if isinstance(v, str)})
    ).get_span_context()
    return span_context if span_context.is_valid else None


def extract_execution_trace(execution_arn: str) -> SpanContext | None:
    """The span context an execution's name carries (`<pageid>-<traceparent>`, see `messages.execution_name`)."""
    traceparent = execution_traceparent(execution_arn)
    if traceparent is None:
        return None
    span_context = trace.get_current_span(_tracecontext().extract({"traceparent": traceparent})).get_span_context()
    return span_context if span_context.is_valid else None


def execution_started_by(execution_arn: str, state_input: Any = None) -> SpanContext | None:
    """The span that started an execution (the trigger's StartExecution): `_trace` in the state's input, with
    its `tracestate`, else the execution's name; None for an execution started without a trace."""
    return extract_trace_carrier(state_input) or extract_execution_trace(execution_arn)


def _execution_remote(execution_arn: str, state_input: Any, span_id: int) -> Context:
    started_by = execution_started_by(execution_arn, state_input)
    span_context = SpanContext(
        trace_id=started_by.trace_id if started_by else execution_trace_id(execution_arn),
        span_id=span_id,
        is_remote=True,
        trace_flags=started_by.trace_flags if started_by else TraceFlags(TraceFlags.SAMPLED),
        trace_state=started_by.trace_state if started_by else None,
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def state_parent(execution_arn: str, state_name: str, entered_time: str, state_input: Any) -> Context:
    """The context of the Step Functions state span a task invocation runs under.

    The trace is the one `_trace` in the state's input carries (with its `tracestate`), else the one in the
    execution's name, else one derived from the execution ARN.
    """
    return _execution_remote(execution_arn, state_input, state_span_id(execution_arn, state_name, entered_time))


def execution_parent(execution_arn: str, state_input: Any = None) -> Context:
    """The context of the execution's span, the parent of its state spans (same trace as `state_parent`)."""
    return _execution_remote(execution_arn, state_input, execution_span_id(execution_arn))
