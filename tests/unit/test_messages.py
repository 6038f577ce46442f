"""Cache requests and task payloads: what parses, and the named errors for what does not."""

from __future__ import annotations

import json

import pytest

from functions.errors import InvalidCacheRequest, InvalidTaskPayload
from functions.messages import CacheRequest, PageRef, execution_name, execution_traceparent, parse_task_event
from tests.conftest import load_event


def test_a_cache_request_round_trips_through_json_with_unicode_titles():
    request = CacheRequest(pages=(PageRef(1000, "Zürich"), PageRef(1001, "AC/DC")), reason="search")
    assert CacheRequest.from_json(request.to_json()) == request
    assert "Zürich" in request.to_json()


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"pages": [], "reason": "search"}),
        json.dumps({"pages": [{"pageid": 1, "title": "A"}], "reason": "whim"}),
        json.dumps({"pages": [{"pageid": "1", "title": "A"}], "reason": "search"}),
        json.dumps({"pages": [{"pageid": True, "title": "A"}], "reason": "search"}),
        json.dumps({"pages": [{"pageid": 1, "title": " "}], "reason": "search"}),
        json.dumps({"pages": [{"pageid": i, "title": "A"} for i in range(1, 52)], "reason": "search"}),
    ],
)
def test_given_a_malformed_cache_request_then_invalid_cache_request(body):
    with pytest.raises(InvalidCacheRequest):
        CacheRequest.from_json(body)


def test_given_a_recorded_task_payload_then_page_and_context_are_parsed():
    task = parse_task_event(load_event("task_cache_start"))
    assert task.page == PageRef(1000, "Zürich")
    assert task.context.state_name == "CacheStart"
    assert task.context.retry_count == 0
    assert task.context.execution_id.startswith("arn:aws:states:")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.pop("context"),
        lambda e: e.pop("input"),
        lambda e: e["context"].pop("execution_id"),
        lambda e: e["context"].update(retry_count="0"),
        lambda e: e["input"].update(page={"pageid": -3, "title": "X"}),
        lambda e: e["input"].pop("page"),
    ],
)
def test_given_a_malformed_task_payload_then_invalid_task_payload(mutate):
    event = load_event("task_cache_start")
    mutate(event)
    with pytest.raises(InvalidTaskPayload):
        parse_task_event(event)


def test_execution_names_are_unique_per_page_and_message_and_valid_for_aws():
    name = execution_name(PageRef(1000, "Zürich"), "95df01b4-ee98-5cb9-9903-4c221d41eb5e")
    assert name == "1000-95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    long_name = execution_name(PageRef(1000, "X"), "m" * 200 + "/:")
    assert len(long_name) == 80
    assert set(long_name) <= set("0123456789-m")


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"


def test_given_a_trace_then_the_execution_name_is_the_page_id_and_the_traceparent_within_aws_limits():
    name = execution_name(PageRef(2**53 - 1, "Zürich"), "95df01b4-ee98-5cb9-9903-4c221d41eb5e", TRACEPARENT)
    assert name == f"{2**53 - 1}-{TRACEPARENT}"
    assert len(name) <= 80
    assert set(name) <= set("0123456789abcdef-")


def test_given_something_that_is_not_a_traceparent_then_the_name_falls_back_to_the_message_id():
    for carried in (None, "", "01-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01", TRACEPARENT.upper()):
        assert execution_name(PageRef(7, "A"), "m-1", carried) == "7-m-1"


@pytest.mark.parametrize(
    "execution",
    [
        f"1000-{TRACEPARENT}",
        f"arn:aws:states:us-east-1:123456789012:execution:wikiroam-cache-sm:1000-{TRACEPARENT}",
        # Express execution ARNs add an id after the name.
        f"arn:aws:states:us-east-1:123456789012:express:wikiroam-cache-sm:1000-{TRACEPARENT}:3f2c5a1e-9d1b",
    ],
)
def test_the_traceparent_is_read_back_from_an_execution_name_or_arn(execution):
    assert execution_traceparent(execution) == TRACEPARENT


@pytest.mark.parametrize(
    "execution",
    [
        "1000-95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "arn:aws:states:us-east-1:123456789012:execution:wikiroam-cache-sm:1000-95df01b4-ee98",
        f"arn:aws:states:us-east-1:123456789012:stateMachine:{TRACEPARENT}",
        f"x1000-{TRACEPARENT}",
        f"1000-{TRACEPARENT}-extra",
    ],
)
def test_given_a_name_without_a_traceparent_then_none(execution):
    assert execution_traceparent(execution) is None
