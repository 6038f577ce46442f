"""Every handler through its Lambda entry point, with recorded events, moto's AWS and the sample wiki."""

from __future__ import annotations

import json
import logging

import boto3
import pytest

from functions import settings
from functions.contract import API_ROUTES
from functions.errors import (
    BacklinksNotFinished,
    ClaimLost,
    InvalidCacheRequest,
    InvalidTaskPayload,
    WikiApiError,
    WikiUnavailable,
)
from functions.handlers import SandboxApp, api, cache_steps, trigger
from functions.store import LinkStore, PageStore
from local.gateway import Route
from tests.conftest import load_event
from tests.support.telemetry import attributes

PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
FAIL_MACHINE = {"StartAt": "Failed", "States": {"Failed": {"Type": "Fail", "Error": "CachingFailed", "Cause": "t"}}}


class Context:
    """Lambda's context object, with a clock the test sets."""

    function_name = "wikiroam-test"
    aws_request_id = "c0ffee00-0000-4000-8000-000000000000"

    def __init__(self, remaining_ms: int = 180_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def env(aws, wiki, sync_executions, monkeypatch):
    """Given every function's environment pointing at moto and the sample wiki, and cold sandboxes."""
    return _environment(monkeypatch, wiki, aws)


def _environment(monkeypatch, wiki, aws) -> dict[str, str]:
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="wikiroam-cache", definition=json.dumps(PASS_MACHINE), roleArn=role, type="EXPRESS"
    )["stateMachineArn"]
    failing = sfn.create_state_machine(
        name="wikiroam-cache-failing", definition=json.dumps(FAIL_MACHINE), roleArn=role, type="EXPRESS"
    )["stateMachineArn"]
    values = {
        settings.WIKI_API_URL: wiki.api_url,
        settings.WIKI_CONTACT: "ops@wikiroam.test",
        settings.WIKI_TIMEOUT_SECONDS: "1",
        settings.PAGES_TABLE: aws.pages_table,
        settings.LINKS_TABLE: aws.links_table,
        settings.CACHE_TOPIC_ARN: aws.topic_arn,
        settings.STATE_MACHINE_ARN: machine,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(api, "app", SandboxApp(api.build))
    monkeypatch.setattr(trigger, "app", SandboxApp(trigger.build))
    monkeypatch.setattr(cache_steps, "app", SandboxApp(cache_steps.build))
    return {**values, "failing_state_machine": failing}


# The deployed routes, matched as API Gateway matches them (the function only ever sees a matched route).
ROUTES = [Route(*key.split(" ", 1), function_arn="api") for key in API_ROUTES.values()]


def call_api(path: str, query: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict]:
    matched = next(((r, p) for r in ROUTES if (p := r.match(method, path)) is not None), None)
    if matched is None:
        # What an HTTP API answers itself for a request none of its routes serves: the function is not invoked.
        return 404, {"message": "Not Found"}
    route, parameters = matched
    event = load_event("api_search")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = event["requestContext"]["routeKey"] = route.key
    if parameters:
        event["pathParameters"] = parameters
    event.pop("queryStringParameters")
    if query is not None:
        event["queryStringParameters"] = query
    response = api.handler(event, Context())
    assert response["headers"]["content-type"].startswith("application/json")
    return response["statusCode"], json.loads(response["body"])


def task(name: str, pageid: int, title: str, execution: str = "exec-1", retry: int = 0) -> dict:
    event = load_event("task_cache_start")
    event["input"]["page"] = {"pageid": pageid, "title": title}
    event["context"].update(state_name=name, execution_id=execution, retry_count=retry)
    return event


def cache_fully(pageid: int, title: str, execution: str = "exec-1") -> None:
    assert cache_steps.start(task("CacheStart", pageid, title, execution), Context())["proceed"]
    assert cache_steps.info(task("CacheInfo", pageid, title, execution), Context())["found"]
    assert cache_steps.backlinks(task("CacheBacklinks", pageid, title, execution), Context())["status"] == "complete"


# --- api: search


def test_given_a_term_when_searching_then_cards_in_rank_order_and_one_cache_request(env, aws, wiki):
    status, body = call_api("/api/search", {"q": "  river  "})
    assert status == 200
    assert body["query"] == "river"
    expected = wiki.corpus.search("river")[:10]
    assert [r["pageid"] for r in body["results"]] == [p.pageid for p in expected]
    assert set(body["results"][0]) == {"pageid", "title", "extract", "url", "thumbnail", "cached"}
    assert not any(r["cached"] for r in body["results"])
    (request,) = aws.published()
    assert request == {
        "pages": [{"pageid": p.pageid, "title": p.title} for p in expected],
        "reason": "search",
    }


def test_given_some_results_cached_then_they_say_so_and_only_the_others_are_requested(env, aws, wiki):
    first, second = wiki.corpus.search("river")[:2]
    cache_fully(first.pageid, first.title)
    PageStore(aws.dynamodb, aws.pages_table).claim(second.pageid, second.title, "exec-live", 2e9, 900)
    _, body = call_api("/api/search", {"q": "river"})
    cached = {r["pageid"]: r["cached"] for r in body["results"]}
    assert cached[first.pageid] is True
    assert cached[second.pageid] is False
    (request,) = aws.published()
    requested = {p["pageid"] for p in request["pages"]}
    # The cached page and the one an execution is working on are not requested again.
    assert first.pageid not in requested
    assert second.pageid not in requested
    assert len(requested) == len(body["results"]) - 2


def test_given_a_term_with_no_hits_then_an_empty_list_and_nothing_published(env, aws):
    status, body = call_api("/api/search", {"q": "xylophonequasarzeppelin"})
    assert (status, body["results"]) == (200, [])
    assert aws.published() == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (None, "missing_query"),
        ({"q": ""}, "missing_query"),
        ({"q": "x" * 301}, "query_too_long"),
        ({"q": "ri\x07ver"}, "invalid_query"),
    ],
)
def test_given_a_bad_term_then_400_json_and_the_wiki_is_not_called(env, wiki, query, code):
    status, body = call_api("/api/search", query)
    assert status == 400
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert wiki.count() == 0


