"""Spans across the hops: api -> SNS -> trigger -> StartExecution -> steps, and the dependency spans on the way."""

from __future__ import annotations

import json

import boto3
import pytest
import requests
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from functions import settings, telemetry
from functions.errors import WikiUnavailable
from functions.handlers import SandboxApp, cache_steps, trigger
from functions.messages import CacheRequest, PageRef
from functions.messaging import CacheRequestPublisher
from functions.store import PageStore
from functions.wiki import WikiClient
from tests.conftest import load_event
from tests.support.telemetry import LambdaContext, attributes

PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def test_given_a_cache_request_when_published_then_a_producer_span_travels_in_the_message_attributes(aws, span_log):
    sns = telemetry.instrument_client(aws.sns)
    publisher = CacheRequestPublisher(sns, aws.topic_arn)
    publisher.publish(CacheRequest(pages=(PageRef(1000, "Zürich"),), reason="search"))
    producer = span_log.named("publish wikiroam-cache-requests")
    assert producer.kind == Span.SPAN_KIND_PRODUCER
    values = attributes(producer)
    assert values["messaging.system"] == "aws_sns"
    assert values["messaging.destination.name"] == "wikiroam-cache-requests"
    assert values["rpc.method"] == "Publish"
    # The client hook added to the PRODUCER span instead of nesting a twin CLIENT span.
    assert values["http.response.status_code"] == 200
    assert [s.name for s in span_log.spans()] == ["publish wikiroam-cache-requests"]
    (message,) = aws.sqs.receive_message(QueueUrl=aws.queue_url, MessageAttributeNames=["All"])["Messages"]
    carried = json.loads(message["Body"])["MessageAttributes"]["traceparent"]
    assert carried["Type"] == "String"
    assert carried["Value"].startswith(f"00-{producer.trace_id.hex()}-{producer.span_id.hex()}-")


def test_given_a_span_that_only_looks_like_the_calls_then_the_hook_still_nests_the_call_under_it(aws, span_log):
    # Only `aws_call_span` claims a call: a span with the same rpc attributes opened any other way is a parent.
    sns = telemetry.instrument_client(aws.sns)
    with telemetry.tracer().start_as_current_span(
        "look-alike", attributes={"rpc.service": "SNS", "rpc.method": "Publish"}
    ):
        sns.publish(TopicArn=aws.topic_arn, Message="{}")
    look_alike, call = span_log.named("look-alike"), span_log.named("SNS.Publish")
    assert call.parent_span_id == look_alike.span_id
    assert call.kind == Span.SPAN_KIND_CLIENT


def test_given_an_instrumented_dynamodb_client_then_each_call_is_a_client_span_with_its_table(aws, span_log):
    pages = PageStore(telemetry.instrument_client(aws.dynamodb), aws.pages_table)
    with telemetry.tracer().start_as_current_span("parent") as parent:
        assert pages.claim(1, "A", "exec-1", 1000.0, 900)
        assert not pages.claim(1, "A", "exec-2", 1000.0, 900)
    claims = [s for s in span_log.spans() if s.name == "DynamoDB.UpdateItem"]
    assert len(claims) == 2
    for span in claims:
        assert span.kind == Span.SPAN_KIND_CLIENT
        assert int.from_bytes(span.parent_span_id, "big") == parent.get_span_context().span_id
        values = attributes(span)
        assert values["rpc.system"] == "aws-api"
        assert values["rpc.service"] == "DynamoDB"
        assert values["db.system"] == "dynamodb"
        assert values["aws.dynamodb.table_names"] == [aws.pages_table]
        assert values["aws.region"] == "us-east-1"
    assert claims[0].status.code == Status.STATUS_CODE_UNSET
    assert claims[1].status.code == Status.STATUS_CODE_ERROR
    assert attributes(claims[1])["error.type"] == "ConditionalCheckFailedException"


