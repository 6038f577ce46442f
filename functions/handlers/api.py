"""The HTTP API: API Gateway HTTP API (payload v2) events in, JSON responses out."""

from __future__ import annotations

import json
import logging
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from functions import telemetry
from functions.clients import READER, aws_client
from functions.contract import API_ROUTES
from functions.errors import ReadThrottled, WikiError, WikiUnavailable, WriteThrottled
from functions.handlers import SandboxApp
from functions.messaging import CacheRequestPublisher
from functions.pages import PageService
from functions.settings import api_settings
from functions.store import InvalidCursor, LinkStore, PageStore
from functions.wiki import WikiClient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient

logger = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 300
DEFAULT_BACKLINKS_LIMIT = 50
MAX_BACKLINKS_LIMIT = 200
# Page ids are JSON numbers in the browser, so keep them where a double is still exact.
MAX_PAGEID = 2**53 - 1

Response = dict[str, Any]
LambdaHandler = Callable[[Mapping[str, Any], Any], Response]


@dataclass(frozen=True)
class ApiError(Exception):
    """An error the client should see, as `{"error": {"code", "message"}}` with an HTTP status."""

    status: int
    code: str
    message: str


def json_response(status: int, body: Mapping[str, Any]) -> Response:
    """An HTTP API proxy response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json; charset=utf-8", "cache-control": "no-store"},
        "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    }


def error_response(error: ApiError) -> Response:
    """The JSON error body every failure uses."""
    return json_response(error.status, {"error": {"code": error.code, "message": error.message}})


def parse_query(raw: str | None) -> str:
    """The search term, trimmed and with whitespace runs collapsed; `ApiError` 400 when it is unusable."""
    if raw is None or not raw.strip():
        raise ApiError(400, "missing_query", "Add a search term: /api/search?q=<term>.")
    if any(unicodedata.category(c) == "Cc" and not c.isspace() for c in raw):
        raise ApiError(400, "invalid_query", "The search term contains control characters; remove them.")
    term = " ".join(raw.split())
    if len(term) > MAX_QUERY_LENGTH:
        raise ApiError(400, "query_too_long", f"The search term is over {MAX_QUERY_LENGTH} characters; shorten it.")
    return term


def parse_pageid(raw: str | None) -> int:
    """A page id from the path; `ApiError` 400 when it is not a positive integer."""
    if raw is None or not raw.isascii() or not raw.isdigit() or int(raw) <= 0 or int(raw) > MAX_PAGEID:
        raise ApiError(400, "invalid_pageid", f"Page ids are positive integers; {raw!r:.40} is not one.")
    return int(raw)


def parse_limit(raw: str | None) -> int:
    """The backlinks page size; `ApiError` 400 when it is out of range."""
    if raw is None:
        return DEFAULT_BACKLINKS_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_BACKLINKS_LIMIT:
        raise ApiError(400, "invalid_limit", f"limit must be an integer from 1 to {MAX_BACKLINKS_LIMIT}.")
    return int(raw)


class ApiHandler:
    """Routes HTTP API events to the page service, by the event's route key (`functions.contract.API_ROUTES`)."""

    def __init__(self, pages: PageService) -> None:
        self._service = pages
        self._routes: dict[str, Callable[[Mapping[str, str], Mapping[str, str]], Response]] = {
            API_ROUTES["health"]: self._health,
            API_ROUTES["search"]: self._search,
            API_ROUTES["page"]: self._page,
            API_ROUTES["backlinks"]: self._backlinks,
        }

    def __call__(self, event: Mapping[str, Any], context: Any) -> Response:
        """Answer one request; every failure is a JSON error, never a traceback."""
        try:
            return self._dispatch(event)
        except ApiError as error:
            return error_response(error)
        except WikiUnavailable as error:
            logger.warning("wiki unavailable: %s", error)
            telemetry.record_error(error)
            return error_response(ApiError(503, "wiki_unavailable", "The wiki is not answering; try again soon."))
        except WikiError as error:
            logger.warning("wiki error: %s", error)
            telemetry.record_error(error)
            return error_response(ApiError(502, "wiki_error", f"The wiki answered with an error: {error}"))
        except (BotoCoreError, ClientError, ReadThrottled, WriteThrottled) as error:
            if isinstance(error, (ReadThrottled, WriteThrottled)):
                # The tables throttled past the client's attempts: the reader can try again soon, as for an outage.
                logger.warning("storage throttled: %s", error)
            else:
                logger.exception("AWS call failed")
            telemetry.record_error(error)
            return error_response(ApiError(503, "storage_unavailable", "The cache is not answering; try again soon."))
        except Exception as error:
            # The API's boundary: a bug must still answer JSON, with its traceback in the log and the trace only.
            logger.exception("unhandled error")
            telemetry.record_error(error)
            return error_response(ApiError(500, "internal_error", "Something went wrong on our side; it is logged."))

    def _dispatch(self, event: Mapping[str, Any]) -> Response:
        # API Gateway invokes the function for its deployed routes only (anything else is its own 404), and
        # names the route in `routeKey` with the path's parameters beside it.
        route = self._routes.get(str(event.get("routeKey")))
        if route is None:
            raise ApiError(400, "bad_request", "The request is not an HTTP API (payload v2) event of a WikiRoam route.")
        parameters = event.get("pathParameters") or {}
        query = event.get("queryStringParameters") or {}
        return route(parameters, query)

    def _health(self, parameters: Mapping[str, str], query: Mapping[str, str]) -> Response:
        return json_response(200, {"status": "ok"})

    def _search(self, parameters: Mapping[str, str], query: Mapping[str, str]) -> Response:
        return json_response(200, self._service.search(parse_query(query.get("q"))))

    def _page(self, parameters: Mapping[str, str], query: Mapping[str, str]) -> Response:
        pageid = parse_pageid(parameters.get("pageid"))
        page = self._service.page(pageid)
        if page is None:
            raise ApiError(404, "page_not_found", f"The wiki has no page with id {pageid}.")
        return json_response(200, page)

    def _backlinks(self, parameters: Mapping[str, str], query: Mapping[str, str]) -> Response:
        pageid = parse_pageid(parameters.get("pageid"))
        try:
            body = self._service.backlinks(pageid, query.get("cursor"), parse_limit(query.get("limit")))
        except InvalidCursor as error:
            raise ApiError(400, "invalid_cursor", f"{error}; start again without a cursor.") from None
        if body is None:
            raise ApiError(404, "page_not_cached", f"Page {pageid} is not cached yet; open /api/pages/{pageid} first.")
        return json_response(200, body)


