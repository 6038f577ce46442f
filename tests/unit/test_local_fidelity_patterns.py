"""CloudWatch Logs filter patterns as the local stack evaluates them for subscriptions."""

from __future__ import annotations

import pytest

from local.awslogs import check_filter_pattern, matches_filter_pattern


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything at all", True),
        ("OTLP", "OTLP1 H4sIAAAA", True),
        ("OTLP", "START RequestId: 1", False),
        ("ERROR timeout", "ERROR: the wiki timed out (timeout 5 s)", True),
        ("ERROR timeout", "ERROR: the wiki answered 503", False),
        ('"Task timed out"', "2026-11-27 Task timed out after 3.00 seconds", True),
        ('"Task timed out"', "Task was timed, out", False),
    ],
)
def test_every_term_or_quoted_phrase_must_appear(pattern, message, expected):
    assert matches_filter_pattern(pattern, message) is expected


@pytest.mark.parametrize("pattern", ['{ $.level = "ERROR" }', "[ip, user, ...]", "?ERROR ?WARN", "ERROR -timeout"])
def test_pattern_forms_the_local_stack_does_not_evaluate_are_refused(pattern):
    with pytest.raises(ValueError, match="term and quoted-phrase"):
        check_filter_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        ("", "anything at all", None),
        ("OTLP", "OTLPv1 z1:abc", "START RequestId"),
        ('"Task timed out" ERROR', "ERROR Task timed out after 3 s", "ERROR Task failed"),
        ("a-b", "x a-b y", "a b"),
    ],
)
def test_term_patterns_are_accepted_and_evaluated(pattern, matching, other):
    check_filter_pattern(pattern)  # accepted: the local stack evaluates these forms
    assert matches_filter_pattern(pattern, matching)
    if other is not None:
        assert not matches_filter_pattern(pattern, other)
