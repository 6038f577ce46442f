"""The real-MediaWiki fixture is a working wiki; these tests also pin the response shapes of MediaWiki 1.39."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from tests.support.mediawiki import (
    HUB_TITLE,
    INJECTION_MARKUP,
    INJECTION_TITLE,
    MISSING_TITLE,
    MUSIC_TITLE,
    REDIRECT_TARGET,
    REDIRECT_TITLE,
    ROLL_DOUBLE_REDIRECT,
    ROLL_REDIRECT,
    ROLL_TITLE,
    SEARCH_TERM,
    SEED_PAGES,
    LocalMediaWiki,
    pages_linking_to,
)

pytestmark = [pytest.mark.integration, pytest.mark.mediawiki]

SEARCH_PARAMS = {
    "action": "query",
    "generator": "search",
    "gsrsearch": SEARCH_TERM,
    # SQLite's search backend matches titles only unless asked to search the text.
    "gsrwhat": "text",
    "gsrlimit": 10,
    "prop": "extracts|pageimages|info",
    "exintro": 1,
    "explaintext": 1,
    "inprop": "url",
}


def get(wiki: LocalMediaWiki, **params: Any) -> requests.Response:
    """GET the wiki's api.php with JSON format version 2."""
    response = requests.get(wiki.api_url, params={"format": "json", "formatversion": 2, **params}, timeout=30)
    # The Action API reports errors in the body; the HTTP status stays 200.
    assert response.status_code == 200, response.text
    return response


def api(wiki: LocalMediaWiki, **params: Any) -> dict[str, Any]:
    """Return the decoded JSON answer of one api.php request."""
    body: dict[str, Any] = get(wiki, **params).json()
    return body


def follow(wiki: LocalMediaWiki, **params: Any) -> list[dict[str, Any]]:
    """Return every response of a query, following ``continue`` until the wiki says it is done."""
    responses = []
    continuation: dict[str, Any] = {}
    while True:
        body = api(wiki, **params, **continuation)
        assert "error" not in body, body
        responses.append(body)
        if "continue" not in body:
            return responses
        continuation = body["continue"]


def pages_mentioning(word: str) -> set[str]:
    """Return the seeded titles whose text has ``word`` as a whole word (redirects excluded)."""
    pattern = re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)
    return {
        page.title for page in SEED_PAGES if pattern.search(page.wikitext) and not page.wikitext.startswith("#REDIRECT")
    }


def test_search_generator_returns_index_extract_and_fullurl(mediawiki: LocalMediaWiki) -> None:
    body = api(mediawiki, **SEARCH_PARAMS)

    assert body["batchcomplete"] is True
    assert body["continue"] == {"gsroffset": 10, "continue": "gsroffset||"}
    pages = body["query"]["pages"]
    # Pages come in page-id order; the search rank is only in "index".
    assert sorted(page["index"] for page in pages) == list(range(1, 11))
    for page in pages:
        assert page["ns"] == 0
        assert isinstance(page["pageid"], int)
        # The intro may not contain the term: the match can be further down the page.
        assert isinstance(page["extract"], str)
        assert page["extract"]
        assert page["fullurl"] == mediawiki.article_url(page["title"])
        # No page has an image, so PageImages adds nothing.
        assert "thumbnail" not in page
        assert "pageimage" not in page


def test_search_continuation_reaches_every_matching_page(mediawiki: LocalMediaWiki) -> None:
    responses = follow(mediawiki, **SEARCH_PARAMS)

    titles = [page["title"] for body in responses for page in body["query"]["pages"]]
    assert len(responses) >= 3
    assert len(titles) == len(set(titles))
    assert set(titles) == pages_mentioning(SEARCH_TERM)


def test_extract_with_exintro_stops_at_the_first_heading(mediawiki: LocalMediaWiki) -> None:
    body = api(mediawiki, action="query", titles="River Aldwater", prop="extracts", exintro=1, explaintext=1)

    (page,) = body["query"]["pages"]
    assert page["extract"].startswith("The River Aldwater is an invented river")
    assert "widens and slows" not in page["extract"]


