"""The cache pipeline's state machine definition (Amazon States Language), built as a dict by a pure function.

Each task invokes its Lambda function through the `arn:aws:states:::lambda:invoke` integration and passes the
state's input plus the context object's execution and state fields (the functions derive their trace span
from them). `ResultSelector` keeps only the function's returned dict, under `result`, so a state's
`ResultPath` holds `{"result": <returned dict>}` and the Choice states read `$.<step>.result.<field>`.

Retry covers the transient errors only: the wiki being unavailable or rate limiting, DynamoDB throttling, a
backlinks run cut short near the function's timeout (its progress is saved, a retry resumes), a function that
timed out (`Sandbox.Timedout`), and the Lambda service's own errors; a throttled step (the function at its
reserved concurrency) has a longer Retry of its own. Deterministic failures (a bad payload, a
lost claim, a wiki API error) are not retried. Every task catches everything else (`States.ALL`, with
`ResultPath: $.error` keeping the input beside the error) into `RecordFailure`: the cache start function's
`record_failure` operation marks the page `failed` with the error's name, which matters for the failures the
step's own code never saw (a crash, `Sandbox.Timedout`, `Lambda.TooManyRequestsException` out of retries), and
releases the claim only if this execution holds it. Then `CachingFailed` fails the execution with the real error
name and cause, so the executions-failed metric still counts it (Step Functions' own `States.*` errors go through
`RecordStepFailure` to `CachingStepFailed`, see `functions.contract`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.contract import (
    FAILED_STATE,
    LAMBDA_SERVICE_ERRORS,
    RECORD_FAILURE_OPERATION,
    RECORD_FAILURE_STATE,
    RECORD_STEP_FAILURE_STATE,
    RETRY_BACKOFF_RATE,
    RETRY_INTERVAL_SECONDS,
    RETRY_MAX_ATTEMPTS,
    RETRY_MAX_DELAY_SECONDS,
    SERVICE_FAILED_STATE,
    STEP_FUNCTIONS_ERRORS,
    TASK_OPERATION,
    THROTTLE_ERROR,
    THROTTLE_RETRY_BACKOFF_RATE,
    THROTTLE_RETRY_INTERVAL_SECONDS,
    THROTTLE_RETRY_MAX_ATTEMPTS,
    THROTTLE_RETRY_MAX_DELAY_SECONDS,
    TRANSIENT_ERRORS,
)

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def _invoke(function_arn: str, result_path: str, next_state: str, **payload: Any) -> dict[str, Any]:
    """A Lambda task with the state's input and context as its payload, and the Retry every task shares."""
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {
            "FunctionName": function_arn,
            "Payload": {
                **payload,
                "input.$": "$",
                "context": {
                    "execution_id.$": "$$.Execution.Id",
                    "state_name.$": "$$.State.Name",
                    "entered_time.$": "$$.State.EnteredTime",
                    "retry_count.$": "$$.State.RetryCount",
                    "execution_start.$": "$$.Execution.StartTime",
                },
            },
        },
        "ResultSelector": {"result.$": "$.Payload"},
        "ResultPath": result_path,
        "Retry": [
            {
                "ErrorEquals": [THROTTLE_ERROR],
                "IntervalSeconds": THROTTLE_RETRY_INTERVAL_SECONDS,
                "MaxAttempts": THROTTLE_RETRY_MAX_ATTEMPTS,
                "BackoffRate": THROTTLE_RETRY_BACKOFF_RATE,
                "MaxDelaySeconds": THROTTLE_RETRY_MAX_DELAY_SECONDS,
                "JitterStrategy": "FULL",
            },
            {
                "ErrorEquals": [*TRANSIENT_ERRORS, *LAMBDA_SERVICE_ERRORS],
                "IntervalSeconds": RETRY_INTERVAL_SECONDS,
                "MaxAttempts": RETRY_MAX_ATTEMPTS,
                "BackoffRate": RETRY_BACKOFF_RATE,
                "MaxDelaySeconds": RETRY_MAX_DELAY_SECONDS,
                "JitterStrategy": "FULL",
            },
        ],
        "Next": next_state,
    }


