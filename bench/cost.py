"""P6: what 1,000 searches cost on AWS, from usage measured on the local stack and the dated price table.

The workload: searches drawn from a Zipf distribution (s = 1) over a few hundred terms of the sample wiki, the
words of its titles ranked by how many articles they name, seeded, sent through the gateway by a few concurrent
readers, on empty tables: early searches cache their pages, later ones mostly find them cached, as real traffic
does. The stack runs the production config (`--stack prod`: 10 reserved per cache step; dev's 2 throttles the
steps into minutes of Retry waits, which is dev's choice, not AWS's bill). When the pipeline is idle, the usage is
read where AWS would bill it:

- Lambda: every function's REPORT lines (invocations, billed duration x memory = GB-seconds);
- Step Functions: the executions themselves (Express requests and duration, each rounded up to 100 ms, at the
  64 MB minimum; and the state transitions, retries included, the same executions would bill on Standard),
  from their history: at level ERROR the state machine's log group says nothing of a successful execution;
- DynamoDB: read and write request units, metered where moto serves them (`bench.dynamodb_meter`);
- SNS: the api's publish spans; HTTP API: the searches sent;
- CloudWatch Logs: every event of every log group of the stack written during the workload (span lines,
  runtime lines, the shipper's, the state machine's), at its bytes plus 26 bytes of metadata;
- spans shipped: the shipper's own `SpansShipped` metric lines; custom metrics: the shipper's EMF metrics and
  the span-based metrics `dashboards/span_metrics/` defines (what Datadog would ingest beside the spans).

Counts are measured. Durations are modelled from the measured ones: the local AWS (moto, one process on a
shared machine) takes tens to hundreds of milliseconds a call, so each call to it a function's spans record is
counted at AWS's latency instead (`AWS_CALL_SECONDS`), the rest of each invocation as measured; an execution's
tasks shrink with their functions, its Retry waits stay as measured. The breakdown prints the local durations'
cost beside. Prices: `bench.prices`.

    .venv/bin/python -m bench.cost [--searches 1000] [--readers 4] [--stack prod]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.dynamodb_meter import metered
from bench.local_stack import forget_cached_pages, progress
from bench.prices import ARCHITECTURE, PRICES, PRICES_AS_OF, REGION
from bench.table import DEFAULT_OUT, ROOT, Row, write_json
from functions import shipping, telemetry
from functions.contract import THROTTLE_ERROR
from local.harness import stack_config
from local.samplewiki import build_corpus
from local.samplewiki.corpus import words
from local.stack import LocalStack, StackOptions
from wikiroam_cli.trace import STATE_MACHINE_GROUP

TARGET_USD_PER_1000 = 0.05
# P6 is "on AWS": the production stack's config (Pulumi.prod.yaml: 10 reserved per cache step), not dev's 2.
STACK = "prod"
TERMS = 300
ZIPF_S = 1.0
EVENT_OVERHEAD_BYTES = 26
EXPRESS_MEMORY_GB = 64 / 1024
_REPORT = re.compile(r"Billed Duration: (\d+) ms\s+Memory Size: (\d+) MB")
_MAX_MEMORY = re.compile(r"Max Memory Used: (\d+) MB")
_INIT = re.compile(r"Init Duration: ([\d.]+) ms")


def terms(count: int = TERMS) -> list[str]:
    """The sample wiki's title words that name the most articles, most first (ties alphabetically)."""
    corpus = build_corpus()
    named = Counter(
        word
        for page in corpus.pages
        if page.redirect_to is None
        for word in set(words(page.title))
        if len(word) >= 4 and word.isalpha()
    )
    return [word for word, _ in sorted(named.items(), key=lambda item: (-item[1], item[0]))][:count]


def workload(searches: int, seed: int = 2017) -> list[str]:
    """`searches` terms drawn from a Zipf distribution over `terms()`."""
    pool = terms()
    weights = [1 / rank**ZIPF_S for rank in range(1, len(pool) + 1)]
    return random.Random(seed).choices(pool, weights=weights, k=searches)  # a workload, not secrets


