"""A loopback HTTP server that answers the part of the MediaWiki Action API WikiRoam uses, like MediaWiki 1.39.

Only `format=json&formatversion=2` is spoken. Response shapes follow MediaWiki, quirks included: generator
results come back in pageid order with an `index` to sort by; query continuation follows ApiContinuationManager
(`continue` strings like `gsroffset||` and `-||`); TextExtracts hands out at most 20 intro extracts per request
and asks for `excontinue` beyond that; errors are HTTP 200 with a `MediaWiki-API-Error` header; booleans are
true when present, whatever their value; unknown parameters draw a warning.

Faults (HTTP 429 or 5xx, maxlag, slow answers, dropped connections, API errors) are armed on demand through
`SampleWiki.faults`, and every request is recorded in `SampleWiki.requests` for tests to inspect.
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
import socket
import struct
import threading
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, cast
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from local.samplewiki.corpus import Corpus, Image, Page, build_corpus, words

MAX_LIMIT: Final = 500
MAX_EXTRACTS: Final = 20
MAX_PAGEIMAGES: Final = 50
MAX_TITLES: Final = 50
SERVED_BY: Final = "samplewiki"
DEFAULT_TIMEOUT_DELAY: Final = 30.0
DEFAULT_LAG: Final = 7.0

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

    def warn(self, module: str, text: str) -> None:
        self.warnings.setdefault(module, []).append(text)

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
                "toomanyvalues", f'Too many values supplied for parameter "{name}". The limit is {limit}.'
            )
        return values

    def choices(self, name: str, allowed: Iterator[str] | frozenset[str], module: str) -> list[str]:
        known = set(allowed)
        values = self.multi(name)
        unknown = [v for v in values if v not in known]
        if unknown:
            plural = "value" if len(unknown) == 1 else "values"
            self.warn(module, f'Unrecognized {plural} for parameter "{name}": {", ".join(unknown)}.')
        return [v for v in values if v in known]

    def enum(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.get(name)
        if value is None:
            return default
        if value not in allowed:
            raise ApiError("badvalue", f'Unrecognized value for parameter "{name}": {value}.')
        return value

    def unused(self) -> list[str]:
        return sorted(set(self.raw) - self.used - _MAIN_PARAMS)


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
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(
        b"IEND", b""
    )


def thumbnail_size(image: Image, size: int) -> tuple[int, int]:
    """The size MediaWiki renders when asked to fit `image` in a `size`x`size` box; it never upscales."""
    if size >= image.width and size >= image.height:
        return image.width, image.height
    if image.width >= image.height:
        return size, max(1, round(image.height * size / image.width))
    return max(1, round(image.width * size / image.height)), size


# --- The Action API ----------------------------------------------------------------------------------------


@dataclass
class _PageSet:
    """The pages a query works on, in output order, with the notes MediaWiki reports about them."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    good: list[tuple[Page, dict[str, Any]]] = field(default_factory=list)
    missing_titles: list[dict[str, Any]] = field(default_factory=list)
    normalized: list[dict[str, Any]] = field(default_factory=list)
    redirects: list[dict[str, str]] = field(default_factory=list)


@dataclass
class _Query:
    """Everything an action=query module needs while it runs."""

    api: _Api
    params: _Params
    pageset: _PageSet
    result: dict[str, Any]

    @property
    def corpus(self) -> Corpus:
        return self.api.corpus


Continuation = dict[str, Any] | None
PropModule = Callable[[_Query, str], Continuation]
ListModule = Callable[[_Query, str], Continuation]
Generator = Callable[[_Query, str], tuple[list[tuple[Page, dict[str, Any]]], Continuation]]


