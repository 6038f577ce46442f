"""Messaging access: cache requests published to SNS, pipeline executions run in Step Functions.

The data-access twin of `functions.store` for the pipeline's two messaging services; the message shapes they
send are the pure contracts of `functions.messages`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import ReadTimeoutError
from opentelemetry.trace import SpanKind

from functions import telemetry
from functions.messages import CacheRequest, PageRef, Reason, execution_input, execution_name

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient


class CacheRequestPublisher:
    """Publishes cache requests to the SNS topic."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn
        self.published = 0

    def publish(self, request: CacheRequest) -> str:
        """Publish one request under a PRODUCER span whose context travels in the message attributes."""
        topic = self._topic_arn.rsplit(":", 1)[-1]
        with telemetry.aws_call_span(
            f"publish {topic}",
            kind=SpanKind.PRODUCER,
            service="SNS",
            method="Publish",
            attributes={
                "messaging.system": "aws_sns",
                "messaging.operation.type": "send",
                "messaging.operation.name": "publish",
                "messaging.destination.name": topic,
                "messaging.batch.message_count": len(request.pages),
            },
        ) as span:
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Message=request.to_json(),
                MessageAttributes=telemetry.sns_message_attributes(),  # type: ignore[arg-type]
            )
            span.set_attribute("messaging.message.id", response["MessageId"])
        self.published += 1
        return response["MessageId"]


class PipelineRun:
    """How one page's execution ended: `status` is StartSyncExecution's SUCCEEDED, FAILED or TIMED_OUT, or
    RUNNING when it outlasted the trigger's wait (it runs on by itself; `execution_arn` is then its name).

    A plain class: the api imports this module for its publisher, and a dataclass costs its cold start.
    """

    __slots__ = ("error", "execution_arn", "pageid", "status")

    def __init__(self, pageid: int, execution_arn: str, status: str, error: str | None = None) -> None:
        self.pageid = pageid
        self.execution_arn = execution_arn
        self.status = status
        self.error = error


class PipelineRunner:
    """Runs cache pipeline executions synchronously: each call returns when its execution has ended.

    Waiting is the point: the trigger's reserved concurrency then bounds the executions in flight (backpressure),
    where a started-and-forgotten execution would pile onto the cache steps' reserved concurrency.
    """

    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._client = client
        self._state_machine_arn = state_machine_arn

    def run(self, page: PageRef, reason: Reason, message_id: str) -> PipelineRun:
        """Run the page's execution to its end. A FAILED execution is an answer, not an exception: its Catch path
        has already marked the page `failed` with the error's name."""
        # The CLIENT span of the call is opened here, not by the client hook, so that its context is the one the
        # execution's name carries: the execution span is its child, and this span lasts as long as the execution.
        with telemetry.aws_call_span(
            "SFN.StartSyncExecution",
            kind=SpanKind.CLIENT,
            service="SFN",
            method="StartSyncExecution",
            attributes={
                "aws.step_functions.state_machine.arn": self._state_machine_arn,
                "wikiroam.page.id": page.pageid,
            },
        ) as span:
            carrier = telemetry.trace_carrier()
            name = execution_name(page, message_id, carrier.get("traceparent"))
            span.set_attribute("aws.step_functions.execution.name", name)
            try:
                response = self._client.start_sync_execution(
                    stateMachineArn=self._state_machine_arn,
                    name=name,
                    input=json.dumps(execution_input(page, reason, carrier), ensure_ascii=False),
                )
            except ReadTimeoutError:
                # A long execution (a hub's backlinks under a slow wiki): it runs on, the trigger goes on.
                span.set_attribute("aws.step_functions.execution.status", "RUNNING")
                return PipelineRun(page.pageid, name, "RUNNING", "WaitedOut")
            run = PipelineRun(page.pageid, response["executionArn"], response["status"], response.get("error"))
            span.set_attribute("aws.step_functions.execution.arn", run.execution_arn)
            span.set_attribute("aws.step_functions.execution.status", run.status)
            if run.error is not None:
                span.set_attribute("aws.step_functions.execution.error", run.error)
        return run
