"""A loopback HTTP server playing CloudFront + API Gateway: `/api/*` becomes HTTP API (payload v2) events."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Invoke = Callable[[dict[str, Any]], Mapping[str, Any]]

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}


def http_api_event(method: str, target: str, headers: Mapping[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    """The event API Gateway's HTTP API (payload format 2.0) would hand the Lambda for this request."""
    parts = urlsplit(target)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query: dict[str, str] = {}
    for key, value in pairs:
        # HTTP API joins repeated query parameters with commas.
        query[key] = f"{query[key]},{value}" if key in query else value
    lowered = {k.lower(): v for k, v in headers.items()}
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": secrets.token_urlsafe(12),
            "routeKey": "$default",
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return event


class Gateway:
    """Serves `site_dir` at `/` and hands `/api/*` to `invoke` as payload v2 events."""

    def __init__(self, invoke: Invoke, *, site_dir: Path | None = None, host: str = "127.0.0.1", port: int = 0):
        self._invoke = invoke
        self._site_dir = site_dir
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The gateway's base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="wikiroam-gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "WikiRoamLocalGateway"

            def do_GET(self) -> None:
                gateway._serve(self)

            def do_HEAD(self) -> None:
                gateway._serve(self)

            def do_POST(self) -> None:
                gateway._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the functions' own logs say what happened."""

        return Handler

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        path = urlsplit(request.path).path
        if path == "/api" or path.startswith("/api/"):
            self._serve_api(request)
        else:
            self._serve_static(request, path)

    def _serve_api(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length) if length else b""
        event = http_api_event(request.command, request.path, dict(request.headers), body, request.client_address[0])
        try:
            response = self._invoke(event)
        except Exception as error:  # noqa: BLE001 (API Gateway answers 500 when the integration fails)
            self._send(request, 500, {"content-type": "application/json"}, _integration_error(error))
            return
        raw = response.get("body") or ""
        payload = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
        self._send(request, int(response.get("statusCode", 200)), response.get("headers") or {}, payload)

    def _serve_static(self, request: BaseHTTPRequestHandler, path: str) -> None:
        if self._site_dir is None:
            self._send(request, 404, {"content-type": "text/plain"}, b"no site is deployed yet\n")
            return
        relative = "index.html" if path in ("", "/") else path.lstrip("/")
        target = (self._site_dir / relative).resolve()
        if not target.is_relative_to(self._site_dir.resolve()) or not target.is_file():
            self._send(request, 404, {"content-type": "text/plain"}, b"not found\n")
            return
        content_type = _CONTENT_TYPES.get(target.suffix, "application/octet-stream")
        self._send(request, 200, {"content-type": content_type}, target.read_bytes())

    def _send(self, request: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], body: bytes) -> None:
        request.send_response(status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "")
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("content-length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)


def _integration_error(error: Exception) -> bytes:
    message = f"The api function failed: {type(error).__name__}: {error}"
    return json.dumps({"error": {"code": "integration_error", "message": message}}).encode()
