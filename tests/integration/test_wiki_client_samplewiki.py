"""The wiki client against the sample wiki: shapes, continuation, and the failures a real wiki has."""

from __future__ import annotations

import pytest
import requests

from functions import __version__
from functions.errors import WikiApiError, WikiPageNotFound, WikiRateLimited, WikiUnavailable
from functions.wiki import WikiClient

CONTACT = "ops@wikiroam.test"


def _client(wiki, **kwargs) -> tuple[WikiClient, list[float]]:
    sleeps: list[float] = []
    return WikiClient(wiki.api_url, contact=CONTACT, sleep=sleeps.append, **kwargs), sleeps


def test_every_request_carries_the_descriptive_user_agent_and_formatversion_2(wiki):
    client, _ = _client(wiki)
    client.search("river")
    (request,) = wiki.requests
    assert request.user_agent == f"WikiRoam/{__version__} ({CONTACT}) requests/{requests.__version__}"
    assert request.params["formatversion"] == "2"
    assert request.params["gsrlimit"] == "10"
    assert "maxlag" not in request.params  # a reader is waiting: no maxlag on interactive search


def test_search_returns_one_page_of_cards_in_the_wikis_rank_order(wiki):
    client, _ = _client(wiki)
    results = client.search("river", limit=20)
    expected = wiki.corpus.search("river")[:20]
    assert [r.pageid for r in results] == [p.pageid for p in expected]
    assert wiki.count() == 1
    with_thumbnail = [r for r in results if r.thumbnail]
    assert with_thumbnail, "the corpus gives some river pages an image"
    assert all(r.thumbnail.startswith(wiki.base_url) for r in with_thumbnail)
    assert all(r.url == wiki.page_url(r.title) and r.extract for r in results)


def test_the_hubs_600_plus_backlinks_arrive_in_two_requests(wiki):
    client, _ = _client(wiki, maxlag=5)
    hub = wiki.corpus.hub
    batches = list(client.backlinks(hub.pageid))
    ids = [b.pageid for batch in batches for b in batch.backlinks]
    assert ids == [p.pageid for p in wiki.corpus.backlinks_of(hub.pageid)]
    assert len(ids) >= 600
    assert wiki.count(list="backlinks") == 2
    assert all(r.params["maxlag"] == "5" and r.params["bllimit"] == "max" for r in wiki.requests)


def test_given_429_with_retry_after_then_the_client_waits_that_long_and_succeeds(wiki):
    wiki.faults.arm("429", count=2, retry_after=3)
    client, sleeps = _client(wiki)
    assert client.search("bread")
    assert sleeps == [3.0, 3.0]
    assert client.stats.retries == 2


def test_given_maxlag_then_retry_after_is_honoured_and_the_budget_is_bounded(wiki):
    wiki.faults.arm("maxlag", count=None, retry_after=2, match="maxlag")
    client, sleeps = _client(wiki, maxlag=5, max_retries=3)
    with pytest.raises(WikiRateLimited):
        list(client.backlinks(wiki.corpus.hub.pageid))
    assert sleeps == [2.0, 2.0, 2.0]
    assert wiki.count() == 4


def test_a_long_retry_after_is_capped_so_a_step_fails_fast_and_retries_later(wiki):
    wiki.faults.arm("429", count=1, retry_after=3600)
    client, sleeps = _client(wiki, max_retry_after=10)
    client.search("moon")
    assert sleeps == [10.0]


def test_given_server_errors_then_backoff_with_jitter_then_wiki_unavailable(wiki):
    wiki.faults.arm("503", count=None)
    client, sleeps = _client(wiki, max_retries=2)
    with pytest.raises(WikiUnavailable):
        client.search("moon")
    assert len(sleeps) == 2
    assert 0.125 <= sleeps[0] <= 0.25
    assert 0.25 <= sleeps[1] <= 0.5


def test_given_a_wiki_that_hangs_then_the_timeout_ends_the_request(wiki):
    wiki.faults.arm("timeout", count=None, delay=5)
    client, _ = _client(wiki, timeout=0.3, max_retries=1)
    with pytest.raises(WikiUnavailable, match="timeout"):
        client.search("moon")


def test_given_a_dropped_connection_then_wiki_unavailable(wiki):
    wiki.faults.arm("disconnect", count=None)
    client, _ = _client(wiki, max_retries=1)
    with pytest.raises(WikiUnavailable):
        client.search("moon")


def test_given_an_api_error_then_it_is_raised_typed_with_the_wikis_code_and_not_retried(wiki):
    wiki.faults.arm("error:internal_api_error_DBQueryError", count=1)
    client, sleeps = _client(wiki)
    with pytest.raises(WikiApiError) as error:
        client.search("moon")
    assert error.value.code == "internal_api_error_DBQueryError"
    assert sleeps == []


def test_given_an_unknown_page_id_then_page_not_found(wiki):
    client, _ = _client(wiki)
    with pytest.raises(WikiPageNotFound):
        client.page(999_999)
    with pytest.raises(WikiPageNotFound):
        list(client.backlinks(999_999))


def test_pages_by_id_returns_unicode_titles_and_follows_the_redirect(wiki):
    client, _ = _client(wiki)
    zurich = wiki.corpus.by_title("Zürich")
    redirect = wiki.corpus.by_title("Zurich")
    assert client.page(zurich.pageid).title == "Zürich"
    assert client.page(redirect.pageid).pageid == zurich.pageid
    titles = {
        p.title
        for p in client.pages([wiki.corpus.by_title(t).pageid for t in ("AC/DC", "C++", "Rock & roll")]).values()
    }
    assert titles == {"AC/DC", "C++", "Rock & roll"}
