"""The data access layer against moto's DynamoDB: claims, conditional writes, batches, cursors."""

from __future__ import annotations

import itertools

import pytest
from botocore.exceptions import ClientError

from functions.errors import ClaimLost, WriteThrottled
from functions.store import (
    MAX_CONFLICT_ATTEMPTS,
    InvalidCursor,
    LinkRecord,
    LinkStore,
    LinkWriteConflict,
    PageStore,
    decode_links,
    encode_links,
)

NOW = 1_795_806_539.0
LEASE = 900.0


@pytest.fixture
def pages(aws):
    return PageStore(aws.dynamodb, aws.pages_table)


def _links(count: int, toid: int = 1) -> list[LinkRecord]:
    return [LinkRecord(fromid=100 + i, from_title=f"Page {i}", toid=toid) for i in range(count)]


class ThrottledWrites:
    """A DynamoDB client whose first PutItem/TransactWriteItems calls are throttled, like a hot table."""

    def __init__(self, client, throttled_calls: int):
        self._client = client
        self.throttled_calls = throttled_calls
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def _throttle(self, operation):
        self.calls += 1
        if self.throttled_calls > 0:
            self.throttled_calls -= 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, operation)

    def put_item(self, **request):
        self._throttle("PutItem")
        return self._client.put_item(**request)

    def transact_write_items(self, **request):
        self._throttle("TransactWriteItems")
        return self._client.transact_write_items(**request)


class CountingQueries:
    """A DynamoDB client that remembers each Query's items and bytes read (as a read-unit check)."""

    def __init__(self, client):
        self._client = client
        self.queries: list[int] = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def query(self, **request):
        response = self._client.query(**request)
        self.queries.append(len(response.get("Items", [])))
        return response


def _chunks(aws, toid=1):
    items = aws.dynamodb.query(
        TableName=aws.links_table,
        KeyConditionExpression="toid = :t",
        ExpressionAttributeValues={":t": {"N": str(toid)}},
    )["Items"]
    return [(int(i["lo"]["N"]), sorted(decode_links(int(i["lo"]["N"]), i["links"]["B"]))) for i in items]


def _all(store, toid=1, limit=50):
    seen, cursor = [], None
    while True:
        links, cursor = store.backlinks(toid, cursor=cursor, limit=limit)
        seen.extend(link.fromid for link in links)
        if cursor is None:
            return seen


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


def test_given_a_page_in_id_order_then_batches_append_to_its_last_chunk_and_split_at_the_cap(aws):
    store = LinkStore(aws.dynamodb, aws.links_table, chunk_max_bytes=200)
    assert store.put_many(_links(10)) == 10
    assert [lo for lo, _ in _chunks(aws)] == [0]
    assert store.put_many(_links(40)[10:]) == 30
    chunks = _chunks(aws)
    assert len(chunks) > 1
    # Non-overlapping, in id order, every link once, each chunk under the cap.
    flat = [f for _, links in chunks for f in links]
    assert flat == [100 + i for i in range(40)]
    assert all(lo <= links[0] for lo, links in chunks)
    for (_lo, links), (next_lo, _) in itertools.pairwise(chunks):
        assert links[-1] < next_lo
    items = aws.dynamodb.query(
        TableName=aws.links_table,
        KeyConditionExpression="toid = :t",
        ExpressionAttributeValues={":t": {"N": "1"}},
    )["Items"]
    assert all(len(i["links"]["B"]) <= 200 for i in items)


def test_given_links_out_of_order_then_they_merge_into_the_chunks_they_fall_in(aws):
    store = LinkStore(aws.dynamodb, aws.links_table, chunk_max_bytes=120)
    evens = [LinkRecord(fromid=2 * i, from_title=f"E{i}", toid=1) for i in range(1, 40)]
    store.put_many(evens)
    before = len(_chunks(aws))
    odds = [LinkRecord(fromid=2 * i + 1, from_title=f"O{i}", toid=1) for i in (30, 3, 17, 0, 38)]
    assert store.put_many(odds) == 5
    assert _all(store) == sorted([2 * i for i in range(1, 40)] + [61, 7, 35, 1, 77])
    assert len(_chunks(aws)) >= before
    assert store.backlinks(1, cursor=None, limit=1)[0] == [LinkRecord(fromid=1, from_title="O0", toid=1)]


def test_given_a_batch_retried_after_a_crash_then_no_link_is_added_twice(aws):
    store = LinkStore(aws.dynamodb, aws.links_table, chunk_max_bytes=300)
    assert store.put_many(_links(60)) == 60
    # The retry lists the same batch again, with a few links it had not reached.
    assert store.put_many(_links(70)[30:]) == 10
    assert store.put_many(_links(70)) == 0
    assert _all(store) == [100 + i for i in range(70)]
    assert store.count(1) == 70


