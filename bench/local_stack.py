"""The local stack's timings: cold `make dev` to healthy, a search until its pages are cached, and a burst.

- cold start: `python -m local` in a fresh process, from launch to `GET /api/health` answering 200 (each
  phase read from the lines it prints); target <= 30 s on this machine.
- search to cached: a search through the gateway, until every result page is in the pages table with its
  backlinks complete and the pipeline is idle. Each run searches a term whose pages nobody cached yet, so
  every run does the full work (the tables are emptied between runs): p50 over the runs, with the backlinks
  each run cached.

- burst: N searches sent at once through the gateway (distinct titles of the sample wiki), on the process runtime
  and then on the in-process one in the same run: errors, p50/p95 search latency, time until every result page
  is cached, and the memory of the stack (this process and its sandboxes) at rest and at its peak.

    .venv/bin/python -m bench.local_stack [--starts 3] [--searches 12] [--burst 100]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import requests

from local.stack import LocalStack, StackOptions

ROOT = Path(__file__).resolve().parents[1]
COLD_START_TARGET_SECONDS = 30.0
CACHED = ("complete", "partial")


def progress(label: str, done: int, total: int) -> None:
    """A one-line progress bar on stderr."""
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r{label:<18} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _launch_local(port: int, **output: Any) -> subprocess.Popen[str]:
    """`python -m local` on `port`, in a process of its own, as `make dev` runs it."""
    return subprocess.Popen([sys.executable, "-m", "local", "--port", str(port)], cwd=ROOT, text=True, **output)


def _wait_healthy(process: subprocess.Popen[str], port: int, timeout: float = 120.0) -> None:
    """Until the launched stack answers `GET /api/health` with 200; an error if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"python -m local exited with {process.returncode} before it was healthy")
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"python -m local was not healthy within {timeout:g} s")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, as in `make dev`'s terminal: the stack finishes its work in flight, then stops."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=150)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def local_wikiroam() -> Iterator[str]:
    """`python -m local` in a process of its own, on a free port, until it answers `GET /api/health`; its URL."""
    port = _free_port()
    process = _launch_local(port, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def cold_start() -> dict[str, float]:
    """Seconds from launching `python -m local` to the first line of each phase and to a healthy API."""
    port = _free_port()
    started = time.perf_counter()
    process = _launch_local(port, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    marks: dict[str, float] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            for phase in ("local AWS (moto)", "deploying", "deployed"):
                if phase in line and phase not in marks:
                    marks[phase] = time.perf_counter() - started
            if line.startswith("WikiRoam is running"):
                break
        _wait_healthy(process, port)
        marks["healthy"] = time.perf_counter() - started
    finally:
        _stop(process)
    return marks


# Heavy searches: "rivers" finds River and Earth (640 backlinks), "music" ten pages of a medium hub.
TERMS = ("rivers", "music", "computing")


def forget_cached_pages(stack: LocalStack) -> None:
    """Empty both tables, so the next search caches everything again."""
    dynamodb = stack.client("dynamodb")
    for table, keys in (
        (stack.outputs["pagesTableName"], ("pageid",)),
        (stack.outputs["linksTableName"], ("toid", "lo")),
    ):
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for start in range(0, len(page["Items"]), 25):
                batch = page["Items"][start : start + 25]
                requests_ = [{"DeleteRequest": {"Key": {k: item[k] for k in keys}}} for item in batch]
                dynamodb.batch_write_item(RequestItems={table: requests_})


def searches(count: int) -> list[tuple[str, int, int, float]]:
    """(term, pages, backlinks cached, seconds) for each search, on one local stack."""
    runs = []
    with LocalStack(StackOptions()) as stack:
        terms = [TERMS[i % len(TERMS)] for i in range(count)]
        for done, term in enumerate(terms, start=1):
            forget_cached_pages(stack)
            started = time.perf_counter()
            answer = requests.get(f"{stack.url}/api/search", params={"q": term}, timeout=60).json()
            pageids = [r["pageid"] for r in answer["results"]]
            items = stack.wait_until_cached(pageids, timeout=300)
            stack.wait_idle(120)
            seconds = time.perf_counter() - started
            backlinks = sum(int(item.get("backlinks_count", {}).get("N", 0)) for item in items.values())
            runs.append((term, len(pageids), backlinks, seconds))
            progress("searches", done, len(terms))
    return runs


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and every process below it (Linux /proc), in MB."""
    total = 0.0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            total += sum(_rss_mb(int(child)) for child in children.read_text().split())
    except (OSError, StopIteration):
        return total
    return total


def burst(runtime: Literal["process", "in-process"], count: int, cache_wait: float = 600.0) -> dict[str, Any]:
    """`count` searches at once on a fresh local stack: errors, latencies, caching, memory.

    After the searches, the pipeline is given `cache_wait` seconds to go idle; the result pages it cached by then
    are `cached_by_pipeline`. A burst outruns the cache steps' reserved concurrency, and an execution whose step
    stays throttled past its Retry marks its page failed (`Lambda.TooManyRequestsException`): `wikiroam redrive`
    then re-requests those pages (what `make redrive` does), and `all_cached_s` is the time from the burst until
    every result page is cached, redrive included (None if some never were).
    """
    # Imported here: `python -m bench.local_stack` without a burst needs none of the incident tooling.
    from bench.incident import redrive

    with LocalStack(StackOptions(runtime=runtime)) as stack:
        assert stack.wiki is not None
        titles = [p.title for p in stack.wiki.corpus.pages if not p.is_redirect][:count]
        at_rest = _rss_mb(os.getpid())
        peak = [at_rest]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.5):
                peak.append(_rss_mb(os.getpid()))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        done: list[int] = []

        def search(term: str) -> tuple[float, int | str, list[int]]:
            started = time.perf_counter()
            try:
                answer = requests.get(f"{stack.url}/api/search", params={"q": term}, timeout=300)
            except requests.RequestException as error:
                return time.perf_counter() - started, type(error).__name__, []
            finally:
                done.append(1)
                progress(f"burst {runtime}", len(done), len(titles))
            pageids = [r["pageid"] for r in answer.json().get("results", [])] if answer.status_code == 200 else []
            return time.perf_counter() - started, answer.status_code, pageids

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(titles)) as pool:
            results = list(pool.map(search, titles))
        wanted = sorted({pageid for _, _, pageids in results for pageid in pageids})
        stack.wait_idle(cache_wait)
        by_pipeline = _cached(stack, wanted)
        rounds = redrive(stack) if len(by_pipeline) < len(wanted) else []
        cached = _cached(stack, wanted)
        cached_after = time.perf_counter() - started if len(cached) == len(wanted) else None
        sampling.set()
        sampler.join()
        functions = requests.get(f"{stack.url}/api/local/lambda", timeout=30).json()
    latencies = sorted(seconds for seconds, _, _ in results)
    return {
        "runtime": runtime,
        "searches": len(results),
        "errors": sum(status != 200 for _, status, _ in results),
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[max(0, round(0.95 * len(latencies)) - 1)],
        "pages": len(wanted),
        "cached_by_pipeline": len(by_pipeline),
        "redriven": sum(int(r["requested"]) for r in rounds),
        "pages_cached": len(cached),
        "all_cached_s": cached_after,
        "rss_at_rest_mb": at_rest,
        "rss_peak_mb": max(peak),
        "lambda": functions,
    }


def _cached(stack: LocalStack, pageids: list[int]) -> set[int]:
    """The pages among `pageids` whose caching has finished (`complete` or `partial`)."""
    from bench.incident import page_items

    wanted = set(pageids)
    return {p for p, item in page_items(stack).items() if p in wanted and item.get("backlinks_status") in CACHED}


def _seconds(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "not in wait"


def print_bursts(bursts: list[dict[str, Any]]) -> None:
    """The burst figures, the runtimes side by side."""
    print(f"\n{bursts[0]['searches']} searches at once (sample wiki)")
    header = (
        ("errors", 8),
        ("p50 s", 9),
        ("p95 s", 9),
        ("pages", 7),
        ("by pipeline", 13),
        ("redriven", 10),
        ("all cached s", 14),
        ("RSS rest MB", 13),
    )
    print(f"{'runtime':<12}" + "".join(f"{name:>{width}}" for name, width in header) + f"{'peak MB':>9}")
    for b in bursts:
        print(
            f"{b['runtime']:<12}{b['errors']:>8}{b['p50_s']:>9.2f}{b['p95_s']:>9.2f}{b['pages']:>7}"
            f"{b['cached_by_pipeline']:>13}{b['redriven']:>10}"
            f"{_seconds(b['all_cached_s']):>14}{b['rss_at_rest_mb']:>13.0f}{b['rss_peak_mb']:>9.0f}"
        )
    if len(bursts) == 2 and bursts[0]["p50_s"] > 0:
        print(f"in-process / process, p50 search latency: {bursts[1]['p50_s'] / bursts[0]['p50_s']:.1f}x")


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3, help="cold starts to measure (default 3)")
    parser.add_argument("--searches", type=int, default=12, help="searches to measure (default 12, at least 10)")
    parser.add_argument("--burst", type=int, default=100, help="searches sent at once (default 100; 0 skips it)")
    args = parser.parse_args()

    starts = []
    for done in range(1, args.starts + 1):
        starts.append(cold_start())
        progress("cold starts", done, args.starts)
    runs = searches(max(args.searches, 10))

    print()
    print("Local stack (python -m local, this machine)")
    print(f"{'measure':<44}{'p50':>10}{'min':>10}{'max':>10}")
    for phase in ("local AWS (moto)", "deploying", "deployed", "healthy"):
        values = [s[phase] for s in starts if phase in s]
        label = f"cold start: {phase} (s)"
        print(f"{label:<44}{statistics.median(values):>10.2f}{min(values):>10.2f}{max(values):>10.2f}")
    seconds = [r[3] for r in runs]
    print(
        f"{'search -> all pages + backlinks cached (s)':<44}"
        f"{statistics.median(seconds):>10.2f}{min(seconds):>10.2f}{max(seconds):>10.2f}"
    )
    backlinks = [r[2] for r in runs]
    label = "backlinks cached per search"
    print(f"{label:<44}{statistics.median(backlinks):>10.0f}{min(backlinks):>10}{max(backlinks):>10}")
    pages = [r[1] for r in runs]
    print(f"{'result pages per search':<44}{statistics.median(pages):>10.0f}{min(pages):>10}{max(pages):>10}")
    healthy = statistics.median(s["healthy"] for s in starts)
    verdict = "met" if healthy <= COLD_START_TARGET_SECONDS else "MISSED"
    print(f"\ncold start to healthy: {healthy:.1f} s, target <= {COLD_START_TARGET_SECONDS:.0f} s: {verdict}")
    print(f"search to cached, p50 over {len(runs)} searches: {statistics.median(seconds):.2f} s")
    if args.burst:
        # The in-process runtime runs one step at a time: its pages are given five minutes, then reported as such.
        print_bursts([burst("process", args.burst), burst("in-process", args.burst, cache_wait=300)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
