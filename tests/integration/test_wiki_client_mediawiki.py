"""The wiki client against a real MediaWiki 1.39 (Debian's package), served on loopback."""

from __future__ import annotations

import pytest
import requests

from functions.errors import WikiApiError, WikiPageNotFound, WikiRateLimited
from functions.wiki import WikiClient
from tests.support.mediawiki import (
    HUB_TITLE,
    INJECTION_MARKUP,
    INJECTION_TITLE,
    MUSIC_TITLE,
    REDIRECT_TARGET,
    REDIRECT_TITLE,
    ROLL_DOUBLE_REDIRECT,
    ROLL_REDIRECT,
    ROLL_TITLE,
    SEARCH_TERM,
    pages_linking_to,
)

CONTACT = "wikiroam-tests@127.0.0.1"


def _pageid(mediawiki, title: str) -> int:
    response = requests.get(
        mediawiki.api_url,
        params={"action": "query", "titles": title, "format": "json", "formatversion": "2"},
        timeout=10,
    )
    return int(response.json()["query"]["pages"][0]["pageid"])


@pytest.fixture
def client(mediawiki):
    return WikiClient(mediawiki.api_url, contact=CONTACT, maxlag=5)


def test_given_a_term_when_searching_then_results_come_in_rank_order_with_extracts_and_urls(client, mediawiki):
    results = client.search(SEARCH_TERM, limit=10)
    assert len(results) == 10
    # Cross-check the order against MediaWiki's own ranking (`index`), which it does not sort by.
    raw = requests.get(
        mediawiki.api_url,
        params={
            "action": "query",
            "list": "search",
            "srsearch": SEARCH_TERM,
            "srwhat": "text",
            "srlimit": "10",
            "format": "json",
            "formatversion": "2",
        },
        timeout=10,
    ).json()
    assert [r.title for r in results] == [hit["title"] for hit in raw["query"]["search"]]
    assert client.stats.requests == 1  # no page is titled "river": the near match finds nothing to fetch
    for result in results:
        assert result.extract
        assert "\n" not in result.extract[:1]
        assert result.url == mediawiki.article_url(result.title)
        assert result.lastrevid is not None


def test_given_a_term_nobody_wrote_then_search_returns_nothing(client):
    assert client.search("xylophonequasarzeppelin") == []


def test_given_the_hub_when_fetching_backlinks_in_small_batches_then_every_one_arrives(mediawiki):
    client = WikiClient(mediawiki.api_url, contact=CONTACT, backlinks_limit=5)
    batches = list(client.backlinks(_pageid(mediawiki, HUB_TITLE)))
    titles = [b.title for batch in batches for b in batch.backlinks]
    assert len(batches) > 2, "small batches must cross MediaWiki's continuation"
    assert set(titles) == pages_linking_to(HUB_TITLE)
    assert len(titles) == len(set(titles))
    assert [batch.resume is None for batch in batches] == [False] * (len(batches) - 1) + [True]


def test_given_a_resume_token_then_backlinks_carry_on_after_it(mediawiki):
    client = WikiClient(mediawiki.api_url, contact=CONTACT, backlinks_limit=5)
    hub = _pageid(mediawiki, HUB_TITLE)
    first = next(client.backlinks(hub))
    rest = [b.title for batch in client.backlinks(hub, resume=first.resume) for b in batch.backlinks]
    assert {b.title for b in first.backlinks} | set(rest) == pages_linking_to(HUB_TITLE)
    assert not {b.title for b in first.backlinks} & set(rest)


def test_pages_by_id_resolve_redirects_and_omit_missing_ids(client, mediawiki):
    target = _pageid(mediawiki, REDIRECT_TARGET)
    redirect = _pageid(mediawiki, REDIRECT_TITLE)
    assert client.page(redirect).title == REDIRECT_TARGET
    found = client.pages([target, 987654])
    assert list(found) == [target]
    with pytest.raises(WikiPageNotFound):
        client.page(987654)


def test_the_injection_page_extract_is_plain_text_with_the_markup_literal(client, mediawiki):
    page = client.page(_pageid(mediawiki, INJECTION_TITLE))
    assert INJECTION_MARKUP in page.extract


def test_given_an_invalid_parameter_then_a_typed_api_error_with_the_wikis_code(mediawiki):
    client = WikiClient(mediawiki.api_url, contact=CONTACT, backlinks_limit="many")
    with pytest.raises(WikiApiError) as error:
        list(client.backlinks(_pageid(mediawiki, HUB_TITLE)))
    assert error.value.code == "badinteger"


def test_given_a_wiki_that_reports_lag_then_the_client_honours_retry_after_and_gives_up_bounded(mediawiki):
    # MediaWiki without replicas reports a lag of -1, so maxlag=-2 always trips it: a real maxlag answer.
    sleeps: list[float] = []
    client = WikiClient(mediawiki.api_url, contact=CONTACT, maxlag=-2, max_retries=2, sleep=sleeps.append)
    with pytest.raises(WikiRateLimited):
        client.search(SEARCH_TERM)
    assert sleeps == [5.0, 5.0]  # MediaWiki's Retry-After, capped by max_retry_after (10 s)
    assert client.stats.requests == 3


# --- A default-search wiki: the named page first; backlinks through redirects --------------------------------


