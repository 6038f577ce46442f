"""P3: CloudWatch Logs bytes per span over a real search's trace, all-in; P4: the backlinks step's requests.

P3. One search ("rivers": River, The Burning Rivers and Earth with 640 backlinks) runs through the whole
pipeline on the local stack; once it is idle, every function log group's span lines (`OTLPv1 ...`, the lines
the subscription ships) are read back from moto's CloudWatch Logs and decoded with the shipper's code, and so
are the state machine's execution events (level ERROR unless `wikiroam:stateMachineLogLevel` says ALL, without
execution data unless the stack turns it on), which the shipper turns into spans of failed attempts (and, at
level ALL, of the Choice and Succeed states); the steps write the task states' and executions' spans in their
own lines. All-in is both groups' bytes over every span they carry. CloudWatch bills ingestion on each event's
bytes plus 26 bytes of metadata: both figures are printed.

P4. The same search's backlinks step, per 1,000 backlinks cached: its wiki requests and DynamoDB write requests
(counted from its own spans) and the write request units they cost (metered where moto serves them, see
`bench.dynamodb_meter`), against one PutItem per link.

    .venv/bin/python -m bench.trace_bytes [--term rivers]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from bench.dynamodb_meter import DynamoDbUsage, metered, one_put_per_link_units
from bench.local_stack import forget_cached_pages, progress
from bench.table import DEFAULT_OUT, Row, write_json
from functions import shipping, telemetry
from functions.store import LinkStore, PageStore
from local.stack import LocalStack, StackOptions
from wikiroam_cli.trace import discover_log_groups

TARGET_BYTES_PER_SPAN = 250
# P4, per 1,000 backlinks cached.
TARGET_WIKI_REQUESTS = 2
TARGET_WRITE_REQUESTS = 41
TARGET_WRITE_UNITS = 100
WRITE_METHODS = ("BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")
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


def _attributes(span: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for kv in span.attributes:
        value = kv.value
        values[kv.key] = getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None
    return values


def _spans(requests_: Iterable[Any]) -> list[Any]:
    return list(shipping.iter_spans(requests_))


def measure(stack: LocalStack, term: str) -> dict[str, Any]:
    """Run the search on empty tables, wait for the pipeline, and count each log group's bytes and spans."""
    forget_cached_pages(stack)
    progress("P3 searching", 0, 3)
    with metered() as usage:
        answer = requests.get(f"{stack.url}/api/search", params={"q": term}, timeout=60)
        answer.raise_for_status()
        pageids = [r["pageid"] for r in answer.json()["results"]]
        progress("P3 searching", 1, 3)
        stack.wait_until_cached(pageids, timeout=300)
        progress("P3 searching", 2, 3)
        if not stack.wait_idle(120):
            raise RuntimeError("the pipeline did not go idle within 120 s")
    progress("P3 searching", 3, 3)

    logs = stack.client("logs")
    groups = discover_log_groups(logs)
    functions: list[GroupBytes] = []
    executions = 0
    backlinks_spans: list[Any] = []
    resource = {"service.name": telemetry.SERVICE_NAME}
    total = len(groups.all)
    for done, group in enumerate(groups.functions):
        progress("P3 reading logs", done, total)
        events = read(logs, group, telemetry.SPAN_FILTER_PATTERN)
        extracted = shipping.extract(shipping.LogBatch(group, "", tuple(events)), resource)
        spans = _spans(extracted.requests)
        executions += sum(s.name == shipping.EXECUTION_SPAN_NAME for s in spans)
        functions.append(
            GroupBytes(
                role(group), events=len(events), bytes=sum(len(e.message.encode()) for e in events), spans=len(spans)
            )
        )
        if role(group) == "cache-backlinks":
            backlinks_spans = spans
    machine = GroupBytes("state machine")
    machine_events: dict[str, int] = {}
    for done, group in enumerate(groups.state_machines, start=len(groups.functions)):
        progress("P3 reading logs", done, total)
        events = read(logs, group, "")
        extracted = shipping.extract(shipping.LogBatch(group, "", tuple(events)), resource)
        spans = _spans(extracted.requests)
        executions += sum(s.name == shipping.EXECUTION_SPAN_NAME for s in spans)
        for event in events:
            parsed = shipping.parse_state_machine_event(event.message)
            kind = parsed.type if parsed is not None else "other"
            machine_events[kind] = machine_events.get(kind, 0) + 1
        machine.events += len(events)
        machine.bytes += sum(len(e.message.encode()) for e in events)
        machine.spans += len(spans)
    progress("P3 reading logs", total, total)
    functions = [g for g in functions if g.events]
    traces = [t for t in stack.traces.recent() if t["root_span_name"] == "GET /api/search"]
    return {
        "term": term,
        "pages": len(pageids),
        "functions": [asdict(g) for g in functions],
        "state_machine": asdict(machine),
        "state_machine_events": machine_events,
        "executions": executions,
        "trace_span_count_at_receiver": traces[0]["span_count"] if traces else None,
        "backlinks_step": backlinks_step(backlinks_spans, usage, stack, pageids),
    }


