"""The same pipeline against a real MediaWiki (Debian's package) through `WIKIROAM_WIKI_API_URL`'s config key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local.stack import LocalStack, StackOptions
from tests.e2e.test_pipeline import backlinks_from_the_wiki, cached_backlinks
from tests.support.mediawiki import HUB_TITLE


@pytest.fixture(scope="module")
def mediawiki_stack(mediawiki) -> Iterator[LocalStack]:
    """Given the local stack deployed with a real MediaWiki as its wiki."""
    with LocalStack(StackOptions(wiki_api_url=mediawiki.api_url, retry_delays=(0.01, 0.02))) as stack:
        yield stack


pytestmark = pytest.mark.mediawiki


def test_given_a_real_mediawiki_when_searching_then_its_pages_and_backlinks_are_cached(mediawiki_stack, mediawiki):
    answer = requests.get(f"{mediawiki_stack.url}/api/search", params={"q": "river"}, timeout=60)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert results
    hub = requests.get(
        mediawiki.api_url,
        params={"action": "query", "titles": HUB_TITLE, "format": "json", "formatversion": "2"},
        timeout=10,
    ).json()["query"]["pages"][0]["pageid"]
    pageids = [r["pageid"] for r in results]

    mediawiki_stack.wait_until_cached(pageids, timeout=120)
    page = requests.get(f"{mediawiki_stack.url}/api/pages/{hub}", timeout=60).json()
    mediawiki_stack.wait_until_cached([hub], timeout=120)

    assert page["title"] == HUB_TITLE
    for pageid in [*pageids, hub]:
        assert cached_backlinks(mediawiki_stack, pageid) == backlinks_from_the_wiki(mediawiki.api_url, pageid)
    assert len(cached_backlinks(mediawiki_stack, hub)) >= 5
