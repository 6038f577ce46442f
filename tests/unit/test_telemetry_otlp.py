"""The standard-library OTLP encoder: byte for byte the official encoder's output, and no protobuf to flush."""

from __future__ import annotations

import subprocess
import sys

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.trace.span import TraceState

from functions.telemetry.lines import build_span_dictionary, span_dictionary
from functions.telemetry.otlp import encode_export_request
from tests.conftest import EVENTS

PROJECT_DIR = EVENTS.parents[1]

REMOTE_PARENT = SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736, 0xB7AD6B7169203331, True, TraceFlags(1), TraceState([("dd", "s:1")])
)


class Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def spans_filling_every_field() -> list[ReadableSpan]:
    """Spans of two resources and three scopes, with every kind, attribute type, event, link, status and limit."""
    kept = Keep()
    resources = (
        Resource({"service.name": "wikiroam", "faas.max_memory": 536870912, "ratio": 0.0, "on": False}),
        Resource({"service.name": "other", "tags": ("a", "b")}, schema_url="https://opentelemetry.io/schemas/1.0"),
    )
    for resource in resources:
        provider = TracerProvider(resource=resource, span_limits=SpanLimits(max_attributes=12, max_events=2))
        provider.add_span_processor(SimpleSpanProcessor(kept))
        wikiroam = provider.get_tracer("wikiroam", "0.1.0", schema_url="https://example.org/schema")
        bare = provider.get_tracer("bare")
        parent = set_span_in_context(NonRecordingSpan(REMOTE_PARENT))
        attributes = {
            "zero": 0,
            "empty": "",
            "negative": -1,
            "large": 2**62,
            "double": 1.5,
            "ints": (1, 2),
            "flags": (True, False),
            "text": "Zürich",
        }
        with wikiroam.start_as_current_span(
            "GET /api/search",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            links=[Link(REMOTE_PARENT, {"why": "batch"})],
        ) as span:
            for index in range(3):  # one more than the limit: a dropped event
                span.add_event(f"event {index}", {"index": index})
            for index in range(8):  # past max_attributes: dropped attributes
                span.set_attribute(f"extra.{index}", index)
            with bare.start_as_current_span("DynamoDB.Query", kind=SpanKind.CLIENT) as child:
                child.set_status(Status(StatusCode.ERROR, "ProvisionedThroughputExceeded"))
            try:
                with wikiroam.start_as_current_span("failing"):
                    raise ValueError("a message with ü")
            except ValueError:
                pass
        for kind in SpanKind:
            with wikiroam.start_as_current_span(f"kind {kind.name}", kind=kind) as span:
                span.set_status(Status(StatusCode.OK))
    return kept.spans


def test_the_request_bytes_are_the_official_encoders_byte_for_byte():
    spans = spans_filling_every_field()
    assert encode_export_request(spans) == encode_spans(spans).SerializeToString()


def test_the_request_decodes_with_protobuf_into_the_same_spans_grouped_by_resource_and_scope():
    spans = spans_filling_every_field()
    request = ExportTraceServiceRequest.FromString(encode_export_request(spans))
    assert len(request.resource_spans) == 2
    assert sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans) == len(spans)
    scopes = {scope.scope.name for rs in request.resource_spans for scope in rs.scope_spans}
    assert scopes == {"wikiroam", "bare"}
    names = {span.name for rs in request.resource_spans for scope in rs.scope_spans for span in scope.spans}
    assert {"GET /api/search", "DynamoDB.Query", "failing", "kind CONSUMER"} <= names


def test_an_attribute_type_otlp_cannot_carry_is_refused():
    from functions.telemetry.otlp import _any_value

    with pytest.raises(TypeError, match="object"):
        _any_value(object())


def test_the_z1_dictionary_kept_as_data_is_the_one_its_frozen_inputs_make():
    assert span_dictionary() == build_span_dictionary()


def test_a_cold_sandboxs_first_flush_imports_no_protobuf():
    # The first flush is part of every cold start: importing protobuf there was most of its cost (bench.init).
    probe = (
        "import io, sys\n"
        "from functions import telemetry\n"
        "telemetry.configure({'WIKIROAM_ENVIRONMENT': 'test', 'AWS_LAMBDA_FUNCTION_NAME': 'f'}, stream=io.StringIO())\n"
        "with telemetry.tracer().start_as_current_span('x'):\n"
        "    pass\n"
        "telemetry.flush()\n"
        "assert telemetry.current().exporter.lines_written == 1\n"
        "heavy = ('google', 'opentelemetry.proto', 'opentelemetry.exporter')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
