"""A loopback HTTP server that answers the part of the MediaWiki Action API WikiRoam uses, like MediaWiki 1.39.

Only `format=json&formatversion=2` is spoken. Response shapes follow MediaWiki, quirks included: generator
results come back in pageid order with an `index` to sort by; query continuation follows ApiContinuationManager
(`continue` strings like `gsroffset||` and `-||`); TextExtracts hands out at most 20 intro extracts per request
and asks for `excontinue` beyond that; errors are HTTP 200 with a `MediaWiki-API-Error` header; booleans are
true when present, whatever their value; unknown parameters draw a warning. `list=backlinks&blredirect=1` halves
`bllimit=max` to 250 per level, nests the links through each redirect under its `redirlinks`, and lists the first
level again while it continues the second.

Search runs like CirrusSearch (relevance: exact titles and redirects first) or, with `search="database"` (or
`WIKIROAM_SAMPLEWIKI_SEARCH=database`), like MediaWiki's default database search: matches in title order,
redirect pages among them.

Faults (HTTP 429 or 5xx, maxlag, slow answers, dropped connections, API errors) are armed on demand through
`SampleWiki.faults`, and every request is recorded in `SampleWiki.requests` for tests to inspect.
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import json
import os
import re
import socket
import struct
import threading
import time
import unicodedata
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Literal, cast, get_args
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from local.samplewiki.corpus import DEFAULT_SEED, Corpus, Image, Page, build_corpus, words

MAX_LIMIT: Final = 500
# MediaWiki halves list=backlinks' limits when it follows redirects: each level may return that many.
MAX_REDIRECT_LIMIT: Final = MAX_LIMIT // 2
MAX_EXTRACTS: Final = 20
MAX_PAGEIMAGES: Final = 50
MAX_TITLES: Final = 50
SERVED_BY: Final = "samplewiki"
DEFAULT_TIMEOUT_DELAY: Final = 30.0
DEFAULT_LAG: Final = 7.0
SEARCH_BACKEND_VARIABLE: Final = "WIKIROAM_SAMPLEWIKI_SEARCH"
SearchBackend = Literal["cirrus", "database"]

# Parameters ApiMain itself reads; anything else must be claimed by a module or it draws a warning.
_MAIN_PARAMS: Final = frozenset(
    {
        "action", "format", "formatversion", "maxlag", "smaxage", "maxage", "assert", "assertuser",
        "requestid", "servedby", "curtimestamp", "responselanginfo", "origin", "uselang", "variant",
        "errorformat", "errorlang", "errorsuselocal", "utf8", "ascii", "callback",
    }
)  # fmt: skip
_QUERY_PARAMS: Final = frozenset(
    {
        "prop", "list", "meta", "indexpageids", "export", "exportnowrap", "exportschema", "iwurl",
        "continue", "rawcontinue", "titles", "pageids", "revids", "generator", "redirects", "converttitles",
    }
)  # fmt: skip
_INFO_PROPS: Final = frozenset(
    {
        "protection", "talkid", "watched", "watchers", "visitingwatchers", "notificationtimestamp",
        "subjectid", "associatedpage", "url", "readable", "preload", "displaytitle", "varianttitles",
        "linkclasses",
    }
)  # fmt: skip
_ILLEGAL_TITLE = re.compile(r"[<>\[\]{}|\x00-\x1f\x7f]|%[0-9A-Fa-f]{2}")
_CHAR_REFERENCE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#x[0-9A-Fa-f]+);")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_KNOWN_ERROR_INFO: Final = {
    "ratelimited": "You've exceeded your rate limit. Please wait some time and try again.",
    "readonly": "The wiki is currently in read-only mode.",
    "maxlag": "Waiting for 127.0.0.1: 7 seconds lagged.",
    "internal_api_error_DBQueryError": "[samplewiki] Exception caught: A database query error has occurred.",
    "missingtitle": "The page you specified doesn't exist.",
    "nosuchpageid": "There is no page with ID 0.",
    "badcontinue": "Invalid continue param. You should pass the original value returned by the previous query.",
}


# --- Faults and the request log --------------------------------------------------------------------------


@dataclass
class Fault:
    """One armed fault; `remaining` is None for a fault that fires until cleared."""

    kind: str
    remaining: int | None
    retry_after: int | None = None
    match: str | None = None
    delay: float = DEFAULT_TIMEOUT_DELAY
    lag: float = DEFAULT_LAG
    info: str | None = None


class Faults:
    """Faults to inject into api.php answers, thread-safe.

    Kinds: an HTTP status such as "429", "500" or "503" (429 carries `Retry-After`); "maxlag" (an API maxlag
    error with `Retry-After` and `X-Database-Lag`); "timeout" (answer only after `delay` seconds); "disconnect"
    (close the connection without answering); "error:<code>" (an API error with that code).

    `match` limits a fault to some requests: one or more `key=value` terms joined by `&`, all of which must hold.
    A term holds when the request has parameter `key` and `value` equals it or one of its `|`-separated values
    (so `prop=extracts` matches `prop=extracts|info`); a bare `key` only asks for the parameter to be present.
    The first armed fault that matches a request fires and uses up one of its `count`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []

    def arm(
        self,
        kind: str,
        count: int | None = 1,
        *,
        retry_after: int | None = None,
        match: str | None = None,
        delay: float = DEFAULT_TIMEOUT_DELAY,
        lag: float = DEFAULT_LAG,
        info: str | None = None,
    ) -> Fault:
        """Arm `count` occurrences of a fault (None: until `clear`); `retry_after` None means MediaWiki's default."""
        if not _valid_kind(kind):
            raise ValueError(
                f"unknown fault kind {kind!r}: use an HTTP status 400-599, 'maxlag', 'timeout', 'disconnect' "
                "or 'error:<code>'"
            )
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1 (or None for a fault that lasts until clear()), not {count}")
        fault = Fault(kind, count, retry_after=retry_after, match=match, delay=delay, lag=lag, info=info)
        with self._lock:
            self._armed.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    @property
    def armed(self) -> list[Fault]:
        """Copies of the faults still armed, in firing order."""
        with self._lock:
            return [replace(f) for f in self._armed]

    def take(self, params: Mapping[str, str]) -> Fault | None:
        """The fault to apply to a request with these parameters, if any, using up one occurrence."""
        with self._lock:
            for fault in self._armed:
                if fault.match is None or params_match(params, fault.match):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._armed.remove(fault)
                    return replace(fault)
        return None


def _valid_kind(kind: str) -> bool:
    if kind in ("maxlag", "timeout", "disconnect"):
        return True
    if kind.startswith("error:"):
        return len(kind) > len("error:")
    return kind.isdigit() and 400 <= int(kind) <= 599


def params_match(params: Mapping[str, str], match: str) -> bool:
    """Whether request `params` satisfy every `key=value` (or bare `key`) term of `match`, joined by `&`."""
    for term in filter(None, match.split("&")):
        key, sep, value = term.partition("=")
        if key not in params:
            return False
        if sep and not _value_matches(params[key], value):
            return False
    return True


def _value_matches(actual: str, wanted: str) -> bool:
    return actual == wanted or wanted in _split_multi(actual)


@dataclass
class RecordedRequest:
    """One request the sample wiki received; `status` is None while in flight or when no answer was sent."""

    method: str
    path: str
    params: dict[str, str]
    user_agent: str | None
    status: int | None = None
    fault: str | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def is_api(self) -> bool:
        """Whether this was an api.php request."""
        return self.path == "/w/api.php"


