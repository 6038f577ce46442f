"""The cache pipeline's state machine definition, as a pure function (no Pulumi)."""

from __future__ import annotations

import json

import pytest

from components.cache_workflow import LAMBDA_INVOKE, state_machine_definition
from functions.errors import BacklinksNotFinished, ClaimLost, InvalidTaskPayload, WikiApiError, WikiPageNotFound
from functions.messages import parse_caught_failure, parse_task_event

ARNS = {name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in ("start", "info", "backlinks")}
DEFINITION = state_machine_definition(ARNS["start"], ARNS["info"], ARNS["backlinks"])
STATES = DEFINITION["States"]
STEPS = ("CacheStart", "CacheInfo", "CacheBacklinks")
TASKS = {name: state for name, state in STATES.items() if state["Type"] == "Task" and name in STEPS}
RECORDERS = {"RecordFailure": "CachingFailed", "RecordStepFailure": "CachingStepFailed"}
TRANSIENT = [
    "WikiUnavailable",
    "WikiRateLimited",
    "WriteThrottled",
    "ReadThrottled",
    "BacklinksNotFinished",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Sandbox.Timedout",
]


def successors(state: dict) -> list[str]:
    names = [state["Next"]] if "Next" in state else []
    names += [choice["Next"] for choice in state.get("Choices", [])]
    return names + ([state["Default"]] if "Default" in state else [])


def test_given_the_definition_then_it_is_json_and_every_transition_names_a_state():
    assert json.loads(json.dumps(DEFINITION)) == DEFINITION
    assert DEFINITION["StartAt"] == "CacheStart"
    for state in STATES.values():
        assert all(name in STATES for name in successors(state))


def test_given_the_happy_path_then_start_info_backlinks_run_in_order_with_choices_between():
    assert STATES["CacheStart"]["Next"] == "Claimed?"
    assert STATES["Claimed?"]["Choices"] == [
        {"Variable": "$.start.result.proceed", "BooleanEquals": True, "Next": "CacheInfo"}
    ]
    assert STATES["Claimed?"]["Default"] == "AlreadyCached"
    assert STATES["CacheInfo"]["Next"] == "Found?"
    assert STATES["Found?"]["Choices"] == [
        {"Variable": "$.info.result.found", "BooleanEquals": True, "Next": "CacheBacklinks"}
    ]
    assert STATES["Found?"]["Default"] == "PageGone"
    assert STATES[STATES["CacheBacklinks"]["Next"]]["Type"] == "Succeed"
    assert STATES["AlreadyCached"]["Type"] == STATES["PageGone"]["Type"] == "Succeed"


@pytest.mark.parametrize(("task", "result_path"), [("CacheStart", "$.start"), ("CacheInfo", "$.info")])
def test_given_a_choice_then_it_reads_the_result_its_task_stored(task, result_path):
    # ResultSelector keeps the Payload under "result", and ResultPath puts that at the task's path.
    assert TASKS[task]["ResultSelector"] == {"result.$": "$.Payload"}
    assert TASKS[task]["ResultPath"] == result_path
    choice = STATES[TASKS[task]["Next"]]
    assert choice["Choices"][0]["Variable"].startswith(f"{result_path}.result.")


@pytest.mark.parametrize(
    ("task", "arn"), [("CacheStart", "start"), ("CacheInfo", "info"), ("CacheBacklinks", "backlinks")]
)
def test_given_each_task_then_it_invokes_its_function_with_the_state_input_and_context(task, arn):
    state = TASKS[task]
    assert state["Resource"] == LAMBDA_INVOKE
    assert state["Parameters"]["FunctionName"] == ARNS[arn]
    payload = dict(state["Parameters"]["Payload"])
    assert payload.pop("context") | {"ends_execution": None} == {
        "execution_id.$": "$$.Execution.Id",
        "state_name.$": "$$.State.Name",
        "entered_time.$": "$$.State.EnteredTime",
        "retry_count.$": "$$.State.RetryCount",
        "execution_start.$": "$$.Execution.StartTime",
        "ends_execution": None,
    }
    assert payload == {"input.$": "$"}


@pytest.mark.parametrize(
    ("task", "ends"),
    [
        ("CacheStart", {"on_success": "SUCCEEDED", "when": {"proceed": False}}),
        ("CacheInfo", {"on_success": "SUCCEEDED", "when": {"found": False}}),
        ("CacheBacklinks", {"on_success": "SUCCEEDED"}),
        ("RecordFailure", {"on_success": "FAILED", "on_failure": "FAILED"}),
        ("RecordStepFailure", {"on_success": "FAILED", "on_failure": "FAILED"}),
    ],
)
def test_given_each_task_then_its_payload_says_when_its_state_ends_the_execution(task, ends):
    # The step writes the execution's span then: at log level ERROR no event says a successful execution ended.
    assert STATES[task]["Parameters"]["Payload"]["context"]["ends_execution"] == ends


def test_given_the_payload_shape_then_the_functions_parser_accepts_what_step_functions_sends():
    # What Step Functions builds from Parameters for an execution's first state.
    payload = {
        "input": {"page": {"pageid": 7, "title": "Seven"}, "reason": "search"},
        "context": {
            "execution_id": "arn:aws:states:us-east-1:123456789012:express:cache:run:1",
            "state_name": "CacheStart",
            "entered_time": "2026-11-27T19:08:13.192Z",
            "retry_count": 0,
            "execution_start": "2026-11-27T19:08:13.101Z",
            "ends_execution": {"on_success": "SUCCEEDED", "when": {"proceed": False}},
        },
    }
    assert set(payload["context"]) == {
        k.removesuffix(".$") for k in TASKS["CacheStart"]["Parameters"]["Payload"]["context"]
    }
    assert parse_task_event(payload).page.pageid == 7


