"""P1: cold-start init of the api function, bare vs our telemetry vs OpenTelemetry auto-instrumentation.

Each variant runs in a fresh interpreter (a cold sandbox's imports are never cached), several times,
interleaved, and the median is reported. Timed inside the child, so interpreter start-up is left out, in CPU
time (`time.process_time`): on a shared machine wall time swings 2x with the neighbours' load, CPU time
hardly (the wall-clock medians are printed too):

- bare: the api handler as it was before telemetry (the `functions/` package at the commit before
  `functions/telemetry.py` was added, or at HEAD while it is not committed yet), imported;
- telemetry: today's handler imported, and telemetry set up (`telemetry.configure`, what the first
  invocation does before the handler runs);
- auto: the bare handler under `opentelemetry-instrument`-style auto-instrumentation (the distro's
  `initialize()`: SDK, exporter, and every installed instrumentation: botocore, requests), then imported.

A second column adds `build()`: the settings and the boto3 clients the first invocation creates.
The first flush imports the protobuf encoder lazily; its cost is reported on its own line.

    .venv/bin/python -m bench.init [--runs 7]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
}

CHILD = r"""
import json, os, sys, time
variant = sys.argv[1]
t0, c0 = time.perf_counter(), time.process_time()
if variant == "auto":
    from opentelemetry.instrumentation.auto_instrumentation import initialize
    initialize()
import functions.handlers.api as api
if variant == "telemetry":
    from functions import telemetry
    telemetry.configure(os.environ, stream=open(os.devnull, "w"))
t1, c1 = time.perf_counter(), time.process_time()
api.build(os.environ)
t2, c2 = time.perf_counter(), time.process_time()
flush = 0.0
if variant == "telemetry":
    with telemetry.tracer().start_as_current_span("x"):
        pass
    t3 = time.perf_counter()
    telemetry.flush()
    flush = time.perf_counter() - t3
print(json.dumps({"init": c1 - c0, "build": c2 - c1, "flush": flush, "init_wall": t1 - t0}))
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
    revision = f"{added[-1]}^" if added else "HEAD"
    archive = subprocess.run(["git", "archive", revision, "functions"], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    # Compiled once, as the project's own tree is: every variant then loads bytecode, none compiles sources.
    compileall.compile_dir(target / "functions", quiet=1)
    if (target / "functions" / "telemetry.py").exists():
        raise SystemExit(f"{revision} already has functions/telemetry.py: cannot find the bare handler")
    return revision


def run(variant: str, path: Path) -> dict[str, float]:
    env = {**os.environ, **ENV, "PYTHONPATH": str(path)}
    if variant == "auto":
        env.update(
            OTEL_SERVICE_NAME="wikiroam",
            OTEL_TRACES_EXPORTER="console",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            # Only what the api would need: gRPC comes with the Pulumi SDK here, not with a Lambda.
            OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="grpc_client,grpc_server,grpc_aio_client,grpc_aio_server",
        )
    else:
        env.pop("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, variant], env=env, cwd=path, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare_dir = Path(tmp)
        revision = bare_functions(bare_dir)
        paths = {"bare": bare_dir, "telemetry": ROOT, "auto": bare_dir}
        results: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
        for i in range(args.runs):
            for name, path in paths.items():
                print(f"\rP1 run {i + 1}/{args.runs}: {name:<10}", end="", file=sys.stderr, flush=True)
                results[name].append(run(name, path))
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name]) * 1000

    def median_total(name: str) -> float:
        return statistics.median((r["init"] + r["build"]) for r in results[name]) * 1000

    bare_init, bare_total = median("bare", "init"), median_total("bare")
    print(
        f"P1 init of the api function, CPU ms, median of {args.runs} fresh interpreters "
        f"(bare = functions/ at {revision})"
    )
    print(f"{'variant':<28}{'import+setup ms':>16}{'x bare':>8}{'+ build ms':>12}{'x bare':>8}")
    for name, label in (("bare", "bare"), ("telemetry", "WikiRoam telemetry"), ("auto", "OTel auto-instrumentation")):
        init, total = median(name, "init"), median_total(name)
        print(f"{label:<28}{init:>16.1f}{init / bare_init:>8.2f}{total:>12.1f}{total / bare_total:>8.2f}")
    added_ours = median("telemetry", "init") - bare_init
    added_auto = median("auto", "init") - bare_init
    added_ours_total = median_total("telemetry") - bare_total
    added_auto_total = median_total("auto") - bare_total
    print(
        f"added init: ours {added_ours:.1f} ms, auto-instrumentation {added_auto:.1f} ms "
        f"-> {added_auto / added_ours if added_ours > 0 else float('inf'):.1f}x less "
        f"(with build: {added_ours_total:.1f} vs {added_auto_total:.1f} ms, "
        f"{added_auto_total / added_ours_total if added_ours_total > 0 else float('inf'):.1f}x less)"
    )
    print(
        "wall-clock medians, import+setup ms: "
        + ", ".join(f"{n} {statistics.median(r['init_wall'] for r in results[n]) * 1000:.0f}" for n in results)
    )
    print(f"first flush (lazy import of the protobuf encoder): {median('telemetry', 'flush'):.1f} ms, once per sandbox")
    print("targets: import+setup <= 1.10x bare; added init >= 10x less than auto-instrumentation")


if __name__ == "__main__":
    main()