def test_given_the_wiki_down_then_503_json(env, wiki):
    wiki.faults.arm("503", count=None)
    status, body = call_api("/api/search", {"q": "river"})
    assert (status, body["error"]["code"]) == (503, "wiki_unavailable")


def test_given_the_wiki_timing_out_then_503_json_within_the_timeout_budget(env, wiki):
    wiki.faults.arm("timeout", count=None, delay=5)
    status, body = call_api("/api/search", {"q": "river"})
    assert (status, body["error"]["code"]) == (503, "wiki_unavailable")


def test_given_a_wiki_api_error_then_502_json_naming_it(env, wiki):
    wiki.faults.arm("error:internal_api_error_DBQueryError", count=None)
    status, body = call_api("/api/search", {"q": "river"})
    assert (status, body["error"]["code"]) == (502, "wiki_error")
    assert "internal_api_error_DBQueryError" in body["error"]["message"]


def test_given_the_topic_is_gone_then_the_reader_still_gets_results_and_the_failure_is_logged(env, monkeypatch, caplog):
    monkeypatch.setenv(settings.CACHE_TOPIC_ARN, env[settings.CACHE_TOPIC_ARN] + "-deleted")
    with caplog.at_level(logging.ERROR):
        status, body = call_api("/api/search", {"q": "river"})
    assert status == 200
    assert body["results"]
    assert "could not publish a cache request" in caplog.text


def test_given_the_table_is_missing_then_503_json_not_a_traceback(env, monkeypatch):
    monkeypatch.setenv(settings.PAGES_TABLE, "no-such-table")
    status, body = call_api("/api/search", {"q": "river"})
    assert (status, body["error"]["code"]) == (503, "storage_unavailable")


