"""ApiQuery: action=query runs its page set, then its prop modules, then its list modules, and continues them.

Generator results come back in pageid order with an `index` to sort by; continuation follows
ApiContinuationManager (`continue` strings like `gsroffset||` and `-||`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from local.samplewiki.api import links, props, search
from local.samplewiki.api.context import Continuation, Generator, Module, PageSet, Query
from local.samplewiki.api.pageset import fill_pageset, pageset_from_input, resolve_generated
from local.samplewiki.params import ApiError, Params, bad_continue
from local.samplewiki.site import Site

_QUERY_PARAMS: Final = frozenset(
    {
        "prop", "list", "meta", "indexpageids", "export", "exportnowrap", "exportschema", "iwurl",
        "continue", "rawcontinue", "titles", "pageids", "revids", "generator", "redirects", "converttitles",
    }
)  # fmt: skip
PROP_MODULES: Final[dict[str, Module]] = {
    "info": props.prop_info,
    "extracts": props.prop_extracts,
    "pageimages": props.prop_pageimages,
    "links": links.prop_links,
    "linkshere": links.prop_linkshere,
    "redirects": links.prop_redirects,
}
LIST_MODULES: Final[dict[str, Module]] = {
    "backlinks": links.list_backlinks,
    "search": search.list_search,
}
GENERATORS: Final[dict[str, Generator]] = {
    "search": search.generator_search,
    "linkshere": links.generator_linkshere,
}
_PREFIXES: Final = {
    "info": "in",
    "extracts": "ex",
    "pageimages": "pi",
    "links": "pl",
    "linkshere": "lh",
    "redirects": "rd",
    "backlinks": "bl",
    "search": "sr",
}


def run_query(site: Site, params: Params) -> dict[str, Any]:
    """The body of an action=query answer."""
    params.claim(*_QUERY_PARAMS)
    prop_names = params.choices("prop", frozenset(PROP_MODULES), "query")
    list_names = params.choices("list", frozenset(LIST_MODULES), "query")
    params.choices("meta", frozenset(), "query")
    generator = params.get("generator")
    if generator is not None and generator not in GENERATORS:
        raise ApiError("badgenerator", f'Unknown "generator={generator}".')

    skip, generator_done, generator_params = _parse_continue(params, prop_names)
    query = Query(site, params, PageSet(), {})
    generator_continue: Continuation = None
    if generator_done:
        # ApiQuery's dry run: once `continue` says the page set is done (`-||`), continuing list modules
        # come back alone, without the input pages (or their titles) again.
        pass
    elif generator is None:
        pageset_from_input(query)
    else:
        pages, generator_continue = GENERATORS[generator](query, "g")
        if params.flag("redirects"):
            pages = resolve_generated(site.corpus, query.pageset, pages)
        fill_pageset(query, pages)

    continuation = _run_modules(query, prop_names, PROP_MODULES, skip)
    pageset = query.pageset
    for key, value in (
        ("normalized", pageset.normalized),
        ("redirects", pageset.redirects),
        ("pages", pageset.entries),
    ):
        if value:
            query.result[key] = value
    continuation.update(_run_modules(query, list_names, LIST_MODULES, skip))

    body: dict[str, Any] = {}
    data, batchcomplete = _continuation(
        [*prop_names, *list_names], prop_names, continuation, generator_continue, generator_params
    )
    if batchcomplete:
        body["batchcomplete"] = True
    if data:
        body["continue"] = data
    if query.result:
        body["query"] = query.result
    return body


def _run_modules(
    query: Query, names: list[str], table: Mapping[str, Module], skip: set[str]
) -> dict[str, dict[str, Any]]:
    """Run the named modules in order; their continuation parameters by module name."""
    continuation: dict[str, dict[str, Any]] = {}
    for name in names:
        prefix = _PREFIXES[name]
        if name in skip:
            # A finished module's parameters still belong to the request, so they draw no warning.
            query.params.claim(*(k for k in query.params.raw if k.startswith(prefix)))
            continue
        more = table[name](query, prefix)
        if more:
            continuation[name] = more
    return continuation


def _parse_continue(params: Params, prop_names: list[str]) -> tuple[set[str], bool, dict[str, str]]:
    """ApiContinuationManager's reading of `continue`: modules to skip, generator done, generator params."""
    raw = params.get("continue")
    if not raw:
        return set(), False, {}
    parts = raw.split("||")
    if len(parts) != 2:
        raise bad_continue()
    skip = set(filter(None, parts[1].split("|")))
    if parts[0] == "-":
        return skip | set(prop_names), True, {}
    keys = [k for k in parts[0].split("|") if k]
    return skip, False, {k: params.raw[k] for k in keys if k in params.raw}


def _continuation(
    modules: list[str],
    prop_names: list[str],
    data: dict[str, dict[str, Any]],
    generator_continue: Continuation,
    generator_params: dict[str, str],
) -> tuple[dict[str, Any], bool]:
    """ApiContinuationManager::getContinuation: the `continue` object and whether the batch is complete."""
    finished = [m for m in modules if m not in data]
    out: dict[str, Any] = {}
    for module, values in data.items():
        if module not in prop_names:
            out.update(values)
    prop_data = {m: v for m, v in data.items() if m in prop_names}
    batchcomplete = False
    if prop_data:
        # Prop modules still have pages to fill in, so the generator must run again with the same parameters.
        for values in prop_data.values():
            out.update(values)
        out.update(generator_params)
        generator_keys = "|".join(generator_params)
    elif generator_continue:
        out.update(generator_continue)
        finished = [m for m in finished if m not in prop_names]
        generator_keys = "|".join(generator_continue)
        batchcomplete = True
    else:
        generator_keys = "-"
        batchcomplete = True
    if out or generator_keys != "-":
        out["continue"] = f"{generator_keys}||{'|'.join(finished)}"
    return out, batchcomplete
