"""Incident scenarios on the local stack: what WikiRoam survives, and whether the pages (alerts) would come.

- R1, the incident: `dynamodb_write_throttle=0.3,wiki_429=0.2` during N searches (Music, Jazz and Guitar first, the
  Done-when check), faults left on as under `make dev`, then `wikiroam redrive` rounds (in-process, the CLI's own
  functions) until nothing is left to re-request. Target: every execution SUCCEEDED or its page ended
  complete after redrive; every cached page's backlinks, read through `GET /api/pages/{id}/backlinks`, exactly
  the wiki's list; both faults fired; and for each Datadog monitor whose metric the local stack can count, the
  value observed against its threshold (read from `dashboards/monitors/*.json`).
- R2, bad input: the API fuzz suite's strategies (`tests/integration/test_api_fuzz.py`) at full size; garbage
  published to the cache topic; a state machine execution started with a bad input; the shipper invoked with a
  batch that is not one and with a damaged span line. Target: 0 5xx and every answer JSON; the garbage on the DLQ
  after the trigger's retries (a named error) and counted still failing by redrive; the execution FAILED with a
  named error; the shipper's named error and its counted drop.
- R3, load with faults: N concurrent searches with `lambda_timeout@cache=0.05,sns_delivery_failure=0.05` (the
  Lambda fault scoped to the pipeline's functions: the incident is in the pipeline, a reader's own invocation is
  not its subject). Target: 0 errors to readers; every page requested ends executed, deduplicated, or its
  request on the DLQ.
- R4, restart: a stack with `state_dir` stopped while executions are in flight (the stack's stop, what SIGTERM
  runs under `make dev --state DIR`), started again on the same directory. Target: no cached page or backlink
  lost; the interrupted pages complete after a redrive.

    .venv/bin/python -m bench.incident [--quick] [--only R1,R3] [--out DIR]

The table goes to stdout, progress bars to stderr, the raw numbers to `test-artifacts/bench/incident.json`.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import operator
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.table import DEFAULT_OUT, write_json
from local.stack import LocalStack, StackOptions
from wikiroam_cli.redrive import Redriver, RedriveResult, StackTargets

ROOT = Path(__file__).resolve().parents[1]
MONITORS = ROOT / "dashboards" / "monitors"
DONE_WHEN_TITLES = ("Music", "Jazz", "Guitar")
INCIDENT_FAULTS = {"dynamodb_write_throttle": 0.3, "wiki_429": 0.2}
LOAD_FAULTS = {"lambda_timeout@cache": 0.05, "sns_delivery_failure": 0.05}
SEED = 2017
MAX_REDRIVE_ROUNDS = 6
_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


# --- the table


@dataclass(frozen=True)
class Check:
    """One line of the scenarios' table."""

    id: str
    measure: str
    observed: str
    target: str
    met: bool

    @property
    def verdict(self) -> str:
        """`met` or `MISSED`."""
        return "met" if self.met else "MISSED"


@dataclass
class Scenario:
    """A scenario's checks and raw numbers."""

    name: str
    checks: list[Check] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        """Whether every check met its target."""
        return all(check.met for check in self.checks)


def format_table(checks: Sequence[Check]) -> str:
    """The checks as a Markdown table."""
    header = ("id", "measure", "observed", "target", "")
    lines = [header] + [(c.id, c.measure, c.observed, c.target, c.verdict) for c in checks]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


