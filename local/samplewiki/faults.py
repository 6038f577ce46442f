"""Faults the sample wiki injects on demand, and the log of the requests it received."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from local.samplewiki.params import split_multi

DEFAULT_TIMEOUT_DELAY: Final = 30.0
DEFAULT_LAG: Final = 7.0


@dataclass
class Fault:
    """One armed fault; `remaining` is None for a fault that fires until cleared."""

    kind: str
    remaining: int | None
    retry_after: int | str | None = None
    match: str | None = None
    delay: float = DEFAULT_TIMEOUT_DELAY
    lag: float = DEFAULT_LAG
    info: str | None = None


class Faults:
    """Faults to inject into api.php answers, thread-safe.

    Kinds: an HTTP status such as "429", "500" or "503" (429 carries `Retry-After`); "maxlag" (an API maxlag
    error with `Retry-After` and `X-Database-Lag`); "timeout" (answer only after `delay` seconds); "disconnect"
    (close the connection without answering); "error:<code>" (an API error with that code).

    `match` limits a fault to some requests: one or more `key=value` terms joined by `&`, all of which must hold.
    A term holds when the request has parameter `key` and `value` equals it or one of its `|`-separated values
    (so `prop=extracts` matches `prop=extracts|info`); a bare `key` only asks for the parameter to be present.
    The first armed fault that matches a request fires and uses up one of its `count`.

    Faults by rate (`RATE_FAULTS`, the local stack's `WIKIROAM_FAULTS`) come after the armed ones: `chance(name)`
    says whether fault `name` fires for this request, drawn at its rate (None: no fault by rate).
    """

    def __init__(self, chance: Callable[[str], bool] | None = None) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []
        self.chance = chance

    def arm(
        self,
        kind: str,
        count: int | None = 1,
        *,
        retry_after: int | str | None = None,
        match: str | None = None,
        delay: float = DEFAULT_TIMEOUT_DELAY,
        lag: float = DEFAULT_LAG,
        info: str | None = None,
    ) -> Fault:
        """Arm `count` occurrences of a fault (None: until `clear`).

        `retry_after` is the `Retry-After` to send: seconds, or text sent as is (an HTTP date, as a proxy in front
        of a wiki may send); None means MediaWiki's default.
        """
        if not _valid_kind(kind):
            raise ValueError(
                f"unknown fault kind {kind!r}: use an HTTP status 400-599, 'maxlag', 'timeout', 'disconnect' "
                "or 'error:<code>'"
            )
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1 (or None for a fault that lasts until clear()), not {count}")
        fault = Fault(kind, count, retry_after=retry_after, match=match, delay=delay, lag=lag, info=info)
        with self._lock:
            self._armed.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    @property
    def armed(self) -> list[Fault]:
        """Copies of the faults still armed, in firing order."""
        with self._lock:
            return [replace(f) for f in self._armed]

    def take(self, params: Mapping[str, str]) -> Fault | None:
        """The fault to apply to a request with these parameters, if any, using up one occurrence."""
        with self._lock:
            for fault in self._armed:
                if fault.match is None or params_match(params, fault.match):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._armed.remove(fault)
                    return replace(fault)
        if self.chance is not None:
            for name, fault in RATE_FAULTS.items():
                # A fault drawn only for the requests it can apply to (maxlag: those that ask for maxlag).
                if (fault.match is None or params_match(params, fault.match)) and self.chance(name):
                    return replace(fault)
        return None


# The faults `WIKIROAM_FAULTS` draws by rate, by name: what a busy or broken Wikipedia answers.
RATE_FAULTS: Final = {
    "wiki_429": Fault("429", None, retry_after=1),
    # MediaWiki answers maxlag only to requests that set maxlag (WikiRoam's pipeline does, readers' searches not).
    "wiki_maxlag": Fault("maxlag", None, retry_after=1, match="maxlag"),
    # Longer than any client waits (WIKIROAM_WIKI_TIMEOUT_SECONDS is at most 60), shorter than a stuck server.
    "wiki_timeout": Fault("timeout", None, delay=65.0),
    "wiki_5xx": Fault("503", None),
}


def _valid_kind(kind: str) -> bool:
    if kind in ("maxlag", "timeout", "disconnect"):
        return True
    if kind.startswith("error:"):
        return len(kind) > len("error:")
    return kind.isdigit() and 400 <= int(kind) <= 599


def params_match(params: Mapping[str, str], match: str) -> bool:
    """Whether request `params` satisfy every `key=value` (or bare `key`) term of `match`, joined by `&`."""
    for term in filter(None, match.split("&")):
        key, sep, value = term.partition("=")
        if key not in params:
            return False
        if sep and not value_matches(params[key], value):
            return False
    return True


def value_matches(actual: str, wanted: str) -> bool:
    """Whether a parameter's value is `wanted` or holds it among its `|`-separated values."""
    return actual == wanted or wanted in split_multi(actual)


@dataclass
class RecordedRequest:
    """One request the sample wiki received; `status` is None while in flight or when no answer was sent."""

    method: str
    path: str
    params: dict[str, str]
    user_agent: str | None
    status: int | None = None
    fault: str | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def is_api(self) -> bool:
        """Whether this was an api.php request."""
        return self.path == "/w/api.php"