def test_given_a_batch_write_then_its_span_names_every_table_in_the_request(aws, span_log):
    client = telemetry.instrument_client(aws.dynamodb)
    client.batch_write_item(
        RequestItems={aws.links_table: [{"PutRequest": {"Item": {"toid": {"N": "1"}, "lo": {"N": "0"}}}}]}
    )
    assert attributes(span_log.named("DynamoDB.BatchWriteItem"))["aws.dynamodb.table_names"] == [aws.links_table]


@pytest.fixture
def trigger_env(aws, sync_executions, monkeypatch):
    """Given the trigger's environment, with a state machine moto runs, and a cold trigger sandbox."""
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = boto3.client("stepfunctions").create_state_machine(
        name="wikiroam-cache", definition=json.dumps(PASS_MACHINE), roleArn=role, type="EXPRESS"
    )["stateMachineArn"]
    monkeypatch.setenv(settings.STATE_MACHINE_ARN, machine)
    monkeypatch.setenv(settings.CACHE_TOPIC_ARN, aws.topic_arn)
    monkeypatch.setattr(trigger, "app", SandboxApp(trigger.build))
    return machine


def test_given_an_sns_delivery_then_each_start_execution_span_is_carried_into_its_execution_input(
    trigger_env, span_log
):
    result = trigger.handler(load_event("sns_cache_request"), LambdaContext())
    consumer = span_log.named("cache-trigger")
    starts = [s for s in span_log.spans() if s.name == "SFN.StartSyncExecution"]
    # One CLIENT span per execution: the hook enriched the span the starter opened, it did not nest another.
    assert len(starts) == 2
    sfn = boto3.client("stepfunctions")
    for arn in result["executions"]:
        document = json.loads(sfn.describe_execution(executionArn=arn)["input"])
        assert set(document) == {"page", "reason", "_trace"}
        # The name carries the same traceparent, for logs written without execution data.
        assert arn.endswith("-" + document["_trace"]["traceparent"])
        _, trace_id, span_id, _ = document["_trace"]["traceparent"].split("-")
        (start,) = [s for s in starts if s.span_id.hex() == span_id]
        assert start.trace_id.hex() == trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert start.parent_span_id == consumer.span_id
        assert start.kind == Span.SPAN_KIND_CLIENT
        assert attributes(start)["aws.step_functions.execution.arn"] == arn
        assert attributes(start)["aws.step_functions.execution.status"] == "SUCCEEDED"
        # The CLIENT span lasts as long as the execution it waited for.
        assert start.end_time_unix_nano >= consumer.start_time_unix_nano