# --- api: pages and backlinks


def test_given_a_cached_page_then_it_is_served_from_the_table_without_the_wiki(env, wiki):
    hub = wiki.corpus.hub
    cache_fully(hub.pageid, hub.title)
    wiki.reset_log()
    status, body = call_api(f"/api/pages/{hub.pageid}")
    assert status == 200
    assert body["backlinks_status"] == "complete"
    assert body["backlinks_count"] == len(wiki.corpus.backlinks_of(hub.pageid))
    assert body["title"] == hub.title
    assert body["cached_at"]
    assert wiki.count() == 0


def test_given_a_page_nobody_cached_then_it_comes_from_the_wiki_as_pending_and_is_requested(env, aws, wiki):
    page = wiki.corpus.by_title("Rock & roll")
    status, body = call_api(f"/api/pages/{page.pageid}")
    assert status == 200
    assert (body["title"], body["backlinks_status"], body["cached_at"]) == ("Rock & roll", "pending", None)
    assert aws.published() == [{"pages": [{"pageid": page.pageid, "title": "Rock & roll"}], "reason": "page"}]


def test_given_an_unknown_page_then_404_and_a_non_numeric_one_400(env):
    assert call_api("/api/pages/999999")[0] == 404
    status, body = call_api("/api/pages/abc")
    assert (status, body["error"]["code"]) == (400, "invalid_pageid")
    assert call_api("/api/pages/12/backlinks", {"limit": "0"})[1]["error"]["code"] == "invalid_limit"


