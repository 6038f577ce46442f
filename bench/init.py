"""P1: a cold api function, bare vs our telemetry vs OpenTelemetry auto-instrumentation, first invocation included.

Each variant runs in fresh interpreters (a cold sandbox), interleaved round by round, several times. A run
times, in CPU time (`time.process_time`: on a shared machine wall time swings 2x with the neighbours' load), what
a cold sandbox does before its first answer. CPU time swings too when neighbours load both cores (the same
cold start took 241-376 ms in one run at a load average of 15), and it swings for all three variants of a
round alike: so the figure is paired. Each round gives each variant's CPU time over the bare handler's in that
round; the median of those ratios is the variant's `x bare`, and its added milliseconds are that ratio's excess
times the bare handler's fastest run (its cost on a quiet machine). The detail shows each variant's fastest run
and median beside. What is timed:

- init: the handler module imported (for auto-instrumentation, after the distro's `initialize()`: SDK,
  exporters, propagators, and every installed instrumentation: botocore, requests);
- first invocation: the handler called with a `GET /api/health` event, which builds the app (settings, boto3
  clients) and, with telemetry, configures the tracer provider, records the FaaS span and writes the first span
  line (the first flush); with auto-instrumentation, the handler wrapped as the layer's Lambda instrumentation
  wraps it, and its first flush a real OTLP/HTTP export (below).

Variants: bare is the api function as it was before telemetry (`functions/` at the commit before
`functions/telemetry.py` was added); telemetry is today's; auto is the bare function configured as
OpenTelemetry's Lambda layer configures a Python function. The layer's wrapper script
(opentelemetry-lambda, `python/src/otel/otel_sdk/otel-instrument`) sets, when the function has not:

- `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`: the OTLP/HTTP exporter (protobuf, `requests`), to the collector
  extension at the exporter's default endpoint, `http://localhost:4318`;
- `OTEL_SERVICE_NAME=$AWS_LAMBDA_FUNCTION_NAME`;
- `OTEL_PROPAGATORS=tracecontext,baggage,xray` (the X-Ray propagator is loaded at init);
- `OTEL_RESOURCE_ATTRIBUTES=cloud.region=$AWS_REGION,cloud.provider=aws,faas.name=$AWS_LAMBDA_FUNCTION_NAME,
  faas.version=$AWS_LAMBDA_FUNCTION_VERSION,faas.instance=$AWS_LAMBDA_LOG_STREAM_NAME` (so the benchmark's
  sandbox environment, every variant's, now has the version and log stream Lambda sets);

then runs `opentelemetry-instrument`: the distro's `initialize()`, which leaves the exporters to its defaults,
`otlp` for traces, metrics and logs (so a BatchSpanProcessor, a periodic metric reader and a batch log
processor, each with its OTLP/HTTP exporter, as in the layer), and loads every installed instrumentation.
`layer_env()` sets exactly these, with two differences: the endpoint is a loopback sink (`Sink`, in the
benchmark's process: 200 to every POST on `/v1/traces`, `/v1/metrics` and `/v1/logs`, counted; a closed port
would make the exporter retry for seconds), and the gRPC instrumentations are off (the layer installs them, but
a Lambda has no `grpcio` and their dependency check skips them there; here `grpcio` comes with the Pulumi SDK).
Each auto run must have posted at least one `/v1/traces` export to the sink, or the benchmark stops. The
layer's `opentelemetry-instrumentation-aws-lambda` is not pinned in `requirements/dev.txt`, so the child does
what it does around the handler (`otel_wrapper.py` imports the handler, the instrumentation wraps it): the
parent context extracted from the event's headers by the configured propagators, a SERVER span named after the
function with its FaaS and API Gateway v2 attributes, then `force_flush()` of the tracer provider (the first
export, timed) and of the meter provider.

What remains different from the real layer, each of which would only add to the layer's cost: the collector
extension's own process (started in Lambda's init phase, on the sandbox's CPU; not counted here, nor is the
sink's CPU); `opentelemetry-instrument` itself, which parses its options (scanning entry points) and then
`exec`s a second interpreter (here `initialize()` is called in the one interpreter); the two dozen other
instrumentations the layer installs, each found by entry point and dependency-checked at init, sqlite3's (no
dependency) instrumenting the standard library's module (here only botocore, requests and the disabled gRPC
ones are installed); the aws_lambda instrumentation's own import; and `localhost`'s name resolution (the sink
is addressed as 127.0.0.1). Package versions are this repo's pins (SDK 1.45.2, instrumentations 0.66b2), not
the layer's release.

Every variant loads bytecode, compiled once into a private cache by a warm-up run, as a sandbox whose package
carries bytecode for its Python does. `--sources` also measures the other case: nothing written, so every
module without bytecode beside it (here `functions/` and the third-party packages, which uv installs without)
is compiled at each start, as in a sandbox whose package has no bytecode for the runtime's Python.

    .venv/bin/python -m bench.init [--runs 11] [--sources]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.local_stack import progress
from bench.table import DEFAULT_OUT, Row, write_json

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("bare", "telemetry", "auto")
LABELS = {"bare": "bare handler", "telemetry": "WikiRoam telemetry", "auto": "OTel auto-instrumentation"}
# Rounds (one cold start of each variant per round): `make bench`, and `make bench QUICK=1`.
RUNS = 11
QUICK_RUNS = 5
TARGET_X_BARE = 1.10
TARGET_X_LESS_THAN_AUTO = 10.0
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "WIKIROAM_CONTACT": "bench@wikiroam.test",
    "WIKIROAM_PAGES_TABLE": "pages",
    "WIKIROAM_LINKS_TABLE": "links",
    "WIKIROAM_CACHE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:cache",
    "WIKIROAM_ENVIRONMENT": "bench",
    "AWS_LAMBDA_FUNCTION_NAME": "wikiroam-bench-api",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/02/[$LATEST]0123456789abcdef0123456789abcdef",
}
# The collector extension's OTLP/HTTP paths (the layer's exporters post to `localhost:4318` + these).
OTLP_PATHS = ("/v1/traces", "/v1/metrics", "/v1/logs")


def layer_env(env: dict[str, str], endpoint: str) -> dict[str, str]:
    """What OpenTelemetry's Lambda layer (`python/src/otel/otel_sdk/otel-instrument`) sets, from `env`.

    The script sets the protocol, the service name, the propagators and the Lambda resource attributes, and
    leaves the exporters to the distro's defaults (`otlp` for traces, metrics and logs) and the endpoint to the
    exporter's (`http://localhost:4318`, the collector extension): here the endpoint is the loopback sink.
    Only the gRPC instrumentations are turned off: the layer installs them, but a Lambda has no `grpcio`, so
    the dependency check skips them there; here `grpcio` comes with the Pulumi SDK.
    """
    return {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": env["AWS_LAMBDA_FUNCTION_NAME"],
        "OTEL_PROPAGATORS": "tracecontext,baggage,xray",
        "OTEL_RESOURCE_ATTRIBUTES": (
            f"cloud.region={env['AWS_REGION']},cloud.provider=aws,faas.name={env['AWS_LAMBDA_FUNCTION_NAME']},"
            f"faas.version={env['AWS_LAMBDA_FUNCTION_VERSION']},faas.instance={env['AWS_LAMBDA_LOG_STREAM_NAME']}"
        ),
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "grpc_client,grpc_server,grpc_aio_client,grpc_aio_server",
    }


class Sink:
    """The collector extension's OTLP/HTTP receiver on loopback: 200 to every POST on its paths, counted.

    The layer's exporters post to the extension in the same sandbox; this sink answers at once so the first
    flush exports as it would there (a closed port would make the exporter retry for seconds). It runs in the
    benchmark's process: its CPU is not the cold start's, as the extension's own process is not the function's.
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(OTLP_PATHS, 0)
        self.bytes = 0
        counts, sink, lock = self.counts, self, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                if path not in counts:
                    self.send_error(404)
                    return
                with lock:
                    counts[path] += 1
                    sink.bytes += len(body)
                # An empty ExportServiceResponse: nothing rejected.
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Sink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> dict[str, int]:
        """Requests received so far, per path."""
        return dict(self.counts)