@pytest.fixture
def steps_env(aws, monkeypatch):
    """Given the cache steps' environment (a wiki that is never reached) and a cold steps sandbox."""
    values = {
        settings.WIKI_API_URL: "http://127.0.0.1:9/w/api.php",
        settings.WIKI_CONTACT: "ops@wikiroam.test",
        settings.PAGES_TABLE: aws.pages_table,
        settings.LINKS_TABLE: aws.links_table,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(cache_steps, "app", SandboxApp(cache_steps.build))


def test_given_a_task_with_trace_in_its_input_then_the_step_and_its_dynamodb_calls_hang_under_the_state(
    steps_env, span_log
):
    event = load_event("task_cache_start")
    event["input"]["_trace"] = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"}
    assert cache_steps.start(event, LambdaContext()) == {"proceed": True, "reason": "claimed"}
    step = span_log.named("cache-start")
    context = event["context"]
    state_id = telemetry.state_span_id(context["execution_id"], context["state_name"], context["entered_time"])
    assert int.from_bytes(step.parent_span_id, "big") == state_id
    assert step.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    claim = span_log.named("DynamoDB.UpdateItem")
    assert (claim.trace_id, claim.parent_span_id) == (step.trace_id, step.span_id)


NAMED_EXECUTION = (
    "arn:aws:states:us-east-1:123456789012:express:wikiroam-cache:"
    "1000-00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01:3f2c5a1e"
)


def task_event(state_name: str = "CacheBacklinks", retry_count: int = 0, **context) -> dict:
    """A task payload as the state machine sends it (no `_trace` in the input: the trace is in the name)."""
    return {
        "input": {"page": {"pageid": 1000, "title": "Zürich"}, "reason": "search"},
        "context": {
            "execution_id": NAMED_EXECUTION,
            "state_name": state_name,
            "entered_time": "2026-11-27T19:08:59.613Z",
            "retry_count": retry_count,
            "execution_start": "2026-11-27T19:08:59.500Z",
            **context,
        },
    }


def failing_step(error: Exception):
    """A step that raises `error`, for which Step Functions retries WikiUnavailable up to its first retry."""

    @telemetry.traced_handler(
        telemetry.step_invocation,
        trigger="other",
        name="cache-backlinks",
        operation=telemetry.STEP_OPERATION,
        final_failure=lambda failure, retry_count: not isinstance(failure, WikiUnavailable) or retry_count >= 1,
    )
    def step(event, context):
        raise error

    return step


def test_given_a_task_that_ends_its_execution_then_the_step_writes_its_state_span_and_the_executions(span_log):
    @telemetry.traced_handler(telemetry.step_invocation, trigger="other", name="cache-backlinks", operation="x")
    def step(event, context):
        return {"complete": True}

    step(task_event(ends_execution={"on_success": "SUCCEEDED"}), LambdaContext())
    faas, state, execution = (
        span_log.named(n) for n in ("cache-backlinks", "CacheBacklinks", telemetry.EXECUTION_SPAN_NAME)
    )
    state_id = telemetry.state_span_id(NAMED_EXECUTION, "CacheBacklinks", "2026-11-27T19:08:59.613Z")
    assert int.from_bytes(state.span_id, "big") == state_id
    assert faas.parent_span_id == state.span_id
    assert state.parent_span_id == execution.span_id
    assert int.from_bytes(execution.span_id, "big") == telemetry.execution_span_id(NAMED_EXECUTION)
    # The execution is the child of the trigger's StartSyncExecution span, whose traceparent its name carries.
    assert execution.parent_span_id.hex() == "b7ad6b7169203331"
    assert {s.trace_id.hex() for s in (faas, state, execution)} == {"4bf92f3577b34da6a3ce929d0e0e4736"}
    assert state.start_time_unix_nano == telemetry.epoch_ms("2026-11-27T19:08:59.613Z") * 10**6
    assert execution.start_time_unix_nano == telemetry.epoch_ms("2026-11-27T19:08:59.500Z") * 10**6
    assert state.end_time_unix_nano >= faas.end_time_unix_nano
    assert execution.kind == Span.SPAN_KIND_SERVER
    assert attributes(state)["aws.step_functions.state.type"] == "Task"
    assert attributes(execution)["aws.step_functions.execution.status"] == "SUCCEEDED"


def test_given_a_choice_after_the_task_then_the_execution_span_only_when_the_result_takes_the_ending_branch(
    span_log,
):
    @telemetry.traced_handler(telemetry.step_invocation, trigger="other", name="cache-start", operation="x")
    def step(event, context):
        return {"proceed": event["input"]["reason"] == "search"}

    ends = {"on_success": "SUCCEEDED", "when": {"proceed": False}}
    step(task_event("CacheStart", ends_execution=ends), LambdaContext())
    assert [s.name for s in span_log.spans()] == ["cache-start", "CacheStart"]
    cached = task_event("CacheStart", ends_execution=ends)
    cached["input"]["reason"] = "page"
    step(cached, LambdaContext())
    assert [s.name for s in span_log.spans()][2:] == ["cache-start", "CacheStart", telemetry.EXECUTION_SPAN_NAME]


def test_given_a_failed_attempt_that_step_functions_retries_then_no_state_span_until_the_attempt_that_ends_it(
    span_log,
):
    with pytest.raises(WikiUnavailable):
        failing_step(WikiUnavailable("503"))(task_event(), LambdaContext())
    assert [s.name for s in span_log.spans()] == ["cache-backlinks"]
    with pytest.raises(WikiUnavailable):
        failing_step(WikiUnavailable("503"))(task_event(retry_count=1), LambdaContext())
    first, last, state = span_log.spans()
    assert (first.parent_span_id, last.parent_span_id) == (state.span_id, state.span_id)
    assert state.status.code == Status.STATUS_CODE_ERROR
    assert attributes(state)["error.type"] == "WikiUnavailable"
    assert attributes(state)["aws.step_functions.state.retry_count"] == 1
    assert [e.name for e in state.events] == ["retry"]


def test_given_a_recorder_that_ends_a_failed_execution_then_the_execution_span_is_an_error_naming_the_step_error(
    span_log,
):
    @telemetry.traced_handler(telemetry.step_invocation, trigger="other", name="cache-start", operation="x")
    def record_failure(event, context):
        return {"recorded": True}

    event = task_event("RecordFailure", ends_execution={"on_success": "FAILED", "on_failure": "FAILED"})
    event["input"]["error"] = {"Error": "Sandbox.Timedout", "Cause": "Task timed out after 30.00 seconds"}
    record_failure(event, LambdaContext())
    execution = span_log.named(telemetry.EXECUTION_SPAN_NAME)
    assert execution.status.code == Status.STATUS_CODE_ERROR
    assert attributes(execution)["error.type"] == "Sandbox.Timedout"
    assert attributes(execution)["aws.step_functions.execution.status"] == "FAILED"
    assert span_log.named("RecordFailure").status.code == Status.STATUS_CODE_UNSET


# --- the wiki client


class ScriptedSession(requests.Session):
    """A session answering from a script of (status, body, headers), recording nothing else."""

    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)

    def get(self, url, params=None, timeout=None, **kwargs):
        status, body, headers = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers.update(headers)
        response.url = requests.Request("GET", url, params=params).prepare().url
        return response