def _events(logs: Any, group: str, since_ms: int) -> list[dict[str, Any]]:
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=since_ms)
    return [event for page in pages for event in page["events"]]


# The local stack's AWS is moto, in one Python process on a shared 2-core machine: it answers a call in tens to
# hundreds of milliseconds where AWS answers in a few, so a function's local duration is mostly its wait on moto.
# The cost model keeps each invocation's own time as measured and counts each call to an emulated AWS service at
# AWS's latency instead (modelled, not measured): DynamoDB's "single-digit millisecond" at its upper end; for
# SNS Publish and Step Functions StartSyncExecution's own latency AWS documents no figure, so a generous 50 ms (the
# trigger also pays the execution it waits for: `charge_trigger_waits`). The wiki's calls
# stay as measured (the sample wiki on loopback: faster than Wikipedia, see the README's sensitivity).
AWS_CALL_SECONDS = {"DynamoDB": 0.010, "SNS": 0.050, "SFN": 0.050}
_CLIENT_KINDS = (3, 4)  # OTLP SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER
_ROLE = re.compile(r"wikiroam-(.+?)-(?:logs|function)")


def role(name: str) -> str:
    """A function's or log group's role in the stack (`cache-start`), from its Pulumi name."""
    found = _ROLE.search(name)
    return found.group(1) if found else name


def aws_service(span_name: str) -> str | None:
    """The emulated AWS service a client span called (None: not one, e.g. the wiki)."""
    if span_name.startswith("DynamoDB."):
        return "DynamoDB"
    if span_name.startswith("SFN."):
        return "SFN"
    if span_name.startswith("publish "):
        return "SNS"
    return None


