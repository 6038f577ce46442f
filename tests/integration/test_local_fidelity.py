"""The local Lambda runtime and the patches that close moto's gaps, on moto's real server.

Each test deploys a small probe function (`tests.support.local_aws`: a `functions` package written into the zip,
so it can only be imported from the deployed code) and drives it the way AWS would: Invoke, SNS, a Logs
subscription, a state machine task.
"""

from __future__ import annotations

import base64
import gzip
import json
import time

import moto
import pytest

from local.fidelity import Activity
from local.runtime import SUPPORTED_MOTO_VERSION


def test_the_runner_is_pinned_to_the_moto_version_it_patches():
    assert moto.__version__ == SUPPORTED_MOTO_VERSION


def test_given_a_function_when_invoked_then_its_deployed_handler_runs_with_its_environment_and_context(local_aws):
    local_aws.function("probe-a", colour="red", timeout=30)

    result, error = local_aws.invoke("probe-a", {"hello": "world"})

    assert error is None
    assert result["colour"] == "red"
    assert result["function"] == "probe-a"
    assert result["event"] == {"hello": "world"}
    assert 25_000 < result["remaining_ms"] <= 30_000
    assert len(result["request_id"]) == 36


def test_given_two_functions_with_the_same_code_then_each_has_its_own_sandbox_and_environment(local_aws):
    local_aws.function("probe-red", colour="red")
    local_aws.function("probe-green", colour="green")

    first, _ = local_aws.invoke("probe-red", {})
    second, _ = local_aws.invoke("probe-red", {})
    other, _ = local_aws.invoke("probe-green", {})

    # Module globals survive between invocations of one function (a warm sandbox), never across functions.
    assert (first["invocations"], second["invocations"], other["invocations"]) == (1, 2, 1)
    assert (second["colour"], other["colour"]) == ("red", "green")
    assert [i.cold_start for i in local_aws.runner.invocations] == [True, False, True]


def test_given_a_handler_that_raises_then_the_answer_has_lambdas_error_shape_and_the_log_its_traceback(local_aws):
    local_aws.function("probe-fail")

    result, error = local_aws.invoke("probe-fail", {"action": "fail"})

    assert error is not None
    assert result["errorType"] == "LookupError"
    assert result["errorMessage"] == "the probe was asked to fail"
    assert result["stackTrace"]
    messages = local_aws.messages("probe-probe-fail-logs")
    assert messages[0].startswith("START RequestId: ")
    assert any(m.startswith("[ERROR] LookupError: the probe was asked to fail") for m in messages)
    assert messages[-2].startswith("END RequestId: ")
    assert messages[-1].startswith("REPORT RequestId: ")


def test_given_prints_and_log_records_then_they_reach_the_functions_log_group_in_lambdas_format(local_aws):
    local_aws.function("probe-logs")

    local_aws.invoke("probe-logs", {"action": "warn"})

    messages = local_aws.messages("probe-probe-logs-logs")
    assert any(m.startswith('probe saw {"action": "warn"}') for m in messages)
    warning = next(m for m in messages if "a warning from the probe" in m)
    level, timestamp, request_id, text = warning.split("\t")
    assert level == "[WARNING]"
    assert timestamp.endswith("Z")
    assert request_id == local_aws.runner.invocations[-1].request_id
    assert text == "a warning from the probe"


