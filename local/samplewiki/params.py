"""api.php's parameter rules, as MediaWiki applies them, and its API errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

MAX_LIMIT: Final = 500
INTEGER: Final = re.compile(r"[+-]?[0-9]+")
# Parameters ApiMain itself reads; anything else must be claimed by a module or it draws a warning.
_MAIN_PARAMS: Final = frozenset(
    {
        "action", "format", "formatversion", "maxlag", "smaxage", "maxage", "assert", "assertuser",
        "requestid", "servedby", "curtimestamp", "responselanginfo", "origin", "uselang", "variant",
        "errorformat", "errorlang", "errorsuselocal", "utf8", "ascii", "callback",
    }
)  # fmt: skip
KNOWN_ERROR_INFO: Final = {
    "ratelimited": "You've exceeded your rate limit. Please wait some time and try again.",
    "readonly": "The wiki is currently in read-only mode.",
    "maxlag": "Waiting for 127.0.0.1: 7 seconds lagged.",
    "internal_api_error_DBQueryError": "[samplewiki] Exception caught: A database query error has occurred.",
    "missingtitle": "The page you specified doesn't exist.",
    "nosuchpageid": "There is no page with ID 0.",
    "badcontinue": "Invalid continue param. You should pass the original value returned by the previous query.",
}


class ApiError(Exception):
    """An API error as MediaWiki reports it: HTTP 200, `{"error": {...}}` and a `MediaWiki-API-Error` header."""

    def __init__(
        self, code: str, info: str, *, data: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {info}")
        self.code = code
        self.info = info
        self.data = dict(data or {})
        self.headers = dict(headers or {})


def bad_continue() -> ApiError:
    """The error MediaWiki answers a `continue` value it did not hand out with."""
    return ApiError("badcontinue", KNOWN_ERROR_INFO["badcontinue"])


def split_multi(value: str) -> list[str]:
    """The values of a multi-value parameter."""
    # MediaWiki lets a multi-value parameter start with U+001F to use it as the separator instead of '|'.
    if value.startswith("\x1f"):
        return value[1:].split("\x1f")
    return value.split("|") if value else []


class Params:
    """Request parameters with MediaWiki's parsing rules, remembering which ones a module read."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = dict(raw)
        self.used: set[str] = set()
        self.warnings: dict[str, list[str]] = {}
        self.limits: dict[str, int] = {}

    def warn(self, module: str, text: str) -> None:
        """Add a warning for `module`."""
        # MediaWiki drops a warning a module has already given in the same request.
        notes = self.warnings.setdefault(module, [])
        if text not in notes:
            notes.append(text)

    def claim(self, *names: str) -> None:
        """Mark parameters as read, so they draw no warning."""
        self.used.update(names)

    def get(self, name: str) -> str | None:
        """A parameter's raw value, or None."""
        self.used.add(name)
        return self.raw.get(name)

    def flag(self, name: str) -> bool:
        """A boolean parameter."""
        # Booleans work like HTML checkboxes: present means true, even as "0" or "false".
        return self.get(name) is not None

    def integer(self, name: str, default: int) -> int:
        """An integer parameter; `badinteger` when it is not one."""
        value = self.get(name)
        if value is None or value == "":
            return default
        if not INTEGER.fullmatch(value):
            raise ApiError("badinteger", f'Invalid value "{value}" for integer parameter "{name}".')
        return int(value)

    def limit(self, name: str, module: str, *, default: int, maximum: int) -> int:
        """A limit parameter: "max" or a number, clamped to 1..`maximum` with a warning."""
        value = self.get(name)
        if value is None or value == "":
            return default
        if value == "max":
            # MediaWiki reports what "max" meant in a top-level `limits` object.
            self.limits[module] = maximum
            return maximum
        if not INTEGER.fullmatch(value):
            raise ApiError("badinteger", f'Invalid value "{value}" for integer parameter "{name}".')
        number = int(value)
        if not 1 <= number <= maximum:
            self.warn(module, f'The value "{value}" for parameter "{name}" must be between 1 and {maximum}.')
        return min(max(number, 1), maximum)

    def multi(self, name: str, *, limit: int | None = None) -> list[str]:
        """A multi-value parameter's distinct values; `toomanyvalues` past `limit`."""
        value = self.get(name)
        values = list(dict.fromkeys(split_multi(value))) if value is not None else []
        if limit is not None and len(values) > limit:
            raise ApiError(
                "toomanyvalues",
                f'Too many values supplied for parameter "{name}". The limit is {limit}.',
                data={"limit": limit, "lowlimit": limit, "highlimit": MAX_LIMIT},
            )
        return values

    def choices(self, name: str, known: frozenset[str], module: str) -> list[str]:
        """A multi-value parameter's known values; the others draw a warning."""
        values = self.multi(name)
        unknown = [v for v in values if v not in known]
        if unknown:
            plural = "value" if len(unknown) == 1 else "values"
            self.warn(module, f'Unrecognized {plural} for parameter "{name}": {", ".join(unknown)}')
        return [v for v in values if v in known]

    def enum(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        """A single-value parameter among `allowed`; `badvalue` otherwise."""
        value = self.get(name)
        if value is None:
            return default
        if value not in allowed:
            raise ApiError("badvalue", f'Unrecognized value for parameter "{name}": {value}.')
        return value

    def namespaces(self, name: str, module: str) -> set[int] | None:
        """A namespace filter; None for every namespace."""
        values = self.multi(name)
        if not values or "*" in values:
            return None
        # Unknown namespaces are dropped with a warning, like any unrecognized value of a multi-value parameter.
        known = [v for v in values if INTEGER.fullmatch(v)]
        self.choices(name, frozenset(known), module)
        return {int(v) for v in known} or None

    def unused(self) -> list[str]:
        """The parameters nothing read, in request order."""
        return [name for name in self.raw if name not in self.used and name not in _MAIN_PARAMS]
