"""ApiMain: api.php's entry point, its checks before a module runs, its errors and the answer's top level.

Only `format=json&formatversion=2` is spoken. Errors are HTTP 200 with a `MediaWiki-API-Error` header; unknown
parameters draw a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from local.samplewiki.api.query import run_query
from local.samplewiki.params import ApiError, Params
from local.samplewiki.site import Site

SERVED_BY: Final = "samplewiki"
HELP_TEXT: Final = (
    "WikiRoam sample wiki: a MediaWiki-compatible api.php for local development and tests.\n"
    "Supported: action=query with generator=search|linkshere, list=search (srwhat=text|nearmatch), "
    "list=backlinks (blredirect), prop=info|extracts|pageimages|links|linkshere|redirects, titles=, pageids=, "
    "redirects; format=json&formatversion=2 only."
)


def _help(site: Site, params: Params) -> dict[str, Any]:
    params.claim(*params.raw)
    return {"help": {"mime": "text/plain", "help": HELP_TEXT}}


_ACTIONS: Final[dict[str, Callable[[Site, Params], dict[str, Any]]]] = {
    "query": run_query,
    "help": _help,
}


class Api:
    """Turns api.php parameters into a JSON-ready answer; stateless apart from the site it answers for."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def handle(self, raw: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """The JSON body and extra headers for one api.php request."""
        params = Params(raw)
        try:
            action = self._check_main(params)
            body = _ACTIONS[action](self.site, params)
        except ApiError as error:
            return self.error_body(error), {"MediaWiki-API-Error": error.code, **error.headers}
        unused = params.unused()
        if unused:
            noun = "parameter" if len(unused) == 1 else "parameters"
            # ApiMain reports unknown parameters before any module's warnings.
            params.warnings = {"main": [f"Unrecognized {noun}: {', '.join(unused)}."], **params.warnings}
        return self._decorate(body, params), {}

    def error_body(self, error: ApiError) -> dict[str, Any]:
        """The body MediaWiki answers an API error with."""
        return {
            "error": {"code": error.code, "info": error.info, **error.data, "docref": self._docref()},
            "servedby": SERVED_BY,
        }

    def maxlag_error(self, lag: float, maxlag: int | None, retry_after: int | str | None) -> ApiError:
        """The maxlag error for a replica `lag` seconds behind, asking for `retry_after` (default: the maxlag)."""
        shown: int | float = int(lag) if float(lag).is_integer() else lag
        wait = retry_after if retry_after is not None else max(maxlag if maxlag is not None else 5, 5)
        return ApiError(
            "maxlag",
            f"Waiting for 127.0.0.1: {shown} seconds lagged.",
            data={"host": "127.0.0.1", "lag": shown, "type": "db"},
            headers={"Retry-After": str(wait), "X-Database-Lag": str(int(lag))},
        )

    def _docref(self) -> str:
        return (
            f"See {self.site.api_url} for API usage. Subscribe to the mediawiki-api-announce mailing list at "
            "&lt;https://lists.wikimedia.org/postorius/lists/mediawiki-api-announce.lists.wikimedia.org/&gt; "
            "for notice of API deprecations and breaking changes."
        )

    def _check_main(self, params: Params) -> str:
        """ApiMain's checks before a module runs: action, format, then maxlag."""
        action = params.enum("action", tuple(_ACTIONS), "help")
        fmt, version = params.get("format"), params.get("formatversion")
        if fmt != "json" or version not in ("2", "latest"):
            raise ApiError(
                "badvalue",
                "The sample wiki only speaks format=json with formatversion=2 "
                f"(got format={fmt}, formatversion={version}).",
            )
        # A single database server never lags, so maxlag is only checked for being a number.
        params.integer("maxlag", 0)
        return action

    def _decorate(self, body: dict[str, Any], params: Params) -> dict[str, Any]:
        head: dict[str, Any] = {}
        for key in ("batchcomplete", "continue"):
            if key in body:
                head[key] = body.pop(key)
        if params.warnings:
            head["warnings"] = {m: {"warnings": "\n".join(w)} for m, w in params.warnings.items()}
        head.update(body)
        if params.limits:
            head["limits"] = params.limits
        if params.raw.get("requestid") is not None:
            head["requestid"] = params.raw["requestid"]
        if params.raw.get("curtimestamp") is not None:
            head["curtimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if params.raw.get("servedby") is not None:
            head["servedby"] = SERVED_BY
        return head
