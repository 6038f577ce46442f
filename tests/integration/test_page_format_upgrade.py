"""Pages cached before the packed backlinks (no `page_format` on their record) are re-cached on their next request."""

from __future__ import annotations

import pytest

from functions.errors import BacklinksNotFinished
from functions.handlers import cache_steps
from functions.store import PAGE_FORMAT, PageStore
from tests.integration.test_handlers import Context, cache_fully, call_api, env, task  # noqa: F401 (env: a fixture)

pytestmark = pytest.mark.usefixtures("env")


def as_before_the_upgrade(aws, pageid: int) -> None:
    """The record as the code before packing left it (no format marker), its links in the retired links table."""
    aws.dynamodb.update_item(
        TableName=aws.pages_table, Key={"pageid": {"N": str(pageid)}}, UpdateExpression="REMOVE page_format"
    )
    chunks = aws.dynamodb.query(
        TableName=aws.links_table,
        KeyConditionExpression="toid = :toid",
        ExpressionAttributeValues={":toid": {"N": str(pageid)}},
    )["Items"]
    for chunk in chunks:
        aws.dynamodb.delete_item(TableName=aws.links_table, Key={"toid": chunk["toid"], "lo": chunk["lo"]})


def test_a_finished_page_records_the_current_format(aws, wiki):
    page = wiki.corpus.search("river")[0]
    cache_fully(page.pageid, page.title)
    record = PageStore(aws.dynamodb, aws.pages_table).get(page.pageid)
    assert (record.page_format, record.backlinks_status, record.cached) == (PAGE_FORMAT, "complete", True)


def test_given_a_page_cached_before_the_upgrade_when_searched_then_it_reads_uncached_and_is_requested(aws, wiki):
    first, second = wiki.corpus.search("river")[:2]
    cache_fully(first.pageid, first.title)
    cache_fully(second.pageid, second.title, "exec-2")
    as_before_the_upgrade(aws, first.pageid)

    _, body = call_api("/api/search", {"q": "river"})

    cached = {r["pageid"]: r["cached"] for r in body["results"]}
    assert (cached[first.pageid], cached[second.pageid]) == (False, True)
    (request,) = aws.published()
    requested = {p["pageid"] for p in request["pages"]}
    assert first.pageid in requested
    assert second.pageid not in requested
    # Its page says pending, not complete: its backlinks are not in the backlinks table yet.
    status, page = call_api(f"/api/pages/{first.pageid}")
    assert (status, page["backlinks_status"]) == (200, "pending")


def test_given_a_page_cached_before_the_upgrade_then_the_next_execution_claims_it_and_recaches_every_backlink(
    aws, wiki
):
    hub = wiki.corpus.hub
    cache_fully(hub.pageid, hub.title)
    as_before_the_upgrade(aws, hub.pageid)

    cache_fully(hub.pageid, hub.title, "exec-after-upgrade")

    status, body = call_api(f"/api/pages/{hub.pageid}")
    assert (status, body["backlinks_status"]) == (200, "complete")
    assert body["backlinks_count"] == len(wiki.corpus.backlinks_of(hub.pageid))
    # And once current, it is cached: a further execution finds nothing to do.
    assert not cache_steps.start(task("CacheStart", hub.pageid, hub.title, "exec-3"), Context())["proceed"]


def test_given_a_resume_point_saved_before_the_upgrade_then_caching_starts_over_and_loses_no_backlink(aws, wiki):
    hub = wiki.corpus.hub
    assert cache_steps.start(task("CacheStart", hub.pageid, hub.title), Context())["proceed"]
    assert cache_steps.info(task("CacheInfo", hub.pageid, hub.title), Context())["found"]
    # Cut short after its first batch of backlinks: progress saved with a resume point.
    with pytest.raises(BacklinksNotFinished):
        cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title), Context(remaining_ms=5_000))
    assert PageStore(aws.dynamodb, aws.pages_table).get(hub.pageid).backlinks_resume is not None
    as_before_the_upgrade(aws, hub.pageid)

    result = cache_steps.backlinks(task("CacheBacklinks", hub.pageid, hub.title, retry=1), Context())

    assert result["status"] == "complete"
    assert result["count"] == len(wiki.corpus.backlinks_of(hub.pageid))
