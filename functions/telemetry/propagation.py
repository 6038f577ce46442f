"""W3C context across every hop: HTTP headers, SNS message attributes, and the execution's name (and input)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from functions.contract import TRACE_KEY
from functions.messages import execution_traceparent
from functions.telemetry.ids import execution_trace_id, state_span_id

_PROPAGATOR = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
_TRACECONTEXT = TraceContextTextMapPropagator()


def inject_headers(context: Context | None = None) -> dict[str, str]:
    """The W3C headers (`traceparent`, `tracestate`, `baggage`) of the current (or given) context."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return carrier


def extract_headers(headers: Mapping[str, Any] | None) -> Context:
    """The context W3C headers carry (header names in any case); an empty context when they carry none."""
    carrier = {str(k).lower(): str(v) for k, v in (headers or {}).items() if isinstance(v, str)}
    return _PROPAGATOR.extract(carrier)


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
    return _PROPAGATOR.extract(carrier)


def trace_carrier(context: Context | None = None) -> dict[str, str]:
    """What goes under `_trace` in an execution input: `traceparent`, and `tracestate`/`baggage` when set."""
    return inject_headers(context)


def extract_trace_carrier(state_input: Any) -> SpanContext | None:
    """The span context in a state input's `_trace`, or None."""
    carrier = state_input.get(TRACE_KEY) if isinstance(state_input, Mapping) else None
    if not isinstance(carrier, Mapping):
        return None
    span_context = trace.get_current_span(
        _TRACECONTEXT.extract({k: v for k, v in carrier.items() if isinstance(v, str)})
    ).get_span_context()
    return span_context if span_context.is_valid else None


def extract_execution_trace(execution_arn: str) -> SpanContext | None:
    """The span context an execution's name carries (`<pageid>-<traceparent>`, see `messages.execution_name`)."""
    traceparent = execution_traceparent(execution_arn)
    if traceparent is None:
        return None
    span_context = trace.get_current_span(_TRACECONTEXT.extract({"traceparent": traceparent})).get_span_context()
    return span_context if span_context.is_valid else None


def state_parent(execution_arn: str, state_name: str, entered_time: str, state_input: Any) -> Context:
    """The context of the Step Functions state span a task invocation runs under.

    The trace is the one `_trace` in the state's input carries (with its `tracestate`), else the one in the
    execution's name, else one derived from the execution ARN.
    """
    started_by = extract_trace_carrier(state_input) or extract_execution_trace(execution_arn)
    span_context = SpanContext(
        trace_id=started_by.trace_id if started_by else execution_trace_id(execution_arn),
        span_id=state_span_id(execution_arn, state_name, entered_time),
        is_remote=True,
        trace_flags=started_by.trace_flags if started_by else TraceFlags(TraceFlags.SAMPLED),
        trace_state=started_by.trace_state if started_by else None,
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))
