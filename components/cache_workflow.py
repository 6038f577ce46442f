"""The cache pipeline's state machine definition (Amazon States Language), built as a dict by a pure function.

Each task invokes its Lambda function through the `arn:aws:states:::lambda:invoke` integration and passes the
state's input plus the context object's execution and state fields (the functions derive their trace span
from them). `ResultSelector` keeps only the function's returned dict, under `result`, so a state's
`ResultPath` holds `{"result": <returned dict>}` and the Choice states read `$.<step>.result.<field>`.

Retry covers the transient errors only: the wiki being unavailable or rate limiting, DynamoDB throttling, a
backlinks run cut short near the function's timeout (its progress is saved, a retry resumes), a function that
timed out (`Sandbox.Timedout`), and the Lambda service's own errors; a throttled step (the function at its
reserved concurrency) has a longer Retry of its own. Deterministic failures (a bad payload, a
lost claim, a wiki API error) are not retried. Every task catches everything else into `CachingFailed`, which
fails the execution with the real error name and cause (Step Functions' own `States.*` errors go to
`CachingStepFailed`, see `functions.contract`).
"""

from __future__ import annotations

from typing import Any

from functions.contract import (
    FAILED_STATE,
    LAMBDA_SERVICE_ERRORS,
    RETRY_BACKOFF_RATE,
    RETRY_INTERVAL_SECONDS,
    RETRY_MAX_ATTEMPTS,
    RETRY_MAX_DELAY_SECONDS,
    SERVICE_FAILED_STATE,
    STEP_FUNCTIONS_ERRORS,
    THROTTLE_ERROR,
    THROTTLE_RETRY_INTERVAL_SECONDS,
    THROTTLE_RETRY_MAX_ATTEMPTS,
    THROTTLE_RETRY_MAX_DELAY_SECONDS,
    TRANSIENT_ERRORS,
)

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def _task(function_arn: str, result_path: str, next_state: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {
            "FunctionName": function_arn,
            "Payload": {
                "input.$": "$",
                "context": {
                    "execution_id.$": "$$.Execution.Id",
                    "state_name.$": "$$.State.Name",
                    "entered_time.$": "$$.State.EnteredTime",
                    "retry_count.$": "$$.State.RetryCount",
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
                "BackoffRate": RETRY_BACKOFF_RATE,
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
        "Catch": [
            {"ErrorEquals": list(STEP_FUNCTIONS_ERRORS), "ResultPath": "$.error", "Next": SERVICE_FAILED_STATE},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILED_STATE},
        ],
        "Next": next_state,
    }


def _choice(variable: str, when_true: str, otherwise: str) -> dict[str, Any]:
    return {
        "Type": "Choice",
        "Choices": [{"Variable": variable, "BooleanEquals": True, "Next": when_true}],
        "Default": otherwise,
    }


def state_machine_definition(start_arn: str, info_arn: str, backlinks_arn: str) -> dict[str, Any]:
    """Cache one page: claim it, write its article data, then write every link to it."""
    return {
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
            FAILED_STATE: {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
            SERVICE_FAILED_STATE: {
                "Type": "Fail",
                "Error": SERVICE_FAILED_STATE,
                "CausePath": "States.Format('{}: {}', $.error.Error, $.error.Cause)",
            },
        },
    }
