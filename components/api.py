"""The HTTP API: API Gateway (HTTP API, payload 2.0) in front of the api Lambda function."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.environment import TableNames, WikiConfig, api_environment
from components.lambda_function import FunctionSize, LambdaFunction, LambdaFunctionArgs
from components.policies import api_statements
from functions.contract import API_ROUTES

# One JSON object per request in the access log ($context variables of HTTP APIs).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationError": "$context.integrationErrorMessage",
    "errorMessage": "$context.error.message",
    "sourceIp": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
}
# API Gateway gives up on an integration after 30 s at most; answer (or fail) before that.
INTEGRATION_TIMEOUT_MS = 29_000


@dataclass(frozen=True)
class ApiArgs:
    """The api function's code, environment, size, and the stage's throttling and log retention."""

    code: pulumi.Archive
    layers: Sequence[pulumi.Input[str]]
    wiki: WikiConfig
    table_names: TableNames
    pages_table_arn: pulumi.Input[str]
    links_table_arn: pulumi.Input[str]
    cache_topic_arn: pulumi.Input[str]
    search_limit: int
    size: FunctionSize
    throttle_burst: int
    throttle_rate: float
    log_retention_days: int
    deployment: str


class Api(pulumi.ComponentResource):
    """An HTTP API whose `$default` stage auto-deploys, throttles, and logs every request as JSON."""

    http_api: aws.apigatewayv2.Api
    function: LambdaFunction
    endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: ApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wikiroam:components:Api", name, None, opts)
        self.function = self._create_function(name, args)
        self.http_api = aws.apigatewayv2.Api(
            f"{name}-http-api",
            protocol_type="HTTP",
            description="WikiRoam HTTP API (served under /api/ through CloudFront)",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._create_routes(name)
        self._create_stage(name, args)
        aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=self.function.function_name,
            principal="apigateway.amazonaws.com",
            # Any stage and route of this API only: <execution ARN>/<stage>/<method>/<path>.
            source_arn=self.http_api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.endpoint = self.http_api.api_endpoint
        self.register_outputs({"endpoint": self.endpoint, "function_name": self.function.function_name})

    def _create_function(self, name: str, args: ApiArgs) -> LambdaFunction:
        return LambdaFunction(
            f"{name}-handler",
            LambdaFunctionArgs(
                description="WikiRoam HTTP API",
                handler="functions.handlers.api.handler",
                code=args.code,
                layers=args.layers,
                environment=api_environment(
                    args.wiki, args.table_names, args.search_limit, args.cache_topic_arn, args.deployment
                ),
                statements=pulumi.Output.all(args.pages_table_arn, args.links_table_arn, args.cache_topic_arn).apply(
                    lambda arns: api_statements(arns[0], arns[1], arns[2])
                ),
                size=args.size,
                log_retention_days=args.log_retention_days,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_routes(self, name: str) -> None:
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=self.http_api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=self.function.invoke_arn,
            payload_format_version="2.0",
            timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
            opts=pulumi.ResourceOptions(parent=self),
        )
        for role, route_key in API_ROUTES.items():
            aws.apigatewayv2.Route(
                f"{name}-route-{role}",
                api_id=self.http_api.id,
                route_key=route_key,
                target=integration.id.apply(lambda integration_id: f"integrations/{integration_id}"),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _create_stage(self, name: str, args: ApiArgs) -> None:
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            retention_in_days=args.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.http_api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_burst_limit=args.throttle_burst,
                throttling_rate_limit=args.throttle_rate,
            ),
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn,
                format=json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
