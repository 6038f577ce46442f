"""The local stack's timings: cold `make dev` to healthy, and a search until its pages are all cached.

- cold start: `python -m local` in a fresh process, from launch to `GET /api/health` answering 200 (each
  phase read from the lines it prints); target <= 30 s on this machine.
- search to cached: a search through the gateway, until every result page is in the pages table with its
  backlinks complete and the pipeline is idle. Each run searches a term whose pages nobody cached yet, so
  every run does the full work (the tables are emptied between runs): p50 over the runs, with the backlinks
  each run cached.

    .venv/bin/python -m bench.local_stack [--starts 3] [--searches 12]
"""

from __future__ import annotations

import argparse
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

from local.stack import LocalStack, StackOptions

ROOT = Path(__file__).resolve().parents[1]
COLD_START_TARGET_SECONDS = 30.0


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


def cold_start() -> dict[str, float]:
    """Seconds from launching `python -m local` to the first line of each phase and to a healthy API."""
    port = _free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    marks: dict[str, float] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            for phase in ("local AWS (moto)", "deploying", "deployed"):
                if phase in line and phase not in marks:
                    marks[phase] = time.perf_counter() - started
            if line.startswith("WikiRoam is running"):
                break
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        marks["healthy"] = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    return marks


# Heavy searches: "rivers" finds River and Earth (640 backlinks), "music" ten pages of a medium hub.
TERMS = ("rivers", "music", "computing")


def forget_cached_pages(stack: LocalStack) -> None:
    """Empty both tables, so the next search caches everything again."""
    dynamodb = stack.client("dynamodb")
    for table, keys in (
        (stack.outputs["pagesTableName"], ("pageid",)),
        (stack.outputs["linksTableName"], ("toid", "fromid")),
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


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3, help="cold starts to measure (default 3)")
    parser.add_argument("--searches", type=int, default=12, help="searches to measure (default 12, at least 10)")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