class Bar:
    """A one-line progress bar on stderr (None: silent)."""

    def __init__(self, label: str, total: int, stream: Any = sys.stderr) -> None:
        self._label, self._total, self._stream, self._done = label, total, stream, 0
        self._lock = threading.Lock()
        self._draw()

    def advance(self, count: int = 1) -> None:
        """Count `count` more done."""
        with self._lock:
            self._done += count
            self._draw()

    def set(self, done: int) -> None:
        """Set how many are done."""
        with self._lock:
            self._done = done
            self._draw()

    def _draw(self) -> None:
        if self._stream is None:
            return
        width = 30
        filled = min(width, width * self._done // max(self._total, 1))
        end = "\n" if self._done >= self._total else ""
        self._stream.write(
            f"\r{self._label:<28} [{'#' * filled}{'.' * (width - filled)}] {self._done}/{self._total}{end}"
        )
        self._stream.flush()


# --- the stack, through its gateway and its local AWS


def search(stack: LocalStack, term: str, session: requests.Session | None = None) -> tuple[int, Any]:
    """One reader's search through the gateway: (status, body or None)."""
    answer = (session or requests).get(f"{stack.url}/api/search", params={"q": term}, timeout=60)
    try:
        return answer.status_code, answer.json()
    except ValueError:
        return answer.status_code, None


def set_faults(stack: LocalStack, rates: Mapping[str, float]) -> dict[str, Any]:
    """Start or end an incident on the running stack (`POST /api/local/faults`)."""
    answer = requests.post(f"{stack.url}/api/local/faults", json=dict(rates), timeout=10)
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def local_view(stack: LocalStack, name: str) -> Any:
    """`GET /api/local/<name>`."""
    answer = requests.get(f"{stack.url}/api/local/{name}", timeout=10)
    answer.raise_for_status()
    return answer.json()


def targets(stack: LocalStack) -> StackTargets:
    """What `wikiroam redrive --local` would act on."""
    outputs = stack.outputs
    return StackTargets(
        pages_table=str(outputs["pagesTableName"]),
        topic_arn=str(outputs["cacheTopicArn"]),
        dlq_url=str(outputs["cacheDeadLetterQueueUrl"]),
        endpoint_url=stack.endpoint_url,
        local=True,
    )


def redrive(
    stack: LocalStack, *, rounds: int = MAX_REDRIVE_ROUNDS, idle_timeout: float = 240.0
) -> list[dict[str, Any]]:
    """`wikiroam redrive` until it finds nothing to re-request and no dead letter (or `rounds` run out); each round
    waits for the pipeline to finish what it re-requested. Returns each round's summary."""
    summaries = []
    for _ in range(rounds):
        redriver = Redriver(targets(stack))
        plan = redriver.plan()
        waiting = redriver.dead_letters()
        result = RedriveResult()
        wanted = plan.to_request(include_partial=False)
        if not wanted and not waiting:
            break
        redriver.request(wanted, result)
        redriver.replay(result, max_messages=1000)
        summaries.append(
            {
                "failed": [r.pageid for r in plan.failed],
                "stalled": [r.pageid for r in plan.stalled],
                "lost": [r.pageid for r in plan.lost],
                "dead_letters": waiting,
                "requested": len(result.requested),
                "in_flight": len(result.in_flight),
                "replayed": result.replayed,
                "unreadable": result.unreadable,
            }
        )
        stack.wait_idle(timeout=idle_timeout)
        if not result.requested and not result.replayed:
            break  # only what no redrive can fix is left (unreadable letters): another round would do the same
    return summaries


def page_items(stack: LocalStack) -> dict[int, dict[str, Any]]:
    """Every item of the pages table, by page id, as plain values."""
    dynamodb = stack.client("dynamodb")
    found = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=stack.outputs["pagesTableName"]):
        for item in page["Items"]:
            found[int(item["pageid"]["N"])] = {k: next(iter(v.values())) for k, v in item.items()}
    return found


def executions(stack: LocalStack) -> list[dict[str, Any]]:
    """Every execution of the cache state machine, with `error` for the failed ones."""
    sfn = stack.client("stepfunctions")
    listed: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.outputs["stateMachineArn"]):
        listed.extend(page["executions"])
    for execution in listed:
        if execution["status"] == "FAILED":
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            execution["error"] = described.get("error")
            execution["cause"] = str(described.get("cause"))[:200]
    return listed


def execution_page(execution: Mapping[str, Any]) -> int | None:
    """The page an execution cached (its name starts `<pageid>-`)."""
    head = str(execution["name"]).split("-", 1)[0]
    return int(head) if head.isdigit() else None


def dlq_depth(stack: LocalStack) -> int:
    """Messages on the cache pipeline's dead-letter queue (visible and in flight)."""
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["cacheDeadLetterQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


def served_backlinks(stack: LocalStack, pageid: int, session: requests.Session) -> list[int]:
    """A page's backlinks as readers get them: `GET /api/pages/{id}/backlinks`, every page of them."""
    found: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        answer = session.get(f"{stack.url}/api/pages/{pageid}/backlinks", params=params, timeout=30)
        answer.raise_for_status()
        body = answer.json()
        found.extend(int(link["pageid"]) for link in body["backlinks"])
        cursor = body.get("next_cursor")
        if not cursor:
            return found


def wiki_backlinks(stack: LocalStack, pageid: int) -> set[int]:
    """The sample wiki's own "What links here" for the page (its corpus, not our client)."""
    assert stack.wiki is not None, "the scenarios need the sample wiki"
    return {page.pageid for page in stack.wiki.corpus.what_links_here(pageid)}


def compare_backlinks(stack: LocalStack, pageids: Iterable[int]) -> dict[str, Any]:
    """Each page's served backlinks against the wiki's: missing, extra, duplicated, per page and in all."""
    missing: dict[int, int] = {}
    extra: dict[int, int] = {}
    duplicated = 0
    total = 0
    ids = sorted(pageids)
    bar = Bar("backlinks compared", len(ids))
    with requests.Session() as session:
        for pageid in ids:
            served = served_backlinks(stack, pageid, session)
            expected = wiki_backlinks(stack, pageid)
            duplicated += len(served) - len(set(served))
            total += len(expected)
            if expected - set(served):
                missing[pageid] = len(expected - set(served))
            if set(served) - expected:
                extra[pageid] = len(set(served) - expected)
            bar.advance()
    return {
        "pages": len(ids),
        "wiki_backlinks": total,
        "missing": sum(missing.values()),
        "extra": sum(extra.values()),
        "duplicated": duplicated,
        "pages_missing": missing,
        "pages_extra": extra,
    }


def search_terms(count: int) -> list[str]:
    """The Done-when titles first, then the sample wiki's title words that name the most articles."""
    from bench.cost import terms

    pool = list(DONE_WHEN_TITLES) + [t for t in terms(count + 10) if t.lower() not in {"music", "jazz", "guitar"}]
    return pool[:count]


def run_searches(
    stack: LocalStack, terms: Sequence[str], *, concurrency: int, label: str
) -> list[tuple[str, int, float, Any]]:
    """The searches, `concurrency` at a time: (term, status, seconds, body) each."""
    bar = Bar(label, len(terms))

    def one(term: str) -> tuple[str, int, float, Any]:
        started = time.monotonic()
        with requests.Session() as session:
            status, body = search(stack, term, session)
        bar.advance()
        return term, status, time.monotonic() - started, body

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, terms))


