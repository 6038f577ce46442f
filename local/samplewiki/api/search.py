"""Search: list=search and generator=search, ranked like CirrusSearch or like the default database search.

CirrusSearch ranks by relevance, exact titles and redirects first; MediaWiki's default database search
(`search="database"`) answers in title order, redirect pages among the matches. `srwhat=nearmatch` is the "Go"
near match, the same on both.
"""

from __future__ import annotations

import html
import re
from typing import Any, Final

from local.samplewiki.api.context import Continuation, Query, Ranked
from local.samplewiki.corpus import Corpus, Page, words
from local.samplewiki.params import MAX_LIMIT, ApiError
from local.samplewiki.titles import normalize_title

_SEARCH_PROPS: Final = frozenset(
    {
        "size", "wordcount", "timestamp", "snippet", "titlesnippet", "redirecttitle", "redirectsnippet",
        "sectiontitle", "sectionsnippet", "isfilematch", "categorysnippet", "extensiondata",
    }
)  # fmt: skip


def _search(query: Query, prefix: str) -> tuple[list[Page], int, int, int | None]:
    """The ranked hits for `{prefix}search`, the offset, the limit, and the total (None: not counted).

    `srwhat=nearmatch` is SearchNearMatcher: at most one page, whatever the namespace filter and offset,
    never counted, never continued.
    """
    params = query.params
    term = params.get(f"{prefix}search")
    if term is None or term == "":
        raise ApiError("missingparam", f'The "{prefix}search" parameter must be set.')
    limit = params.limit(f"{prefix}limit", "search", default=10, maximum=MAX_LIMIT)
    offset = params.integer(f"{prefix}offset", 0)
    namespaces = params.namespaces(f"{prefix}namespace", "search")
    what = params.enum(f"{prefix}what", ("title", "text", "nearmatch"), "text")
    params.claim(*(f"{prefix}{name}" for name in ("interwiki", "enablerewrites", "sort", "qiprofile", "backend")))
    corpus = query.site.corpus
    if what == "nearmatch":
        match = near_match(corpus, term)
        return ([match] if match is not None else []), offset, limit, None
    if namespaces is not None and 0 not in namespaces:
        hits: list[Page] = []
    elif query.site.search_backend == "database":
        hits = corpus.database_search(term)
    else:
        hits = corpus.search(term)
    return hits[offset : offset + limit], offset, limit, len(hits)


def near_match(corpus: Corpus, term: str) -> Page | None:
    """SearchNearMatcher: the page (a redirect included) titled `term`, or its lower, Title, UPPER cased forms."""
    if not term or term.startswith("#"):
        return None
    exact, _ = normalize_title(term)
    if exact is None:
        return None
    lower = term.lower()
    for variant in (term, lower, _ucwords(lower), term.upper(), _ucwordbreaks(lower)):
        title, _ = normalize_title(variant)
        page = corpus.by_title(title) if title is not None else None
        if page is not None:
            return page
    quoted = re.fullmatch(r'"([^"]+)"', term)
    return near_match(corpus, quoted.group(1)) if quoted else None


def list_search(query: Query, prefix: str) -> Continuation:
    """list=search: the hits with the fields `srprop` asks for, and `searchinfo`."""
    params = query.params
    fields = set(params.choices(f"{prefix}prop", _SEARCH_PROPS, "search"))
    if f"{prefix}prop" not in params.raw:
        fields = {"size", "wordcount", "timestamp", "snippet"}
    info = set(params.choices(f"{prefix}info", frozenset({"totalhits", "suggestion", "rewrittenquery"}), "search"))
    if f"{prefix}info" not in params.raw:
        info = {"totalhits", "suggestion", "rewrittenquery"}
    hits, offset, limit, total = _search(query, prefix)
    term = params.raw.get(f"{prefix}search", "")
    if total is not None and "totalhits" in info:
        query.result["searchinfo"] = {"totalhits": total}
    listed = []
    for page in hits:
        item: dict[str, Any] = {"ns": page.ns, "title": page.title, "pageid": page.pageid}
        if "size" in fields:
            item["size"] = page.length
        if "wordcount" in fields:
            item["wordcount"] = len(page.full_text.split())
        if "snippet" in fields:
            item["snippet"] = _snippet(page.full_text, term)
        if "timestamp" in fields:
            item["timestamp"] = page.touched
        listed.append(item)
    query.result["search"] = listed
    if total is not None and offset + limit < total:
        return {f"{prefix}offset": offset + limit}
    return None


def generator_search(query: Query, prefix: str) -> tuple[Ranked, Continuation]:
    """generator=search: the hits as the page set, each with its rank as `index`."""
    query.params.claim(f"{prefix}srprop", f"{prefix}srinfo")
    hits, offset, limit, total = _search(query, f"{prefix}sr")
    # The generator's data about each hit: what a redirect's entry in `redirects` carries.
    ranked = [
        (page, {"ns": page.ns, "title": page.title, "pageid": page.pageid, "index": offset + rank})
        for rank, page in enumerate(hits, start=1)
    ]
    more = {f"{prefix}sroffset": offset + limit} if total is not None and offset + limit < total else None
    return ranked, more


def _ucwords(text: str) -> str:
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), text)


def _ucwordbreaks(text: str) -> str:
    return re.sub(r"\b(\w)", lambda m: m.group(1).upper(), text)


def _snippet(text: str, term: str) -> str:
    """A CirrusSearch-style snippet around the first match: escaped text, matches in `<span class="searchmatch">`."""
    wanted = set(words(term))
    first = next((m.start() for m in re.finditer(r"\w+", text) if wanted.intersection(words(m.group(0)))), 0)
    start = text.rfind(" ", 0, max(first - 60, 0)) + 1 if first > 60 else 0
    pieces: list[str] = []
    for token in re.split(r"(\w+)", text[start : start + 200]):
        escaped = html.escape(token, quote=False)
        hit = bool(wanted.intersection(words(token)))
        pieces.append(f'<span class="searchmatch">{escaped}</span>' if hit else escaped)
    return "".join(pieces)