def test_empty_search_has_no_query_key(mediawiki: LocalMediaWiki) -> None:
    body = api(mediawiki, **{**SEARCH_PARAMS, "gsrsearch": "qqzzxxnotaword"})

    assert body == {"batchcomplete": True}


def test_exlimit_max_reports_the_limit_it_applied(mediawiki: LocalMediaWiki) -> None:
    body = api(mediawiki, **{**SEARCH_PARAMS, "exlimit": "max"})

    assert body["limits"] == {"extracts": 20}


def test_backlinks_continue_across_batches(mediawiki: LocalMediaWiki) -> None:
    first = api(mediawiki, action="query", list="backlinks", bltitle=HUB_TITLE, bllimit=5)
    assert set(first["continue"]) == {"blcontinue", "continue"}
    assert len(first["query"]["backlinks"]) == 5

    responses = follow(mediawiki, action="query", list="backlinks", bltitle=HUB_TITLE, bllimit=5)

    titles = [link["title"] for body in responses for link in body["query"]["backlinks"]]
    expected = pages_linking_to(HUB_TITLE)
    assert len(expected) >= 12
    assert len(responses) == -(-len(expected) // 5)
    assert len(titles) == len(set(titles))
    assert set(titles) == expected


def test_missing_title_is_flagged_missing(mediawiki: LocalMediaWiki) -> None:
    body = api(mediawiki, action="query", titles=MISSING_TITLE, prop="extracts|info", explaintext=1)

    (page,) = body["query"]["pages"]
    assert page["missing"] is True
    assert page["title"] == MISSING_TITLE
    assert "pageid" not in page
    assert "extract" not in page


def test_injected_script_is_literal_text_in_the_plain_extract(mediawiki: LocalMediaWiki) -> None:
    plain = api(mediawiki, action="query", titles=INJECTION_TITLE, prop="extracts", exintro=1, explaintext=1)
    html = api(mediawiki, action="query", titles=INJECTION_TITLE, prop="extracts", exintro=1)

    assert INJECTION_MARKUP in plain["query"]["pages"][0]["extract"]
    html_extract = html["query"]["pages"][0]["extract"]
    assert "<script" not in html_extract
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_extract


def test_redirects_resolve_to_the_target(mediawiki: LocalMediaWiki) -> None:
    body = api(mediawiki, action="query", titles=REDIRECT_TITLE, redirects=1, prop="info", inprop="url")

    assert body["query"]["redirects"] == [{"from": REDIRECT_TITLE, "to": REDIRECT_TARGET}]
    (page,) = body["query"]["pages"]
    assert page["title"] == REDIRECT_TARGET
    assert page["fullurl"] == mediawiki.article_url(REDIRECT_TARGET)


def test_awkward_titles_round_trip(mediawiki: LocalMediaWiki) -> None:
    titles = ["AC/DC", "C++", "Rock & roll", "Zürich", "What is a river?", "Python (programming language)"]

    body = api(mediawiki, action="query", titles="|".join(titles), prop="info", inprop="url")

    pages = {page["title"]: page for page in body["query"]["pages"]}
    assert set(pages) == set(titles)
    for title, page in pages.items():
        assert "missing" not in page
        assert page["fullurl"] == mediawiki.article_url(title)
        article = requests.get(page["fullurl"], timeout=30)
        assert article.status_code == 200
        assert f"<title>{title.replace('&', '&amp;')} - " in article.text


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"action": "query", "list": "backlinks", "bltitle": HUB_TITLE, "bllimit": "abc"}, "badinteger"),
        ({"action": "nosuchaction"}, "badvalue"),
        ({"action": "query", "list": "backlinks"}, "missingparam"),
    ],
)
def test_errors_come_as_json_with_http_200(mediawiki: LocalMediaWiki, params: dict[str, Any], code: str) -> None:
    response = get(mediawiki, **params)

    assert response.headers["MediaWiki-API-Error"] == code
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["info"], str)
    assert "docref" in body["error"]


