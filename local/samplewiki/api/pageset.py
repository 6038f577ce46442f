"""ApiPageSet: the pages a query works on, from `titles`, `pageids` or a generator, redirects resolved."""

from __future__ import annotations

from typing import Any, Final

from local.samplewiki.api.context import PageSet, Query, Ranked
from local.samplewiki.corpus import Corpus, Page
from local.samplewiki.params import INTEGER, ApiError
from local.samplewiki.titles import normalize_title

MAX_TITLES: Final = 50


def pageset_from_input(query: Query) -> None:
    """Fill the page set from `titles` or `pageids`, following redirects when `redirects` is set."""
    params = query.params
    corpus = query.site.corpus
    titles = params.multi("titles", limit=MAX_TITLES) if "titles" in params.raw else None
    pageids = params.multi("pageids", limit=MAX_TITLES) if "pageids" in params.raw else None
    if titles is not None and pageids is not None:
        raise ApiError("multisource", 'The "pageids" parameter cannot be used with "titles".')
    pageset = query.pageset
    found: list[Page] = []
    if titles is not None:
        found = _pages_by_title(corpus, pageset, titles)
    if pageids is not None:
        for raw in pageids:
            if not INTEGER.fullmatch(raw):
                raise ApiError("badinteger", f'Invalid value "{raw}" for integer parameter "pageids".')
            page = corpus.by_id(int(raw))
            if page is None:
                pageset.keyed.append((int(raw), {"pageid": int(raw), "missing": True}))
            else:
                found.append(page)
    if params.flag("redirects"):
        found = _resolve_redirects(corpus, pageset, found)
    unique = {p.pageid: p for p in found}
    fill_pageset(query, [(p, {}) for _, p in sorted(unique.items())])


def _pages_by_title(corpus: Corpus, pageset: PageSet, titles: list[str]) -> list[Page]:
    found: list[Page] = []
    # Invalid titles get negative stand-in ids as they are read, missing ones after the lookup; the output
    # is sorted by id, so missing titles come first, in reverse order, then invalid ones, as in MediaWiki.
    fake_id = 0
    for raw in titles:
        title, reason = normalize_title(raw)
        if title is None:
            fake_id -= 1
            pageset.keyed.append((fake_id, {"title": raw, "invalidreason": reason, "invalid": True}))
            continue
        if title != raw:
            pageset.normalized.append({"fromencoded": False, "from": raw, "to": title})
        page = corpus.by_title(title)
        if page is not None:
            found.append(page)
        elif all(e["title"] != title for e in pageset.missing_titles):
            pageset.missing_titles.append({"ns": 0, "title": title, "missing": True})
    for entry in pageset.missing_titles:
        fake_id -= 1
        pageset.keyed.append((fake_id, entry))
    return found


def _resolve_redirects(corpus: Corpus, pageset: PageSet, pages: list[Page]) -> list[Page]:
    resolved: list[Page] = []
    for page in pages:
        if page.redirect_to is None:
            resolved.append(page)
            continue
        target = corpus.by_title(page.redirect_to)
        entry = {"from": page.title, "to": page.redirect_to}
        if entry not in pageset.redirects:
            pageset.redirects.append(entry)
        if target is not None:
            resolved.append(target)
    return resolved


def resolve_generated(corpus: Corpus, pageset: PageSet, pages: Ranked) -> Ranked:
    """ApiPageSet resolving generated redirects: each hop in `redirects`, merged into the final target.

    A redirect's entry carries the generator's data about it (for a search: ns, title, pageid, index) before
    `from` and `to`; chains are followed round by round, each round in pageid order; the target takes the
    lowest `index` of the pages that led to it (ApiQuerySearch's redirect merge policy).
    """
    found = {p.pageid: (p, dict(extra)) for p, extra in pages if not p.is_redirect}
    data = {p.title: extra for p, extra in pages}
    done: set[str] = set()
    hops = sorted((p for p, _ in pages if p.is_redirect), key=lambda p: p.pageid)
    while hops:
        following: list[Page] = []
        for page in hops:
            if page.title in done or page.redirect_to is None:
                continue
            done.add(page.title)
            pageset.redirects.append({**data.get(page.title, {}), "from": page.title, "to": page.redirect_to})
            target = corpus.by_title(page.redirect_to)
            if target is None:
                continue
            if target.is_redirect:
                following.append(target)
            elif target.pageid not in found:
                found[target.pageid] = (target, {})
        hops = sorted(following, key=lambda p: p.pageid)
    for page, extra in pages:
        destination = _final_target(corpus, page) if page.is_redirect else None
        if destination is None or destination.pageid not in found or "index" not in extra:
            continue
        merged = found[destination.pageid][1]
        if "index" not in merged or extra["index"] < merged["index"]:
            merged["index"] = extra["index"]
    return list(found.values())


def _final_target(corpus: Corpus, page: Page) -> Page | None:
    seen = {page.title}
    while page.redirect_to is not None:
        target = corpus.by_title(page.redirect_to)
        if target is None or target.title in seen:
            return None
        seen.add(target.title)
        page = target
    return page


def fill_pageset(query: Query, pages: Ranked) -> None:
    """Put found pages in the page set, with what their generator says about each."""
    # Found pages go out in pageid order, as the page table returns them; generator data such as a search
    # rank rides along in each entry, which is why clients sort search results by `index`.
    for page, extra in sorted(pages, key=lambda item: item[0].pageid):
        entry: dict[str, Any] = {"pageid": page.pageid, "ns": page.ns, "title": page.title, **extra}
        query.pageset.keyed.append((page.pageid, entry))
        query.pageset.good.append((page, entry))