def build(
    env: Mapping[str, str], *, dynamodb: DynamoDBClient | None = None, sns: SNSClient | None = None
) -> ApiHandler:
    """The api function's handler, wired from its environment (and AWS clients, in tests)."""
    settings = api_settings(env)
    tables = telemetry.instrument_client(dynamodb or aws_client("dynamodb", READER))
    return ApiHandler(
        PageService(
            # A reader is waiting: one quick retry at most, well inside API Gateway's 30 s limit.
            wiki=WikiClient(
                settings.wiki.api_url,
                contact=settings.wiki.contact,
                timeout=settings.wiki.timeout_seconds,
                max_retries=1,
                max_retry_after=2.0,
            ),
            pages=PageStore(tables, settings.pages_table),
            links=LinkStore(tables, settings.links_table),
            publisher=CacheRequestPublisher(
                telemetry.instrument_client(sns or aws_client("sns", READER)), settings.cache_topic_arn
            ),
            search_limit=settings.search_limit,
            clock=time.time,
        )
    )


app = SandboxApp(build)


@telemetry.traced_handler(telemetry.http_invocation, trigger="http", name="api", operation=telemetry.API_OPERATION)
def handler(event: Mapping[str, Any], context: Any) -> Response:
    """Lambda entry point; the first invocation of a sandbox validates the environment and builds the clients."""
    return app()(event, context)
