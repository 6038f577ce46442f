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
  exporter, and every installed instrumentation: botocore, requests);
- first invocation: the handler called with a `GET /api/health` event, which builds the app (settings, boto3
  clients) and, with telemetry, configures the tracer provider, records the FaaS span and writes the first span
  line (the first flush). Auto-instrumentation's invocation is wrapped in a span of its tracer and ends with its
  provider's `force_flush()`, as its Lambda instrumentation does.

Variants: bare is the api function as it was before telemetry (`functions/` at the commit before
`functions/telemetry.py` was added); telemetry is today's; auto is the bare function under auto-instrumentation
(console exporter, gRPC instrumentations off: gRPC comes with the Pulumi SDK here, not with a Lambda).

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
}
AUTO_ENV = {
    "OTEL_SERVICE_NAME": "wikiroam",
    "OTEL_TRACES_EXPORTER": "console",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "grpc_client,grpc_server,grpc_aio_client,grpc_aio_server",
}

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
    from opentelemetry import trace
    with trace.get_tracer("bench").start_as_current_span("GET /api/health"):
        answer = api.handler(event, Context())
    trace.get_tracer_provider().force_flush()
else:
    answer = api.handler(event, Context())
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


def run(variant: str, path: Path, cache: Path | None) -> dict[str, float]:
    """One cold start of `variant`; `cache` is the bytecode cache to use, None to compile every module."""
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
        env.update(AUTO_ENV)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, variant], env=env, cwd=path, capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise RuntimeError(f"the {variant} cold start failed:\n{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
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
    with tempfile.TemporaryDirectory() as tmp:
        bare_dir = Path(tmp) / "bare"
        revision = bare_functions(bare_dir)
        paths = {"bare": bare_dir, "telemetry": ROOT, "auto": bare_dir}
        results: dict[str, Any] = {"bare_revision": revision, "runs": runs, "conditions": {}}
        for condition in conditions:
            cache = Path(tmp) / "pycache" if condition == "bytecode" else None
            if cache is not None:
                for name, path in paths.items():  # warm-up: compile into the cache, not measured
                    run(name, path, cache)
            samples: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
            total = runs * len(VARIANTS)
            for i in range(runs):
                for j, name in enumerate(VARIANTS):
                    progress(f"P1 {condition}", i * len(VARIANTS) + j, total)
                    samples[name].append(run(name, paths[name], cache))
            progress(f"P1 {condition}", total, total)
            results["conditions"][condition] = {name: figures(samples[name]) for name in VARIANTS}
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
