"""Fixtures of the unit tests: the functions' telemetry, on, writing its span lines where the test reads them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions import telemetry
from tests.support.telemetry import TEST_ENV, SpanLog


@pytest.fixture
def span_log() -> Iterator[SpanLog]:
    """Given telemetry on (a named deployment) in a fresh sandbox, writing span lines to a buffer."""
    log = SpanLog()
    telemetry.reset()
    telemetry.configure(TEST_ENV, stream=log.stream)
    yield log
    telemetry.reset()
