"""Messaging access: cache requests published to SNS, pipeline executions started in Step Functions.

The data-access twin of `functions.store` for the pipeline's two messaging services; the message shapes they
send are the pure contracts of `functions.messages`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

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


class PipelineStarter:
    """Starts cache pipeline executions."""

    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._client = client
        self._state_machine_arn = state_machine_arn

    def start(self, pages: Sequence[PageRef], reason: Reason, message_id: str) -> list[str]:
        """Start one execution per page; returns their ARNs."""
        arns = []
        for page in pages:
            # The CLIENT span of the call is opened here, not by the client hook, so that its context is the
            # one the execution's name and `_trace` carry: the execution span is its child.
            with telemetry.aws_call_span(
                "SFN.StartExecution",
                kind=SpanKind.CLIENT,
                service="SFN",
                method="StartExecution",
                attributes={
                    "aws.step_functions.state_machine.arn": self._state_machine_arn,
                    "wikiroam.page.id": page.pageid,
                },
            ) as span:
                carrier = telemetry.trace_carrier()
                name = execution_name(page, message_id, carrier.get("traceparent"))
                span.set_attribute("aws.step_functions.execution.name", name)
                response = self._client.start_execution(
                    stateMachineArn=self._state_machine_arn,
                    name=name,
                    input=json.dumps(execution_input(page, reason, carrier), ensure_ascii=False),
                )
                span.set_attribute("aws.step_functions.execution.arn", response["executionArn"])
            arns.append(response["executionArn"])
        return arns
