"""The local Lambda runtime's sandboxes: processes reused while warm, concurrency, throttles, timeouts, crashes."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from local.aws import moto_server
from local.runtime import BACKGROUND_NICENESS, ProcessRuntime, account_concurrency_from, start_slots_from
from tests.support.local_aws import credentials


def report_line(local_aws, group: str) -> str:
    return next(m for m in reversed(local_aws.messages(group)) if m.startswith("REPORT"))


def test_given_a_warm_sandbox_then_the_next_invocation_reuses_its_process_and_only_the_first_reports_init(local_aws):
    local_aws.function("probe-warm")

    first, _ = local_aws.invoke("probe-warm", {})
    second, _ = local_aws.invoke("probe-warm", {})

    assert (first["invocations"], second["invocations"]) == (1, 2)
    reports = [m for m in local_aws.messages("probe-probe-warm-logs") if m.startswith("REPORT")]
    assert len(reports) == 2
    assert sum("Init Duration:" in r for r in reports) == 1
    assert all("Max Memory Used:" in r for r in reports)
    assert local_aws.runner.stats()["probe-warm"] | {"warm": 1} == {
        "invocations": 2,
        "cold_starts": 1,
        "errors": 0,
        "throttles": 0,
        "timeouts": 0,
        "warm": 1,
        "busy": 0,
    }


def test_given_invocations_at_once_then_they_run_concurrently_in_sandboxes_of_their_own(local_aws):
    local_aws.function("probe-parallel")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(
            pool.map(lambda _: local_aws.invoke("probe-parallel", {"action": "sleep", "seconds": 1.5}), range(3))
        )
    elapsed = time.monotonic() - started

    assert all(error is None for _, error in answers)
    assert [result["invocations"] for result, _ in answers] == [1, 1, 1]  # three sandboxes, each cold
    assert elapsed < 3 * 1.5  # not one after another


@pytest.fixture
def one_start_slot(monkeypatch):
    """Given a runtime that starts one sandbox at a time (set before `local_aws` builds it)."""
    monkeypatch.setenv("WIKIROAM_LAMBDA_START_SLOTS", "1")


def test_given_cold_starts_beyond_the_start_slots_then_they_wait_for_one_outside_the_functions_timeout(
    one_start_slot, local_aws
):
    # Each init takes 0.8 s and the function's timeout is 1 s: one at a time, the third waits 1.6 s for its slot,
    # which Lambda would not count against the timeout either (init is a phase of its own).
    local_aws.function("probe-slots", timeout=1, init_seconds=0.8)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: local_aws.invoke("probe-slots", {}), range(3)))
    elapsed = time.monotonic() - started

    assert [error for _, error in answers] == [None, None, None]
    assert local_aws.runner.stats()["probe-slots"]["cold_starts"] == 3
    assert elapsed >= 3 * 0.8  # one init after another


def test_given_a_sandbox_then_it_runs_compiled_code_without_the_programs_main_module(local_aws):
    local_aws.function("probe-process")

    result, _ = local_aws.invoke("probe-process", {})

    assert result["main_module_file"] is None  # pytest's script is not imported again in each sandbox
    assert result["compiled"] is True  # bytecode compiled once per code hash, not per cold start


def test_given_functions_no_reader_waits_on_then_their_sandboxes_run_below_the_readers(local_aws):
    local_aws.function("probe-reader")
    local_aws.function("probe-pipeline")
    local_aws.runner.set_foreground("probe-reader")

    reader, _ = local_aws.invoke("probe-reader", {})
    pipeline, _ = local_aws.invoke("probe-pipeline", {})

    assert pipeline["niceness"] - reader["niceness"] == BACKGROUND_NICENESS


def test_given_a_burst_beyond_reserved_concurrency_then_lambda_throttles_with_its_429(local_aws):
    local_aws.function("probe-reserved", reserved=1)
    # No client-side retries: boto3 retries throttles by itself, which would hide all but the last.
    client = boto3.client(
        "lambda",
        endpoint_url=local_aws.endpoint,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        **credentials(),
    )
    payload = json.dumps({"action": "sleep", "seconds": 1.0}).encode()

    def invoke(_: int) -> str:
        try:
            client.invoke(FunctionName="probe-reserved", Payload=payload)
        except ClientError as error:
            return error.response["Error"]["Code"]
        return "ok"

    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = sorted(pool.map(invoke, range(3)))

    assert outcomes.count("ok") >= 1
    assert "TooManyRequestsException" in outcomes
    assert local_aws.runner.stats()["probe-reserved"]["throttles"] == outcomes.count("TooManyRequestsException")


def test_given_throttled_asynchronous_deliveries_then_every_message_still_arrives(local_aws):
    arn = local_aws.function("probe-sns-reserved", reserved=1)
    sns = local_aws.client("sns")
    topic = sns.create_topic(Name="burst")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)

    for index in range(4):
        sns.publish(TopicArn=topic, Message=json.dumps({"action": "sleep", "seconds": 0.3, "n": index}))
    # The events wait in the function's queue while it runs one at a time, as AsyncEventAge would show.
    waiting = local_aws.invoker.queues()["probe-sns-reserved"]
    assert waiting["events"] >= 2
    assert waiting["oldest_age_s"] >= 0
    assert local_aws.activity.wait_idle(60)
    assert local_aws.invoker.queues() == {}

    delivered = [i for i in local_aws.runner.invocations if i.function_name == "probe-sns-reserved" and not i.errored]
    assert sorted(json.loads(i.event["Records"][0]["Sns"]["Message"])["n"] for i in delivered) == [0, 1, 2, 3]
    assert local_aws.invoker.failures == []


def test_given_throttled_steps_then_the_state_machines_retry_carries_every_execution_through(local_aws):
    arn = local_aws.function("probe-step-reserved", reserved=1)
    retry = {
        "ErrorEquals": ["Lambda.TooManyRequestsException"],
        "IntervalSeconds": 1,
        "MaxAttempts": 8,
        "BackoffRate": 1.5,
        "JitterStrategy": "FULL",
    }
    definition = {
        "StartAt": "Probe",
        "States": {
            "Probe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload": {"action": "sleep", "seconds": 0.5}},
                "Retry": [retry],
                "End": True,
            }
        },
    }
    sfn = local_aws.client("stepfunctions")
    machine = sfn.create_state_machine(name="throttled", definition=json.dumps(definition), roleArn=local_aws.role)
    executions = [
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=f"e{n}")["executionArn"] for n in range(3)
    ]

    deadline = time.monotonic() + 90
    statuses: list[str] = []
    while time.monotonic() < deadline:
        statuses = [sfn.describe_execution(executionArn=e)["status"] for e in executions]
        if "RUNNING" not in statuses:
            break
        time.sleep(0.5)
    assert statuses == ["SUCCEEDED"] * 3
    assert local_aws.runner.stats()["probe-step-reserved"]["throttles"] > 0


def test_given_a_handler_overrunning_its_timeout_then_its_process_is_stopped_and_the_next_gets_a_fresh_one(
    local_aws,
):
    local_aws.function("probe-slow", timeout=1)

    result, error = local_aws.invoke("probe-slow", {"action": "sleep", "seconds": 5})
    assert error is not None
    assert result["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result["errorMessage"]
    assert "Status: timeout" in report_line(local_aws, "probe-probe-slow-logs")

    after, error = local_aws.invoke("probe-slow", {})
    assert error is None
    assert after["invocations"] == 1  # a new sandbox: the stopped one's globals are gone
    assert local_aws.runner.stats()["probe-slow"]["timeouts"] == 1


def test_given_a_handler_that_exhausts_its_memory_then_lambdas_out_of_memory_error_and_a_fresh_sandbox(local_aws):
    local_aws.function("probe-hungry", memory=128)

    result, error = local_aws.invoke("probe-hungry", {"action": "allocate", "megabytes": 512})
    assert error is not None
    assert result["errorType"] == "Runtime.OutOfMemory"
    assert "Error Type: Runtime.OutOfMemory" in report_line(local_aws, "probe-probe-hungry-logs")

    after, error = local_aws.invoke("probe-hungry", {"action": "allocate", "megabytes": 16})
    assert error is None
    assert after["invocations"] == 1


def test_given_a_handler_that_exits_its_process_then_runtime_exit_error_and_the_runtime_carries_on(local_aws):
    local_aws.function("probe-exit")

    result, error = local_aws.invoke("probe-exit", {"action": "exit"})
    assert error is not None
    assert result["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in result["errorMessage"]

    after, error = local_aws.invoke("probe-exit", {})
    assert (error, after["invocations"]) == (None, 1)


def test_given_the_runtime_stops_then_no_sandbox_process_is_left():
    with moto_server() as endpoint:
        runtime = ProcessRuntime(endpoint_url=endpoint)
        with runtime.install():
            assert runtime.account_concurrency >= 1
        assert [p for p in multiprocessing.active_children() if p.name.startswith("lambda-")] == []


@pytest.mark.parametrize(("raw", "expected"), [("", 200), ("7", 7)])
def test_given_the_account_limit_setting_then_it_is_read_with_its_default(raw, expected):
    assert account_concurrency_from({"WIKIROAM_LAMBDA_CONCURRENCY": raw}) == expected


@pytest.mark.parametrize(("raw", "expected"), [("", 2 * (os.cpu_count() or 1)), ("3", 3)])
def test_given_the_start_slots_setting_then_it_is_read_with_its_default(raw, expected):
    assert start_slots_from({"WIKIROAM_LAMBDA_START_SLOTS": raw}) == expected


def test_given_bad_start_slots_then_the_error_names_the_variable():
    with pytest.raises(ValueError, match="WIKIROAM_LAMBDA_START_SLOTS"):
        start_slots_from({"WIKIROAM_LAMBDA_START_SLOTS": "0"})


def test_given_a_bad_account_limit_then_the_error_names_the_variable():
    with pytest.raises(ValueError, match="WIKIROAM_LAMBDA_CONCURRENCY"):
        account_concurrency_from({"WIKIROAM_LAMBDA_CONCURRENCY": "lots"})


def test_given_the_in_process_runner_then_it_runs_the_deployed_handler_too(monkeypatch):
    # `make dev --runtime in-process`: every handler in the stack's own process, for stepping through in a debugger.
    from local.aws import local_aws_env
    from local.runner import LambdaRunner
    from tests.support.local_aws import probe_zip

    with moto_server() as endpoint:
        for key, value in local_aws_env(endpoint).items():
            monkeypatch.setenv(key, value)
        runner = LambdaRunner(endpoint_url=endpoint)
        with runner.install():
            client = boto3.client("lambda", endpoint_url=endpoint, **credentials())
            role = boto3.client("iam", endpoint_url=endpoint, **credentials()).create_role(
                RoleName="probe", AssumeRolePolicyDocument="{}"
            )["Role"]["Arn"]
            client.create_function(
                FunctionName="probe-inline",
                Runtime="python3.12",
                Role=role,
                Handler="functions.probe.handler",
                Code={"ZipFile": probe_zip()},
                Environment={"Variables": {"PROBE_COLOUR": "teal"}},
            )
            answers = [
                json.loads(client.invoke(FunctionName="probe-inline", Payload=b"{}")["Payload"].read()) for _ in "ab"
            ]
    assert [(a["invocations"], a["colour"]) for a in answers] == [(1, "teal"), (2, "teal")]
    assert [i.cold_start for i in runner.invocations] == [True, False]


def test_given_the_in_process_runner_then_the_trigger_lends_its_turn_and_a_search_gets_cached():
    # One invocation at a time, except while the trigger waits for its executions: their steps borrow its turn.
    from local.stack import LocalStack, StackOptions

    with LocalStack(StackOptions(runtime="in-process")) as stack:
        answer = requests.get(f"{stack.url}/api/search", params={"q": "rivers"}, timeout=60)
        pageids = [r["pageid"] for r in answer.json()["results"]]
        items = stack.wait_until_cached(pageids, timeout=120)
        assert stack.wait_idle(60)
        # The trigger's lanes are threads of its own: their spans still reach its log, and so the trace.
        names = [s.name for t in stack.traces.trace_ids() for s in stack.traces.spans(t)]
        trigger = stack.function_name("wikiroam-cache-trigger-function")
        assert stack.runner is not None
        runs = [i for i in stack.runner.invocations if i.function_name == trigger]
        trigger_log = stack.client("logs").filter_log_events(
            logGroupName=stack.log_group("wikiroam-cache-trigger-function")
        )

    assert answer.status_code == 200
    assert len(pageids) >= 2
    assert {item["backlinks_status"]["S"] for item in items.values()} <= {"complete", "partial"}
    assert runs
    assert not any(run.errored for run in runs)
    # The trigger's own output (its span lines) reached its log group, not a borrower's.
    assert any("OTLPv1" in event["message"] for event in trigger_log["events"])
    assert names.count("SFN.StartSyncExecution") == len(pageids), names
