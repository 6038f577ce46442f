"""The telemetry component under mocks: the endpoint secret, the shipper, and the log subscriptions."""

from __future__ import annotations

import json

import pytest

from components.telemetry import ALL_EVENTS_PATTERN, otlp_secret, parse_headers
from functions import settings
from functions.telemetry import SPAN_FILTER_PATTERN
from tests.infra.conftest import run_program

PREFIX = "arn:aws:logs:us-east-1:123456789012:log-group"
SHIPPER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:wikiroam-telemetry-shipper-function-1a2b3c4"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:wikiroam-telemetry-endpoint-1a2b3c4-AbCdEf"
# Subscription role -> the log group it reads.
FUNCTION_LOGS = {
    "api": "wikiroam-api-handler-logs-1a2b3c4",
    "trigger": "wikiroam-cache-trigger-logs-1a2b3c4",
    "start": "wikiroam-cache-start-logs-1a2b3c4",
    "info": "wikiroam-cache-info-logs-1a2b3c4",
    "backlinks": "wikiroam-cache-backlinks-logs-1a2b3c4",
    "gap-check": "wikiroam-gaps-check-logs-1a2b3c4",
}
EXECUTION_LOGS = "wikiroam-cache-executions-logs-1a2b3c4"


# How the mocks see a secret Output: Pulumi's secret sentinel wrapping the value.
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def secret_document(value) -> dict:
    """The JSON document of a secret input, asserting it is marked secret."""
    assert isinstance(value, dict), "the secret's value is not marked secret"
    assert value[SECRET_SIG] == "1b47061264138c4ac30d75fd1eb44270"
    return json.loads(value["value"])


def filters(deployment) -> dict[str, dict]:
    return {
        r.inputs["logGroup"]: r.inputs
        for r in deployment.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    }


def test_given_each_stack_then_every_function_log_group_is_filtered_on_the_span_marker(deployment):
    by_group = filters(deployment)
    for group in FUNCTION_LOGS.values():
        assert by_group[group]["filterPattern"] == SPAN_FILTER_PATTERN == "OTLPv1"
        assert by_group[group]["destinationArn"] == SHIPPER_ARN


def test_given_each_stack_then_the_state_machine_log_group_sends_every_event(deployment):
    assert filters(deployment)[EXECUTION_LOGS]["filterPattern"] == ALL_EVENTS_PATTERN == ""


def test_given_each_stack_then_the_shippers_own_log_group_is_never_subscribed(deployment):
    assert "wikiroam-telemetry-shipper-logs-1a2b3c4" not in filters(deployment)
    assert set(filters(deployment)) == {*FUNCTION_LOGS.values(), EXECUTION_LOGS}


def test_given_each_subscription_then_cloudwatch_logs_may_invoke_the_shipper_for_that_log_group_only(dev):
    permissions = {
        r.name: r.inputs
        for r in dev.of_type("aws:lambda/permission:Permission")
        if r.inputs["principal"] == "logs.amazonaws.com"
    }
    expected = {**FUNCTION_LOGS, "executions": EXECUTION_LOGS}
    assert set(permissions) == {f"wikiroam-telemetry-invoke-{role}" for role in expected}
    for role, group in expected.items():
        permission = permissions[f"wikiroam-telemetry-invoke-{role}"]
        assert permission["action"] == "lambda:InvokeFunction"
        assert permission["function"] == "wikiroam-telemetry-shipper-function-1a2b3c4"
        assert permission["sourceArn"] == f"{PREFIX}:{group}:*"
    for filter_ in dev.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"):
        role = filter_.name.removeprefix("wikiroam-telemetry-filter-")
        assert f"wikiroam-telemetry-invoke-{role}" in permissions


def test_given_the_shipper_then_it_may_read_only_its_secret(dev):
    policy = json.loads(dev.named("wikiroam-telemetry-shipper-policy").inputs["policy"])
    statements = policy["Statement"][1:]  # after its own logs
    assert statements == [
        {
            "Sid": "ReadTelemetryEndpoint",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [SECRET_ARN],
        }
    ]
    variables = dev.named("wikiroam-telemetry-shipper-function").inputs["environment"]["variables"]
    assert variables[settings.OTLP_SECRET_ARN] == SECRET_ARN


def test_given_no_endpoint_config_then_the_secret_holds_an_empty_endpoint(dev):
    version = dev.named("wikiroam-telemetry-endpoint-value").inputs
    assert version["secretId"] == "wikiroam-telemetry-endpoint-id"
    assert secret_document(version["secretString"]) == {"endpoint": "", "headers": {}}


def test_given_a_datadog_site_and_key_then_the_secret_names_datadogs_intake_with_the_key():
    deployment = run_program(
        "prod", {"wikiroam:datadogSite": "datadoghq.eu", "wikiroam:otlpHeaders": '{"DD-API-KEY": "k123"}'}
    )
    document = secret_document(deployment.named("wikiroam-telemetry-endpoint-value").inputs["secretString"])
    assert document == {
        "endpoint": "https://otlp.datadoghq.eu",
        # compute_stats: Datadog computes the trace metrics the monitors read only when asked to.
        "headers": {"dd-api-key": "k123", "dd-otlp-source": "serverless", "compute_stats": "true"},
    }


def test_secret_documents_and_header_forms():
    assert otlp_secret("http://127.0.0.1:4318", "a=1,b=x%20y", "") == {
        "endpoint": "http://127.0.0.1:4318",
        "headers": {"a": "1", "b": "x y"},
    }
    assert otlp_secret("https://collector.example", "", "datadoghq.com")["endpoint"] == "https://collector.example"
    assert parse_headers("") == {}
    with pytest.raises(ValueError, match="otlpHeaders"):
        parse_headers('{"a": 1}')
