"""The local stack's trace backend: an OTLP/HTTP receiver, a bounded store of spans, and the trace view's data.

The shipper Lambda posts OTLP/HTTP protobuf to `<receiver>/v1/traces` (the stack deploys with the receiver's
URL as `wikiroam:otlpEndpoint`). The receiver keeps the spans of the last `max_traces` traces in memory; the
gateway serves them as JSON under `/api/local/traces` and the waterfall page at `/traces` (files in
`local/traceview/`). Nothing is written to disk: a restarted stack starts with no traces.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local.serving import LoopbackServer
from wikiroam_cli.spans import SpanRecord, iso_time, records_from_request, waterfall

TRACES_PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"
DEFAULT_MAX_TRACES = 500
# A bound per trace too: a runaway loop must not fill the memory through one trace id.
DEFAULT_MAX_SPANS_PER_TRACE = 20_000
# The shipper splits its requests under 3.2 MB (Datadog's limit); take a few times that before refusing.
MAX_BODY_BYTES = 16 * 1024 * 1024
TRACE_VIEW_DIR = Path(__file__).parent / "traceview"
_TRACE_VIEW_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


class TraceStore:
    """Spans by trace, thread-safe; keeps the `max_traces` most recently updated traces."""

    def __init__(
        self, max_traces: int = DEFAULT_MAX_TRACES, max_spans_per_trace: int = DEFAULT_MAX_SPANS_PER_TRACE
    ) -> None:
        self.max_traces = max_traces
        self.max_spans_per_trace = max_spans_per_trace
        self._traces: OrderedDict[str, dict[str, SpanRecord]] = OrderedDict()
        self._lock = threading.Lock()
        self.spans_received = 0
        self.spans_refused = 0

    def add(self, spans: list[SpanRecord]) -> int:
        """Keep these spans (a span received twice replaces the first copy); returns how many were refused."""
        refused = 0
        with self._lock:
            for span in spans:
                trace = self._traces.get(span.trace_id)
                if trace is None:
                    trace = self._traces[span.trace_id] = {}
                if span.span_id not in trace and len(trace) >= self.max_spans_per_trace:
                    refused += 1
                    continue
                trace[span.span_id] = span
                self._traces.move_to_end(span.trace_id)
            while len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)
            self.spans_received += len(spans) - refused
            self.spans_refused += refused
        return refused

    def clear(self) -> None:
        """Forget every trace."""
        with self._lock:
            self._traces.clear()

    def trace_ids(self) -> list[str]:
        """The ids of the traces kept, least recently updated first."""
        with self._lock:
            return list(self._traces)

    def spans(self, trace_id: str) -> list[SpanRecord]:
        """The spans of one trace (empty when it is unknown)."""
        with self._lock:
            return list(self._traces.get(trace_id.lower(), {}).values())

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        """Summaries of the most recently started traces, newest first."""
        with self._lock:
            traces = [list(spans.values()) for spans in self._traces.values()]
        summaries = [_summary(spans) for spans in traces if spans]
        summaries.sort(key=lambda s: s["start_unix_ms"], reverse=True)
        return summaries[: max(0, limit)]

    def detail(self, trace_id: str) -> dict[str, Any] | None:
        """One trace's summary and all its spans in waterfall order (with `depth`), or None when unknown."""
        spans = self.spans(trace_id)
        if not spans:
            return None
        summary = _summary(spans)
        start = min(s.start_unix_nano for s in spans)
        summary["spans"] = [span_json(span, depth, start) for depth, span in waterfall(spans)]
        return summary


def _summary(spans: list[SpanRecord]) -> dict[str, Any]:
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_span_id or s.parent_span_id not in ids]
    root = min(roots or spans, key=lambda s: (s.start_unix_nano, s.name))
    start = min(s.start_unix_nano for s in spans)
    end = max(s.end_unix_nano for s in spans)
    return {
        "trace_id": spans[0].trace_id,
        "root_span_name": root.name,
        "root_service": root.service,
        "start": iso_time(start),
        "start_unix_ms": _unix_ms(start),
        "duration_ms": max(0, end - start) / 1e6,
        "span_count": len(spans),
        "error_count": sum(s.is_error for s in spans),
        # Spans whose parent is not here (yet): a complete trace has none but its root.
        "orphan_count": sum(1 for s in spans if s.parent_span_id and s.parent_span_id not in ids),
    }


def span_json(span: SpanRecord, depth: int, trace_start_unix_nano: int) -> dict[str, Any]:
    """One span as the JSON view shows it; `offset_ms` is its start relative to the trace's first span."""
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id or None,
        "name": span.name,
        "kind": span.kind,
        "service": span.service,
        "depth": depth,
        "start": iso_time(span.start_unix_nano),
        "start_unix_ms": _unix_ms(span.start_unix_nano),
        "offset_ms": (span.start_unix_nano - trace_start_unix_nano) / 1e6,
        "duration_ms": span.duration_ms,
        "status": {"code": span.status_code, "message": span.status_message},
        "attributes": dict(span.attributes),
        "events": [
            {
                "name": event.name,
                "offset_ms": (event.time_unix_nano - trace_start_unix_nano) / 1e6,
                "attributes": dict(event.attributes),
            }
            for event in span.events
        ],
        "resource": dict(span.resource),
    }


def _unix_ms(unix_nano: int) -> float:
    # Through whole microseconds: dividing nanoseconds by 1e6 at once leaves float noise (...09.9998).
    return unix_nano // 1000 / 1000


