"""The api's `requested` marker through the api function: a page whose request is in flight is not published again."""

from __future__ import annotations

import logging

import pytest

from functions import settings
from functions.contract import CACHE_REQUEST_MARKER_SECONDS
from functions.store import PageStore
from tests.integration.test_handlers import Context, call_api, env, task  # noqa: F401 (env: a fixture)

# Every function's environment pointing at moto and the sample wiki, and cold sandboxes (test_handlers' `env`).
pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture
def pages(aws):
    return PageStore(aws.dynamodb, aws.pages_table)


def age_marker(aws, pageid: int, seconds: float) -> None:
    """Move a page's marker `seconds` into the past, as if its request had been published that long ago."""
    item = aws.dynamodb.get_item(TableName=aws.pages_table, Key={"pageid": {"N": str(pageid)}})["Item"]
    older = float(item["requested_at"]["N"]) - seconds
    aws.dynamodb.update_item(
        TableName=aws.pages_table,
        Key={"pageid": {"N": str(pageid)}},
        UpdateExpression="SET requested_at = :at",
        ExpressionAttributeValues={":at": {"N": str(older)}},
    )


def test_given_a_search_in_flight_when_a_reader_searches_again_then_nothing_is_published_twice(aws, wiki):
    call_api("/api/search", {"q": "river"})
    (first,) = aws.published()

    status, body = call_api("/api/search", {"q": "river"})

    assert status == 200
    assert not any(r["cached"] for r in body["results"])  # still uncached: its request is on the way
    assert aws.published() == []
    assert len(first["pages"]) == len(body["results"])


def test_given_a_page_polled_while_pending_then_only_the_first_view_requests_it(aws, wiki, pages):
    page = wiki.corpus.by_title("Rock & roll")
    for _ in range(3):
        status, body = call_api(f"/api/pages/{page.pageid}")
        assert (status, body["backlinks_status"], body["cached_at"]) == (200, "pending", None)

    assert aws.published() == [{"pages": [{"pageid": page.pageid, "title": "Rock & roll"}], "reason": "page"}]
    # The marker alone is not a page the pipeline wrote: its backlinks are not cached, as before any request.
    status, body = call_api(f"/api/pages/{page.pageid}/backlinks")
    assert (status, body["error"]["code"]) == (404, "page_not_cached")


def test_given_a_marker_older_than_its_life_then_the_page_is_requested_again(aws, wiki):
    page = wiki.corpus.by_title("Rock & roll")
    call_api(f"/api/pages/{page.pageid}")
    aws.published()

    age_marker(aws, page.pageid, CACHE_REQUEST_MARKER_SECONDS + 1)  # the request was lost (e.g. on the DLQ)
    call_api(f"/api/pages/{page.pageid}")

    assert [r["pages"][0]["pageid"] for r in aws.published()] == [page.pageid]


def test_given_a_search_then_pages_with_live_markers_are_left_out_of_the_next_request(aws, wiki):
    results = wiki.corpus.search("river")[:10]
    call_api(f"/api/pages/{results[0].pageid}")  # one page requested by a view just before
    aws.published()

    call_api("/api/search", {"q": "river"})

    (request,) = aws.published()
    assert [p["pageid"] for p in request["pages"]] == [p.pageid for p in results[1:]]


def test_given_the_execution_failed_then_the_next_view_requests_the_page_at_once(aws, wiki, pages):
    from functions.handlers import cache_steps

    page = wiki.corpus.by_title("Zürich")
    call_api(f"/api/pages/{page.pageid}")
    aws.published()
    assert cache_steps.start(task("CacheStart", page.pageid, page.title, "exec-1"), Context())["proceed"]
    pages.record_failure(page.pageid, "exec-1", "WikiApiError", 2e9)

    status, body = call_api(f"/api/pages/{page.pageid}")

    assert (status, body["backlinks_status"], body["caching_error"]) == (200, "failed", "WikiApiError")
    assert [r["pages"][0]["pageid"] for r in aws.published()] == [page.pageid]


def test_given_the_publish_fails_then_the_marker_is_removed_so_the_next_view_asks_again(
    aws, wiki, pages, monkeypatch, caplog
):
    page = wiki.corpus.by_title("Rock & roll")
    monkeypatch.setenv(settings.CACHE_TOPIC_ARN, aws.topic_arn + "-deleted")
    with caplog.at_level(logging.ERROR):
        call_api(f"/api/pages/{page.pageid}")
    assert "could not publish a cache request" in caplog.text
    assert pages.get(page.pageid).requested_at is None

    monkeypatch.setenv(settings.CACHE_TOPIC_ARN, aws.topic_arn)
    from functions.handlers import SandboxApp, api

    monkeypatch.setattr(api, "app", SandboxApp(api.build))  # a new sandbox, with the topic back
    call_api(f"/api/pages/{page.pageid}")

    assert [r["pages"][0]["pageid"] for r in aws.published()] == [page.pageid]