class _Api:
    """Turns api.php parameters into a JSON-ready answer; stateless apart from the corpus and the base URL."""

    def __init__(self, corpus: Corpus, base_url: str) -> None:
        self.corpus = corpus
        self.base_url = base_url

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
            action = params.enum("action", tuple(_ACTIONS), "help")
            fmt, version = params.get("format"), params.get("formatversion")
            if fmt != "json" or version not in ("2", "latest"):
                raise ApiError(
                    "badvalue",
                    "The sample wiki only speaks format=json with formatversion=2 "
                    f"(got format={fmt}, formatversion={version}).",
                )
            maxlag = params.get("maxlag")
            if maxlag is not None:
                limit = params.integer("maxlag", 0)
                if limit < 0:  # the wiki has no replicas, so its lag is 0; maxlag=-1 shows it, as documented
                    raise self.maxlag_error(0, limit, None)
            body = _ACTIONS[action](self, params)
        except ApiError as error:
            return self.error_body(error), {"MediaWiki-API-Error": error.code, **error.headers}
        unused = params.unused()
        if unused:
            noun = "parameter" if len(unused) == 1 else "parameters"
            params.warn("main", f"Unrecognized {noun}: {', '.join(unused)}.")
        return self._decorate(body, params), {}

    def _decorate(self, body: dict[str, Any], params: _Params) -> dict[str, Any]:
        head: dict[str, Any] = {}
        for key in ("batchcomplete", "continue"):
            if key in body:
                head[key] = body.pop(key)
        if params.warnings:
            head["warnings"] = {m: {"warnings": "\n".join(w)} for m, w in params.warnings.items()}
        head.update(body)
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
            raise ApiError("badvalue", f'Unrecognized value for parameter "generator": {generator}.')

        skip, generator_done, generator_params = self._parse_continue(params, props)
        query = _Query(self, params, _PageSet(), {})
        generator_continue: Continuation = None
        if generator is not None:
            if not generator_done:
                pages, generator_continue = _GENERATORS[generator](query, "g")
                self._fill_pageset(query, pages)
        else:
            self._pageset_from_input(query)

        continuation: dict[str, dict[str, Any]] = {}
        for name in props:
            prefix = _PREFIXES[name]
            if name in skip:
                params.claim(*(k for k in params.raw if k.startswith(prefix)))
                continue
            more = _PROP_MODULES[name](query, prefix)
            if more:
                continuation[name] = more
        pageset = query.pageset
        if pageset.normalized:
            query.result["normalized"] = pageset.normalized
        if pageset.redirects:
            query.result["redirects"] = pageset.redirects
        if pageset.entries:
            query.result["pages"] = pageset.entries
        for name in lists:
            prefix = _PREFIXES[name]
            if name in skip:
                params.claim(*(k for k in params.raw if k.startswith(prefix)))
                continue
            more = _LIST_MODULES[name](query, prefix)
            if more:
                continuation[name] = more

        body: dict[str, Any] = {}
        data, batchcomplete = _continuation(
            [*props, *lists], props, continuation, generator_continue, generator_params
        )
        if batchcomplete:
            body["batchcomplete"] = True
        if data:
            body["continue"] = data
        if query.result:
            body["query"] = query.result
        return body

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
        resolve = params.flag("redirects")
        pageset = query.pageset
        found: list[Page] = []
        if titles is not None:
            for raw in titles:
                title, reason = normalize_title(raw)
                if title is None:
                    pageset.entries.append({"title": raw, "invalidreason": reason, "invalid": True})
                    continue
                if title != raw:
                    pageset.normalized.append({"fromencoded": False, "from": raw, "to": title})
                page = self.corpus.by_title(title)
                if page is None:
                    entry = {"ns": 0, "title": title, "missing": True}
                    pageset.missing_titles.append(entry)
                else:
                    found.append(page)
            # MediaWiki lists missing titles first, then invalid ones, then missing ids, then found pages.
            pageset.entries[:0] = pageset.missing_titles
        if pageids is not None:
            for raw in pageids:
                if not _INTEGER.fullmatch(raw):
                    raise ApiError("badinteger", f'Invalid value "{raw}" for integer parameter "pageids".')
                page = self.corpus.by_id(int(raw))
                if page is None:
                    pageset.entries.append({"pageid": int(raw), "missing": True})
                else:
                    found.append(page)
        if resolve:
            found = self._resolve_redirects(pageset, found)
        unique = {p.pageid: p for p in found}
        self._fill_pageset(query, [(p, {}) for _, p in sorted(unique.items())])

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

    def _fill_pageset(self, query: _Query, pages: list[tuple[Page, dict[str, Any]]]) -> None:
        # Found pages go out in pageid order, as the page table returns them; generator data such as a search
        # rank rides along in each entry, which is why clients sort search results by `index`.
        for page, extra in sorted(pages, key=lambda item: item[0].pageid):
            entry: dict[str, Any] = {"pageid": page.pageid, "ns": page.ns, "title": page.title, **extra}
            query.pageset.entries.append(entry)
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
        if limit > 1 and not intro:
            limit = 1
            params.warn("extracts", f'"exlimit" was too large for a whole article extracts request, lowered to {limit}.')
        batch = query.pageset.good[offset:]
        for page, entry in batch[:limit]:
            entry["extract"] = _extract(page, intro=intro, plain=plain, section_format=section_format)
        if len(batch) > limit:
            return {f"{prefix}continue": offset + limit}
        return None

    def prop_pageimages(self, query: _Query, prefix: str) -> Continuation:
        params = query.params
        props = set(params.choices(f"{prefix}prop", frozenset({"thumbnail", "name", "original"}), "pageimages"))
        if f"{prefix}prop" not in params.raw:
            props = {"thumbnail", "name"}
        size = params.integer(f"{prefix}thumbsize", 50)
        limit = params.limit(f"{prefix}limit", "pageimages", default=MAX_PAGEIMAGES, maximum=MAX_PAGEIMAGES)
        offset = params.integer(f"{prefix}continue", 0)
        params.claim(f"{prefix}license", f"{prefix}langcode")
        batch = query.pageset.good[offset:]
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
            return {f"{prefix}continue": offset + limit}
        return None

    # list modules and generators -----------------------------------------------------------------------

    def list_backlinks(self, query: _Query, prefix: str) -> Continuation:
        params = query.params
        title, pageid = params.get(f"{prefix}title"), params.get(f"{prefix}pageid")
        if title is None and pageid is None:
            raise ApiError(
                "missingparam", f'One of the parameters "{prefix}title" and "{prefix}pageid" is required.'
            )
        if title is not None and pageid is not None:
            raise ApiError(
                "invalidparammix", f'The parameters "{prefix}title" and "{prefix}pageid" can not be used together.'
            )
        target: Page | None
        if pageid is not None:
            number = params.integer(f"{prefix}pageid", 0)
            target = self.corpus.by_id(number)
            if target is None:
                raise ApiError("nosuchpageid", f"There is no page with ID {number}.")
        else:
            normalized, _ = normalize_title(title or "")
            if normalized is None:
                raise ApiError("invalidtitle", f'Bad title "{html.escape(title or "", quote=False)}".')
            # A title nobody wrote can still have backlinks (red links), so MediaWiki answers with an empty list.
            target = self.corpus.by_title(normalized)
        namespaces = self._namespaces(params, f"{prefix}namespace")
        limit = params.limit(f"{prefix}limit", "backlinks", default=10, maximum=MAX_LIMIT)
        descending = params.enum(f"{prefix}dir", ("ascending", "descending"), "ascending") == "descending"
        filter_redirects = params.enum(f"{prefix}filterredir", ("all", "redirects", "nonredirects"), "all")
        params.claim(f"{prefix}redirect")
        start = self._parse_backlinks_continue(params.get(f"{prefix}continue"))

        linking = self.corpus.backlinks_of(target.pageid) if target is not None else []
        rows = [
            p
            for p in linking
            if (namespaces is None or p.ns in namespaces)
            and (filter_redirects == "all" or p.is_redirect == (filter_redirects == "redirects"))
        ]
        if descending:
            rows.reverse()
        if start is not None:
            rows = [p for p in rows if ((p.ns, p.pageid) <= start if descending else (p.ns, p.pageid) >= start)]
        listed = []
        for page in rows[:limit]:
            item: dict[str, Any] = {"pageid": page.pageid, "ns": page.ns, "title": page.title}
            if page.is_redirect:
                item["redirect"] = True
            listed.append(item)
        query.result["backlinks"] = listed
        if len(rows) > limit:
            following = rows[limit]
            return {f"{prefix}continue": f"{following.ns}|{following.pageid}"}
        return None

    def _parse_backlinks_continue(self, raw: str | None) -> tuple[int, int] | None:
        if raw is None:
            return None
        parts = raw.split("|")
        if len(parts) != 2 or not all(_INTEGER.fullmatch(p) for p in parts):
            raise ApiError("badcontinue", _KNOWN_ERROR_INFO["badcontinue"])
        return int(parts[0]), int(parts[1])

    def _namespaces(self, params: _Params, name: str) -> set[int] | None:
        values = params.multi(name)
        if not values:
            return None
        if "*" in values:
            return None
        for value in values:
            if not _INTEGER.fullmatch(value):
                raise ApiError("badvalue", f'Unrecognized value for parameter "{name}": {value}.')
        return {int(v) for v in values}

    def _search(self, query: _Query, prefix: str) -> tuple[list[Page], int, int, int]:
        """The ranked hits for `{prefix}search`, and the offset, limit and total hit count."""
        params = query.params
        term = params.get(f"{prefix}search")
        if term is None or term == "":
            raise ApiError("missingparam", f'The "{prefix}search" parameter must be set.')
        limit = params.limit(f"{prefix}limit", "search", default=10, maximum=MAX_LIMIT)
        offset = params.integer(f"{prefix}offset", 0)
        namespaces = self._namespaces(params, f"{prefix}namespace")
        params.enum(f"{prefix}what", ("title", "text", "nearmatch"), "text")
        params.claim(
            *(
                f"{prefix}{name}"
                for name in ("info", "prop", "interwiki", "enablerewrites", "sort", "qiprofile", "backend")
            )
        )
        hits = self.corpus.search(term) if namespaces is None or 0 in namespaces else []
        return hits[offset : offset + limit], offset, limit, len(hits)

    def list_search(self, query: _Query, prefix: str) -> Continuation:
        hits, offset, limit, total = self._search(query, prefix)
        term = query.params.raw.get(f"{prefix}search", "")
        query.result["searchinfo"] = {"totalhits": total}
        query.result["search"] = [
            {
                "ns": page.ns,
                "title": page.title,
                "pageid": page.pageid,
                "size": page.length,
                "wordcount": len(page.full_text.split()),
                "snippet": _snippet(page.extract, term),
                "timestamp": page.touched,
            }
            for page in hits
        ]
        if offset + limit < total:
            return {f"{prefix}offset": offset + limit}
        return None

    def generator_search(self, query: _Query, prefix: str) -> tuple[list[tuple[Page, dict[str, Any]]], Continuation]:
        hits, offset, limit, total = self._search(query, f"{prefix}sr")
        ranked = [(page, {"index": offset + rank}) for rank, page in enumerate(hits, start=1)]
        more = {f"{prefix}sroffset": offset + limit} if offset + limit < total else None
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