# --- the monitors: their thresholds as data


@dataclass(frozen=True)
class Monitor:
    """A monitor definition's name, query comparator and thresholds (`dashboards/monitors/<file>.json`)."""

    file: str
    name: str
    comparator: str
    critical: float
    warning: float | None

    def level(self, value: float) -> str:
        """`ALERT`, `warn` or `ok` for an observed value, by the monitor's own thresholds and comparator."""
        compare = _COMPARE[self.comparator]
        if compare(value, self.critical):
            return "ALERT"
        if self.warning is not None and compare(value, self.warning):
            return "warn"
        return "ok"


def load_monitors(folder: Path = MONITORS) -> dict[str, Monitor]:
    """Every monitor, by its file's stem (e.g. `09-dynamodb-throttles`)."""
    found = {}
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text())
        comparison = re.search(r"(>=|<=|>|<)\s*(-?[\d.]+)\s*$", document["query"])
        thresholds = document.get("options", {}).get("thresholds", {})
        if comparison is None or "critical" not in thresholds:
            continue
        warning = thresholds.get("warning")
        found[path.stem] = Monitor(
            file=path.name,
            name=document["name"].split("] ", 1)[-1].replace(" (${env})", ""),
            comparator=comparison.group(1),
            critical=float(thresholds["critical"]),
            warning=float(warning) if warning is not None else None,
        )
    return found


def observe_monitors(
    stack: LocalStack, *, pages_before_redrive: Mapping[int, Mapping[str, Any]], dlq_peak: int
) -> dict[str, dict[str, Any]]:
    """What each monitor the local stack can count would read now, and its level."""
    monitors = load_monitors()
    faults = local_view(stack, "faults")["injected"]
    functions = local_view(stack, "lambda")["functions"]
    runs = executions(stack)
    wiki_requests = len(stack.wiki.requests) if stack.wiki is not None else 0

    def worst(counter: Callable[[Mapping[str, int]], int], leave_out: str = "") -> tuple[float, str]:
        ratios = {
            name: counter(s) / s["invocations"]
            for name, s in functions.items()
            if s["invocations"] and not (leave_out and leave_out in name)
        }
        name = max(ratios, key=lambda n: ratios[n], default="-")
        return ratios.get(name, 0.0), name

    error_ratio, error_function = worst(lambda s: s["errors"] + s["timeouts"])
    # As monitor 05 reads it: the trigger is left out, throttled by design (its queue is the backpressure).
    throttle_ratio, throttle_function = worst(lambda s: s["throttles"], leave_out="cache-trigger")
    failed = sum(run["status"] in ("FAILED", "TIMED_OUT", "ABORTED") for run in runs)
    gaps = sum(item.get("backlinks_status") in ("failed", "partial") for item in pages_before_redrive.values())
    values: dict[str, tuple[float, str]] = {
        "03-lambda-error-rate": (error_ratio, f"errors+timeouts/invocations, worst function {_short(error_function)}"),
        "05-lambda-throttles": (throttle_ratio, f"throttles/invocations, worst function {_short(throttle_function)}"),
        "06-state-machine-failures": (failed / max(len(runs), 1), f"{failed} of {len(runs)} executions failed"),
        "07-sns-delivery-failures": (float(faults["sns_delivery_failure"]), "failed SNS deliveries"),
        "08-dlq-depth": (float(dlq_peak), "messages on the DLQ before redrive"),
        "09-dynamodb-throttles": (
            float(faults["dynamodb_write_throttle"] + faults["dynamodb_read_throttle"]),
            "throttle events, both tables",
        ),
        "13-wiki-rate-limited": (
            faults["wiki_429"] / max(wiki_requests, 1),
            f"{faults['wiki_429']} 429s of {wiki_requests} wiki requests",
        ),
        "14-cache-gaps": (float(gaps), "pages failed/partial before redrive"),
    }
    observed = {}
    for stem, (value, how) in values.items():
        monitor = monitors[stem]
        observed[stem] = {
            "monitor": monitor.name,
            "value": value,
            "how": how,
            "threshold": f"{monitor.comparator} {monitor.critical:g}",
            "level": monitor.level(value),
        }
    return observed