def _usage_from_logs(stack: LocalStack, since_ms: int) -> dict[str, Any]:
    logs = stack.client("logs")
    names = [
        g["logGroupName"]
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix="wikiroam-")
        for g in page["logGroups"]
    ]
    usage: dict[str, Any] = {
        "log_groups": {},
        "lambda": {},
        "spans_shipped": 0,
        "sns_publishes": 0,
        "emf_metrics": set(),
    }
    for done, group in enumerate(sorted(names)):
        progress("P6 reading logs", done, len(names))
        events = _events(logs, group, since_ms)
        usage["log_groups"][group] = {
            "events": len(events),
            "bytes": sum(len(e["message"].encode()) for e in events),
        }
        if STATE_MACHINE_GROUP.search(group):
            continue
        reports = [m for m in (_REPORT.search(e["message"]) for e in events) if m]
        memory = [int(m.group(1)) for m in (_MAX_MEMORY.search(e["message"]) for e in events) if m]
        inits = [float(m.group(1)) for m in (_INIT.search(e["message"]) for e in events) if m]
        billed_seconds = sum(int(m.group(1)) / 1000 for m in reports)
        memory_gb = int(reports[0].group(2)) / 1024 if reports else 0.0
        calls = _aws_calls(group, events)
        usage["lambda"][group] = {
            "invocations": len(reports),
            "billed_seconds": billed_seconds,
            "gb_seconds": sum(int(ms) / 1000 * int(mb) / 1024 for ms, mb in (m.groups() for m in reports)),
            "aws_calls": calls,
            "modelled_seconds": modelled_seconds(billed_seconds, calls),
            "modelled_gb_seconds": modelled_seconds(billed_seconds, calls) * memory_gb,
            # What fitting each function's memory size rests on: its peak use and its cold starts.
            "memory_size_mb": int(reports[0].group(2)) if reports else None,
            "max_memory_used_mb": max(memory, default=None),
            "init_ms_median": sorted(inits)[len(inits) // 2] if inits else None,
            "billed_ms_median": sorted(int(m.group(1)) for m in reports)[len(reports) // 2] if reports else None,
        }
        for event in events:
            message = event["message"]
            if message.startswith("{") and '"_aws"' in message:
                emf = json.loads(message)
                usage["spans_shipped"] += int(emf.get("SpansShipped", 0))
                for directive in emf["_aws"]["CloudWatchMetrics"]:
                    usage["emf_metrics"] |= {(directive["Namespace"], m["Name"]) for m in directive["Metrics"]}
        usage["sns_publishes"] += calls.get("SNS", {}).get("count", 0)
    progress("P6 reading logs", len(names), len(names))
    usage["emf_metrics"] = sorted(f"{ns}/{name}" for ns, name in usage["emf_metrics"])
    return usage


def _aws_calls(group: str, events: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per emulated AWS service, the calls a function's span lines record and the seconds they took."""
    lines = [e for e in events if telemetry.SPAN_MARKER in e["message"]]
    if not lines:
        return {}
    batch = shipping.LogBatch(group, "", tuple(shipping.LogEvent("", e["timestamp"], e["message"]) for e in lines))
    extracted = shipping.extract(batch, {"service.name": telemetry.SERVICE_NAME})
    calls: dict[str, dict[str, float]] = {}
    for span in shipping.iter_spans(extracted.requests):
        service = aws_service(span.name)
        if service is None or span.kind not in _CLIENT_KINDS:
            continue
        line = calls.setdefault(service, {"count": 0, "seconds": 0.0})
        line["count"] += 1
        line["seconds"] += max(0, span.end_time_unix_nano - span.start_time_unix_nano) / 1e9
    return calls


def modelled_seconds(measured: float, calls: dict[str, dict[str, float]]) -> float:
    """A function's billed seconds with its calls to the emulated AWS counted at AWS's latency instead."""
    own = max(measured - sum(c["seconds"] for c in calls.values()), 0.0)
    return own + sum(c["count"] * AWS_CALL_SECONDS[service] for service, c in calls.items())


def charge_trigger_waits(usage: dict[str, Any]) -> None:
    """The trigger waits for every execution it runs (StartSyncExecution) and is billed while it waits: its modelled
    time counts each execution's modelled duration on top of the call's own latency, not the call alone."""
    for group, function in usage["lambda"].items():
        if role(group) != "cache-trigger" or not function["aws_calls"].get("SFN"):
            continue
        function["modelled_seconds"] += usage["express_modelled_seconds"]
        function["modelled_gb_seconds"] = function["modelled_seconds"] * (function["memory_size_mb"] or 0) / 1024


def _usage_from_executions(stack: LocalStack, since_ms: int, lambda_usage: dict[str, Any]) -> dict[str, Any]:
    """Express requests and billed duration, and Standard's transitions, from the executions themselves.

    Read from Step Functions (moto keeps every execution's history), not from the state machine's log group,
    which at level ERROR holds no event for a successful execution. Billed duration: each execution's, rounded
    up to 100 ms (AWS's rule), at 64 MB (50 MB plus a definition and payloads of a few KB). Modelled: each task's
    time scaled by its function's modelled over measured seconds; Retry waits and the rest kept as measured.
    """
    sfn = stack.client("stepfunctions")
    arn = stack.outputs["stateMachineArn"]
    since = since_ms / 1000
    executions = [
        e
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
        for e in page["executions"]
        if e["startDate"].timestamp() >= since and e.get("stopDate") is not None
    ]
    ratio = {
        role(group): (f["modelled_seconds"] / f["billed_seconds"]) if f["billed_seconds"] else 1.0
        for group, f in lambda_usage.items()
    }
    usage: dict[str, Any] = {
        "executions": len(executions),
        "express_billed_seconds": 0.0,
        "express_modelled_billed_seconds": 0.0,
        "express_modelled_seconds": 0.0,
        "state_transitions": 0,
        "task_attempts_throttled": 0,
    }

    def history(execution: dict[str, Any]) -> list[dict[str, Any]]:
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution["executionArn"])
        return [event for page in pages for event in page["events"]]

    with ThreadPoolExecutor(4) as pool:
        for done, (execution, events) in enumerate(zip(executions, pool.map(history, executions), strict=True)):
            if done % 50 == 0:
                progress("P6 reading executions", done, len(executions))
            seconds = (execution["stopDate"] - execution["startDate"]).total_seconds()
            saved = 0.0
            scheduled: dict[int, tuple[str, float]] = {}
            entered_tasks = scheduled_tasks = 0
            for event in events:
                kind = event["type"]
                if kind.endswith("StateEntered"):
                    usage["state_transitions"] += 1
                    entered_tasks += kind == "TaskStateEntered"
                elif kind == "TaskScheduled":
                    scheduled_tasks += 1
                    parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
                    scheduled[event["id"]] = (role(str(parameters.get("FunctionName", ""))), _ts(event))
                elif kind in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
                    started = scheduled.pop(event.get("previousEventId", -1), None) or _latest(scheduled)
                    if started is not None:
                        function, at = started
                        saved += max(_ts(event) - at, 0.0) * (1 - ratio.get(function, 1.0))
                    failed = event.get("taskFailedEventDetails", {})
                    usage["task_attempts_throttled"] += failed.get("error") == THROTTLE_ERROR
            # Standard bills each retry as a transition too: a task scheduled again inside one state entry.
            usage["state_transitions"] += max(scheduled_tasks - entered_tasks, 0)
            usage["express_billed_seconds"] += _billed(seconds)
            usage["express_modelled_billed_seconds"] += _billed(seconds - saved)
            usage["express_modelled_seconds"] += max(seconds - saved, 0.0)
    progress("P6 reading executions", len(executions), len(executions))
    return usage


def _ts(event: dict[str, Any]) -> float:
    return float(event["timestamp"].timestamp())


def _latest(scheduled: dict[int, tuple[str, float]]) -> tuple[str, float] | None:
    if not scheduled:
        return None
    return scheduled.pop(max(scheduled))


def _billed(seconds: float) -> float:
    """Express's billed duration: rounded up to the next 100 ms."""
    return math.ceil(max(seconds, 0.001) * 10 - 1e-9) / 10


def span_metric_count() -> int:
    """The span-based metrics the monitoring defines (each a custom metric in Datadog)."""
    return len(list((ROOT / "dashboards" / "span_metrics").glob("*.json")))


def measure(stack: LocalStack, searches: int, readers: int = 4, seed: int = 2017) -> dict[str, Any]:
    """Run the workload on empty tables and read back what it used."""
    forget_cached_pages(stack)
    if not stack.wait_idle(120):
        raise RuntimeError("the pipeline was busy before the workload")
    queries = workload(searches, seed)
    since_ms = int(time.time() * 1000)
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    with metered() as dynamodb, requests.Session() as session, ThreadPoolExecutor(readers) as pool:
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=readers))

        def search(term: str) -> int:
            return session.get(f"{stack.url}/api/search", params={"q": term}, timeout=60).status_code

        for done, status in enumerate(pool.map(search, queries), start=1):
            statuses[status] += 1
            if done % 10 == 0 or done == searches:
                progress("P6 searches", done, searches)
        progress("P6 pipeline idle", 0, 1)
        if not stack.wait_idle(900):
            raise RuntimeError("the pipeline did not go idle within 15 minutes")
        # The last executions' log events reach the shipper asynchronously: wait for its deliveries too.
        time.sleep(1.0)
        stack.wait_idle(120)
        progress("P6 pipeline idle", 1, 1)
    seconds = time.perf_counter() - started
    usage = _usage_from_logs(stack, since_ms)
    usage.update(_usage_from_executions(stack, since_ms, usage["lambda"]))
    charge_trigger_waits(usage)
    usage["dynamodb"] = dynamodb.as_dict()
    usage["dynamodb_write_units"] = dynamodb.total_write_units()
    usage["dynamodb_read_units"] = dynamodb.total_read_units()
    usage["http_api_requests"] = searches
    config = stack_config(stack.options.stack)
    return {
        "searches": searches,
        "readers": readers,
        "stack": stack.options.stack,
        "cache_concurrency": int(config["wikiroam:cacheConcurrency"]),
        "aws_call_seconds": AWS_CALL_SECONDS,
        "seed": seed,
        "distinct_terms": len(set(queries)),
        "statuses": dict(statuses),
        "seconds": seconds,
        "usage": usage,
        "costs": costs(usage, searches),
        "costs_as_measured": costs(usage, searches, durations="measured"),
        "datadog": {
            "spans_per_1000": usage["spans_shipped"] * 1000 / searches,
            "custom_metrics": len(usage["emf_metrics"]) + span_metric_count(),
            "emf_metrics": usage["emf_metrics"],
            "span_based_metrics": span_metric_count(),
        },
    }


