"""The gap check: a function on an EventBridge schedule that compares cached pages with the wiki and marks gaps.

Its spans reach the shipper like every function's (`__main__.py` subscribes its log group): a marked gap's span
carries `wikiroam.cache.outcome=failed`, `wikiroam.cache.error=BacklinksGap`, which the span metric
`pipeline.pages` counts and the cache-gaps monitor watches. `wikiroam gaps` invokes the same function on demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.environment import WikiConfig, gap_check_environment
from components.lambda_function import FunctionSize, LambdaFunction, LambdaFunctionArgs
from components.policies import gap_check_statements

# A missed or failed run is not worth a second one: the next scheduled run samples again. (Lambda's asynchronous
# invocations are retried twice by default, each spending the wiki request budget again.)
GAP_CHECK_RETRY_ATTEMPTS = 0


@dataclass(frozen=True)
class GapCheckArgs:
    """What the gap check reads, how much it compares per run, and when it runs.

    `schedule` is an EventBridge schedule expression, e.g. `rate(6 hours)` or `cron(0 3 * * ? *)`.
    """

    code: pulumi.Archive
    layers: Sequence[pulumi.Input[str]]
    wiki: WikiConfig
    pages_table_name: pulumi.Input[str]
    pages_table_arn: pulumi.Input[str]
    sample: int
    max_requests: int
    schedule: str
    size: FunctionSize
    log_retention_days: int
    deployment: str


class GapCheck(pulumi.ComponentResource):
    """EventBridge rule (schedule) -> gap-check Lambda, which may scan and update the pages table only."""

    function: LambdaFunction
    rule: aws.cloudwatch.EventRule

    def __init__(self, name: str, args: GapCheckArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wikiroam:components:GapCheck", name, None, opts)
        self.function = LambdaFunction(
            f"{name}-check",
            LambdaFunctionArgs(
                description="WikiRoam gap check: compares sampled cached pages' backlink counts with the wiki's",
                handler="functions.handlers.gaps.handler",
                code=args.code,
                layers=args.layers,
                environment=gap_check_environment(
                    args.wiki, args.pages_table_name, args.sample, args.max_requests, args.deployment
                ),
                statements=pulumi.Output.from_input(args.pages_table_arn).apply(gap_check_statements),
                size=args.size,
                log_retention_days=args.log_retention_days,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.rule = self._create_schedule(name, args)
        self.register_outputs({"function_name": self.function.function_name, "rule_arn": self.rule.arn})

    def _create_schedule(self, name: str, args: GapCheckArgs) -> aws.cloudwatch.EventRule:
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=self.function.function_name,
            maximum_retry_attempts=GAP_CHECK_RETRY_ATTEMPTS,
            opts=pulumi.ResourceOptions(parent=self),
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            description="Runs the WikiRoam gap check",
            schedule_expression=args.schedule,
            opts=pulumi.ResourceOptions(parent=self),
        )
        permission = aws.lambda_.Permission(
            f"{name}-schedule-invoke",
            action="lambda:InvokeFunction",
            function=self.function.function_name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-schedule-target",
            rule=rule.name,
            arn=self.function.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        return rule