def test_backlinks_are_paged_with_cursors_until_every_one_is_served(env, wiki):
    hub = wiki.corpus.hub
    cache_fully(hub.pageid, hub.title)
    seen, cursor = [], None
    while True:
        status, body = call_api(f"/api/pages/{hub.pageid}/backlinks", {"cursor": cursor} if cursor else {})
        assert status == 200
        assert body["backlinks_status"] == "complete"
        seen.extend(b["pageid"] for b in body["backlinks"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [p.pageid for p in wiki.corpus.backlinks_of(hub.pageid)]
    status, body = call_api(f"/api/pages/{hub.pageid}/backlinks", {"cursor": "forged"})
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")


def test_backlinks_of_a_page_never_opened_are_404_page_not_cached(env):
    status, body = call_api("/api/pages/1000/backlinks")
    assert (status, body["error"]["code"]) == (404, "page_not_cached")


def test_health_unknown_routes_and_methods(env):
    assert call_api("/api/health") == (200, {"status": "ok"})
    # Unknown paths and methods are API Gateway's to answer: they never reach the function.
    assert call_api("/api/nope") == (404, {"message": "Not Found"})
    assert call_api("/api/search", {"q": "x"}, method="POST") == (404, {"message": "Not Found"})


def test_given_an_event_of_no_wikiroam_route_then_the_function_answers_400_not_a_500(env):
    event = load_event("api_search")
    event["routeKey"] = "POST /api/search"
    response = api.handler(event, Context())
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "bad_request"


def test_given_a_missing_setting_then_the_first_invocation_fails_naming_it(env, monkeypatch):
    monkeypatch.delenv(settings.CACHE_TOPIC_ARN)
    with pytest.raises(settings.ConfigurationError, match=settings.CACHE_TOPIC_ARN):
        call_api("/api/health")


# --- trigger


def test_given_a_cache_request_then_one_execution_per_page_with_the_documented_input(env):
    result = trigger.handler(load_event("sns_cache_request"), Context())
    sfn = boto3.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=env[settings.STATE_MACHINE_ARN])["executions"]
    assert sorted(e["name"] for e in executions) == [
        "1000-95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "1001-95df01b4-ee98-5cb9-9903-4c221d41eb5e",
    ]
    assert len(result["executions"]) == 2
    described = sfn.describe_execution(executionArn=result["executions"][0])
    assert json.loads(described["input"]) == {"page": {"pageid": 1000, "title": "Zürich"}, "reason": "search"}


def test_given_an_execution_that_fails_then_the_trigger_reports_it_and_does_not_fail_the_event(env, monkeypatch):
    # The Catch path has marked the page failed by then: retrying the whole event would only run it again.
    monkeypatch.setenv(settings.STATE_MACHINE_ARN, env["failing_state_machine"])
    monkeypatch.setattr(trigger, "app", SandboxApp(trigger.build))

    result = trigger.handler(load_event("sns_cache_request"), Context())

    assert len(result["executions"]) == 2
    assert sorted(f["pageid"] for f in result["failed"]) == [1000, 1001]
    assert {(f["status"], f["error"]) for f in result["failed"]} == {("FAILED", "CachingFailed")}


def test_given_too_little_time_left_for_an_execution_then_its_pages_go_back_on_the_topic(env, aws):
    # 100 s left: the first page starts (61 s of worst wait + 10 s of margin fit: last start at 29 s), then the
    # clock is past the last start. A clock that jumps lets the test see both sides without waiting.
    ticks = iter([0.0, 0.0, 100.0, 100.0, 100.0])
    built = trigger.build(dict(env))
    built._clock = lambda: next(ticks, 100.0)

    result = built(load_event("sns_cache_request"), Context(remaining_ms=100_000))

    assert (len(result["executions"]), result["put_back"]) == (1, 1)
    assert aws.published() == [{"pages": [{"pageid": 1001, "title": "AC/DC"}], "reason": "search"}]


def test_given_no_time_left_for_any_execution_then_every_page_goes_back_and_none_starts(env, aws):
    result = trigger.handler(load_event("sns_cache_request"), Context(remaining_ms=30_000))

    assert (result["executions"], result["put_back"]) == ([], 2)
    sfn = boto3.client("stepfunctions")
    assert sfn.list_executions(stateMachineArn=env[settings.STATE_MACHINE_ARN])["executions"] == []
    (request,) = aws.published()
    assert [p["pageid"] for p in request["pages"]] == [1000, 1001]


@pytest.mark.parametrize(
    "message",
    ["not json", json.dumps({"pages": [{"pageid": "x", "title": "A"}], "reason": "search"})],
)
def test_given_one_malformed_record_then_invalid_cache_request_and_no_execution_at_all(env, message):
    event = load_event("sns_cache_request")
    bad = json.loads(json.dumps(event["Records"][0]))
    bad["Sns"]["Message"] = message
    event["Records"].append(bad)
    with pytest.raises(InvalidCacheRequest):
        trigger.handler(event, Context())
    sfn = boto3.client("stepfunctions")
    assert sfn.list_executions(stateMachineArn=env[settings.STATE_MACHINE_ARN])["executions"] == []


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": [{"Sns": {}}]}, {"Records": ["x"]}])
def test_given_an_event_that_is_not_sns_then_invalid_cache_request(env, event):
    with pytest.raises(InvalidCacheRequest):
        trigger.handler(event, Context())


# --- cache steps


def test_cache_start_claims_once_and_stops_a_second_execution(env):
    assert cache_steps.start(task("CacheStart", 1109, "Zürich", "exec-1"), Context()) == {
        "proceed": True,
        "reason": "claimed",
    }
    assert cache_steps.start(task("CacheStart", 1109, "Zürich", "exec-2"), Context()) == {
        "proceed": False,
        "reason": "in_progress",
    }


def test_given_a_cached_page_then_cache_start_stops_with_cached(env, wiki):
    page = wiki.corpus.by_title("C++")
    cache_fully(page.pageid, page.title)
    assert cache_steps.start(task("CacheStart", page.pageid, page.title, "exec-9"), Context()) == {
        "proceed": False,
        "reason": "cached",
    }


def test_cache_info_writes_the_article_with_its_thumbnail_and_url(env, aws, wiki):
    page = wiki.corpus.by_title("Zürich")
    cache_steps.start(task("CacheStart", page.pageid, page.title), Context())
    assert cache_steps.info(task("CacheInfo", page.pageid, page.title), Context()) == {"found": True, "title": "Zürich"}
    record = PageStore(aws.dynamodb, aws.pages_table).get(page.pageid)
    assert record.extract == page.extract
    assert record.url == wiki.page_url("Zürich")
    assert (record.thumbnail is not None) == (page.image is not None)
    assert record.lastrevid == page.lastrevid
    assert record.cached_at
    assert wiki.requests[0].params["maxlag"] == "5"


def test_given_a_page_deleted_from_the_wiki_then_cache_info_releases_it(env, aws):
    cache_steps.start(task("CacheStart", 999_999, "Gone"), Context())
    assert cache_steps.info(task("CacheInfo", 999_999, "Gone"), Context()) == {"found": False}
    assert PageStore(aws.dynamodb, aws.pages_table).get(999_999) is None


def test_the_hubs_backlinks_are_all_cached_in_two_wiki_requests_and_packed_chunks(env, aws, wiki, monkeypatch):
    hub = wiki.corpus.hub
    writes: list[str] = []

    def count_writes(event_name, **_):
        writes.append(event_name.rsplit(".", 1)[-1])

    # The handler builds its clients from boto3's default session: count every chunk write it sends.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3.session.Session())
    for operation in ("PutItem", "TransactWriteItems", "BatchWriteItem"):
        boto3.DEFAULT_SESSION.events.register(f"provide-client-params.dynamodb.{operation}", count_writes)
    cache_steps.start(task("CacheStart", hub.pageid, hub.title), Context())
    cache_steps.info(task("CacheInfo", hub.pageid, hub.title), Context())
    wiki.reset_log()
    result = cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title), Context())
    expected = wiki.corpus.backlinks_of(hub.pageid)
    assert len(expected) >= 600
    assert result == {"status": "complete", "count": len(expected), "wiki_requests": 2}
    assert wiki.count(list="backlinks") == 2
    # One write per batch of the wiki's (500 links, then the rest), each a chunk or a split of chunks.
    assert "BatchWriteItem" not in writes
    assert len(writes) <= 4
    cached = []
    cursor = None
    while True:
        links, cursor = LinkStore(aws.dynamodb, aws.links_table).backlinks(hub.pageid, cursor=cursor, limit=200)
        cached.extend((link.fromid, link.from_title) for link in links)
        if cursor is None:
            break
    assert cached == sorted((page.pageid, page.title) for page in expected)


