"""The data access layer against moto's DynamoDB: claims, conditional writes, batches, cursors."""

from __future__ import annotations

import pytest

from functions.errors import ClaimLost, WriteThrottled
from functions.store import BATCH_WRITE_SIZE, LinkRecord, LinkStore, PageStore

NOW = 1_795_806_539.0
LEASE = 900.0


@pytest.fixture
def pages(aws):
    return PageStore(aws.dynamodb, aws.pages_table)


def _links(count: int, toid: int = 1) -> list[LinkRecord]:
    return [LinkRecord(fromid=100 + i, from_title=f"Page {i}", toid=toid, to_title="Hub") for i in range(count)]


class FlakyBatchWrites:
    """A DynamoDB client whose first BatchWriteItem calls leave some items unprocessed, like a throttled table."""

    def __init__(self, client, unprocessed_calls: int, keep: int = 5):
        self._client = client
        self.unprocessed_calls = unprocessed_calls
        self.keep = keep
        self.calls: list[int] = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems):
        ((table, requests),) = RequestItems.items()
        self.calls.append(len(requests))
        if self.unprocessed_calls > 0:
            self.unprocessed_calls -= 1
            done, left = requests[: -self.keep], requests[-self.keep :]
            if done:
                self._client.batch_write_item(RequestItems={table: done})
            return {"UnprocessedItems": {table: left}}
        return self._client.batch_write_item(RequestItems=RequestItems)


def test_given_an_uncached_page_when_two_executions_claim_it_then_only_the_first_wins(pages):
    assert pages.claim(1, "Zürich", "exec-a", NOW, LEASE) is True
    assert pages.claim(1, "Zürich", "exec-b", NOW + 1, LEASE) is False
    # A retry of the owning execution keeps its claim.
    assert pages.claim(1, "Zürich", "exec-a", NOW + 2, LEASE) is True
    record = pages.get(1)
    assert (record.claimed_by, record.backlinks_status, record.title) == ("exec-a", "pending", "Zürich")


def test_given_a_stalled_claim_past_its_lease_then_another_execution_takes_over(pages):
    assert pages.claim(1, "A", "exec-a", NOW, LEASE)
    assert pages.claim(1, "A", "exec-b", NOW + LEASE + 1, LEASE)
    with pytest.raises(ClaimLost):
        pages.save_backlinks_progress(pageid=1, owner="exec-a", count=3, status="complete", resume=None)


def test_given_a_completed_page_then_nobody_can_claim_it_again(pages):
    pages.claim(1, "A", "exec-a", NOW, LEASE)
    pages.save_backlinks_progress(pageid=1, owner="exec-a", count=3, status="complete", resume=None)
    assert pages.claim(1, "A", "exec-b", NOW + 10 * LEASE, LEASE) is False
    record = pages.get(1)
    assert record.cached
    assert record.claimed_by is None
    assert record.backlinks_count == 3


def test_info_and_progress_are_written_only_by_the_owner(pages):
    pages.claim(7, "C++", "exec-a", NOW, LEASE)
    info = {
        "pageid": 7,
        "title": "C++",
        "extract": "A language.",
        "url": "http://wiki/C%2B%2B",
        "thumbnail": None,
        "lastrevid": 42,
        "cached_at": "2026-11-27T19:09:00+00:00",
    }
    with pytest.raises(ClaimLost):
        pages.save_info(owner="exec-b", **info)
    pages.save_info(owner="exec-a", **info)
    pages.save_backlinks_progress(pageid=7, owner="exec-a", count=500, status="pending", resume={"blcontinue": "0|9"})
    record = pages.get(7)
    assert (record.extract, record.lastrevid, record.thumbnail) == ("A language.", 42, None)
    assert record.backlinks_resume == {"blcontinue": "0|9"}
    assert not record.cached


def test_get_many_returns_only_the_pages_in_the_table(pages):
    for pageid in (1, 2, 150):
        pages.claim(pageid, f"P{pageid}", "exec", NOW, LEASE)
    found = pages.get_many(list(range(1, 160)))
    assert sorted(found) == [1, 2, 150]


def test_links_are_written_25_per_request(aws):
    client = FlakyBatchWrites(aws.dynamodb, unprocessed_calls=0)
    store = LinkStore(client, aws.links_table)
    assert store.put_many(_links(612)) == 612
    assert max(client.calls) == BATCH_WRITE_SIZE
    assert len(client.calls) == 25  # ceil(612 / 25)


def test_given_unprocessed_items_then_they_are_retried_with_backoff_until_written(aws):
    client = FlakyBatchWrites(aws.dynamodb, unprocessed_calls=3)
    sleeps: list[float] = []
    store = LinkStore(client, aws.links_table, sleep=sleeps.append)
    store.put_many(_links(30))
    assert len(sleeps) == 3
    links, cursor = store.backlinks(1, cursor=None, limit=100)
    assert len(links) == 30
    assert cursor is None


def test_given_a_table_that_stays_throttled_then_write_throttled_after_bounded_attempts(aws):
    client = FlakyBatchWrites(aws.dynamodb, unprocessed_calls=100)
    store = LinkStore(client, aws.links_table, max_attempts=4, sleep=lambda _: None)
    with pytest.raises(WriteThrottled):
        store.put_many(_links(10))
    assert len(client.calls) == 4


def test_backlinks_are_paged_with_opaque_cursors_in_fromid_order(aws):
    store = LinkStore(aws.dynamodb, aws.links_table)
    store.put_many(_links(120))
    store.put_many(_links(5, toid=2))
    seen: list[int] = []
    cursor = None
    while True:
        links, cursor = store.backlinks(1, cursor=cursor, limit=50)
        seen.extend(link.fromid for link in links)
        if cursor is None:
            break
    assert seen == [100 + i for i in range(120)]
