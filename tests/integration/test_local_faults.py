"""Faults on demand (WIKIROAM_FAULTS) at the emulated services, through real clients: each fires at rate 1, never at 0.

DynamoDB and SNS faults are injected in moto's server, so they are seen by boto3 here and from the Lambda
sandboxes alike; wiki faults by the sample wiki; Lambda faults by the local runtime.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from local import emulated_faults
from local.emulated_faults import install_emulated_faults
from local.faults import FaultRates, mark_as_harness
from local.samplewiki.server import SampleWiki
from local.stack import LocalStack, StackOptions
from tests.support.local_aws import credentials, probe_zip

pytestmark = pytest.mark.integration

THROTTLED = "ProvisionedThroughputExceededException"
# A handler that writes one item through the function's own boto3 client, with no retry to hide a throttle.
WRITER = """
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def handler(event, context):
    client = boto3.client("dynamodb", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    try:
        client.put_item(TableName="faulty", Item={"pk": {"S": "from-lambda"}})
    except ClientError as error:
        return {"error": error.response["Error"]["Code"]}
    return {"error": None}
"""


@pytest.fixture
def faults(local_aws) -> Iterator[FaultRates]:
    """Given the fault registry installed in moto's server and the Lambda runtime, every rate 0."""
    registry = FaultRates()
    local_aws.runner.fault_chance = registry.should_inject

    def background() -> Callable[[], None]:
        local_aws.activity.begin()
        return local_aws.activity.end

    with install_emulated_faults(registry, background):
        yield registry


def no_retries(local_aws, service: str):
    """A client that shows every fault (boto3 would otherwise retry throttles by itself)."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    return boto3.client(service, endpoint_url=local_aws.endpoint, config=config, **credentials())


def table(local_aws) -> str:
    local_aws.client("dynamodb").create_table(
        TableName="faulty",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    return "faulty"


def item(key: str) -> dict:
    return {"pk": {"S": key}}


# --- DynamoDB


def test_given_write_throttle_at_1_then_every_single_item_write_is_throttled_as_dynamodb_does(local_aws, faults):
    name = table(local_aws)
    dynamodb = no_retries(local_aws, "dynamodb")
    faults.set_rates({"dynamodb_write_throttle": 1.0})

    codes = []
    for call in (
        lambda: dynamodb.put_item(TableName=name, Item=item("a")),
        lambda: dynamodb.update_item(
            TableName=name, Key=item("a"), UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "1"}}
        ),
        lambda: dynamodb.delete_item(TableName=name, Key=item("a")),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        codes.append(raised.value.response["Error"]["Code"])
        reasons = raised.value.response["ThrottlingReasons"]
        assert reasons == [
            {
                "reason": "TableWriteKeyRangeThroughputExceeded",
                "resource": f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}",
            }
        ]

    assert codes == [THROTTLED] * 3
    assert faults.injected["dynamodb_write_throttle"] == 3
    # Reads are another fault: untouched.
    assert "Item" not in dynamodb.get_item(TableName=name, Key=item("a"))


def test_given_write_throttle_at_0_then_no_write_is_throttled(local_aws, faults):
    name = table(local_aws)
    dynamodb = no_retries(local_aws, "dynamodb")
    faults.set_rates({"dynamodb_write_throttle": 0.0, "dynamodb_read_throttle": 0.0})

    for index in range(20):
        dynamodb.put_item(TableName=name, Item=item(str(index)))

    assert dynamodb.scan(TableName=name)["Count"] == 20
    assert faults.injected["dynamodb_write_throttle"] == 0


def test_given_read_throttle_at_1_then_get_query_and_scan_are_throttled(local_aws, faults):
    name = table(local_aws)
    dynamodb = no_retries(local_aws, "dynamodb")
    dynamodb.put_item(TableName=name, Item=item("a"))
    faults.set_rates({"dynamodb_read_throttle": 1.0})

    for call in (
        lambda: dynamodb.get_item(TableName=name, Key=item("a")),
        lambda: dynamodb.query(
            TableName=name, KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "a"}}
        ),
        lambda: dynamodb.scan(TableName=name),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == THROTTLED
        assert raised.value.response["ThrottlingReasons"][0]["reason"] == "TableReadKeyRangeThroughputExceeded"

    assert faults.injected["dynamodb_read_throttle"] == 3


def test_given_write_throttle_then_a_batch_write_is_partly_processed_with_the_rest_unprocessed(local_aws, faults):
    name = table(local_aws)
    dynamodb = no_retries(local_aws, "dynamodb")
    faults.set_rates({"dynamodb_write_throttle": 1.0})
    requests_ = [{"PutRequest": {"Item": item(str(index))}} for index in range(5)]

    answer = dynamodb.batch_write_item(RequestItems={name: requests_})

    assert answer["UnprocessedItems"] == {name: requests_[2:]}
    stored = local_aws.client("dynamodb").scan(TableName=name)["Items"]
    assert sorted(i["pk"]["S"] for i in stored) == ["0", "1"]
    # Retrying the unprocessed items as the SDK docs say: each throttled request processes half again.
    pending = answer["UnprocessedItems"]
    while len(pending.get(name, [])) > 1:
        pending = dynamodb.batch_write_item(RequestItems=pending)["UnprocessedItems"]
    # A batch of which nothing can be processed is DynamoDB's exception, not an empty answer.
    with pytest.raises(ClientError) as raised:
        dynamodb.batch_write_item(RequestItems=pending)
    assert raised.value.response["Error"]["Code"] == THROTTLED
    faults.set_rates({"dynamodb_write_throttle": 0.0})
    assert dynamodb.batch_write_item(RequestItems=pending)["UnprocessedItems"] == {}
    assert local_aws.client("dynamodb").scan(TableName=name)["Count"] == 5


def test_given_read_throttle_then_a_batch_get_answers_half_and_returns_the_rest_as_unprocessed_keys(local_aws, faults):
    name = table(local_aws)
    dynamodb = no_retries(local_aws, "dynamodb")
    for index in range(4):
        dynamodb.put_item(TableName=name, Item=item(str(index)))
    faults.set_rates({"dynamodb_read_throttle": 1.0})
    keys = [item(str(index)) for index in range(4)]

    answer = dynamodb.batch_get_item(RequestItems={name: {"Keys": keys, "ConsistentRead": True}})

    assert sorted(i["pk"]["S"] for i in answer["Responses"][name]) == ["0", "1"]
    assert answer["UnprocessedKeys"] == {name: {"Keys": keys[2:], "ConsistentRead": True}}
    assert faults.injected["dynamodb_read_throttle"] == 1


def test_given_rate_1_then_the_local_stacks_own_requests_still_pass(local_aws, faults):
    name = table(local_aws)
    faults.set_rates({"dynamodb_write_throttle": 1.0, "dynamodb_read_throttle": 1.0})
    harness = mark_as_harness(no_retries(local_aws, "dynamodb"))

    harness.put_item(TableName=name, Item=item("a"))

    assert harness.get_item(TableName=name, Key=item("a"))["Item"] == item("a")
    assert faults.injected == dict.fromkeys(faults.injected, 0)


def test_given_write_throttle_then_a_lambda_sandbox_calling_dynamodb_over_http_is_throttled_too(local_aws, faults):
    table(local_aws)
    local_aws.function("writer", code=probe_zip(WRITER))
    faults.set_rates({"dynamodb_write_throttle": 1.0})

    throttled, _ = local_aws.invoke("writer", {})
    faults.set_rates({"dynamodb_write_throttle": 0.0})
    written, _ = local_aws.invoke("writer", {})

    assert throttled == {"error": THROTTLED}
    assert written == {"error": None}
    assert faults.injected["dynamodb_write_throttle"] == 1


# --- Lambda


def report_line(local_aws, group: str) -> str:
    return next(m for m in reversed(local_aws.messages(group)) if m.startswith("REPORT"))


def test_given_lambda_error_at_1_then_invocations_fail_unhandled_without_running_and_count_as_errors(local_aws, faults):
    local_aws.function("probe-error")
    faults.set_rates({"lambda_error": 1.0})

    payload, function_error = local_aws.invoke("probe-error", {})

    assert function_error  # "Unhandled" in AWS; moto 5.2.5 says "Handled" for every function error
    assert payload["errorType"] == "Runtime.InjectedFault"
    assert "lambda_error" in payload["errorMessage"]
    assert local_aws.runner.stats()["probe-error"]["errors"] == 1
    assert not any(m.startswith("probe saw") for m in local_aws.messages("probe-probe-error-logs"))
    assert any("[ERROR] Runtime.InjectedFault" in m for m in local_aws.messages("probe-probe-error-logs"))
    faults.set_rates({"lambda_error": 0.0})
    answer, function_error = local_aws.invoke("probe-error", {})
    assert function_error is None
    assert answer["invocations"] == 1
    assert faults.injected["lambda_error"] == 1


def test_given_lambda_timeout_at_1_then_the_invocation_times_out_like_a_real_one_and_its_sandbox_is_replaced(
    local_aws, faults
):
    local_aws.function("probe-hang", timeout=1)
    warm, _ = local_aws.invoke("probe-hang", {})
    faults.set_rates({"lambda_timeout": 1.0})

    started = time.monotonic()
    payload, function_error = local_aws.invoke("probe-hang", {})
    waited = time.monotonic() - started
    faults.set_rates({"lambda_timeout": 0.0})
    after, _ = local_aws.invoke("probe-hang", {})

    assert function_error  # "Unhandled" in AWS; moto 5.2.5 says "Handled" for every function error
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert waited >= 1.0
    assert "Status: timeout" in next(
        m for m in local_aws.messages("probe-probe-hang-logs") if m.startswith("REPORT") and "timeout" in m
    )
    assert local_aws.runner.stats()["probe-hang"]["timeouts"] == 1
    assert (warm["invocations"], after["invocations"]) == (1, 1)  # the warm sandbox was replaced by a cold one
    assert faults.injected["lambda_timeout"] == 1


# --- SNS -> Lambda


def subscribed_topic(local_aws, name: str) -> tuple[str, str]:
    arn = local_aws.function(name)
    sqs = local_aws.client("sqs")
    queue = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns = local_aws.client("sns")
    topic = sns.create_topic(Name=f"{name}-topic")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="lambda",
        Endpoint=arn,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn})},
    )
    return topic, queue


def test_given_sns_delivery_failure_at_1_then_sns_retries_by_its_policy_and_the_message_lands_on_the_dlq(
    local_aws, faults, monkeypatch
):
    monkeypatch.setattr(emulated_faults, "SNS_DELAY_SCALE", 0.001)
    topic, queue = subscribed_topic(local_aws, "probe-undelivered")
    faults.set_rates({"sns_delivery_failure": 1.0})

    message_id = local_aws.client("sns").publish(
        TopicArn=topic,
        Message='{"pages": []}',
        MessageAttributes={
            "traceparent": {"DataType": "String", "StringValue": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
        },
    )["MessageId"]
    assert local_aws.activity.wait_idle(30)

    [message] = local_aws.client("sqs").receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
    envelope = json.loads(message["Body"])
    assert (envelope["Type"], envelope["MessageId"], envelope["TopicArn"]) == ("Notification", message_id, topic)
    assert envelope["Message"] == '{"pages": []}'
    assert "traceparent" in envelope["MessageAttributes"]
    assert message["MessageAttributes"]["ErrorCode"]["StringValue"] == "ServiceUnavailable"
    assert set(message["MessageAttributes"]) == {"ErrorCode", "ErrorMessage", "RequestID"}
    # The first attempt and the 15 retries of AWS's policy for Lambda endpoints, each failed; never invoked.
    assert faults.injected["sns_delivery_failure"] == 16
    assert local_aws.runner.stats().get("probe-undelivered", {}).get("invocations", 0) == 0


def test_given_sns_delivery_failure_at_0_then_the_message_is_delivered_and_the_dlq_stays_empty(local_aws, faults):
    topic, queue = subscribed_topic(local_aws, "probe-delivered")

    local_aws.client("sns").publish(TopicArn=topic, Message='{"pages": []}')
    assert local_aws.activity.wait_idle(30)

    assert local_aws.runner.stats()["probe-delivered"]["invocations"] == 1
    assert "Messages" not in local_aws.client("sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=0)
    assert faults.injected["sns_delivery_failure"] == 0


# --- the sample wiki


@pytest.fixture
def faulty_wiki() -> Iterator[tuple[SampleWiki, FaultRates]]:
    registry = FaultRates()
    with SampleWiki(fault_chance=registry.should_inject) as wiki:
        yield wiki, registry


SEARCH = {"action": "query", "list": "search", "srsearch": "music", "format": "json", "formatversion": "2"}


def test_given_wiki_429_at_1_then_the_wiki_answers_429_with_retry_after(faulty_wiki):
    wiki, faults = faulty_wiki
    faults.set_rates({"wiki_429": 1.0})

    answer = requests.get(wiki.api_url, params=SEARCH, timeout=10)

    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "1"
    assert faults.injected["wiki_429"] == 1


def test_given_wiki_5xx_at_1_then_the_wiki_answers_503(faulty_wiki):
    wiki, faults = faulty_wiki
    faults.set_rates({"wiki_5xx": 1.0})

    assert requests.get(wiki.api_url, params=SEARCH, timeout=10).status_code == 503
    assert faults.injected["wiki_5xx"] == 1


def test_given_wiki_maxlag_at_1_then_requests_with_maxlag_get_mediawikis_maxlag_error_and_others_do_not(faulty_wiki):
    wiki, faults = faulty_wiki
    faults.set_rates({"wiki_maxlag": 1.0})

    lagging = requests.get(wiki.api_url, params={**SEARCH, "maxlag": "5"}, timeout=10)
    reader = requests.get(wiki.api_url, params=SEARCH, timeout=10)

    assert lagging.json()["error"]["code"] == "maxlag"
    assert lagging.headers["MediaWiki-API-Error"] == "maxlag"
    assert "Retry-After" in lagging.headers
    assert reader.status_code == 200
    assert "error" not in reader.json()
    assert faults.injected["wiki_maxlag"] == 1


def test_given_wiki_timeout_at_1_then_the_wiki_does_not_answer_in_time(faulty_wiki):
    wiki, faults = faulty_wiki
    faults.set_rates({"wiki_timeout": 1.0})

    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(wiki.api_url, params=SEARCH, timeout=0.5)
    assert faults.injected["wiki_timeout"] == 1


def test_given_every_wiki_fault_at_0_then_the_wiki_answers_normally(faulty_wiki):
    wiki, faults = faulty_wiki
    faults.set_rates(dict.fromkeys(("wiki_429", "wiki_maxlag", "wiki_timeout", "wiki_5xx"), 0.0))

    answers = [requests.get(wiki.api_url, params={**SEARCH, "maxlag": "5"}, timeout=5) for _ in range(20)]

    assert {a.status_code for a in answers} == {200}
    assert all("error" not in a.json() for a in answers)
    assert sum(faults.injected.values()) == 0


# --- the whole stack: the api's answer to a throttled table, and the faults view


def test_given_a_table_throttling_every_read_then_the_api_answers_503_storage_unavailable_quickly_and_post_ends_it():
    with LocalStack(StackOptions(faults={"dynamodb_read_throttle": 1.0})) as stack:
        page = f"{stack.url}/api/pages/1952"
        started = time.monotonic()
        throttled = requests.get(page, timeout=30)
        elapsed = time.monotonic() - started
        search = requests.get(f"{stack.url}/api/search", params={"q": "music"}, timeout=30)
        view = requests.get(f"{stack.url}/api/local/faults", timeout=10).json()

        refused = requests.post(f"{stack.url}/api/local/faults", data='{"dynamodb_read_throttle": 0}', timeout=10)
        bad = requests.post(f"{stack.url}/api/local/faults", json={"dynamodb_read_throttle": 3}, timeout=10)
        ended = requests.post(f"{stack.url}/api/local/faults", json={"dynamodb_read_throttle": 0}, timeout=10)
        recovered = requests.get(page, timeout=30)
        lambda_stats = requests.get(f"{stack.url}/api/local/lambda", timeout=10).json()
        # The page view requested the page's caching: let it finish before the stack stops.
        stack.wait_until_cached([1952], timeout=120)

    assert throttled.status_code == 503
    assert throttled.json() == {
        "error": {"code": "storage_unavailable", "message": "The cache is not answering; try again soon."}
    }
    # Two attempts and a backoff under a second, plus a cold start: far inside the api's 15 s timeout.
    assert elapsed < 8
    assert search.status_code == 503
    assert search.json()["error"]["code"] == "storage_unavailable"
    assert view["rates"]["dynamodb_read_throttle"] == 1.0
    assert view["injected"]["dynamodb_read_throttle"] >= 4  # two attempts per request, at least
    assert refused.status_code == 415
    assert bad.status_code == 400
    assert "dynamodb_read_throttle=3" in bad.json()["error"]["message"]
    assert ended.status_code == 200
    assert ended.json()["rates"]["dynamodb_read_throttle"] == 0.0
    assert recovered.status_code == 200
    assert recovered.json()["pageid"] == 1952
    api = next(stats for name, stats in lambda_stats["functions"].items() if "api" in name)
    assert api["timeouts"] == 0
