"""The sample wiki answers like MediaWiki 1.39 (formatversion=2), injects faults on demand and logs requests."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.samplewiki import Page, SampleWiki, build_corpus, params_match
from local.samplewiki.corpus import (
    HUB_BACKLINKS,
    INJECTION_MARKUP,
    LINKED_REDIRECTS,
    MARKUP_TITLE,
    ROLL_TITLE,
    Corpus,
)
from local.samplewiki.server import SEARCH_BACKEND_VARIABLE

pytestmark = pytest.mark.integration

BASE = {"action": "query", "format": "json", "formatversion": "2"}
SEARCH_PROPS = {
    "prop": "extracts|pageimages|info",
    "exintro": "1",
    "explaintext": "1",
    "exlimit": "max",
    "piprop": "thumbnail",
    "pithumbsize": "160",
    "inprop": "url",
    "redirects": "1",
}


@pytest.fixture(scope="module")
def wiki() -> Iterator[SampleWiki]:
    with SampleWiki() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(wiki: SampleWiki) -> Iterator[None]:
    wiki.faults.clear()
    wiki.reset_log()
    yield
    wiki.faults.clear()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["User-Agent"] = "WikiRoamTests/1.0 (test@example.invalid)"
        yield session


def api(wiki: SampleWiki, http: requests.Session, **params: str) -> requests.Response:
    return http.get(wiki.api_url, params={**BASE, **params}, timeout=5)


def query(wiki: SampleWiki, http: requests.Session, **params: str) -> dict[str, Any]:
    response = api(wiki, http, **params)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- Corpus ------------------------------------------------------------------------------------------------


def test_given_a_seed_when_building_twice_then_the_corpus_is_identical_and_another_seed_differs() -> None:
    # Given / When
    first, second, other = build_corpus(2017), build_corpus(2017), build_corpus(7)

    # Then
    assert first == second
    assert [p.extract for p in first.pages] == [p.extract for p in second.pages]
    assert first != other


def test_given_the_corpus_then_it_has_the_awkward_titles_the_redirect_and_the_injection_page(
    wiki: SampleWiki,
) -> None:
    corpus = wiki.corpus

    for title in ("Zürich", "AC/DC", "C++", "Rock & roll", "Script injection"):
        page = corpus.by_title(title)
        assert page is not None, title
        assert not page.is_redirect
    redirect = corpus.by_title("Zurich")
    assert redirect is not None
    assert redirect.redirect_to == "Zürich"
    assert corpus.resolve("Zurich") == corpus.by_title("Zürich")
    injection = corpus.by_title("Script injection")
    assert injection is not None
    assert INJECTION_MARKUP in injection.extract


def test_given_the_corpus_then_its_link_graph_has_a_big_hub_medium_hubs_and_a_long_tail(wiki: SampleWiki) -> None:
    corpus = wiki.corpus

    assert len(corpus.pages) > 600
    assert len(corpus.backlinks_of(corpus.hub.pageid)) == HUB_BACKLINKS >= 600
    for hub in corpus.medium_hubs:
        assert 50 <= len(corpus.backlinks_of(hub.pageid)) <= 150, hub.title
    orphans = [p for p in corpus.articles if not corpus.backlinks_of(p.pageid)]
    assert len(orphans) > len(corpus.pages) // 2
    ids = [p.pageid for p in corpus.backlinks_of(corpus.hub.pageid)]
    assert ids == sorted(ids)


def test_given_a_term_when_searching_the_corpus_then_exact_titles_rank_first_and_accents_are_ignored(
    wiki: SampleWiki,
) -> None:
    corpus = wiki.corpus

    assert corpus.search("river")[0].title == "River"
    assert len(corpus.search("river")) >= 5
    assert corpus.search("zurich")[0].title == "Zürich"
    # A redirect's title counts as an exact title of its target, as in CirrusSearch.
    assert corpus.search("rock and roll")[0].title == ROLL_TITLE
    assert corpus.search("river") == corpus.search("RIVER")
    assert corpus.search("") == []


# --- Search ------------------------------------------------------------------------------------------------


def test_given_a_term_when_generator_search_then_pages_come_in_pageid_order_with_an_index_rank(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # When
    data = query(wiki, http, generator="search", gsrsearch="river", gsrlimit="10", **SEARCH_PROPS)

    # Then
    assert data["batchcomplete"] is True
    assert data["continue"] == {"gsroffset": 10, "continue": "gsroffset||"}
    pages = data["query"]["pages"]
    assert [p["pageid"] for p in pages] == sorted(p["pageid"] for p in pages)
    by_rank = sorted(pages, key=lambda p: p["index"])
    assert [p["index"] for p in by_rank] == list(range(1, 11))
    assert [p["pageid"] for p in by_rank] != [p["pageid"] for p in pages]
    assert [p["title"] for p in by_rank] == [p.title for p in wiki.corpus.search("river")[:10]]
    first = by_rank[0]
    assert first["title"] == "River"
    for key in ("ns", "extract", "contentmodel", "touched", "lastrevid", "length", "fullurl", "canonicalurl"):
        assert key in first, key
    assert first["fullurl"] == f"{wiki.base_url}/wiki/River"
    assert first["thumbnail"]["source"].startswith(f"{wiki.base_url}/images/thumb/")
    assert "pageimage" not in first  # piprop=thumbnail alone leaves the file name out, as PageImages does


def test_given_a_first_page_of_results_when_echoing_continue_then_the_next_ranks_follow(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # Given
    first = query(wiki, http, generator="search", gsrsearch="river", gsrlimit="10", **SEARCH_PROPS)

    # When
    second = query(
        wiki, http, generator="search", gsrsearch="river", gsrlimit="10", **SEARCH_PROPS, **first["continue"]
    )

    # Then
    ranks = sorted(p["index"] for p in second["query"]["pages"])
    assert ranks == list(range(11, 21))
    assert second["continue"]["gsroffset"] == 20


def test_given_no_match_when_generator_search_then_only_batchcomplete_comes_back(
    wiki: SampleWiki, http: requests.Session
) -> None:
    data = query(wiki, http, generator="search", gsrsearch="qwxzzy", **SEARCH_PROPS)

    # exlimit=max is echoed in `limits`, as MediaWiki does even when nothing matched.
    assert data == {"batchcomplete": True, "limits": {"extracts": 20}}


def test_given_more_than_20_results_when_asking_for_extracts_then_textextracts_continues_with_excontinue(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # Given
    params = {"generator": "search", "gsrsearch": "river", "gsrlimit": "30", **SEARCH_PROPS}

    # When
    first = query(wiki, http, **params)
    second = query(wiki, http, **params, **first["continue"])

    # Then
    assert "batchcomplete" not in first
    assert first["continue"] == {"excontinue": 20, "continue": "||pageimages|info"}
    assert sum("extract" in p for p in first["query"]["pages"]) == 20
    assert sum("extract" in p for p in second["query"]["pages"]) == 10
    assert not any("fullurl" in p for p in second["query"]["pages"])  # info was finished in the first batch
    assert second["batchcomplete"] is True
    assert second["continue"] == {"gsroffset": 30, "continue": "gsroffset||"}


def test_given_more_pages_than_pilimit_when_asking_for_images_then_pageimages_continues_from_a_pageid(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # Given
    params = {"generator": "search", "gsrsearch": "river", "gsrlimit": "60", "prop": "pageimages", "pithumbsize": "100"}

    # When
    first = query(wiki, http, **params)
    second = query(wiki, http, **params, **first["continue"])

    # Then
    pages = first["query"]["pages"]
    assert first["continue"] == {"picontinue": pages[50]["pageid"], "continue": "||"}
    assert second["continue"] == {"gsroffset": 60, "continue": "gsroffset||"}
    shown = {p["pageid"] for p in pages[:50] + second["query"]["pages"][50:] if "thumbnail" in p}
    assert shown == {page.pageid for page in wiki.corpus.search("river")[:60] if page.image}
    assert not any("thumbnail" in p for p in pages[50:])
    assert all("pageimage" in p for p in pages if "thumbnail" in p)  # piprop defaults to thumbnail|name


def test_given_list_search_then_hits_carry_an_escaped_snippet(wiki: SampleWiki, http: requests.Session) -> None:
    data = query(wiki, http, list="search", srsearch="script", srlimit="5")

    assert data["query"]["searchinfo"]["totalhits"] >= 1
    hit = data["query"]["search"][0]
    assert hit["title"] == "Script injection"
    assert "<script>" not in hit["snippet"]
    assert '<span class="searchmatch">' in hit["snippet"]


# --- Pages -------------------------------------------------------------------------------------------------


def test_given_the_injection_page_when_fetching_its_extract_then_the_markup_arrives_as_literal_text(
    wiki: SampleWiki, http: requests.Session
) -> None:
    data = query(wiki, http, titles="Script injection", **SEARCH_PROPS)

    [page] = data["query"]["pages"]
    assert INJECTION_MARKUP in page["extract"]


def test_given_unknown_ids_and_titles_when_fetching_then_they_come_back_missing(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # Given
    known = wiki.corpus.hub.pageid

    # When
    by_id = query(wiki, http, pageids=f"{known}|1", **SEARCH_PROPS)
    by_title = query(wiki, http, titles="No such page at all", prop="info")

    # Then
    assert {"pageid": 1, "missing": True} in by_id["query"]["pages"]
    assert any(p.get("pageid") == known and "missing" not in p for p in by_id["query"]["pages"])
    [missing] = by_title["query"]["pages"]
    assert missing["missing"] is True
    assert missing["title"] == "No such page at all"
    assert missing["ns"] == 0


def test_given_lowercase_and_redirect_titles_when_fetching_then_normalized_and_redirects_are_reported(
    wiki: SampleWiki, http: requests.Session
) -> None:
    data = query(wiki, http, titles="zurich|Rock_&_roll", prop="info", redirects="1")

    assert data["query"]["normalized"] == [
        {"fromencoded": False, "from": "zurich", "to": "Zurich"},
        {"fromencoded": False, "from": "Rock_&_roll", "to": "Rock & roll"},
    ]
    assert data["query"]["redirects"] == [{"from": "Zurich", "to": "Zürich"}]
    assert sorted(p["title"] for p in data["query"]["pages"]) == ["Rock & roll", "Zürich"]


def test_given_missing_invalid_and_found_titles_then_they_come_in_mediawikis_order(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # Given: MediaWiki keys invalid titles -1, -2... as read, missing ones after them, and sorts by key
    titles = "Nope one|A<b|Nope two|AC/DC|C[d|C++"

    # When
    data = query(wiki, http, titles=titles, prop="info")

    # Then
    found = sorted(
        (page.pageid, page.title) for page in (wiki.corpus.by_title("AC/DC"), wiki.corpus.by_title("C++")) if page
    )
    assert [p["title"] for p in data["query"]["pages"]] == [
        "Nope two",
        "Nope one",
        "C[d",
        "A<b",
        *(title for _, title in found),
    ]
    invalid = data["query"]["pages"][2]
    assert invalid == {
        "title": "C[d",
        "invalidreason": 'The requested page title contains invalid characters: "[".',
        "invalid": True,
    }


def test_given_a_redirect_pageid_when_fetching_with_redirects_then_the_target_comes_back(
    wiki: SampleWiki, http: requests.Session
) -> None:
    redirect = wiki.corpus.by_title("Zurich")
    assert redirect is not None

    data = query(wiki, http, pageids=str(redirect.pageid), redirects="1", prop="info")

    assert [p["title"] for p in data["query"]["pages"]] == ["Zürich"]
    assert data["query"]["redirects"] == [{"from": "Zurich", "to": "Zürich"}]


# --- Backlinks ---------------------------------------------------------------------------------------------


def test_given_the_hub_when_following_continue_then_every_backlink_arrives_across_the_500_limit(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # Given
    hub = wiki.corpus.hub
    params = {"list": "backlinks", "blpageid": str(hub.pageid), "blnamespace": "0", "bllimit": "max"}

    # When
    batches: list[list[dict[str, Any]]] = []
    token: dict[str, str] = {}
    while True:
        data = query(wiki, http, **params, **token)
        batches.append(data["query"]["backlinks"])
        if "continue" not in data:
            break
        token = {k: str(v) for k, v in data["continue"].items()}
        assert token["continue"] == "-||"
        assert token["blcontinue"].startswith("0|")

    # Then
    assert [len(b) for b in batches] == [500, HUB_BACKLINKS - 500]
    received = [(b["pageid"], b["title"]) for batch in batches for b in batch]
    assert received == [(p.pageid, p.title) for p in wiki.corpus.backlinks_of(hub.pageid)]
    assert all(b["ns"] == 0 for batch in batches for b in batch)
    assert wiki.count(list="backlinks") == 2


def test_given_a_limit_over_500_when_listing_backlinks_then_it_is_clamped_with_a_warning(
    wiki: SampleWiki, http: requests.Session
) -> None:
    data = query(wiki, http, list="backlinks", bltitle="Earth", bllimit="1000", bogus="1", _="2")

    assert len(data["query"]["backlinks"]) == 500
    assert data["warnings"] == {
        "main": {"warnings": "Unrecognized parameters: bogus, _."},
        "backlinks": {"warnings": 'The value "1000" for parameter "bllimit" must be between 1 and 500.'},
    }
    assert "limits" not in data


def test_given_max_limits_and_unknown_values_then_limits_and_warnings_say_so(
    wiki: SampleWiki, http: requests.Session
) -> None:
    data = query(wiki, http, list="backlinks|nope", bltitle="River", bllimit="max", blnamespace="0|abc")

    assert data["limits"] == {"backlinks": 500}
    assert data["warnings"] == {
        "query": {"warnings": 'Unrecognized value for parameter "list": nope'},
        "backlinks": {"warnings": 'Unrecognized value for parameter "blnamespace": abc'},
    }
    assert len(data["query"]["backlinks"]) == len(wiki.corpus.backlinks_of(wiki.corpus.medium_hubs[0].pageid))


def test_given_a_redirect_when_listing_backlinks_of_its_target_then_it_is_flagged(
    wiki: SampleWiki, http: requests.Session
) -> None:
    data = query(wiki, http, list="backlinks", bltitle="Zürich", bllimit="max")

    flagged = [b for b in data["query"]["backlinks"] if b.get("redirect")]
    assert [b["title"] for b in flagged] == ["Zurich"]


# --- Redirects: what links here, through them ---------------------------------------------------------------


def _roll(wiki: SampleWiki) -> tuple[Page, list[Page]]:
    roll = wiki.corpus.by_title(ROLL_TITLE)
    assert roll is not None
    return roll, wiki.corpus.redirects_to(roll.pageid)


def test_given_late_pages_then_every_page_that_existed_before_keeps_its_id_and_its_hub_keeps_its_backlinks(
    wiki: SampleWiki,
) -> None:
    corpus = wiki.corpus
    late = [corpus.by_title(title) for title in (*LINKED_REDIRECTS, "Blues", "Skiffle", "Rockabilly", MARKUP_TITLE)]

    # Ids the docs and tests name stay put, and the late pages come after every other one.
    assert corpus.hub.pageid == 1952
    assert len(corpus.backlinks_of(corpus.hub.pageid)) == HUB_BACKLINKS
    assert all(page is not None for page in late)
    assert min(p.pageid for p in late if p) > max(p.pageid for p in corpus.pages if p not in late)
    markup = corpus.by_title(MARKUP_TITLE)
    assert markup is not None
    assert (markup.extract, markup.image) == ("", None)


def test_what_links_here_follows_one_level_of_redirects_and_leaves_redirect_pages_out(wiki: SampleWiki) -> None:
    # Given "Rock & roll", its redirects, a page linking through two of them, and one through a double redirect
    roll, redirects = _roll(wiki)
    linked = {p.title for p in wiki.corpus.what_links_here(roll.pageid)}

    assert [r.title for r in redirects] == ["Rock and roll", "Rock 'n' roll"]
    assert {"AC/DC", "Blues", "Skiffle"} <= linked
    assert not linked & {"Rock and roll", "Rock 'n' roll", "Rock-and-roll", "Rockabilly"}
    ids = [p.pageid for p in wiki.corpus.what_links_here(roll.pageid)]
    assert ids == sorted(set(ids))


def test_given_blredirect_then_links_through_each_redirect_nest_under_it_and_max_is_250(
    wiki: SampleWiki, http: requests.Session
) -> None:
    roll, _ = _roll(wiki)

    data = query(wiki, http, list="backlinks", blpageid=str(roll.pageid), blredirect="1", bllimit="max")

    assert data["limits"] == {"backlinks": 250}
    entries = {b["title"]: b for b in data["query"]["backlinks"]}
    assert entries["Rock and roll"]["redirect"] is True
    nested = [(r["title"], r.get("redirect", False)) for r in entries["Rock and roll"]["redirlinks"]]
    # The double redirect is listed, flagged, and not followed: Rockabilly, linking to it, is not there.
    assert nested == [("AC/DC", False), ("Rock-and-roll", True), ("Blues", False), ("Skiffle", False)]
    assert [r["title"] for r in entries["Rock 'n' roll"]["redirlinks"]] == ["Skiffle"]
    assert "redirlinks" not in entries["AC/DC"]
    articles = {b["pageid"] for b in data["query"]["backlinks"] if not b.get("redirect")} | {
        r["pageid"] for b in data["query"]["backlinks"] for r in b.get("redirlinks", []) if not r.get("redirect")
    }
    assert articles == {p.pageid for p in wiki.corpus.what_links_here(roll.pageid)}


def test_given_blredirect_when_the_second_level_continues_then_the_first_level_is_listed_again(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # Given the window of the first level that holds both redirects
    roll, redirects = _roll(wiki)
    params = {"list": "backlinks", "blpageid": str(roll.pageid), "blredirect": "1", "bllimit": "2"}
    window = f"0|{redirects[0].pageid}"

    # When
    first = query(wiki, http, **params, blcontinue=window)
    second = query(wiki, http, **params, **first["continue"])

    # Then: MediaWiki sorts the second level by the redirect's database key, then by the linking page's id
    double = wiki.corpus.by_title("Rock-and-roll")
    assert double is not None
    assert first["continue"]["blcontinue"] == f"{window}|0|Rock_and_roll|0|{double.pageid}"
    assert [b["title"] for b in second["query"]["backlinks"]] == [b["title"] for b in first["query"]["backlinks"]]
    assert [r["title"] for r in first["query"]["backlinks"][1]["redirlinks"]] == ["Skiffle"]
    assert [r["title"] for r in second["query"]["backlinks"][0]["redirlinks"]] == ["Rock-and-roll", "Blues"]
    assert "continue" in second


def test_given_list_backlinks_beside_prop_redirects_then_both_continue_and_the_page_set_stops_when_done(
    wiki: SampleWiki, http: requests.Session
) -> None:
    roll, redirects = _roll(wiki)
    params = {
        "list": "backlinks",
        "blpageid": str(roll.pageid),
        "blfilterredir": "nonredirects",
        "bllimit": "1",
        "pageids": str(roll.pageid),
        "prop": "redirects",
        "rdprop": "pageid",
        "rdlimit": "1",
    }

    first = query(wiki, http, **params)
    second = query(wiki, http, **params, **first["continue"])
    third = query(wiki, http, **params, **second["continue"])

    assert first["continue"] == {
        "blcontinue": first["continue"]["blcontinue"],
        "rdcontinue": str(redirects[1].pageid),
        "continue": "||",
    }
    assert first["query"]["pages"] == [
        {"pageid": roll.pageid, "ns": 0, "title": ROLL_TITLE, "redirects": [{"pageid": redirects[0].pageid}]}
    ]
    assert second["query"]["pages"][0]["redirects"] == [{"pageid": redirects[1].pageid}]
    assert second["continue"]["continue"] == "-||redirects"
    # Once `continue` says the page set is done, MediaWiki leaves the pages out: only the list continues.
    assert "pages" not in third["query"]
    assert all(not b.get("redirect") for data in (first, second, third) for b in data["query"]["backlinks"])


def test_given_generator_linkshere_with_pltitles_then_pages_linking_directly_carry_the_link(
    wiki: SampleWiki, http: requests.Session
) -> None:
    _, redirects = _roll(wiki)
    params = {
        "generator": "linkshere",
        "pageids": "|".join(str(r.pageid) for r in redirects),
        "glhnamespace": "0",
        "glhshow": "!redirect",
        "prop": "links",
        "pltitles": ROLL_TITLE,
        "pllimit": "max",
    }

    everything = query(wiki, http, **params, glhlimit="max")
    first = query(wiki, http, **params, glhlimit="1")

    pages = {p["title"]: p for p in everything["query"]["pages"]}
    assert set(pages) == {"AC/DC", "Blues", "Skiffle"}  # Skiffle once, though it links to both redirects
    assert pages["AC/DC"]["links"] == [{"ns": 0, "title": ROLL_TITLE}]
    assert "links" not in pages["Blues"]
    assert everything["limits"] == {"linkshere": 500, "links": 500}
    # Several targets: continued by the target's database key, then the linking page's id.
    assert [p["title"] for p in first["query"]["pages"]] == ["Skiffle"]
    assert first["continue"] == {
        "glhcontinue": f"Rock_and_roll|{wiki.corpus.by_title('AC/DC').pageid}",
        "continue": "glhcontinue||",
    }


def test_given_prop_linkshere_then_each_page_lists_the_pages_linking_to_it(
    wiki: SampleWiki, http: requests.Session
) -> None:
    _, redirects = _roll(wiki)

    data = query(wiki, http, pageids=str(redirects[1].pageid), prop="linkshere")

    [page] = data["query"]["pages"]
    assert page["linkshere"] == [
        {"pageid": wiki.corpus.by_title("Skiffle").pageid, "ns": 0, "title": "Skiffle", "redirect": False}
    ]


# --- Search backends and the near match ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def database_wiki() -> Iterator[SampleWiki]:
    with SampleWiki(search="database") as running:
        yield running


def test_given_a_term_naming_a_page_then_nearmatch_finds_it_in_any_case_or_through_a_redirect(
    wiki: SampleWiki, http: requests.Session
) -> None:
    def near(term: str) -> list[dict[str, Any]]:
        data = query(wiki, http, list="search", srsearch=term, srwhat="nearmatch", srnamespace="0", srprop="")
        assert "searchinfo" not in data["query"]  # a near match is never counted
        assert "continue" not in data
        hits: list[dict[str, Any]] = data["query"]["search"]
        return hits

    roll_redirect = wiki.corpus.by_title("Rock and roll")
    assert roll_redirect is not None
    assert near("music") == [{"ns": 0, "title": "Music", "pageid": wiki.corpus.by_title("Music").pageid}]
    assert near("ROCK AND ROLL") == [{"ns": 0, "title": "Rock and roll", "pageid": roll_redirect.pageid}]
    assert near('"zurich"')[0]["title"] == "Zurich"
    assert near("music of the spheres") == []
    assert near("#Music") == []


def test_given_the_database_backend_then_matches_come_in_title_order_with_redirect_pages_among_them(
    database_wiki: SampleWiki, http: requests.Session
) -> None:
    data = query(database_wiki, http, list="search", srsearch="roll", srlimit="max", srprop="")
    titles = [hit["title"] for hit in data["query"]["search"]]

    assert titles == sorted(titles, key=lambda t: t.replace(" ", "_").encode())
    assert {"Rock and roll", "Rock-and-roll", "Rock & roll"} <= set(titles)
    music = query(database_wiki, http, list="search", srsearch="music", srlimit="10", srprop="")
    assert "Music" not in [hit["title"] for hit in music["query"]["search"]]
    assert music["query"]["searchinfo"]["totalhits"] > 10


def test_given_the_database_backend_and_redirects_then_redirect_hits_resolve_with_their_generator_data(
    database_wiki: SampleWiki, http: requests.Session
) -> None:
    data = query(database_wiki, http, generator="search", gsrsearch="roll", gsrlimit="20", redirects="1", prop="info")

    hits = {r["from"]: r for r in data["query"]["redirects"]}
    ranks = [hit.title for hit in database_wiki.corpus.database_search("roll")]
    rock_and_roll = database_wiki.corpus.by_title("Rock and roll")
    assert rock_and_roll is not None
    assert hits["Rock and roll"] == {
        "ns": 0,
        "title": "Rock and roll",
        "pageid": rock_and_roll.pageid,
        "index": ranks.index("Rock and roll") + 1,
        "from": "Rock and roll",
        "to": ROLL_TITLE,
    }
    assert hits["Rock-and-roll"]["to"] == "Rock and roll"  # a chain: each hop once
    pages = {p["title"]: p for p in data["query"]["pages"]}
    assert not any(p.get("redirect") for p in data["query"]["pages"])
    # The target takes the best rank of the pages that led to it.
    assert pages[ROLL_TITLE]["index"] == min(ranks.index(t) + 1 for t in (*LINKED_REDIRECTS, ROLL_TITLE))


def test_the_search_backend_comes_from_the_argument_then_the_environment_and_unknown_names_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus = build_corpus()
    monkeypatch.setenv(SEARCH_BACKEND_VARIABLE, "database")
    assert SampleWiki(corpus).search_backend == "database"
    assert SampleWiki(corpus, search="cirrus").search_backend == "cirrus"
    monkeypatch.setenv(SEARCH_BACKEND_VARIABLE, "elastic")
    with pytest.raises(ValueError, match="use cirrus or database"):
        SampleWiki(corpus)


# --- Errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"list": "backlinks", "bltitle": "Earth", "bllimit": "abc"}, "badinteger"),
        ({"list": "backlinks"}, "missingparam"),
        ({"list": "backlinks", "bltitle": "Earth", "blpageid": "1"}, "invalidparammix"),
        ({"list": "backlinks", "blpageid": "1"}, "nosuchpageid"),
        ({"list": "backlinks", "bltitle": "Earth", "blcontinue": "nonsense"}, "badcontinue"),
        ({"titles": "Earth", "pageids": "1"}, "multisource"),
        ({"action": "explode"}, "badvalue"),
        ({"generator": "search", "prop": "info"}, "missingparam"),
        ({"maxlag": "abc", "titles": "Earth"}, "badinteger"),
        ({"generator": "nope"}, "badgenerator"),
        ({"list": "backlinks", "bltitle": "A<b"}, "invalidtitle"),
        ({"titles": "|".join(f"T{i}" for i in range(51))}, "toomanyvalues"),
    ],
)
def test_given_a_bad_request_when_calling_the_api_then_an_error_comes_back_with_http_200(
    wiki: SampleWiki, http: requests.Session, params: dict[str, str], code: str
) -> None:
    # When
    response = api(wiki, http, **params)

    # Then
    assert response.status_code == 200
    assert response.headers["MediaWiki-API-Error"] == code
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["info"]
    assert body["error"]["docref"].startswith(f"See {wiki.api_url} for API usage.")
    assert body["servedby"] == "samplewiki"
    assert "query" not in body


# --- Faults ------------------------------------------------------------------------------------------------


def test_given_an_armed_429_when_calling_then_it_answers_429_with_retry_after_once(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # Given
    wiki.faults.arm("429", retry_after=3)

    # When
    throttled = api(wiki, http, titles="Earth")
    normal = api(wiki, http, titles="Earth")

    # Then
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "3"
    assert throttled.text
    assert normal.status_code == 200
    assert [r.status for r in wiki.requests] == [429, 200]
    assert [r.fault for r in wiki.requests] == ["429", None]
    assert wiki.faults.armed == []


def test_given_an_armed_maxlag_when_calling_then_a_maxlag_error_comes_with_lag_headers(
    wiki: SampleWiki, http: requests.Session
) -> None:
    wiki.faults.arm("maxlag", count=2, retry_after=1)

    first = api(wiki, http, titles="Earth", maxlag="5")
    second = api(wiki, http, titles="Earth", maxlag="5")
    third = api(wiki, http, titles="Earth", maxlag="5")

    for response in (first, second):
        assert response.status_code == 200
        assert response.headers["Retry-After"] == "1"
        assert response.headers["X-Database-Lag"] == "7"
        assert response.headers["MediaWiki-API-Error"] == "maxlag"
        error = response.json()["error"]
        assert error["code"] == "maxlag"
        assert error["info"] == "Waiting for 127.0.0.1: 7 seconds lagged."
        assert error["host"] == "127.0.0.1"
        assert error["lag"] == 7
    assert "error" not in third.json()


def test_given_a_maxlag_fault_without_retry_after_then_it_asks_for_at_least_five_seconds(
    wiki: SampleWiki, http: requests.Session
) -> None:
    wiki.faults.arm("maxlag")

    response = api(wiki, http, titles="Earth", maxlag="2")

    assert response.headers["Retry-After"] == "5"


def test_given_a_fault_matching_backlinks_when_searching_then_only_backlinks_fail(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # Given
    wiki.faults.arm("500", count=None, match="list=backlinks")

    # When
    search = api(wiki, http, generator="search", gsrsearch="river", **SEARCH_PROPS)
    backlinks = api(wiki, http, list="backlinks", bltitle="Earth")

    # Then
    assert search.status_code == 200
    assert backlinks.status_code == 500
    assert backlinks.headers["Content-Type"].startswith("text/html")
    assert len(wiki.faults.armed) == 1


def test_given_an_error_fault_when_calling_then_the_api_error_has_that_code(
    wiki: SampleWiki, http: requests.Session
) -> None:
    wiki.faults.arm("error:ratelimited", match="generator=search&prop=extracts")

    unaffected = api(wiki, http, titles="Earth", prop="extracts")
    failed = api(wiki, http, generator="search", gsrsearch="river", **SEARCH_PROPS)

    assert "error" not in unaffected.json()
    assert failed.status_code == 200
    assert failed.json()["error"]["code"] == "ratelimited"
    assert failed.headers["MediaWiki-API-Error"] == "ratelimited"


def test_given_a_timeout_fault_when_the_client_waits_less_then_it_times_out(
    wiki: SampleWiki, http: requests.Session
) -> None:
    wiki.faults.arm("timeout", delay=1.0)

    with pytest.raises(requests.Timeout):
        http.get(wiki.api_url, params={**BASE, "titles": "Earth"}, timeout=0.2)
    assert api(wiki, http, titles="Earth").status_code == 200


def test_given_a_disconnect_fault_when_calling_then_the_connection_drops(
    wiki: SampleWiki, http: requests.Session
) -> None:
    wiki.faults.arm("disconnect")

    with pytest.raises(requests.ConnectionError):
        api(wiki, http, titles="Earth")
    assert api(wiki, http, titles="Earth").status_code == 200


def test_given_a_bad_fault_kind_when_arming_then_it_is_refused(wiki: SampleWiki) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        wiki.faults.arm("teapot")
    with pytest.raises(ValueError, match="count"):
        wiki.faults.arm("429", count=0)


def test_params_match_terms() -> None:
    params = {"action": "query", "prop": "extracts|info", "list": "backlinks"}

    assert params_match(params, "list=backlinks")
    assert params_match(params, "prop=info&action=query")
    assert params_match(params, "list")
    assert not params_match(params, "prop=pageimages")
    assert not params_match(params, "generator")


# --- Request log -------------------------------------------------------------------------------------------


def test_given_requests_when_reading_the_log_then_counts_methods_and_user_agent_are_recorded(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # When
    api(wiki, http, list="backlinks", bltitle="River")
    api(wiki, http, list="backlinks", bltitle="Music")
    http.post(
        wiki.api_url,
        data={**BASE, "titles": "Earth", "prop": "info"},
        timeout=5,
    )

    # Then
    assert wiki.count(list="backlinks") == 2
    assert wiki.count(bltitle="Music") == 1
    assert wiki.count(prop="info") == 1
    assert wiki.count() == 3
    recorded = wiki.requests
    assert [r.method for r in recorded] == ["GET", "GET", "POST"]
    assert all(r.user_agent == "WikiRoamTests/1.0 (test@example.invalid)" for r in recorded)
    assert recorded[-1].params["titles"] == "Earth"
    assert recorded[-1].status == 200
    wiki.reset_log()
    assert wiki.requests == []


# --- Pages and images over HTTP ----------------------------------------------------------------------------


def test_given_a_thumbnail_url_when_fetching_it_then_a_png_of_the_reported_size_comes_back(
    wiki: SampleWiki, http: requests.Session
) -> None:
    # Given
    data = query(wiki, http, titles="Zürich|AC/DC", **SEARCH_PROPS)
    thumbnails = [p["thumbnail"] for p in data["query"]["pages"]]

    # When / Then
    for thumbnail in thumbnails:
        response = http.get(thumbnail["source"], timeout=5)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/png"
        assert png_size(response.content) == (thumbnail["width"], thumbnail["height"])
        assert max(thumbnail["width"], thumbnail["height"]) == 160
    assert http.get(f"{wiki.base_url}/images/thumb/0/00/Nope.png/10px-Nope.png", timeout=5).status_code == 404


def test_given_the_injection_page_when_opening_its_article_url_then_the_markup_is_escaped(
    wiki: SampleWiki, http: requests.Session
) -> None:
    data = query(wiki, http, titles="Script injection|AC/DC|C++|Rock & roll", prop="info", inprop="url")
    urls = {p["title"]: p["fullurl"] for p in data["query"]["pages"]}

    assert urls["C++"] == f"{wiki.base_url}/wiki/C%2B%2B"
    assert urls["Rock & roll"] == f"{wiki.base_url}/wiki/Rock_%26_roll"
    assert urls["AC/DC"] == f"{wiki.base_url}/wiki/AC/DC"
    for title, url in urls.items():
        response = http.get(url, timeout=5)
        assert response.status_code == 200, title
    article = http.get(urls["Script injection"], timeout=5).text
    assert "&lt;script&gt;" in article
    assert '<script>alert("xss")' not in article


# --- Lifecycle ---------------------------------------------------------------------------------------------


def test_given_a_slow_answer_in_flight_when_stopping_then_stop_returns_quickly_and_the_port_closes(
    wiki: SampleWiki,
) -> None:
    # Given
    corpus: Corpus = wiki.corpus
    other = SampleWiki(corpus).start()
    other.faults.arm("timeout", delay=30)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(other.api_url, params={**BASE, "titles": "Earth"}, timeout=10)
        except requests.RequestException as error:
            errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 2
    while not other.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    port = other.port

    # When
    started = time.monotonic()
    other.stop()
    caller.join(timeout=5)

    # Then
    assert time.monotonic() - started < 2
    assert not caller.is_alive()
    assert errors
    assert not other.running
    other.stop()  # a second stop is harmless
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/w/api.php", timeout=2)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_given_a_public_address_when_creating_the_wiki_then_it_is_refused(wiki: SampleWiki) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SampleWiki(wiki.corpus, host="0.0.0.0")
