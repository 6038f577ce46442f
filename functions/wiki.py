"""A small client of the MediaWiki Action API: search with page info, pages by id, and backlinks.

It works on any MediaWiki, not only Wikimedia's: search puts the page a term names first even where the wiki's
default database search ranks nothing, and backlinks follow redirects as "What links here" does.

It follows the API etiquette (https://www.mediawiki.org/wiki/API:Etiquette): a descriptive User-Agent with a
contact, `formatversion=2`, `maxlag` on background work, `Retry-After` honoured on 429 and maxlag (other retries
back off with full jitter, `functions.backoff`), a few requests in flight at most, one session reused for its
connection pool. The backlinks listing lives in `functions.wiki_backlinks`.
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
from functions.backoff import Uniform, full_jitter, retry_after_seconds
from functions.errors import (
    WikiApiError,
    WikiBadResponse,
    WikiPageNotFound,
    WikiRateLimited,
    WikiUnavailable,
)
from functions.wiki_backlinks import MAX_IDS_PER_REQUEST, Backlink, BacklinkBatch, BacklinksListing, is_article

__all__ = [
    "MAX_IDS_PER_REQUEST",
    "MAX_IN_FLIGHT",
    "MAX_PAGES_PER_REQUEST",
    "RETRY_BASE_SECONDS",
    "THUMBNAIL_SIZE",
    "Backlink",
    "BacklinkBatch",
    "WikiClient",
    "WikiPage",
    "WikiStats",
    "user_agent",
]

# TextExtracts serves at most 20 intro extracts per request, so a page of cards is at most 20 pages.
MAX_PAGES_PER_REQUEST = 20
THUMBNAIL_SIZE = 320
MAX_IN_FLIGHT = 4
# Retries the wiki gives no Retry-After for wait a full-jitter delay from this base, capped at max_retry_after.
RETRY_BASE_SECONDS = 0.25
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


@dataclass
class WikiStats:
    """What the client did, cheap to count: requests sent, retries and the reasons for them."""

    requests: int = 0
    retries: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def user_agent(contact: str) -> str:
    """The User-Agent the wiki's operators see: who we are, how to reach the operator, and our HTTP library."""
    return f"WikiRoam/{__version__} ({contact}) requests/{requests.__version__}"


# Background work (the cache steps, the gap check) sends `maxlag`, so it is the first to back off when the wiki's
# replicas lag (API etiquette); a reader's search does not.
BACKGROUND_MAXLAG_SECONDS = 5


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
        jitter: Uniform = random.uniform,
    ) -> None:
        """`maxlag` is for background work (the ETL sets 5); interactive search leaves it off.

        `sleep` and `jitter` (the uniform draw of the backoff) are seams for tests.
        """
        self.api_url = api_url
        self.timeout = timeout
        self.maxlag = maxlag
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.backlinks_limit = backlinks_limit
        self.stats = WikiStats()
        self._sleep = sleep
        self._jitter = jitter
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
        pages = (p for p in query.get("pages", []) if is_article(p))
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
        return next((_page(p) for p in data.get("query", {}).get("pages", []) if is_article(p)), None)

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
        return BacklinksListing(self._query, limit=self.backlinks_limit).batches(pageid, resume)

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
            delay = (
                retry_after
                if retry_after is not None
                else full_jitter(attempt, base=RETRY_BASE_SECONDS, cap=self.max_retry_after, uniform=self._jitter)
            )
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
        # A wiki asking for a long pause is better answered by failing now and retrying the whole step later.
        return retry_after_seconds(response.headers.get("Retry-After"), cap=self.max_retry_after)


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


def background_client(api_url: str, *, contact: str, timeout: float) -> WikiClient:
    """The wiki client of background work: `maxlag` at `BACKGROUND_MAXLAG_SECONDS`, the default retries."""
    return WikiClient(api_url, contact=contact, timeout=timeout, maxlag=BACKGROUND_MAXLAG_SECONDS)
