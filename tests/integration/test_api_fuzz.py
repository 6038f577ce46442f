"""Bad input through the local gateway: generated API requests never get a 5xx, and every answer is JSON.

The requests (hypothesis strategies below) mix the routes' odd corners: unicode and control characters, values far
over the limits, page ids that are not ids (signs, exponents, other scripts' digits, 2**53 and beyond, slashes,
dots), cursors that are not ours, repeated and unknown parameters, junk `traceparent` headers, and methods no
route has. `bench.incident` (R2) runs the same strategies at full size (1,000 requests); this test runs
`WIKIROAM_FUZZ_EXAMPLES` of them (default 100), derandomized, so a failure repeats run after run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from local.stack import LocalStack, StackOptions

EXAMPLES_VARIABLE = "WIKIROAM_FUZZ_EXAMPLES"
DEFAULT_EXAMPLES = 100
METHODS = ("GET", "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
# Text from every plane but the surrogates (not encodable), control characters included.
_ANY_CHAR = st.characters(exclude_categories=["Cs"])
_ODD_VALUES = (
    "",
    " ",
    "\x00",
    "\t\n\r",
    "\u202e",  # right-to-left override
    "\ufeff",
    "😀",
    "a" * 301,
    "%00",
    "%",
    "%%",
    "..",
    "../..",
    "null",
    "[]",
    "{}",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "Music",
    "rivers",
)
_ODD_IDS = (
    "0",
    "-1",
    "+1",
    "1e3",
    "1.0",
    "0x10",
    "٣",  # an Arabic-Indic digit: str.isdigit() says yes
    "\uff11\uff19\uff15\uff12",  # fullwidth digits
    "²",
    "9007199254740991",
    "9007199254740992",
    str(10**30),
    "1952 ",
    " 1952",
    "1952%00",
    "1952/..",
    "..",
    "%2e%2e",
)


def odd_text(max_size: int = 64) -> st.SearchStrategy[str]:
    """Short unicode with control characters, a known odd value, or a value far over any limit."""
    return st.one_of(
        st.text(_ANY_CHAR, max_size=max_size),
        st.sampled_from(_ODD_VALUES),
        st.text(_ANY_CHAR, min_size=300, max_size=3000),
        st.text("abcdefghij ", min_size=2000, max_size=6000),
    )


def odd_pageid() -> st.SearchStrategy[str]:
    """A path parameter where a page id goes: real ids, near-ids and anything else."""
    return st.one_of(
        st.integers(min_value=-(10**25), max_value=10**25).map(str),
        st.integers(min_value=1000, max_value=3000).map(str),
        st.sampled_from(_ODD_IDS),
        st.text(_ANY_CHAR, min_size=1, max_size=40),
    )


def _segment(raw: str, keep_slashes: bool) -> str:
    return quote(raw, safe="/" if keep_slashes else "")


@dataclass(frozen=True)
class ApiRequest:
    """One generated request: method, path (already encoded), query parameters and headers."""

    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """The request in a line, shortened."""
        return f"{self.method} {self.path[:120]} params={str(self.params)[:200]} headers={self.headers}"


@st.composite
def api_requests(draw: Callable[..., Any]) -> ApiRequest:
    """A request for one of the API's routes, or for none, with odd values where it hurts."""
    method = draw(st.sampled_from(METHODS))
    kind = draw(st.sampled_from(("search", "page", "backlinks", "health", "unknown")))
    params: list[tuple[str, str]] = []
    keep_slashes = draw(st.booleans())
    if kind == "search":
        path = "/api/search"
        if draw(st.integers(0, 9)):
            params.append(("q", draw(odd_text())))
        if draw(st.integers(0, 4)) == 0:
            params.append(("q", draw(odd_text(16))))  # repeated: API Gateway joins them with a comma
    elif kind == "page":
        path = f"/api/pages/{_segment(draw(odd_pageid()), keep_slashes)}"
    elif kind == "backlinks":
        path = f"/api/pages/{_segment(draw(odd_pageid()), keep_slashes)}/backlinks"
        if draw(st.booleans()):
            params.append(("cursor", draw(st.one_of(odd_text(), st.binary(max_size=60).map(lambda b: b.hex())))))
        if draw(st.booleans()):
            params.append(("limit", draw(st.one_of(st.integers(-(10**12), 10**12).map(str), odd_text(12)))))
    elif kind == "health":
        path = "/api/health"
    else:
        # Anything under /api but the local views (which a deployed stack does not have).
        tail = _segment(draw(odd_text(40)), keep_slashes)
        path = f"/api/{tail}" if not tail.startswith("local") else f"/api/x{tail}"
    if draw(st.integers(0, 5)) == 0:
        params.append((draw(st.text(_ANY_CHAR, min_size=1, max_size=12)), draw(odd_text(40))))
    headers: dict[str, str] = {}
    if draw(st.integers(0, 3)) == 0:
        # Header values travel as latin-1 without surrounding whitespace: junk trace context in printable ASCII.
        headers["traceparent"] = draw(st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80))
    return ApiRequest(method, path, params, headers)


