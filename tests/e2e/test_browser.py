"""The browser UI in Debian's Chromium against a running WikiRoam: search as you type, cards, roaming, safety."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from local.samplewiki.corpus import HUB_TITLE, INJECTION_MARKUP, INJECTION_TITLE, MARKUP_TITLE, ROLL_TITLE, Corpus
from tests.e2e.browser_support import SCREENSHOTS, BrowserPage, launch_chromium, site_bytes

# Mirrors of site/app.js's constants: the tests check the behaviour they promise.
SEARCH_PAUSE_MS = 300
POLL_ROUNDS = 8
POLL_DELAYS_MS = [1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000]
SEARCH_LIMIT = 10
PAGE_WEIGHT_LIMIT = 50 * 1024


@pytest.fixture(scope="module")
def site_stack(local_stack):
    """WikiRoam on this machine (the whole local stack): `.url`, `.wiki` and `.wait_until_cached(...)`."""
    return local_stack


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the session; each test gets its own context and page."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def ui(browser: Browser, site_stack) -> Iterator[BrowserPage]:
    """Given a fresh browser page on the site (no cookies, no history), no wiki fault armed, the pipeline idle.

    The pipeline is idle because each e2e test waits for it before it ends (`pytest_runtest_call` in conftest).
    """
    site_stack.wiki.faults.clear()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watched = BrowserPage(page, site_stack.url)
    yield watched
    site_stack.wiki.faults.clear()
    try:
        # Every test doubles as a check that the site runs under its Content Security Policy, unharmed.
        assert watched.csp_violations() == []
        assert watched.page_errors == []
        assert watched.dialogs == []
    finally:
        context.close()


def corpus(site_stack) -> Corpus:
    return site_stack.wiki.corpus


def top_titles(site_stack, term: str) -> list[str]:
    return [p.title for p in corpus(site_stack).search(term)[:SEARCH_LIMIT]]


def page_id(site_stack, title: str) -> int:
    page = corpus(site_stack).by_title(title)
    assert page is not None, title
    return page.pageid


def card_titles(ui: BrowserPage) -> list[str]:
    return ui.page.locator("#cards .card-title").all_text_contents()


def wait_for_results(ui: BrowserPage, term: str, site_stack) -> None:
    expect(ui.page.locator("#cards .card-title")).to_have_text(top_titles(site_stack, term))


# --- Search as you type ------------------------------------------------------------------------------------


def test_given_a_15_character_term_typed_at_80_ms_per_key_then_exactly_one_search_is_sent(ui, site_stack):
    term = "seasonal valley"
    assert len(term) == 15
    ui.goto()

    ui.page.locator("#q").press_sequentially(term, delay=80)
    wait_for_results(ui, term, site_stack)

    # The results of the full term are drawn, so the last pause has fired: no other search can follow.
    assert ui.searches() == [term]
    assert ui.page.url.endswith(f"?q={quote(term).replace('%20', '+')}")


def test_each_search_sends_a_fresh_traceparent_and_shows_its_trace_id(ui, site_stack):
    ui.goto()

    ui.page.locator("#q").fill("navigable delta")
    wait_for_results(ui, "navigable delta", site_stack)
    ui.page.locator("#q").fill("navigable lakes")
    wait_for_results(ui, "navigable lakes", site_stack)

    searches = [r for r in ui.api_requests if "/api/search" in r.url]
    headers = [r.headers.get("traceparent", "") for r in searches]
    assert all(re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", h) for h in headers), headers
    trace_ids = [h.split("-")[1] for h in headers]
    assert len(set(trace_ids)) == 2
    expect(ui.page.locator("#trace")).to_contain_text(trace_ids[-1])


def test_given_a_paused_clock_the_search_waits_300_ms_of_quiet_and_enter_skips_the_wait(ui, site_stack):
    ui.page.clock.install(time=datetime(2026, 1, 1, tzinfo=UTC))
    ui.goto()
    ui.page.clock.pause_at(datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    box = ui.page.locator("#q")

    box.press_sequentially("abbey")
    ui.page.clock.run_for(SEARCH_PAUSE_MS - 1)
    assert ui.searches() == []
    with ui.page.expect_request(lambda r: "/api/search" in r.url):
        ui.page.clock.run_for(1)
    wait_for_results(ui, "abbey", site_stack)

    box.fill("treaty")
    with ui.page.expect_request(lambda r: "/api/search" in r.url):
        box.press("Enter")  # the clock stays paused: only Enter can have sent it
    wait_for_results(ui, "treaty", site_stack)
    assert ui.searches() == ["abbey", "treaty"]


def test_when_a_second_term_follows_a_slow_first_one_then_the_first_answer_is_never_drawn(ui, site_stack):
    first, second = "nebula", "cheese"
    first_only = set(top_titles(site_stack, first)) - set(top_titles(site_stack, second))
    assert first_only
    # Given the wiki answers the first term's search only after the second one is on screen.
    site_stack.wiki.faults.arm("timeout", count=1, delay=2.0, match=f"gsrsearch={first}")
    ui.goto()
    box = ui.page.locator("#q")

    with ui.page.expect_request(lambda r: "/api/search" in r.url and f"q={first}" in r.url):
        box.press_sequentially(first, delay=40)
    box.fill("")
    box.press_sequentially(second, delay=40)
    wait_for_results(ui, second, site_stack)
    ui.wait_until(
        lambda: any(r.params.get("gsrsearch") == first and r.status for r in site_stack.wiki.requests),
        timeout=10,
        what="the wiki to answer the slow search",
    )
    # The gateway relays the wiki's late answer within milliseconds; give a stale render the chance to happen.
    ui.page.wait_for_timeout(500)

    assert ui.searches() == [first, second]
    assert [parse_qs(urlsplit(r.url).query)["q"][0] for r in ui.failed] == [first]  # aborted, not merely ignored
    assert first_only.isdisjoint(ui.titles_ever_shown())
    assert card_titles(ui) == top_titles(site_stack, second)


def test_the_same_term_again_sends_nothing(ui, site_stack):
    ui.goto()
    box = ui.page.locator("#q")
    box.press_sequentially("kestrel", delay=60)
    wait_for_results(ui, "kestrel", site_stack)

    box.fill("")
    box.press_sequentially("kestrel ", delay=60)  # the same term once spaces are trimmed
    ui.page.wait_for_timeout(SEARCH_PAUSE_MS * 2)  # the reader pauses: the pause timer fires
    box.press("Enter")
    box.fill("castle")
    box.press("Enter")
    wait_for_results(ui, "castle", site_stack)

    assert ui.searches() == ["kestrel", "castle"]


def test_clearing_the_box_clears_the_results_and_the_url(ui, site_stack):
    ui.goto("/?q=music")
    wait_for_results(ui, "music", site_stack)

    ui.page.locator("#q").fill("")

    expect(ui.page.locator("#results")).to_be_hidden()
    expect(ui.page.locator("#cards .card")).to_have_count(0)
    assert "?q=" not in ui.page.url
    assert ui.searches() == ["music"]


# --- Cards --------------------------------------------------------------------------------------------------


def test_cards_show_title_extract_thumbnail_and_a_link_to_the_article(ui, site_stack):
    ui.goto()
    with ui.page.expect_response(lambda r: "/api/search" in r.url) as answer:
        ui.page.locator("#q").press_sequentially("river", delay=50)
    results = answer.value.json()["results"]
    wait_for_results(ui, "river", site_stack)

    cards = ui.page.locator("#cards .card")
    expect(cards).to_have_count(len(results))
    for card, result in zip(cards.all(), results, strict=True):
        expect(card.locator(".card-title")).to_have_text(result["title"])
        expect(card.locator(".extract")).to_have_text(result["extract"])
        expect(card.get_by_role("link", name=re.compile("^Read on the wiki"))).to_have_attribute("href", result["url"])
        expect(card.get_by_role("button", name="Backlinks")).to_be_visible()
        thumbnails = card.locator("img.thumb")
        if result["thumbnail"]:
            expect(thumbnails).to_have_attribute("src", result["thumbnail"])
        else:
            expect(thumbnails).to_have_count(0)
    assert any(r["thumbnail"] for r in results)
    expect(ui.page.locator("footer a[href='https://creativecommons.org/licenses/by-sa/4.0/']")).to_have_text(
        "CC BY-SA 4.0"
    )


def test_cache_status_goes_from_caching_to_cached_while_polling_backs_off(ui, site_stack):
    term = "bread"
    ui.goto()
    ui.page.locator("#q").fill(term)
    ui.page.locator("#q").press("Enter")
    wait_for_results(ui, term, site_stack)
    badges = ui.page.locator("#cards .badge")
    # The API said none of these was cached: the cards say so first.
    expect(badges.first).to_have_text("caching\u2026")

    expect(badges).to_have_text(["cached"] * SEARCH_LIMIT, timeout=30_000)

    times = ui.api_call_times(f"/api/pages/{page_id(site_stack, top_titles(site_stack, term)[0])}")
    assert 1 <= len(times) <= POLL_ROUNDS
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.8 * POLL_DELAYS_MS[0] for gap in gaps), gaps


def test_given_pages_never_get_cached_then_polling_backs_off_and_stops_after_its_rounds(ui, site_stack):
    term = "siege"
    titles = top_titles(site_stack, term)
    # Given the pipeline cannot fetch these pages (its requests carry maxlag; a reader's do not).
    for title in titles:
        site_stack.wiki.faults.arm("error:readonly", count=None, match=f"pageids={page_id(site_stack, title)}&maxlag")
    ui.page.clock.install(time=datetime(2026, 1, 1, tzinfo=UTC))
    ui.goto()
    ui.page.clock.pause_at(datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    ui.page.locator("#q").fill(term)
    ui.page.locator("#q").press("Enter")
    wait_for_results(ui, term, site_stack)

    # Step the page's clock, letting each round of polls finish before time moves on.
    for _ in range(int(sum(POLL_DELAYS_MS) * 1.5 / 200) + 300):
        ui.page.clock.run_for(200)
        ui.wait_until(lambda: len(ui.finished) + len(ui.failed) >= len(ui.api_requests), what="polls to finish")

    first = f"/api/pages/{page_id(site_stack, titles[0])}"
    times = ui.api_call_times(first)
    assert len(times) == POLL_ROUNDS
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, planned in zip(gaps, POLL_DELAYS_MS[1:], strict=True):
        assert 0.8 * planned - 200 <= gap <= 1.2 * planned + 600, gaps
    assert len(ui.polls()) == POLL_ROUNDS * len(titles)
    # Each failure is reported and, on the next poll, requested again; at the cap the card says it gave up.
    gave_up = re.compile("^(caching failed|not cached yet)$")
    expect(ui.page.locator("#cards .badge")).to_have_text([gave_up] * len(titles))


def step_clock_until(ui: BrowserPage, done, limit_ms: int = 60_000, step_ms: int = 250) -> None:
    """Move the page's paused clock on until `done()`, letting each poll finish before time moves again."""
    elapsed = 0
    while not done():
        assert elapsed < limit_ms, f"not done after {elapsed} ms of page time"
        ui.page.clock.run_for(step_ms)
        elapsed += step_ms
        ui.wait_until(lambda: len(ui.finished) + len(ui.failed) >= len(ui.api_requests), what="polls to finish")


