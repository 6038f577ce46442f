"""`wikiroam redrive`'s pure parts: which pages it re-requests, and what it reads off dead-letter messages."""

from __future__ import annotations

import json

from functions.contract import CACHE_REQUEST_MARKER_SECONDS, CLAIM_LEASE_SECONDS
from functions.errors import WriteThrottled
from functions.store import PageRecord
from wikiroam_cli.redrive import Redriver, RedriveResult, StackTargets, cache_requests_in, plan_redrive

NOW = 1_795_806_539.0
REQUEST = json.dumps({"pages": [{"pageid": 7, "title": "Seven"}], "reason": "search"})


def record(pageid: int, status: str, **fields) -> PageRecord:
    values = {
        "title": f"Page {pageid}",
        "extract": "",
        "url": "",
        "thumbnail": None,
        "lastrevid": None,
        "cached_at": None,
        "backlinks_count": 0,
        "claimed_by": None,
        "claimed_at": None,
        "backlinks_resume": None,
    }
    return PageRecord(pageid=pageid, backlinks_status=status, **{**values, **fields})  # type: ignore[arg-type]


def test_given_every_kind_of_page_then_redrive_takes_failed_stalled_and_lost_and_reports_partial_apart():
    plan = plan_redrive(
        [
            record(1, "complete", cached_at="x"),
            record(2, "failed", caching_error="Sandbox.Timedout"),
            record(3, "pending", claimed_by="e", claimed_at=NOW - CLAIM_LEASE_SECONDS - 1),
            record(4, "pending", claimed_by="e", claimed_at=NOW - 5),  # live claim: at work
            record(5, "pending", requested_at=NOW - CACHE_REQUEST_MARKER_SECONDS - 1),  # never claimed
            record(6, "pending", requested_at=NOW - 5),  # in flight
            record(7, "partial", cached_at="x"),
        ],
        NOW,
    )
    assert [r.pageid for r in plan.to_request(include_partial=False)] == [2, 3, 5]
    assert [r.pageid for r in plan.partial] == [7]
    assert [r.pageid for r in plan.to_request(include_partial=True)] == [2, 3, 5, 7]
    assert plan.scanned == 7


def test_a_dead_letter_message_yields_its_cache_requests_whatever_way_it_reached_the_queue():
    sns_event = {"Records": [{"Sns": {"Message": REQUEST}}, {"Sns": {"Message": REQUEST}}]}
    assert cache_requests_in(REQUEST) == [REQUEST]
    assert cache_requests_in(json.dumps({"Type": "Notification", "Message": REQUEST})) == [REQUEST]
    assert cache_requests_in(json.dumps(sns_event)) == [REQUEST, REQUEST]
    assert cache_requests_in(json.dumps({"requestPayload": sns_event, "responsePayload": {}})) == [REQUEST, REQUEST]


def test_a_dead_letter_message_without_a_valid_request_yields_nothing_to_replay():
    assert cache_requests_in("not json") == []
    assert cache_requests_in(json.dumps({"pages": [], "reason": "search"})) == []
    assert cache_requests_in(json.dumps({"Message": "{}"})) == []


class ThrottledPages:
    """A pages table that throttles every marker write past the client's attempts, as under an incident."""

    def __init__(self) -> None:
        self.cleared: list[int] = []

    def mark_requested(self, pageid: int, title: str, now: float, ttl_seconds: float) -> bool:
        raise WriteThrottled("PageStore.mark_requested: DynamoDB still throttled")

    def clear_requested(self, pageid: int, requested_at: float) -> bool:
        raise WriteThrottled("PageStore.clear_requested: DynamoDB still throttled")


class Topic:
    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, **message) -> dict:
        self.published.append(json.loads(message["Message"]))
        return {"MessageId": "m-1"}


def test_given_a_table_throttling_the_markers_then_redrive_still_requests_the_pages_as_the_api_does():
    topic = Topic()
    targets = StackTargets(pages_table="pages", topic_arn="arn:aws:sns:us-east-1:1:cache", dlq_url=None)
    redriver = Redriver(targets, pages=ThrottledPages(), sns=topic, clock=lambda: NOW)  # type: ignore[arg-type]
    result = RedriveResult()

    redriver.request([record(2, "failed", caching_error="WriteThrottled")], result)

    assert result.requested == [2]
    assert [page["pageid"] for message in topic.published for page in message["pages"]] == [2]