def _short(function: str) -> str:
    return re.sub(r"^wikiroam-|-function.*$|-[0-9a-f]{7}$", "", function)


def monitors_line(observed: Mapping[str, Mapping[str, Any]]) -> str:
    """`throttles 312 ALERT (> 50); ...` for the table."""
    labels = {
        "03-lambda-error-rate": "Lambda errors",
        "05-lambda-throttles": "Lambda throttles",
        "06-state-machine-failures": "failed executions",
        "07-sns-delivery-failures": "SNS failed",
        "08-dlq-depth": "DLQ",
        "09-dynamodb-throttles": "DynamoDB throttles",
        "13-wiki-rate-limited": "wiki 429s",
        "14-cache-gaps": "cache gaps",
    }
    parts = []
    for stem, label in labels.items():
        seen = observed[stem]
        value = seen["value"]
        shown = f"{value:.2f}" if 0 < value < 1 else f"{value:g}"
        parts.append(f"{label} {shown} {seen['level']} ({seen['threshold']})")
    return "; ".join(parts)


# --- R1, the incident


def run_incident(searches: int, *, seed: int = SEED) -> Scenario:
    """R1: the 2017 incident replayed, then redrive; every page complete with the wiki's backlinks."""
    scenario = Scenario("R1")
    terms = search_terms(searches)
    with LocalStack(StackOptions(fault_seed=seed)) as stack:
        set_faults(stack, INCIDENT_FAULTS)  # the incident starts
        answers = run_searches(stack, terms, concurrency=4, label="R1 searches (incident)")
        stack.wait_idle(timeout=300)
        before = page_items(stack)
        dlq_peak = dlq_depth(stack)
        runs_before = executions(stack)
        rounds = redrive(stack)  # faults still on, as `make redrive` against `make dev` with WIKIROAM_FAULTS
        after = page_items(stack)
        runs = executions(stack)
        observed = observe_monitors(stack, pages_before_redrive=before, dlq_peak=dlq_peak)
        faults = local_view(stack, "faults")
        set_faults(stack, dict.fromkeys(INCIDENT_FAULTS, 0.0))  # the incident ends
        cached = [p for p, item in after.items() if item.get("cached_at")]
        comparison = compare_backlinks(stack, cached)
        done_when = {
            term: [_done_when_page(stack, result["pageid"], after) for result in (body or {}).get("results", [])]
            for term, _, _, body in answers
            if term in DONE_WHEN_TITLES
        }
    reader_errors = [(t, s) for t, s, _, _ in answers if s >= 500 and s != 503]
    unfinished_runs = [
        r["name"]
        for r in runs_before
        if r["status"] != "SUCCEEDED" and after.get(execution_page(r) or -1, {}).get("backlinks_status") != "complete"
    ]
    not_complete = {
        p: item.get("backlinks_status") for p, item in after.items() if item.get("backlinks_status") != "complete"
    }
    succeeded = sum(r["status"] == "SUCCEEDED" for r in runs_before)
    scenario.raw = {
        "searches": len(terms),
        "search_statuses": _count(s for _, s, _, _ in answers),
        "executions_during": len(runs_before),
        "succeeded_during": succeeded,
        "failed_during": {r["name"]: r.get("error") for r in runs_before if r["status"] == "FAILED"},
        "executions_after_redrive": len(runs),
        "redrive_rounds": rounds,
        "pages": len(after),
        "pages_not_complete": not_complete,
        "unfinished_executions": unfinished_runs,
        "backlinks": comparison,
        "monitors": observed,
        "faults": faults,
        "done_when": done_when,
        "reader_5xx": reader_errors,
    }
    failed_pages = {execution_page(r) for r in runs_before if r["status"] != "SUCCEEDED"}
    scenario.checks.append(
        Check(
            "R1",
            f"incident ({_rates(INCIDENT_FAULTS)}) during {len(terms)} searches: executions",
            f"{len(runs_before)} executions: {succeeded} SUCCEEDED, {len(runs_before) - succeeded} not "
            f"({len(failed_pages)} pages); after {len(rounds)} redrive rounds {len(after) - len(not_complete)}"
            f"/{len(after)} pages complete",
            "each SUCCEEDED, or its page complete after redrive",
            not unfinished_runs and not not_complete,
        )
    )
    scenario.checks.append(
        Check(
            "R1",
            "backlinks served vs the wiki's lists (every cached page)",
            f"{comparison['missing']} missing, {comparison['extra']} extra, {comparison['duplicated']} duplicated "
            f"of {comparison['wiki_backlinks']} over {comparison['pages']} pages",
            "0 missing",
            comparison["missing"] == 0 and comparison["extra"] == 0 and comparison["duplicated"] == 0,
        )
    )
    injected = faults["injected"]
    done_pages = [page for pages in done_when.values() for page in pages]
    exact = sum(page["status"] == "complete" and page["exact"] for page in done_pages)
    fired = f"fired: dynamodb_write_throttle {injected['dynamodb_write_throttle']}, wiki_429 {injected['wiki_429']}"
    scenario.checks.append(
        Check(
            "R1",
            "Done when: the searches Music, Jazz, Guitar after redrive; both faults fired",
            ", ".join(f"{term} {len(pages)} results" for term, pages in done_when.items())
            + f": {exact}/{len(done_pages)} pages complete with exactly the wiki's backlinks; {fired}",
            "every result page complete, exactly the wiki's backlinks; both > 0",
            bool(done_pages)
            and exact == len(done_pages)
            and injected["dynamodb_write_throttle"] > 0
            and injected["wiki_429"] > 0,
        )
    )
    scenario.checks.append(
        Check(
            "R1",
            "monitors the local stack can count (value, level by dashboards/monitors thresholds)",
            monitors_line(observed),
            "DynamoDB throttle monitor alerts",
            observed["09-dynamodb-throttles"]["level"] == "ALERT",
        )
    )
    return scenario


