"""The gap detector: sample cached pages, compare each one's backlink count with the wiki's own, mark the gaps.

One implementation for the scheduled gap-check function (`functions.handlers.gaps`) and `wikiroam gaps --direct`.
A page whose cached `backlinks_count` differs from the wiki's is marked `failed` with `caching_error`
`BacklinksGap` (only if it is still complete with the count read, `PageStore.mark_gap`), so its next view or
`wikiroam redrive` caches it again. Each compared page is one span; a marked gap's span carries
`wikiroam.cache.outcome=failed` and `wikiroam.cache.error=BacklinksGap`, which the span metric `pipeline.pages`
counts, so the cache-gaps monitor sees the gap when it is found, not only if re-caching it fails.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from functions import telemetry
from functions.caching import CACHE_ERROR, CACHE_OUTCOME
from functions.store import PageStore
from functions.wiki import WikiClient

GAP_ERROR = "BacklinksGap"
# Stop comparing while this much of the invocation's time is left: the last page's listing and mark must fit.
TIME_MARGIN_SECONDS = 15.0
# The span of one compared page, and the summary attributes on the invocation's span.
PAGE_SPAN_NAME = "gap-check page"
PAGES_COMPARED = "wikiroam.gap_check.pages_compared"
GAPS_FOUND = "wikiroam.gap_check.gaps_found"
GAPS_MARKED = "wikiroam.gap_check.gaps_marked"
NOT_CHECKED = "wikiroam.gap_check.not_checked"
WIKI_REQUESTS = "wikiroam.gap_check.wiki_requests"


@dataclass(frozen=True)
class GapCheck:
    """One sampled page: its cached count against the wiki's."""

    pageid: int
    title: str
    cached: int
    wiki: int | None
    marked: bool = False

    @property
    def gap(self) -> bool:
        """Whether the counts differ (None: not checked, the request budget or the time ran out)."""
        return self.wiki is not None and self.wiki != self.cached


@dataclass(frozen=True)
class GapReport:
    """What one gap check compared, found and marked, and the wiki requests it used."""

    checks: list[GapCheck] = field(default_factory=list)
    wiki_requests: int = 0
    dry_run: bool = False

    @property
    def compared(self) -> int:
        """Pages whose wiki count was read."""
        return sum(c.wiki is not None for c in self.checks)

    @property
    def gaps(self) -> list[GapCheck]:
        """The pages whose counts differ."""
        return [c for c in self.checks if c.gap]

    def summary(self) -> dict[str, int]:
        """The figures of the summary line and span attributes."""
        return {
            "pages_compared": self.compared,
            "gaps_found": len(self.gaps),
            "gaps_marked": sum(c.marked for c in self.checks),
            "not_checked": len(self.checks) - self.compared,
            "wiki_requests": self.wiki_requests,
        }

    def to_dict(self) -> dict[str, Any]:
        """The function's answer: the summary, and every compared page."""
        return {**self.summary(), "dry_run": self.dry_run, "checks": [asdict(c) for c in self.checks]}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> GapReport:
        """The report a gap-check function answered (`to_dict`)."""
        checks = [
            GapCheck(
                pageid=int(c["pageid"]),
                title=str(c["title"]),
                cached=int(c["cached"]),
                wiki=None if c["wiki"] is None else int(c["wiki"]),
                marked=bool(c["marked"]),
            )
            for c in document["checks"]
        ]
        return cls(checks, int(document["wiki_requests"]), bool(document.get("dry_run", False)))


def wiki_backlink_count(wiki: WikiClient, pageid: int, budget: int) -> int | None:
    """The wiki's own backlink count of a page, as the pipeline lists them; None when `budget` requests run out."""
    start = wiki.stats.requests
    count = 0
    for batch in wiki.backlinks(pageid):
        count += len(batch.backlinks)
        if batch.resume is None:
            return count
        if wiki.stats.requests - start >= budget:
            return None
    return count


def check_gaps(
    pages: PageStore,
    wiki: WikiClient,
    *,
    sample: int,
    max_requests: int,
    mark: bool,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    seconds_left: Callable[[], float] | None = None,
    on_page: Callable[[], None] | None = None,
    on_sampled: Callable[[int], None] | None = None,
) -> GapReport:
    """Compare `sample` complete pages with the wiki, within `max_requests` wiki requests; mark the gaps.

    `seconds_left` (the invocation's time) stops the comparisons early: pages left are "not checked".
    `on_sampled(count)` and `on_page()` report progress (the command line's progress bar).
    """
    complete = [record for record in pages.scan() if record.backlinks_status == "complete"]
    chosen = (rng or random.Random()).sample(complete, min(sample, len(complete)))  # noqa: S311 (a sample)
    if on_sampled is not None:
        on_sampled(len(chosen))
    start = wiki.stats.requests
    checks: list[GapCheck] = []
    for record in sorted(chosen, key=lambda r: r.pageid):
        left = max_requests - (wiki.stats.requests - start)
        if left <= 0 or (seconds_left is not None and seconds_left() < TIME_MARGIN_SECONDS):
            checks.append(GapCheck(record.pageid, record.title, record.backlinks_count, None))
        else:
            checks.append(
                _check_page(
                    pages,
                    wiki,
                    record.pageid,
                    title=record.title,
                    cached=record.backlinks_count,
                    budget=left,
                    mark=mark,
                    clock=clock,
                )
            )
        if on_page is not None:
            on_page()
    return GapReport(checks, wiki.stats.requests - start, dry_run=not mark)


def _check_page(
    pages: PageStore,
    wiki: WikiClient,
    pageid: int,
    *,
    title: str,
    cached: int,
    budget: int,
    mark: bool,
    clock: Callable[[], float],
) -> GapCheck:
    with telemetry.tracer().start_as_current_span(
        PAGE_SPAN_NAME,
        attributes={"wikiroam.page.id": pageid, "wikiroam.page.title": title, "wikiroam.backlinks.cached": cached},
    ) as span:
        found = wiki_backlink_count(wiki, pageid, budget)
        check = GapCheck(pageid, title, cached, found)
        if found is not None:
            span.set_attribute("wikiroam.backlinks.wiki", found)
        if check.gap and mark:
            check = GapCheck(pageid, title, cached, found, marked=pages.mark_gap(pageid, cached, GAP_ERROR, clock()))
            if check.marked:
                # Counted by the span metric `pipeline.pages{outcome:failed,error:BacklinksGap}` (monitor 14).
                span.set_attributes({CACHE_OUTCOME: "failed", CACHE_ERROR: GAP_ERROR})
        return check


def record_summary(report: GapReport) -> None:
    """The report's figures on the current span (the invocation's)."""
    figures = report.summary()
    telemetry.set_attributes(
        {
            PAGES_COMPARED: figures["pages_compared"],
            GAPS_FOUND: figures["gaps_found"],
            GAPS_MARKED: figures["gaps_marked"],
            NOT_CHECKED: figures["not_checked"],
            WIKI_REQUESTS: figures["wiki_requests"],
        }
    )
