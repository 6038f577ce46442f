"""The gap check on the whole local stack: `wikiroam gaps --local` invokes the deployed gap-check function, which
marks a page whose cached backlinks count differs from the sample wiki's, and its span reaches the shipped traces
as the cache-gaps monitor's metric counts it (`pipeline.pages{outcome:failed, error:BacklinksGap}`)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest
import requests

from functions.caching import CACHE_ERROR, CACHE_OUTCOME
from functions.gaps import GAP_ERROR, GAPS_FOUND, PAGE_SPAN_NAME, PAGES_COMPARED, WIKI_REQUESTS
from local.stack import LocalStack, StackOptions
from wikiroam_cli.__main__ import main as wikiroam

# "rivers" finds River, The Burning Rivers and Earth: three pages the pipeline caches complete.
TERM = "rivers"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """Given WikiRoam deployed on this machine, with the pages of one search cached complete."""
    with LocalStack(StackOptions(retry_delays=(0.01, 0.02))) as stack:
        answer = requests.get(f"{stack.url}/api/search", params={"q": TERM}, timeout=30)
        assert answer.status_code == 200, answer.text
        pageids = [r["pageid"] for r in answer.json()["results"]]
        stack.wait_until_cached(pageids, timeout=120)
        assert stack.wait_idle(60)
        yield stack


def _page(stack: LocalStack, pageid: int) -> dict[str, Any]:
    table = stack.outputs["pagesTableName"]
    return stack.client("dynamodb").get_item(TableName=table, Key={"pageid": {"N": str(pageid)}}, ConsistentRead=True)[
        "Item"
    ]


def _complete_pages(stack: LocalStack) -> list[dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName=stack.outputs["pagesTableName"])["Items"]
    return [item for item in items if item.get("backlinks_status", {}).get("S") == "complete"]


def _gap_check_traces(stack: LocalStack) -> dict[str, list[dict[str, Any]]]:
    """The spans of every gap-check run's trace the local OTLP receiver holds, by trace id."""
    traces = {}
    for summary in stack.traces.recent(limit=1000):
        if summary["root_span_name"] == "gap-check":
            detail = stack.traces.detail(summary["trace_id"])
            assert detail is not None
            traces[summary["trace_id"]] = detail["spans"]
    return traces


def test_given_a_page_whose_cached_count_differs_when_wikiroam_gaps_runs_then_the_function_marks_it_and_its_span_is_shipped(  # noqa: E501
    stack: LocalStack,
):
    complete = _complete_pages(stack)
    assert complete, "the search cached no complete page"
    tampered = int(sorted(complete, key=lambda item: int(item["pageid"]["N"]))[0]["pageid"]["N"])
    stated = int(_page(stack, tampered)["backlinks_count"]["N"]) + 1
    # The cache claims one backlink more than it holds and the wiki lists: a gap.
    stack.client("dynamodb").update_item(
        TableName=stack.outputs["pagesTableName"],
        Key={"pageid": {"N": str(tampered)}},
        UpdateExpression="SET backlinks_count = :count",
        ExpressionAttributeValues={":count": {"N": str(stated)}},
    )
    printed = io.StringIO()

    # When the operator runs the gap check against the local stack (every complete page, budget to spare).
    with redirect_stdout(printed):
        status = wikiroam(["gaps", "--local", stack.url, "--quiet", "--sample", "1000", "--max-requests", "1000"])
    assert stack.wait_idle(60)

    # Then the deployed function compared the pages, marked the gap, and the command printed its report.
    output = printed.getvalue()
    assert status == 1, output
    assert f"stack: gap-check function {stack.outputs['gapCheckFunctionName']}" in output
    assert f"{tampered:>10}  cached {stated:>6}" in output
    assert "GAP -> marked failed (BacklinksGap)" in output
    assert f"summary: pages compared {len(complete)}, " in output
    page = _page(stack, tampered)
    assert page["backlinks_status"]["S"] == "failed"
    assert page["caching_error"]["S"] == GAP_ERROR

    # And its spans took the functions' path (log lines, the subscription, the shipper) to the OTLP receiver:
    # the page's span carries the outcome and error the span metric `pipeline.pages` counts.
    (spans,) = _gap_check_traces(stack).values()
    gaps = [
        s
        for s in spans
        if s["name"] == PAGE_SPAN_NAME
        and s["attributes"].get(CACHE_OUTCOME) == "failed"
        and s["attributes"].get(CACHE_ERROR) == GAP_ERROR
    ]
    assert [s["attributes"]["wikiroam.page.id"] for s in gaps] == [tampered], spans
    assert gaps[0]["attributes"]["wikiroam.backlinks.cached"] == stated
    # Pages without a gap are compared, but carry no outcome: the metric counts gaps only.
    compared = [s for s in spans if s["name"] == PAGE_SPAN_NAME]
    assert len(compared) == len(complete)
    assert all(CACHE_OUTCOME not in s["attributes"] for s in compared if s not in gaps)
    (root,) = [s for s in spans if s["name"] == "gap-check"]
    assert root["attributes"][PAGES_COMPARED] == len(complete)
    assert root["attributes"][GAPS_FOUND] >= 1
    assert root["attributes"][WIKI_REQUESTS] >= len(complete)
    assert root["attributes"]["faas.coldstart"] is True
    assert root["attributes"]["faas.trigger"] == "timer"


