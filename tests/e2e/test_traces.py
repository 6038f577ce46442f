"""One search is one trace: from the api's HTTP span through SNS, the trigger and Step Functions to the last
backlink written, shipped by the span shipper to the local OTLP receiver, and shown by the JSON views, the trace
view page and `wikiroam trace` (read back from CloudWatch Logs)."""

from __future__ import annotations

import inspect
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from functions.wiki import WikiClient
from local.stack import LocalStack
from tests.e2e.conftest import make_state_machine_retries_quick
from wikiroam_cli.__main__ import main as wikiroam

# "rivers" finds River, The Burning Rivers and Earth (640 backlinks: two backlinks requests, 26 batch writes).
TERM = "rivers"
EARTH = 1952
# The task states' spans, which the steps write: the state machine logs at level ERROR, so its Choice and Succeed
# states have none (wikiroam:stateMachineLogLevel ALL brings them back).
STATES = ["CacheStart", "CacheInfo", "CacheBacklinks"]
# A failed attempt: the shipper's span from the state machine's TaskFailed event.
ATTEMPT_FAILED = "TaskFailed"
STEP_FUNCTIONS = {"CacheStart": "cache-start", "CacheInfo": "cache-info", "CacheBacklinks": "cache-backlinks"}
# Enough 429s to exhaust the wiki client's own retries once, so the step fails and Step Functions retries it.
CLIENT_ATTEMPTS = inspect.signature(WikiClient).parameters["max_retries"].default + 1


@dataclass
class TracedSearch:
    """The search, its result page ids, and the one trace the local receiver holds for it."""

    pageids: list[int]
    trace_id: str
    spans: list[dict[str, Any]]

    def by_id(self) -> dict[str, dict[str, Any]]:
        return {s["span_id"]: s for s in self.spans}

    def named(self, name: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["name"] == name]

    def children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["parent_span_id"] == parent["span_id"]]

    def execution_of(self, span: dict[str, Any]) -> str:
        return span["attributes"]["aws.step_functions.execution.arn"]


@pytest.fixture(scope="module")
def traced_search(local_stack: LocalStack) -> TracedSearch:
    """When a reader searches while the wiki rate-limits Earth's backlinks once, and the pipeline and the
    shipping finish (Step Functions' retry intervals shortened)."""
    assert local_stack.wiki is not None
    local_stack.wiki.faults.clear()
    # Enough concurrency for the search's three pages at once: a throttled step would add retries of its own to
    # the state spans this module counts (throttling has tests of its own, in test_local_runtime).
    lambda_client = local_stack.client("lambda")
    for function in local_stack.deployment.of_type("aws:lambda/function:Function") if local_stack.deployment else []:
        if function.inputs.get("reservedConcurrentExecutions") is not None:
            lambda_client.put_function_concurrency(FunctionName=function.id, ReservedConcurrentExecutions=10)
    local_stack.wiki.faults.arm("429", count=CLIENT_ATTEMPTS, retry_after=0, match=f"list=backlinks&blpageid={EARTH}")
    with pytest.MonkeyPatch.context() as monkeypatch:
        make_state_machine_retries_quick(monkeypatch)
        answer = requests.get(f"{local_stack.url}/api/search", params={"q": TERM}, timeout=30)
        assert answer.status_code == 200, answer.text
        pageids = [r["pageid"] for r in answer.json()["results"]]
        local_stack.wait_until_cached(pageids, timeout=120)
        assert local_stack.wait_idle(60)
    assert local_stack.wiki.faults.armed == [], "the rate limiting fault did not fire"
    searches = [t for t in local_stack.traces.recent() if t["root_span_name"] == "GET /api/search"]
    assert len(searches) == 1, searches
    detail = local_stack.traces.detail(searches[0]["trace_id"])
    assert detail is not None
    return TracedSearch(pageids, detail["trace_id"], detail["spans"])


