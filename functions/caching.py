"""The cache pipeline's steps: claim a page, cache its article data, cache every page that links to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions import telemetry
from functions.contract import CLAIM_LEASE_SECONDS, RETRY_MAX_ATTEMPTS, TRANSIENT_ERRORS
from functions.errors import BacklinksNotFinished, ClaimLost, WikiPageNotFound
from functions.messages import PageRef
from functions.store import PAGE_FORMAT, BacklinksStatus, LinkRecord, LinkStore, PageStore
from functions.wiki import WikiClient

# Stop fetching backlinks while this much of the invocation's time is left, so progress is saved cleanly.
TIME_MARGIN_SECONDS = 10.0


# Span attributes that span-based metrics count (dashboards/span_metrics/): how a page's caching ended, with the
# error's name when it failed for good, and the links an invocation wrote.
CACHE_OUTCOME = "wikiroam.cache.outcome"
CACHE_ERROR = "wikiroam.cache.error"
BACKLINKS_WRITTEN = "wikiroam.backlinks.written"


def is_final_failure(error: BaseException, retry_count: int) -> bool:
    """Whether Step Functions gives up on the state after this error (no Retry matches, or none is left)."""
    return type(error).__name__ not in TRANSIENT_ERRORS or retry_count >= RETRY_MAX_ATTEMPTS


@dataclass(frozen=True)
class CacheSteps:
    """The three steps, sharing the wiki client and the two tables."""

    wiki: WikiClient
    pages: PageStore
    links: LinkStore
    max_backlinks: int
    clock: Callable[[], float]

    def start(self, page: PageRef, owner: str) -> dict[str, Any]:
        """Claim the page for this execution, or say why there is nothing to do."""
        if self.pages.claim(page.pageid, page.title, owner, self.clock(), CLAIM_LEASE_SECONDS):
            return {"proceed": True, "reason": "claimed"}
        record = self.pages.get(page.pageid)
        reason = "cached" if record is not None and record.cached else "in_progress"
        return {"proceed": False, "reason": reason}

    def record_failure(self, page: PageRef, owner: str, error: BaseException) -> bool:
        """Mark the page failed with the error's name, so readers see it; False when this execution holds no claim."""
        try:
            self.pages.record_failure(page.pageid, owner, type(error).__name__, self.clock())
        except ClaimLost:
            # Failed before its claim (or after losing it): the page's state belongs to another execution.
            return False
        telemetry.set_attributes({CACHE_OUTCOME: "failed", CACHE_ERROR: type(error).__name__})
        return True

    def record_caught_failure(self, page: PageRef, owner: str, error: str) -> dict[str, Any]:
        """The Catch path: mark the page failed with `error` unless it is cached, another execution holds it, or
        the step already recorded its failure; the claim is released only when this execution holds it."""
        recorded = self.pages.record_caught_failure(page.pageid, page.title, owner, error, self.clock())
        if recorded:
            telemetry.set_attributes({CACHE_OUTCOME: "failed", CACHE_ERROR: error})
        return {"recorded": recorded, "error": error}

    def info(self, page: PageRef, owner: str) -> dict[str, Any]:
        """Fetch the article's text, thumbnail and URL and write them; a page gone from the wiki is released."""
        try:
            article = self.wiki.page(page.pageid)
        except WikiPageNotFound:
            self.pages.release(page.pageid, owner)
            return {"found": False}
        self.pages.save_info(
            pageid=page.pageid,
            owner=owner,
            title=article.title,
            extract=article.extract,
            url=article.url,
            thumbnail=article.thumbnail,
            lastrevid=article.lastrevid,
            cached_at=datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="seconds"),
        )
        return {"found": True, "title": article.title}

    def backlinks(self, page: PageRef, owner: str, seconds_left: Callable[[], float]) -> dict[str, Any]:
        """Cache every article linking to the page, saving progress after each batch so a retry resumes."""
        record = self.pages.get(page.pageid)
        # A resume point saved before the packed backlinks (no format marker) is ignored: start over.
        resume = record.backlinks_resume if record is not None and record.page_format == PAGE_FORMAT else None
        count = record.backlinks_count if record is not None and resume is not None else 0
        requests_before = self.wiki.stats.requests
        written = 0
        for batch in self.wiki.backlinks(page.pageid, resume=resume):
            # The links not cached before: a batch retried after a crash mid-write adds only what it had not.
            added = self.links.put_many(
                LinkRecord(fromid=b.pageid, from_title=b.title, toid=page.pageid) for b in batch.backlinks
            )
            count += added
            written += added
            # This invocation's links so far, on its span: a span-based metric sums them (a cut-short run too).
            telemetry.set_attributes({BACKLINKS_WRITTEN: written})
            status: BacklinksStatus
            if batch.resume is None:
                status = "complete"
            elif count >= self.max_backlinks:
                status = "partial"
            else:
                status = "pending"
            if status != "pending":
                # Counted where they are served: exact even when an attempt cut short wrote links it never recorded.
                count = self.links.count(page.pageid)
            self.pages.save_backlinks_progress(
                pageid=page.pageid, owner=owner, count=count, status=status, resume=batch.resume
            )
            if status != "pending":
                telemetry.set_attributes({CACHE_OUTCOME: status})
                return {"status": status, "count": count, "wiki_requests": self.wiki.stats.requests - requests_before}
            if seconds_left() < TIME_MARGIN_SECONDS:
                raise BacklinksNotFinished(f"page {page.pageid}: {count} backlinks cached so far; a retry resumes")
        raise AssertionError("the wiki's backlinks ended without a final batch")  # pragma: no cover