def test_given_a_dry_run_then_the_function_compares_but_marks_nothing_and_records_no_outcome(stack: LocalStack):
    before = {item["pageid"]["N"]: item["backlinks_status"]["S"] for item in _complete_pages(stack)}
    traces_before = set(_gap_check_traces(stack))
    stated = int(_page(stack, int(next(iter(before))))["backlinks_count"]["N"]) + 5
    stack.client("dynamodb").update_item(
        TableName=stack.outputs["pagesTableName"],
        Key={"pageid": {"N": next(iter(before))}},
        UpdateExpression="SET backlinks_count = :count",
        ExpressionAttributeValues={":count": {"N": str(stated)}},
    )
    printed = io.StringIO()

    with redirect_stdout(printed):
        status = wikiroam(["gaps", "--local", stack.url, "--quiet", "--sample", "1000", "--dry-run"])
    assert stack.wait_idle(60)

    assert status == 1, printed.getvalue()
    assert "(dry run: nothing marked)" in printed.getvalue()
    assert {item["pageid"]["N"]: item["backlinks_status"]["S"] for item in _complete_pages(stack)} == before
    (new_spans,) = [spans for trace_id, spans in _gap_check_traces(stack).items() if trace_id not in traces_before]
    assert len([s for s in new_spans if s["name"] == PAGE_SPAN_NAME]) == len(before)
    assert not [s for s in new_spans if CACHE_OUTCOME in s["attributes"]]


def test_given_direct_then_the_cli_runs_the_same_check_itself_and_no_gap_check_trace_is_shipped(stack: LocalStack):
    complete = _complete_pages(stack)
    tampered = int(complete[0]["pageid"]["N"])
    stated = int(complete[0]["backlinks_count"]["N"]) + 2
    stack.client("dynamodb").update_item(
        TableName=stack.outputs["pagesTableName"],
        Key={"pageid": {"N": str(tampered)}},
        UpdateExpression="SET backlinks_count = :count",
        ExpressionAttributeValues={":count": {"N": str(stated)}},
    )
    traces_before = set(_gap_check_traces(stack))
    printed, progress = io.StringIO(), io.StringIO()

    with redirect_stdout(printed), redirect_stderr(progress):
        status = wikiroam(["gaps", "--local", stack.url, "--direct", "--sample", "1000", "--seed", "1"])

    assert status == 1, printed.getvalue()
    assert f"wiki {stack.wiki_api_url}" in printed.getvalue()
    assert f"pages compared     [{'#' * 30}] {len(complete)}/{len(complete)}" in progress.getvalue()
    assert _page(stack, tampered)["caching_error"]["S"] == GAP_ERROR
    assert set(_gap_check_traces(stack)) == traces_before