CHILD = r"""
import io, json, os, sys, time
variant = sys.argv[1]
event = {
    "version": "2.0", "routeKey": "GET /api/health", "rawPath": "/api/health", "rawQueryString": "",
    "headers": {"host": "bench.local"},
    "requestContext": {"http": {"method": "GET", "path": "/api/health", "sourceIp": "127.0.0.1"},
                       "requestId": "bench", "routeKey": "GET /api/health"},
}
class Context:
    function_name = "wikiroam-bench-api"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:wikiroam-bench-api"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    def get_remaining_time_in_millis(self):
        return 15000
out = sys.stdout
sys.stdout = io.StringIO()  # span lines and the console exporter's spans are not the measurement
w0, c0 = time.perf_counter(), time.process_time()
if variant == "auto":
    from opentelemetry.instrumentation.auto_instrumentation import initialize
    initialize()
import functions.handlers.api as api
w1, c1 = time.perf_counter(), time.process_time()
if variant == "auto":
    # What the layer's aws_lambda instrumentation does around the handler (it is not installed here):
    # the parent from the event's headers through the configured propagators, a SERVER span named after the
    # function with its FaaS and HTTP attributes, then the tracer and meter providers force-flushed.
    from opentelemetry import context, metrics, trace
    from opentelemetry.propagate import extract
    lambda_context = Context()
    token = context.attach(extract(event.get("headers") or {}))
    try:
        arn = lambda_context.invoked_function_arn
        tracer = trace.get_tracer("bench.aws_lambda", schema_url="https://opentelemetry.io/schemas/1.11.0")
        with tracer.start_as_current_span(
            lambda_context.function_name, kind=trace.SpanKind.SERVER,
            attributes={"cloud.account.id": arn.split(":")[4], "cloud.resource_id": ":".join(arn.split(":")[:7]),
                        "faas.invocation_id": lambda_context.aws_request_id},
        ) as span:
            answer = api.handler(event, lambda_context)
            http = event["requestContext"]["http"]
            span.set_attributes({"faas.trigger": "http", "http.method": http["method"], "http.route": http["path"],
                                 "http.target": http["path"], "http.status_code": answer["statusCode"]})
    finally:
        context.detach(token)
    flushed = trace.get_tracer_provider().force_flush(30000)
    metrics.get_meter_provider().force_flush(30000)
else:
    answer = api.handler(event, Context())
w2, c2 = time.perf_counter(), time.process_time()
written = sys.stdout.getvalue()
sys.stdout = out
assert answer["statusCode"] == 200, answer
if variant == "telemetry":
    assert "OTLPv1 z1:" in written, "the first invocation wrote no span line"
if variant == "auto":
    assert flushed, "the first flush did not export"
print(json.dumps({"init": c1 - c0, "first": c2 - c1, "init_wall": w1 - w0, "first_wall": w2 - w1}))
"""


