"""Faults on demand for the local stack: one registry of rates, read by every emulated service that injects them.

`WIKIROAM_FAULTS="dynamodb_write_throttle=0.3,wiki_429=0.2"` sets a probability per request (0 to 1) for each
named fault; the emulated services ask `FaultRates.should_inject(name)` once per request they could fail, and
the registry counts what it answered yes. The faults are injected where the failure would come from in AWS (the
emulated DynamoDB and SNS in `local.emulated_faults`, the sample wiki, the local Lambda runtime), never inside
`functions/`, so the code under test is the code deployed.

`GET /api/local/faults` answers `{"injected": {...}, "rates": {...}}` (and `"scopes"` when a fault is scoped);
`POST /api/local/faults` with a JSON object of rates changes them on the running stack (the names it leaves out
keep theirs), so a scenario can start and end an incident.

The Lambda faults can be scoped to some functions: `lambda_timeout@cache=0.05` fails only the invocations of
functions whose name contains `cache` (the pipeline's: trigger and steps), so an incident in the pipeline leaves
the api, and the readers it answers, alone. A plain name keeps its meaning, every function; setting a fault again
without a scope removes its scope.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from local.serving import is_loopback

FAULTS_VARIABLE: Final = "WIKIROAM_FAULTS"
FAULTS_SEED_VARIABLE: Final = "WIKIROAM_FAULTS_SEED"
# Every fault the local stack can inject, and where (the README's table says more).
FAULT_NAMES: Final = (
    "dynamodb_write_throttle",
    "dynamodb_read_throttle",
    "wiki_429",
    "wiki_maxlag",
    "wiki_timeout",
    "wiki_5xx",
    "lambda_error",
    "lambda_timeout",
    "sns_delivery_failure",
)
WIKI_FAULTS: Final = ("wiki_429", "wiki_maxlag", "wiki_timeout", "wiki_5xx")
LAMBDA_FAULTS: Final = ("lambda_error", "lambda_timeout")
# `name@scope`: a fault drawn only for the targets (Lambda functions) whose name contains the scope.
SCOPE_SEPARATOR: Final = "@"
# Requests carrying this header are the local stack's own (deploying, loading and saving state, waiting for pages):
# the emulated services never fail them, so an incident cannot break the stack that plays it.
HARNESS_HEADER: Final = "X-WikiRoam-Local"
HARNESS_VALUE: Final = "harness"


class FaultSpecError(ValueError):
    """A fault name the local stack does not know, or a rate outside 0-1."""


def _valid_names() -> str:
    return ", ".join(FAULT_NAMES)


def split_scope(key: object, source: str = FAULTS_VARIABLE) -> tuple[object, str | None]:
    """`lambda_timeout@cache` as `("lambda_timeout", "cache")`, a plain name with scope None; only the Lambda
    faults take a scope (`FaultSpecError` otherwise, or for an empty one)."""
    if not isinstance(key, str) or SCOPE_SEPARATOR not in key:
        return key, None
    name, _, scope = key.partition(SCOPE_SEPARATOR)
    name, scope = name.strip(), scope.strip()
    if name in FAULT_NAMES and name not in LAMBDA_FAULTS:
        raise FaultSpecError(f"{source}: {key!r}: only {', '.join(LAMBDA_FAULTS)} take a @scope (a function name part)")
    if name in LAMBDA_FAULTS and not scope:
        raise FaultSpecError(f"{source}: {key!r}: name the functions after @, e.g. {name}@cache")
    return name, scope


def check_rate(name: object, value: object, source: str = FAULTS_VARIABLE) -> float:
    """`value` as a rate for fault `name`; `FaultSpecError` naming it (and the valid names) when either is bad."""
    if not isinstance(name, str) or name not in FAULT_NAMES:
        raise FaultSpecError(f"{source}: unknown fault {name!r}; the faults are {_valid_names()}")
    if isinstance(value, bool):
        rate = math.nan
    elif isinstance(value, (int, float)):
        rate = float(value)
    elif isinstance(value, str):
        try:
            rate = float(value.strip())
        except ValueError:
            rate = math.nan
    else:
        rate = math.nan
    if not 0.0 <= rate <= 1.0:  # NaN fails too
        raise FaultSpecError(
            f"{source}: {name}={value!r} is not a rate: set a probability from 0 to 1 (the faults are {_valid_names()})"
        )
    return rate


def parse_faults(spec: str, source: str = FAULTS_VARIABLE) -> dict[str, float]:
    """`name=rate,...` (as in WIKIROAM_FAULTS) as a dict; `FaultSpecError` for a bad entry, name or rate.

    A scoped entry keeps its key (`lambda_timeout@cache`), which `FaultRates.set_rates` understands.
    """
    rates: dict[str, float] = {}
    for entry in spec.split(","):
        if not entry.strip():
            continue
        name, sep, value = entry.partition("=")
        name = name.strip()
        if not sep:
            raise FaultSpecError(
                f"{source}: {entry.strip()!r} is not name=rate, e.g. dynamodb_write_throttle=0.3 "
                f"(the faults are {_valid_names()})"
            )
        plain, _ = split_scope(name, source)
        if any(split_scope(known, source)[0] == plain for known in rates):
            raise FaultSpecError(f"{source}: {plain} is set twice")
        rates[name] = check_rate(plain, value, source)
    return rates


def parse_seed(raw: str, source: str = FAULTS_SEED_VARIABLE) -> int | None:
    """The faults' random seed (an integer), None when unset."""
    if not raw.strip():
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise FaultSpecError(f"{source}={raw!r} is not an integer seed") from None


