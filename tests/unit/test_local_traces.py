"""The local stack's OTLP/HTTP receiver and trace store: what the shipper posts is what the trace views show."""

from __future__ import annotations

import gzip
import threading

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from local.traces import (
    ExportRejected,
    OtlpReceiver,
    TraceStore,
    local_routes,
    parse_export,
    serving,
    trace_view_asset,
)
from wikiroam_cli.spans import records_from_request

TRACE = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
OTHER_TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
T0 = 1_795_812_649_000_000_000  # epoch nanoseconds
MS = 1_000_000


def string(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def span(
    span_id: int,
    parent_id: int | None,
    name: str,
    start_ms: float,
    end_ms: float,
    *,
    trace_id: bytes = TRACE,
    kind: int = Span.SPAN_KIND_INTERNAL,
    error: str = "",
    attributes: dict[str, object] | None = None,
) -> Span:
    values = []
    for key, value in (attributes or {}).items():
        if isinstance(value, bool):
            values.append(KeyValue(key=key, value=AnyValue(bool_value=value)))
        elif isinstance(value, int):
            values.append(KeyValue(key=key, value=AnyValue(int_value=value)))
        else:
            values.append(string(key, str(value)))
    return Span(
        trace_id=trace_id,
        span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent_id.to_bytes(8, "big") if parent_id else b"",
        name=name,
        kind=kind,
        start_time_unix_nano=T0 + int(start_ms * MS),
        end_time_unix_nano=T0 + int(end_ms * MS),
        attributes=values,
        status=Status(code=Status.STATUS_CODE_ERROR, message=error) if error else Status(),
        events=[Span.Event(time_unix_nano=T0 + int(start_ms * MS), name="retry", attributes=[string("why", "429")])]
        if error
        else [],
    )


def export(*spans: Span, function: str = "wikiroam-api-handler-function") -> ExportTraceServiceRequest:
    resource = Resource(attributes=[string("service.name", "wikiroam"), string("faas.name", function)])
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=list(spans))])]
    )


def search_trace() -> ExportTraceServiceRequest:
    """An api invocation: the server span, a wiki call that failed, and the publish."""
    return export(
        span(1, None, "GET /api/search", 0, 100, kind=Span.SPAN_KIND_SERVER, attributes={"http.route": "/api/search"}),
        span(2, 1, "GET", 10, 30, kind=Span.SPAN_KIND_CLIENT, error="WikiRateLimited: 429"),
        span(3, 1, "publish cache", 40, 60, kind=Span.SPAN_KIND_PRODUCER, attributes={"faas.coldstart": True}),
    )


@pytest.fixture
def receiver():
    """Given the OTLP receiver on a loopback port, with an empty store."""
    with serving(OtlpReceiver(TraceStore())) as running:
        yield running


def post(receiver: OtlpReceiver, body: bytes, **headers: str) -> requests.Response:
    return requests.post(f"{receiver.url}/v1/traces", data=body, headers=headers, timeout=5)


def test_given_a_protobuf_export_when_posted_then_it_answers_an_empty_export_response_and_keeps_the_spans(receiver):
    answer = post(receiver, search_trace().SerializeToString(), **{"content-type": "application/x-protobuf"})

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(answer.content) == ExportTraceServiceResponse()
    assert {s.name for s in receiver.store.spans(TRACE.hex())} == {"GET /api/search", "GET", "publish cache"}


def test_given_a_gzip_export_when_posted_then_it_is_decompressed(receiver):
    body = gzip.compress(search_trace().SerializeToString())

    answer = post(receiver, body, **{"content-type": "application/x-protobuf", "content-encoding": "gzip"})

    assert answer.status_code == 200
    assert len(receiver.store.spans(TRACE.hex())) == 3


def test_given_a_body_that_is_not_an_export_request_then_it_answers_400_and_keeps_nothing(receiver):
    protobuf = {"content-type": "application/x-protobuf"}

    garbage = post(receiver, b"\xff\xff\xff\xff", **protobuf)
    bad_gzip = post(receiver, b"not gzip", **protobuf, **{"content-encoding": "gzip"})
    # Parses as protobuf (field 1, empty), but a span with a 3-byte trace id is not OTLP.
    short_ids = post(
        receiver, export(Span(trace_id=b"abc", span_id=b"12345678", name="x")).SerializeToString(), **protobuf
    )

    assert [garbage.status_code, bad_gzip.status_code, short_ids.status_code] == [400, 400, 400]
    assert "ExportTraceServiceRequest" in garbage.text
    assert receiver.store.trace_ids() == []


def test_given_another_content_type_then_it_answers_415(receiver):
    json_body = post(receiver, b"{}", **{"content-type": "application/json"})
    no_type = post(receiver, search_trace().SerializeToString())
    brotli = post(receiver, b"x", **{"content-type": "application/x-protobuf", "content-encoding": "br"})

    assert [json_body.status_code, no_type.status_code, brotli.status_code] == [415, 415, 415]
    assert "application/x-protobuf" in json_body.text
    assert receiver.store.trace_ids() == []


def test_given_the_wrong_path_then_it_answers_404():
    with serving(OtlpReceiver(TraceStore())) as running:
        answer = requests.post(
            f"{running.url}/v1/metrics", data=b"", headers={"content-type": "application/x-protobuf"}, timeout=5
        )

    assert answer.status_code == 404


def test_parse_export_names_the_status_to_answer():
    with pytest.raises(ExportRejected) as refused:
        parse_export(b"", "text/plain")

    assert refused.value.status == 415
    assert parse_export(b"", "application/x-protobuf; charset=binary") == []


