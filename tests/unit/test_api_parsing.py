"""The API's input validation: a user's typo is a 400 with a JSON body, never a 500."""

from __future__ import annotations

import pytest

from functions.handlers.api import ApiError, parse_limit, parse_pageid, parse_query
from functions.store import InvalidCursor, decode_cursor, encode_cursor


def test_a_search_term_is_trimmed_and_its_whitespace_collapsed():
    assert parse_query("  rock \t and   roll ") == "rock and roll"
    assert parse_query("Zürich") == "Zürich"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, "missing_query"),
        ("", "missing_query"),
        ("   \t", "missing_query"),
        ("x" * 301, "query_too_long"),
        ("river\x00", "invalid_query"),
        ("a\x1bb", "invalid_query"),
    ],
)
def test_given_an_unusable_term_then_400_with_a_code(raw, code):
    with pytest.raises(ApiError) as error:
        parse_query(raw)
    assert (error.value.status, error.value.code) == (400, code)


def test_a_term_of_exactly_300_characters_is_accepted():
    assert len(parse_query("y" * 300)) == 300


@pytest.mark.parametrize("raw", ["abc", "0", "-5", "1.5", "١٢", str(2**53), ""])
def test_given_a_bad_pageid_then_400(raw):
    with pytest.raises(ApiError) as error:
        parse_pageid(raw)
    assert error.value.status == 400


def test_limits_default_and_bound():
    assert parse_limit(None) == 50
    assert parse_limit("200") == 200
    for raw in ("0", "201", "x"):
        with pytest.raises(ApiError):
            parse_limit(raw)


def test_a_cursor_round_trips_and_is_bound_to_its_page():
    cursor = encode_cursor(1000, 1234)
    assert decode_cursor(cursor, 1000) == 1234
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, 1001)
    for bad in ("!!!", "bm90IGpzb24", encode_cursor(1000, 1)[:-3]):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, 1000)
