"""P3: CloudWatch Logs bytes per span over a real ETL trace, on the local stack.

One search ("rivers": River, The Burning Rivers and Earth with 640 backlinks) runs through the whole pipeline;
once it is idle, every function log group's span lines (`OTLPv1 ...`, the lines the subscription ships) are
read back from moto's CloudWatch Logs and decoded with the shipper's code, and their bytes are set against the
spans they carry. The state machine's log group is counted apart: its events are Step Functions' own (level ALL
with execution data, the shipper's input for the execution and state spans), so its bytes per state span are
what tracing the states costs in CloudWatch, not what our encoding costs.

CloudWatch bills ingestion on each event's bytes plus 26 bytes of metadata: both figures are printed.

    .venv/bin/python -m bench.trace_bytes [--term rivers]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass

import requests

from bench.local_stack import progress
from functions import shipping, telemetry
from local.stack import LocalStack, StackOptions
from wikiroam_cli.trace import discover_log_groups

TARGET_BYTES_PER_SPAN = 200
# CloudWatch Logs counts each event's UTF-8 bytes plus 26 bytes of metadata towards ingestion.
EVENT_OVERHEAD_BYTES = 26


@dataclass
class GroupBytes:
    """What one log group holds of the trace: events, their bytes, and the spans they carry."""

    role: str
    events: int = 0
    bytes: int = 0
    spans: int = 0

    @property
    def per_span(self) -> float:
        return self.bytes / self.spans if self.spans else float("nan")

    @property
    def billed_per_span(self) -> float:
        return (self.bytes + EVENT_OVERHEAD_BYTES * self.events) / self.spans if self.spans else float("nan")


def role(group: str) -> str:
    """`wikiroam-cache-backlinks-logs-b15f16c` -> `cache-backlinks`."""
    return re.sub(r"-logs(-[0-9a-z]+)?$", "", group.removeprefix("wikiroam-"))


def read(logs, group: str, pattern: str) -> list[shipping.LogEvent]:
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, filterPattern=pattern)
    return [
        shipping.LogEvent(str(e.get("eventId", "")), int(e["timestamp"]), e["message"])
        for page in pages
        for e in page["events"]
    ]


def measure(stack: LocalStack, term: str) -> tuple[list[GroupBytes], GroupBytes, int]:
    """Run the search, wait for the pipeline, and count each log group's bytes and spans."""
    progress("searching", 0, 3)
    answer = requests.get(f"{stack.url}/api/search", params={"q": term}, timeout=30)
    answer.raise_for_status()
    pageids = [r["pageid"] for r in answer.json()["results"]]
    progress("searching", 1, 3)
    stack.wait_until_cached(pageids, timeout=300)
    progress("searching", 2, 3)
    if not stack.wait_idle(120):
        raise RuntimeError("the pipeline did not go idle within 120 s")
    progress("searching", 3, 3)

    logs = stack.client("logs")
    groups = discover_log_groups(logs)
    functions: list[GroupBytes] = []
    resource = {"service.name": telemetry.SERVICE_NAME}
    total = len(groups.all)
    for done, group in enumerate(groups.functions):
        progress("reading log groups", done, total)
        events = read(logs, group, telemetry.SPAN_FILTER_PATTERN)
        extracted = shipping.extract(shipping.LogBatch(group, "", tuple(events)), resource)
        functions.append(
            GroupBytes(
                role(group),
                events=len(events),
                bytes=sum(len(e.message.encode()) for e in events),
                spans=sum(shipping.count_spans(r) for r in extracted.requests),
            )
        )
    machine = GroupBytes("state machine")
    executions = 0
    for done, group in enumerate(groups.state_machines, start=len(groups.functions)):
        progress("reading log groups", done, total)
        events = read(logs, group, "")
        extracted = shipping.extract(shipping.LogBatch(group, "", tuple(events)), resource)
        spans = list(shipping.iter_spans(extracted.requests))
        executions += sum(s.name == shipping.EXECUTION_SPAN_NAME for s in spans)
        machine.events += len(events)
        machine.bytes += sum(len(e.message.encode()) for e in events)
        machine.spans += sum(s.name != shipping.EXECUTION_SPAN_NAME for s in spans)
    progress("reading log groups", total, total)
    return [g for g in functions if g.events], machine, executions


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--term", default="rivers", help="the search to trace (default: rivers)")
    args = parser.parse_args()

    started = time.perf_counter()
    sys.stderr.write("starting the local stack\n")
    with LocalStack(StackOptions()) as stack:
        functions, machine, executions = measure(stack, args.term)
        traces = [t for t in stack.traces.recent() if t["root_span_name"] == "GET /api/search"]
    sys.stderr.write(f"done in {time.perf_counter() - started:.1f} s\n")

    print()
    print(f"P3: CloudWatch bytes per span, one search for {args.term!r} through the local stack")
    header = f"{'log group':<22}{'lines':>7}{'spans':>7}{'bytes':>10}{'B/span':>9}{'billed B/span':>15}"
    print(header)
    print("-" * len(header))
    for group in sorted(functions, key=lambda g: -g.bytes):
        print(
            f"{group.role:<22}{group.events:>7}{group.spans:>7}{group.bytes:>10}"
            f"{group.per_span:>9.0f}{group.billed_per_span:>15.0f}"
        )
    total = GroupBytes(
        "all functions",
        events=sum(g.events for g in functions),
        bytes=sum(g.bytes for g in functions),
        spans=sum(g.spans for g in functions),
    )
    print("-" * len(header))
    print(
        f"{total.role:<22}{total.events:>7}{total.spans:>7}{total.bytes:>10}"
        f"{total.per_span:>9.0f}{total.billed_per_span:>15.0f}"
    )
    verdict = "met" if total.per_span <= TARGET_BYTES_PER_SPAN else "NOT met"
    print(f"\ntarget <= {TARGET_BYTES_PER_SPAN} B/span for the functions' span lines: {verdict}")
    print()
    print("Step Functions log group (level ALL, execution data included), apart:")
    print(f"{'':<22}{'events':>7}{'states':>7}{'bytes':>10}{'B/state':>9}{'billed B/state':>15}")
    print(
        f"{machine.role:<22}{machine.events:>7}{machine.spans:>7}{machine.bytes:>10}"
        f"{machine.per_span:>9.0f}{machine.billed_per_span:>15.0f}"
    )
    print(f"({executions} executions; their execution spans come from the same events)")
    if traces:
        spans_in_trace = traces[0]["span_count"]
        print(f"\nthe search's trace at the local receiver: {spans_in_trace} spans ({traces[0]['trace_id']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