def _done_when_page(stack: LocalStack, pageid: int, items: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """One result page of a Done-when search: its status, and its served backlinks against the wiki's."""
    item = items.get(pageid, {})
    with requests.Session() as session:
        served = served_backlinks(stack, pageid, session) if item.get("cached_at") else []
    wiki = wiki_backlinks(stack, pageid)
    return {
        "pageid": pageid,
        "title": item.get("title"),
        "status": item.get("backlinks_status"),
        "served": len(served),
        "wiki": len(wiki),
        "exact": sorted(served) == sorted(wiki),
    }


# --- R2, bad input


def run_bad_input(examples: int) -> Scenario:
    """R2: generated API requests, and malformed SNS messages, task payloads, log batches and span lines."""
    from tests.integration.test_api_fuzz import fuzz

    scenario = Scenario("R2")
    with LocalStack(StackOptions()) as stack:
        bar = Bar("R2 generated API requests", examples)
        with requests.Session() as session:
            report = fuzz(stack.url, examples, progress=bar.set, session=session)
        bar.set(examples)
        sns = _malformed_sns(stack)
        task = _malformed_task(stack)
        shipper = _malformed_log_batches(stack)
        stack.wait_idle(timeout=120)
    fivexx = sum(count for status, count in report.statuses.items() if status >= 500)
    scenario.raw = {
        "fuzz": {"requests": report.sent, "statuses": report.statuses, "problems": report.problems[:20]},
        "sns": sns,
        "task": task,
        "shipper": shipper,
    }
    scenario.checks.append(
        Check(
            "R2",
            "generated API requests (hypothesis: unicode, control chars, huge values, odd ids, methods)",
            f"{report.sent} requests: {fivexx} 5xx, {len(report.problems)} problems; statuses "
            + ", ".join(f"{s}x{n}" for s, n in sorted(report.statuses.items())),
            ">= 1,000; 0 5xx; every answer JSON",
            report.sent >= min(examples, 1000) and not report.problems,
        )
    )
    scenario.checks.append(
        Check(
            "R2",
            "malformed input: SNS message, task payload, log batch, span line",
            f"SNS: {sns['error_type']} after {sns['attempts']} attempts, {sns['on_dlq']} on DLQ, redrive "
            f"counts {sns['redrive_unreadable']} still failing; task: {task['status']} {task['error']}; "
            f"log batch: {shipper['batch_error']}; span line: {shipper['damaged_lines']} damaged, "
            f"SpanLinesDamaged {shipper['emf_damaged']}",
            "a named error, the DLQ, or a counted drop; never silence",
            sns["error_type"] == "InvalidCacheRequest"
            and sns["on_dlq"] >= 1
            and sns["redrive_unreadable"] >= 1
            and task["status"] == "FAILED"
            and bool(task["error"])
            and not str(task["error"]).startswith("States.Runtime")
            and shipper["batch_error"] == "InvalidLogBatch"
            and shipper["damaged_lines"] >= 1
            and shipper["emf_damaged"] >= 1,
        )
    )
    return scenario


def _malformed_sns(stack: LocalStack) -> dict[str, Any]:
    """Garbage published to the cache topic: the trigger fails it by name, its retries too, then the DLQ."""
    trigger = _function(stack, "trigger")
    before = local_view(stack, "lambda")["functions"].get(trigger, {}).get("errors", 0)
    stack.client("sns").publish(TopicArn=stack.outputs["cacheTopicArn"], Message='{"pages": "not a list", \x01')
    deadline = time.monotonic() + 60
    bodies: list[dict[str, Any]] = []
    sqs = stack.client("sqs")
    queue = stack.outputs["cacheDeadLetterQueueUrl"]
    while time.monotonic() < deadline and dlq_depth(stack) == 0:
        time.sleep(0.2)
    # Peek without consuming: a zero visibility timeout leaves them for redrive.
    for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", []):
        bodies.append(json.loads(message["Body"]))
    error_types = {
        str((body.get("responsePayload") or {}).get("errorType"))
        for body in bodies
        if isinstance(body.get("responsePayload"), dict)
    }
    attempts = local_view(stack, "lambda")["functions"].get(trigger, {}).get("errors", 0) - before
    redriver = Redriver(targets(stack))
    result = RedriveResult()
    redriver.replay(result, max_messages=100)
    return {
        "error_type": next(iter(error_types), None),
        "attempts": attempts,
        "on_dlq": len(bodies),
        "redrive_unreadable": result.unreadable,
        "left_on_dlq": dlq_depth(stack),
    }


def _malformed_task(stack: LocalStack) -> dict[str, Any]:
    """An execution started with an input that is no cache request: it must fail under a name."""
    sfn = stack.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=stack.outputs["stateMachineArn"],
        name=f"malformed-{int(time.time() * 1000)}",
        input=json.dumps({"page": {"pageid": "not a number", "title": ["x"]}, "reason": 7}),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=started["executionArn"])
        if described["status"] != "RUNNING":
            return {
                "status": described["status"],
                "error": described.get("error"),
                "cause": str(described.get("cause"))[:200],
            }
        time.sleep(0.2)
    return {"status": "RUNNING", "error": None, "cause": "still running after 60 s"}