# --- API errors and parameters -----------------------------------------------------------------------------


class ApiError(Exception):
    """An API error as MediaWiki reports it: HTTP 200, `{"error": {...}}` and a `MediaWiki-API-Error` header."""

    def __init__(
        self, code: str, info: str, *, data: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {info}")
        self.code = code
        self.info = info
        self.data = dict(data or {})
        self.headers = dict(headers or {})


def _split_multi(value: str) -> list[str]:
    # MediaWiki lets a multi-value parameter start with U+001F to use it as the separator instead of '|'.
    if value.startswith("\x1f"):
        return value[1:].split("\x1f")
    return value.split("|") if value else []


class _Params:
    """Request parameters with MediaWiki's parsing rules, remembering which ones a module read."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = dict(raw)
        self.used: set[str] = set()
        self.warnings: dict[str, list[str]] = {}
        self.limits: dict[str, int] = {}

    def warn(self, module: str, text: str) -> None:
        # MediaWiki drops a warning a module has already given in the same request.
        notes = self.warnings.setdefault(module, [])
        if text not in notes:
            notes.append(text)

    def claim(self, *names: str) -> None:
        self.used.update(names)

    def get(self, name: str) -> str | None:
        self.used.add(name)
        return self.raw.get(name)

    def flag(self, name: str) -> bool:
        # Booleans work like HTML checkboxes: present means true, even as "0" or "false".
        return self.get(name) is not None

    def integer(self, name: str, default: int) -> int:
        value = self.get(name)
        if value is None or value == "":
            return default
        if not _INTEGER.fullmatch(value):
            raise ApiError("badinteger", f'Invalid value "{value}" for integer parameter "{name}".')
        return int(value)

    def limit(self, name: str, module: str, *, default: int, maximum: int) -> int:
        value = self.get(name)
        if value is None or value == "":
            return default
        if value == "max":
            # MediaWiki reports what "max" meant in a top-level `limits` object.
            self.limits[module] = maximum
            return maximum
        if not _INTEGER.fullmatch(value):
            raise ApiError("badinteger", f'Invalid value "{value}" for integer parameter "{name}".')
        number = int(value)
        if not 1 <= number <= maximum:
            self.warn(module, f'The value "{value}" for parameter "{name}" must be between 1 and {maximum}.')
        return min(max(number, 1), maximum)

    def multi(self, name: str, *, limit: int | None = None) -> list[str]:
        value = self.get(name)
        values = list(dict.fromkeys(_split_multi(value))) if value is not None else []
        if limit is not None and len(values) > limit:
            raise ApiError(
                "toomanyvalues",
                f'Too many values supplied for parameter "{name}". The limit is {limit}.',
                data={"limit": limit, "lowlimit": limit, "highlimit": MAX_LIMIT},
            )
        return values

    def choices(self, name: str, known: frozenset[str], module: str) -> list[str]:
        values = self.multi(name)
        unknown = [v for v in values if v not in known]
        if unknown:
            plural = "value" if len(unknown) == 1 else "values"
            self.warn(module, f'Unrecognized {plural} for parameter "{name}": {", ".join(unknown)}')
        return [v for v in values if v in known]

    def enum(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.get(name)
        if value is None:
            return default
        if value not in allowed:
            raise ApiError("badvalue", f'Unrecognized value for parameter "{name}": {value}.')
        return value

    def unused(self) -> list[str]:
        return [name for name in self.raw if name not in self.used and name not in _MAIN_PARAMS]


# --- Titles --------------------------------------------------------------------------------------------------


def normalize_title(raw: str) -> tuple[str | None, str | None]:
    """MediaWiki's title normalization: (title, None), or (None, reason) for an invalid title."""
    text = _CHAR_REFERENCE.sub(lambda m: html.unescape(m.group(0)), raw)
    text = unicodedata.normalize("NFC", text).split("#", 1)[0]
    text = re.sub(r"[ _]+", " ", text).strip(" ").lstrip(":").strip(" ")
    bad = _ILLEGAL_TITLE.search(text)
    if bad:
        return None, f'The requested page title contains invalid characters: "{bad.group(0)}".'
    if not text:
        return None, "The requested page title is empty or contains only the name of a namespace."
    return text[0].upper() + text[1:], None


def url_title(title: str) -> str:
    """A title as MediaWiki puts it in URLs: underscores for spaces, percent-encoding like wfUrlencode."""
    return quote(title.replace(" ", "_"), safe=";@$!*(),/~:")


# --- PNG images -----------------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def png_bytes(width: int, height: int, seed: str) -> bytes:
    """A valid RGB PNG of the given size: a gradient whose colours depend on `seed`, built with zlib alone."""
    base = zlib.crc32(seed.encode())
    red, green, blue = base & 0xFF, (base >> 8) & 0xFF, (base >> 16) & 0xFF
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        shade = (y * 96) // max(height, 1)
        pixel = bytes(((red + shade) & 0xFF, (green + shade // 2) & 0xFF, (blue + 128 - shade) & 0xFF))
        rows.extend(pixel * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def thumbnail_size(image: Image, size: int) -> tuple[int, int]:
    """The size MediaWiki renders when asked to fit `image` in a `size`x`size` box; it never upscales."""
    if size >= image.width and size >= image.height:
        return image.width, image.height
    width = size if image.width >= image.height else max(1, round(image.width * size / image.height))
    return width, thumbnail_height(image, width)


def thumbnail_height(image: Image, width: int) -> int:
    """The height of a thumbnail `width` pixels wide; the URL only carries the width, so both sides use this."""
    return max(1, round(image.height * width / image.width))


# --- The Action API ----------------------------------------------------------------------------------------


@dataclass
class _PageSet:
    """The pages a query works on, with the notes MediaWiki reports about them."""

    keyed: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    good: list[tuple[Page, dict[str, Any]]] = field(default_factory=list)
    missing_titles: list[dict[str, Any]] = field(default_factory=list)
    normalized: list[dict[str, Any]] = field(default_factory=list)
    redirects: list[dict[str, str]] = field(default_factory=list)

    @property
    def entries(self) -> list[dict[str, Any]]:
        """Pages in MediaWiki's output order."""
        # ApiQuery sorts by key: pageids for found pages and missing ids, negative stand-ins for missing or
        # invalid titles, which therefore come first.
        return [entry for _, entry in sorted(self.keyed, key=lambda item: item[0])]


@dataclass
class _Query:
    """Everything an action=query module needs while it runs."""

    api: _Api
    params: _Params
    pageset: _PageSet
    result: dict[str, Any]


Continuation = dict[str, Any] | None
Ranked = list[tuple[Page, dict[str, Any]]]


class _Api:
    """Turns api.php parameters into a JSON-ready answer; stateless apart from the corpus and the base URL."""

    def __init__(self, corpus: Corpus, base_url: str, search_backend: SearchBackend = "cirrus") -> None:
        self.corpus = corpus
        self.base_url = base_url
        self.search_backend: SearchBackend = search_backend

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/w/api.php"

    def page_url(self, title: str) -> str:
        return f"{self.base_url}/wiki/{url_title(title)}"

    def image_url(self, image: Image, width: int | None = None) -> str:
        name = quote(image.name, safe="")
        if width is None or width == image.width:
            return f"{self.base_url}/images/{image.hash_path}/{name}"
        return f"{self.base_url}/images/thumb/{image.hash_path}/{name}/{width}px-{name}"

    def docref(self) -> str:
        return (
            f"See {self.api_url} for API usage. Subscribe to the mediawiki-api-announce mailing list at "
            "&lt;https://lists.wikimedia.org/postorius/lists/mediawiki-api-announce.lists.wikimedia.org/&gt; "
            "for notice of API deprecations and breaking changes."
        )

    def error_body(self, error: ApiError) -> dict[str, Any]:
        return {
            "error": {"code": error.code, "info": error.info, **error.data, "docref": self.docref()},
            "servedby": SERVED_BY,
        }

    def maxlag_error(self, lag: float, maxlag: int | None, retry_after: int | None) -> ApiError:
        shown: int | float = int(lag) if float(lag).is_integer() else lag
        wait = retry_after if retry_after is not None else max(maxlag if maxlag is not None else 5, 5)
        return ApiError(
            "maxlag",
            f"Waiting for 127.0.0.1: {shown} seconds lagged.",
            data={"host": "127.0.0.1", "lag": shown, "type": "db"},
            headers={"Retry-After": str(wait), "X-Database-Lag": str(int(lag))},
        )

    def handle(self, raw: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """The JSON body and extra headers for one api.php request."""
        params = _Params(raw)
        try:
            action = self._check_main(params)
            body = _ACTIONS[action](self, params)
        except ApiError as error:
            return self.error_body(error), {"MediaWiki-API-Error": error.code, **error.headers}
        unused = params.unused()
        if unused:
            noun = "parameter" if len(unused) == 1 else "parameters"
            # ApiMain reports unknown parameters before any module's warnings.
            params.warnings = {"main": [f"Unrecognized {noun}: {', '.join(unused)}."], **params.warnings}
        return self._decorate(body, params), {}

    def _check_main(self, params: _Params) -> str:
        """ApiMain's checks before a module runs: action, format, then maxlag."""
        action = params.enum("action", tuple(_ACTIONS), "help")
        fmt, version = params.get("format"), params.get("formatversion")
        if fmt != "json" or version not in ("2", "latest"):
            raise ApiError(
                "badvalue",
                "The sample wiki only speaks format=json with formatversion=2 "
                f"(got format={fmt}, formatversion={version}).",
            )
        # A single database server never lags, so maxlag is only checked for being a number.
        params.integer("maxlag", 0)
        return action

    def _decorate(self, body: dict[str, Any], params: _Params) -> dict[str, Any]:
        head: dict[str, Any] = {}
        for key in ("batchcomplete", "continue"):
            if key in body:
                head[key] = body.pop(key)
        if params.warnings:
            head["warnings"] = {m: {"warnings": "\n".join(w)} for m, w in params.warnings.items()}
        head.update(body)
        if params.limits:
            head["limits"] = params.limits
        if params.raw.get("requestid") is not None:
            head["requestid"] = params.raw["requestid"]
        if params.raw.get("curtimestamp") is not None:
            head["curtimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if params.raw.get("servedby") is not None:
            head["servedby"] = SERVED_BY
        return head

    # action=query ------------------------------------------------------------------------------------------

    def query(self, params: _Params) -> dict[str, Any]:
        params.claim(*_QUERY_PARAMS)
        props = params.choices("prop", frozenset(_PROP_MODULES), "query")
        lists = params.choices("list", frozenset(_LIST_MODULES), "query")
        params.choices("meta", frozenset(), "query")
        generator = params.get("generator")
        if generator is not None and generator not in _GENERATORS:
            raise ApiError("badgenerator", f'Unknown "generator={generator}".')

        skip, generator_done, generator_params = self._parse_continue(params, props)
        query = _Query(self, params, _PageSet(), {})
        generator_continue: Continuation = None
        if generator_done:
            # ApiQuery's dry run: once `continue` says the page set is done (`-||`), continuing list modules
            # come back alone, without the input pages (or their titles) again.
            pass
        elif generator is None:
            self._pageset_from_input(query)
        else:
            pages, generator_continue = _GENERATORS[generator](self, query, "g")
            if params.flag("redirects"):
                pages = self._resolve_generated(query.pageset, pages)
            self._fill_pageset(query, pages)

        continuation = self._run_modules(query, props, _PROP_MODULES, skip)
        pageset = query.pageset
        for key, value in (
            ("normalized", pageset.normalized),
            ("redirects", pageset.redirects),
            ("pages", pageset.entries),
        ):
            if value:
                query.result[key] = value
        continuation.update(self._run_modules(query, lists, _LIST_MODULES, skip))

        body: dict[str, Any] = {}
        data, batchcomplete = _continuation([*props, *lists], props, continuation, generator_continue, generator_params)
        if batchcomplete:
            body["batchcomplete"] = True
        if data:
            body["continue"] = data
        if query.result:
            body["query"] = query.result
        return body

    def _run_modules(
        self,
        query: _Query,
        names: list[str],
        table: Mapping[str, Callable[[_Api, _Query, str], Continuation]],
        skip: set[str],
    ) -> dict[str, dict[str, Any]]:
        """Run the named modules in order; their continuation parameters by module name."""
        continuation: dict[str, dict[str, Any]] = {}
        for name in names:
            prefix = _PREFIXES[name]
            if name in skip:
                # A finished module's parameters still belong to the request, so they draw no warning.
                query.params.claim(*(k for k in query.params.raw if k.startswith(prefix)))
                continue
            more = table[name](self, query, prefix)
            if more:
                continuation[name] = more
        return continuation

    def _parse_continue(self, params: _Params, props: list[str]) -> tuple[set[str], bool, dict[str, str]]:
        """ApiContinuationManager's reading of `continue`: modules to skip, generator done, generator params."""
        raw = params.get("continue")
        if not raw:
            return set(), False, {}
        parts = raw.split("||")
        if len(parts) != 2:
            raise ApiError("badcontinue", _KNOWN_ERROR_INFO["badcontinue"])
        skip = set(filter(None, parts[1].split("|")))
        if parts[0] == "-":
            return skip | set(props), True, {}
        keys = [k for k in parts[0].split("|") if k]
        return skip, False, {k: params.raw[k] for k in keys if k in params.raw}

    def _pageset_from_input(self, query: _Query) -> None:
        params = query.params
        titles = params.multi("titles", limit=MAX_TITLES) if "titles" in params.raw else None
        pageids = params.multi("pageids", limit=MAX_TITLES) if "pageids" in params.raw else None
        if titles is not None and pageids is not None:
            raise ApiError("multisource", 'The "pageids" parameter cannot be used with "titles".')
        pageset = query.pageset
        found: list[Page] = []
        if titles is not None:
            found = self._pages_by_title(pageset, titles)
        if pageids is not None:
            for raw in pageids:
                if not _INTEGER.fullmatch(raw):
                    raise ApiError("badinteger", f'Invalid value "{raw}" for integer parameter "pageids".')
                page = self.corpus.by_id(int(raw))
                if page is None:
                    pageset.keyed.append((int(raw), {"pageid": int(raw), "missing": True}))
                else:
                    found.append(page)
        if params.flag("redirects"):
            found = self._resolve_redirects(pageset, found)
        unique = {p.pageid: p for p in found}
        self._fill_pageset(query, [(p, {}) for _, p in sorted(unique.items())])

    def _pages_by_title(self, pageset: _PageSet, titles: list[str]) -> list[Page]:
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
            page = self.corpus.by_title(title)
            if page is not None:
                found.append(page)
            elif all(e["title"] != title for e in pageset.missing_titles):
                pageset.missing_titles.append({"ns": 0, "title": title, "missing": True})
        for entry in pageset.missing_titles:
            fake_id -= 1
            pageset.keyed.append((fake_id, entry))
        return found

    def _resolve_redirects(self, pageset: _PageSet, pages: list[Page]) -> list[Page]:
        resolved: list[Page] = []
        for page in pages:
            if page.redirect_to is None:
                resolved.append(page)
                continue
            target = self.corpus.by_title(page.redirect_to)
            entry = {"from": page.title, "to": page.redirect_to}
            if entry not in pageset.redirects:
                pageset.redirects.append(entry)
            if target is not None:
                resolved.append(target)
        return resolved

    def _resolve_generated(self, pageset: _PageSet, pages: Ranked) -> Ranked:
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
                target = self.corpus.by_title(page.redirect_to)
                if target is None:
                    continue
                if target.is_redirect:
                    following.append(target)
                elif target.pageid not in found:
                    found[target.pageid] = (target, {})
            hops = sorted(following, key=lambda p: p.pageid)
        for page, extra in pages:
            destination = self._final_target(page) if page.is_redirect else None
            if destination is None or destination.pageid not in found or "index" not in extra:
                continue
            merged = found[destination.pageid][1]
            if "index" not in merged or extra["index"] < merged["index"]:
                merged["index"] = extra["index"]
        return list(found.values())

    def _final_target(self, page: Page) -> Page | None:
        seen = {page.title}
        while page.redirect_to is not None:
            target = self.corpus.by_title(page.redirect_to)
            if target is None or target.title in seen:
                return None
            seen.add(target.title)
            page = target
        return page

    def _fill_pageset(self, query: _Query, pages: Ranked) -> None:
        # Found pages go out in pageid order, as the page table returns them; generator data such as a search
        # rank rides along in each entry, which is why clients sort search results by `index`.
        for page, extra in sorted(pages, key=lambda item: item[0].pageid):
            entry: dict[str, Any] = {"pageid": page.pageid, "ns": page.ns, "title": page.title, **extra}
            query.pageset.keyed.append((page.pageid, entry))
            query.pageset.good.append((page, entry))

    # prop modules ----------------------------------------------------------------------------------------

    def prop_info(self, query: _Query, prefix: str) -> Continuation:
        inprop = set(query.params.choices(f"{prefix}prop", _INFO_PROPS, "info"))
        query.params.claim(f"{prefix}testactions", f"{prefix}testactionsdetail", f"{prefix}continue")
        common = {
            "contentmodel": "wikitext",
            "pagelanguage": "en",
            "pagelanguagehtmlcode": "en",
            "pagelanguagedir": "ltr",
        }
        for entry in query.pageset.missing_titles:
            entry.update(common)
            self._info_urls(entry, entry["title"], inprop)
        for page, entry in query.pageset.good:
            entry.update(common)
            entry.update(touched=page.touched, lastrevid=page.lastrevid, length=page.length)
            if page.is_redirect:
                entry["redirect"] = True
            if page.is_new:
                entry["new"] = True
            self._info_urls(entry, page.title, inprop)
        return None

    def _info_urls(self, entry: dict[str, Any], title: str, inprop: set[str]) -> None:
        if "url" in inprop:
            entry["fullurl"] = self.page_url(title)
            entry["editurl"] = f"{self.base_url}/w/index.php?title={url_title(title)}&action=edit"
            entry["canonicalurl"] = self.page_url(title)
        if "displaytitle" in inprop:
            entry["displaytitle"] = html.escape(title, quote=False)

    def prop_extracts(self, query: _Query, prefix: str) -> Continuation:
        params = query.params
        limit = params.limit(f"{prefix}limit", "extracts", default=MAX_EXTRACTS, maximum=MAX_EXTRACTS)
        intro = params.flag(f"{prefix}intro")
        plain = params.flag(f"{prefix}plaintext")
        section_format = params.enum(f"{prefix}sectionformat", ("plain", "wiki", "raw"), "wiki")
        offset = params.integer(f"{prefix}continue", 0)
        params.claim(f"{prefix}chars", f"{prefix}sentences", f"{prefix}variant")
        # Whole-article extracts come one page per request; a single page needs no warning.
        if limit > 1 and not intro and len(query.pageset.good) > 1:
            limit = 1
            params.warn(
                "extracts", f'"exlimit" was too large for a whole article extracts request, lowered to {limit}.'
            )
        batch = query.pageset.good[offset:]
        for page, entry in batch[:limit]:
            entry["extract"] = _extract(page, intro=intro, plain=plain, section_format=section_format)
            if not plain:
                params.warn("extracts", _MALFORMED_HTML_WARNING)
        if len(batch) > limit:
            return {f"{prefix}continue": offset + limit}
        return None

    def prop_pageimages(self, query: _Query, prefix: str) -> Continuation:
        params = query.params
        props = set(params.choices(f"{prefix}prop", frozenset({"thumbnail", "name", "original"}), "pageimages"))
        if f"{prefix}prop" not in params.raw:
            props = {"thumbnail", "name"}
        elif not props:
            raise ApiError("noprop", f'The parameter "{prefix}prop" may not be empty.')
        size = params.integer(f"{prefix}thumbsize", 50)
        limit = params.limit(f"{prefix}limit", "pageimages", default=MAX_PAGEIMAGES, maximum=MAX_PAGEIMAGES)
        params.claim(f"{prefix}license", f"{prefix}langcode")
        good = query.pageset.good
        offset = 0
        if f"{prefix}continue" in params.raw:
            # PageImages continues from a pageid, not an offset, and refuses one it cannot find past the start.
            resume = params.integer(f"{prefix}continue", 0)
            offset = next((i for i, (page, _) in enumerate(good) if page.pageid == resume), 0)
            if offset == 0:
                raise ApiError("badcontinue", _KNOWN_ERROR_INFO["badcontinue"])
        batch = good[offset:]
        for page, entry in batch[:limit]:
            if page.image is None:
                continue
            if "thumbnail" in props:
                width, height = thumbnail_size(page.image, size)
                entry["thumbnail"] = {
                    "source": self.image_url(page.image, width),
                    "width": width,
                    "height": height,
                }
            if "original" in props:
                entry["original"] = {
                    "source": self.image_url(page.image),
                    "width": page.image.width,
                    "height": page.image.height,
                }
            if "name" in props:
                entry["pageimage"] = page.image.name
        if len(batch) > limit:
            return {f"{prefix}continue": batch[limit][0].pageid}
        return None

    def prop_links(self, query: _Query, prefix: str) -> Continuation:
        """ApiQueryLinks: the links of each page, in (from, ns, title) order, `pltitles` keeping only those."""
        params = query.params
        namespaces = self._namespaces(params, f"{prefix}namespace", "links")
        wanted_raw = params.multi(f"{prefix}titles", limit=MAX_TITLES)
        limit = params.limit(f"{prefix}limit", "links", default=10, maximum=MAX_LIMIT)
        descending = params.enum(f"{prefix}dir", ("ascending", "descending"), "ascending") == "descending"
        raw_continue = params.get(f"{prefix}continue")
        if not query.pageset.good:
            return None
        wanted = self._link_titles(params, wanted_raw, namespaces) if wanted_raw else None
        if wanted is not None and not wanted:
            return None
        entries = {page.pageid: entry for page, entry in query.pageset.good}
        rows: list[tuple[int, int, bytes, Page]] = []
        for page, _ in query.pageset.good:
            for target in filter(None, (self.corpus.by_id(i) for i in page.links)):
                if namespaces is not None and target.ns not in namespaces:
                    continue
                if wanted is not None and (target.ns, target.title) not in wanted:
                    continue
                rows.append((page.pageid, target.ns, _dbkey(target.title), target))
        rows.sort(key=lambda row: row[:3], reverse=descending)
        if raw_continue is not None:
            parts = raw_continue.split("|")
            if len(parts) != 3 or not all(_INTEGER.fullmatch(p) for p in parts[:2]):
                raise ApiError("badcontinue", _KNOWN_ERROR_INFO["badcontinue"])
            start = (int(parts[0]), int(parts[1]), parts[2].encode())
            rows = [r for r in rows if (r[:3] <= start if descending else r[:3] >= start)]
        for fromid, _, _, target in rows[:limit]:
            entries[fromid].setdefault("links", []).append({"ns": target.ns, "title": target.title})
        if len(rows) > limit:
            fromid, ns, title, _ = rows[limit]
            return {f"{prefix}continue": f"{fromid}|{ns}|{title.decode()}"}
        return None

    def _link_titles(self, params: _Params, raw_titles: list[str], namespaces: set[int] | None) -> set[tuple[int, str]]:
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
        self, params: _Params, prefix: str, module: str, targets: list[Page]
    ) -> tuple[list[tuple[Page, Page]], Continuation]:
        """ApiQueryBacklinksprop (linkshere, redirects): (target, source page) rows, sorted and continued alike.

        The sort (and so the continue value) has the target's title only when there are several targets, the
        source's namespace only for linkshere with several in `lhnamespace`, and always the source's id.
        """
        namespaces = self._namespaces(params, f"{prefix}namespace", module)
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
                *((_dbkey(target.title),) if by_title else ()),
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

        sources = self.corpus.backlinks_of if module == "linkshere" else self.corpus.redirects_to
        rows = [(target, page) for target in targets for page in sources(target.pageid) if shown(page)]
        rows.sort(key=key)
        if raw_continue is not None:
            parts = raw_continue.split("|")
            integers = parts[1:] if by_title else parts
            if len(parts) != 1 + by_title + by_namespace or not all(_INTEGER.fullmatch(p) for p in integers):
                raise ApiError("badcontinue", _KNOWN_ERROR_INFO["badcontinue"])
            start = (*((parts[0].encode(),) if by_title else ()), *(int(p) for p in integers))
            rows = [r for r in rows if key(r) >= start]
        if len(rows) <= limit:
            return rows, None
        following = key(rows[limit])
        token = "|".join(v.decode() if isinstance(v, bytes) else str(v) for v in following)
        return rows[:limit], {f"{prefix}continue": token}

    def _prop_incoming(self, query: _Query, prefix: str, module: str) -> Continuation:
        params = query.params
        known = {"pageid", "title", "redirect"} if module == "linkshere" else {"pageid", "title", "fragment"}
        props = set(params.choices(f"{prefix}prop", frozenset(known), module))
        if f"{prefix}prop" not in params.raw:
            # MediaWiki's defaults: pageid|title, plus redirect for linkshere.
            props = known - {"fragment"}
        entries = {page.pageid: entry for page, entry in query.pageset.good}
        rows, more = self._incoming_rows(params, prefix, module, [page for page, _ in query.pageset.good])
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

    def prop_linkshere(self, query: _Query, prefix: str) -> Continuation:
        """The pages linking to each page of the set, under its `linkshere`."""
        return self._prop_incoming(query, prefix, "linkshere")

    def prop_redirects(self, query: _Query, prefix: str) -> Continuation:
        """The redirects to each page of the set, under its `redirects`."""
        return self._prop_incoming(query, prefix, "redirects")

    def generator_linkshere(self, query: _Query, prefix: str) -> tuple[Ranked, Continuation]:
        """The pages linking to the input pages (`titles` or `pageids`), as the page set."""
        source = _Query(self, query.params, _PageSet(), {})
        self._pageset_from_input(source)
        targets = [page for page, _ in source.pageset.good]
        rows, more = self._incoming_rows(query.params, f"{prefix}lh", "linkshere", targets)
        unique = {page.pageid: page for _, page in rows}
        return [(page, {}) for page in unique.values()], more

    # list modules and generators -----------------------------------------------------------------------

    def list_backlinks(self, query: _Query, prefix: str) -> Continuation:
        params = query.params
        target = self._backlinks_target(params, prefix)
        namespaces = self._namespaces(params, f"{prefix}namespace", "backlinks")
        follow = params.flag(f"{prefix}redirect")
        limit = params.limit(
            f"{prefix}limit", "backlinks", default=10, maximum=MAX_REDIRECT_LIMIT if follow else MAX_LIMIT
        )
        descending = params.enum(f"{prefix}dir", ("ascending", "descending"), "ascending") == "descending"
        filter_redirects = params.enum(f"{prefix}filterredir", ("all", "redirects", "nonredirects"), "all")
        cont = self._parse_backlinks_continue(params.get(f"{prefix}continue"))

        def kept(page: Page) -> bool:
            if namespaces is not None and page.ns not in namespaces:
                return False
            if filter_redirects == "redirects":
                return page.is_redirect
            # Following redirects, "nonredirects" only filters the second level (MediaWiki's T24245).
            return filter_redirects == "all" or follow or not page.is_redirect

        linking = self.corpus.backlinks_of(target.pageid) if target is not None else []
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
            second = self._links_through(redirects, namespaces, filter_redirects, descending, cont)
            for redirect, page in second[:limit]:
                entries[redirect.pageid].setdefault("redirlinks", []).append(_link_item(page))
            if len(second) > limit:
                redirect, page = second[limit]
                dbkey = _dbkey(redirect.title).decode()
                more = f"{window}|{redirect.ns}|{dbkey}|{page.ns}|{page.pageid}"
        query.result["backlinks"] = list(entries.values())
        return {f"{prefix}continue": more} if more is not None else None

    def _backlinks_target(self, params: _Params, prefix: str) -> Page | None:
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
            target = self.corpus.by_id(number)
            if target is None:
                raise ApiError("nosuchpageid", f"There is no page with ID {number}.")
            return target
        normalized, _ = normalize_title(title or "")
        if normalized is None:
            raise ApiError("invalidtitle", f'Bad title "{html.escape(title or "", quote=False)}".')
        # A title nobody wrote can still have backlinks (red links), so MediaWiki answers with an empty list.
        return self.corpus.by_title(normalized)

    def _links_through(
        self,
        redirects: list[Page],
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
                (key(redirect.ns, _dbkey(redirect.title), page.ns, page.pageid), redirect, page)
                for redirect in redirects
                for page in self.corpus.backlinks_of(redirect.pageid)
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

    def _parse_backlinks_continue(self, raw: str | None) -> list[str] | None:
        """`blcontinue`'s parts: `ns|id` of the first level, plus `ns|title|from_ns|from_id` of the second."""
        if raw is None:
            return None
        parts = raw.split("|")
        # 7 and 8 parts resume inside a result too big for one answer, which the sample wiki never sends.
        integers = [p for i, p in enumerate(parts) if i != 3]
        if len(parts) not in (2, 6, 7, 8) or not all(_INTEGER.fullmatch(p) for p in integers):
            raise ApiError("badcontinue", _KNOWN_ERROR_INFO["badcontinue"])
        return parts

    def _namespaces(self, params: _Params, name: str, module: str) -> set[int] | None:
        values = params.multi(name)
        if not values or "*" in values:
            return None
        # Unknown namespaces are dropped with a warning, like any unrecognized value of a multi-value parameter.
        known = [v for v in values if _INTEGER.fullmatch(v)]
        params.choices(name, frozenset(known), module)
        return {int(v) for v in known} or None

    def _search(self, query: _Query, prefix: str) -> tuple[list[Page], int, int, int | None]:
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
        namespaces = self._namespaces(params, f"{prefix}namespace", "search")
        what = params.enum(f"{prefix}what", ("title", "text", "nearmatch"), "text")
        params.claim(*(f"{prefix}{name}" for name in ("interwiki", "enablerewrites", "sort", "qiprofile", "backend")))
        if what == "nearmatch":
            match = self.near_match(term)
            return ([match] if match is not None else []), offset, limit, None
        if namespaces is not None and 0 not in namespaces:
            hits: list[Page] = []
        elif self.search_backend == "database":
            hits = self.corpus.database_search(term)
        else:
            hits = self.corpus.search(term)
        return hits[offset : offset + limit], offset, limit, len(hits)

    def near_match(self, term: str) -> Page | None:
        """SearchNearMatcher: the page (a redirect included) titled `term`, or its lower, Title, UPPER cased forms."""
        if not term or term.startswith("#"):
            return None
        exact, _ = normalize_title(term)
        if exact is None:
            return None
        lower = term.lower()
        for variant in (term, lower, _ucwords(lower), term.upper(), _ucwordbreaks(lower)):
            title, _ = normalize_title(variant)
            page = self.corpus.by_title(title) if title is not None else None
            if page is not None:
                return page
        quoted = re.fullmatch(r'"([^"]+)"', term)
        return self.near_match(quoted.group(1)) if quoted else None

    def list_search(self, query: _Query, prefix: str) -> Continuation:
        params = query.params
        fields = set(params.choices(f"{prefix}prop", _SEARCH_PROPS, "search"))
        if f"{prefix}prop" not in params.raw:
            fields = {"size", "wordcount", "timestamp", "snippet"}
        info = set(params.choices(f"{prefix}info", frozenset({"totalhits", "suggestion", "rewrittenquery"}), "search"))
        if f"{prefix}info" not in params.raw:
            info = {"totalhits", "suggestion", "rewrittenquery"}
        hits, offset, limit, total = self._search(query, prefix)
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

    def generator_search(self, query: _Query, prefix: str) -> tuple[Ranked, Continuation]:
        query.params.claim(f"{prefix}srprop", f"{prefix}srinfo")
        hits, offset, limit, total = self._search(query, f"{prefix}sr")
        # The generator's data about each hit: what a redirect's entry in `redirects` carries.
        ranked = [
            (page, {"ns": page.ns, "title": page.title, "pageid": page.pageid, "index": offset + rank})
            for rank, page in enumerate(hits, start=1)
        ]
        more = {f"{prefix}sroffset": offset + limit} if total is not None and offset + limit < total else None
        return ranked, more

    # action=help -------------------------------------------------------------------------------------------

    def help(self, params: _Params) -> dict[str, Any]:
        params.claim(*params.raw)
        return {"help": {"mime": "text/plain", "help": _HELP_TEXT}}


def _continuation(
    modules: list[str],
    props: list[str],
    data: dict[str, dict[str, Any]],
    generator_continue: Continuation,
    generator_params: dict[str, str],
) -> tuple[dict[str, Any], bool]:
    """ApiContinuationManager::getContinuation: the `continue` object and whether the batch is complete."""
    finished = [m for m in modules if m not in data]
    out: dict[str, Any] = {}
    for module, values in data.items():
        if module not in props:
            out.update(values)
    prop_data = {m: v for m, v in data.items() if m in props}
    batchcomplete = False
    if prop_data:
        # Prop modules still have pages to fill in, so the generator must run again with the same parameters.
        for values in prop_data.values():
            out.update(values)
        out.update(generator_params)
        generator_keys = "|".join(generator_params)
    elif generator_continue:
        out.update(generator_continue)
        finished = [m for m in finished if m not in props]
        generator_keys = "|".join(generator_continue)
        batchcomplete = True
    else:
        generator_keys = "-"
        batchcomplete = True
    if out or generator_keys != "-":
        out["continue"] = f"{generator_keys}||{'|'.join(finished)}"
    return out, batchcomplete


def _link_item(page: Page) -> dict[str, Any]:
    """A page as list=backlinks lists it: `redirect` only on redirects."""
    item: dict[str, Any] = {"pageid": page.pageid, "ns": page.ns, "title": page.title}
    if page.is_redirect:
        item["redirect"] = True
    return item


def _dbkey(title: str) -> bytes:
    """A title as the database sorts it: underscores for spaces, compared byte by byte."""
    return title.replace(" ", "_").encode()


def _ucwords(text: str) -> str:
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), text)


def _ucwordbreaks(text: str) -> str:
    return re.sub(r"\b(\w)", lambda m: m.group(1).upper(), text)


def _extract(page: Page, *, intro: bool, plain: bool, section_format: str) -> str:
    if page.redirect_to is not None:
        return ""
    text = page.extract if intro else page.full_text
    if plain:
        if section_format == "plain":
            return re.sub(r"== (.+?) ==", r"\1", text)
        return text
    # The HTML flavour escapes the text, as the parser escapes stray markup in wikitext.
    paragraphs = re.split(r"\n+== (.+?) ==\n", text)
    out = [f"<p>{html.escape(paragraphs[0], quote=False)}</p>"]
    for heading, body in zip(paragraphs[1::2], paragraphs[2::2], strict=True):
        out.append(f"<h2>{html.escape(heading, quote=False)}</h2>\n<p>{html.escape(body, quote=False)}</p>")
    return "\n".join(out)


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


_MALFORMED_HTML_WARNING: Final = (
    "HTML may be malformed and/or unbalanced and may omit inline images. Use at your own risk. Known problems "
    "are listed at https://www.mediawiki.org/wiki/Special:MyLanguage/Extension:TextExtracts#Caveats."
)
_HELP_TEXT: Final = (
    "WikiRoam sample wiki: a MediaWiki-compatible api.php for local development and tests.\n"
    "Supported: action=query with generator=search|linkshere, list=search (srwhat=text|nearmatch), "
    "list=backlinks (blredirect), prop=info|extracts|pageimages|links|linkshere|redirects, titles=, pageids=, "
    "redirects; format=json&formatversion=2 only."
)
_SEARCH_PROPS: Final = frozenset(
    {
        "size", "wordcount", "timestamp", "snippet", "titlesnippet", "redirecttitle", "redirectsnippet",
        "sectiontitle", "sectionsnippet", "isfilematch", "categorysnippet", "extensiondata",
    }
)  # fmt: skip
_ACTIONS: Final[dict[str, Callable[[_Api, _Params], dict[str, Any]]]] = {
    "query": _Api.query,
    "help": _Api.help,
}
_PROP_MODULES: Final[dict[str, Callable[[_Api, _Query, str], Continuation]]] = {
    "info": _Api.prop_info,
    "extracts": _Api.prop_extracts,
    "pageimages": _Api.prop_pageimages,
    "links": _Api.prop_links,
    "linkshere": _Api.prop_linkshere,
    "redirects": _Api.prop_redirects,
}
_LIST_MODULES: Final[dict[str, Callable[[_Api, _Query, str], Continuation]]] = {
    "backlinks": _Api.list_backlinks,
    "search": _Api.list_search,
}
_GENERATORS: Final[dict[str, Callable[[_Api, _Query, str], tuple[Ranked, Continuation]]]] = {
    "search": _Api.generator_search,
    "linkshere": _Api.generator_linkshere,
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


# --- HTTP -------------------------------------------------------------------------------------------------


@dataclass
class _Reply:
    """An HTTP answer before it is written."""

    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json_reply(body: Mapping[str, Any], headers: Mapping[str, str] | None = None, status: int = 200) -> _Reply:
    # formatversion=2 sends UTF-8 as is and leaves <, > and & unescaped, so clients must escape for HTML.
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    extra = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, must-revalidate, max-age=0"}
    return _Reply(status, payload, "application/json; charset=utf-8", {**extra, **(headers or {})})


def _html_reply(status: int, title: str, body_html: str) -> _Reply:
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - WikiRoam sample wiki</title></head>\n<body>\n{body_html}\n</body></html>\n"
    )
    return _Reply(status, document.encode())


# What ApiMain sends for an anonymous cross-origin request (origin=*).
_CORS_HEADERS: Final = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Credentials": "false",
    "Access-Control-Expose-Headers": "MediaWiki-API-Error, Retry-After, X-Database-Lag, MediaWiki-Login-Suppressed",
}
_STATUS_TEXT: Final = {
    429: "Too many requests. Please slow down and retry after the delay in the Retry-After header.",
    500: "Our servers are currently experiencing a technical problem. Please try again in a few minutes.",
    502: "The upstream server sent an invalid response.",
    503: "Our servers are currently under maintenance or experiencing a technical problem.",
    504: "The upstream server took too long to answer.",
}


class SampleWiki:
    """The sample wiki: a loopback MediaWiki look-alike with faults on demand and a request log.

    Use it as a context manager, or call `start()` and `stop()`. Port 0 picks a free port.
    """

    def __init__(
        self,
        corpus: Corpus | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = DEFAULT_SEED,
        verbose: bool = False,
        search: str | None = None,
    ) -> None:
        """Serve `corpus` (default: `build_corpus(seed)`) on `host`, which must be a loopback address.

        `search` is the search backend to play, "cirrus" or "database"; by default `WIKIROAM_SAMPLEWIKI_SEARCH`
        names it, else "cirrus".
        """
        if not _is_loopback(host):
            raise ValueError(f"the sample wiki only listens on loopback addresses, not {host!r}")
        self.corpus = corpus if corpus is not None else build_corpus(seed)
        self.host = host
        self._search_backend = search_backend(search if search is not None else os.environ.get(SEARCH_BACKEND_VARIABLE))
        self.faults = Faults()
        self.verbose = verbose
        self._requested_port = port
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._api: _Api | None = None
        self._stopping = threading.Event()
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    @property
    def search_backend(self) -> SearchBackend:
        """The search backend the wiki plays: "cirrus" (relevance) or "database" (title order)."""
        return self._search_backend

    @search_backend.setter
    def search_backend(self, value: str) -> None:
        self._search_backend = search_backend(value)
        if self._api is not None:
            self._api.search_backend = self._search_backend

    # lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> SampleWiki:
        """Start serving in a background thread; returns self."""
        if self._server is not None:
            raise RuntimeError("the sample wiki is already running")
        self._stopping.clear()
        server = _HttpServer((self.host, self._requested_port), self)
        self._server = server
        self._api = _Api(self.corpus, self.base_url, self._search_backend)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="samplewiki", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake slow answers, drop open connections, free the port. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        # Keep-alive connections would otherwise keep their handler threads answering after the stop.
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = self._api = None

    def __enter__(self) -> SampleWiki:
        """Start on entering the block."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop on leaving the block."""
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is up."""
        return self._server is not None

    # addresses ----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port in use (the requested one before `start`)."""
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, the prefix of every URL the wiki hands out."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The api.php endpoint."""
        return f"{self.base_url}/w/api.php"

    def page_url(self, title: str) -> str:
        """The article URL MediaWiki reports as `fullurl` for `title`."""
        return f"{self.base_url}/wiki/{url_title(title)}"

    # request log --------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Copies of every request received so far, oldest first."""
        with self._lock:
            return [replace(r, params=dict(r.params)) for r in self._log]

    def count(self, **params_filter: str | int) -> int:
        """How many api.php requests had all these parameters, e.g. `count(list="backlinks")`.

        A value matches the parameter exactly or one of its `|`-separated values, as in `Faults` matching.
        """
        with self._lock:
            return sum(
                1
                for r in self._log
                if r.is_api
                and all(k in r.params and _value_matches(r.params[k], str(v)) for k, v in params_filter.items())
            )

    def reset_log(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._log.clear()

    def _record(self, method: str, path: str, params: dict[str, str], user_agent: str | None) -> RecordedRequest:
        record = RecordedRequest(method=method, path=path, params=params, user_agent=user_agent)
        with self._lock:
            self._log.append(record)
        return record

    def _track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # answers --------------------------------------------------------------------------------------------

    def _answer(self, method: str, path: str, params: dict[str, str], record: RecordedRequest) -> _Reply | None:
        for prefix, exact, route in _ROUTES:
            if path == prefix or (not exact and path.startswith(prefix)):
                return route(self, method, path, params, record)
        return _html_reply(404, "Not found", "<h1>Not found</h1>")

    def _serve_api(self, method: str, path: str, params: dict[str, str], record: RecordedRequest) -> _Reply | None:
        api = self._require_api()
        if not params:
            # A browser opening api.php bare gets a readable page rather than an error.
            return _html_reply(200, "API", f"<h1>WikiRoam sample wiki API</h1><pre>{html.escape(_HELP_TEXT)}</pre>")
        fault = self.faults.take(params)
        cors = _CORS_HEADERS if params.get("origin") == "*" else {}
        if fault is not None:
            record.fault = fault.kind
            reply = self._fault_reply(api, fault, params)
            if reply is not _PROCEED:
                return reply
        body, headers = api.handle(params)
        return _json_reply(body, {**headers, **cors})

    def _fault_reply(self, api: _Api, fault: Fault, params: Mapping[str, str]) -> _Reply | None:
        if fault.kind == "timeout":
            # Wait on the stop event, so stop() never waits for a slow answer to finish.
            return None if self._stopping.wait(fault.delay) else _PROCEED
        if fault.kind == "disconnect":
            return None
        if fault.kind == "maxlag":
            raw = params.get("maxlag", "")
            maxlag = int(raw) if _INTEGER.fullmatch(raw) else None
            error = api.maxlag_error(fault.lag, maxlag, fault.retry_after)
            return _json_reply(api.error_body(error), {"MediaWiki-API-Error": "maxlag", **error.headers})
        if fault.kind.startswith("error:"):
            code = fault.kind.removeprefix("error:")
            info = fault.info or _KNOWN_ERROR_INFO.get(code, f"The sample wiki was told to fail with {code}.")
            return _json_reply(api.error_body(ApiError(code, info)), {"MediaWiki-API-Error": code})
        status = int(fault.kind)
        headers = {}
        retry_after = fault.retry_after if fault.retry_after is not None else (1 if status == 429 else None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        text = fault.info or _STATUS_TEXT.get(status, "The server could not answer this request.")
        reply = _html_reply(status, f"Error {status}", f"<h1>Error {status}</h1><p>{html.escape(text)}</p>")
        reply.headers.update(headers)
        return reply

    def _serve_article(self, method: str, path: str, params: dict[str, str], record: RecordedRequest) -> _Reply | None:
        return self._article(unquote(path.removeprefix("/wiki/")))

    def _serve_index(self, method: str, path: str, params: dict[str, str], record: RecordedRequest) -> _Reply | None:
        if params.get("action") == "edit":
            title = html.escape(params.get("title", ""))
            return _html_reply(200, "Editing", f"<h1>Editing {title}</h1><p>The sample wiki is read-only.</p>")
        return self._article(params.get("title", ""))

    def _article(self, raw_title: str) -> _Reply:
        title, _ = normalize_title(raw_title)
        page = self.corpus.by_title(title) if title else None
        if page is None or title is None:
            shown = html.escape(title or raw_title)
            return _html_reply(404, shown, f"<h1>{shown}</h1><p>This page does not exist.</p>")
        note = ""
        if page.redirect_to is not None:
            note = f"<p><i>(Redirected from {html.escape(page.title)})</i></p>"
            target = self.corpus.by_title(page.redirect_to)
            page = target if target is not None else page
        parts = [f"<h1>{html.escape(page.title)}</h1>", note]
        if page.image is not None:
            width, height = thumbnail_size(page.image, 320)
            source = self._require_api().image_url(page.image, width)
            parts.append(f'<img src="{html.escape(source)}" width="{width}" height="{height}" alt="">')
        parts.append(_extract(page, intro=False, plain=False, section_format="wiki"))
        links = [self.corpus.by_id(i) for i in page.links]
        items = "".join(
            f'<li><a href="{html.escape(self.page_url(p.title))}">{html.escape(p.title)}</a></li>'
            for p in links
            if p is not None
        )
        parts.append(f"<h2>Links</h2><ul>{items}</ul>")
        backlinks = len(self.corpus.backlinks_of(page.pageid))
        parts.append(f"<p>{backlinks} pages link here.</p>")
        return _html_reply(200, page.title, "\n".join(parts))

    def _serve_image(self, method: str, path: str, params: dict[str, str], record: RecordedRequest) -> _Reply | None:
        parts = [unquote(p) for p in path.removeprefix("/images/").split("/")]
        thumb = parts[0] == "thumb"
        if thumb:
            parts = parts[1:]
        images = self.corpus.images
        image = images.get(parts[2]) if len(parts) >= 3 else None
        if image is None or "/".join(parts[:2]) != image.hash_path or len(parts) != (4 if thumb else 3):
            return _html_reply(404, "Not found", "<h1>No such file</h1>")
        width, height = image.width, image.height
        if thumb:
            match = re.fullmatch(r"([0-9]+)px-(.+)", parts[3])
            if match is None or match.group(2) != image.name or not 1 <= int(match.group(1)) <= image.width:
                return _html_reply(404, "Not found", "<h1>No such thumbnail</h1>")
            width = int(match.group(1))
            height = thumbnail_height(image, width)
        headers = {"Cache-Control": "public, max-age=86400"}
        return _Reply(200, png_bytes(width, height, image.name), "image/png", headers)

    def _serve_home(self, method: str, path: str, params: dict[str, str], record: RecordedRequest) -> _Reply | None:
        featured = [self.corpus.hub, *self.corpus.medium_hubs]
        items = "".join(
            f'<li><a href="{html.escape(self.page_url(p.title))}">{html.escape(p.title)}</a></li>' for p in featured
        )
        body = (
            "<h1>WikiRoam sample wiki</h1>"
            f'<p>{len(self.corpus.pages)} invented pages. API: <a href="{self.api_url}">{self.api_url}</a></p>'
            f"<ul>{items}</ul>"
        )
        return _html_reply(200, "Sample wiki", body)

    def _require_api(self) -> _Api:
        if self._api is None:
            raise RuntimeError("the sample wiki is not running")
        return self._api


_PROCEED: Final = _Reply(0, b"")
_Route = Callable[[SampleWiki, str, str, dict[str, str], RecordedRequest], _Reply | None]
_ROUTES: Final[tuple[tuple[str, bool, _Route], ...]] = (
    ("/w/api.php", True, SampleWiki._serve_api),
    ("/w/index.php", True, SampleWiki._serve_index),
    ("/wiki/", False, SampleWiki._serve_article),
    ("/images/", False, SampleWiki._serve_image),
    ("/", True, SampleWiki._serve_home),
)


def search_backend(name: str | None) -> SearchBackend:
    """The search backend called `name` (None or blank: "cirrus"); ValueError names the choices."""
    value = (name or "").strip() or "cirrus"
    if value not in get_args(SearchBackend):
        raise ValueError(
            f"unknown sample wiki search backend {value!r} (from {SEARCH_BACKEND_VARIABLE} or search=): "
            f"use {' or '.join(get_args(SearchBackend))}"
        )
    return cast(SearchBackend, value)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _HttpServer(ThreadingHTTPServer):
    """The stdlib threading server, pointing its handlers at the `SampleWiki` that owns it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], wiki: SampleWiki) -> None:
        self.wiki = wiki
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    """Parses one HTTP request, records it, and writes the sample wiki's answer."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle and delayed ACKs add 40 ms per request.
    disable_nagle_algorithm = True
    server_version = "SampleWiki/1.0"
    sys_version = ""
    timeout = 30

    @property
    def wiki(self) -> SampleWiki:
        return cast(_HttpServer, self.server).wiki

    def setup(self) -> None:
        super().setup()
        self.wiki._track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.wiki._track(self.connection, open_=False)

    def do_GET(self) -> None:
        self._handle("GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._handle("POST", self.rfile.read(length) if length > 0 else b"")

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by default: tests and the local stack would drown in one line per request.
        if self.wiki.verbose:
            super().log_message(format, *args)

    def _handle(self, method: str, body: bytes) -> None:
        split = urlsplit(self.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        if body:
            params.update(_form_params(self.headers.get("Content-Type", ""), body))
        record = self.wiki._record(method, split.path, params, self.headers.get("User-Agent"))
        try:
            reply = self.wiki._answer(method, split.path, params, record)
        except Exception as error:  # noqa: BLE001 (a bug must still produce an answer, shaped like MediaWiki's)
            body_json = {
                "error": {
                    "code": f"internal_api_error_{type(error).__name__}",
                    "info": f"[{SERVED_BY}] Exception caught: {error}",
                    "errorclass": type(error).__name__,
                },
                "servedby": SERVED_BY,
            }
            reply = _json_reply(body_json, status=500)
        if reply is None:
            self.close_connection = True
            return
        record.status = reply.status
        self._write(reply)

    def _write(self, reply: _Reply) -> None:
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout fault, usually); nothing is left to tell it.
            self.close_connection = True


def _form_params(content_type: str, body: bytes) -> dict[str, str]:
    """POST parameters from a urlencoded or multipart body, as PHP merges them into the request."""
    if content_type.startswith("multipart/form-data"):
        from email.parser import BytesParser
        from email.policy import HTTP

        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        found: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                found[name] = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        return found
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
