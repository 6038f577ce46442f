"""The sample wiki's HTTP side: `SampleWiki` serves api.php, articles and images on loopback, with faults on demand.

Faults (HTTP 429 or 5xx, maxlag, slow answers, dropped connections, API errors) are armed through
`SampleWiki.faults`, and every request is recorded in `SampleWiki.requests` for tests to inspect. The server
is the local stack's `LoopbackServer`, like the gateway's and the OTLP receiver's.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from local.samplewiki.api import HELP_TEXT, SERVED_BY, Api
from local.samplewiki.corpus import DEFAULT_SEED, Corpus
from local.samplewiki.faults import Fault, Faults, RecordedRequest, value_matches
from local.samplewiki.generator import build_corpus
from local.samplewiki.pages import article_page, home_page, image_file, index_page
from local.samplewiki.params import INTEGER, KNOWN_ERROR_INFO, ApiError
from local.samplewiki.replies import Reply, html_reply, json_reply
from local.samplewiki.site import SEARCH_BACKEND_VARIABLE, SearchBackend, Site, search_backend
from local.samplewiki.titles import url_title
from local.serving import LoopbackServer, require_loopback

__all__ = ["SEARCH_BACKEND_VARIABLE", "SampleWiki", "SearchBackend", "search_backend"]

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
# A fault reply meaning "answer normally after all" (a slow answer whose delay ran out).
_PROCEED: Final = Reply(0, b"")


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
        fault_chance: Callable[[str], bool] | None = None,
    ) -> None:
        """Serve `corpus` (default: `build_corpus(seed)`) on `host`, which must be a loopback address.

        `search` is the search backend to play, "cirrus" or "database"; by default `WIKIROAM_SAMPLEWIKI_SEARCH`
        names it, else "cirrus". `fault_chance(name)` draws the faults by rate (`Faults.chance`).
        """
        require_loopback(host, name="the sample wiki")
        self.corpus = corpus if corpus is not None else build_corpus(seed)
        self.host = host
        self._search_backend = search_backend(search if search is not None else os.environ.get(SEARCH_BACKEND_VARIABLE))
        self.faults = Faults(fault_chance)
        self.verbose = verbose
        self._requested_port = port
        self._http: LoopbackServer | None = None
        self._site: Site | None = None
        self._stopping = threading.Event()
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()

    @property
    def search_backend(self) -> SearchBackend:
        """The search backend the wiki plays: "cirrus" (relevance) or "database" (title order)."""
        return self._search_backend

    @search_backend.setter
    def search_backend(self, value: str) -> None:
        self._search_backend = search_backend(value)
        if self._site is not None:
            self._site.search_backend = self._search_backend

    # lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> SampleWiki:
        """Start serving in a background thread; returns self."""
        if self._http is not None:
            raise RuntimeError("the sample wiki is already running")
        http = LoopbackServer(_handler_for(self), name="samplewiki", host=self.host, port=self._requested_port)
        # Slow answers wait on this server's stop, so stop() never waits for one to finish.
        self._stopping = http.stopping
        self._site = Site(self.corpus, http.url, self._search_backend)
        self._http = http
        http.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake slow answers, drop open connections, free the port. Safe to call twice."""
        http = self._http
        if http is None:
            return
        http.stop()
        self._http = self._site = None

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
        return self._http is not None

    # addresses ----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port in use (the requested one before `start`)."""
        return self._http.port if self._http is not None else self._requested_port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, the prefix of every URL the wiki hands out."""
        return self._http.url if self._http is not None else f"http://{self.host}:{self.port}"

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
                and all(k in r.params and value_matches(r.params[k], str(v)) for k, v in params_filter.items())
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

    # answers --------------------------------------------------------------------------------------------

    def _answer(self, path: str, params: dict[str, str], record: RecordedRequest) -> Reply | None:
        """The answer to a request, or None to drop the connection without one."""
        if path == "/w/api.php":
            return self._serve_api(params, record)
        if path == "/w/index.php":
            return index_page(self._require_site(), params)
        if path.startswith("/wiki/"):
            return article_page(self._require_site(), unquote(path.removeprefix("/wiki/")))
        if path.startswith("/images/"):
            return image_file(self._require_site(), path)
        if path == "/":
            return home_page(self._require_site())
        return html_reply(404, "Not found", "<h1>Not found</h1>")

    def _serve_api(self, params: dict[str, str], record: RecordedRequest) -> Reply | None:
        api = Api(self._require_site())
        if not params:
            # A browser opening api.php bare gets a readable page rather than an error.
            return html_reply(200, "API", f"<h1>WikiRoam sample wiki API</h1><pre>{html.escape(HELP_TEXT)}</pre>")
        fault = self.faults.take(params)
        cors = _CORS_HEADERS if params.get("origin") == "*" else {}
        if fault is not None:
            record.fault = fault.kind
            reply = self._fault_reply(api, fault, params)
            if reply is not _PROCEED:
                return reply
        body, headers = api.handle(params)
        return json_reply(body, {**headers, **cors})

    def _fault_reply(self, api: Api, fault: Fault, params: Mapping[str, str]) -> Reply | None:
        if fault.kind == "timeout":
            # Wait on the stop event, so stop() never waits for a slow answer to finish.
            return None if self._stopping.wait(fault.delay) else _PROCEED
        if fault.kind == "disconnect":
            return None
        if fault.kind == "maxlag":
            raw = params.get("maxlag", "")
            maxlag = int(raw) if INTEGER.fullmatch(raw) else None
            error = api.maxlag_error(fault.lag, maxlag, fault.retry_after)
            return json_reply(api.error_body(error), {"MediaWiki-API-Error": "maxlag", **error.headers})
        if fault.kind.startswith("error:"):
            code = fault.kind.removeprefix("error:")
            info = fault.info or KNOWN_ERROR_INFO.get(code, f"The sample wiki was told to fail with {code}.")
            return json_reply(api.error_body(ApiError(code, info)), {"MediaWiki-API-Error": code})
        status = int(fault.kind)
        headers = {}
        retry_after = fault.retry_after if fault.retry_after is not None else (1 if status == 429 else None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        text = fault.info or _STATUS_TEXT.get(status, "The server could not answer this request.")
        reply = html_reply(status, f"Error {status}", f"<h1>Error {status}</h1><p>{html.escape(text)}</p>")
        reply.headers.update(headers)
        return reply

    def _require_site(self) -> Site:
        if self._site is None:
            raise RuntimeError("the sample wiki is not running")
        return self._site


class _Handler(BaseHTTPRequestHandler):
    """Parses one HTTP request, records it, and writes the sample wiki's answer."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle and delayed ACKs add 40 ms per request.
    disable_nagle_algorithm = True
    server_version = "SampleWiki/1.0"
    sys_version = ""
    timeout = 30
    wiki: SampleWiki  # set by `_handler_for`

    def do_GET(self) -> None:
        """Answer a GET."""
        self._handle("GET", b"")

    def do_POST(self) -> None:
        """Answer a POST, its form parameters merged into the query string's, as PHP does."""
        length = int(self.headers.get("Content-Length") or 0)
        self._handle("POST", self.rfile.read(length) if length > 0 else b"")

    def log_message(self, format: str, *args: Any) -> None:
        """Log a request only when the wiki is verbose."""
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
            reply = self.wiki._answer(split.path, params, record)
        except Exception as error:  # noqa: BLE001 (a bug must still produce an answer, shaped like MediaWiki's)
            body_json = {
                "error": {
                    "code": f"internal_api_error_{type(error).__name__}",
                    "info": f"[{SERVED_BY}] Exception caught: {error}",
                    "errorclass": type(error).__name__,
                },
                "servedby": SERVED_BY,
            }
            reply = json_reply(body_json, status=500)
        if reply is None:
            self.close_connection = True
            return
        record.status = reply.status
        self._write(reply)

    def _write(self, reply: Reply) -> None:
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


def _handler_for(wiki: SampleWiki) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.wiki = wiki
    return Handler


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