def test_given_a_conflicting_write_then_the_chunk_is_re_read_and_merged_again(aws):
    store = LinkStore(aws.dynamodb, aws.links_table)
    store.put_many(_links(5))
    other = LinkStore(aws.dynamodb, aws.links_table)

    class Racing:
        """Another execution writes the same chunk between this one's read and its write, once."""

        def __init__(self, client):
            self._client = client
            self.raced = False

        def __getattr__(self, name):
            return getattr(self._client, name)

        def put_item(self, **request):
            if not self.raced:
                self.raced = True
                other.put_many([LinkRecord(fromid=500, from_title="Other", toid=1)])
            return self._client.put_item(**request)

    racing = LinkStore(Racing(aws.dynamodb), aws.links_table)
    assert racing.put_many([LinkRecord(fromid=400, from_title="Mine", toid=1)]) == 1
    assert _all(store) == [100, 101, 102, 103, 104, 400, 500]


def test_given_a_chunk_that_keeps_changing_then_link_write_conflict_after_bounded_attempts(aws):
    store = LinkStore(aws.dynamodb, aws.links_table)
    store.put_many(_links(5))
    other = LinkStore(aws.dynamodb, aws.links_table)

    class AlwaysRacing:
        def __init__(self, client):
            self._client = client
            self.calls = 0

        def __getattr__(self, name):
            return getattr(self._client, name)

        def put_item(self, **request):
            self.calls += 1
            other.put_many([LinkRecord(fromid=1000 + self.calls, from_title="Other", toid=1)])
            return self._client.put_item(**request)

    client = AlwaysRacing(aws.dynamodb)
    with pytest.raises(LinkWriteConflict):
        LinkStore(client, aws.links_table).put_many([LinkRecord(fromid=400, from_title="Mine", toid=1)])
    assert client.calls == MAX_CONFLICT_ATTEMPTS


def test_given_throttled_writes_then_they_are_retried_with_backoff_until_written(aws):
    client = ThrottledWrites(aws.dynamodb, throttled_calls=3)
    sleeps: list[float] = []
    store = LinkStore(client, aws.links_table, sleep=sleeps.append)
    store.put_many(_links(30))
    assert len(sleeps) == 3
    links, cursor = store.backlinks(1, cursor=None, limit=100)
    assert len(links) == 30
    assert cursor is None


def test_given_a_table_that_stays_throttled_then_write_throttled_after_bounded_attempts(aws):
    client = ThrottledWrites(aws.dynamodb, throttled_calls=100)
    store = LinkStore(client, aws.links_table, max_attempts=4, sleep=lambda _: None)
    with pytest.raises(WriteThrottled):
        store.put_many(_links(10))
    assert client.calls == 4


def test_given_small_chunks_then_cursors_page_across_chunk_boundaries_in_id_order(aws):
    store = LinkStore(aws.dynamodb, aws.links_table, chunk_max_bytes=100)
    store.put_many(_links(95))
    assert len(_chunks(aws)) > 5
    for limit in (1, 7, 50):
        assert _all(store, limit=limit) == [100 + i for i in range(95)]


def test_given_a_large_page_then_a_page_of_50_reads_a_bounded_number_of_chunks(aws):
    # 5,000 backlinks with Wikipedia-length titles: about 40 chunks.
    links = [LinkRecord(fromid=10 + 3 * i, from_title=f"A title of some length {i}", toid=1) for i in range(5000)]
    LinkStore(aws.dynamodb, aws.links_table).put_many(links)
    assert len(_chunks(aws)) > 30
    client = CountingQueries(aws.dynamodb)
    store = LinkStore(client, aws.links_table)
    cursor = None
    for _ in range(20):
        client.queries.clear()
        page, cursor = store.backlinks(1, cursor=cursor, limit=50)
        assert len(page) == 50
        # The chunk holding the cursor, then at most one query of two chunks: under 12 KB, 3 read units.
        assert len(client.queries) <= 2
        assert sum(client.queries) <= 3


def test_given_a_cursor_for_another_page_or_not_ours_then_invalid_cursor(aws):
    store = LinkStore(aws.dynamodb, aws.links_table)
    store.put_many(_links(3))
    _, cursor = store.backlinks(1, cursor=None, limit=1)
    with pytest.raises(InvalidCursor):
        store.backlinks(2, cursor=cursor, limit=1)
    with pytest.raises(InvalidCursor):
        store.backlinks(1, cursor="bm90IG91cnM", limit=1)


def test_given_a_page_with_no_backlinks_then_an_empty_page_and_no_cursor(aws):
    assert LinkStore(aws.dynamodb, aws.links_table).backlinks(9, cursor=None, limit=50) == ([], None)


def test_encoded_links_decode_to_the_same_ids_and_titles():
    links = [(0, ""), (7, "Zürich"), (300, "Rock & roll"), (2**40, "x" * 300)]
    assert decode_links(0, encode_links(0, links)) == dict(links)


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
