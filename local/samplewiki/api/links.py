"""The link tables' modules: prop=links, prop=linkshere, prop=redirects, generator=linkshere, list=backlinks.

`list=backlinks&blredirect=1` halves `bllimit=max` to 250 per level, nests the links through each redirect under
its `redirlinks`, and lists the first level again while it continues the second, as MediaWiki does.
"""

from __future__ import annotations

import html
from typing import Any, Final

from local.samplewiki.api.context import Continuation, PageSet, Query, Ranked
from local.samplewiki.api.pageset import MAX_TITLES, pageset_from_input
from local.samplewiki.corpus import Corpus, Page
from local.samplewiki.params import INTEGER, MAX_LIMIT, ApiError, Params, bad_continue
from local.samplewiki.titles import dbkey, normalize_title

# MediaWiki halves list=backlinks' limits when it follows redirects: each level may return that many.
MAX_REDIRECT_LIMIT: Final = MAX_LIMIT // 2


def prop_links(query: Query, prefix: str) -> Continuation:
    """ApiQueryLinks: the links of each page, in (from, ns, title) order, `pltitles` keeping only those."""
    params = query.params
    namespaces = params.namespaces(f"{prefix}namespace", "links")
    wanted_raw = params.multi(f"{prefix}titles", limit=MAX_TITLES)
    limit = params.limit(f"{prefix}limit", "links", default=10, maximum=MAX_LIMIT)
    descending = params.enum(f"{prefix}dir", ("ascending", "descending"), "ascending") == "descending"
    raw_continue = params.get(f"{prefix}continue")
    if not query.pageset.good:
        return None
    wanted = _link_titles(params, wanted_raw, namespaces) if wanted_raw else None
    if wanted is not None and not wanted:
        return None
    corpus = query.site.corpus
    entries = {page.pageid: entry for page, entry in query.pageset.good}
    rows: list[tuple[int, int, bytes, Page]] = []
    for page, _ in query.pageset.good:
        for target in filter(None, (corpus.by_id(i) for i in page.links)):
            if namespaces is not None and target.ns not in namespaces:
                continue
            if wanted is not None and (target.ns, target.title) not in wanted:
                continue
            rows.append((page.pageid, target.ns, dbkey(target.title), target))
    rows.sort(key=lambda row: row[:3], reverse=descending)
    if raw_continue is not None:
        parts = raw_continue.split("|")
        if len(parts) != 3 or not all(INTEGER.fullmatch(p) for p in parts[:2]):
            raise bad_continue()
        start = (int(parts[0]), int(parts[1]), parts[2].encode())
        rows = [r for r in rows if (r[:3] <= start if descending else r[:3] >= start)]
    for fromid, _, _, target in rows[:limit]:
        entries[fromid].setdefault("links", []).append({"ns": target.ns, "title": target.title})
    if len(rows) > limit:
        fromid, ns, title, _ = rows[limit]
        return {f"{prefix}continue": f"{fromid}|{ns}|{title.decode()}"}
    return None


def _link_titles(params: Params, raw_titles: list[str], namespaces: set[int] | None) -> set[tuple[int, str]]:
    """`pltitles` as (ns, title) pairs in the namespaces asked for; an invalid title draws a warning."""
    wanted: set[tuple[int, str]] = set()
    for raw in raw_titles:
        title, _ = normalize_title(raw)
        if title is None:
            params.warn("links", f'"{raw}" is not a valid title.')
        elif namespaces is None or 0 in namespaces:
            wanted.add((0, title))
    return wanted


