"""The HTTP API under mocks: routes, integration, stage throttling and access logs, invoke permission."""

from __future__ import annotations

import json

ROUTE_KEYS = {
    "GET /api/health",
    "GET /api/search",
    "GET /api/pages/{pageid}",
    "GET /api/pages/{pageid}/backlinks",
}


def test_given_the_api_then_it_is_an_http_api_with_the_four_routes_on_one_lambda_integration(dev):
    assert dev.named("wikiroam-api-http-api").inputs["protocolType"] == "HTTP"
    routes = dev.of_type("aws:apigatewayv2/route:Route")
    assert {r.inputs["routeKey"] for r in routes} == ROUTE_KEYS
    assert {r.inputs["target"] for r in routes} == {"integrations/wikiroam-api-integration-id"}
    integration = dev.named("wikiroam-api-integration").inputs
    assert integration["integrationType"] == "AWS_PROXY"
    assert integration["payloadFormatVersion"] == "2.0"
    assert integration["integrationUri"].endswith("function:wikiroam-api-handler-function-1a2b3c4/invocations")
    assert integration["timeoutMilliseconds"] <= 30_000


def test_given_each_stack_then_the_default_stage_auto_deploys_with_the_configured_throttling(deployment):
    stage = deployment.named("wikiroam-api-stage").inputs
    assert stage["name"] == "$default"
    assert stage["autoDeploy"] is True
    assert stage["defaultRouteSettings"] == {
        "throttlingBurstLimit": int(deployment.config["wikiroam:apiThrottleBurst"]),
        "throttlingRateLimit": int(deployment.config["wikiroam:apiThrottleRate"]),
    }


def test_given_prod_then_it_throttles_higher_than_dev(dev, prod):
    dev_limits = dev.named("wikiroam-api-stage").inputs["defaultRouteSettings"]
    prod_limits = prod.named("wikiroam-api-stage").inputs["defaultRouteSettings"]
    assert prod_limits["throttlingRateLimit"] > dev_limits["throttlingRateLimit"]


def test_given_each_stack_then_access_logs_are_json_in_their_own_log_group_with_retention(deployment):
    settings = deployment.named("wikiroam-api-stage").inputs["accessLogSettings"]
    assert settings["destinationArn"].endswith(":log-group:wikiroam-api-access-logs-1a2b3c4")
    fields = json.loads(settings["format"])
    assert {"requestId", "routeKey", "status", "responseLatency", "integrationLatency"} <= set(fields)
    assert fields["requestId"] == "$context.requestId"
    log_group = deployment.named("wikiroam-api-access-logs").inputs
    assert log_group["retentionInDays"] == int(deployment.config["wikiroam:logRetentionDays"])


def test_given_the_invoke_permission_then_only_this_api_may_call_the_function(dev):
    permission = dev.named("wikiroam-api-invoke").inputs
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["function"] == "wikiroam-api-handler-function-1a2b3c4"
    assert permission["sourceArn"] == "arn:aws:execute-api:us-east-1:123456789012:wikiroam-api-http-api-id/*/*"