class FaultRates:
    """The faults' rates and how many times each was injected; thread-safe (moto, the wiki, the runtime share it).

    `seed` makes the draws reproducible: the same requests in the same order get the same faults (concurrent
    requests reach the registry in whatever order the threads run).
    """

    def __init__(self, rates: Mapping[str, float] | None = None, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 (fault draws, not secrets)
        self._rates = dict.fromkeys(FAULT_NAMES, 0.0)
        self._scopes: dict[str, str] = {}
        self._injected = dict.fromkeys(FAULT_NAMES, 0)
        if rates:
            self.set_rates(rates)

    def should_inject(self, name: str, target: str | None = None) -> bool:
        """Whether to fail this request with fault `name` (drawn at its rate); a yes is counted.

        `target` names what the request is for (a Lambda function): a scoped fault is drawn only when the
        target's name contains its scope.
        """
        with self._lock:
            scope = self._scopes.get(name)
            if scope is not None and (target is None or scope not in target):
                return False
            rate = self._rates[name]
            # Rate 0 draws nothing: an idle fault leaves the seeded sequence of the others as it was.
            if rate <= 0.0 or (rate < 1.0 and self._random.random() >= rate):
                return False
            self._injected[name] += 1
            return True

    def active(self, name: str) -> bool:
        """Whether fault `name` has a rate above 0 (it may fire)."""
        with self._lock:
            return self._rates[name] > 0.0

    def set_rates(self, rates: Mapping[str, Any], source: str = FAULTS_VARIABLE) -> None:
        """Change the rates named (checked all first: a bad one changes none); the others keep theirs.

        A key `name@scope` also scopes the fault; a plain name makes it apply to every target again.
        """
        checked: dict[str, tuple[float, str | None]] = {}
        for key, value in rates.items():
            name, scope = split_scope(key, source)
            checked[str(name)] = (check_rate(name, value, source), scope)
        with self._lock:
            for name, (rate, scope) in checked.items():
                self._rates[name] = rate
                if scope is None:
                    self._scopes.pop(name, None)
                else:
                    self._scopes[name] = scope

    @property
    def rates(self) -> dict[str, float]:
        """Every fault's rate."""
        with self._lock:
            return dict(self._rates)

    @property
    def injected(self) -> dict[str, int]:
        """How many times each fault was injected."""
        with self._lock:
            return dict(self._injected)

    @property
    def scopes(self) -> dict[str, str]:
        """The scoped faults' scopes (a fault not here applies to every target)."""
        with self._lock:
            return dict(self._scopes)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """`{"injected": {name: count}, "rates": {name: rate}}`, read at one instant, with `"scopes": {name: scope}`
        when a fault is scoped."""
        with self._lock:
            view: dict[str, dict[str, Any]] = {"injected": dict(self._injected), "rates": dict(self._rates)}
            if self._scopes:
                view["scopes"] = dict(self._scopes)
            return view

    def describe(self) -> str:
        """The faults with a rate, e.g. `dynamodb_write_throttle=0.3, lambda_timeout@cache=0.05`, or `none`."""
        with self._lock:
            active = [(name, rate, self._scopes.get(name)) for name, rate in self._rates.items() if rate > 0]
        return ", ".join(f"{name}{'@' + scope if scope else ''}={rate:g}" for name, rate, scope in active) or "none"


def faults_get(faults: FaultRates) -> Callable[[str, Mapping[str, str]], tuple[int, Any]]:
    """`GET /api/local/faults`, as a gateway local route."""

    def view(rest: str, query: Mapping[str, str]) -> tuple[int, Any]:
        if rest:
            return 404, _error("not_found", f"no local view at /api/local/faults/{rest}")
        return 200, faults.snapshot()

    return view


def faults_post(faults: FaultRates) -> Callable[[str, Mapping[str, str], bytes, str], tuple[int, Any]]:
    """`POST /api/local/faults`, as a gateway local action: `(rest, headers, body, client address)`."""

    def change(rest: str, headers: Mapping[str, str], body: bytes, client: str) -> tuple[int, Any]:
        if rest:
            return 404, _error("not_found", f"no local action at /api/local/faults/{rest}")
        if not is_loopback(client):
            return 403, _error("forbidden", "fault rates can only be changed from this machine (loopback)")
        content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        # JSON only: a web page of another origin cannot send it without a CORS preflight, which nothing answers.
        if content_type.split(";")[0].strip().lower() != "application/json":
            return 415, _error("unsupported_media_type", "send the rates as application/json")
        try:
            faults.set_rates(_rates_object(body), source="POST /api/local/faults")
        except FaultSpecError as error:
            return 400, _error("invalid_faults", str(error))
        return 200, faults.snapshot()

    return change


def _rates_object(body: bytes) -> dict[str, Any]:
    example = 'send a JSON object of rates, e.g. {"wiki_429": 0.2}'
    try:
        rates = json.loads(body or b"null")
    except ValueError:
        raise FaultSpecError(f"the body is not JSON: {example}") from None
    if not isinstance(rates, dict):
        raise FaultSpecError(f"the body is not an object: {example}")
    return rates


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def mark_as_harness(client: Any) -> Any:
    """Make a boto3 client's requests the local stack's own (`HARNESS_HEADER`), which faults leave alone."""

    def add_header(request: Any, **kwargs: Any) -> None:
        request.headers[HARNESS_HEADER] = HARNESS_VALUE

    client.meta.events.register_first("before-sign.*.*", add_header)
    return client
