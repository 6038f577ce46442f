"""A loopback HTTP server playing CloudFront + API Gateway: the site from its bucket, `/api/*` as payload v2 events."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.serving import LoopbackServer
from local.traces import trace_view_asset

Invoke = Callable[[str, dict[str, Any]], Mapping[str, Any]]


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


@dataclass(frozen=True)
class Route:
    """One deployed HTTP API route: `GET /api/pages/{pageid}` and the Lambda its integration invokes."""

    method: str
    path: str
    function_arn: str

    @property
    def key(self) -> str:
        """The route key, as API Gateway names it."""
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route serves the request, else None."""
        if self.method not in ("ANY", method):
            return None
        parts = []
        for segment in self.path.split("/"):
            name = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
            if name is None:
                parts.append(re.escape(segment))
            else:
                # `{name+}` is a greedy parameter: the rest of the path.
                parts.append(f"(?P<{name.group(1)}>{'.+' if name.group(2) else '[^/]+'})")
        found = re.fullmatch("/".join(parts), path)
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else None


@dataclass
class SiteOrigin:
    """What CloudFront serves: objects of the site bucket, and the response headers policy's headers."""

    read_object: Callable[[str], tuple[bytes, str] | None]
    headers: Mapping[str, str] = field(default_factory=dict)


LocalRoute = Callable[[str, Mapping[str, str]], tuple[int, Any]]
# A local view that changes the stack (POST): (rest of the path, request headers, body, client address).
LocalAction = Callable[[str, Mapping[str, str], bytes, str], tuple[int, Any]]


class Gateway:
    """A loopback HTTP server: `/api/*` to the deployed routes' Lambdas (payload v2), the rest from the site.

    It binds its port at once and answers 503 until `deployed()` hands it the routes and the site, so
    `GET /api/health` is 200 only once everything is deployed. `/api/local/*` are the local stack's own
    views (resources, monitoring, traces), answered by `local_routes`; a POST there goes to `local_actions`.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._routes: list[Route] = []
        self._invoke: Invoke | None = None
        self._site: SiteOrigin | None = None
        self._local_routes: dict[str, LocalRoute] = {}
        self._local_actions: dict[str, LocalAction] = {}
        self._http = LoopbackServer(self._handler_class(), name="wikiroam-gateway", host=host, port=port)
        self.requests = 0

    @property
    def url(self) -> str:
        """The gateway's base URL."""
        return self._http.url

    @property
    def ready(self) -> bool:
        """True once the deployment's routes are in place."""
        return self._invoke is not None

    def deployed(
        self,
        routes: list[Route],
        invoke: Invoke,
        site: SiteOrigin | None,
        local_routes: Mapping[str, LocalRoute],
        local_actions: Mapping[str, LocalAction] | None = None,
    ) -> None:
        """Start serving the deployment: its routes through `invoke(function_arn, event)`, and its site."""
        self._routes = sorted(routes, key=lambda r: (r.path.count("{"), -len(r.path)))
        self._site = site
        self._local_routes = dict(local_routes)
        self._local_actions = dict(local_actions or {})
        self._invoke = invoke

    def start(self) -> None:
        """Serve in a background thread."""
        self._http.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._http.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "WikiRoamLocalGateway"
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                gateway._serve(self)

            def do_HEAD(self) -> None:
                gateway._serve(self)

            def do_POST(self) -> None:
                gateway._serve(self)

            def do_PUT(self) -> None:
                gateway._serve(self)

            def do_DELETE(self) -> None:
                gateway._serve(self)

            # An HTTP API answers every method (a 404 JSON where no route has it), never http.server's 501 page.
            def do_PATCH(self) -> None:
                gateway._serve(self)

            def do_OPTIONS(self) -> None:
                gateway._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the functions' own logs say what happened."""

        return Handler

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        path = urlsplit(request.path).path
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length) if length else b""
        if path == "/api" or path.startswith("/api/"):
            if self._invoke is None:
                message = "WikiRoam is still deploying on this machine: retry in a few seconds"
                self._send_json(request, 503, {"error": {"code": "starting", "message": message}})
            elif path.startswith("/api/local/") and request.command == "POST":
                self._serve_local_action(request, path, body)
            elif path.startswith("/api/local/"):
                self._serve_local(request, path)
            else:
                self._serve_api(request, path, body)
        else:
            self._serve_static(request, path)

    def _serve_local(self, request: BaseHTTPRequestHandler, path: str) -> None:
        query = dict(parse_qsl(urlsplit(request.path).query))
        for prefix, route in sorted(self._local_routes.items(), key=lambda item: -len(item[0])):
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                status, payload = route(path[len(prefix) :].strip("/"), query)
                self._send_json(request, status, payload)
                return
        self._send_json(request, 404, {"error": {"code": "not_found", "message": f"no local view at {path}"}})

    def _serve_local_action(self, request: BaseHTTPRequestHandler, path: str, body: bytes) -> None:
        for prefix, action in sorted(self._local_actions.items(), key=lambda item: -len(item[0])):
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                rest = path[len(prefix) :].strip("/")
                status, payload = action(rest, dict(request.headers), body, request.client_address[0])
                self._send_json(request, status, payload)
                return
        message = f"{path} takes no POST"
        self._send_json(request, 405, {"error": {"code": "method_not_allowed", "message": message}})

    def _serve_api(self, request: BaseHTTPRequestHandler, path: str, body: bytes) -> None:
        assert self._invoke is not None
        for route in self._routes:
            parameters = route.match(request.command, path)
            if parameters is None:
                continue
            event = http_api_event(
                request.command, request.path, dict(request.headers), body, request.client_address[0]
            )
            event["routeKey"] = event["requestContext"]["routeKey"] = route.key
            if parameters:
                event["pathParameters"] = parameters
            try:
                response = self._invoke(route.function_arn, event)
            except IntegrationTimeout:
                # What an HTTP API answers when its integration outlasts the integration's timeout.
                self._send_json(request, 503, {"message": "Service Unavailable"})
                return
            except Exception as error:  # noqa: BLE001 (API Gateway answers 500 when the integration fails)
                self._send(request, 500, {"content-type": "application/json"}, _integration_error(error))
                return
            self._send_proxy_response(request, response)
            return
        # What an HTTP API answers for a request no route matches.
        self._send_json(request, 404, {"message": "Not Found"})

    def _send_proxy_response(self, request: BaseHTTPRequestHandler, response: Mapping[str, Any]) -> None:
        if "statusCode" not in response:
            # Payload v2: a result without statusCode is the body of a 200 JSON response.
            self._send_json(request, 200, response)
            return
        raw = response.get("body") or ""
        payload = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
        headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        headers.setdefault("content-type", "application/json")
        self._send(request, int(response["statusCode"]), headers, payload)

    def _serve_static(self, request: BaseHTTPRequestHandler, path: str) -> None:
        if self._site is None:
            message = b"WikiRoam is still deploying on this machine: reload in a few seconds\n"
            self._send(request, 503, {"content-type": "text/plain; charset=utf-8"}, message)
            return
        key = "index.html" if path in ("", "/") else unquote(path.lstrip("/"))
        # The trace view is the local stack's own page (`local/traceview/`), never deployed: not in the bucket.
        is_trace_view = path == "/traces" or path.startswith("/traces/")
        found = trace_view_asset(path) if is_trace_view else self._site.read_object(key)
        headers = dict(self._site.headers)
        if found is None:
            # The bucket is private: S3 answers CloudFront's signed request for a missing key with 403.
            self._send(request, 403, {**headers, "content-type": "text/plain; charset=utf-8"}, b"AccessDenied\n")
            return
        content, content_type = found
        self._send(request, 200, {**headers, "content-type": content_type}, content)

    def _send_json(self, request: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        self._send(request, status, {"content-type": "application/json"}, json.dumps(payload).encode())

    def _send(self, request: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], body: bytes) -> None:
        request.send_response(status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "")
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                request.send_header(name, value)
        request.send_header("content-length", str(len(body)))
        try:
            request.end_headers()
            if request.command != "HEAD":
                request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The reader left first (the UI aborts a search its next keystroke replaced): nobody to answer, and
            # nothing for `make dev`'s terminal; CloudFront drops such a response too.
            request.close_connection = True