def one_put_per_link(stack: LocalStack, links_table: str, pageids: list[int]) -> dict[str, int]:
    """What the same search's links cost written one item per link with a fromid index, as before packing."""
    store = LinkStore(stack.client("dynamodb"), links_table)
    pages = PageStore(stack.client("dynamodb"), stack.outputs["pagesTableName"]).get_many(pageids)
    links = []
    for pageid in pageids:
        cursor: str | None = None
        title = pages[pageid].title if pageid in pages else ""
        while True:
            page, cursor = store.backlinks(pageid, cursor=cursor, limit=200)
            links.extend((link.fromid, link.from_title, pageid, title) for link in page)
            if cursor is None:
                break
    writes, units = one_put_per_link_units(links)
    return {"writes": writes, "write_units": units}


def backlinks_step(spans: list[Any], usage: DynamoDbUsage, stack: LocalStack, pageids: list[int]) -> dict[str, Any]:
    """P4's counts: the backlinks step's wiki and DynamoDB write requests, and the write units they cost."""
    links_table, pages_table = stack.outputs["linksTableName"], stack.outputs["pagesTableName"]
    written = wiki = 0
    writes: dict[str, int] = {}
    pages_updates = 0
    for span in spans:
        values = _attributes(span)
        if values.get("operation.name") == telemetry.STEP_OPERATION:
            written += int(values.get("wikiroam.backlinks.written") or 0)
        elif values.get("operation.name") == telemetry.WIKI_OPERATION or values.get("http.request.method"):
            wiki += 1
        elif values.get("rpc.service") == "DynamoDB" and values.get("rpc.method") in WRITE_METHODS:
            method = str(values["rpc.method"])
            writes[method] = writes.get(method, 0) + 1
            tables = values.get("aws.dynamodb.table_names")
            names = [v.string_value for v in tables.values] if hasattr(tables, "values") else [str(tables)]
            pages_updates += pages_table in names and method != "BatchWriteItem"
    pages_writes = usage.writes.get(pages_table, 0)
    pages_units_each = usage.write_units.get(pages_table, 0) / pages_writes if pages_writes else 0.0
    units = usage.write_units.get(links_table, 0) + pages_updates * pages_units_each
    return {
        "backlinks_written": written,
        "wiki_requests": wiki,
        "write_requests": writes,
        "write_units": units,
        "links_items_written": usage.writes.get(links_table, 0),
        "links_write_units": usage.write_units.get(links_table, 0),
        "one_put_per_link": one_put_per_link(stack, links_table, pageids),
        "dynamodb": usage.as_dict(),
    }


def all_in(results: dict[str, Any]) -> dict[str, float]:
    """Bytes per span of the function lines, of the state machine's events, and of both."""
    f_bytes = sum(g["bytes"] for g in results["functions"])
    f_events = sum(g["events"] for g in results["functions"])
    f_spans = sum(g["spans"] for g in results["functions"])
    m = results["state_machine"]
    spans = f_spans + m["spans"]
    return {
        "functions_per_span": f_bytes / f_spans,
        "machine_per_span": m["bytes"] / m["spans"] if m["spans"] else float("nan"),
        "all_in_per_span": (f_bytes + m["bytes"]) / spans,
        "all_in_billed_per_span": (f_bytes + m["bytes"] + EVENT_OVERHEAD_BYTES * (f_events + m["events"])) / spans,
        "spans": spans,
    }


