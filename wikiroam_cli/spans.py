"""Spans as the trace views read them: OTLP protobuf spans flattened into records, and ordered as a waterfall.

Shared by `wikiroam trace` (spans read back from CloudWatch Logs) and the local stack's trace view
(`local.traces`, spans received over OTLP/HTTP), so both show one trace the same way.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

# OTLP's enums by number (trace.proto), without importing the generated module for two small tables.
SPAN_KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_CODES = ("UNSET", "OK", "ERROR")


@dataclass(frozen=True)
class SpanEvent:
    """An event on a span (an exception, a retry)."""

    name: str
    time_unix_nano: int
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class SpanRecord:
    """One span with what a view shows of it; ids are lowercase hex, a root's parent id is empty."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    start_unix_nano: int
    end_unix_nano: int
    status_code: str = "UNSET"
    status_message: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()
    resource: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        """How long the span lasted, in milliseconds (never negative)."""
        return max(0, self.end_unix_nano - self.start_unix_nano) / 1e6

    @property
    def is_error(self) -> bool:
        """True when the span's status is ERROR."""
        return self.status_code == "ERROR"


def any_value(value: AnyValue) -> Any:
    """An OTLP AnyValue as plain JSON-able Python (bytes as base64)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return attribute_map(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, which)


def attribute_map(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP attributes as a dict."""
    return {item.key: any_value(item.value) for item in attributes}


def service_label(resource: Mapping[str, Any]) -> str:
    """`service.name`, then the function (`faas.name`) or, for the state machine's spans, `states`."""
    service = str(resource.get("service.name") or "unknown")
    if resource.get("faas.name"):
        return f"{service}/{resource['faas.name']}"
    if resource.get("cloud.platform") == "aws_step_functions":
        return f"{service}/states"
    return service


def records_from_request(request: ExportTraceServiceRequest) -> Iterator[SpanRecord]:
    """Every span of an export request as a record, with its resource's service."""
    for resource_spans in request.resource_spans:
        resource = attribute_map(resource_spans.resource.attributes)
        service = service_label(resource)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield SpanRecord(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    name=span.name,
                    kind=SPAN_KINDS[span.kind] if 0 <= span.kind < len(SPAN_KINDS) else str(span.kind),
                    service=service,
                    start_unix_nano=span.start_time_unix_nano,
                    end_unix_nano=span.end_time_unix_nano,
                    status_code=(
                        STATUS_CODES[span.status.code] if 0 <= span.status.code < len(STATUS_CODES) else "UNSET"
                    ),
                    status_message=span.status.message,
                    attributes=attribute_map(span.attributes),
                    events=tuple(
                        SpanEvent(event.name, event.time_unix_nano, attribute_map(event.attributes))
                        for event in span.events
                    ),
                    resource=resource,
                )


def waterfall(spans: Sequence[SpanRecord]) -> list[tuple[int, SpanRecord]]:
    """The spans in waterfall order with their depth: each parent before its children, siblings by start time.

    A span whose parent is not among `spans` (not arrived, or lost) is shown as a root, so nothing is hidden.
    """
    ids = {span.span_id for span in spans}
    children: dict[str, list[SpanRecord]] = {}
    roots: list[SpanRecord] = []
    for span in spans:
        if span.parent_span_id and span.parent_span_id in ids and span.parent_span_id != span.span_id:
            children.setdefault(span.parent_span_id, []).append(span)
        else:
            roots.append(span)

    def order(group: list[SpanRecord]) -> list[SpanRecord]:
        return sorted(group, key=lambda s: (s.start_unix_nano, s.end_unix_nano, s.name))

    ordered: list[tuple[int, SpanRecord]] = []
    seen: set[str] = set()
    # An explicit stack, not recursion: a trace's depth is unbounded in principle.
    stack = [(0, span) for span in reversed(order(roots))]
    while stack:
        depth, span = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        ordered.append((depth, span))
        stack.extend((depth + 1, child) for child in reversed(order(children.get(span.span_id, []))))
    # Spans caught in a parent cycle (never reachable from a root) still appear, at the end.
    ordered.extend((0, span) for span in order([s for s in spans if s.span_id not in seen]))
    return ordered


def iso_time(unix_nano: int) -> str:
    """An epoch-nanoseconds time as ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(unix_nano / 1e9, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
