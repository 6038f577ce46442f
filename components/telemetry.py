"""Telemetry: the shipper Lambda subscribed to every function's log group and the state machine's.

The functions write their spans as log lines (`functions.telemetry`); a subscription filter on each function's
log group matches the span marker and invokes the shipper, which also receives every event of the state
machine's log group (it turns them into execution and state spans). The shipper's own log group is never
subscribed: it cannot ship its own output. Where to ship is a Secrets Manager secret, so the endpoint's API key
never sits in a function's environment.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.environment import shipper_environment
from components.lambda_function import FunctionSize, LambdaFunction, LambdaFunctionArgs
from components.policies import shipper_statements
from functions.contract import SPAN_FILTER_PATTERN
from functions.settings import otlp_headers

# Every event of the state machine's log group: the shipper needs the whole execution history.
ALL_EVENTS_PATTERN = ""


@dataclass(frozen=True)
class LogSource:
    """A log group to subscribe, named by its role (e.g. `api`, `cache-start`)."""

    role: str
    log_group_name: pulumi.Input[str]
    log_group_arn: pulumi.Input[str]


@dataclass(frozen=True)
class TelemetryArgs:
    """The shipper's code and size, where it ships, and the log groups it reads.

    `otlp_endpoint` is an OTLP/HTTP base URL (the shipper posts to `<endpoint>/v1/traces`); empty with a
    `datadog_site` means Datadog's intake for that site. `otlp_headers` (a Pulumi secret) is a JSON object or
    `key=value,key=value`, e.g. Datadog's `dd-api-key`.
    """

    code: pulumi.Archive
    layers: Sequence[pulumi.Input[str]]
    deployment: str
    otlp_endpoint: str
    datadog_site: str
    otlp_headers: pulumi.Input[str]
    function_logs: Sequence[LogSource]
    state_machine_logs: LogSource
    size: FunctionSize
    log_retention_days: int


def parse_headers(raw: str) -> dict[str, str]:
    """Headers from config: a JSON object of strings, or OpenTelemetry's `key=value,key=value`."""
    text = raw.strip()
    if not text:
        return {}
    if text.startswith("{"):
        document = json.loads(text)
        if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
            raise ValueError("wikiroam:otlpHeaders must be a JSON object of strings or key=value,key=value")
        return {str(k).lower(): v for k, v in document.items()}
    return otlp_headers(text, "wikiroam:otlpHeaders")


def otlp_secret(endpoint: str, headers: str, datadog_site: str) -> dict[str, Any]:
    """The secret's document, `{"endpoint": ..., "headers": {...}}`; an empty endpoint ships nowhere."""
    resolved = {**parse_headers(headers)}
    if not endpoint and datadog_site:
        endpoint = f"https://otlp.{datadog_site}"
        # Datadog's OTLP intake wants to know the spans come from serverless functions, and computes trace
        # metrics (`trace.<operation>.hits` ..., which the monitors read) only when asked to.
        resolved.setdefault("dd-otlp-source", "serverless")
        resolved.setdefault("compute_stats", "true")
    return {"endpoint": endpoint, "headers": resolved}


class Telemetry(pulumi.ComponentResource):
    """The endpoint secret, the shipper function, and one subscription filter (with its permission) per log group."""

    secret: aws.secretsmanager.Secret
    shipper: LambdaFunction
    filters: dict[str, aws.cloudwatch.LogSubscriptionFilter]

    def __init__(self, name: str, args: TelemetryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wikiroam:components:Telemetry", name, None, opts)
        self.secret = self._create_secret(name, args)
        self.shipper = self._create_shipper(name, args)
        sources = [(source, SPAN_FILTER_PATTERN) for source in args.function_logs]
        sources.append((args.state_machine_logs, ALL_EVENTS_PATTERN))
        self.filters = {source.role: self._subscribe(name, source, pattern) for source, pattern in sources}
        self.register_outputs({"secret_arn": self.secret.arn, "shipper_function_name": self.shipper.function_name})

    def _create_secret(self, name: str, args: TelemetryArgs) -> aws.secretsmanager.Secret:
        secret = aws.secretsmanager.Secret(
            f"{name}-endpoint",
            description="Where WikiRoam's shipper sends spans: {endpoint, headers} of an OTLP/HTTP endpoint",
            opts=pulumi.ResourceOptions(parent=self),
        )
        value = pulumi.Output.from_input(args.otlp_headers).apply(
            lambda headers: json.dumps(otlp_secret(args.otlp_endpoint, headers, args.datadog_site))
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-endpoint-value",
            secret_id=secret.id,
            # Secret in the state whatever the config said: the headers hold the endpoint's API key.
            secret_string=pulumi.Output.secret(typing.cast("pulumi.Output[Any]", value)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return secret

    def _create_shipper(self, name: str, args: TelemetryArgs) -> LambdaFunction:
        return LambdaFunction(
            f"{name}-shipper",
            LambdaFunctionArgs(
                description="WikiRoam telemetry shipper: span log lines and state machine events to OTLP/HTTP",
                handler="functions.handlers.shipper.handler",
                code=args.code,
                layers=args.layers,
                environment=shipper_environment(self.secret.arn, args.deployment),
                statements=self.secret.arn.apply(shipper_statements),
                size=args.size,
                log_retention_days=args.log_retention_days,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _subscribe(self, name: str, source: LogSource, pattern: str) -> aws.cloudwatch.LogSubscriptionFilter:
        permission = aws.lambda_.Permission(
            f"{name}-invoke-{source.role}",
            action="lambda:InvokeFunction",
            function=self.shipper.function_name,
            principal="logs.amazonaws.com",
            # This log group's streams only.
            source_arn=pulumi.Output.from_input(source.log_group_arn).apply(lambda arn: f"{arn}:*"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.cloudwatch.LogSubscriptionFilter(
            f"{name}-filter-{source.role}",
            log_group=source.log_group_name,
            filter_pattern=pattern,
            destination_arn=self.shipper.arn,
            # CloudWatch Logs checks that it may invoke the shipper when the filter is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )


def log_sources(functions: Mapping[str, LambdaFunction]) -> list[LogSource]:
    """A `LogSource` per function, by role."""
    return [LogSource(role, f.log_group_name, f.log_group_arn) for role, f in functions.items()]