def _task(function_arn: str, result_path: str, next_state: str) -> dict[str, Any]:
    """A cache step: a failure left after the retries is recorded on the page, then fails the execution."""
    return {
        **_invoke(function_arn, result_path, next_state),
        "Catch": [
            {"ErrorEquals": list(STEP_FUNCTIONS_ERRORS), "ResultPath": "$.error", "Next": RECORD_STEP_FAILURE_STATE},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": RECORD_FAILURE_STATE},
        ],
    }


def _record_failure(function_arn: str, fail_state: str) -> dict[str, Any]:
    """Mark the page failed with `$.error.Error`, then fail; failing to record still fails with the step's error."""
    return {
        **_invoke(function_arn, "$.recorded", fail_state, **{TASK_OPERATION: RECORD_FAILURE_OPERATION}),
        # `$.error` must reach the Fail state untouched: this state's own error goes beside it.
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.recording_error", "Next": fail_state}],
    }


def _choice(variable: str, when_true: str, otherwise: str) -> dict[str, Any]:
    return {
        "Type": "Choice",
        "Choices": [{"Variable": variable, "BooleanEquals": True, "Next": when_true}],
        "Default": otherwise,
    }


def _terminal_status(state: Mapping[str, Any]) -> str | None:
    return {"Succeed": "SUCCEEDED", "Fail": "FAILED"}.get(state["Type"])


def with_execution_ends(states: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tell each task, in its payload's `context.ends_execution`, when its state is the execution's last.

    The step writes the execution's span then (the state machine logs at level ERROR, so no event says when a
    successful execution ended): `on_success` is the execution's status when the task succeeds into a Succeed or
    Fail state, or into a Choice whose branch to one is taken on `when` (fields of the step's result);
    `on_failure`, when every Catch leads to one.
    """
    for state in states.values():
        if state["Type"] != "Task":
            continue
        ends: dict[str, Any] = {}
        following = states[state["Next"]]
        if (status := _terminal_status(following)) is not None:
            ends["on_success"] = status
        elif following["Type"] == "Choice" and len(following["Choices"]) == 1:
            (rule,) = following["Choices"]
            field = str(rule["Variable"]).removeprefix(f"{state['ResultPath']}.result.")
            for value, then in (
                (rule["BooleanEquals"], rule["Next"]),
                (not rule["BooleanEquals"], following["Default"]),
            ):
                if "." not in field and (status := _terminal_status(states[then])) is not None:
                    ends.update(on_success=status, when={field: value})
        caught = {_terminal_status(states[c["Next"]]) for c in state.get("Catch", [])}
        if len(caught) == 1 and None not in caught:
            ends["on_failure"] = caught.pop()
        if ends:
            state["Parameters"]["Payload"]["context"]["ends_execution"] = ends
    return states


def state_machine_definition(start_arn: str, info_arn: str, backlinks_arn: str) -> dict[str, Any]:
    """Cache one page: claim it, write its article data, then write every link to it."""
    definition: dict[str, Any] = {
        "Comment": "Cache one wiki page: claim it, cache its article data, cache its backlinks.",
        "StartAt": "CacheStart",
        "States": {
            "CacheStart": _task(start_arn, "$.start", "Claimed?"),
            "Claimed?": _choice("$.start.result.proceed", "CacheInfo", "AlreadyCached"),
            "AlreadyCached": {"Type": "Succeed", "Comment": "Cached already, or another execution is on it."},
            "CacheInfo": _task(info_arn, "$.info", "Found?"),
            "Found?": _choice("$.info.result.found", "CacheBacklinks", "PageGone"),
            "PageGone": {"Type": "Succeed", "Comment": "The wiki no longer has the page; the claim is released."},
            "CacheBacklinks": _task(backlinks_arn, "$.backlinks", "Cached"),
            "Cached": {"Type": "Succeed"},
            RECORD_FAILURE_STATE: _record_failure(start_arn, FAILED_STATE),
            RECORD_STEP_FAILURE_STATE: _record_failure(start_arn, SERVICE_FAILED_STATE),
            FAILED_STATE: {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
            SERVICE_FAILED_STATE: {
                "Type": "Fail",
                "Error": SERVICE_FAILED_STATE,
                "CausePath": "States.Format('{}: {}', $.error.Error, $.error.Cause)",
            },
        },
    }
    with_execution_ends(definition["States"])
    return definition
