"""P2: export cost per span, our stdout exporter vs the SDK's synchronous OTLP/HTTP exporter to a loopback receiver.

Spans are shaped like a cache step's (a server span, wiki GETs and DynamoDB writes with their attributes),
20 per invocation. Measured side by side in one run, best of several rounds:

- WikiRoam: the buffering processor's flush (protobuf encoding, deflate with the z1 dictionary, base64, one line);
- SDK OTLP/HTTP, one POST per invocation: `OTLPSpanExporter.export(<the 20 spans>)` to a receiver on 127.0.0.1;
- SDK OTLP/HTTP, SimpleSpanProcessor: one POST per span as it ends (the synchronous processor).

It also prints the CloudWatch bytes per span of the line format against OTLP/JSON (the official JSON encoder),
the measurement behind the choice of encoding in `functions/telemetry.py`.

    .venv/bin/python -m bench.export [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from functions import telemetry

SPANS_PER_INVOCATION = 20
ENV = {
    "WIKIROAM_ENVIRONMENT": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "wikiroam-cache-backlinks",
}


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def invocation(tracer, count: int = SPANS_PER_INVOCATION) -> None:
    """One cache step invocation's spans."""
    with tracer.start_as_current_span(
        "cache-backlinks",
        kind=SpanKind.SERVER,
        attributes={
            "faas.trigger": "other",
            "faas.invocation_id": "c0ffee00-0000-4000-8000-000000000000",
            "faas.coldstart": False,
            "cloud.resource_id": "arn:aws:lambda:us-east-1:123456789012:function:wikiroam-cache-backlinks",
            "aws.step_functions.state.name": "CacheBacklinks",
            "aws.step_functions.state.retry_count": 0,
        },
    ):
        for i in range(count - 1):
            if i % 10 == 0:
                attributes = {
                    "http.request.method": "GET",
                    "server.address": "en.wikipedia.org",
                    "server.port": 443,
                    "url.full": "https://en.wikipedia.org/w/api.php?action=query&list=backlinks&blpageid=1000",
                    "http.response.status_code": 200,
                }
                name = "GET"
            else:
                attributes = {
                    "rpc.system": "aws-api",
                    "rpc.service": "DynamoDB",
                    "rpc.method": "BatchWriteItem",
                    "aws.region": "us-east-1",
                    "db.system": "dynamodb",
                    "aws.dynamodb.table_names": ["wikiroam-links-1a2b3c4"],
                    "aws.request_id": "R4ND0MR3QU3ST1D0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                    "http.response.status_code": 200,
                }
                name = "DynamoDB.BatchWriteItem"
            with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
                pass


class Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def best(rounds: int, action) -> float:
    """The fastest of `rounds` runs of `action` (seconds): the least disturbed by the machine's other work."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--invocations", type=int, default=50)
    args = parser.parse_args()
    spans_total = args.invocations * SPANS_PER_INVOCATION
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"

    # Spans made once, exported many times: only the export is timed.
    keeper = Keep()
    provider = TracerProvider(resource=telemetry.SandboxTelemetry(telemetry.telemetry_settings(ENV)).provider.resource)
    provider.add_span_processor(SimpleSpanProcessor(keeper))
    for _ in range(args.invocations):
        invocation(provider.get_tracer("wikiroam"))
    batches = [keeper.spans[i : i + SPANS_PER_INVOCATION] for i in range(0, spans_total, SPANS_PER_INVOCATION)]

    sink = io.StringIO()
    ours = telemetry.StdoutSpanExporter(sink)
    ours(batches[0])  # the lazy encoder import is a once-per-sandbox cost, reported by bench.init
    otlp_http = OTLPSpanExporter(endpoint=endpoint, timeout=10)

    print("P2 measuring...", file=sys.stderr, flush=True)
    results = {}
    print("  WikiRoam stdout lines", file=sys.stderr, flush=True)
    results["WikiRoam stdout line (protobuf+deflate z1+base64)"] = best(args.rounds, lambda: [ours(b) for b in batches])
    print("  SDK OTLP/HTTP, one POST per invocation", file=sys.stderr, flush=True)
    results["SDK OTLP/HTTP, one POST per invocation"] = best(
        args.rounds, lambda: [otlp_http.export(b) for b in batches]
    )
    print("  SDK OTLP/HTTP, SimpleSpanProcessor (one POST per span)", file=sys.stderr, flush=True)
    simple_provider = TracerProvider(resource=provider.resource)
    simple_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10)))
    no_export = TracerProvider(resource=provider.resource)
    simple_tracer, bare_tracer = simple_provider.get_tracer("wikiroam"), no_export.get_tracer("wikiroam")
    # This row times span creation too, so the creation cost alone is subtracted.
    creating = best(args.rounds, lambda: [invocation(bare_tracer) for _ in range(args.invocations)])
    with_export = best(args.rounds, lambda: [invocation(simple_tracer) for _ in range(args.invocations)])
    results["SDK OTLP/HTTP, SimpleSpanProcessor (per span)"] = max(with_export - creating, 0.0)
    server.shutdown()

    ours_ms = results["WikiRoam stdout line (protobuf+deflate z1+base64)"] * 1000 / spans_total
    print(
        f"P2 export cost per span ({spans_total} spans, {SPANS_PER_INVOCATION} per invocation, best of {args.rounds})"
    )
    print(f"{'exporter':<48}{'ms/span':>10}{'x ours':>9}")
    for name, seconds in results.items():
        per_span = seconds * 1000 / spans_total
        print(f"{name:<48}{per_span:>10.4f}{per_span / ours_ms:>9.1f}")
    print("targets: ours <= 0.3 ms/span and >= 5x cheaper than a synchronous OTLP/HTTP exporter")

    from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as encode_json

    print("\nCloudWatch bytes per span, by spans per flush")
    print(f"{'spans/flush':>12}{'protobuf+deflate z1':>22}{'OTLP/JSON':>12}")
    for count in (1, 5, 20, 100):
        spans = keeper.spans[:count]
        line = sum(len(x) + 1 for x in telemetry.encode_span_lines(spans))
        json_line = len(encode_json(spans).to_json()) + 1
        print(f"{count:>12}{line / count:>22.0f}{json_line / count:>12.0f}")


if __name__ == "__main__":
    main()