def allow_images_from(headers: Mapping[str, str], origin: str) -> dict[str, str]:
    """The headers with `origin` added to the Content-Security-Policy's `img-src`.

    The site's policy allows images over https only (Wikipedia's thumbnails); the local sample wiki serves
    its thumbnails over plain http on loopback, so the local gateway names that one origin as well.
    """
    csp = headers.get("content-security-policy")
    if not csp:
        return dict(headers)
    directives = [d.strip() for d in csp.split(";") if d.strip()]
    for index, directive in enumerate(directives):
        if directive.split()[0] == "img-src":
            directives[index] = f"{directive} {origin}"
            break
    else:
        directives.append(f"img-src 'self' {origin}")
    return {**headers, "content-security-policy": "; ".join(directives)}


def security_headers(policy_inputs: Mapping[str, Any]) -> dict[str, str]:
    """The headers a CloudFront response headers policy (its Pulumi inputs) adds to every response."""
    config = policy_inputs.get("securityHeadersConfig") or {}
    headers: dict[str, str] = {}
    if csp := (config.get("contentSecurityPolicy") or {}).get("contentSecurityPolicy"):
        headers["content-security-policy"] = str(csp)
    if hsts := config.get("strictTransportSecurity"):
        value = f"max-age={int(hsts.get('accessControlMaxAgeSec', 0))}"
        if hsts.get("includeSubdomains"):
            value += "; includeSubDomains"
        if hsts.get("preload"):
            value += "; preload"
        headers["strict-transport-security"] = value
    if config.get("contentTypeOptions") is not None:
        headers["x-content-type-options"] = "nosniff"
    if referrer := (config.get("referrerPolicy") or {}).get("referrerPolicy"):
        headers["referrer-policy"] = str(referrer)
    if frame := (config.get("frameOptions") or {}).get("frameOption"):
        headers["x-frame-options"] = str(frame)
    for item in (policy_inputs.get("customHeadersConfig") or {}).get("items") or []:
        headers[str(item["header"]).lower()] = str(item["value"])
    return headers


class IntegrationTimeout(TimeoutError):
    """The route's function did not answer within the integration's timeout."""


def _integration_error(error: Exception) -> bytes:
    message = f"The api function failed: {type(error).__name__}: {error}"
    return json.dumps({"error": {"code": "integration_error", "message": message}}).encode()