def costs(usage: dict[str, Any], searches: int, durations: str = "modelled") -> dict[str, dict[str, float]]:
    """Per 1,000 searches: each priced quantity and its USD, plus Standard's for the same executions.

    `durations`: "modelled" (the P6 figure: calls to the emulated AWS at AWS's latency) or "measured" (the local
    stack's durations as they are).
    """
    scale = 1000 / searches
    modelled = durations == "modelled"
    log_bytes = sum(g["bytes"] + EVENT_OVERHEAD_BYTES * g["events"] for g in usage["log_groups"].values())
    quantities = {
        "lambda_requests": sum(f["invocations"] for f in usage["lambda"].values()),
        "lambda_gb_seconds": sum(
            f["modelled_gb_seconds" if modelled else "gb_seconds"] for f in usage["lambda"].values()
        ),
        "http_api_requests": usage["http_api_requests"],
        "sns_publishes": usage["sns_publishes"],
        "express_requests": usage["executions"],
        "express_gb_seconds": usage["express_modelled_billed_seconds" if modelled else "express_billed_seconds"]
        * EXPRESS_MEMORY_GB,
        "dynamodb_write_units": usage["dynamodb_write_units"],
        "dynamodb_read_units": usage["dynamodb_read_units"],
        "logs_ingested_gb": log_bytes / 1e9,
    }
    lines = {
        name: {"quantity": quantity * scale, "usd": PRICES[name].cost(quantity * scale)}
        for name, quantity in quantities.items()
    }
    transitions = usage["state_transitions"] * scale
    lines["standard_transitions (instead of Express)"] = {
        "quantity": transitions,
        "usd": PRICES["standard_transitions"].cost(transitions),
    }
    return lines


