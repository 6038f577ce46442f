"""A small client of the MediaWiki Action API: search with page info, pages by id, and backlinks.

It works on any MediaWiki, not only Wikimedia's: search puts the page a term names first even where the wiki's
default database search ranks nothing, and backlinks follow redirects as "What links here" does.

It follows the API etiquette (https://www.mediawiki.org/wiki/API:Etiquette): a descriptive User-Agent with a
contact, `formatversion=2`, `maxlag` on background work, `Retry-After` honoured on 429 and maxlag, a few
requests in flight at most, one session reused for its connection pool.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from opentelemetry.trace import Span, SpanKind

from functions import __version__, telemetry
from functions.errors import (
    WikiApiError,
    WikiBadResponse,
    WikiPageNotFound,
    WikiRateLimited,
    WikiUnavailable,
)

# TextExtracts serves at most 20 intro extracts per request, so a page of cards is at most 20 pages.
MAX_PAGES_PER_REQUEST = 20
THUMBNAIL_SIZE = 320
MAX_IN_FLIGHT = 4
# Values a multi-value parameter (pageids, titles) may carry from a client without the apihighlimits right.
MAX_IDS_PER_REQUEST = 50
# Keys of ours in a backlinks resume token, beside the wiki's continue parameters; never sent to the wiki.
_DIRECT_KEY = "wikiroam.direct"
_REDIRECTS_KEY = "wikiroam.redirects"
_TARGET_KEY = "wikiroam.target"
_GROUP_KEY = "wikiroam.group"
_NOT_FOUND_CODES = frozenset({"missingtitle", "nosuchpageid", "invalidtitle"})
_RETRY_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class WikiPage:
    """One article as the cards and the pages table need it."""

    pageid: int
    title: str
    extract: str
    url: str
    thumbnail: str | None
    lastrevid: int | None


@dataclass(frozen=True)
class Backlink:
    """A page that links to another."""

    pageid: int
    title: str


@dataclass(frozen=True)
class BacklinkBatch:
    """One response's worth of backlinks and the token that resumes after it (None at the end)."""

    backlinks: tuple[Backlink, ...]
    resume: Mapping[str, str] | None


@dataclass
class WikiStats:
    """What the client did, cheap to count: requests sent, retries and the reasons for them."""

    requests: int = 0
    retries: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def user_agent(contact: str) -> str:
    """The User-Agent the wiki's operators see: who we are, how to reach the operator, and our HTTP library."""
    return f"WikiRoam/{__version__} ({contact}) requests/{requests.__version__}"