def _incoming_rows(
    corpus: Corpus, params: Params, prefix: str, module: str, targets: list[Page]
) -> tuple[list[tuple[Page, Page]], Continuation]:
    """ApiQueryBacklinksprop (linkshere, redirects): (target, source page) rows, sorted and continued alike.

    The sort (and so the continue value) has the target's title only when there are several targets, the
    source's namespace only for linkshere with several in `lhnamespace`, and always the source's id.
    """
    namespaces = params.namespaces(f"{prefix}namespace", module)
    shows = ("redirect", "!redirect") if module == "linkshere" else ("fragment", "!fragment")
    show = set(params.choices(f"{prefix}show", frozenset(shows), module))
    if show == set(shows):
        raise ApiError("show", "Incorrect parameter - mutually exclusive values may not be supplied.")
    limit = params.limit(f"{prefix}limit", module, default=10, maximum=MAX_LIMIT)
    raw_continue = params.get(f"{prefix}continue")
    by_title = len({t.title for t in targets}) > 1
    by_namespace = module == "linkshere" and namespaces is not None and len(namespaces) > 1

    def key(row: tuple[Page, Page]) -> tuple[Any, ...]:
        target, page = row
        return (
            *((dbkey(target.title),) if by_title else ()),
            *((page.ns,) if by_namespace else ()),
            page.pageid,
        )

    def shown(page: Page) -> bool:
        if namespaces is not None and page.ns not in namespaces:
            return False
        if "redirect" in show or "!redirect" in show:
            return page.is_redirect == ("redirect" in show)
        # The sample wiki's redirects never point at a section, so "fragment" keeps none of them.
        return "fragment" not in show

    sources = corpus.backlinks_of if module == "linkshere" else corpus.redirects_to
    rows = [(target, page) for target in targets for page in sources(target.pageid) if shown(page)]
    rows.sort(key=key)
    if raw_continue is not None:
        parts = raw_continue.split("|")
        integers = parts[1:] if by_title else parts
        if len(parts) != 1 + by_title + by_namespace or not all(INTEGER.fullmatch(p) for p in integers):
            raise bad_continue()
        start = (*((parts[0].encode(),) if by_title else ()), *(int(p) for p in integers))
        rows = [r for r in rows if key(r) >= start]
    if len(rows) <= limit:
        return rows, None
    following = key(rows[limit])
    token = "|".join(v.decode() if isinstance(v, bytes) else str(v) for v in following)
    return rows[:limit], {f"{prefix}continue": token}


def _prop_incoming(query: Query, prefix: str, module: str) -> Continuation:
    params = query.params
    known = {"pageid", "title", "redirect"} if module == "linkshere" else {"pageid", "title", "fragment"}
    props = set(params.choices(f"{prefix}prop", frozenset(known), module))
    if f"{prefix}prop" not in params.raw:
        # MediaWiki's defaults: pageid|title, plus redirect for linkshere.
        props = known - {"fragment"}
    entries = {page.pageid: entry for page, entry in query.pageset.good}
    targets = [page for page, _ in query.pageset.good]
    rows, more = _incoming_rows(query.site.corpus, params, prefix, module, targets)
    for target, page in rows:
        item: dict[str, Any] = {}
        if "pageid" in props:
            item["pageid"] = page.pageid
        if "title" in props:
            item.update(ns=page.ns, title=page.title)
        if "redirect" in props:
            item["redirect"] = page.is_redirect
        entries[target.pageid].setdefault(module, []).append(item)
    return more


def prop_linkshere(query: Query, prefix: str) -> Continuation:
    """The pages linking to each page of the set, under its `linkshere`."""
    return _prop_incoming(query, prefix, "linkshere")


def prop_redirects(query: Query, prefix: str) -> Continuation:
    """The redirects to each page of the set, under its `redirects`."""
    return _prop_incoming(query, prefix, "redirects")


def generator_linkshere(query: Query, prefix: str) -> tuple[Ranked, Continuation]:
    """The pages linking to the input pages (`titles` or `pageids`), as the page set."""
    source = Query(query.site, query.params, PageSet(), {})
    pageset_from_input(source)
    targets = [page for page, _ in source.pageset.good]
    rows, more = _incoming_rows(query.site.corpus, query.params, f"{prefix}lh", "linkshere", targets)
    unique = {page.pageid: page for _, page in rows}
    return [(page, {}) for page in unique.values()], more


def list_backlinks(query: Query, prefix: str) -> Continuation:
    """list=backlinks: the pages linking to one page, and with `blredirect` the pages linking through redirects."""
    params = query.params
    corpus = query.site.corpus
    target = _backlinks_target(corpus, params, prefix)
    namespaces = params.namespaces(f"{prefix}namespace", "backlinks")
    follow = params.flag(f"{prefix}redirect")
    limit = params.limit(f"{prefix}limit", "backlinks", default=10, maximum=MAX_REDIRECT_LIMIT if follow else MAX_LIMIT)
    descending = params.enum(f"{prefix}dir", ("ascending", "descending"), "ascending") == "descending"
    filter_redirects = params.enum(f"{prefix}filterredir", ("all", "redirects", "nonredirects"), "all")
    cont = _parse_backlinks_continue(params.get(f"{prefix}continue"))

    def kept(page: Page) -> bool:
        if namespaces is not None and page.ns not in namespaces:
            return False
        if filter_redirects == "redirects":
            return page.is_redirect
        # Following redirects, "nonredirects" only filters the second level (MediaWiki's T24245).
        return filter_redirects == "all" or follow or not page.is_redirect

    linking = corpus.backlinks_of(target.pageid) if target is not None else []
    rows = [p for p in linking if kept(p)]
    if descending:
        rows.reverse()
    if cont is not None:
        start = (int(cont[0]), int(cont[1]))
        rows = [p for p in rows if ((p.ns, p.pageid) <= start if descending else (p.ns, p.pageid) >= start)]
    more = f"{rows[limit].ns}|{rows[limit].pageid}" if len(rows) > limit else None
    entries = {page.pageid: _link_item(page) for page in rows[:limit]}
    redirects = [p for p in rows[:limit] if p.is_redirect]
    if follow and redirects:
        # The first level's start stays in every continuation of the second, so while the links through
        # this window's redirects continue, the window itself is listed again.
        window = f"{cont[0]}|{cont[1]}" if cont is not None else f"{rows[0].ns}|{rows[0].pageid}"
        second = _links_through(
            corpus,
            redirects,
            namespaces=namespaces,
            filter_redirects=filter_redirects,
            descending=descending,
            cont=cont,
        )
        for redirect, page in second[:limit]:
            entries[redirect.pageid].setdefault("redirlinks", []).append(_link_item(page))
        if len(second) > limit:
            redirect, page = second[limit]
            more = f"{window}|{redirect.ns}|{dbkey(redirect.title).decode()}|{page.ns}|{page.pageid}"
    query.result["backlinks"] = list(entries.values())
    return {f"{prefix}continue": more} if more is not None else None


