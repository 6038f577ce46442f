"""SNS cache requests in, one cache pipeline execution per page out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from functions import telemetry
from functions.clients import BACKGROUND, aws_client
from functions.errors import InvalidCacheRequest
from functions.handlers import SandboxApp
from functions.messages import CacheRequest
from functions.messaging import PipelineStarter
from functions.settings import trigger_settings

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class Trigger:
    """Starts the pipeline for every page of every request in an SNS event."""

    def __init__(self, starter: PipelineStarter) -> None:
        self._starter = starter

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Validate every record first, so a bad one starts nothing rather than half of the event."""
        requests = [(message_id, CacheRequest.from_json(body)) for message_id, body in _sns_messages(event)]
        executions = []
        for message_id, request in requests:
            executions.extend(self._starter.start(request.pages, request.reason, message_id))
        return {"executions": executions}


def _sns_messages(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        raise InvalidCacheRequest("the event has no SNS Records")
    messages = []
    for record in records:
        sns = record.get("Sns") if isinstance(record, dict) else None
        if not isinstance(sns, dict) or not isinstance(sns.get("Message"), str):
            raise InvalidCacheRequest("an event record is not an SNS notification with a Message")
        messages.append((str(sns.get("MessageId") or ""), sns["Message"]))
    return messages


def build(env: Mapping[str, str], *, stepfunctions: SFNClient | None = None) -> Trigger:
    """The trigger function's handler, wired from its environment (and a Step Functions client, in tests)."""
    settings = trigger_settings(env)
    client = telemetry.instrument_client(stepfunctions or aws_client("stepfunctions", BACKGROUND))
    return Trigger(PipelineStarter(client, settings.state_machine_arn))


app = SandboxApp(build)


@telemetry.traced_handler(
    telemetry.sns_invocation, trigger="pubsub", name="cache-trigger", operation=telemetry.TRIGGER_OPERATION
)
def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    return app()(event, context)
