"""`make bench`: every benchmark in one run, then one table of our figures against what they are compared with.

    .venv/bin/python -m bench [--quick] [--only P1,P3] [--out test-artifacts/bench]

| id | what | module |
|---|---|---|
| P1 | api cold start + first invocation: bare, ours, OpenTelemetry auto-instrumentation | `bench.init` |
| P2 | export cost per span: our span lines vs the SDK's OTLP/HTTP exporter | `bench.export` |
| P3 | CloudWatch bytes per span, all-in, over a real search's trace | `bench.trace_bytes` |
| P4 | per 1,000 backlinks cached: wiki requests, DynamoDB writes and write units | `bench.trace_bytes` |
| P5 | UI requests per typed term, page weight | `bench.ui_requests` |
| P6 | AWS cost per 1,000 searches, with Datadog's ingestion volume | `bench.cost` |
| P7 | local stack: cold start to healthy, search to fully cached, searches at once | `bench.local_stack` |

P3-P5 share one local stack (dev's config, tables emptied between them); P6 starts one with the prod stack's
config, as it prices AWS; P7 starts its own, as `make dev` does. `--quick`
measures fewer runs and searches (under 2 minutes here; the rows say so); a full run takes about 15 minutes.
Each benchmark's raw numbers go to `<out>/<benchmark>.json`, the table to `<out>/table.md`, and the pictures
(P1's cold-start bars, P6's cost breakdown) to `<out>/*.png`. A missed target is a figure, not a failure; a
benchmark that cannot measure is a MISSED row naming the error, and then the exit status is 1.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cost, export, init, local_stack, trace_bytes, ui_requests
from bench.table import DEFAULT_OUT, Row, format_table, machine, write_json
from local.stack import LocalStack, StackOptions

ALL = ("P1", "P2", "P3", "P4", "P5", "P6", "P7")
# P7's searches sent at once, on the local (process) runtime. `python -m bench.local_stack` sends 100 on both
# runtimes; here 10, as caching every result page of a larger burst alone outlasts the full run's 15 minutes.
BURST_SEARCHES = 10


def failed(id_: str, measure: str, error: BaseException) -> Row:
    """The row of a benchmark that could not measure."""
    return Row(id_, measure, f"error: {type(error).__name__}: {error}"[:120], "-", "-", "-", False)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (p95 of 12 runs is the 12th: few runs make the tail the worst run)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def p7_row(results: dict[str, Any]) -> Row:
    """The P7 line of the table."""
    healthy = [s["healthy"] for s in results["cold_starts"]]
    seconds = results["search_seconds"]
    p50 = statistics.median(healthy)
    bursts = {b["runtime"]: b for b in results.get("bursts", [])}
    concurrent = ""
    ratio = "-"
    if "process" in bursts:
        b = bursts["process"]
        cached = f"all cached {b['all_cached_s']:.0f} s" if b["all_cached_s"] is not None else "not all cached"
        redriven = f" ({b['redriven']} redriven)" if b.get("redriven") else ""
        concurrent = (
            f"; {b['searches']} at once: p50 {b['p50_s']:.1f} s, p95 {b['p95_s']:.1f} s, "
            f"{b['errors']} errors, {cached}{redriven}"
        )
        if "in-process" in bursts and b["p50_s"] > 0:
            ratio = f"{bursts['in-process']['p50_s'] / b['p50_s']:.1f}x (in-process/process p50)"
    return Row(
        id="P7",
        measure=f"local stack: cold start to healthy ({len(healthy)} runs); search to fully cached; a burst",
        ours=f"{p50:.1f} s cold start",
        comparison=(
            f"search to cached p50 {statistics.median(seconds):.1f} s, p95 {percentile(seconds, 0.95):.1f} s "
            f"({len(seconds)} searches){concurrent}"
        ),
        ratio=ratio,
        target=f"cold start <= {local_stack.COLD_START_TARGET_SECONDS:.0f} s",
        met=p50 <= local_stack.COLD_START_TARGET_SECONDS,
    )


class Run:
    """Runs the benchmarks asked for, keeps their rows and reports, writes their JSON."""

    def __init__(self, out: Path, *, quick: bool, only: set[str]) -> None:
        self.out, self.quick, self.only = out, quick, only
        self.rows: list[Row] = []
        self.reports: list[str] = []
        self.ok = True

    def wanted(self, *ids: str) -> bool:
        """Whether any of these benchmarks is asked for."""
        return any(i in self.only for i in ids)

    def step(self, ids: tuple[str, ...], measure: str, name: str, body: Callable[[], dict[str, Any]]) -> None:
        """Measure with `body`, keep its rows and report; a failure becomes a MISSED row per id."""
        sys.stderr.write(f"\n== {', '.join(ids)}: {measure}\n")
        started = time.perf_counter()
        try:
            results = body()
        except Exception as error:  # noqa: BLE001 (any failure is reported as the benchmark's row; the rest runs)
            traceback.print_exc()
            self.ok = False
            self.rows += [failed(i, measure, error) for i in ids if i in self.only]
            return
        results["elapsed_seconds"] = time.perf_counter() - started
        write_json(self.out, name, results, quick=self.quick)
        sys.stderr.write(f"   {', '.join(ids)} done in {results['elapsed_seconds']:.0f} s\n")

    def add(self, row: Row, report: str) -> None:
        """Keep a row and its detail."""
        self.rows.append(row)
        self.reports.append(report)


def main() -> int:
    """Run, print every detail and then the table, write the table."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and searches (CI, quick checks)")
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated ids, e.g. P1,P3")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    only = {i.strip().upper() for i in args.only.split(",") if i.strip()}
    run = Run(args.out, quick=args.quick, only=only)
    quick = args.quick
    started = time.perf_counter()
    search_seconds: list[float] = []

    if run.wanted("P1"):

        def p1() -> dict[str, Any]:
            results = init.measure(init.QUICK_RUNS if quick else init.RUNS, sources=not quick)
            init.picture(results, args.out / "P1-init.png")
            run.add(init.row(results), init.report(results))
            return results

        run.step(("P1",), "telemetry cold start", "P1-init", p1)

    if run.wanted("P2"):

        def p2() -> dict[str, Any]:
            results = export.measure(1 if quick else 5, 10 if quick else 50)
            run.add(export.row(results), export.report(results))
            return results

        run.step(("P2",), "export cost per span", "P2-export", p2)

    if run.wanted("P3", "P4", "P5", "P6") or (quick and run.wanted("P7")):
        sys.stderr.write("\nstarting the local stack (P3-P6)\n")
        with LocalStack(StackOptions()) as stack:
            if run.wanted("P3", "P4") or (quick and run.wanted("P7")):

                def p3() -> dict[str, Any]:
                    began = time.perf_counter()
                    results = trace_bytes.measure(stack, "rivers")
                    search_seconds.append(time.perf_counter() - began)
                    results["search_to_cached_seconds"] = search_seconds[-1]
                    if run.wanted("P3"):
                        run.add(trace_bytes.row(results), trace_bytes.report(results))
                    if run.wanted("P4"):
                        run.add(trace_bytes.backlinks_row(results), "")
                    return results

                run.step(("P3", "P4"), "trace bytes, backlinks writes", "P3-P4-trace-bytes", p3)
            if run.wanted("P5"):

                def p5() -> dict[str, Any]:
                    terms = ui_requests.TERMS[:2] if quick else ui_requests.TERMS
                    results = ui_requests.measure(stack.url, terms=terms)
                    run.add(ui_requests.row(results), ui_requests.report(results))
                    return results

                run.step(("P5",), "UI requests and page weight", "P5-ui-requests", p5)
            if run.wanted("P6"):

                def p6() -> dict[str, Any]:
                    # "On AWS": the production stack's config (its reserved concurrency), on a stack of its own.
                    with LocalStack(StackOptions(stack=cost.STACK)) as production:
                        results = cost.measure(production, 10 if quick else 1000)
                    cost.picture(results, args.out / "P6-cost.png")
                    run.add(cost.row(results), cost.report(results))
                    return results

                run.step(("P6",), "cost per 1,000 searches", "P6-cost", p6)

    if run.wanted("P7"):

        def p7() -> dict[str, Any]:
            starts = []
            count = 1 if quick else 3
            for done in range(count):
                local_stack.progress("P7 cold starts", done, count)
                starts.append(local_stack.cold_start())
            local_stack.progress("P7 cold starts", count, count)
            # The quick run times the one search P3 ran on the shared stack instead of starting another stack,
            # and leaves out the burst (each runtime's on a stack of its own).
            seconds = list(search_seconds) if quick else [r[3] for r in local_stack.searches(12)]
            bursts = [] if quick else [local_stack.burst("process", BURST_SEARCHES)]
            results = {"cold_starts": starts, "search_seconds": seconds, "bursts": bursts}
            if not seconds:
                raise RuntimeError("no search was timed (P3 did not run)")
            run.add(p7_row(results), "")
            return results

        run.step(("P7",), "local stack timings", "P7-local-stack", p7)

    elapsed = time.perf_counter() - started
    print()
    for report in run.reports:
        if report:
            print(report)
            print()
    order = {id_: index for index, id_ in enumerate(ALL)}
    rows = sorted(run.rows, key=lambda r: order.get(r.id, 99))
    cpu = machine()
    title = (
        f"WikiRoam benchmarks ({'quick' if quick else 'full'} run, {elapsed / 60:.1f} min, "
        f"{cpu['cpus']} CPUs {cpu['machine']}, Python {cpu['python']})"
    )
    table = format_table(rows)
    print(title)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(f"{title}\n\n{table}\n")
    write_json(args.out, "summary", {"elapsed_seconds": elapsed, "rows": [r.__dict__ for r in rows]}, quick=quick)
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