def _backlinks_target(corpus: Corpus, params: Params, prefix: str) -> Page | None:
    """The page `bltitle` or `blpageid` names; None for a title nobody wrote (it can have red links)."""
    title, pageid = params.get(f"{prefix}title"), params.get(f"{prefix}pageid")
    if title is None and pageid is None:
        raise ApiError("missingparam", f'One of the parameters "{prefix}title" and "{prefix}pageid" is required.')
    if title is not None and pageid is not None:
        raise ApiError(
            "invalidparammix", f'The parameters "{prefix}title" and "{prefix}pageid" can not be used together.'
        )
    if pageid is not None:
        number = params.integer(f"{prefix}pageid", 0)
        target = corpus.by_id(number)
        if target is None:
            raise ApiError("nosuchpageid", f"There is no page with ID {number}.")
        return target
    normalized, _ = normalize_title(title or "")
    if normalized is None:
        raise ApiError("invalidtitle", f'Bad title "{html.escape(title or "", quote=False)}".')
    # A title nobody wrote can still have backlinks (red links), so MediaWiki answers with an empty list.
    return corpus.by_title(normalized)


def _links_through(
    corpus: Corpus,
    redirects: list[Page],
    *,
    namespaces: set[int] | None,
    filter_redirects: str,
    descending: bool,
    cont: list[str] | None,
) -> list[tuple[Page, Page]]:
    """ApiQueryBacklinks' second query: (redirect, linking page) rows, sorted and continued like MediaWiki.

    The sort leaves out what the WHERE clause holds constant: the redirects' namespace unless they span
    several, their title unless there are several, the linking namespace unless `blnamespace` has several.
    """
    by_ns = len({r.ns for r in redirects}) > 1
    by_title = len({r.title for r in redirects}) > 1
    by_from_ns = namespaces is not None and len(namespaces) > 1

    def key(ns: int, title: bytes, from_ns: int, from_id: int) -> tuple[Any, ...]:
        return (
            *((ns,) if by_ns else ()),
            *((title,) if by_title else ()),
            *((from_ns,) if by_from_ns else ()),
            from_id,
        )

    rows = sorted(
        (
            (key(redirect.ns, dbkey(redirect.title), page.ns, page.pageid), redirect, page)
            for redirect in redirects
            for page in corpus.backlinks_of(redirect.pageid)
            if (namespaces is None or page.ns in namespaces)
            and (filter_redirects == "all" or page.is_redirect == (filter_redirects == "redirects"))
        ),
        key=lambda row: row[0],
        reverse=descending,
    )
    if cont is not None and len(cont) >= 6:
        start = key(int(cont[2]), cont[3].encode(), int(cont[4]), int(cont[5]))
        rows = [row for row in rows if (row[0] <= start if descending else row[0] >= start)]
    return [(redirect, page) for _, redirect, page in rows]


def _parse_backlinks_continue(raw: str | None) -> list[str] | None:
    """`blcontinue`'s parts: `ns|id` of the first level, plus `ns|title|from_ns|from_id` of the second."""
    if raw is None:
        return None
    parts = raw.split("|")
    # 7 and 8 parts resume inside a result too big for one answer, which the sample wiki never sends.
    integers = [p for i, p in enumerate(parts) if i != 3]
    if len(parts) not in (2, 6, 7, 8) or not all(INTEGER.fullmatch(p) for p in integers):
        raise bad_continue()
    return parts


def _link_item(page: Page) -> dict[str, Any]:
    """A page as list=backlinks lists it: `redirect` only on redirects."""
    item: dict[str, Any] = {"pageid": page.pageid, "ns": page.ns, "title": page.title}
    if page.is_redirect:
        item["redirect"] = True
    return item