def total_usd(results: dict[str, Any], key: str = "costs") -> float:
    """The AWS cost of 1,000 searches (Express, as deployed); `key="costs_as_measured"` for local durations."""
    return float(sum(line["usd"] for name, line in results[key].items() if not name.startswith("standard")))


def workload_line(results: dict[str, Any]) -> str:
    """What was measured, on which stack config."""
    return (
        f"{results['searches']} searches of {results['distinct_terms']} terms by {results['readers']} readers at once, "
        f"stack {results['stack']} ({results['cache_concurrency']} reserved per cache step)"
    )


def row(results: dict[str, Any]) -> Row:
    """The P6 line of the table."""
    total = total_usd(results)
    express = sum(results["costs"][n]["usd"] for n in ("express_requests", "express_gb_seconds"))
    standard = results["costs"]["standard_transitions (instead of Express)"]["usd"]
    datadog = results["datadog"]
    return Row(
        id="P6",
        measure=(
            f"AWS cost per 1,000 searches (Zipf workload, {results['searches']} measured, "
            f"{results['readers']} readers, stack {results['stack']})"
        ),
        ours=f"${total:.4f}",
        comparison=(
            f"local durations ${total_usd(results, 'costs_as_measured'):.4f}; "
            f"on Standard ${total - express + standard:.4f}; Datadog: {datadog['spans_per_1000']:.0f} spans, "
            f"{datadog['custom_metrics']} custom metrics"
        ),
        ratio=f"{(total - express + standard) / total:.2f}x" if total else "-",
        target=f"<= ${TARGET_USD_PER_1000:.2f}",
        met=total <= TARGET_USD_PER_1000,
    )