def test_given_more_traces_than_the_bound_then_the_least_recently_updated_are_forgotten():
    store = TraceStore(max_traces=3)
    ids = [bytes([n]) * 16 for n in range(1, 6)]

    for n, trace_id in enumerate(ids):
        store.add(list(records_from_request(export(span(n + 1, None, f"root {n}", n, n + 1, trace_id=trace_id)))))
    # Touching the oldest kept trace makes it recent again.
    store.add(list(records_from_request(export(span(99, 3, "late child", 3, 4, trace_id=ids[2])))))
    store.add(list(records_from_request(export(span(6, None, "root 5", 5, 6, trace_id=bytes([6]) * 16)))))

    assert store.trace_ids() == [ids[4].hex(), ids[2].hex(), (bytes([6]) * 16).hex()]
    assert store.spans(ids[0].hex()) == []


def test_given_a_trace_at_its_span_bound_then_new_spans_are_refused_and_reported_as_partial_success():
    store = TraceStore(max_spans_per_trace=2)

    with serving(OtlpReceiver(store)) as running:
        answer = post(running, search_trace().SerializeToString(), **{"content-type": "application/x-protobuf"})

    response = ExportTraceServiceResponse.FromString(answer.content)
    assert answer.status_code == 200
    assert response.partial_success.rejected_spans == 1
    assert len(store.spans(TRACE.hex())) == 2


def test_given_the_same_span_twice_then_it_is_kept_once():
    store = TraceStore()

    store.add(list(records_from_request(search_trace())))
    store.add(list(records_from_request(search_trace())))

    assert len(store.spans(TRACE.hex())) == 3


def test_given_spans_from_concurrent_exports_then_none_is_lost():
    store = TraceStore()

    def add(worker: int) -> None:
        for n in range(50):
            store.add(list(records_from_request(export(span(worker * 1000 + n + 1, None, "s", n, n + 1)))))

    threads = [threading.Thread(target=add, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(store.spans(TRACE.hex())) == 400


def test_the_list_view_summarises_each_trace_newest_first():
    store = TraceStore()
    store.add(list(records_from_request(search_trace())))
    later = export(span(7, None, "GET /api/health", 500, 501, trace_id=OTHER_TRACE, kind=Span.SPAN_KIND_SERVER))
    store.add(list(records_from_request(later)))

    listed = store.recent()

    assert [t["trace_id"] for t in listed] == [OTHER_TRACE.hex(), TRACE.hex()]
    search = listed[1]
    assert search["root_span_name"] == "GET /api/search"
    assert search["start"] == "2026-11-27T20:50:49.000Z"
    assert search["start_unix_ms"] == T0 / 1e6
    assert (search["duration_ms"], search["span_count"], search["error_count"], search["orphan_count"]) == (
        100.0,
        3,
        1,
        0,
    )


def test_the_detail_view_has_every_span_in_waterfall_order_with_its_fields():
    store = TraceStore()
    store.add(list(records_from_request(search_trace())))

    detail = store.detail(TRACE.hex().upper())

    assert detail is not None
    assert [(s["name"], s["depth"]) for s in detail["spans"]] == [
        ("GET /api/search", 0),
        ("GET", 1),
        ("publish cache", 1),
    ]
    root, wiki, publish = detail["spans"]
    assert root["parent_span_id"] is None
    assert wiki == {
        "trace_id": TRACE.hex(),
        "span_id": (2).to_bytes(8, "big").hex(),
        "parent_span_id": (1).to_bytes(8, "big").hex(),
        "name": "GET",
        "kind": "CLIENT",
        "service": "wikiroam/wikiroam-api-handler-function",
        "depth": 1,
        "start": "2026-11-27T20:50:49.010Z",
        "start_unix_ms": T0 / 1e6 + 10,
        "offset_ms": 10.0,
        "duration_ms": 20.0,
        "status": {"code": "ERROR", "message": "WikiRateLimited: 429"},
        "attributes": {},
        "events": [{"name": "retry", "offset_ms": 10.0, "attributes": {"why": "429"}}],
        "resource": {"service.name": "wikiroam", "faas.name": "wikiroam-api-handler-function"},
    }
    assert publish["attributes"] == {"faas.coldstart": True}
    assert root["attributes"] == {"http.route": "/api/search"}


def test_the_gateway_routes_list_and_detail_and_answer_404_json_for_an_unknown_trace():
    store = TraceStore()
    store.add(list(records_from_request(search_trace())))
    traces = local_routes(store)["/api/local/traces"]

    listed = traces("", {})
    found = traces(TRACE.hex(), {})
    missing = traces("0" * 31 + "1", {})

    assert listed[0] == 200
    assert [t["trace_id"] for t in listed[1]["traces"]] == [TRACE.hex()]
    assert found[0] == 200
    assert len(found[1]["spans"]) == 3
    assert missing[0] == 404
    assert missing[1]["error"]["code"] == "trace_not_found"


def test_the_trace_view_serves_its_own_files_only():
    page = trace_view_asset("/traces")
    script = trace_view_asset("/traces/traces.js")

    assert page is not None
    assert page[1].startswith("text/html")
    assert b"/traces/traces.js" in page[0]
    assert b"<script>" not in page[0]
    assert b"style=" not in page[0]
    assert script is not None
    assert script[1].startswith("text/javascript")
    assert trace_view_asset("/traces/../stack.py") is None
    assert trace_view_asset("/traces/nothing.js") is None
