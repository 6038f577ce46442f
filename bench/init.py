"""P1: a cold api function, bare vs our telemetry vs OpenTelemetry auto-instrumentation, first invocation included.

Each variant runs in fresh interpreters (a cold sandbox), interleaved round by round, several times. A run
times, in CPU time (`time.process_time`: on a shared machine wall time swings 2x with the neighbours' load), what
a cold sandbox does before its first answer. CPU time swings too when neighbours load both cores (the same
cold start took 241-376 ms in one run at a load average of 15), and it swings for all three variants of a
round alike: so the figure is paired. Each round gives each variant's CPU time over the bare handler's in that
round; the median of those ratios is the variant's `x bare`, and its added milliseconds are that ratio's excess
times the bare handler's fastest run (its cost on a quiet machine). The detail shows each variant's fastest run
and median beside, the load average around the rounds, and a cross-check (`fastest_quarter`: each variant's mean
over its fastest quarter of runs, less the bare handler's). What is timed:

- init: the handler module imported (for auto-instrumentation, by the layer's own path: the distro's
  `initialize()`, with its SDK, exporters, propagators and every installed instrumentation, the aws_lambda one
  importing the handler's module and wrapping the handler, then `otel_wrapper.py`'s import of it);
- first invocation: the handler called with a `GET /api/health` event, which builds the app (settings, boto3
  clients) and, with telemetry, configures the tracer provider, records the FaaS span and writes the first span
  line (the first flush); with auto-instrumentation, the aws_lambda instrumentation's wrapper around it, whose
  first flush is a real OTLP/HTTP export (below).

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
  sandbox environment, every variant's, has the version and log stream Lambda sets);
- `ORIG_HANDLER=$_HANDLER`, `_HANDLER=otel_wrapper.lambda_handler`;

then runs `opentelemetry-instrument`: the distro's `initialize()`, which leaves the exporters to its defaults,
`otlp` for traces, metrics and logs (so a BatchSpanProcessor, a periodic metric reader and a batch log
processor, each with its OTLP/HTTP exporter, as in the layer), and loads every instrumentation entry point
after its dependency check. The layer installs 27 instrumentations (`LAYER_INSTRUMENTATIONS`, from its
`requirements.txt` and `nodeps-requirements.txt`); all 27 are installed here too: those released on this repo's
OpenTelemetry line (SDK 1.45.2, instrumentations 0.66b2) pinned in `requirements/dev.txt`, and the 16 released
at 0.66b1 only (`LAYER_NODEPS`, among them aws-lambda), whose exact pin on opentelemetry-instrumentation 0.66b1
no environment with the pinned SDK can satisfy, installed by `install_layer()` without their dependencies into
a directory on the auto variant's path, as the layer's build installs its own nodeps requirements and as Lambda
puts the layer's `/opt/python` on the path. In the sandbox this benchmark stands for, the dependency checks
pass for aws-lambda and sqlite3 (nothing to check), botocore and boto3sqs (the runtime's boto3) and requests
(WikiRoam's layer), and skip the other 20; here the same 27 are checked, except those whose library this
machine has and a Lambda would not (moto's flask and jinja2, Pulumi's grpcio: `sandbox_disabled()`), which are
turned off with `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`, so auto is never configured heavier than the layer.
The aws_lambda instrumentation wraps the handler at init as in the layer, and its wrapper does the first
invocation's work: the parent context extracted from the event's headers by the configured propagators, a
SERVER span named after the function with its FaaS and API Gateway v2 attributes, then `force_flush()` of the
tracer provider (the first export, to the sink) and of the meter provider. `layer_env()` sets exactly the
script's variables, with one difference: the endpoint is a loopback sink (`Sink`, in the benchmark's process:
200 to every POST on `/v1/traces`, `/v1/metrics` and `/v1/logs`, counted; a closed port would make the exporter
retry for seconds). Each auto run must have posted at least one `/v1/traces` export to the sink, and its
handler must be the instrumentation's wrapper, or the benchmark stops.

What remains different from the real layer, each of which would only add to the layer's cost: the collector
extension's own process (started in Lambda's init phase, on the sandbox's CPU; not counted here, nor is the
sink's CPU); `opentelemetry-instrument` itself, which parses its options and then `exec`s a second interpreter
(here `initialize()` is called in the one interpreter, as its `sitecustomize` does in the second); the
dependency checks of the instrumentations turned off above; and `localhost`'s name resolution (the sink is
addressed as 127.0.0.1). Package versions are this repo's pins (SDK 1.45.2, instrumentations 0.66b2, and
0.66b1 where no 0.66b2 exists), not the layer's release.

Every variant loads bytecode, compiled once into a private cache by a warm-up run, as a sandbox whose package
carries bytecode for its Python does. `--sources` also measures the other case: nothing written, so every
module without bytecode beside it (here `functions/` and the third-party packages, which uv installs without)
is compiled at each start, as in a sandbox whose package has no bytecode for the runtime's Python.

    .venv/bin/python -m bench.init [--runs 21] [--sources]   (--runs 5: a quick run)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
# Rounds (one cold start of each variant per round): `make bench`, and `make bench QUICK=1`. Telemetry's cost is
# under a tenth of the bare cold start, and one run's CPU time swings by more than that on this shared machine:
# 21 rounds, each in a rotated order (no variant always runs first after a neighbour's burst).
RUNS = 21
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
# The api function's handler, as Lambda names it (`_HANDLER`); the layer's wrapper moves it to `ORIG_HANDLER`.
HANDLER = "functions.handlers.api.handler"
# Every instrumentation OpenTelemetry's Lambda layer installs (opentelemetry-lambda,
# `python/src/otel/otel_sdk/requirements.txt`, and `nodeps-requirements.txt`: aws-lambda and botocore).
LAYER_INSTRUMENTATIONS = (
    "aiohttp-client", "asgi", "asyncpg", "aws-lambda", "boto3sqs", "botocore", "celery", "dbapi", "django",
    "fastapi", "falcon", "flask", "grpc", "jinja2", "mysql", "psycopg2", "pymemcache", "pymongo", "pymysql",
    "pyramid", "redis", "requests", "sqlalchemy", "sqlite3", "starlette", "tornado", "wsgi",
)  # fmt: skip
# Those released on the SDK's line (opentelemetry-instrumentation 0.66b2) are pinned in requirements/dev.txt;
# these were released at 0.66b1 only, each requiring exactly opentelemetry-instrumentation 0.66b1, which no
# environment with the pinned SDK can hold: the benchmark installs them without their dependencies into a
# directory of its own, as the layer's build installs its nodeps requirements, and puts it on the auto
# variant's path, as Lambda puts a layer's `/opt/python`.
LAYER_NODEPS_VERSION = "0.66b1"
LAYER_NODEPS = (
    "aiohttp-client", "asyncpg", "aws-lambda", "boto3sqs", "falcon", "flask", "jinja2", "mysql", "psycopg2",
    "pymemcache", "pymongo", "pymysql", "pyramid", "sqlite3", "starlette", "tornado",
)  # fmt: skip
# What a Lambda sandbox running the api function has besides the layer: the Python runtime's boto3 and its
# dependencies, and WikiRoam's own layer (requirements/layer.txt). An instrumentation whose library is installed
# here but would not be there (moto's flask and jinja2, Pulumi's grpcio) would pass its dependency check here
# and not there, so it is turned off: auto is measured no heavier than the layer is in that sandbox.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")


def layer_env(env: dict[str, str], endpoint: str, disabled: tuple[str, ...] = ()) -> dict[str, str]:
    """What OpenTelemetry's Lambda layer (`python/src/otel/otel_sdk/otel-instrument`) sets, from `env`.

    The script sets the protocol, the service name, the propagators and the Lambda resource attributes, moves
    the function's handler to `ORIG_HANDLER` (the aws_lambda instrumentation wraps it, `otel_wrapper.py` hands
    it to the runtime), and leaves the exporters to the distro's defaults (`otlp` for traces, metrics and logs)
    and the endpoint to the exporter's (`http://localhost:4318`, the collector extension): here the endpoint is
    the loopback sink. `disabled`: the instrumentations whose library a Lambda sandbox would not have
    (`sandbox_disabled()`).
    """
    return {
        "ORIG_HANDLER": env.get("_HANDLER", HANDLER),
        "_HANDLER": "otel_wrapper.lambda_handler",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": env["AWS_LAMBDA_FUNCTION_NAME"],
        "OTEL_PROPAGATORS": "tracecontext,baggage,xray",
        "OTEL_RESOURCE_ATTRIBUTES": (
            f"cloud.region={env['AWS_REGION']},cloud.provider=aws,faas.name={env['AWS_LAMBDA_FUNCTION_NAME']},"
            f"faas.version={env['AWS_LAMBDA_FUNCTION_VERSION']},faas.instance={env['AWS_LAMBDA_LOG_STREAM_NAME']}"
        ),
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        **({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ",".join(disabled)} if disabled else {}),
    }


def _uv() -> list[str]:
    """The uv the Makefile uses (`python3 -m uv`), or one on PATH."""
    for python in ("python3", sys.executable):
        if subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False).returncode == 0:
            return [python, "-m", "uv"]
    found = shutil.which("uv")
    if found is None:
        raise SystemExit("P1 needs uv (make installs it) to install the layer's 0.66b1-only instrumentations")
    return [found]


def install_layer(target: Path) -> Path:
    """The layer's instrumentations that requirements/dev.txt cannot pin (`LAYER_NODEPS`), in `target`.

    Installed without dependencies (their own pin on opentelemetry-instrumentation 0.66b1 left unmet, as the
    layer's build leaves its nodeps requirements' pins), from uv's cache when it has them.
    """
    packages = [f"opentelemetry-instrumentation-{name}=={LAYER_NODEPS_VERSION}" for name in LAYER_NODEPS]
    command = [*_uv(), "pip", "install", "--quiet", "--no-deps", "--python", sys.executable, "--target", str(target)]
    if subprocess.run([*command, "--offline", *packages], capture_output=True, check=False).returncode:
        out = subprocess.run([*command, *packages], capture_output=True, text=True, check=False)
        if out.returncode:
            raise SystemExit(f"P1 could not install the layer's instrumentations:\n{out.stderr[-2000:]}")
    return target


def sandbox_disabled(layer: Path) -> tuple[str, ...]:
    """Instrumentations that pass their dependency check here, for a library a Lambda sandbox would not have.

    Those the layer's Lambda runs are kept: no library to check (aws-lambda, sqlite3's standard module), or one
    the sandbox has (botocore and boto3 from the runtime, requests from WikiRoam's layer). The rest are checked
    here as in the layer, and skipped by their check (no django, no redis, ...).
    """
    script = (
        "import json, re, sys\n"
        "from importlib.metadata import entry_points\n"
        "from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts\n"
        "out = []\n"
        "for ep in entry_points(group='opentelemetry_instrumentor'):\n"
        "    needs = [re.split(r'[ <>=~!;\\[]', r, maxsplit=1)[0].lower() for r in ep.dist.requires or []\n"
        "             if 'extra == \"instruments' in r.replace(\"'\", '\"')]\n"
        "    out.append([ep.name, needs, get_dist_dependency_conflicts(ep.dist) is None])\n"
        "print(json.dumps(out))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | {"PYTHONPATH": str(layer)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    sandbox = set(LAMBDA_RUNTIME_PACKAGES) | {
        line.split("==", 1)[0].strip().lower()
        for line in (ROOT / "requirements" / "layer.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    return tuple(
        name
        for name, needs, passes in json.loads(out.stdout)
        if passes and needs and not any(need in sandbox for need in needs)
    )


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
    # The layer: `opentelemetry-instrument`'s sitecustomize runs the distro's initialize(): SDK, exporters,
    # propagators, and every installed instrumentation, each dependency-checked; the aws_lambda one imports the
    # handler's module (ORIG_HANDLER) and wraps the handler. Then the runtime imports `otel_wrapper`, which
    # does what follows: the handler module imported, its handler taken.
    from opentelemetry.instrumentation.auto_instrumentation import initialize
    initialize()
    from importlib import import_module
    module_name, handler_name = os.environ["ORIG_HANDLER"].rsplit(".", 1)
    handler = getattr(import_module(".".join(module_name.split("/"))), handler_name)
    assert hasattr(handler, "__wrapped__"), "the aws_lambda instrumentation did not wrap the handler"
else:
    from functions.handlers.api import handler
w1, c1 = time.perf_counter(), time.process_time()
# With auto-instrumentation, the wrapper: the parent context from the event's headers (the configured
# propagators), a SERVER span with the FaaS and API Gateway attributes, the handler, then force_flush() of the
# tracer provider (the first export, to the sink) and of the meter provider.
answer = handler(event, Context())
w2, c2 = time.perf_counter(), time.process_time()
written = sys.stdout.getvalue()
sys.stdout = out
assert answer["statusCode"] == 200, answer
if variant == "telemetry":
    assert "OTLPv1 z1:" in written, "the first invocation wrote no span line"
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


def run(
    variant: str, path: Path, cache: Path | None, sink: Sink, layer: Path, disabled: tuple[str, ...] = ()
) -> dict[str, float]:
    """One cold start of `variant`; `cache` is the bytecode cache to use, None to compile every module.

    Auto-instrumentation has `layer` (`install_layer()`) on its path after the function's, its exporters post
    to `sink` (its sample counts the exports it received), and `disabled` names the instrumentations it skips.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(ENV, PYTHONPATH=str(path) if variant != "auto" else f"{path}{os.pathsep}{layer}")
    if cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    else:
        # Nothing written: a module without bytecode beside it is compiled at every start, as in a sandbox.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    if variant == "auto":
        env.update(layer_env(env | {"_HANDLER": HANDLER}, sink.endpoint, disabled))
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
        layer = install_layer(Path(tmp) / "layer")
        disabled = sandbox_disabled(layer)
        results: dict[str, Any] = {
            "bare_revision": revision,
            "runs": runs,
            "conditions": {},
            "auto_disabled_instrumentations": list(disabled),
        }
        for condition in conditions:
            cache = Path(tmp) / "pycache" if condition == "bytecode" else None
            if cache is not None:
                for name, path in paths.items():  # warm-up: compile into the cache, not measured
                    run(name, path, cache, sink, layer, disabled)
            samples: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
            total = runs * len(VARIANTS)
            load_before = os.getloadavg()[0]
            for i in range(runs):
                for j in range(len(VARIANTS)):
                    name = VARIANTS[(i + j) % len(VARIANTS)]
                    progress(f"P1 {condition}", i * len(VARIANTS) + j, total)
                    samples[name].append(run(name, paths[name], cache, sink, layer, disabled))
            progress(f"P1 {condition}", total, total)
            results["conditions"][condition] = {name: figures(samples[name]) for name in VARIANTS}
            results.setdefault("load_average", {})[condition] = [load_before, os.getloadavg()[0]]
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


def fastest_quarter(results: dict[str, Any], condition: str = "bytecode") -> dict[str, float]:
    """A cross-check of `summary`: each variant's mean over its fastest quarter of runs, less the bare handler's.

    A neighbour's load only ever adds CPU time, so a variant's fastest runs are its least disturbed; the paired
    median can be moved by a burst that falls on one variant's runs of many rounds.
    """
    measured = results["conditions"][condition]

    def fast(name: str) -> float:
        totals = sorted(s["init"] + s["first"] for s in measured[name]["samples"])
        return statistics.mean(totals[: max(3, len(totals) // 4)]) * 1000

    ours, auto = fast("telemetry") - fast("bare"), fast("auto") - fast("bare")
    return {"added_ours_ms": ours, "added_auto_ms": auto, "times_less_than_auto": auto / ours if ours > 0 else 0.0}


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
        load = results.get("load_average", {}).get(condition)
        lines.append(f"\n{title}" + (f" (load average {load[0]:.1f} before, {load[1]:.1f} after)" if load else ""))
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
        q = fastest_quarter(results, condition)
        lines.append(
            f"cross-check, each variant's fastest quarter: ours {q['added_ours_ms']:.1f} ms, auto-instrumentation "
            f"{q['added_auto_ms']:.1f} ms -> "
            + (f"{q['times_less_than_auto']:.1f}x less" if q["added_ours_ms"] > 0 else "ours within the noise")
        )
    if "otlp_sink" in results:
        sink = results["otlp_sink"]
        posts = ", ".join(f"{path} {count}" for path, count in sink["requests"].items())
        lines.append(f"auto-instrumentation's OTLP/HTTP posts to the loopback sink, warm-ups included: {posts}")
    if "auto_disabled_instrumentations" in results:
        lines.append(
            f"auto-instrumentation: the layer's {len(LAYER_INSTRUMENTATIONS)} instrumentations installed, "
            f"off for a library no Lambda sandbox of this function has: "
            f"{', '.join(results['auto_disabled_instrumentations']) or 'none'}"
        )
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