def _text_matches(mediawiki, term: str, limit: int) -> list[str]:
    """The wiki's own text search: what its default database backend answers, in its order."""
    params = {"list": "search", "srsearch": term, "srwhat": "text", "srlimit": str(limit), "srprop": ""}
    body = requests.get(
        mediawiki.api_url, params={"action": "query", "format": "json", "formatversion": "2", **params}, timeout=10
    ).json()
    return [hit["title"] for hit in body["query"]["search"]]


def _ranked_articles(mediawiki, term: str, limit: int) -> list[str]:
    """The wiki's text matches with redirect pages resolved to their articles, by the wiki's own `index`."""
    params = {"generator": "search", "gsrsearch": term, "gsrwhat": "text", "gsrlimit": str(limit), "redirects": "1"}
    body = requests.get(
        mediawiki.api_url, params={"action": "query", "format": "json", "formatversion": "2", **params}, timeout=10
    ).json()
    return [page["title"] for page in sorted(body["query"]["pages"], key=lambda p: p["index"])]


def _what_links_here(mediawiki, title: str) -> list[str]:
    """The articles the wiki itself lists with `list=backlinks&blredirect=1`, redirect pages left out."""
    params = {"list": "backlinks", "bltitle": title, "blredirect": "1", "blnamespace": "0", "bllimit": "max"}
    found: list[str] = []
    while True:
        body = requests.get(
            mediawiki.api_url, params={"action": "query", "format": "json", "formatversion": "2", **params}, timeout=10
        ).json()
        for entry in body["query"]["backlinks"]:
            found.extend(e["title"] for e in [entry, *entry.get("redirlinks", [])] if not e.get("redirect"))
        if "continue" not in body:
            return found
        params.update(body["continue"])


@pytest.mark.parametrize("term", [MUSIC_TITLE, MUSIC_TITLE.lower(), MUSIC_TITLE.upper()])
def test_given_default_search_ranks_a_title_past_the_first_ten_then_the_titled_article_comes_first(
    client, mediawiki, term
):
    # Given: the database backend answers in title order, and "Music" is not among its first ten matches
    text = _text_matches(mediawiki, term, 10)
    assert MUSIC_TITLE not in text

    # When
    results = client.search(term, limit=10)

    # Then: the article, then the wiki's own matches in its order, in two requests
    assert [r.title for r in results] == [MUSIC_TITLE, *text[:9]]
    assert results[0].extract.startswith("Music is the art of arranging sounds")
    assert results[0].url == mediawiki.article_url(MUSIC_TITLE)
    assert client.stats.requests == 2


@pytest.mark.parametrize("term", [ROLL_REDIRECT, ROLL_REDIRECT.lower(), "Rock 'n' roll"])
def test_given_a_redirect_as_the_term_then_its_article_comes_first_once(client, mediawiki, term):
    results = client.search(term, limit=10)

    titles = [r.title for r in results]
    assert titles[0] == ROLL_TITLE
    assert titles[1:] == [t for t in _ranked_articles(mediawiki, term, 10) if t != ROLL_TITLE][:9]
    assert len(titles) == len(set(titles))
    assert not {ROLL_REDIRECT, "Rock 'n' roll", ROLL_DOUBLE_REDIRECT} & set(titles)
    assert client.stats.requests <= 2


def test_given_a_page_reached_through_redirects_then_its_backlinks_are_the_wikis_what_links_here(mediawiki):
    client = WikiClient(mediawiki.api_url, contact=CONTACT, maxlag=5)

    batches = list(client.backlinks(_pageid(mediawiki, ROLL_TITLE)))

    titles = [b.title for batch in batches for b in batch.backlinks]
    expected = _what_links_here(mediawiki, ROLL_TITLE)
    # Direct links and links through "Rock and roll" (Blues) and "Rock 'n' roll" (Skiffle): never the redirects,
    # never Rockabilly (it links to a redirect to a redirect), and Jukebox and Skiffle once though listed twice.
    assert set(expected) == {"AC/DC", "Harbour songs", "Music", "Guitar", "Piano", "Jukebox", "Blues", "Skiffle"}
    assert len(expected) > len(set(expected))
    assert sorted(titles) == sorted(set(expected))
    assert client.stats.requests == 2


def test_given_a_resume_token_from_any_batch_then_the_rest_of_the_backlinks_arrives_once(mediawiki):
    # Given small batches, so the direct listing, the redirects and the links through them all continue
    roll = _pageid(mediawiki, ROLL_TITLE)
    batches = list(WikiClient(mediawiki.api_url, contact=CONTACT, backlinks_limit=1).backlinks(roll))
    expected = sorted(set(_what_links_here(mediawiki, ROLL_TITLE)))
    assert len(batches) > 3

    for index, batch in enumerate(batches[:-1]):
        # When a new client (a new invocation) resumes from that batch's token
        resumed = WikiClient(mediawiki.api_url, contact=CONTACT, backlinks_limit=1).backlinks(roll, resume=batch.resume)

        # Then what came before and what comes after make every backlink, each once
        before = [b.title for earlier in batches[: index + 1] for b in earlier.backlinks]
        after = [b.title for later in resumed for b in later.backlinks]
        assert sorted(before + after) == expected, index
