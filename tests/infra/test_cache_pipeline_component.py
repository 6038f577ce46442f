"""The cache pipeline under mocks: topic, dead-letter queue, trigger, and the Express state machine."""

from __future__ import annotations

import json

from components.cache_workflow import LAMBDA_INVOKE
from tests.infra.conftest import run_program

STEPS = ("start", "info", "backlinks")


def function_arn(component: str) -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:function:{component}-function-1a2b3c4"


def test_given_each_stack_then_the_state_machine_is_express_and_logs_its_errors_without_data_to_its_own_group(
    deployment,
):
    machine = deployment.named("wikiroam-cache-state-machine").inputs
    assert machine["type"] == "EXPRESS"
    logging = machine["loggingConfiguration"]
    # The steps write the state and execution spans; the failures come from the state machine's ERROR events.
    assert logging["level"] == "ERROR"
    assert logging["includeExecutionData"] is False
    log_group = "wikiroam-cache-executions-logs-1a2b3c4"
    assert logging["logDestination"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{log_group}:*"
    retention = deployment.named("wikiroam-cache-executions-logs").inputs["retentionInDays"]
    assert retention == int(deployment.config["wikiroam:logRetentionDays"])


def test_given_the_deployed_definition_then_every_task_invokes_its_step_with_retry_and_catch(dev):
    definition = json.loads(dev.named("wikiroam-cache-state-machine").inputs["definition"])
    tasks = {name: s for name, s in definition["States"].items() if s["Type"] == "Task"}
    assert {name: s["Parameters"]["FunctionName"] for name, s in tasks.items()} == {
        "CacheStart": function_arn("wikiroam-cache-start"),
        "CacheInfo": function_arn("wikiroam-cache-info"),
        "CacheBacklinks": function_arn("wikiroam-cache-backlinks"),
        # The Catch path: the cache start function marks the page failed (its `record_failure` operation).
        "RecordFailure": function_arn("wikiroam-cache-start"),
        "RecordStepFailure": function_arn("wikiroam-cache-start"),
    }
    for state in tasks.values():
        assert state["Resource"] == LAMBDA_INVOKE
        assert state["Retry"]
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"]


def test_given_the_state_machine_role_then_it_may_invoke_only_the_three_steps(dev):
    trust = json.loads(dev.named("wikiroam-cache-state-machine-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}
    policy = json.loads(dev.named("wikiroam-cache-state-machine-policy").inputs["policy"])
    invoke = next(s for s in policy["Statement"] if s["Action"] == ["lambda:InvokeFunction"])
    arns = [function_arn(f"wikiroam-cache-{step}") for step in STEPS]
    assert set(invoke["Resource"]) == {*arns, *(f"{arn}:*" for arn in arns)}
    machine = dev.named("wikiroam-cache-state-machine").inputs
    assert machine["roleArn"].endswith(":role/wikiroam-cache-state-machine-role-1a2b3c4")


def test_given_the_topic_then_the_trigger_is_subscribed_with_a_dead_letter_queue(dev):
    topic_arn = dev.outputs["cacheTopicArn"]
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:wikiroam-cache-dlq-1a2b3c4"
    subscription = dev.named("wikiroam-cache-trigger-subscription").inputs
    assert subscription["topic"] == topic_arn
    assert subscription["protocol"] == "lambda"
    assert subscription["endpoint"] == function_arn("wikiroam-cache-trigger")
    assert json.loads(subscription["redrivePolicy"]) == {"deadLetterTargetArn": queue_arn}
    queue_policy = dev.named("wikiroam-cache-dlq-policy").inputs
    assert queue_policy["queueUrl"] == dev.outputs["cacheDeadLetterQueueUrl"]
    (statement,) = json.loads(queue_policy["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Resource"] == [queue_arn]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic_arn}}


def test_given_the_trigger_then_only_the_topic_may_invoke_it(dev):
    permission = dev.named("wikiroam-cache-trigger-invoke").inputs
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["principal"] == "sns.amazonaws.com"
    assert permission["sourceArn"] == dev.outputs["cacheTopicArn"]
    assert permission["function"] == "wikiroam-cache-trigger-function-1a2b3c4"


def test_given_a_failing_trigger_then_its_async_invocations_end_in_the_dead_letter_queue(dev):
    config = dev.named("wikiroam-cache-trigger-async").inputs
    assert config["functionName"] == "wikiroam-cache-trigger-function-1a2b3c4"
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:wikiroam-cache-dlq-1a2b3c4"
    assert config["destinationConfig"] == {"onFailure": {"destination": queue_arn}}
    assert config["maximumRetryAttempts"] == 2
    trigger_policy = json.loads(dev.named("wikiroam-cache-trigger-policy").inputs["policy"])
    send = {"Sid": "SendFailedInvocations", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [queue_arn]}
    assert send in trigger_policy["Statement"]


def test_given_the_dead_letter_queue_then_it_keeps_messages_for_two_weeks_encrypted(dev):
    queue = dev.named("wikiroam-cache-dlq").inputs
    assert queue["messageRetentionSeconds"] == 14 * 24 * 3600
    assert queue["sqsManagedSseEnabled"] is True


def test_given_execution_data_in_logs_on_then_the_state_machine_logs_each_states_input_and_output():
    deployment = run_program("dev", {"wikiroam:executionDataInLogs": True})
    logging = deployment.named("wikiroam-cache-state-machine").inputs["loggingConfiguration"]
    assert (logging["level"], logging["includeExecutionData"]) == ("ERROR", True)


def test_given_the_log_level_all_then_the_state_machine_logs_every_event_for_debugging():
    deployment = run_program("dev", {"wikiroam:stateMachineLogLevel": "ALL"})
    logging = deployment.named("wikiroam-cache-state-machine").inputs["loggingConfiguration"]
    assert (logging["level"], logging["includeExecutionData"]) == ("ALL", False)
