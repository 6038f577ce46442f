"""The local stack's fault registry: WIKIROAM_FAULTS parsing, draws at a rate, counts, and the POST view's rules."""

from __future__ import annotations

import json
import threading

import pytest

from local.__main__ import main
from local.emulated_faults import _split_half
from local.faults import (
    FAULT_NAMES,
    FaultRates,
    FaultSpecError,
    faults_get,
    faults_post,
    parse_faults,
    parse_seed,
)
from local.samplewiki.faults import Faults

pytestmark = pytest.mark.unit

JSON = {"Content-Type": "application/json"}


def test_given_the_documented_example_then_both_rates_are_read():
    assert parse_faults("dynamodb_write_throttle=0.3, wiki_429=0.2") == {
        "dynamodb_write_throttle": 0.3,
        "wiki_429": 0.2,
    }
    assert parse_faults("") == {}


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("dynamo_throttle=0.3", "'dynamo_throttle'"),
        ("wiki_429=1.5", "wiki_429='1.5'"),
        ("wiki_429=-0.1", "wiki_429='-0.1'"),
        ("wiki_429=often", "wiki_429='often'"),
        ("wiki_429=nan", "wiki_429='nan'"),
        ("wiki_429", "'wiki_429' is not name=rate"),
    ],
)
def test_given_a_bad_entry_then_the_error_names_it_and_lists_the_valid_names(spec, named):
    with pytest.raises(FaultSpecError) as raised:
        parse_faults(spec)

    assert named in str(raised.value)
    assert "WIKIROAM_FAULTS" in str(raised.value)
    if "name=rate" not in named:
        assert all(name in str(raised.value) for name in FAULT_NAMES)


def test_given_a_name_twice_then_it_is_refused_rather_than_one_silently_winning():
    with pytest.raises(FaultSpecError, match="wiki_5xx is set twice"):
        parse_faults("wiki_5xx=0.1,wiki_5xx=0.2")


def test_given_a_bad_seed_then_it_is_refused_and_an_empty_one_is_none():
    assert parse_seed(" 42 ") == 42
    assert parse_seed("") is None
    with pytest.raises(FaultSpecError, match="WIKIROAM_FAULTS_SEED"):
        parse_seed("forty-two")


def test_given_a_bad_fault_when_make_dev_starts_then_it_stops_with_the_message_before_starting_anything(
    monkeypatch, capsys
):
    monkeypatch.setenv("WIKIROAM_FAULTS", "wiki_429=0.2,lambda_crash=1")

    with pytest.raises(SystemExit) as exited:
        main(["--port", "0"])

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "unknown fault 'lambda_crash'" in err
    assert "dynamodb_write_throttle" in err
    assert "sns_delivery_failure" in err


def test_given_rate_one_and_rate_zero_then_every_draw_fires_or_none_does_and_only_fired_ones_count():
    faults = FaultRates({"wiki_429": 1.0, "wiki_5xx": 0.0})

    fired = [faults.should_inject("wiki_429") for _ in range(50)]
    never = [faults.should_inject("wiki_5xx") for _ in range(50)]

    assert all(fired)
    assert not any(never)
    assert faults.injected["wiki_429"] == 50
    assert faults.injected["wiki_5xx"] == 0


def test_given_a_seed_then_the_same_draws_come_again():
    first = FaultRates({"wiki_429": 0.3}, seed=7)
    second = FaultRates({"wiki_429": 0.3}, seed=7)

    draws = [first.should_inject("wiki_429") for _ in range(200)]

    assert draws == [second.should_inject("wiki_429") for _ in range(200)]
    assert 30 < sum(draws) < 90  # about 0.3 of 200


def test_given_threads_drawing_at_once_then_no_count_is_lost():
    faults = FaultRates({"dynamodb_write_throttle": 1.0})

    def draw() -> None:
        for _ in range(500):
            faults.should_inject("dynamodb_write_throttle")

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert faults.injected["dynamodb_write_throttle"] == 4000


def test_given_a_get_then_every_fault_has_a_count_and_a_rate():
    faults = FaultRates({"wiki_429": 1.0})
    faults.should_inject("wiki_429")

    status, body = faults_get(faults)("", {})

    assert status == 200
    assert set(body) == {"injected", "rates"}
    assert body["injected"] == dict.fromkeys(FAULT_NAMES, 0) | {"wiki_429": 1}
    assert body["rates"]["wiki_429"] == 1.0
    assert body["rates"]["lambda_error"] == 0.0


def test_given_a_post_from_loopback_then_the_named_rates_change_and_the_others_keep_theirs():
    faults = FaultRates({"wiki_429": 0.2, "dynamodb_write_throttle": 0.3})

    status, body = faults_post(faults)("", JSON, json.dumps({"wiki_429": 0, "lambda_error": 0.5}).encode(), "127.0.0.1")

    assert status == 200
    assert body["rates"]["wiki_429"] == 0.0
    assert body["rates"]["lambda_error"] == 0.5
    assert body["rates"]["dynamodb_write_throttle"] == 0.3
    assert faults.rates == body["rates"]