def _malformed_log_batches(stack: LocalStack) -> dict[str, Any]:
    """The shipper given a batch that is not one (a named error), and a damaged span line (a counted drop)."""
    lambda_client = stack.client("lambda")
    shipper = _function(stack, "shipper")
    bad = lambda_client.invoke(FunctionName=shipper, Payload=json.dumps({"awslogs": {"data": "not base64!"}}).encode())
    bad_payload = json.loads(bad["Payload"].read() or b"null")
    document = {
        "messageType": "DATA_MESSAGE",
        "logGroup": "/aws/lambda/fuzz",
        "logStream": "fuzz",
        "logEvents": [{"id": "1", "timestamp": int(time.time() * 1000), "message": "OTLPv1 this-is-no-span-line\n"}],
    }
    data = base64.b64encode(gzip.compress(json.dumps(document).encode())).decode()
    damaged = lambda_client.invoke(FunctionName=shipper, Payload=json.dumps({"awslogs": {"data": data}}).encode())
    damaged_payload = json.loads(damaged["Payload"].read() or b"null")
    emf = 0
    logs = stack.client("logs")
    group = stack.log_group(_logical(stack, shipper))
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
        for event in page["events"]:
            if '"SpanLinesDamaged"' in event["message"] and event["message"].lstrip().startswith("{"):
                emf += int(json.loads(event["message"]).get("SpanLinesDamaged", 0))
    return {
        "batch_error": bad_payload.get("errorType") if bad.get("FunctionError") else None,
        "damaged_lines": (damaged_payload or {}).get("damaged_lines", 0),
        "emf_damaged": emf,
    }


def _function(stack: LocalStack, role: str) -> str:
    """The physical name of the deployed function whose logical name holds `role`."""
    assert stack.deployment is not None
    names = [r.id for r in stack.deployment.of_type("aws:lambda/function:Function") if role in r.name]
    assert names, role
    return str(names[0])


def _logical(stack: LocalStack, physical: str) -> str:
    assert stack.deployment is not None
    return next(r.name for r in stack.deployment.of_type("aws:lambda/function:Function") if r.id == physical)


# --- R3, load with faults


