"""The incident scenarios (`bench.incident`) at CI's size: each scenario's runner, asserting every target met.

R1 replays the 2017 incident (DynamoDB write throttles and wiki 429s) and redrives; R2 sends malformed input
(the generated API requests run in `test_api_fuzz.py`; here the SNS message, task payload and log batches); R3
loads the stack while the pipeline's functions time out and SNS fails deliveries; R4 stops a stack with state
while executions run and starts it again. Sizes come from `WIKIROAM_INCIDENT_SIZE` (a factor, default 1: the
smallest that still meets each target meaningfully).
"""

from __future__ import annotations

import os

import pytest

from bench import incident

SCALE = max(1, int(os.environ.get("WIKIROAM_INCIDENT_SIZE") or 1))


def _assert_met(scenario: incident.Scenario) -> None:
    table = incident.format_table(scenario.checks)
    assert scenario.checks, f"{scenario.name} checked nothing"
    assert scenario.met, f"{scenario.name} missed a target:\n{table}\n{scenario.raw}"


def test_given_the_incident_then_every_page_ends_complete_with_the_wikis_backlinks_and_the_throttle_monitor_alerts():
    # Six searches: enough writes (the hub Earth among them) for the throttle monitor's 50 events.
    scenario = incident.run_incident(6 * SCALE)

    _assert_met(scenario)
    assert scenario.raw["faults"]["injected"]["dynamodb_write_throttle"] > 0
    assert scenario.raw["backlinks"]["missing"] == 0


def test_given_malformed_messages_payloads_and_batches_then_each_is_a_named_error_the_dlq_or_a_counted_drop():
    # The generated API requests run in test_api_fuzz.py; a handful here keeps the scenario's shape.
    scenario = incident.run_bad_input(10 * SCALE)

    checks = {check.measure: check for check in scenario.checks}
    malformed = next(check for measure, check in checks.items() if measure.startswith("malformed"))
    assert malformed.met, f"{malformed.observed}\n{scenario.raw}"
    assert scenario.raw["fuzz"]["problems"] == []


@pytest.mark.parametrize("searches", [4 * SCALE])
def test_given_concurrent_searches_while_the_pipeline_times_out_then_no_reader_errs_and_no_request_is_lost(searches):
    _assert_met(incident.run_load(searches))


def test_given_a_stack_stopped_with_executions_in_flight_then_nothing_cached_is_lost_and_redrive_completes_the_rest():
    scenario = incident.run_restart(SCALE)

    assert scenario.checks[0].met, scenario.raw  # nothing cached is lost: holds today
    _assert_met(scenario)