def send(base_url: str, request: ApiRequest, session: requests.Session | None = None) -> requests.Response:
    """Send one generated request to the gateway."""
    return (session or requests).request(
        request.method,
        base_url + request.path,
        params=request.params,
        headers=request.headers,
        timeout=60,
        allow_redirects=False,
    )


def problem_with(request: ApiRequest, answer: requests.Response) -> str | None:
    """What is wrong with the answer (a 5xx, a body that is not JSON), or None."""
    if answer.status_code >= 500:
        return f"HTTP {answer.status_code} for {request.describe()}: {answer.text[:300]}"
    if request.method == "HEAD":
        return None  # no body, by HTTP's rules
    sent = urlsplit(answer.request.url or "").path
    if sent != "/api" and not sent.startswith("/api/"):
        return None  # the client resolved dot segments (`/api/..` is `/`): the site answered, not the API
    try:
        json.loads(answer.content)
    except ValueError:
        return f"HTTP {answer.status_code}, not JSON, for {request.describe()}: {answer.text[:300]!r}"
    return None


@dataclass
class FuzzReport:
    """What a fuzz run sent and got back."""

    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def record(self, request: ApiRequest, answer: requests.Response) -> None:
        """Count one answer and keep its problem, if any."""
        self.sent += 1
        self.statuses[answer.status_code] = self.statuses.get(answer.status_code, 0) + 1
        problem = problem_with(request, answer)
        if problem is not None:
            self.problems.append(problem)


def fuzz(
    base_url: str, examples: int, progress: Callable[[int], None] | None = None, session: requests.Session | None = None
) -> FuzzReport:
    """Send `examples` generated requests (derandomized, no shrinking) and report every answer's problems."""
    report = FuzzReport()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(api_requests())
    def one(request: ApiRequest) -> None:
        report.record(request, send(base_url, request, session))
        if progress is not None:
            progress(report.sent)

    one()
    return report


def examples_from_env() -> int:
    """The test's size: `WIKIROAM_FUZZ_EXAMPLES`, else the default."""
    return int(os.environ.get(EXAMPLES_VARIABLE) or DEFAULT_EXAMPLES)


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[LocalStack]:
    """Given the local stack, empty, without faults."""
    with LocalStack(StackOptions()) as stack:
        yield stack


@settings(
    max_examples=examples_from_env(),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(request=api_requests())
def test_given_a_generated_request_then_no_5xx_and_the_answer_is_json(fuzz_stack, request):
    answer = send(fuzz_stack.url, request)

    assert problem_with(request, answer) is None


def test_given_the_strategies_then_they_reach_every_route_and_odd_method():
    seen: set[tuple[str, str]] = set()

    @settings(max_examples=300, deadline=None, derandomize=True, database=None, phases=(Phase.generate,))
    @given(api_requests())
    def collect(request: ApiRequest) -> None:
        route = request.path.split("/")[2] if request.path.count("/") >= 2 else request.path
        seen.add((request.method, "backlinks" if request.path.endswith("/backlinks") else route))

    collect()

    assert {route for _, route in seen} >= {"search", "pages", "backlinks", "health"}
    assert {method for method, _ in seen} >= {"GET", "HEAD", "POST", "PATCH", "OPTIONS"}
