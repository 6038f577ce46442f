"""What a reader can ask: search, a page, the pages linking to it. Cache misses become cache requests."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.contract import CACHE_REQUEST_MARKER_SECONDS, CLAIM_LEASE_SECONDS
from functions.errors import WikiPageNotFound, WriteThrottled
from functions.messages import CacheRequest, PageRef, Reason
from functions.messaging import CacheRequestPublisher
from functions.store import LinkStore, PageRecord, PageStore
from functions.wiki import WikiClient, WikiPage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageService:
    """The api function's logic, with its collaborators injected."""

    wiki: WikiClient
    pages: PageStore
    links: LinkStore
    publisher: CacheRequestPublisher
    search_limit: int
    clock: Callable[[], float]

    def search(self, term: str) -> dict[str, Any]:
        """Search the wiki, say which results are cached, and request caching of the others."""
        found = self.wiki.search(term, limit=self.search_limit)
        records = self.pages.get_many([p.pageid for p in found]) if found else {}
        results = []
        for page in found:
            record = records.get(page.pageid)
            results.append({**_card(page), "cached": record is not None and record.cached})
        self._request_caching(
            [PageRef(p.pageid, p.title) for p in found if self._needs_caching(records.get(p.pageid))], "search"
        )
        return {"query": term, "results": results}

    def page(self, pageid: int) -> dict[str, Any] | None:
        """A page from the cache, or from the wiki with caching requested; None when the wiki has no such page."""
        record = self.pages.get(pageid)
        if record is not None and record.cached_at is not None:
            if self._needs_caching(record):
                # Its backlinks failed, or their execution stalled: ask again, the next run resumes them.
                self._request_caching([PageRef(record.pageid, record.title)], "page")
            return {
                "pageid": record.pageid,
                "title": record.title,
                "extract": record.extract,
                "url": record.url,
                "thumbnail": record.thumbnail,
                "cached_at": record.cached_at,
                "backlinks_status": record.backlinks_status,
                "backlinks_count": record.backlinks_count,
                "caching_error": record.caching_error,
            }
        try:
            page = self.wiki.page(pageid)
        except WikiPageNotFound:
            return None
        if self._needs_caching(record):
            self._request_caching([PageRef(page.pageid, page.title)], "page")
        # A page whose caching failed says so (and is requested again above); any other is on its way.
        failed = record is not None and record.backlinks_status == "failed"
        return {
            **_card(page),
            "cached_at": None,
            "backlinks_status": "failed" if failed else "pending",
            "backlinks_count": None,
            "caching_error": record.caching_error if failed and record is not None else None,
        }

    def backlinks(self, pageid: int, cursor: str | None, limit: int) -> dict[str, Any] | None:
        """One page of cached backlinks; None when the page is not in the cache at all."""
        record = self.pages.get(pageid)
        if record is None or record.awaiting_claim:
            # A page only requested (its marker, no claim yet) has no backlinks in the cache either.
            return None
        links, next_cursor = self.links.backlinks(pageid, cursor=cursor, limit=limit)
        return {
            "pageid": pageid,
            "backlinks": [{"pageid": link.fromid, "title": link.from_title} for link in links],
            "next_cursor": next_cursor,
            "backlinks_status": record.backlinks_status,
        }

    def _needs_caching(self, record: PageRecord | None) -> bool:
        if record is None:
            return True
        if record.cached:
            return False
        now = self.clock()
        if record.requested_since(now - CACHE_REQUEST_MARKER_SECONDS):
            # A request published moments ago has not reached its claim yet: asking again would only be wasted.
            return False
        # A live claim means an execution is at work on it; a stale one means it stalled and needs another.
        return record.claimed_at is None or record.claimed_at < now - CLAIM_LEASE_SECONDS

    def _request_caching(self, pages: list[PageRef], reason: Reason) -> None:
        """Publish one request for the pages whose `requested_at` marker this call could set.

        The marker is a conditional write, so of two readers polling the same page at once only one publishes.
        It is written before publishing: a publish that fails removes it again, and a request lost after SNS
        took it (the DLQ) ends the marker's life within `CACHE_REQUEST_MARKER_SECONDS`, then the page is asked
        for again. A marker that cannot be written (DynamoDB throttling) does not stop the request: a duplicate
        costs one claim check, a lost request a page never cached.
        """
        if not pages:
            return
        now = self.clock()
        marked: list[PageRef] = []
        unmarked: list[PageRef] = []
        for page in pages:
            try:
                if self.pages.mark_requested(page.pageid, page.title, now, CACHE_REQUEST_MARKER_SECONDS):
                    marked.append(page)
            except (BotoCoreError, ClientError, WriteThrottled):
                logger.warning("could not mark page %d as requested; requesting it anyway", page.pageid)
                unmarked.append(page)
        wanted = marked + unmarked
        if not wanted:
            return
        request = CacheRequest(pages=tuple(wanted), reason=reason)
        try:
            self.publisher.publish(request)
        except (BotoCoreError, ClientError):
            # The reader still gets the answer; the pages stay uncached and the next view asks again.
            logger.exception("could not publish a cache request for %d pages", len(wanted))
            for page in marked:
                try:
                    self.pages.clear_requested(page.pageid, now)
                except (BotoCoreError, ClientError, WriteThrottled):
                    logger.warning("could not clear page %d's request marker; it expires by itself", page.pageid)


def _card(page: WikiPage) -> dict[str, Any]:
    return {
        "pageid": page.pageid,
        "title": page.title,
        "extract": page.extract,
        "url": page.url,
        "thumbnail": page.thumbnail,
    }
