"""The wiki client against the sample wiki: shapes, continuation, and the failures a real wiki has."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
import requests

from functions import __version__
from functions.errors import WikiApiError, WikiPageNotFound, WikiRateLimited, WikiUnavailable
from functions.wiki import WikiClient
from local.samplewiki import Corpus, Page, SampleWiki
from local.samplewiki.corpus import ROLL_TITLE

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


def test_given_a_retry_after_as_an_http_date_then_the_client_waits_until_then_capped(wiki):
    # Given a 429 asking to come back at a date two seconds ahead, then one an hour ahead
    wiki.faults.arm("429", count=1, retry_after=formatdate(time.time() + 2, usegmt=True))
    wiki.faults.arm("429", count=1, retry_after=formatdate(time.time() + 3600, usegmt=True))
    client, sleeps = _client(wiki, max_retry_after=10)

    # When searching
    assert client.search("moon")

    # Then the client waited until the first date (HTTP dates have whole seconds) and no longer than the cap
    assert 0 < sleeps[0] <= 2
    assert sleeps[1] == 10.0


def test_given_server_errors_then_backoff_with_jitter_then_wiki_unavailable(wiki):
    wiki.faults.arm("503", count=None)
    draws: list[tuple[float, float]] = []

    def highest(low: float, high: float) -> float:
        # Full jitter draws from zero: the longest wait each retry may take is what the bounds below pin.
        draws.append((low, high))
        return high

    client, sleeps = _client(wiki, max_retries=2, jitter=highest)
    with pytest.raises(WikiUnavailable):
        client.search("moon")
    assert len(sleeps) == 2
    assert 0.125 <= sleeps[0] <= 0.25
    assert 0.25 <= sleeps[1] <= 0.5
    assert draws == [(0.0, 0.25), (0.0, 0.5)]


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


# --- The named page first, on either search backend ----------------------------------------------------------


@pytest.fixture(params=["cirrus", "database"])
def backend(request, wiki) -> Iterator[str]:
    """Given the sample wiki playing CirrusSearch or MediaWiki's default database search."""
    before = wiki.search_backend
    wiki.search_backend = request.param
    yield request.param
    wiki.search_backend = before


def _wiki_ranking(wiki, term: str, limit: int) -> list[str]:
    """The wiki's own matches, redirect pages resolved to their articles, by the wiki's `index`."""
    params = {"generator": "search", "gsrsearch": term, "gsrlimit": str(limit), "gsrnamespace": "0", "redirects": "1"}
    body = requests.get(
        wiki.api_url, params={"action": "query", "format": "json", "formatversion": "2", **params}, timeout=10
    ).json()
    return [page["title"] for page in sorted(body.get("query", {}).get("pages", []), key=lambda p: p["index"])]


@pytest.mark.parametrize(
    ("term", "article"),
    [("Music", "Music"), ("music", "Music"), ("Rock and roll", ROLL_TITLE), ("ROCK AND ROLL", ROLL_TITLE)],
)
def test_given_a_term_naming_a_page_then_its_article_comes_first_then_the_wikis_order(wiki, backend, term, article):
    client, _ = _client(wiki)
    ranking = _wiki_ranking(wiki, term, 10)
    wiki.reset_log()

    results = client.search(term, limit=10)

    titles = [r.title for r in results]
    assert titles == [article, *(t for t in ranking if t != article)][:10]
    assert not any(wiki.corpus.by_title(t).is_redirect for t in titles)
    assert wiki.count() <= 2
    assert results[0].extract
    assert all(r.url == wiki.page_url(r.title) for r in results)


def test_given_the_default_search_then_music_past_the_first_ten_costs_a_second_request_and_cirrus_none(wiki, backend):
    client, _ = _client(wiki)

    results = client.search("Music", limit=10)

    assert results[0].title == "Music"
    assert wiki.count() == (2 if backend == "database" else 1)
    second = wiki.requests[-1].params
    if backend == "database":
        assert (second["pageids"], second["redirects"]) == (str(wiki.corpus.by_title("Music").pageid), "1")


def test_given_a_term_naming_nothing_then_one_request_and_the_wikis_order(wiki, backend):
    client, _ = _client(wiki)
    ranking = _wiki_ranking(wiki, "seasonal valley", 10)
    wiki.reset_log()

    assert [r.title for r in client.search("seasonal valley", limit=10)] == ranking
    assert wiki.count() == 1


# --- Backlinks through redirects ----------------------------------------------------------------------------------


