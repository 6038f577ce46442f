"""Fixtures shared by every layer: real event payloads, an in-process AWS (moto), the functions' telemetry."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions import telemetry
from local.aws import create_tables, local_aws_env
from local.samplewiki.server import SampleWiki
from tests.support.telemetry import TEST_ENV, SpanLog

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded event payload from tests/events/."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))


@dataclass
class Aws:
    """moto's in-process AWS with WikiRoam's tables and topic."""

    dynamodb: Any
    sns: Any
    sqs: Any
    pages_table: str
    links_table: str
    topic_arn: str
    queue_url: str

    def published(self) -> list[dict[str, Any]]:
        """Every cache request published so far, decoded (read through an SQS subscription)."""
        messages = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(json.loads(message["Body"])["Message"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """Given an empty AWS account with the pages and links tables and the cache request topic."""
    for key, value in local_aws_env(None).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        sns = boto3.client("sns")
        sqs = boto3.client("sqs")
        create_tables(dynamodb, "wikiroam-pages", "wikiroam-links")
        topic_arn = sns.create_topic(Name="wikiroam-cache-requests")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="published")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield Aws(dynamodb, sns, sqs, "wikiroam-pages", "wikiroam-links", topic_arn, queue_url)


@pytest.fixture
def sync_executions(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Given moto running state machines (as the local stack has it), so StartSyncExecution answers when the
    execution ends (`local.fidelity.patched_sync_executions`)."""
    from moto.core.config import default_user_config

    from local.fidelity import patched_sync_executions

    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    # In-process moto serves states.<region>, not AWS's sync-states.<region> host of StartSyncExecution.
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    with patched_sync_executions():
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its layer (its folder under tests/), so `-m unit` and friends select it."""
    for item in items:
        parts = Path(str(item.path)).relative_to(Path(__file__).parent).parts
        if len(parts) > 1 and parts[0] in ("unit", "infra", "integration", "e2e"):
            item.add_marker(parts[0])


@pytest.fixture(scope="session")
def sample_wiki() -> Iterator[SampleWiki]:
    """The sample wiki on a loopback port, shared by the session; tests reset its faults and request log."""
    with SampleWiki() as wiki:
        yield wiki


@pytest.fixture
def wiki(sample_wiki: SampleWiki) -> Iterator[SampleWiki]:
    """Given the sample wiki with no faults armed and an empty request log."""
    sample_wiki.faults.clear()
    sample_wiki.reset_log()
    yield sample_wiki
    sample_wiki.faults.clear()


@pytest.fixture
def span_log() -> Iterator[SpanLog]:
    """Given telemetry on (a named deployment) in a fresh sandbox, writing span lines to a buffer."""
    log = SpanLog()
    telemetry.reset()
    telemetry.configure(TEST_ENV, stream=log.stream)
    yield log
    telemetry.reset()
