"""Browser test support: Debian's Chromium under Playwright, and a page that records what the tests check."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, Dialog, Page, Playwright, Request

ROOT = Path(__file__).resolve().parents[2]
SITE_DIR = ROOT / "site"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Headless, and nothing that phones home: the tests run offline.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "install Debian's chromium (scripts/install-system-deps); never `playwright install`"

logger = logging.getLogger(__name__)


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, driven by Playwright; a clear error when it is missing."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: {INSTALL_HINT}")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def site_bytes(site_dir: Path = SITE_DIR) -> dict[str, int]:
    """The page weight that counts: HTML, JS and CSS of the site, uncompressed, per file."""
    return {
        path.name: path.stat().st_size
        for path in sorted(site_dir.iterdir())
        if path.is_file() and path.suffix in (".html", ".js", ".css")
    }


_INSTRUMENTATION = """
window.__wikiroam = { csp: [], titles: [], apiCalls: [] };
document.addEventListener("securitypolicyviolation", (e) => {
  window.__wikiroam.csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
new MutationObserver((mutations) => {
  for (const m of mutations) for (const node of m.addedNodes) {
    if (node.nodeType !== 1) continue;
    const found = node.matches(".card-title") ? [node] : [...node.querySelectorAll(".card-title")];
    for (const title of found) window.__wikiroam.titles.push(title.textContent);
  }
}).observe(document, { childList: true, subtree: true });
const originalFetch = window.fetch;
window.fetch = function (input, init) {
  window.__wikiroam.apiCalls.push({ url: String(input), at: Date.now() });
  return originalFetch.call(this, input, init);
};
"""


class BrowserPage:
    """One browser page on the site, recording what a test asserts on: API requests, dialogs, CSP reports."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.api_requests: list[Request] = []
        self.finished: list[Request] = []
        self.failed: list[Request] = []
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        page.add_init_script(script=_INSTRUMENTATION)
        page.on("request", self._on_request)
        page.on("requestfinished", lambda r: self._is_api(r) and self.finished.append(r))
        page.on("requestfailed", lambda r: self._is_api(r) and self.failed.append(r))
        page.on("dialog", self._on_dialog)
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

    def _is_api(self, request: Request) -> bool:
        return urlsplit(request.url).path.startswith("/api/") and not request.url.endswith("/api/local/traces")

    def _on_request(self, request: Request) -> None:
        if self._is_api(request):
            self.api_requests.append(request)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def goto(self, path: str = "/") -> None:
        """Open a URL of the site and wait for its script to be ready."""
        self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("load")

    def searches(self) -> list[str]:
        """The `q` of every `/api/search` request sent so far, in order."""
        return [
            parse_qs(urlsplit(r.url).query)["q"][0] for r in self.api_requests if urlsplit(r.url).path == "/api/search"
        ]

    def polls(self) -> list[Request]:
        """Every `GET /api/pages/{id}` request (a page view or a cache status poll)."""
        return [r for r in self.api_requests if re.fullmatch(r"/api/pages/\d+", urlsplit(r.url).path)]

    def csp_violations(self) -> list[str]:
        """CSP violations reported by the page's event and by the console."""
        reported = self.page.evaluate("window.__wikiroam ? window.__wikiroam.csp : []")
        console = [text for text in self.console_errors if "Content Security Policy" in text]
        return [*reported, *console]

    def titles_ever_shown(self) -> list[str]:
        """Every card title drawn since the page loaded, including ones replaced since."""
        return list(self.page.evaluate("window.__wikiroam.titles"))

    def api_call_times(self, path: str) -> list[int]:
        """The page clock's time (ms) at each fetch of exactly this API path."""
        calls = self.page.evaluate("window.__wikiroam.apiCalls")
        return [c["at"] for c in calls if urlsplit(c["url"]).path == path]

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
        """Let the browser work until `condition` holds; Playwright delivers its events while it waits."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            self.page.wait_for_timeout(20)