def test_maxlag_below_the_reported_lag_is_a_maxlag_error(mediawiki: LocalMediaWiki) -> None:
    # A wiki without replicas reports a lag of -1, so maxlag=-1 passes and only maxlag=-2 trips.
    assert "error" not in api(mediawiki, action="query", meta="siteinfo", maxlag=-1)

    response = get(mediawiki, action="query", meta="siteinfo", maxlag=-2)

    assert response.headers["MediaWiki-API-Error"] == "maxlag"
    assert response.headers["Retry-After"] == "5"
    assert response.headers["X-Database-Lag"] == "-1"
    error = response.json()["error"]
    assert error["code"] == "maxlag"
    assert error["lag"] == -1
    assert error["type"] == "db"


# --- What links here through redirects, the near match and the default search's order ---------------------------


def pageid_of(wiki: LocalMediaWiki, title: str) -> int:
    """Return the id of the page titled ``title`` (a redirect is not followed)."""
    (page,) = api(wiki, action="query", titles=title)["query"]["pages"]
    return int(page["pageid"])


def test_blredirect_nests_links_through_redirects_and_halves_the_limit(mediawiki: LocalMediaWiki) -> None:
    body = api(mediawiki, action="query", list="backlinks", bltitle=ROLL_TITLE, blredirect=1, bllimit="max")

    assert body["limits"] == {"backlinks": 250}
    entries = {entry["title"]: entry for entry in body["query"]["backlinks"]}
    assert entries[ROLL_REDIRECT]["redirect"] is True
    nested = {(link["title"], link.get("redirect", False)) for link in entries[ROLL_REDIRECT]["redirlinks"]}
    # The double redirect is listed and flagged, not followed: the page linking to it is nowhere.
    assert nested == {("Blues", False), ("Jukebox", False), ("Skiffle", False), (ROLL_DOUBLE_REDIRECT, True)}
    assert "Rockabilly" not in json.dumps(body)
    assert "redirlinks" not in entries["AC/DC"]


def test_blredirect_lists_the_first_level_again_while_the_second_continues(mediawiki: LocalMediaWiki) -> None:
    redirect = pageid_of(mediawiki, ROLL_REDIRECT)
    params = {"action": "query", "list": "backlinks", "bltitle": ROLL_TITLE, "blredirect": 1, "bllimit": 2}

    first = api(mediawiki, **params, blcontinue=f"0|{redirect}")
    second = api(mediawiki, **params, **first["continue"])

    parts = first["continue"]["blcontinue"].split("|")
    assert parts[:2] == ["0", str(redirect)]
    assert len(parts) == 6
    assert parts[3] in ("Rock_and_roll", "Rock_'n'_roll")  # the redirect's database key, underscores and all
    assert [e["title"] for e in second["query"]["backlinks"]] == [e["title"] for e in first["query"]["backlinks"]]


def test_backlinks_beside_prop_redirects_continue_together_and_the_page_set_stops_when_done(
    mediawiki: LocalMediaWiki,
) -> None:
    roll = pageid_of(mediawiki, ROLL_TITLE)
    params = {
        "action": "query",
        "list": "backlinks",
        "blpageid": roll,
        "blfilterredir": "nonredirects",
        "bllimit": 1,
        "pageids": roll,
        "prop": "redirects",
        "rdprop": "pageid",
        "rdlimit": 1,
    }

    first = api(mediawiki, **params)
    second = api(mediawiki, **params, **first["continue"])
    third = api(mediawiki, **params, **second["continue"])

    assert set(first["continue"]) == {"blcontinue", "rdcontinue", "continue"}
    assert first["continue"]["continue"] == "||"
    (page,) = first["query"]["pages"]
    assert (page["pageid"], page["title"], len(page["redirects"])) == (roll, ROLL_TITLE, 1)
    assert set(page["redirects"][0]) == {"pageid"}
    assert second["continue"]["continue"] == "-||redirects"
    assert "pages" not in third["query"]