def test_given_the_wiki_fails_mid_way_then_progress_is_kept_and_the_retry_resumes(env, aws, wiki):
    hub = wiki.corpus.hub
    cache_steps.start(task("CacheStart", hub.pageid, hub.title), Context())
    cache_steps.info(task("CacheInfo", hub.pageid, hub.title), Context())
    wiki.reset_log()
    wiki.faults.arm("503", count=None, match="blcontinue")
    with pytest.raises(WikiUnavailable):
        cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title), Context())
    record = PageStore(aws.dynamodb, aws.pages_table).get(hub.pageid)
    assert (record.backlinks_status, record.backlinks_count) == ("pending", 500)
    wiki.faults.clear()
    wiki.reset_log()
    result = cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title, retry=1), Context())
    assert result["status"] == "complete"
    assert result["count"] == len(wiki.corpus.backlinks_of(hub.pageid))
    assert wiki.count(list="backlinks") == 1  # only the part it had not fetched


def test_given_little_time_left_then_backlinks_stop_cleanly_and_resume(env, aws, wiki):
    hub = wiki.corpus.hub
    cache_steps.start(task("CacheStart", hub.pageid, hub.title), Context())
    with pytest.raises(BacklinksNotFinished):
        cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title), Context(remaining_ms=5_000))
    assert PageStore(aws.dynamodb, aws.pages_table).get(hub.pageid).backlinks_count == 500
    result = cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title, retry=1), Context())
    assert result["count"] == len(wiki.corpus.backlinks_of(hub.pageid))


