"""OTLP `ExportTraceServiceRequest` protobuf bytes from SDK spans, written with the standard library alone.

The bytes are the official encoder's (`opentelemetry-exporter-otlp-proto-common`, serialised): the same
messages, fields in field-number order, proto3's defaults left out, message fields present when the official
encoder sets them (an unset status is an empty `Status`), the same grouping by resource and instrumentation
scope. A test holds the two byte for byte over every field a span can fill. The reason it exists: the official
encoder needs protobuf, whose import was most of a sandbox's first flush (bench.init), and a cold start pays
the first flush. The shipper still decodes with protobuf; it never encodes spans of its own this way.

Field numbers are `opentelemetry/proto/trace/v1/trace.proto` and `common/v1/common.proto` (OTLP 1.x, stable).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Link, SpanContext

__all__ = ["encode_export_request"]

# Wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
# `SpanFlags`: the parent's (or link's) is_remote is known, and it is remote.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
# SpanKind (API enum value) -> OTLP Span.SpanKind: INTERNAL=0..CONSUMER=4 -> 1..5.
_KIND_OFFSET = 1


def _varint(value: int) -> bytes:
    # int64 fields carry negatives as their 64-bit two's complement (ten bytes).
    value &= 0xFFFF_FFFF_FFFF_FFFF
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _len(field: int, payload: bytes) -> bytes:
    return _tag(field, _LEN) + _varint(len(payload)) + payload


def _string(field: int, value: str | None) -> bytes:
    # proto3: an empty (or unset) string is not written.
    return _len(field, value.encode()) if value else b""


def _bytes(field: int, value: bytes | None) -> bytes:
    return _len(field, value) if value else b""


def _uint(field: int, value: int | None) -> bytes:
    return _tag(field, _VARINT) + _varint(value) if value else b""


def _fixed64(field: int, value: int | None) -> bytes:
    return _tag(field, _I64) + struct.pack("<Q", value) if value else b""


def _fixed32(field: int, value: int) -> bytes:
    return _tag(field, _I32) + struct.pack("<I", value) if value else b""


def _any_value(value: Any) -> bytes:  # noqa: PLR0911 (one return per member of the oneof)
    """`AnyValue`: a oneof, so a set member is written even when it holds its type's default."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return _tag(2, _VARINT) + _varint(int(value))
    if isinstance(value, str):
        return _len(1, value.encode())
    if isinstance(value, int):
        return _tag(3, _VARINT) + _varint(value)
    if isinstance(value, float):
        return _tag(4, _I64) + struct.pack("<d", value)
    if isinstance(value, bytes):
        return _len(7, value)
    if isinstance(value, Sequence):
        return _len(5, b"".join(_len(1, _any_value(v)) for v in value))
    if isinstance(value, Mapping):
        return _len(6, b"".join(_len(1, _key_value(str(k), v)) for k, v in value.items()))
    raise TypeError(f"an attribute value of type {type(value).__name__} has no OTLP encoding")


def _key_value(key: str, value: Any) -> bytes:
    # `value` is a message field the official encoder always sets: written even when empty.
    return _string(1, key) + _len(2, _any_value(value))


def _attributes(field: int, attributes: Mapping[str, Any] | None) -> bytes:
    return b"".join(_len(field, _key_value(key, value)) for key, value in (attributes or {}).items())


def _flags(parent: SpanContext | None) -> int:
    return _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)


def _event(event: Event) -> bytes:
    return (
        _fixed64(1, event.timestamp)
        + _string(2, event.name)
        + _attributes(3, event.attributes)
        + _uint(4, event.dropped_attributes)
    )


def _link(link: Link) -> bytes:
    return (
        _bytes(1, link.context.trace_id.to_bytes(16, "big"))
        + _bytes(2, link.context.span_id.to_bytes(8, "big"))
        + _attributes(4, link.attributes)
        + _uint(5, link.dropped_attributes)
        + _fixed32(6, _flags(link.context))
    )


def _span(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    if context is None:
        raise ValueError(f"span {span.name!r} has no span context to encode")
    trace_state = ",".join(f"{k}={v}" for k, v in context.trace_state.items()) if context.trace_state else ""
    status = span.status
    return b"".join(
        (
            _bytes(1, context.trace_id.to_bytes(16, "big")),
            _bytes(2, context.span_id.to_bytes(8, "big")),
            _string(3, trace_state),
            _bytes(4, span.parent.span_id.to_bytes(8, "big") if span.parent is not None else None),
            _string(5, span.name),
            _uint(6, span.kind.value + _KIND_OFFSET),
            _fixed64(7, span.start_time),
            _fixed64(8, span.end_time),
            _attributes(9, span.attributes),
            _uint(10, span.dropped_attributes),
            b"".join(_len(11, _event(e)) for e in span.events),
            _uint(12, span.dropped_events),
            b"".join(_len(13, _link(link)) for link in span.links),
            _uint(14, span.dropped_links),
            # The official encoder always sets the status: an unset one is an empty message, still written.
            _len(15, _string(2, status.description) + _uint(3, status.status_code.value)),
            _fixed32(16, _flags(span.parent)),
        )
    )


def encode_export_request(spans: Iterable[ReadableSpan]) -> bytes:
    """The serialised `ExportTraceServiceRequest` of these spans, grouped by resource, then by scope."""
    grouped: dict[Any, dict[Any, list[bytes]]] = {}
    for span in spans:
        scopes = grouped.setdefault(span.resource, {})
        scopes.setdefault(span.instrumentation_scope or None, []).append(_span(span))
    request = bytearray()
    for resource, scopes in grouped.items():
        scope_spans = b""
        for scope, encoded in scopes.items():
            scope_message = b""
            if scope is not None:
                scope_message = _string(1, scope.name) + _string(2, scope.version) + _attributes(3, scope.attributes)
            scope_spans += _len(
                2,
                _len(1, scope_message)
                + b"".join(_len(2, s) for s in encoded)
                + _string(3, scope.schema_url if scope is not None else None),
            )
        resource_spans = _len(1, _attributes(1, resource.attributes)) + scope_spans + _string(3, resource.schema_url)
        request += _len(1, resource_spans)
    return bytes(request)