def run_load(searches: int, *, seed: int = SEED) -> Scenario:
    """R3: concurrent searches while the pipeline's functions time out and SNS fails deliveries."""
    scenario = Scenario("R3")
    terms = search_terms(searches)
    with LocalStack(StackOptions(fault_seed=seed)) as stack:
        set_faults(stack, LOAD_FAULTS)
        answers = run_searches(stack, terms, concurrency=searches, label="R3 searches at once")
        drain_started = time.perf_counter()
        drained = stack.wait_idle(timeout=600)
        Bar("R3 pipeline draining", 1).set(1 if drained else 0)
        drain_seconds = time.perf_counter() - drain_started
        items = page_items(stack)
        runs = executions(stack)
        dead = _dead_letter_pages(stack)
        queued = _queued_pages(stack)
        faults = local_view(stack, "faults")
        functions = local_view(stack, "lambda")["functions"]
        set_faults(stack, {"lambda_timeout": 0.0, "sns_delivery_failure": 0.0})
    requested = {
        r["pageid"] for _, s, _, body in answers if s == 200 and body for r in body["results"] if not r["cached"]
    }
    executed = {execution_page(r) for r in runs} - {None}
    accounted = {
        "executed": executed & requested,
        "dead_letter": (requested - executed) & dead,
        # Still in Lambda's queue for the trigger when the scenario stopped waiting: the backpressure's queue
        # (AWS keeps such an event up to its maximum age, then the DLQ), not lost.
        "queued": (requested - executed - dead) & queued,
    }
    unaccounted = requested - executed - dead - queued
    errors = [(t, s) for t, s, _, _ in answers if s != 200]
    scenario.raw = {
        "searches": len(terms),
        "latency_s": sorted(round(seconds, 3) for _, _, seconds, _ in answers),
        "reader_errors": errors,
        "pages_requested": len(requested),
        "executions": len(runs),
        "executions_by_status": _count(r["status"] for r in runs),
        "pages_executed": len(accounted["executed"]),
        "pages_on_dlq": sorted(accounted["dead_letter"]),
        "pages_queued": sorted(accounted["queued"]),
        "drained": drained,
        "drain_seconds": round(drain_seconds, 1),
        "unaccounted": sorted(unaccounted),
        "pages_by_status": _count(item.get("backlinks_status") for item in items.values()),
        "faults": faults,
        "lambda": functions,
    }
    injected = faults["injected"]
    scenario.checks.append(
        Check(
            "R3",
            f"{len(terms)} searches at once, {_rates(LOAD_FAULTS)}: readers",
            f"{len(errors)} errors of {len(answers)}; fired: lambda_timeout {injected['lambda_timeout']}, "
            f"sns_delivery_failure {injected['sns_delivery_failure']}",
            "0 errors to readers",
            not errors,
        )
    )
    scenario.checks.append(
        Check(
            "R3",
            "every cache request accounted for",
            f"{len(requested)} pages requested: {len(accounted['executed'])} executed "
            f"({len(runs)} executions, {_count(r['status'] for r in runs)}), {len(accounted['dead_letter'])} on the "
            f"DLQ, {len(accounted['queued'])} still queued for the trigger "
            f"({'drained' if drained else 'not drained'} after {drain_seconds:.0f} s), {len(unaccounted)} unaccounted",
            "executed, deduplicated, on the DLQ or queued",
            not unaccounted,
        )
    )
    return scenario


def _queued_pages(stack: LocalStack) -> set[int]:
    """The pages of the cache requests still in Lambda's asynchronous queue for the trigger."""
    assert stack.invoker is not None
    pages: set[int] = set()
    for event in stack.invoker.queued(_function(stack, "trigger")):
        for record in event.get("Records", []):
            message = json.loads(record.get("Sns", {}).get("Message") or "{}")
            pages.update(int(page["pageid"]) for page in message.get("pages", []))
    return pages