@pytest.mark.parametrize("client", ["192.168.1.20", "10.0.0.5", "2001:db8::1"])
def test_given_a_post_from_another_machine_then_it_is_refused_and_nothing_changes(client):
    faults = FaultRates({"wiki_429": 0.2})

    status, body = faults_post(faults)("", JSON, b'{"wiki_429": 1}', client)

    assert status == 403
    assert body["error"]["code"] == "forbidden"
    assert faults.rates["wiki_429"] == 0.2


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (b'{"wiki_429": 0.5, "disk_full": 1}', "'disk_full'"),
        (b'{"wiki_429": 2}', "wiki_429=2"),
        (b'{"wiki_429": true}', "wiki_429=True"),
        (b"[0.5]", "not an object"),
        (b"rates please", "not JSON"),
    ],
)
def test_given_a_bad_post_then_it_answers_400_json_naming_the_problem_and_changes_no_rate(payload, named):
    faults = FaultRates({"wiki_429": 0.2})

    status, body = faults_post(faults)("", JSON, payload, "::1")

    assert status == 400
    assert body["error"]["code"] == "invalid_faults"
    assert named in body["error"]["message"]
    assert faults.rates["wiki_429"] == 0.2


def test_given_a_post_that_is_not_json_typed_then_it_is_refused_as_a_browser_form_could_send_it():
    faults = FaultRates()

    status, _ = faults_post(faults)("", {"Content-Type": "text/plain"}, b'{"wiki_429": 1}', "127.0.0.1")

    assert status == 415
    assert faults.rates["wiki_429"] == 0.0


def test_given_a_batch_then_the_first_half_is_kept_in_request_order_across_tables():
    kept, rest = _split_half({"a": [1, 2, 3], "b": [4, 5]}, lambda items: items)

    assert kept == {"a": [1, 2]}
    assert rest == {"a": [3], "b": [4, 5]}
    assert _split_half({"a": [1]}, lambda items: items) == ({}, {"a": [1]})


def test_given_the_sample_wikis_faults_by_rate_then_maxlag_fires_only_for_requests_asking_for_maxlag():
    faults = Faults(chance=FaultRates({"wiki_maxlag": 1.0}).should_inject)

    assert faults.take({"action": "query", "list": "search"}) is None
    fired = faults.take({"action": "query", "list": "backlinks", "maxlag": "5"})

    assert fired is not None
    assert fired.kind == "maxlag"


def test_given_an_armed_fault_and_a_rate_then_the_armed_one_fires_first():
    faults = Faults(chance=FaultRates({"wiki_5xx": 1.0}).should_inject)
    faults.arm("429", 1)

    assert [faults.take({"action": "query"}).kind for _ in range(2)] == ["429", "503"]


def test_given_a_lambda_fault_scoped_to_some_functions_then_only_their_invocations_draw_it():
    faults = FaultRates(parse_faults("lambda_timeout@cache=1, lambda_error=1"))

    assert faults.should_inject("lambda_timeout", "wikiroam-cache-start-function-0a1b") is True
    assert faults.should_inject("lambda_timeout", "wikiroam-api-handler-function-0a1b") is False
    assert faults.should_inject("lambda_timeout") is False  # no target: not in the scope
    # A plain name keeps its meaning: every function.
    assert faults.should_inject("lambda_error", "wikiroam-api-handler-function-0a1b") is True
    assert faults.injected["lambda_timeout"] == 1
    assert faults.snapshot()["scopes"] == {"lambda_timeout": "cache"}
    assert faults.describe() == "lambda_error=1, lambda_timeout@cache=1"

    faults.set_rates({"lambda_timeout": 1})  # set again without a scope: every function
    assert faults.should_inject("lambda_timeout", "wikiroam-api-handler-function-0a1b") is True
    assert "scopes" not in faults.snapshot()


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("wiki_429@cache=0.2", "take a @scope"),
        ("lambda_timeout@=0.2", "name the functions after @"),
        ("lambda_timeout@cache=0.1,lambda_timeout=0.2", "lambda_timeout is set twice"),
        ("lambda_oops@cache=0.1", "'lambda_oops'"),
    ],
)
def test_given_a_bad_scope_then_the_error_names_it(spec, named):
    with pytest.raises(FaultSpecError, match=named):
        parse_faults(spec)


def test_given_a_post_with_a_scoped_name_then_the_fault_is_scoped_on_the_running_stack():
    faults = FaultRates()

    status, body = faults_post(faults)("", JSON, json.dumps({"lambda_timeout@cache": 0.05}).encode(), "127.0.0.1")

    assert status == 200
    assert body["rates"]["lambda_timeout"] == 0.05
    assert body["scopes"] == {"lambda_timeout": "cache"}