def test_given_a_search_then_one_trace_holds_the_api_its_wiki_calls_and_the_sns_hop(traced_search):
    (api,) = traced_search.named("GET /api/search")
    api_children = traced_search.children(api)
    wiki_calls = [s for s in api_children if s["kind"] == "CLIENT" and "wikiroam.wiki.operation" in s["attributes"]]
    dynamodb = [s for s in api_children if s["attributes"].get("db.system") == "dynamodb"]
    (publish,) = [s for s in api_children if s["kind"] == "PRODUCER"]
    (trigger,) = traced_search.named("cache-trigger")

    assert (api["kind"], api["parent_span_id"], api["attributes"]["http.route"]) == ("SERVER", None, "/api/search")
    assert api["service"].startswith("wikiroam/")
    assert len(wiki_calls) >= 1
    # The cached pages read at once, then each page to cache marked requested.
    assert [s["name"] for s in dynamodb][:1] == ["DynamoDB.BatchGetItem"]
    assert {s["name"] for s in dynamodb[1:]} <= {"DynamoDB.UpdateItem"}
    assert publish["attributes"]["messaging.system"] == "aws_sns"
    assert (trigger["kind"], trigger["parent_span_id"]) == ("CONSUMER", publish["span_id"])


def test_given_a_search_then_every_execution_and_state_hangs_under_the_trigger_that_started_it(traced_search):
    (trigger,) = traced_search.named("cache-trigger")
    starts = [s for s in traced_search.children(trigger) if s["name"] == "SFN.StartSyncExecution"]
    executions = traced_search.named("StepFunctions.Execution")

    assert len(starts) == len(traced_search.pageids)
    assert all(s["kind"] == "CLIENT" for s in starts)
    assert sorted(e["parent_span_id"] for e in executions) == sorted(s["span_id"] for s in starts)
    for execution in executions:
        assert execution["kind"] == "SERVER"
        assert execution["attributes"]["aws.step_functions.execution.status"] == "SUCCEEDED"
        states = [s for s in traced_search.children(execution) if s["name"] != ATTEMPT_FAILED]
        assert [s["name"] for s in sorted(states, key=lambda s: s["offset_ms"])] == STATES
        assert {s["kind"] for s in states} == {"INTERNAL"}


def test_given_a_rate_limited_backlinks_fetch_then_its_state_span_shows_the_retry_and_both_attempts(traced_search):
    earth = [
        s
        for s in traced_search.named("CacheBacklinks")
        if s["attributes"]["aws.step_functions.execution.arn"].split(":")[-1].startswith(f"{EARTH}-")
    ]
    (state,) = earth
    attempts = sorted(traced_search.children(state), key=lambda s: s["offset_ms"])
    (failed,) = traced_search.named(ATTEMPT_FAILED)

    assert state["attributes"]["aws.step_functions.state.retry_count"] == 1
    assert state["status"]["code"] != "ERROR"
    assert [e["name"] for e in state["events"]] == ["retry"]
    # The failed attempt, from the state machine's TaskFailed event, under the same execution's span.
    assert failed["attributes"]["error.type"] == "WikiRateLimited"
    assert failed["parent_span_id"] == state["parent_span_id"]
    assert [a["name"] for a in attempts] == ["cache-backlinks", "cache-backlinks"]
    assert [a["attributes"]["aws.step_functions.state.retry_count"] for a in attempts] == [0, 1]
    assert [a["status"]["code"] for a in attempts] == ["ERROR", "UNSET"]
    assert attempts[0]["attributes"]["error.type"] == "WikiRateLimited"
    (failed_fetch,) = [s for s in traced_search.children(attempts[0]) if s["kind"] == "CLIENT" and s["name"] == "GET"]
    assert failed_fetch["attributes"]["http.request.resend_count"] == CLIENT_ATTEMPTS - 1
    assert [e["name"] for e in failed_fetch["events"]].count("retry") == CLIENT_ATTEMPTS - 1