def _dead_letter_pages(stack: LocalStack) -> set[int]:
    """The pages whose cache request sits on the DLQ (peeked, left there)."""
    from wikiroam_cli.redrive import cache_requests_in

    pages: set[int] = set()
    sqs = stack.client("sqs")
    seen = 0
    depth = dlq_depth(stack)
    while seen < depth:
        batch = sqs.receive_message(
            QueueUrl=stack.outputs["cacheDeadLetterQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            seen += 1
            for body in cache_requests_in(message["Body"]):
                pages.update(int(page["pageid"]) for page in json.loads(body).get("pages", []))
    return pages


# --- R4, restart


def run_restart(searches: int) -> Scenario:
    """R4: stop a stack with `state_dir` while executions run, start it again, redrive; nothing lost."""
    scenario = Scenario("R4")
    terms = search_terms(2 * searches)
    first, second = terms[:searches], terms[searches:]
    with tempfile.TemporaryDirectory(prefix="wikiroam-state-") as directory:
        state = Path(directory)
        stack = LocalStack(StackOptions(state_dir=state))
        stack.start()
        try:
            run_searches(stack, first, concurrency=2, label="R4 searches, then idle")
            stack.wait_idle(timeout=300)
            settled = page_items(stack)
            cached_before = {p for p, item in settled.items() if item.get("backlinks_status") == "complete"}
            links_before = {p: set(served_backlinks(stack, p, requests.Session())) for p in cached_before}
            run_searches(stack, second, concurrency=len(second), label="R4 searches, then stop")
            in_flight = sum(r["status"] == "RUNNING" for r in executions(stack))
        finally:
            stack.stop()  # what SIGTERM runs under `make dev --state DIR`
        with LocalStack(StackOptions(state_dir=state)) as again:
            reloaded = page_items(again)
            interrupted = {p for p, item in reloaded.items() if item.get("backlinks_status") != "complete"}
            rounds = redrive(again)
            after = page_items(again)
            lost_pages = cached_before - {p for p, item in after.items() if item.get("backlinks_status") == "complete"}
            lost_links = 0
            with requests.Session() as session:
                for pageid in cached_before:
                    lost_links += len(links_before[pageid] - set(served_backlinks(again, pageid, session)))
            still = {p: item.get("backlinks_status") for p, item in after.items() if p in interrupted}
            comparison = compare_backlinks(again, [p for p, item in after.items() if item.get("cached_at")])
    incomplete = {p: s for p, s in still.items() if s != "complete"}
    scenario.raw = {
        "searches_before": first,
        "searches_in_flight": second,
        "executions_running_at_stop": in_flight,
        "complete_before": len(cached_before),
        "backlinks_before": sum(len(v) for v in links_before.values()),
        "interrupted": sorted(interrupted),
        "redrive_rounds": rounds,
        "interrupted_not_complete": incomplete,
        "lost_pages": sorted(lost_pages),
        "lost_backlinks": lost_links,
        "backlinks_after": comparison,
    }
    scenario.checks.append(
        Check(
            "R4",
            f"stop with {in_flight} executions running (state_dir), start again",
            f"{len(cached_before)} complete pages, {sum(len(v) for v in links_before.values())} backlinks before: "
            f"{len(lost_pages)} pages, {lost_links} backlinks lost",
            "none lost",
            not lost_pages and lost_links == 0,
        )
    )
    scenario.checks.append(
        Check(
            "R4",
            "interrupted pages after a redrive",
            f"{len(interrupted)} interrupted; after {len(rounds)} redrive rounds {len(interrupted) - len(incomplete)} "
            f"complete; {comparison['missing']} backlinks missing vs the wiki over {comparison['pages']} pages",
            "all complete, 0 missing",
            not incomplete and comparison["missing"] == 0,
        )
    )
    return scenario


# --- the runner


def _rates(rates: Mapping[str, float]) -> str:
    return ",".join(f"{name}={rate:g}" for name, rate in rates.items())


def _count(values: Iterable[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


SIZES = {
    # scenario: (full, quick)
    "R1": (50, 8),
    "R2": (1000, 100),
    "R3": (100, 10),
    "R4": (4, 2),
}
RUNNERS: dict[str, Callable[[int], Scenario]] = {
    "R1": run_incident,
    "R2": run_bad_input,
    "R3": run_load,
    "R4": run_restart,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenarios, print the table, write the raw numbers; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.incident", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI's): 8, 100, 10 and 2 searches/requests")
    parser.add_argument("--only", default=",".join(RUNNERS), help="scenarios to run, e.g. R1,R3 (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where incident.json goes")
    args = parser.parse_args(argv)
    chosen = [name.strip().upper() for name in args.only.split(",") if name.strip()]
    scenarios = []
    started = time.monotonic()
    for name in chosen:
        full, quick = SIZES[name]
        scenario_started = time.monotonic()
        scenario = RUNNERS[name](quick if args.quick else full)
        scenario.raw["seconds"] = round(time.monotonic() - scenario_started, 1)
        scenarios.append(scenario)
    checks = [check for scenario in scenarios for check in scenario.checks]
    table = format_table(checks)
    print(table)
    print(f"\n{sum(c.met for c in checks)}/{len(checks)} targets met in {time.monotonic() - started:.0f} s")
    path = write_json(
        args.out,
        "incident",
        {
            "table": table,
            "checks": [check.__dict__ | {"verdict": check.verdict} for check in checks],
            "scenarios": {scenario.name: scenario.raw for scenario in scenarios},
        },
        quick=args.quick,
    )
    print(f"raw numbers: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", file=sys.stderr)
    return 0 if all(check.met for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