def test_given_a_page_reached_through_redirects_then_backlinks_are_what_links_here_in_two_requests(wiki):
    client, _ = _client(wiki, maxlag=5)
    roll = wiki.corpus.by_title(ROLL_TITLE)

    batches = list(client.backlinks(roll.pageid))

    ids = [b.pageid for batch in batches for b in batch.backlinks]
    assert sorted(ids) == [p.pageid for p in wiki.corpus.what_links_here(roll.pageid)]
    assert len(ids) == len(set(ids))
    titles = {b.title for batch in batches for b in batch.backlinks}
    assert {"Blues", "Skiffle"} <= titles
    assert not titles & {"Rock and roll", "Rock 'n' roll", "Rock-and-roll", "Rockabilly"}
    assert wiki.count() == 2
    assert all(r.params["maxlag"] == "5" for r in wiki.requests)


def test_given_a_resume_token_from_any_batch_then_the_rest_arrives_once(wiki):
    roll = wiki.corpus.by_title(ROLL_TITLE)
    batches = list(_client(wiki, backlinks_limit=1)[0].backlinks(roll.pageid))
    expected = sorted(p.pageid for p in wiki.corpus.what_links_here(roll.pageid))
    assert len(batches) > 3

    for index, batch in enumerate(batches[:-1]):
        resumed = _client(wiki, backlinks_limit=1)[0].backlinks(roll.pageid, resume=batch.resume)
        before = [b.pageid for earlier in batches[: index + 1] for b in earlier.backlinks]
        after = [b.pageid for later in resumed for b in later.backlinks]
        assert sorted(before + after) == expected, index


def test_given_a_token_saved_before_redirects_were_followed_then_resuming_still_lists_the_links_through_them(wiki):
    # Given a token an older WikiRoam stored: the wiki's continue object, nothing of ours
    roll = wiki.corpus.by_title(ROLL_TITLE)
    direct = [p for p in wiki.corpus.backlinks_of(roll.pageid) if not p.is_redirect]
    legacy = {"blcontinue": f"0|{direct[2].pageid}", "continue": "-||"}

    resumed = [b.pageid for batch in _client(wiki)[0].backlinks(roll.pageid, resume=legacy) for b in batch.backlinks]

    expected = {p.pageid for p in wiki.corpus.what_links_here(roll.pageid)} - {p.pageid for p in direct[:2]}
    assert sorted(resumed) == sorted(expected)


def _corpus(direct: int, through: int, both: int, twice: int, redirects: int) -> Corpus:
    """A page, "Planet", with `redirects` redirects and articles linking to it in four ways.

    `direct` link to it, `through` through one redirect, `both` directly and through a redirect, `twice`
    through two redirects far apart (the first and the last of them): `direct + through + both + twice` backlinks.
    """

    def page(pageid: int, title: str, links: tuple[int, ...], redirect_to: str | None = None) -> Page:
        text = "" if redirect_to else f"{title} is an article about the planet."
        return Page(pageid, title, "test", text, "", links, None, pageid, "2024-01-01T00:00:00Z", 10, redirect_to)

    aliases = [page(2 + i, f"Planet alias {i}", (1,), "Planet") for i in range(redirects)]
    alias_ids = [a.pageid for a in aliases]
    ways: list[tuple[int, ...]] = (
        [(1,)] * direct
        + [(alias_ids[i % redirects],) for i in range(through)]
        + [(1, alias_ids[i % redirects]) for i in range(both)]
        + [(alias_ids[0], alias_ids[-1])] * twice
    )
    articles = [page(10_000 + i, f"Article {i:04d}", links) for i, links in enumerate(ways)]
    return Corpus(seed=0, pages=(page(1, "Planet", ()), *aliases, *articles))


@pytest.mark.parametrize(
    ("shape", "requests_sent"),
    [
        # Most links direct, some through a few redirects: the two listings share requests.
        ({"direct": 880, "through": 60, "both": 30, "twice": 30, "redirects": 3}, 2),
        # 120 redirects, few links through each: a request names at most 50 redirects (the API's limit).
        ({"direct": 700, "through": 200, "both": 50, "twice": 50, "redirects": 120}, 4),
    ],
)
def test_1000_backlinks_through_redirects_arrive_once_each_within_the_request_budget(shape, requests_sent):
    corpus = _corpus(**shape)
    with SampleWiki(corpus) as planet_wiki:
        client, _ = _client(planet_wiki)

        batches = list(client.backlinks(1))

        ids = [b.pageid for batch in batches for b in batch.backlinks]
        assert len(ids) == len(set(ids)) == 1000
        assert sorted(ids) == [p.pageid for p in corpus.what_links_here(1)]
        assert planet_wiki.count() == requests_sent
        # And resuming from any batch (past the first group of redirects too) still lists each one once.
        for index, batch in enumerate(batches[:-1]):
            resumed = _client(planet_wiki)[0].backlinks(1, resume=batch.resume)
            before = [b.pageid for earlier in batches[: index + 1] for b in earlier.backlinks]
            after = [b.pageid for later in resumed for b in later.backlinks]
            assert sorted(before + after) == sorted(ids), index
