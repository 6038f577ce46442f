"""P6's cost model: Express's billed duration, durations with the local AWS's calls at AWS's latency, the lines."""

from __future__ import annotations

import pytest

from bench import cost


@pytest.mark.parametrize(("seconds", "billed"), [(0.0, 0.1), (0.1, 0.1), (0.101, 0.2), (1.25, 1.3), (7.0, 7.0)])
def test_express_bills_each_execution_rounded_up_to_100_ms(seconds, billed):
    assert cost._billed(seconds) == pytest.approx(billed)


def test_given_a_function_waiting_on_moto_then_its_calls_count_at_aws_latency_and_its_own_time_as_measured():
    calls = {"DynamoDB": {"count": 4, "seconds": 2.8}, "SNS": {"count": 1, "seconds": 0.6}}
    # 3.6 s billed locally, 3.4 of it in moto: 0.2 of its own, plus 4 DynamoDB calls and a publish at AWS's latency.
    assert cost.modelled_seconds(3.6, calls) == pytest.approx(0.2 + 4 * 0.010 + 0.050)
    assert cost.modelled_seconds(1.5, {}) == 1.5  # no AWS call (the shipper): as measured


def test_only_calls_to_aws_services_are_remodelled_not_the_wiki():
    assert cost.aws_service("DynamoDB.UpdateItem") == "DynamoDB"
    assert cost.aws_service("SFN.StartSyncExecution") == "SFN"
    assert cost.aws_service("publish wikiroam-cache-topic-cd6d3d7") == "SNS"
    assert cost.aws_service("GET") is None


def test_given_the_trigger_waiting_on_executions_then_it_is_charged_their_modelled_durations_not_50_ms_each():
    calls = {"SFN": {"count": 3, "seconds": 9.0}}
    trigger = {"aws_calls": calls, "modelled_seconds": cost.modelled_seconds(9.5, calls), "memory_size_mb": 256}
    step = {"aws_calls": {}, "modelled_seconds": 1.0, "modelled_gb_seconds": 0.25, "memory_size_mb": 256}
    usage = {
        "lambda": {"wikiroam-cache-trigger-logs-1a2b": trigger, "wikiroam-cache-start-logs-3c4d": step},
        "express_modelled_seconds": 2.4,
    }

    cost.charge_trigger_waits(usage)

    # 0.5 s of its own, three calls at 50 ms, and the three executions it waited for (2.4 s modelled in all).
    assert trigger["modelled_seconds"] == pytest.approx(0.5 + 3 * 0.050 + 2.4)
    assert trigger["modelled_gb_seconds"] == pytest.approx(trigger["modelled_seconds"] * 0.25)
    assert step["modelled_seconds"] == 1.0


def test_a_functions_role_comes_from_its_log_group_or_function_name():
    assert cost.role("wikiroam-cache-backlinks-logs-6522de1") == "cache-backlinks"
    assert cost.role("arn:aws:lambda:us-east-1:123456789012:function:wikiroam-cache-start-function-1a2b") == (
        "cache-start"
    )


def test_the_p6_figure_prices_modelled_durations_and_the_measured_ones_are_kept_beside():
    usage = {
        "log_groups": {"g": {"bytes": 974, "events": 1}},
        "lambda": {"g": {"invocations": 2, "gb_seconds": 1.0, "modelled_gb_seconds": 0.25}},
        "http_api_requests": 10,
        "sns_publishes": 3,
        "executions": 4,
        "express_billed_seconds": 40.0,
        "express_modelled_billed_seconds": 4.0,
        "dynamodb_write_units": 8,
        "dynamodb_read_units": 16,
        "state_transitions": 30,
    }
    modelled = cost.costs(usage, searches=10)
    measured = cost.costs(usage, searches=10, durations="measured")
    assert modelled["lambda_gb_seconds"]["quantity"] == pytest.approx(25.0)  # per 1,000 searches
    assert measured["lambda_gb_seconds"]["quantity"] == pytest.approx(100.0)
    assert modelled["express_gb_seconds"]["quantity"] == pytest.approx(4.0 * 100 * 64 / 1024)
    assert measured["express_gb_seconds"]["quantity"] == pytest.approx(40.0 * 100 * 64 / 1024)
    assert modelled["logs_ingested_gb"] == measured["logs_ingested_gb"]
    assert modelled["dynamodb_write_units"]["quantity"] == 800
