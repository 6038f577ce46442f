"""The cache pipeline: cache requests on SNS, a trigger function, and the Express state machine of three steps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.cache_workflow import state_machine_definition
from components.environment import TableNames, WikiConfig, cache_step_environment, trigger_environment
from components.lambda_function import FunctionSize, LambdaFunction, LambdaFunctionArgs
from components.policies import (
    Statement,
    assume_role_policy,
    cache_backlinks_statements,
    cache_info_statements,
    cache_start_statements,
    dead_letter_queue_policy,
    state_machine_policy,
    trigger_statements,
)
from functions.contract import TRIGGER_EXECUTIONS_IN_FLIGHT

# A cache request nobody could start a pipeline for stays inspectable for the queue's maximum, 14 days.
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
# The trigger is invoked asynchronously by SNS: two retries. A burst of searches waits in Lambda's queue of these
# events while the trigger is at its reserved concurrency (the pipeline's backpressure); a request still queued
# after an hour goes to the dead-letter queue, whence `wikiroam redrive` replays it.
TRIGGER_RETRY_ATTEMPTS = 2
TRIGGER_MAX_EVENT_AGE_SECONDS = 3600


def trigger_concurrency(step_concurrency: int | None) -> int | None:
    """The trigger's reserved concurrency: executions in flight (each trigger instance runs
    `TRIGGER_EXECUTIONS_IN_FLIGHT`) never outnumber what each cache step may run; None when the steps are not
    reserved either."""
    if step_concurrency is None:
        return None
    return max(1, step_concurrency // TRIGGER_EXECUTIONS_IN_FLIGHT)


@dataclass(frozen=True)
class CachePipelineArgs:
    """What the pipeline's functions run and reach.

    `step_concurrency` is the reserved concurrency of each cache step function, so a burst of searches cannot
    stampede the wiki or the tables; the trigger's follows from it (`trigger_concurrency`), so that executions
    wait for the steps in the trigger's queue rather than throttled. None leaves them all unreserved, for
    accounts whose concurrency quota is too small to reserve any.
    `execution_data_in_logs` adds every state's input and output to the state machine's log events (debugging).
    `state_machine_log_level` is Step Functions' logging level: ERROR (the failures only; the steps write the
    state and execution spans themselves) or ALL (every event, for debugging).
    """

    code: pulumi.Archive
    layers: Sequence[pulumi.Input[str]]
    wiki: WikiConfig
    table_names: TableNames
    pages_table_arn: pulumi.Input[str]
    links_table_arn: pulumi.Input[str]
    max_backlinks: int
    trigger_size: FunctionSize
    step_size: FunctionSize
    backlinks_size: FunctionSize
    step_concurrency: int | None
    log_retention_days: int
    deployment: str
    execution_data_in_logs: bool = False
    state_machine_log_level: str = "ERROR"


class CachePipeline(pulumi.ComponentResource):
    """SNS topic -> trigger Lambda -> Step Functions (EXPRESS): CacheStart -> CacheInfo -> CacheBacklinks.

    Deliveries SNS cannot make to the trigger, and trigger invocations that fail after their retries, land in
    one SQS dead-letter queue.
    """

    topic: aws.sns.Topic
    dead_letter_queue: aws.sqs.Queue
    state_machine: aws.sfn.StateMachine
    trigger: LambdaFunction
    steps: dict[str, LambdaFunction]
    execution_logs: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: CachePipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wikiroam:components:CachePipeline", name, None, opts)
        # No KMS on the topic: its messages carry public page ids and titles only, and an AWS managed key would
        # make every publisher and subscriber a KMS caller too.
        self.topic = aws.sns.Topic(f"{name}-topic", opts=pulumi.ResourceOptions(parent=self))
        self.dead_letter_queue = self._create_dead_letter_queue(name)
        self.steps = self._create_steps(name, args)
        self.state_machine = self._create_state_machine(name, args)
        self.trigger = self._create_trigger(name, args)
        self.register_outputs(
            {
                "topic_arn": self.topic.arn,
                "dead_letter_queue_url": self.dead_letter_queue.url,
                "state_machine_arn": self.state_machine.arn,
            }
        )

    @property
    def functions(self) -> dict[str, LambdaFunction]:
        """Every function of the pipeline by role (the trigger and the three steps), e.g. to subscribe their logs."""
        return {"trigger": self.trigger, **self.steps}

    def _create_dead_letter_queue(self, name: str) -> aws.sqs.Queue:
        queue = aws.sqs.Queue(
            f"{name}-dlq",
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, self.topic.arn).apply(
                lambda arns: json.dumps(dead_letter_queue_policy(arns[0], arns[1]))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return queue

    def _create_steps(self, name: str, args: CachePipelineArgs) -> dict[str, LambdaFunction]:
        pages = pulumi.Output.from_input(args.pages_table_arn)
        both = pulumi.Output.all(args.pages_table_arn, args.links_table_arn)
        return {
            "start": self._create_step(
                name=name,
                args=args,
                step="start",
                does="claim the page",
                size=args.step_size,
                statements=pages.apply(cache_start_statements),
            ),
            "info": self._create_step(
                name=name,
                args=args,
                step="info",
                does="cache the article's data",
                size=args.step_size,
                statements=pages.apply(cache_info_statements),
            ),
            "backlinks": self._create_step(
                name=name,
                args=args,
                step="backlinks",
                does="cache every link to the page",
                size=args.backlinks_size,
                statements=both.apply(lambda arns: cache_backlinks_statements(arns[0], arns[1])),
            ),
        }

    def _create_step(
        self,
        *,
        name: str,
        args: CachePipelineArgs,
        step: str,
        does: str,
        size: FunctionSize,
        statements: pulumi.Output[list[Statement]],
    ) -> LambdaFunction:
        return LambdaFunction(
            f"{name}-{step}",
            LambdaFunctionArgs(
                description=f"WikiRoam cache step {step}: {does}",
                handler=f"functions.handlers.cache_steps.{step}",
                code=args.code,
                layers=args.layers,
                environment=cache_step_environment(args.wiki, args.table_names, args.max_backlinks, args.deployment),
                statements=statements,
                size=size,
                log_retention_days=args.log_retention_days,
                reserved_concurrency=args.step_concurrency,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_state_machine(self, name: str, args: CachePipelineArgs) -> aws.sfn.StateMachine:
        log_group = self.execution_logs = aws.cloudwatch.LogGroup(
            f"{name}-executions-logs",
            retention_in_days=args.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        role = aws.iam.Role(
            f"{name}-state-machine-role",
            description="Runs the WikiRoam cache pipeline state machine",
            assume_role_policy=json.dumps(assume_role_policy("states.amazonaws.com")),
            opts=pulumi.ResourceOptions(parent=self),
        )
        function_arns = [self.steps[step].arn for step in ("start", "info", "backlinks")]
        policy = aws.iam.RolePolicy(
            f"{name}-state-machine-policy",
            role=role.id,
            policy=pulumi.Output.all(*function_arns).apply(lambda arns: json.dumps(state_machine_policy(arns))),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.sfn.StateMachine(
            f"{name}-state-machine",
            type="EXPRESS",
            role_arn=role.arn,
            definition=pulumi.Output.all(*function_arns).apply(
                lambda arns: json.dumps(state_machine_definition(arns[0], arns[1], arns[2]))
            ),
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                # ERROR by default: Step Functions logs about six events per state at level ALL, 1.2 KB per state
                # span even without data; the steps write their state and execution spans themselves, and the
                # failures (TaskFailed, ExecutionFailed...) still come from here. Data is logged when asked for.
                level=args.state_machine_log_level,
                include_execution_data=args.execution_data_in_logs,
                log_destination=log_group.arn.apply(lambda arn: f"{arn}:*"),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _create_trigger(self, name: str, args: CachePipelineArgs) -> LambdaFunction:
        trigger = LambdaFunction(
            f"{name}-trigger",
            LambdaFunctionArgs(
                description="WikiRoam trigger: runs one cache pipeline execution per requested page to its end",
                handler="functions.handlers.trigger.handler",
                code=args.code,
                layers=args.layers,
                environment=trigger_environment(self.state_machine.arn, self.topic.arn, args.deployment),
                statements=pulumi.Output.all(self.state_machine.arn, self.topic.arn, self.dead_letter_queue.arn).apply(
                    lambda arns: trigger_statements(arns[0], arns[1], arns[2])
                ),
                size=args.trigger_size,
                log_retention_days=args.log_retention_days,
                reserved_concurrency=trigger_concurrency(args.step_concurrency),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-trigger-async",
            function_name=trigger.function_name,
            maximum_retry_attempts=TRIGGER_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=TRIGGER_MAX_EVENT_AGE_SECONDS,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=self.dead_letter_queue.arn
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        permission = aws.lambda_.Permission(
            f"{name}-trigger-invoke",
            action="lambda:InvokeFunction",
            function=trigger.function_name,
            principal="sns.amazonaws.com",
            source_arn=self.topic.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.sns.TopicSubscription(
            f"{name}-trigger-subscription",
            topic=self.topic.arn,
            protocol="lambda",
            endpoint=trigger.arn,
            redrive_policy=self.dead_letter_queue.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn})),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        return trigger
