"""The gap check under mocks: its function, its role, the schedule that runs it, and its log subscription."""

from __future__ import annotations

import json

import pytest
import yaml

from components.gap_check import GAP_CHECK_RETRY_ATTEMPTS
from functions import settings
from tests.infra.conftest import PROJECT_DIR, run_program

FUNCTION = "wikiroam-gaps-check-function-1a2b3c4"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/wikiroam-gaps-schedule-1a2b3c4"
PAGES_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/wikiroam-tables-pages-1a2b3c4"


def test_given_pulumi_yaml_then_the_gap_check_defaults_are_every_six_hours_20_pages_50_requests():
    keys = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    assert keys["gapCheckSchedule"]["default"] == "rate(6 hours)"
    assert keys["gapCheckSample"]["default"] == settings.DEFAULT_GAP_CHECK_SAMPLE == 20
    assert keys["gapCheckMaxRequests"]["default"] == settings.DEFAULT_GAP_CHECK_MAX_REQUESTS == 50


def test_given_each_stack_then_a_schedule_rule_targets_the_gap_check_function(deployment):
    rule = deployment.named("wikiroam-gaps-schedule").inputs
    assert rule["scheduleExpression"] == deployment.config["wikiroam:gapCheckSchedule"] == "rate(6 hours)"
    target = deployment.named("wikiroam-gaps-schedule-target").inputs
    assert target["rule"] == "wikiroam-gaps-schedule-1a2b3c4"
    assert target["arn"] == FUNCTION_ARN


def test_given_the_schedule_then_only_that_rule_may_invoke_the_function(dev):
    permission = dev.named("wikiroam-gaps-schedule-invoke").inputs
    assert permission == {
        "action": "lambda:InvokeFunction",
        "function": FUNCTION,
        "principal": "events.amazonaws.com",
        "sourceArn": RULE_ARN,
    }


def test_given_a_scheduled_run_that_fails_then_lambda_does_not_retry_it(dev):
    config = dev.named("wikiroam-gaps-async").inputs
    assert config["functionName"] == FUNCTION
    assert config["maximumRetryAttempts"] == GAP_CHECK_RETRY_ATTEMPTS == 0


def test_given_the_gap_check_role_then_it_may_only_scan_and_update_the_pages_table_and_write_its_logs(dev):
    policy = json.loads(dev.named("wikiroam-gaps-check-policy").inputs["policy"])
    grants = {(action, resource) for s in policy["Statement"] for action in s["Action"] for resource in s["Resource"]}
    logs = "arn:aws:logs:us-east-1:123456789012:log-group:wikiroam-gaps-check-logs-1a2b3c4:*"
    assert grants == {
        ("dynamodb:Scan", PAGES_ARN),
        ("dynamodb:UpdateItem", PAGES_ARN),
        ("logs:CreateLogStream", logs),
        ("logs:PutLogEvents", logs),
    }


def test_given_config_then_the_sample_and_budget_reach_the_functions_environment():
    deployment = run_program("dev", {"wikiroam:gapCheckSample": "7", "wikiroam:gapCheckMaxRequests": "11"})
    variables = deployment.named("wikiroam-gaps-check-function").inputs["environment"]["variables"]
    read = settings.gap_check_settings(variables)
    assert (read.sample, read.max_requests) == (7, 11)
    assert read.pages_table == deployment.outputs["pagesTableName"]
    assert deployment.outputs["gapCheckFunctionName"] == FUNCTION


@pytest.mark.parametrize("schedule", ["rate(1 hour)", "cron(0 3 * * ? *)"])
def test_given_a_schedule_in_config_then_the_rule_runs_on_it(schedule):
    deployment = run_program("dev", {"wikiroam:gapCheckSchedule": schedule})
    assert deployment.named("wikiroam-gaps-schedule").inputs["scheduleExpression"] == schedule
