"""P2: export cost per span, our stdout exporter vs the SDK's synchronous OTLP/HTTP exporter to a loopback receiver.

Spans are shaped like a cache step's (a server span, wiki GETs and DynamoDB writes with their attributes),
20 per invocation. Measured side by side in one run, best of several rounds:

- WikiRoam: the buffering processor's flush (protobuf encoding, deflate with the z1 dictionary, base64, one line);
- SDK OTLP/HTTP, one POST per invocation: `OTLPSpanExporter.export(<the 20 spans>)` to a receiver on 127.0.0.1;
- SDK OTLP/HTTP, SimpleSpanProcessor: one POST per span as it ends (the synchronous processor).

It also prints the CloudWatch bytes per span of the line format against OTLP/JSON (the official JSON encoder),
the measurement behind the choice of encoding in `functions/telemetry/lines.py`.

    .venv/bin/python -m bench.export [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from bench.local_stack import progress
from bench.table import DEFAULT_OUT, Row, write_json
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


OURS = "WikiRoam stdout line (protobuf+deflate z1+base64)"
BATCHED = "SDK OTLP/HTTP, one POST per invocation"
PER_SPAN = "SDK OTLP/HTTP, SimpleSpanProcessor (per span)"
TARGET_MS_PER_SPAN = 0.3
TARGET_X_CHEAPER = 5.0


def measure(rounds: int, invocations: int) -> dict[str, Any]:
    """Milliseconds per span of each exporter (best of `rounds`), and bytes per span by spans per flush."""
    spans_total = invocations * SPANS_PER_INVOCATION
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"

    # Spans made once, exported many times: only the export is timed.
    keeper = Keep()
    provider = TracerProvider(resource=telemetry.SandboxTelemetry(telemetry.telemetry_settings(ENV)).provider.resource)
    provider.add_span_processor(SimpleSpanProcessor(keeper))
    for _ in range(invocations):
        invocation(provider.get_tracer("wikiroam"))
    batches = [keeper.spans[i : i + SPANS_PER_INVOCATION] for i in range(0, spans_total, SPANS_PER_INVOCATION)]

    ours = telemetry.StdoutSpanExporter(io.StringIO())
    ours(batches[0])  # a sandbox's first flush is bench.init's business: here, warm flushes
    otlp_http = OTLPSpanExporter(endpoint=endpoint, timeout=10)

    seconds: dict[str, float] = {}
    progress("P2 exporters", 0, 3)
    seconds[OURS] = best(rounds, lambda: [ours(b) for b in batches])
    progress("P2 exporters", 1, 3)
    seconds[BATCHED] = best(rounds, lambda: [otlp_http.export(b) for b in batches])
    progress("P2 exporters", 2, 3)
    simple_provider = TracerProvider(resource=provider.resource)
    simple_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10)))
    no_export = TracerProvider(resource=provider.resource)
    simple_tracer, bare_tracer = simple_provider.get_tracer("wikiroam"), no_export.get_tracer("wikiroam")
    # This row times span creation too, so the creation cost alone is subtracted.
    creating = best(rounds, lambda: [invocation(bare_tracer) for _ in range(invocations)])
    with_export = best(rounds, lambda: [invocation(simple_tracer) for _ in range(invocations)])
    seconds[PER_SPAN] = max(with_export - creating, 0.0)
    progress("P2 exporters", 3, 3)
    server.shutdown()

    from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as encode_json

    bytes_per_span = {}
    for count in (1, 5, 20, 100):
        spans = keeper.spans[:count]
        line = sum(len(x) + 1 for x in telemetry.encode_span_lines(spans))
        json_line = len(encode_json(spans).to_json()) + 1
        bytes_per_span[count] = {"ours": line / count, "otlp_json": json_line / count}
    return {
        "rounds": rounds,
        "spans": spans_total,
        "spans_per_invocation": SPANS_PER_INVOCATION,
        "ms_per_span": {name: value * 1000 / spans_total for name, value in seconds.items()},
        "bytes_per_span_by_flush_size": bytes_per_span,
    }


def row(results: dict[str, Any]) -> Row:
    """The P2 line of the table."""
    ms = results["ms_per_span"]
    ours, batched, per_span = ms[OURS], ms[BATCHED], ms[PER_SPAN]
    return Row(
        id="P2",
        measure="export cost per span (20-span invocations)",
        ours=f"{ours:.3f} ms/span",
        comparison=f"SDK OTLP/HTTP: {per_span:.3f} per span, {batched:.3f} batched",
        ratio=f"{per_span / ours:.1f}x / {batched / ours:.1f}x less",
        target=f"<= {TARGET_MS_PER_SPAN} ms; >= {TARGET_X_CHEAPER:.0f}x less than per-span",
        met=ours <= TARGET_MS_PER_SPAN and per_span / ours >= TARGET_X_CHEAPER,
    )


def report(results: dict[str, Any]) -> str:
    """The detail tables."""
    ms = results["ms_per_span"]
    lines = [
        f"P2 export cost per span ({results['spans']} spans, {results['spans_per_invocation']} per invocation, "
        f"best of {results['rounds']})",
        f"{'exporter':<52}{'ms/span':>10}{'x ours':>9}",
    ]
    lines += [f"{name:<52}{value:>10.4f}{value / ms[OURS]:>9.1f}" for name, value in ms.items()]
    lines.append("\nCloudWatch bytes per span, by spans per flush")
    lines.append(f"{'spans/flush':>12}{'protobuf+deflate z1':>22}{'OTLP/JSON':>12}")
    for count, sizes in results["bytes_per_span_by_flush_size"].items():
        lines.append(f"{count:>12}{sizes['ours']:>22.0f}{sizes['otlp_json']:>12.0f}")
    return "\n".join(lines)


def main() -> None:
    """Measure, print the detail and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--invocations", type=int, default=50)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    results = measure(args.rounds, args.invocations)
    print(report(results))
    write_json(args.out, "P2-export", results, quick=False)


if __name__ == "__main__":
    main()
