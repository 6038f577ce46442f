"""P5: API requests per typed term (target 1) and the site's page weight (target <= 50 KB).

Chromium (Debian's, under Playwright) types a few terms into the search box key by key, at realistic speeds
with some jitter, each in a fresh page; every `/api/search` request is counted. Side by side: the keystrokes,
which is what a search per keystroke (no pause detection) would send, and how long after the last key the
results were drawn (the 300 ms pause plus the API's answer), timed inside the page. Cache status polls
(`/api/pages/...`) are not searches and are left out.

    .venv/bin/python -m bench.ui_requests                       # starts a throwaway local WikiRoam
    .venv/bin/python -m bench.ui_requests --url http://127.0.0.1:8000   # or measure a running `make dev`
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, Request, sync_playwright

from bench.local_stack import local_wikiroam, progress
from bench.table import DEFAULT_OUT, Row, write_json
from tests.e2e.browser_support import launch_chromium, site_bytes

PAGE_WEIGHT_TARGET = 50 * 1024
# (term, mean milliseconds per key): a fast typist is around 80-120 ms per key, a careful one 150-200.
TERMS = [
    ("river", 120),
    ("seasonal valley", 80),
    ("glacial river", 150),
    ("script injection", 100),
    ("meandering river", 180),
]
# Per-key jitter: +-25 % around the mean, clipped so no single gap is a deliberate pause.
JITTER = 0.25


@dataclass(frozen=True)
class Typed:
    """One term typed into a fresh page."""

    term: str
    mean_ms: int
    keys: int
    searches: list[str]
    results_ms: float

    @property
    def requests(self) -> int:
        return len(self.searches)


def type_term(browser: Browser, url: str, term: str, mean_ms: int, rng: random.Random) -> Typed:
    """Type `term` like a person would and count the searches the page sends until its results are drawn."""
    page = browser.new_context().new_page()
    searches: list[str] = []

    def on_request(request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.path == "/api/search":
            searches.append(parse_qs(parts.query)["q"][0])

    page.on("request", on_request)
    try:
        page.goto(url)
        # Timed inside the page: when the last key went down, and when the status first named the results.
        page.evaluate(
            """(term) => {
                const status = document.getElementById("status");
                const box = document.getElementById("q");
                box.addEventListener("keydown", () => { window.__lastKey = performance.now(); });
                new MutationObserver(() => {
                    if (window.__drawn === undefined && status.textContent.includes(`\u201c${term}\u201d.`)) {
                        window.__drawn = performance.now();
                    }
                }).observe(status, { childList: true, characterData: true, subtree: true });
            }""",
            term,
        )
        page.locator("#q").focus()
        for index, key in enumerate(term):
            if index:
                page.wait_for_timeout(mean_ms * min(1 + JITTER, max(1 - JITTER, rng.gauss(1, JITTER / 2))))
            page.keyboard.type(key)
        page.wait_for_function("() => window.__drawn !== undefined")
        results_ms = page.evaluate("() => window.__drawn - window.__lastKey")
    finally:
        page.context.close()
    return Typed(term=term, mean_ms=mean_ms, keys=len(term), searches=searches, results_ms=results_ms)


@contextmanager
def wikiroam(url: str | None) -> Iterator[str]:
    """The URL to measure: the one given, or a throwaway `python -m local`'s.

    The local WikiRoam runs in a process of its own, as `make dev` does: in this one, its work (the pipeline
    caching the previous term's pages) would hold the interpreter between the keystrokes Playwright sends from
    here, and a gap of more than the UI's 300 ms debounce is a pause the reader never made.
    """
    if url:
        yield url.rstrip("/")
        return
    with local_wikiroam() as started:
        yield started


def measure(url: str, seed: int = 5, terms: Sequence[tuple[str, int]] = TERMS) -> dict[str, Any]:
    """Type each term into the site at `url`; the searches each sent, and the site's page weight."""
    rng = random.Random(seed)  # jitter, not secrets
    typed = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for done, (term, mean_ms) in enumerate(terms):
                progress("P5 typing terms", done, len(terms))
                typed.append(type_term(browser, url, term, mean_ms, rng))
            progress("P5 typing terms", len(terms), len(terms))
        finally:
            browser.close()
    return {"typed": [asdict(t) for t in typed], "page_weight": site_bytes()}


def row(results: dict[str, Any]) -> Row:
    """The P5 line of the table."""
    typed = [Typed(**t) for t in results["typed"]]
    keys = sum(t.keys for t in typed)
    sent = sum(t.requests for t in typed)
    weight = sum(results["page_weight"].values())
    per_term = sent / len(typed)
    return Row(
        id="P5",
        measure="UI: /api/search requests per typed term; page weight",
        ours=f"{per_term:.2f} per term; {weight / 1024:.1f} KB",
        comparison=f"a search per keystroke: {keys / len(typed):.1f} per term",
        ratio=f"{keys / max(sent, 1):.1f}x fewer",
        target=f"1 per term; <= {PAGE_WEIGHT_TARGET // 1024} KB",
        met=per_term <= 1 and weight <= PAGE_WEIGHT_TARGET,
    )


def report(results: dict[str, Any]) -> str:
    """The detail tables."""
    typed = [Typed(**t) for t in results["typed"]]
    lines = ["P5a: /api/search requests per typed term (target 1)"]
    lines.append(
        f"{'term':<18} {'ms/key':>6} {'keys':>5} {'searches':>8} {'per key':>8} {'results after last key':>23}"
    )
    for t in typed:
        lines.append(
            f"{t.term:<18} {t.mean_ms:>6} {t.keys:>5} {t.requests:>8} {t.requests / t.keys:>8.2f}"
            f" {t.results_ms:>20.0f} ms"
        )
    total_keys = sum(t.keys for t in typed)
    total_requests = sum(t.requests for t in typed)
    lines.append(
        f"{'all terms':<18} {'':>6} {total_keys:>5} {total_requests:>8} {total_requests / total_keys:>8.2f}"
        f"   -> {total_requests / len(typed):.2f} requests per term; a search per keystroke would send"
        f" {total_keys} ({total_keys / max(total_requests, 1):.1f}x)"
    )
    lines += [f"  {t.term!r} sent {t.searches}" for t in typed if t.searches != [t.term]]
    lines.append("\nP5b: page weight of site/ (HTML + JS + CSS, uncompressed; target <= 50 KB)")
    weights = results["page_weight"]
    lines += [f"{name:<18} {size:>8,} B" for name, size in weights.items()]
    total = sum(weights.values())
    lines.append(
        f"{'total':<18} {total:>8,} B   {total / 1024:.1f} KB = {total / PAGE_WEIGHT_TARGET:.0%} of the 50 KB budget"
    )
    return "\n".join(lines)


def main() -> None:
    """Measure (a throwaway local WikiRoam, or `--url`) and print the detail."""
    parser = argparse.ArgumentParser(prog="python -m bench.ui_requests", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running WikiRoam (default: start a throwaway local one)")
    parser.add_argument("--seed", type=int, default=5, help="seed of the typing jitter")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with wikiroam(args.url) as url:
        results = measure(url, args.seed)
    print(report(results))
    write_json(args.out, "P5-ui-requests", results, quick=False)


if __name__ == "__main__":
    main()