class ExportRejected(ValueError):
    """An export request the receiver cannot read; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_export(body: bytes, content_type: str, content_encoding: str = "") -> list[SpanRecord]:
    """The spans of one OTLP/HTTP export request body; raises `ExportRejected` (415 or 400) when unreadable."""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != PROTOBUF:
        raise ExportRejected(
            415, f"content type {media_type or '(none)'!r} is not supported: send OTLP protobuf ({PROTOBUF})"
        )
    encoding = content_encoding.strip().lower()
    if encoding == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as error:
            raise ExportRejected(400, f"the body is not gzip ({error})") from None
    elif encoding not in ("", "identity"):
        raise ExportRejected(415, f"content encoding {encoding!r} is not supported: send gzip or none")
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as error:
        raise ExportRejected(400, f"the body is not an ExportTraceServiceRequest ({error})") from None
    spans = list(records_from_request(request))
    malformed = [s for s in spans if len(s.trace_id) != 32 or len(s.span_id) != 16]
    if malformed:
        # Ids of the wrong length mean the bytes were not really OTLP (protobuf parses much garbage).
        raise ExportRejected(400, f"{len(malformed)} spans have a trace id or span id of the wrong length")
    return spans


class OtlpReceiver:
    """An OTLP/HTTP traces receiver on loopback: POST `/v1/traces` (protobuf, optionally gzip) into a store."""

    def __init__(self, store: TraceStore, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = store
        # Request threads are joined on stop (each ends with its response: no keep-alive, see the handler).
        self._http = LoopbackServer(
            self._handler_class(), name="wikiroam-otlp", host=host, port=port, join_requests=True
        )
        self.requests = 0

    @property
    def url(self) -> str:
        """The receiver's base URL (OTLP's `OTEL_EXPORTER_OTLP_ENDPOINT`; spans go to `<url>/v1/traces`)."""
        return self._http.url

    def start(self) -> None:
        """Serve in a background thread."""
        self._http.start()

    def stop(self) -> None:
        """Stop serving and close the socket, once the requests in progress are answered."""
        self._http.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "WikiRoamLocalOtlp"
            # One request per connection: the shipper's session would otherwise hold a kept-alive connection,
            # and its server thread, open for as long as its sandbox lives, past the stack's stop.
            protocol_version = "HTTP/1.0"
            # A client that stops sending mid-body cannot hold a thread (and the stack's stop) for long.
            timeout = 10

            def do_POST(self) -> None:
                receiver._receive(self)

            def do_GET(self) -> None:
                receiver._answer(self, 405, "text/plain; charset=utf-8", b"POST OTLP protobuf to /v1/traces\n")

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the shipper logs what it sent, the views show what arrived."""

        return Handler

    def _receive(self, request: BaseHTTPRequestHandler) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        self.requests += 1
        if urlsplit(request.path).path.rstrip("/") != TRACES_PATH:
            request.rfile.read(int(request.headers.get("content-length") or 0))
            self._answer(request, 404, "text/plain; charset=utf-8", f"no such path: use {TRACES_PATH}\n".encode())
            return
        length = int(request.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            request.close_connection = True
            self._answer(request, 413, "text/plain; charset=utf-8", f"over {MAX_BODY_BYTES} bytes\n".encode())
            return
        body = request.rfile.read(length) if length else b""
        try:
            spans = parse_export(
                body, request.headers.get("content-type", ""), request.headers.get("content-encoding", "")
            )
        except ExportRejected as error:
            self._answer(request, error.status, "text/plain; charset=utf-8", f"{error}\n".encode())
            return
        refused = self.store.add(spans)
        response = ExportTraceServiceResponse()
        if refused:
            response.partial_success.rejected_spans = refused
            response.partial_success.error_message = (
                f"{refused} spans refused: their trace already has {self.store.max_spans_per_trace} spans"
            )
        self._answer(request, 200, PROTOBUF, response.SerializeToString())

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes) -> None:
        request.send_response(status)
        request.send_header("content-type", content_type)
        request.send_header("content-length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


@contextmanager
def serving(receiver: OtlpReceiver) -> Iterator[OtlpReceiver]:
    """Run the receiver for the duration of the block."""
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def trace_view_asset(path: str) -> tuple[bytes, str] | None:
    """The trace view's file for a gateway path under `/traces` (`/traces` itself is the page), or None."""
    name = path.removeprefix("/traces").strip("/") or "index.html"
    # Only the view's own files by name: no path from the request reaches the filesystem otherwise.
    files = {p.name: p for p in TRACE_VIEW_DIR.iterdir() if p.suffix in _TRACE_VIEW_TYPES}
    found = files.get(name)
    if found is None:
        return None
    return found.read_bytes(), _TRACE_VIEW_TYPES[found.suffix]


def local_routes(store: TraceStore) -> dict[str, Callable[[str, Mapping[str, str]], tuple[int, Any]]]:
    """The gateway's `/api/local/traces` views over the store: the list, and one trace by id."""

    def traces(rest: str, query: Mapping[str, str]) -> tuple[int, Any]:
        if not rest:
            raw = query.get("limit", "100")
            limit = int(raw) if raw.isdigit() else 100
            return 200, {"traces": store.recent(min(limit, store.max_traces))}
        detail = store.detail(rest)
        if detail is None:
            message = f"no trace {rest!r} has arrived here: traces appear once the shipper has sent them"
            return 404, {"error": {"code": "trace_not_found", "message": message}}
        return 200, detail

    return {"/api/local/traces": traces}