def test_given_more_backlinks_than_the_cap_then_the_page_is_partial_not_silently_short(env, aws, wiki, monkeypatch):
    monkeypatch.setenv(settings.MAX_BACKLINKS, "100")
    hub = wiki.corpus.hub
    cache_steps.start(task("CacheStart", hub.pageid, hub.title), Context())
    cache_steps.info(task("CacheInfo", hub.pageid, hub.title), Context())
    result = cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title), Context())
    assert result["status"] == "partial"
    record = PageStore(aws.dynamodb, aws.pages_table).get(hub.pageid)
    assert record.backlinks_status == "partial"
    assert record.backlinks_resume is not None
    _, body = call_api(f"/api/pages/{hub.pageid}")
    assert body["backlinks_status"] == "partial"


def test_an_execution_that_lost_its_claim_cannot_write(env):
    cache_steps.start(task("CacheStart", 1109, "Zürich", "exec-1"), Context())
    with pytest.raises(ClaimLost):
        cache_steps.info(task("CacheInfo", 1109, "Zürich", "exec-other"), Context())


@pytest.mark.parametrize("step", [cache_steps.start, cache_steps.info, cache_steps.backlinks])
@pytest.mark.parametrize("event", [{}, {"input": {}, "context": {}}, {"input": {"page": {"pageid": 1}}}])
def test_given_a_malformed_task_payload_then_invalid_task_payload_and_nothing_written(env, aws, wiki, step, event):
    with pytest.raises(InvalidTaskPayload):
        step(event, Context())
    assert aws.dynamodb.scan(TableName=aws.pages_table)["Count"] == 0
    assert wiki.count() == 0


# --- cache steps: a failure that ends the execution is recorded on the page


def test_given_retries_left_then_a_transient_failure_leaves_the_page_pending_for_the_retry(env, aws, wiki):
    hub = wiki.corpus.hub
    cache_steps.start(task("CacheStart", hub.pageid, hub.title), Context())
    cache_steps.info(task("CacheInfo", hub.pageid, hub.title), Context())
    wiki.faults.arm("503", count=None, match="blcontinue")

    with pytest.raises(WikiUnavailable):
        cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title, retry=2), Context())

    record = PageStore(aws.dynamodb, aws.pages_table).get(hub.pageid)
    assert (record.backlinks_status, record.claimed_by, record.caching_error) == ("pending", "exec-1", None)


def test_given_the_last_retry_fails_then_the_page_is_failed_with_the_error_name_and_free_to_claim(env, aws, wiki):
    hub = wiki.corpus.hub
    cache_steps.start(task("CacheStart", hub.pageid, hub.title), Context())
    cache_steps.info(task("CacheInfo", hub.pageid, hub.title), Context())
    wiki.faults.arm("503", count=None, match="blcontinue")

    with pytest.raises(WikiUnavailable):
        cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title, retry=3), Context())

    store = PageStore(aws.dynamodb, aws.pages_table)
    record = store.get(hub.pageid)
    assert (record.backlinks_status, record.caching_error, record.claimed_by) == ("failed", "WikiUnavailable", None)
    assert record.backlinks_count == 500  # the progress a later execution resumes from
    status, page = call_api(f"/api/pages/{hub.pageid}")
    assert status == 200
    assert (page["backlinks_status"], page["caching_error"]) == ("failed", "WikiUnavailable")
    assert [p["pageid"] for m in aws.published() for p in m["pages"]] == [hub.pageid]  # requested again
    wiki.faults.clear()
    assert cache_steps.start(task("CacheStart", hub.pageid, hub.title, execution="exec-2"), Context())["proceed"]
    assert (
        cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title, execution="exec-2"), Context())["status"]
        == "complete"
    )
    assert store.get(hub.pageid).caching_error is None