def row(results: dict[str, Any]) -> Row:
    """The P3 line of the table."""
    a = all_in(results)
    machine = results["state_machine"]
    return Row(
        id="P3",
        measure=f"CloudWatch bytes per span, all-in ({a['spans']:.0f}-span search trace)",
        ours=f"{a['all_in_per_span']:.0f} B/span ({a['all_in_billed_per_span']:.0f} billed)",
        comparison=(
            f"span lines {a['functions_per_span']:.0f} B/span; state machine {machine['events']} events, "
            f"{machine['bytes']} B"
        ),
        ratio=f"{a['machine_per_span'] / a['functions_per_span']:.1f}x" if machine["spans"] else "-",
        target=f"<= {TARGET_BYTES_PER_SPAN} B/span all-in",
        met=a["all_in_per_span"] <= TARGET_BYTES_PER_SPAN,
    )


def backlinks_row(results: dict[str, Any]) -> Row:
    """The P4 line of the table: per 1,000 backlinks cached."""
    step = results["backlinks_step"]
    per = 1000 / step["backlinks_written"] if step["backlinks_written"] else float("nan")
    wiki = step["wiki_requests"] * per
    writes = sum(step["write_requests"].values()) * per
    units = step["write_units"] * per
    # Measured on the same links: one item per link with a fromid index (what packing replaced).
    naive_units = step["one_put_per_link"]["write_units"] * per
    return Row(
        id="P4",
        measure="per 1,000 backlinks cached: wiki requests, DynamoDB write requests, write units",
        ours=f"{wiki:.1f} wiki, {writes:.1f} writes, {units:.0f} WRU",
        comparison=f"one put per link: 1000 writes, {naive_units:.0f} WRU",
        ratio=f"{1000 / writes:.1f}x fewer writes, {naive_units / units:.2f}x WRU" if writes and units else "-",
        target=f"<= {TARGET_WIKI_REQUESTS} wiki, <= {TARGET_WRITE_REQUESTS} writes, <= {TARGET_WRITE_UNITS} WRU",
        met=wiki <= TARGET_WIKI_REQUESTS and writes <= TARGET_WRITE_REQUESTS and units <= TARGET_WRITE_UNITS,
    )


def report(results: dict[str, Any]) -> str:
    """The detail tables."""
    lines = [f"P3: CloudWatch bytes per span, one search for {results['term']!r} through the local stack"]
    header = f"{'log group':<22}{'events':>7}{'spans':>7}{'bytes':>10}{'B/span':>9}{'billed B/span':>15}"
    lines += [header, "-" * len(header)]
    groups = [GroupBytes(**g) for g in results["functions"]] + [GroupBytes(**results["state_machine"])]
    for group in sorted(groups, key=lambda g: -g.bytes):
        lines.append(
            f"{group.role:<22}{group.events:>7}{group.spans:>7}{group.bytes:>10}"
            f"{group.per_span:>9.0f}{group.billed_per_span:>15.0f}"
        )
    a = all_in(results)
    total_bytes = sum(g.bytes for g in groups)
    lines.append("-" * len(header))
    lines.append(
        f"{'all-in':<22}{sum(g.events for g in groups):>7}{a['spans']:>7.0f}{total_bytes:>10}"
        f"{a['all_in_per_span']:>9.0f}{a['all_in_billed_per_span']:>15.0f}"
    )
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(results.get("state_machine_events", {}).items()))
    lines.append(
        f"({results['executions']} executions; the state machine's events: {kinds or 'none'}; "
        f"the trace at the local receiver has {results['trace_span_count_at_receiver']} spans)"
    )
    step = results["backlinks_step"]
    lines.append(
        f"\nP4: the backlinks step cached {step['backlinks_written']} backlinks with {step['wiki_requests']} wiki "
        f"requests, DynamoDB writes {step['write_requests']}, {step['write_units']:.0f} WRU "
        f"({step['links_items_written']} link items, {step['links_write_units']} WRU on the links table)"
    )
    return "\n".join(lines)


def main() -> int:
    """Measure on a fresh local stack and print the detail."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--term", default="rivers", help="the search to trace (default: rivers)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    started = time.perf_counter()
    sys.stderr.write("starting the local stack\n")
    with LocalStack(StackOptions()) as stack:
        results = measure(stack, args.term)
    sys.stderr.write(f"done in {time.perf_counter() - started:.1f} s\n")
    print(report(results))
    write_json(args.out, "P3-P4-trace-bytes", results, quick=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