def report(results: dict[str, Any]) -> str:
    """The breakdown."""
    lines = [
        f"P6: cost per 1,000 searches ({workload_line(results)}; {results['seconds']:.0f} s; "
        f"answers {results['statuses']})",
        f"prices: {REGION}, {ARCHITECTURE}, as of {PRICES_AS_OF} (bench/prices.py); durations modelled: calls to "
        "the emulated AWS at "
        + ", ".join(f"{service} {seconds * 1000:.0f} ms" for service, seconds in results["aws_call_seconds"].items())
        + " (local: the measured column)",
        f"{'item':<44}{'per 1,000 searches':>20}{'USD':>12}{'local durations':>17}",
    ]
    measured = results["costs_as_measured"]
    for name, line in sorted(results["costs"].items(), key=lambda item: -item[1]["usd"]):
        label = PRICES[name].unit if name in PRICES else "Standard state transitions (instead of Express)"
        lines.append(f"{label[:43]:<44}{line['quantity']:>20,.3f}{line['usd']:>12.5f}{measured[name]['usd']:>17.5f}")
    lines.append(
        f"{'total (Express, as deployed)':<44}{'':>20}{total_usd(results):>12.5f}"
        f"{total_usd(results, 'costs_as_measured'):>17.5f}"
    )
    usage = results["usage"]
    lines.append(f"{'function':<22}{'invocations':>12}{'GB-s local':>12}{'GB-s model':>12}  AWS calls (local s)")
    for group, function in sorted(usage["lambda"].items()):
        if not function["invocations"]:
            continue
        calls = ", ".join(f"{n} {c['count']:.0f} ({c['seconds']:.0f} s)" for n, c in function["aws_calls"].items())
        lines.append(
            f"{role(group):<22}{function['invocations']:>12}{function['gb_seconds']:>12.1f}"
            f"{function['modelled_gb_seconds']:>12.1f}  {calls}"
        )
    lines.append(
        f"executions: {usage['executions']}, billed {usage['express_billed_seconds']:.0f} s local, "
        f"{usage['express_modelled_billed_seconds']:.0f} s modelled; "
        f"{usage['task_attempts_throttled']} task attempts throttled"
    )
    datadog = results["datadog"]
    lines.append(
        f"Datadog ingestion: {datadog['spans_per_1000']:.0f} spans per 1,000 searches; "
        f"{datadog['custom_metrics']} custom metrics ({len(datadog['emf_metrics'])} EMF, "
        f"{datadog['span_based_metrics']} span-based)"
    )
    return "\n".join(lines)


def picture(results: dict[str, Any], path: Path) -> Path:
    """The breakdown as horizontal bars, most expensive first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(
        ((PRICES[n].unit if n in PRICES else n, c["usd"]) for n, c in results["costs"].items() if n in PRICES),
        key=lambda item: item[1],
    )
    figure, axes = plt.subplots(figsize=(8, 0.4 * len(items) + 1.2))
    axes.barh([label for label, _ in items], [usd for _, usd in items], color="#4c72b0")
    for index, (_, usd) in enumerate(items):
        axes.text(usd, index, f" ${usd:.4f}", va="center", fontsize=8)
    axes.axvline(TARGET_USD_PER_1000, color="#c44e52", linestyle="--", label=f"target total ${TARGET_USD_PER_1000}")
    axes.set_xlabel("USD per 1,000 searches")
    axes.set_title(
        f"P6: ${total_usd(results):.4f} per 1,000 searches\n"
        f"({workload_line(results)}; {REGION} {ARCHITECTURE}, {PRICES_AS_OF})",
        fontsize=9,
    )
    axes.set_xlim(0, max([usd for _, usd in items] + [TARGET_USD_PER_1000]) * 1.25)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main() -> int:
    """Measure on a fresh local stack, print the breakdown, write the JSON and the picture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--stack", default=STACK, help="the Pulumi stack whose config the local stack deploys")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with LocalStack(StackOptions(stack=args.stack)) as stack:
        results = measure(stack, args.searches, args.readers)
    print(report(results))
    write_json(args.out, "P6-cost", results, quick=False)
    print(f"picture: {picture(results, args.out / 'P6-cost.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