class WikiClient:
    """Calls one wiki's api.php; raises `WikiError` subclasses instead of returning bad data."""

    def __init__(
        self,
        api_url: str,
        *,
        contact: str,
        timeout: float = 5.0,
        maxlag: int | None = None,
        max_retries: int = 3,
        max_retry_after: float = 10.0,
        backlinks_limit: int | str = "max",
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`maxlag` is for background work (the ETL sets 5); interactive search leaves it off."""
        self.api_url = api_url
        self.timeout = timeout
        self.maxlag = maxlag
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.backlinks_limit = backlinks_limit
        self.stats = WikiStats()
        self._sleep = sleep
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = user_agent(contact)
        self._session.headers["Accept"] = "application/json"
        self._in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        parts = urlsplit(api_url)
        self._server = (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))

    def search(self, term: str, *, limit: int = 10) -> list[WikiPage]:
        """The wiki's matches for `term` with extracts, thumbnails and URLs: the page the term names first.

        The page a term names (its title, a redirect to it, or the title in another case the wiki folds) comes
        first, then the wiki's other matches in its rank order, each once. MediaWiki's default database search
        ranks nothing (it answers in title order), so the named page is asked for beside the text search, as
        the wiki's "Go" button does it (`list=search&srwhat=nearmatch`); only when it is not among the text
        matches does a second request fetch it: at most two requests per search.
        """
        if not 1 <= limit <= MAX_PAGES_PER_REQUEST:
            raise ValueError(f"limit must be between 1 and {MAX_PAGES_PER_REQUEST}, not {limit}")
        data = self._query(
            "search",
            {
                "generator": "search",
                "gsrsearch": term,
                "gsrlimit": str(limit),
                "gsrnamespace": "0",
                "gsrwhat": "text",
                # The database backends list redirect pages among the matches: answer with their articles.
                "redirects": "1",
                "list": "search",
                "srsearch": term,
                "srwhat": "nearmatch",
                "srnamespace": "0",
                "srlimit": "1",
                "srprop": "",
                "srinfo": "",
                **self._page_props(limit),
            },
        )
        query = data.get("query", {})
        pages = (p for p in query.get("pages", []) if _is_article(p))
        ranked = [_page(p) for p in sorted(pages, key=lambda p: p.get("index", 0))]
        named = self._named_page(query, ranked)
        if named is None:
            return ranked
        return [named, *(p for p in ranked if p.pageid != named.pageid)][:limit]

    def _named_page(self, query: Mapping[str, Any], ranked: list[WikiPage]) -> WikiPage | None:
        """The article the near match names: among the text matches, or fetched (redirects resolved)."""
        # The near matcher ignores srnamespace: a term like "Category:Rivers" names a page outside the articles.
        near = next((hit for hit in query.get("search", []) if hit.get("ns") == 0 and hit.get("pageid")), None)
        if near is None:
            return None
        # Redirects among the text matches were resolved in this answer already; chains are followed to the end.
        hops = {str(r.get("from")): str(r.get("to")) for r in query.get("redirects", [])}
        title = str(near.get("title", ""))
        for _ in range(len(hops)):
            if title not in hops:
                break
            title = hops[title]
        found = next((p for p in ranked if p.title == title), None)
        if found is not None:
            return found
        data = self._query("search", {"pageids": str(near["pageid"]), "redirects": "1", **self._page_props(1)})
        return next((_page(p) for p in data.get("query", {}).get("pages", []) if _is_article(p)), None)

    def pages(self, pageids: Sequence[int]) -> dict[int, WikiPage]:
        """The pages with these ids, keyed by id; ids the wiki does not have are absent."""
        found: dict[int, WikiPage] = {}
        for start in range(0, len(pageids), MAX_PAGES_PER_REQUEST):
            chunk = pageids[start : start + MAX_PAGES_PER_REQUEST]
            data = self._query(
                "pages",
                {"pageids": "|".join(str(i) for i in chunk), "redirects": "1", **self._page_props(len(chunk))},
            )
            for raw in data.get("query", {}).get("pages", []):
                if not raw.get("missing") and not raw.get("invalid") and "pageid" in raw:
                    page = _page(raw)
                    found[page.pageid] = page
        return found

    def page(self, pageid: int) -> WikiPage:
        """One page by id, or `WikiPageNotFound`."""
        found = self.pages([pageid])
        if not found:
            raise WikiPageNotFound("nosuchpageid", f"There is no page with ID {pageid}.")
        # A redirect's id resolves to its target, so answer with whatever page the wiki resolved it to.
        return found.get(pageid) or next(iter(found.values()))

    def backlinks(self, pageid: int, *, resume: Mapping[str, str] | None = None) -> Iterator[BacklinkBatch]:
        """Every article linking to `pageid`, directly or through a redirect to it, each once; a batch a response.

        That is what the wiki's "What links here" shows (`list=backlinks&blredirect=1`): one level of redirects
        followed, redirect pages themselves left out. `blredirect` halves `bllimit=max` to 250; this keeps 500
        a request by listing the direct links (`list=backlinks`) beside the redirects to the page
        (`prop=redirects`), then beside the articles linking to those redirects, 50 redirects at a time
        (`generator=linkshere`), less the ones that also link to the page directly (`prop=links&pltitles=`),
        which the direct listing has. Each step sends its own module's continue parameters, so the two
        listings share requests: a page with redirects costs about as many requests as its longer listing.

        Each batch carries the token that resumes right after it, so a caller that stops (a timeout, a
        throttled write) can store the token and carry on later without refetching what it has.
        """
        state = _BacklinksState.from_token(resume or {})
        seen: set[int] = set()
        if state.group is not None and (state.group > 0 or state.through):
            # An article linking through two redirects counts once: rebuild what was listed before the stop.
            seen = self._replay_through(state, state.group)
        while not state.finished:
            data = self._query("backlinks", self._backlinks_params(pageid, state))
            query, wiki_continue = data.get("query", {}), _continue_of(data)
            links: list[Backlink] = []
            if state.direct is not None:
                links.extend(
                    Backlink(pageid=int(raw["pageid"]), title=str(raw["title"])) for raw in query.get("backlinks", [])
                )
                state.direct = _module_part(wiki_continue, "bl") or None
            if state.listing is not None:
                state.note_redirects(query, pageid, wiki_continue)
            elif state.group is not None:
                links.extend(_through_links(query, seen))
                state.note_through(wiki_continue)
            yield BacklinkBatch(backlinks=tuple(links), resume=None if state.finished else state.token())

    def _backlinks_params(self, pageid: int, state: _BacklinksState) -> dict[str, str]:
        """One request for every listing still going, each with its own module's continue parameters.

        The listings start and end at different times, so each request names only the modules still going
        instead of echoing the wiki's whole `continue` object, whose `continue` key only says which to skip.
        """
        params: dict[str, str] = {}
        if state.direct is not None:
            params.update(self._direct_params(pageid), **state.direct)
        if state.listing is not None:
            params.update(self._redirects_params(pageid), **state.listing)
        elif state.group is not None and state.group < len(state.groups()):
            params.update(self._through_params(state, state.group), **state.through)
        return params

    def _direct_params(self, pageid: int) -> dict[str, str]:
        return {
            "list": "backlinks",
            "blpageid": str(pageid),
            "blnamespace": "0",
            "blfilterredir": "nonredirects",
            "bllimit": str(self.backlinks_limit),
        }

    def _redirects_params(self, pageid: int) -> dict[str, str]:
        # The page itself comes back too: its title is what the links through redirects are checked against.
        return {"pageids": str(pageid), "prop": "redirects", "rdprop": "pageid", "rdnamespace": "0", "rdlimit": "max"}

    def _through_params(self, state: _BacklinksState, group: int) -> dict[str, str]:
        return {
            "generator": "linkshere",
            "pageids": "|".join(state.groups()[group]),
            "glhnamespace": "0",
            "glhshow": "!redirect",
            "glhlimit": str(self.backlinks_limit),
            # At most one link per page, so "max" never leaves links for a continuation.
            "prop": "links",
            "pltitles": state.title or "",
            "pllimit": "max",
        }

    def _replay_through(self, state: _BacklinksState, stopped_in: int) -> set[int]:
        """The articles listed through redirects before `state`, asked for again (the direct listing is not)."""
        seen: set[int] = set()
        for group in range(min(stopped_in + 1, len(state.groups()))):
            through: dict[str, str] = {}
            while group < stopped_in or through != state.through:
                data = self._query("backlinks", {**self._through_params(state, group), **through})
                _through_links(data.get("query", {}), seen)
                through = _module_part(_continue_of(data), "glh")
                if not through:
                    break
        return seen

    def _page_props(self, count: int) -> dict[str, str]:
        return {
            "prop": "extracts|pageimages|info",
            "exintro": "1",
            "explaintext": "1",
            "exlimit": str(count),
            "piprop": "thumbnail",
            "pithumbsize": str(THUMBNAIL_SIZE),
            "pilimit": str(count),
            "inprop": "url",
        }

    def _query(self, kind: str, params: Mapping[str, str]) -> dict[str, Any]:
        full = {"action": "query", "format": "json", "formatversion": "2", **params}
        if self.maxlag is not None:
            full["maxlag"] = str(self.maxlag)
        # One CLIENT span per logical request; the retries it took are events on it.
        with telemetry.tracer().start_as_current_span(
            "GET",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "GET",
                "server.address": self._server[0],
                "server.port": self._server[1],
                "url.full": self.api_url,
                "wikiroam.wiki.operation": kind,
                telemetry.OPERATION_NAME: telemetry.WIKI_OPERATION,
                "resource.name": f"wiki {kind}",
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                return self._query_with_retries(kind, full, span)
            except Exception as error:
                telemetry.record_error(error, span)
                raise

    def _query_with_retries(self, kind: str, full: dict[str, str], span: Span) -> dict[str, Any]:
        attempt = 0
        rate_limited = 0
        while True:
            attempt += 1
            outcome = self._attempt(kind, full, span)
            if isinstance(outcome, dict):
                return outcome
            reason, retry_after = outcome
            if reason in ("429", "maxlag"):
                # Counted by a span-based metric: the wiki asking us to slow down, even when a retry succeeds.
                rate_limited += 1
                span.set_attribute("wikiroam.wiki.rate_limited", rate_limited)
            if attempt > self.max_retries:
                error = WikiRateLimited if reason in ("429", "maxlag") else WikiUnavailable
                raise error(f"the wiki at {self.api_url} kept failing ({reason}) after {attempt} attempts")
            self.stats.retries += 1
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            span.set_attribute("http.request.resend_count", attempt)
            span.add_event("retry", {"wikiroam.retry.reason": reason, "wikiroam.retry.delay_s": delay})
            self._sleep(delay)

    def _attempt(self, kind: str, params: Mapping[str, str], span: Span) -> dict[str, Any] | tuple[str, float | None]:
        """One request: the JSON on success, or (reason, the wiki's Retry-After) when it is worth retrying."""
        self.stats.requests += 1
        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        try:
            with self._in_flight:
                response = self._session.get(self.api_url, params=params, timeout=self.timeout)
        except requests.Timeout:
            return "timeout", None
        except requests.ConnectionError:
            return "connection error", None
        # The last attempt's answer is the span's; a failure in the end is recorded by the caller.
        if span.is_recording():
            span.set_attribute("url.full", response.url)
            span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code == 429:
            return "429", self._retry_after(response)
        if response.status_code in _RETRY_STATUSES:
            return f"HTTP {response.status_code}", None
        if response.status_code != 200:
            raise WikiBadResponse(f"the wiki at {self.api_url} answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise WikiBadResponse(f"the wiki at {self.api_url} answered with something that is not JSON") from None
        if not isinstance(data, dict):
            raise WikiBadResponse(f"the wiki at {self.api_url} answered with JSON that is not an object")
        error = data.get("error")
        if isinstance(error, dict):
            code = str(error.get("code", "unknown"))
            if code == "maxlag":
                return "maxlag", self._retry_after(response)
            info = str(error.get("info", ""))
            raise (WikiPageNotFound if code in _NOT_FOUND_CODES else WikiApiError)(code, info)
        return data

    def _retry_after(self, response: requests.Response) -> float | None:
        raw = response.headers.get("Retry-After", "")
        try:
            seconds = float(raw)
        except ValueError:
            return None
        # A wiki asking for a long pause is better answered by failing now and retrying the whole step later.
        return min(max(seconds, 0.0), self.max_retry_after)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so retries from concurrent executions spread out."""
        ceiling = min(self.max_retry_after, 0.25 * 2 ** min(attempt - 1, 6))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not cryptography)


def _is_article(raw: Mapping[str, Any]) -> bool:
    """Whether a page of an answer is an existing article (namespace 0)."""
    return not raw.get("missing") and not raw.get("invalid") and "pageid" in raw and raw.get("ns", 0) == 0


def _continue_of(data: Mapping[str, Any]) -> dict[str, str]:
    """The answer's `continue` object as strings; empty at the end."""
    raw = data.get("continue")
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


@dataclass
class _BacklinksState:
    """How far `WikiClient.backlinks` got; `token()` and `from_token()` turn it into a resume token and back.

    A token holds the wiki's own continue parameters of each listing (`bl…`, `rd…`, `glh…`) and keys of ours
    (`wikiroam.…`). A token from before links through redirects were followed (`blcontinue` and `continue`)
    resumes the direct listing and lists the redirects from the start.
    """

    direct: dict[str, str] | None  # where the direct listing resumes; None once it is done
    listing: dict[str, str] | None  # where the listing of redirects resumes; None once it is done
    group: int | None  # the group of redirects whose links are being listed; None until they are known
    through: dict[str, str]  # where the current group's listing resumes
    title: str | None
    redirects: list[str]

    @classmethod
    def from_token(cls, token: Mapping[str, str]) -> _BacklinksState:
        group = token.get(_GROUP_KEY)
        return cls(
            direct=None if token.get(_DIRECT_KEY) == "done" else _module_part(token, "bl"),
            listing=None if group is not None else _module_part(token, "rd"),
            group=int(group) if group is not None else None,
            through=_module_part(token, "glh"),
            title=token.get(_TARGET_KEY),
            redirects=[r for r in token.get(_REDIRECTS_KEY, "").split("|") if r],
        )

    def note_redirects(self, query: Mapping[str, Any], pageid: int, wiki_continue: Mapping[str, str]) -> None:
        """Take the page's title and redirects from an answer to the listing of redirects."""
        for page in query.get("pages", []):
            if page.get("pageid") == pageid:
                self.title = self.title or str(page["title"])
                self.redirects.extend(str(int(r["pageid"])) for r in page.get("redirects", []))
        self.listing = _module_part(wiki_continue, "rd") or None
        if self.listing is None:
            self.group = 0
            if self.title is None:
                # The wiki did not name the page (it is gone): nothing to check links through redirects by.
                self.redirects.clear()

    def note_through(self, wiki_continue: Mapping[str, str]) -> None:
        """Move on after an answer to the listing of links through the current group of redirects."""
        self.through = _module_part(wiki_continue, "glh")
        if not self.through and self.group is not None:
            self.group += 1

    @property
    def finished(self) -> bool:
        """Nothing is left to list."""
        through_done = self.group is None or self.group >= len(self.groups())
        return self.direct is None and self.listing is None and through_done

    def groups(self) -> list[list[str]]:
        """The redirects in groups as large as one request may name."""
        return [self.redirects[i : i + MAX_IDS_PER_REQUEST] for i in range(0, len(self.redirects), MAX_IDS_PER_REQUEST)]

    def token(self) -> dict[str, str]:
        """The resume token for this state."""
        token = {**(self.direct or {}), **(self.listing or {}), **self.through}
        if self.direct is None:
            token[_DIRECT_KEY] = "done"
        if self.title is not None:
            token[_TARGET_KEY] = self.title
        if self.redirects:
            token[_REDIRECTS_KEY] = "|".join(self.redirects)
        if self.group is not None:
            token[_GROUP_KEY] = str(self.group)
        return token


def _through_links(query: Mapping[str, Any], seen: set[int]) -> list[Backlink]:
    """The articles of a `generator=linkshere` answer that link to the page only through its redirects, once."""
    links: list[Backlink] = []
    for raw in query.get("pages", []):
        # A page with `links` links to the page itself too: the direct listing has it.
        if not _is_article(raw) or raw.get("links") or int(raw["pageid"]) in seen:
            continue
        seen.add(int(raw["pageid"]))
        links.append(Backlink(pageid=int(raw["pageid"]), title=str(raw["title"])))
    return links


def _module_part(params: Mapping[str, str], prefix: str) -> dict[str, str]:
    """One module's continue parameters (`blcontinue`, `rdcontinue`, `glhcontinue`) out of a continue object."""
    return {k: v for k, v in params.items() if k.startswith(prefix) and k.endswith("continue")}


def _page(raw: Mapping[str, Any]) -> WikiPage:
    try:
        pageid = int(raw["pageid"])
        title = str(raw["title"])
    except (KeyError, TypeError, ValueError):
        raise WikiBadResponse(f"a page in the wiki's answer has no pageid or title: {dict(raw)!r:.200}") from None
    thumbnail = raw.get("thumbnail")
    lastrevid = raw.get("lastrevid")
    return WikiPage(
        pageid=pageid,
        title=title,
        extract=str(raw.get("extract") or ""),
        url=str(raw.get("fullurl") or raw.get("canonicalurl") or ""),
        thumbnail=str(thumbnail["source"]) if isinstance(thumbnail, dict) and "source" in thumbnail else None,
        lastrevid=int(lastrevid) if isinstance(lastrevid, int) else None,
    )