def test_given_an_error_no_retry_matches_then_the_page_is_failed_at_once(env, aws, wiki):
    page = wiki.corpus.by_title("Zürich")
    cache_steps.start(task("CacheStart", page.pageid, page.title), Context())
    wiki.faults.arm("error:internal_api_error_DBQueryError", count=None)

    with pytest.raises(WikiApiError):
        cache_steps.info(task("CacheInfo", page.pageid, page.title), Context())

    wiki.faults.clear()
    status, body = call_api(f"/api/pages/{page.pageid}")
    assert status == 200
    assert (body["title"], body["backlinks_status"], body["caching_error"]) == ("Zürich", "failed", "WikiApiError")


def test_given_a_step_failing_before_its_claim_then_nothing_is_recorded(env, aws, wiki):
    page = wiki.corpus.by_title("Zürich")
    cache_steps.start(task("CacheStart", page.pageid, page.title, execution="exec-a"), Context())

    with pytest.raises(ClaimLost):
        cache_steps.info(task("CacheInfo", page.pageid, page.title, execution="exec-b", retry=3), Context())

    record = PageStore(aws.dynamodb, aws.pages_table).get(page.pageid)
    assert (record.backlinks_status, record.claimed_by) == ("pending", "exec-a")


# --- what the steps' spans say about the outcome (span-based metrics count these attributes)


def test_given_a_page_cached_to_the_end_then_its_backlinks_span_says_complete_and_counts_the_links(env, wiki, span_log):
    hub = wiki.corpus.hub
    cache_fully(hub.pageid, hub.title)
    values = attributes(span_log.named("cache-backlinks"))
    assert values["wikiroam.cache.outcome"] == "complete"
    assert values["wikiroam.backlinks.written"] == len(wiki.corpus.backlinks_of(hub.pageid))
    assert "wikiroam.cache.outcome" not in attributes(span_log.named("cache-info"))


def test_given_a_run_cut_short_then_its_span_counts_the_links_it_wrote_and_claims_no_outcome(env, wiki, span_log):
    hub = wiki.corpus.hub
    cache_steps.start(task("CacheStart", hub.pageid, hub.title), Context())
    with pytest.raises(BacklinksNotFinished):
        cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title), Context(remaining_ms=5_000))
    values = attributes(span_log.named("cache-backlinks"))
    assert values["wikiroam.backlinks.written"] == 500
    assert "wikiroam.cache.outcome" not in values


def test_given_more_backlinks_than_the_cap_then_the_span_says_partial(env, wiki, span_log, monkeypatch):
    monkeypatch.setenv(settings.MAX_BACKLINKS, "100")
    hub = wiki.corpus.hub
    cache_steps.start(task("CacheStart", hub.pageid, hub.title), Context())
    cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title), Context())
    assert attributes(span_log.named("cache-backlinks"))["wikiroam.cache.outcome"] == "partial"


def test_given_an_error_that_ends_the_execution_then_the_span_says_failed_with_its_name(env, wiki, span_log):
    cache_steps.start(task("CacheStart", 1109, "Zürich"), Context())
    wiki.faults.arm("error:internal_api_error_DBQueryError", count=None)
    with pytest.raises(WikiApiError):
        cache_steps.info(task("CacheInfo", 1109, "Zürich"), Context())
    values = attributes(span_log.named("cache-info"))
    assert (values["wikiroam.cache.outcome"], values["wikiroam.cache.error"]) == ("failed", "WikiApiError")


def test_given_a_transient_error_with_retries_left_then_the_span_claims_no_outcome(env, wiki, span_log):
    cache_steps.start(task("CacheStart", 1109, "Zürich"), Context())
    wiki.faults.arm("503", count=None)
    with pytest.raises(WikiUnavailable):
        cache_steps.info(task("CacheInfo", 1109, "Zürich"), Context())
    assert "wikiroam.cache.outcome" not in attributes(span_log.named("cache-info"))