@pytest.mark.parametrize("task", sorted(TASKS))
def test_given_each_task_then_transient_errors_retry_with_backoff_and_full_jitter(task):
    _, retry = TASKS[task]["Retry"]
    assert sorted(retry["ErrorEquals"]) == sorted(TRANSIENT)
    assert retry["IntervalSeconds"] >= 1
    assert retry["BackoffRate"] == 2
    assert 3 <= retry["MaxAttempts"] <= 4
    assert retry["JitterStrategy"] == "FULL"
    assert BacklinksNotFinished.__name__ in retry["ErrorEquals"]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_given_a_throttled_task_then_it_waits_longer_first_but_inside_the_express_limit(task):
    throttle = TASKS[task]["Retry"][0]  # Step Functions takes the first Retry whose ErrorEquals matches
    assert throttle["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
    assert throttle["MaxAttempts"] > TASKS[task]["Retry"][1]["MaxAttempts"]
    assert throttle["JitterStrategy"] == "FULL"
    worst = sum(
        min(throttle["MaxDelaySeconds"], throttle["IntervalSeconds"] * throttle["BackoffRate"] ** attempt)
        for attempt in range(throttle["MaxAttempts"])
    )
    assert worst < 120  # of the five minutes an Express execution may run
    # Express bills every second asleep, and a slot frees within a second on AWS: no wait sleeps far past it.
    assert throttle["MaxDelaySeconds"] <= 3


@pytest.mark.parametrize("error", [InvalidTaskPayload, ClaimLost, WikiApiError, WikiPageNotFound])
def test_given_a_deterministic_error_then_no_task_retries_it(error):
    for state in TASKS.values():
        retried = {name for retry in state["Retry"] for name in retry["ErrorEquals"]}
        assert error.__name__ not in retried
        assert "States.ALL" not in retried


@pytest.mark.parametrize("task", sorted(TASKS))
def test_given_each_task_then_any_failure_is_recorded_then_fails_with_the_real_error(task):
    catch_all = TASKS[task]["Catch"][-1]
    assert catch_all == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}
    assert STATES["RecordFailure"]["Next"] == "CachingFailed"
    assert STATES["CachingFailed"] == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


def test_given_every_state_then_only_the_failure_recorders_are_tasks_beside_the_three_steps():
    assert {name for name, state in STATES.items() if state["Type"] == "Task"} == {*STEPS, *RECORDERS}


@pytest.mark.parametrize(("recorder", "fail_state"), sorted(RECORDERS.items()))
def test_given_a_caught_failure_then_the_start_function_records_it_with_the_error_in_its_input(recorder, fail_state):
    state = STATES[recorder]
    assert state["Resource"] == LAMBDA_INVOKE
    assert state["Parameters"]["FunctionName"] == ARNS["start"]
    payload = state["Parameters"]["Payload"]
    assert payload["operation"] == "record_failure"
    assert payload["input.$"] == "$"  # the Catch's ResultPath put the error at $.error, beside the page
    assert payload["context"] | {"ends_execution": None} == TASKS["CacheStart"]["Parameters"]["Payload"]["context"] | {
        "ends_execution": None
    }
    # Its result and its own failure go beside $.error, which the Fail state reads.
    assert state["ResultPath"] not in ("$", "$.error")
    assert state["Retry"] == TASKS["CacheStart"]["Retry"]
    assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.recording_error", "Next": fail_state}]
    assert state["Next"] == fail_state
    assert STATES[fail_state]["Type"] == "Fail"


def test_given_a_recorder_payload_then_the_functions_parser_reads_the_error_step_functions_caught():
    payload = {
        "operation": "record_failure",
        "input": {
            "page": {"pageid": 7, "title": "Seven"},
            "reason": "search",
            "error": {"Error": "Sandbox.Timedout", "Cause": "Task timed out after 30.00 seconds"},
        },
        "context": {
            "execution_id": "arn:aws:states:us-east-1:123456789012:express:cache:run:1",
            "state_name": "RecordFailure",
            "entered_time": "2026-11-27T19:08:13.192Z",
            "retry_count": 0,
        },
    }
    caught = parse_caught_failure(payload)
    assert (caught.task.page.pageid, caught.error) == (7, "Sandbox.Timedout")
    assert "timed out" in caught.cause


@pytest.mark.parametrize("task", sorted(TASKS))
def test_given_a_step_functions_error_then_it_fails_under_a_custom_name_with_the_original_in_the_cause(task):
    service, _ = TASKS[task]["Catch"]
    assert all(name.startswith("States.") for name in service["ErrorEquals"])
    # States.TaskFailed would swallow the functions' own errors, which must keep their names.
    assert "States.TaskFailed" not in service["ErrorEquals"]
    assert "States.ALL" not in service["ErrorEquals"]
    assert service["ResultPath"] == "$.error"
    assert service["Next"] == "RecordStepFailure"
    failed = STATES[STATES[service["Next"]]["Next"]]
    assert failed["Type"] == "Fail"
    assert not failed["Error"].startswith("States.")
    assert "$.error.Error" in failed["CausePath"]
    assert "$.error.Cause" in failed["CausePath"]