def test_given_a_search_then_every_step_function_span_hangs_under_its_state_with_its_dynamodb_calls(traced_search):
    for state_name, step in STEP_FUNCTIONS.items():
        for state in traced_search.named(state_name):
            steps = traced_search.children(state)
            assert steps, f"{state_name} of {traced_search.execution_of(state)} has no {step} span"
            for span in steps:
                assert span["name"] == step
                assert span["attributes"]["aws.step_functions.state.name"] == state_name
                assert traced_search.execution_of(span) == traced_search.execution_of(state)
                calls = [c for c in traced_search.children(span) if c["attributes"].get("db.system") == "dynamodb"]
                assert calls, f"{step} has no DynamoDB span"
    writes = [*traced_search.named("DynamoDB.PutItem"), *traced_search.named("DynamoDB.TransactWriteItems")]
    # Earth alone: 640 backlinks, about 16 KB packed in 4 KB chunks: at least one split into several chunks.
    assert len(traced_search.named("DynamoDB.TransactWriteItems")) >= 1
    assert len(writes) >= math.ceil(640 / 500)


def test_given_a_search_then_the_trace_has_no_span_whose_parent_is_missing_and_no_other_trace_has_its_spans(
    traced_search, local_stack
):
    known = traced_search.by_id()
    orphans = [s["name"] for s in traced_search.spans if s["parent_span_id"] and s["parent_span_id"] not in known]
    pipeline = {
        "cache-trigger",
        "StepFunctions.Execution",
        "SFN.StartSyncExecution",
        ATTEMPT_FAILED,
        *STATES,
        *STEP_FUNCTIONS.values(),
    }
    elsewhere = [
        (trace_id, span.name)
        for trace_id in local_stack.traces.trace_ids()
        if trace_id != traced_search.trace_id
        for span in local_stack.traces.spans(trace_id)
        if span.name in pipeline
    ]

    assert orphans == []
    assert [s["name"] for s in traced_search.spans if not s["parent_span_id"]] == ["GET /api/search"]
    assert elsewhere == []
    assert {s["trace_id"] for s in traced_search.spans} == {traced_search.trace_id}


def test_given_a_search_then_the_json_views_list_and_return_its_trace(traced_search, local_stack):
    listed = requests.get(f"{local_stack.url}/api/local/traces", timeout=10)
    detail = requests.get(f"{local_stack.url}/api/local/traces/{traced_search.trace_id}", timeout=10)
    unknown = requests.get(f"{local_stack.url}/api/local/traces/{'0' * 31}1", timeout=10)

    assert listed.status_code == 200
    (summary,) = [t for t in listed.json()["traces"] if t["trace_id"] == traced_search.trace_id]
    errors = [s["name"] for s in traced_search.spans if s["status"]["code"] == "ERROR"]
    # The first CacheBacklinks attempt on Earth (its span, and the state machine's TaskFailed), and its wiki
    # request that ran out of retries.
    assert sorted(errors) == ["GET", ATTEMPT_FAILED, "cache-backlinks"]
    assert (summary["root_span_name"], summary["span_count"], summary["error_count"]) == (
        "GET /api/search",
        len(traced_search.spans),
        3,
    )
    assert detail.status_code == 200
    assert Counter(s["span_id"] for s in detail.json()["spans"]) == Counter(s["span_id"] for s in traced_search.spans)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "trace_not_found")


def test_given_the_local_stack_then_the_trace_view_page_is_served_with_the_sites_security_headers(local_stack):
    page = requests.get(f"{local_stack.url}/traces", timeout=10)
    script = requests.get(f"{local_stack.url}/traces/traces.js", timeout=10)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/traces/traces.js">' in page.text
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == page.headers["content-security-policy"]
    assert requests.get(f"{local_stack.url}/traces/missing.js", timeout=10).status_code == 403


def test_given_a_search_then_wikiroam_trace_prints_its_waterfall_from_cloudwatch_logs(
    traced_search, local_stack, capsys
):
    status = wikiroam(["trace", traced_search.trace_id, "--endpoint-url", local_stack.endpoint_url, "--quiet"])

    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert lines[0].startswith(f"trace {traced_search.trace_id}: {len(traced_search.spans)} spans, 3 errors")
    assert len(lines) == 1 + len(traced_search.spans)
    assert lines[1].startswith("GET /api/search ")
    assert sum("! " in line for line in lines[1:]) == 3
    # Nesting: the execution spans sit deeper than the trigger that started them.
    indent = {line.strip().split("  ")[0]: len(line) - len(line.lstrip()) for line in lines[1:]}
    assert indent["cache-trigger"] < indent["StepFunctions.Execution"] < indent["CacheBacklinks"]