def test_generator_linkshere_with_pltitles_marks_the_pages_that_link_directly(mediawiki: LocalMediaWiki) -> None:
    redirects = [pageid_of(mediawiki, ROLL_REDIRECT), pageid_of(mediawiki, "Rock 'n' roll")]
    params = {
        "action": "query",
        "generator": "linkshere",
        "pageids": "|".join(map(str, redirects)),
        "glhnamespace": 0,
        "glhshow": "!redirect",
        "prop": "links",
        "pltitles": ROLL_TITLE,
        "pllimit": "max",
    }

    everything = api(mediawiki, **params, glhlimit="max")
    first = api(mediawiki, **params, glhlimit=1)

    pages = {page["title"]: page for page in everything["query"]["pages"]}
    assert set(pages) == {"Blues", "Jukebox", "Skiffle"}
    assert pages["Jukebox"]["links"] == [{"ns": 0, "title": ROLL_TITLE}]
    assert "links" not in pages["Blues"]
    assert everything["limits"] == {"linkshere": 500, "links": 500}
    assert first["continue"]["continue"] == "glhcontinue||"
    assert first["continue"]["glhcontinue"].startswith("Rock_and_roll|")


def test_nearmatch_finds_titles_case_variants_and_redirects_in_any_namespace(mediawiki: LocalMediaWiki) -> None:
    def near(term: str) -> list[dict[str, Any]]:
        body = api(
            mediawiki, action="query", list="search", srsearch=term, srwhat="nearmatch", srnamespace=0, srprop=""
        )
        assert "searchinfo" not in body["query"]
        assert "continue" not in body
        hits: list[dict[str, Any]] = body["query"]["search"]
        return hits

    assert near("music") == [{"ns": 0, "title": MUSIC_TITLE, "pageid": pageid_of(mediawiki, MUSIC_TITLE)}]
    assert near("ROCK AND ROLL") == [{"ns": 0, "title": ROLL_REDIRECT, "pageid": pageid_of(mediawiki, ROLL_REDIRECT)}]
    assert near("category:rivers")[0]["ns"] == 14  # srnamespace does not hold the near matcher back
    assert near("music of the spheres") == []


def test_the_default_search_answers_in_title_order_and_lists_redirect_pages(mediawiki: LocalMediaWiki) -> None:
    music = api(mediawiki, action="query", list="search", srsearch=MUSIC_TITLE, srwhat="text", srlimit=10, srprop="")
    rolls = api(
        mediawiki, action="query", generator="search", gsrsearch="roll", gsrwhat="text", gsrlimit=20, redirects=1
    )

    titles = [hit["title"] for hit in music["query"]["search"]]
    assert titles == sorted(titles, key=lambda t: t.replace(" ", "_").encode())
    assert MUSIC_TITLE not in titles
    assert music["query"]["searchinfo"]["totalhits"] > 10
    hops = {hop["from"]: hop for hop in rolls["query"]["redirects"]}
    assert set(hops[ROLL_REDIRECT]) == {"ns", "title", "pageid", "index", "from", "to"}
    assert hops[ROLL_REDIRECT]["to"] == ROLL_TITLE
    # The target takes the best rank among itself and the redirects (chains included) that led to it.
    ranks = api(mediawiki, action="query", list="search", srsearch="roll", srwhat="text", srlimit=20, srprop="")
    rank = {hit["title"]: number for number, hit in enumerate(ranks["query"]["search"], start=1)}
    leading = (ROLL_TITLE, ROLL_REDIRECT, "Rock 'n' roll", ROLL_DOUBLE_REDIRECT)
    pages = {page["title"]: page for page in rolls["query"]["pages"]}
    assert pages[ROLL_TITLE]["index"] == min(rank[title] for title in leading if title in rank)
    assert ROLL_REDIRECT not in pages
