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
    REDIRECT_TARGET,
    REDIRECT_TITLE,
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