def _extract(page: Page, *, intro: bool, plain: bool, section_format: str) -> str:
    if page.redirect_to is not None:
        return ""
    text = page.extract if intro else page.full_text
    if plain:
        if section_format == "plain":
            return re.sub(r"== (.+?) ==", r"\1", text)
        return text
    # The HTML flavour escapes the text, as the parser escapes stray markup in wikitext.
    paragraphs = re.split(r"\n\n== (.+?) ==\n", text)
    out = [f"<p>{html.escape(paragraphs[0], quote=False)}</p>"]
    for heading, body in zip(paragraphs[1::2], paragraphs[2::2], strict=True):
        out.append(f"<h2>{html.escape(heading, quote=False)}</h2>\n<p>{html.escape(body, quote=False)}</p>")
    return "\n".join(out)


def _snippet(text: str, term: str) -> str:
    """A CirrusSearch-style snippet: escaped text with matches wrapped in `<span class="searchmatch">`."""
    wanted = set(words(term))
    pieces: list[str] = []
    for token in re.split(r"(\w+)", text[:200]):
        escaped = html.escape(token, quote=False)
        pieces.append(f'<span class="searchmatch">{escaped}</span>' if words(token) and words(token)[0] in wanted else escaped)
    return "".join(pieces)


_HELP_TEXT: Final = (
    "WikiRoam sample wiki: a MediaWiki-compatible api.php for local development and tests.\n"
    "Supported: action=query with generator=search, list=search, list=backlinks, "
    "prop=info|extracts|pageimages, titles=, pageids=, redirects; format=json&formatversion=2 only."
)
_ACTIONS: Final[dict[str, Callable[[_Api, _Params], dict[str, Any]]]] = {
    "query": _Api.query,
    "help": _Api.help,
}
_PROP_MODULES: Final[dict[str, Callable[[_Api, _Query, str], Continuation]]] = {
    "info": _Api.prop_info,
    "extracts": _Api.prop_extracts,
    "pageimages": _Api.prop_pageimages,
}
_LIST_MODULES: Final[dict[str, Callable[[_Api, _Query, str], Continuation]]] = {
    "backlinks": _Api.list_backlinks,
    "search": _Api.list_search,
}
_GENERATORS: Final[
    dict[str, Callable[[_Api, _Query, str], tuple[list[tuple[Page, dict[str, Any]]], Continuation]]]
] = {"search": _Api.generator_search}
_PREFIXES: Final = {"info": "in", "extracts": "ex", "pageimages": "pi", "backlinks": "bl", "search": "sr"}
