"""The one retry pacing: full-jitter exponential backoff, and Retry-After in seconds or as an HTTP date."""

from __future__ import annotations

from functions.backoff import full_jitter, retry_after_seconds


def highest(low: float, high: float) -> float:
    return high


def test_given_successive_attempts_then_the_ceiling_doubles_from_the_base_up_to_the_cap():
    ceilings = [full_jitter(attempt, base=0.5, cap=8.0, uniform=highest) for attempt in range(1, 8)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_given_any_attempt_then_the_delay_is_drawn_from_zero_to_the_ceiling():
    draws = []
    full_jitter(3, base=0.25, cap=10.0, uniform=lambda low, high: draws.append((low, high)) or low)
    assert draws == [(0.0, 1.0)]
    assert full_jitter(10_000, base=0.25, cap=10.0, uniform=highest) == 10.0  # no overflow on a long loop


def test_given_retry_after_in_seconds_or_as_a_date_then_the_wait_is_read_and_capped():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds("120", cap=10.0) == 10.0
    assert retry_after_seconds("Fri, 27 Nov 2026 19:09:09 GMT", now=1795806539.0) == 10.0
    assert retry_after_seconds("Fri, 27 Nov 2026 19:08:00 GMT", now=1795806539.0) == 0.0  # a date in the past
    assert retry_after_seconds("-3") == 0.0


def test_given_no_or_an_unreadable_retry_after_then_it_says_nothing():
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("") is None
    assert retry_after_seconds("soon") is None