SEARCH = {"query": {"pages": [{"pageid": 1, "title": "River", "index": 1, "extract": "A river."}]}}


def test_given_a_wiki_request_retried_after_a_429_then_one_client_span_with_the_retry_as_an_event(span_log):
    session = ScriptedSession([(429, {}, {"Retry-After": "1"}), (200, SEARCH, {})])
    client = WikiClient(
        "https://wiki.test/w/api.php", contact="ops@wikiroam.test", session=session, sleep=lambda s: None
    )
    assert [p.title for p in client.search("river", limit=1)] == ["River"]
    span = span_log.named("GET")
    assert span.kind == Span.SPAN_KIND_CLIENT
    values = attributes(span)
    assert values["http.request.method"] == "GET"
    assert values["server.address"] == "wiki.test"
    assert values["server.port"] == 443
    assert values["http.response.status_code"] == 200
    assert values["url.full"].startswith("https://wiki.test/w/api.php?action=query")
    assert values["http.request.resend_count"] == 1
    assert values["wikiroam.wiki.rate_limited"] == 1
    assert (values["operation.name"], values["resource.name"]) == ("wikiroam.wiki.request", "wiki search")
    (retry,) = span.events
    assert retry.name == "retry"
    assert attributes(retry) == {"wikiroam.retry.reason": "429", "wikiroam.retry.delay_s": 1.0}
    assert span.status.code == Status.STATUS_CODE_UNSET


def test_given_a_wiki_that_keeps_failing_then_the_span_is_an_error_naming_the_exception(span_log):
    session = ScriptedSession([(503, {}, {}), (503, {}, {})])
    client = WikiClient(
        "http://wiki.test:8080/api.php", contact="c", max_retries=1, session=session, sleep=lambda s: None
    )
    with pytest.raises(WikiUnavailable):
        client.search("river", limit=1)
    span = span_log.named("GET")
    assert span.status.code == Status.STATUS_CODE_ERROR
    assert attributes(span)["error.type"] == "WikiUnavailable"
    assert attributes(span)["server.port"] == 8080
    assert "wikiroam.wiki.rate_limited" not in attributes(span)  # a 503 is an outage, not a request to slow down
    assert [e.name for e in span.events] == ["retry", "exception"]
