"""One Lambda function with its own role, inline policy and log group."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.lambda_package import ARCHITECTURE, RUNTIME
from components.policies import assume_role_policy, function_policy


@dataclass(frozen=True)
class FunctionSize:
    """Memory and timeout of one function."""

    memory_mb: int
    timeout_seconds: int


@dataclass(frozen=True)
class LambdaFunctionArgs:
    """What the function runs, with which environment and permissions.

    `statements` are the IAM statements its code needs beyond writing its own logs, which every function gets.
    `reserved_concurrency` caps how many instances run at once; None leaves the function unreserved.
    """

    description: str
    handler: str
    code: pulumi.Archive
    layers: Sequence[pulumi.Input[str]]
    environment: Mapping[str, pulumi.Input[str]]
    statements: pulumi.Input[Sequence[Mapping[str, Any]]]
    size: FunctionSize
    log_retention_days: int
    reserved_concurrency: int | None = None


class LambdaFunction(pulumi.ComponentResource):
    """A Lambda function (Python, arm64) whose role may do only what its statements allow."""

    function: aws.lambda_.Function
    arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]

    def __init__(self, name: str, args: LambdaFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wikiroam:components:LambdaFunction", name, None, opts)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            retention_in_days=args.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        role, policy = self._create_role(name, args, log_group)
        self.function = self._create_function(name, args, role, policy, log_group)
        self.arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
        self.function_name = self.function.name
        self.role_arn = role.arn
        self.log_group_name = log_group.name
        self.log_group_arn = log_group.arn
        self.register_outputs(
            {"arn": self.arn, "function_name": self.function_name, "log_group_name": self.log_group_name}
        )

    def _create_role(
        self, name: str, args: LambdaFunctionArgs, log_group: aws.cloudwatch.LogGroup
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Runs the {name} function",
            assume_role_policy=json.dumps(assume_role_policy("lambda.amazonaws.com")),
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(log_group.arn, args.statements).apply(
                lambda values: json.dumps(function_policy(values[0], values[1]))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role, policy

    def _create_function(
        self,
        name: str,
        args: LambdaFunctionArgs,
        role: aws.iam.Role,
        policy: aws.iam.RolePolicy,
        log_group: aws.cloudwatch.LogGroup,
    ) -> aws.lambda_.Function:
        return aws.lambda_.Function(
            f"{name}-function",
            description=args.description,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=args.handler,
            code=args.code,
            layers=list(args.layers),
            role=role.arn,
            memory_size=args.size.memory_mb,
            timeout=args.size.timeout_seconds,
            reserved_concurrent_executions=-1 if args.reserved_concurrency is None else args.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment)),
            # Our own log group (created above, with retention) instead of the implicit /aws/lambda/<name> one.
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
            # The first invocation must find the role's permissions in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