def test_given_a_handler_overrunning_its_timeout_then_the_invocation_fails_as_sandbox_timedout(local_aws):
    local_aws.function("probe-slow", timeout=1)

    result, error = local_aws.invoke("probe-slow", {"action": "sleep", "seconds": 1.2})

    assert error is not None
    assert result["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result["errorMessage"]


def test_given_a_handler_path_missing_from_the_code_then_the_error_is_lambdas_import_error(local_aws):
    local_aws.function("probe-missing")
    local_aws.client("lambda").update_function_configuration(
        FunctionName="probe-missing", Handler="functions.absent.handler"
    )

    result, error = local_aws.invoke("probe-missing", {})

    assert error is not None
    assert result["errorType"] == "Runtime.ImportModuleError"


def test_given_an_sns_subscription_when_publishing_then_the_lambda_gets_the_real_attributes_and_ids_later(local_aws):
    arn = local_aws.function("probe-sns")
    sns = local_aws.client("sns")
    topic = sns.create_topic(Name="probe-topic")["TopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)["SubscriptionArn"]
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    message_id = sns.publish(
        TopicArn=topic,
        Message='{"pages": []}',
        MessageAttributes={"traceparent": {"DataType": "String", "StringValue": traceparent}},
    )["MessageId"]

    assert local_aws.activity.wait_idle(10)
    [invocation] = local_aws.runner.invocations
    record = invocation.event["Records"][0]
    assert record["EventSubscriptionArn"] == subscription
    assert record["Sns"]["MessageId"] == message_id
    assert record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["Message"] == '{"pages": []}'
    assert record["Sns"]["MessageAttributes"] == {"traceparent": {"Type": "String", "Value": traceparent}}
    # Delivered off the publisher's thread, as SNS does.
    assert invocation.request_id


def test_given_sns_delivery_to_a_failing_function_then_it_is_retried_and_lands_in_the_on_failure_queue(local_aws):
    arn = local_aws.function("probe-dlq")
    sqs = local_aws.client("sqs")
    queue = sqs.create_queue(QueueName="probe-dlq")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    local_aws.client("lambda").put_function_event_invoke_config(
        FunctionName="probe-dlq", MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    sns = local_aws.client("sns")
    topic = sns.create_topic(Name="probe-failing")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)

    sns.publish(TopicArn=topic, Message=json.dumps({"action": "fail"}))
    assert local_aws.activity.wait_idle(10)

    assert len(local_aws.runner.invocations) == 2  # the first attempt and one retry
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"]["errorType"] == "LookupError"


def test_given_a_log_subscription_then_only_matching_events_reach_the_lambda_as_an_awslogs_payload(local_aws):
    shipper = local_aws.function("probe-shipper")
    local_aws.function("probe-source")
    local_aws.client("logs").put_subscription_filter(
        logGroupName="probe-probe-source-logs", filterName="markers", filterPattern="MARKER", destinationArn=shipper
    )

    local_aws.invoke("probe-source", {"action": "print-marker"})
    assert local_aws.activity.wait_idle(10)

    deliveries = [i for i in local_aws.runner.invocations if i.function_name == "probe-shipper"]
    assert len(deliveries) == 1
    data = json.loads(gzip.decompress(base64.b64decode(deliveries[0].event["awslogs"]["data"])))
    assert data["messageType"] == "DATA_MESSAGE"
    assert data["logGroup"] == "probe-probe-source-logs"
    assert data["subscriptionFilters"] == ["markers"]
    assert [e["message"] for e in data["logEvents"]] == ["MARKER line for the subscription"]


def test_a_filter_pattern_form_the_local_stack_cannot_evaluate_is_refused(local_aws):
    shipper = local_aws.function("probe-refuse")
    local_aws.client("logs").create_log_group(logGroupName="probe-json")

    with pytest.raises(Exception, match="filter patterns"):
        local_aws.client("logs").put_subscription_filter(
            logGroupName="probe-json", filterName="json", filterPattern='{ $.level = "ERROR" }', destinationArn=shipper
        )


def test_given_a_logging_state_machine_then_its_execution_events_reach_the_log_group_in_step_functions_format(
    local_aws,
):
    arn = local_aws.function("probe-task")
    machine = local_aws.logging_state_machine("probe-machine", arn, {"Payload.$": "$"})
    sfn = local_aws.client("stepfunctions")

    execution = sfn.start_execution(stateMachineArn=machine, name="run-1", input='{"colour": "any"}')["executionArn"]
    assert local_aws.activity.wait_idle(20)

    records = [json.loads(m) for m in local_aws.messages("probe-machine-logs")]
    types = [r["type"] for r in records]
    assert types[0] == "ExecutionStarted"
    assert types[-1] == "ExecutionSucceeded"
    assert {"TaskStateEntered", "TaskScheduled", "TaskSucceeded", "TaskStateExited"} <= set(types)
    entered = next(r for r in records if r["type"] == "TaskStateEntered")
    assert entered["details"]["name"] == "Probe"
    assert entered["execution_arn"] == execution
    assert entered["event_timestamp"].isdigit()
    assert [int(r["id"]) for r in records] == sorted(int(r["id"]) for r in records)
    assert json.loads(records[0]["details"]["input"]) == {"colour": "any"}


def test_given_an_express_machine_when_started_synchronously_then_the_call_answers_once_the_execution_ended(
    local_aws,
):
    arn = local_aws.function("probe-sync")
    machine = local_aws.logging_state_machine("probe-sync-machine", arn, {"Payload.$": "$"})
    sfn = local_aws.client("stepfunctions")

    done = sfn.start_sync_execution(stateMachineArn=machine, name="run-ok", input='{"action": "sleep", "seconds": 0.5}')
    failed = sfn.start_sync_execution(stateMachineArn=machine, name="run-fail", input='{"action": "fail"}')

    # Then the answer comes with the execution's end: its output, or its error, as StartSyncExecution's fields.
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["Payload"]["event"] == {"action": "sleep", "seconds": 0.5}
    assert (done["stopDate"] - done["startDate"]).total_seconds() >= 0.5
    billed = done["billingDetails"]["billedDurationInMilliseconds"]
    assert (billed >= 500, billed % 100) == (True, 0)
    assert (failed["status"], failed["error"]) == ("FAILED", "LookupError")
    assert "output" not in failed
    assert sfn.describe_execution(executionArn=failed["executionArn"])["status"] == "FAILED"
    # And the execution logged as any other.
    assert local_aws.activity.wait_idle(20)
    types = [json.loads(m)["type"] for m in local_aws.messages("probe-sync-machine-logs")]
    assert (types.count("ExecutionSucceeded"), types.count("ExecutionFailed")) == (1, 1)


def test_given_a_task_then_its_context_entered_time_is_its_state_entered_events_instant(local_aws, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    from functions.telemetry import epoch_ms

    # Given a clock that moves on between moto's two readings (the event's, then the context object's), as a
    # loaded machine's does now and then: the event's instant is 5 ms before the next reading.
    monkeypatch.setattr(
        EventManager, "_get_current_timestamp", staticmethod(lambda: datetime.now(UTC) - timedelta(milliseconds=5))
    )
    arn = local_aws.function("probe-entered")
    machine = local_aws.logging_state_machine(
        "probe-entered-machine", arn, {"Payload": {"entered_time.$": "$$.State.EnteredTime"}}
    )
    sfn = local_aws.client("stepfunctions")

    sfn.start_execution(stateMachineArn=machine, name="run-1", input="{}")
    assert local_aws.activity.wait_idle(20)

    records = [json.loads(m) for m in local_aws.messages("probe-entered-machine-logs")]
    entered = next(r for r in records if r["type"] == "TaskStateEntered")
    succeeded = next(r for r in records if r["type"] == "TaskSucceeded")
    payload = json.loads(succeeded["details"]["output"])["Payload"]
    # Then the task sees the instant the log event carries: the step's state span id matches the shipper's.
    assert epoch_ms(payload["event"]["entered_time"]) == int(entered["event_timestamp"])


def test_given_work_in_flight_then_activity_reports_busy_until_it_ends():
    activity = Activity()
    activity.begin()
    assert not activity.wait_idle(0.01)
    activity.end()
    started = time.monotonic()
    assert activity.wait_idle(1)
    assert time.monotonic() - started < 0.5


def test_given_a_long_run_then_the_runner_keeps_only_its_latest_invocations():
    from local.runner import MAX_INVOCATIONS_KEPT, LambdaRunner

    runner = LambdaRunner(endpoint_url="http://127.0.0.1:9")
    assert runner.invocations.maxlen == MAX_INVOCATIONS_KEPT