def test_a_page_whose_caching_fails_says_so_then_recovers_when_asked_again(ui, site_stack):
    computing = page_id(site_stack, "Computing")
    # Earlier tests may have cached it: start from a page nobody cached, with no pipeline work in flight.
    assert site_stack.wait_idle(60)
    site_stack.client("dynamodb").delete_item(
        TableName=site_stack.outputs["pagesTableName"], Key={"pageid": {"N": str(computing)}}
    )
    site_stack.wiki.faults.arm("error:readonly", count=None, match=f"pageids={computing}&maxlag")
    ui.page.clock.install(time=datetime(2026, 1, 1, tzinfo=UTC))
    ui.goto(f"/#/page/{computing}")
    ui.page.clock.pause_at(datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    expect(ui.page.locator("#page-title")).to_have_text("Computing")
    status = ui.page.locator("#backlinks-status")

    step_clock_until(ui, lambda: "failed" in (status.text_content() or ""))
    expect(status).to_contain_text("Caching the backlinks failed")
    expect(ui.page.locator("#page-badge")).to_have_text("caching failed, retrying\u2026")

    # When the wiki is back, the next poll asks again and the backlinks arrive.
    site_stack.wiki.faults.clear()
    step_clock_until(ui, lambda: ui.page.locator("#backlink-list a").count() > 0)
    expect(ui.page.locator("#page-badge")).to_have_text("cached")
    expect(status).to_have_text(re.compile(r"^Showing 50 of \d+\.$"))


# --- Roaming ------------------------------------------------------------------------------------------------


def roam_path(site_stack) -> list[str]:
    """Earth, then three hops through backlinks shown on the first page of each list (pageid order)."""
    wiki = corpus(site_stack)

    def first_backlinks(title: str) -> list[str]:
        page = wiki.by_title(title)
        return [p.title for p in wiki.backlinks_of(page.pageid)[:40] if not p.is_redirect]

    for x in first_backlinks(HUB_TITLE):
        for y in first_backlinks(x):
            if first_backlinks(y):
                return [HUB_TITLE, x, y, first_backlinks(y)[0]]
    raise AssertionError("the corpus has no three-hop path from the hub")


def crumbs(ui: BrowserPage) -> list[str]:
    return ui.page.locator("#crumb-list li").all_text_contents()


def test_roaming_three_hops_through_backlinks_with_a_breadcrumb_and_back_and_forward(ui, site_stack):
    path = roam_path(site_stack)
    ui.goto()
    ui.page.locator("#q").press_sequentially("earth", delay=50)
    wait_for_results(ui, "earth", site_stack)

    ui.page.locator("#cards .card").filter(has_text=HUB_TITLE).get_by_role("button", name="Backlinks").click()
    expect(ui.page.locator("#page-title")).to_have_text(HUB_TITLE)
    for step in path[1:]:
        ui.page.locator("#backlink-list").get_by_role("link", name=step, exact=True).click()
        expect(ui.page.locator("#page-title")).to_have_text(step)
        expect(ui.page.locator("#page-card .extract")).to_have_text(corpus(site_stack).by_title(step).extract)

    assert crumbs(ui) == ["Search \u201cearth\u201d", *path]
    assert ui.page.url.endswith(f"?q=earth#/page/{page_id(site_stack, path[-1])}")

    ui.page.go_back()
    expect(ui.page.locator("#page-title")).to_have_text(path[-2])
    assert crumbs(ui) == ["Search \u201cearth\u201d", *path[:-1]]
    ui.page.go_forward()
    expect(ui.page.locator("#page-title")).to_have_text(path[-1])
    assert crumbs(ui) == ["Search \u201cearth\u201d", *path]

    ui.page.locator("#crumb-list").get_by_role("link", name=path[1], exact=True).click()
    expect(ui.page.locator("#page-title")).to_have_text(path[1])
    assert crumbs(ui) == ["Search \u201cearth\u201d", *path[:2]]


def test_a_hub_s_backlinks_page_through_more(ui, site_stack):
    hub = corpus(site_stack).hub
    ui.goto(f"/#/page/{hub.pageid}")
    links = ui.page.locator("#backlink-list a")
    expect(links).to_have_count(50, timeout=20_000)
    expect(ui.page.locator("#backlinks-status")).to_have_text(re.compile(r"Showing 50 of 640"))

    ui.page.get_by_role("button", name="More").click()

    expect(links).to_have_count(100)
    expect(links.nth(50)).to_be_focused()
    backlink_titles = [p.title for p in corpus(site_stack).backlinks_of(hub.pageid)]
    assert links.all_text_contents() == backlink_titles[:100]


def test_back_from_a_page_view_restores_the_results_without_searching_again(ui, site_stack):
    ui.goto()
    ui.page.locator("#q").press_sequentially("music", delay=50)
    wait_for_results(ui, "music", site_stack)
    ui.page.locator("#cards .card").first.get_by_role("button", name="Backlinks").click()
    expect(ui.page.locator("#page-view")).to_be_visible()
    expect(ui.page.locator("#results")).to_be_hidden()

    ui.page.go_back()

    wait_for_results(ui, "music", site_stack)
    expect(ui.page.locator("#page-view")).to_be_hidden()
    expect(ui.page.locator("#q")).to_have_value("music")
    assert ui.searches() == ["music"]
    ui.page.go_forward()
    expect(ui.page.locator("#page-title")).to_have_text("Music")


def test_shared_urls_open_the_same_views_in_a_fresh_browser(ui, browser, site_stack):
    river = page_id(site_stack, "River")
    fresh = BrowserPage(browser.new_context().new_page(), site_stack.url)
    try:
        fresh.goto("/?q=river")
        wait_for_results(fresh, "river", site_stack)
        expect(fresh.page.locator("#q")).to_have_value("river")

        fresh.goto(f"/?q=river#/page/{river}")
        expect(fresh.page.locator("#page-title")).to_have_text("River")
        assert crumbs(fresh) == ["Search \u201criver\u201d", "River"]

        fresh.goto(f"/#/page/{river}")
        expect(fresh.page.locator("#page-title")).to_have_text("River")
        expect(fresh.page.locator("#backlink-list a").first).to_be_visible(timeout=20_000)
        assert crumbs(fresh) == ["River"]
        assert fresh.csp_violations() == []
    finally:
        fresh.page.context.close()


# --- Errors and empty results -------------------------------------------------------------------------------


def test_when_the_wiki_is_down_the_error_says_so_and_try_again_recovers(ui, site_stack):
    site_stack.wiki.faults.arm("503", count=None, match="gsrsearch=harbour")
    ui.goto()
    ui.page.locator("#q").fill("harbour")
    ui.page.locator("#q").press("Enter")

    alert = ui.page.get_by_role("alert")
    expect(alert).to_contain_text("The wiki is having trouble")
    expect(alert).to_contain_text("HTTP 503")
    expect(ui.page.locator("#results")).to_be_hidden()

    site_stack.wiki.faults.clear()
    ui.page.get_by_role("button", name="Try again").click()
    wait_for_results(ui, "harbour", site_stack)
    expect(alert).to_be_hidden()


def test_a_term_with_no_matches_says_so(ui, site_stack):
    ui.goto("/?q=qwxzzy")
    expect(ui.page.locator("#status")).to_have_text(re.compile("No articles match \u201cqwxzzy\u201d"))
    expect(ui.page.locator("#results")).to_be_hidden()


# --- Missing fields and redirects -----------------------------------------------------------------------------

STRAY_WORDS = re.compile(r"\b(null|undefined|NaN)\b")


def test_a_page_view_without_thumbnail_or_extract_and_a_markup_like_title_draws_only_what_it_has(ui, site_stack):
    # Given a page with no image and no intro, whose title reads as markup
    page = corpus(site_stack).by_title(MARKUP_TITLE)
    assert page is not None
    assert (page.image, page.extract) == (None, "")

    # When a reader opens its page view
    ui.goto(f"/#/page/{page.pageid}")

    # Then the title shows as typed, nothing stands in for the missing parts, and no stray word appears
    expect(ui.page.locator("#page-title")).to_have_text(MARKUP_TITLE)
    expect(ui.page.locator("#page-badge")).to_be_visible()
    card = ui.page.locator("#page-card")
    expect(card.locator("img")).to_have_count(0)
    expect(card.locator(".extract")).to_have_count(0)
    expect(card.get_by_role("link", name=re.compile("^Read on the wiki"))).to_have_attribute(
        "href", site_stack.wiki.page_url(MARKUP_TITLE)
    )
    assert ui.page.locator("#page-title b, #page-title i, #page-title em").count() == 0
    assert not STRAY_WORDS.search(card.inner_text()), card.inner_text()
    # Once the pipeline has it, the view says so, and still draws no stray word.
    site_stack.wait_until_cached([page.pageid], timeout=120)
    expect(ui.page.locator("#page-badge")).to_have_text("cached", timeout=30_000)
    # The title ends the sentence with its own full stop: no doubled one.
    expect(ui.page.locator("#backlinks-status")).to_have_text(f"No pages link to {MARKUP_TITLE}")
    assert not STRAY_WORDS.search(ui.page.locator("body").inner_text())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ui.page.screenshot(path=SCREENSHOTS / "page-without-thumbnail.png", full_page=True)


def test_given_answers_missing_every_optional_field_then_cards_and_page_views_draw_nothing_for_them(ui, site_stack):
    # Given an API whose answers leave out the thumbnail, the extract and the URL (or send them as null)
    bare = {"pageid": 4242, "title": "Bare page", "extract": None, "url": None, "thumbnail": None, "cached": True}
    page = {
        **bare,
        "cached_at": "2026-01-01T00:00:00+00:00",
        "backlinks_status": "complete",
        "backlinks_count": None,
        "caching_error": None,
    }
    del page["cached"]
    ui.page.route(re.compile(r"/api/search\?"), lambda route: route.fulfill(json={"query": "bare", "results": [bare]}))
    ui.page.route(re.compile(r"/api/pages/4242$"), lambda route: route.fulfill(json=page))
    ui.page.route(
        re.compile(r"/api/pages/4242/backlinks\?"),
        lambda route: route.fulfill(
            json={"pageid": 4242, "backlinks": [], "next_cursor": None, "backlinks_status": "complete"}
        ),
    )

    # When the reader searches, then opens the page view
    ui.goto("/?q=bare")
    card = ui.page.locator("#cards .card")
    expect(card.locator(".card-title")).to_have_text("Bare page")
    card_text = card.inner_text()
    card.get_by_role("button", name="Backlinks").click()
    expect(ui.page.locator("#page-title")).to_have_text("Bare page")
    expect(ui.page.locator("#backlinks-status")).to_have_text("No pages link to Bare page.")

    # Then neither draws an image, an extract, a wiki link, or a stray word
    for view in (card, ui.page.locator("#page-card")):
        expect(view.locator("img")).to_have_count(0)
        expect(view.locator(".extract")).to_have_count(0)
        expect(view.locator(".wiki-link")).to_have_count(0)
    assert not STRAY_WORDS.search(card_text), card_text
    assert not STRAY_WORDS.search(ui.page.locator("body").inner_text())


def test_searching_a_redirect_opens_its_article_whose_backlinks_come_through_redirects_too(ui, site_stack):
    # Given "Rock and roll", a redirect to "Rock & roll", which Blues and Skiffle reach only through redirects
    wiki = corpus(site_stack)
    roll = wiki.by_title(ROLL_TITLE)
    expected = [p.title for p in wiki.what_links_here(roll.pageid)]

    # When the reader searches the redirect's title and opens the first card's backlinks
    ui.goto("/?q=Rock+and+roll")
    first = ui.page.locator("#cards .card").first
    expect(first.locator(".card-title")).to_have_text(ROLL_TITLE)
    titles = card_titles(ui)
    assert len(titles) == len(set(titles))
    site_stack.wait_until_cached([roll.pageid], timeout=120)
    first.get_by_role("button", name="Backlinks").click()

    # Then the list is the wiki's "What links here": the links through redirects, never the redirects
    links = ui.page.locator("#backlink-list a")
    expect(links).to_have_count(len(expected), timeout=20_000)
    assert links.all_text_contents() == expected
    assert {"Blues", "Skiffle"} <= set(expected)
    expect(ui.page.locator("#backlinks-status")).to_have_text(f"Showing {len(expected)} of {len(expected)}.")


# --- Safety and accessibility -------------------------------------------------------------------------------


def test_the_script_injection_page_shows_its_markup_as_text_and_runs_nothing(ui, site_stack):
    page = corpus(site_stack).by_title(INJECTION_TITLE)
    ui.goto()
    ui.page.locator("#q").fill("script injection")
    ui.page.locator("#q").press("Enter")
    card = ui.page.locator("#cards .card").filter(has_text=INJECTION_TITLE)
    expect(card.locator(".extract")).to_have_text(page.extract)
    assert INJECTION_MARKUP in card.locator(".extract").inner_text()

    card.get_by_role("button", name="Backlinks").click()
    expect(ui.page.locator("#page-card .extract")).to_have_text(page.extract)

    assert ui.dialogs == []
    assert ui.page.locator("img[src='x'], [onerror]").count() == 0
    assert ui.page.locator("script").evaluate_all("s => s.map(e => e.getAttribute('src'))") == ["app.js"]


def test_the_site_is_served_with_its_content_security_policy_and_breaks_none_of_it(ui, site_stack):
    response = ui.page.goto(site_stack.url + "/?q=zurich")
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    expect(ui.page.locator("#cards .card").first).to_be_visible()
    assert ui.csp_violations() == []


def test_keyboard_only_search_and_open_a_page_view(ui, site_stack):
    ui.goto()
    keyboard = ui.page.keyboard
    for _ in range(5):
        keyboard.press("Tab")
        if ui.page.evaluate("document.activeElement.id") == "q":
            break
    expect(ui.page.locator("#q")).to_be_focused()
    keyboard.type("castle", delay=50)
    wait_for_results(ui, "castle", site_stack)

    for _ in range(8):
        keyboard.press("Tab")
        if ui.page.evaluate("document.activeElement.textContent") == "Backlinks":
            break
    focused_card_title = ui.page.evaluate("document.activeElement.closest('.card').querySelector('h3').textContent")
    keyboard.press("Enter")

    expect(ui.page.locator("#page-view")).to_be_visible()
    expect(ui.page.locator("#page-title")).to_have_text(focused_card_title)
    expect(ui.page.locator("#page-title")).to_be_focused()
    assert "#/page/" in ui.page.url


def test_labels_and_live_regions_for_assistive_technology(ui, site_stack):
    ui.goto()
    expect(ui.page.get_by_role("searchbox", name="Search the wiki")).to_be_visible()
    expect(ui.page.get_by_role("search")).to_have_count(1)
    expect(ui.page.get_by_role("status")).to_have_attribute("aria-live", "polite")
    expect(ui.page.locator("html")).to_have_attribute("lang", "en")


# --- Layout and weight --------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1280, 375, 360])
def test_screenshots_and_no_sideways_scrolling_from_phone_to_desktop(ui, site_stack, width):
    river = page_id(site_stack, "River")
    ui.page.set_viewport_size({"width": width, "height": 900})
    ui.goto("/?q=river")
    wait_for_results(ui, "river", site_stack)
    expect(ui.page.locator("#cards img.thumb").first).to_be_visible()
    # The search asked for these pages; once they are cached, a fresh load shows every card as cached.
    site_stack.wait_until_cached([page_id(site_stack, t) for t in top_titles(site_stack, "river")], timeout=120)
    ui.goto("/?q=river")
    expect(ui.page.locator("#cards .badge")).to_have_text(["cached"] * SEARCH_LIMIT, timeout=30_000)
    assert ui.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ui.page.screenshot(path=SCREENSHOTS / f"results-{width}.png", full_page=True)

    ui.page.locator("#cards .card").first.get_by_role("button", name="Backlinks").click()
    expect(ui.page.locator("#page-title")).to_have_text("River")
    expect(ui.page.locator("#backlink-list a")).to_have_count(50, timeout=20_000)
    assert ui.page.url.endswith(f"#/page/{river}")
    assert ui.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    ui.page.screenshot(path=SCREENSHOTS / f"page-{width}.png", full_page=True)


def test_page_weight_is_under_50_kb():
    weights = site_bytes()
    assert {"index.html", "app.js", "style.css"} <= set(weights)
    assert sum(weights.values()) <= PAGE_WEIGHT_LIMIT, weights