def bare_functions(target: Path) -> str:
    """Extract the pre-telemetry `functions/` into `target`; returns the commit it came from."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "functions/telemetry.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not added:
        raise SystemExit("no commit adds functions/telemetry.py: cannot find the bare handler")
    revision = f"{added[-1]}^"
    archive = subprocess.run(["git", "archive", revision, "functions"], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return revision


def run(variant: str, path: Path, cache: Path | None, sink: Sink) -> dict[str, float]:
    """One cold start of `variant`; `cache` is the bytecode cache to use, None to compile every module.

    Auto-instrumentation's exporters post to `sink`; its sample counts the trace exports it received.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(ENV, PYTHONPATH=str(path))
    if cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    else:
        # Nothing written: a module without bytecode beside it is compiled at every start, as in a sandbox.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    if variant == "auto":
        env.update(layer_env(env, sink.endpoint))
    before = sink.snapshot()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, variant], env=env, cwd=path, capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise RuntimeError(f"the {variant} cold start failed:\n{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if variant == "auto":
        # The child has exited: its flushes (and its providers' shutdown at exit) have been answered.
        after = sink.snapshot()
        result |= {f"exported_{path.rsplit('/', 1)[1]}": after[path] - before[path] for path in OTLP_PATHS}
        if not result["exported_traces"]:
            raise RuntimeError("the auto-instrumented cold start exported no trace to the sink")
    return result


def figures(samples: list[dict[str, float]]) -> dict[str, Any]:
    """One variant's figures in ms: its fastest run's phases (`total` is that run's), and every phase's median."""
    fastest = min(samples, key=lambda s: s["init"] + s["first"])
    keys = ("init", "first", "init_wall", "first_wall")
    return (
        {key: fastest[key] * 1000 for key in keys}
        | {"total": (fastest["init"] + fastest["first"]) * 1000}
        | {f"median_{key}": statistics.median(s[key] for s in samples) * 1000 for key in keys}
        | {"median_total": statistics.median(s["init"] + s["first"] for s in samples) * 1000}
        | {"samples": samples}
    )


def measure(runs: int, *, sources: bool = False) -> dict[str, Any]:
    """CPU milliseconds per variant and phase (fastest run, and medians), under each bytecode condition asked for."""
    conditions = ("bytecode", "sources") if sources else ("bytecode",)
    with tempfile.TemporaryDirectory() as tmp, Sink() as sink:
        bare_dir = Path(tmp) / "bare"
        revision = bare_functions(bare_dir)
        paths = {"bare": bare_dir, "telemetry": ROOT, "auto": bare_dir}
        results: dict[str, Any] = {"bare_revision": revision, "runs": runs, "conditions": {}}
        for condition in conditions:
            cache = Path(tmp) / "pycache" if condition == "bytecode" else None
            if cache is not None:
                for name, path in paths.items():  # warm-up: compile into the cache, not measured
                    run(name, path, cache, sink)
            samples: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
            total = runs * len(VARIANTS)
            for i in range(runs):
                for j, name in enumerate(VARIANTS):
                    progress(f"P1 {condition}", i * len(VARIANTS) + j, total)
                    samples[name].append(run(name, paths[name], cache, sink))
            progress(f"P1 {condition}", total, total)
            results["conditions"][condition] = {name: figures(samples[name]) for name in VARIANTS}
        results["otlp_sink"] = {"requests": sink.snapshot(), "bytes": sink.bytes}
    return results


def paired_ratio(samples: list[dict[str, float]], bare: list[dict[str, float]]) -> float:
    """The median, over rounds, of a variant's CPU time over the bare handler's in the same round."""
    return statistics.median(
        (s["init"] + s["first"]) / (b["init"] + b["first"]) for s, b in zip(samples, bare, strict=True)
    )


def summary(results: dict[str, Any], condition: str = "bytecode") -> dict[str, float]:
    """Added milliseconds and ratios of one condition (paired by round, scaled to the bare handler's fastest)."""
    measured = results["conditions"][condition]
    bare = measured["bare"]["total"]
    x_ours = paired_ratio(measured["telemetry"]["samples"], measured["bare"]["samples"])
    x_auto = paired_ratio(measured["auto"]["samples"], measured["bare"]["samples"])
    added_ours = (x_ours - 1) * bare
    added_auto = (x_auto - 1) * bare
    return {
        "bare_ms": bare,
        "added_ours_ms": added_ours,
        "added_auto_ms": added_auto,
        "x_bare": x_ours,
        "auto_x_bare": x_auto,
        "times_less_than_auto": added_auto / added_ours if added_ours > 0 else float("inf"),
    }


def row(results: dict[str, Any]) -> Row:
    """The P1 line of the table (bytecode condition)."""
    s = summary(results)
    met = s["x_bare"] <= TARGET_X_BARE and s["times_less_than_auto"] >= TARGET_X_LESS_THAN_AUTO
    return Row(
        id="P1",
        measure="api cold start + first invocation, CPU ms added to the bare handler",
        ours=f"+{s['added_ours_ms']:.1f} ms ({s['x_bare']:.2f}x bare {s['bare_ms']:.0f} ms)",
        comparison=f"auto-instrumentation +{s['added_auto_ms']:.1f} ms ({s['auto_x_bare']:.2f}x bare)",
        ratio=f"{s['times_less_than_auto']:.1f}x less",
        target=f"<= {TARGET_X_BARE:.2f}x bare; >= {TARGET_X_LESS_THAN_AUTO:.0f}x less than auto",
        met=met,
    )


def report(results: dict[str, Any]) -> str:
    """The detail table, one block per condition."""
    lines = [f"P1 cold start of the api function, CPU ms, fastest of {results['runs']} fresh interpreters"]
    lines.append(f"(bare = functions/ at {results['bare_revision']}; first invocation = GET /api/health)")
    for condition, measured in results["conditions"].items():
        s = summary(results, condition)
        title = "bytecode loaded" if condition == "bytecode" else "no bytecode: functions/ and packages compiled"
        lines.append(f"\n{title}")
        lines.append("fastest run of each variant (init, 1st call, total, wall), its median, and the paired x bare")
        lines.append(
            f"{'variant':<28}{'init':>9}{'1st call':>10}{'total':>9}{'wall total':>12}{'median':>9}{'x bare':>8}"
        )
        ratios = {"bare": 1.0, "telemetry": s["x_bare"], "auto": s["auto_x_bare"]}
        for name in VARIANTS:
            m = measured[name]
            lines.append(
                f"{LABELS[name]:<28}{m['init']:>9.1f}{m['first']:>10.1f}{m['total']:>9.1f}"
                f"{m['init_wall'] + m['first_wall']:>12.1f}{m.get('median_total', m['total']):>9.1f}"
                f"{ratios[name]:>8.3f}"
            )
        lines.append(
            f"added: ours {s['added_ours_ms']:.1f} ms, auto-instrumentation {s['added_auto_ms']:.1f} ms "
            f"-> {s['times_less_than_auto']:.1f}x less"
        )
    if "otlp_sink" in results:
        sink = results["otlp_sink"]
        posts = ", ".join(f"{path} {count}" for path, count in sink["requests"].items())
        lines.append(f"auto-instrumentation's OTLP/HTTP posts to the loopback sink, warm-ups included: {posts}")
    lines.append(f"targets: <= {TARGET_X_BARE:.2f}x bare, >= {TARGET_X_LESS_THAN_AUTO:.0f}x less added than auto")
    return "\n".join(lines)


def picture(results: dict[str, Any], path: Path) -> Path:
    """Stacked bars, init and first invocation, per variant (bytecode condition)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = results["conditions"]["bytecode"]
    labels = [LABELS[name] for name in VARIANTS]
    init = [measured[name]["init"] for name in VARIANTS]
    first = [measured[name]["first"] for name in VARIANTS]
    figure, axes = plt.subplots(figsize=(7, 3.6))
    axes.barh(labels, init, label="init (imports)", color="#4c72b0")
    axes.barh(labels, first, left=init, label="first invocation (build, spans, first flush)", color="#dd8452")
    for index, name in enumerate(VARIANTS):
        axes.text(init[index] + first[index] + 2, index, f"{measured[name]['total']:.0f} ms", va="center")
    axes.invert_yaxis()
    axes.set_xlabel(f"CPU ms, fastest of {results['runs']} cold starts")
    axes.set_title("P1: api function cold start to its first answer")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, fontsize=8, frameon=False)
    axes.set_xlim(0, max(i + f for i, f in zip(init, first, strict=True)) * 1.2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main() -> None:
    """Measure, print the detail and the table row, write the JSON and the picture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--sources", action="store_true", help="also measure with no bytecode for the packages")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    results = measure(args.runs, sources=args.sources)
    print(report(results))
    write_json(args.out, "P1-init", results, quick=False)
    print(f"picture: {picture(results, args.out / 'P1-init.png')}")


if __name__ == "__main__":
    main()
