"""The state machine definition executed by moto's Step Functions interpreter, with the tasks' Lambda results faked.

This checks what the pure-function tests cannot: that the JSONPath wiring (Parameters, ResultSelector,
ResultPath, the Choice variables, Catch and the Fail state's paths) really routes an execution.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config

from components.cache_workflow import state_machine_definition
from functions import settings
from functions.contract import THROTTLE_RETRY_MAX_ATTEMPTS
from functions.handlers import SandboxApp, cache_steps
from functions.store import PageStore
from local.aws import create_tables, local_aws_env
from local.runtime import TooManyRequestsException

PAGE_INPUT = {"page": {"pageid": 7, "title": "Seven"}, "reason": "search"}
# A function's result that runs the deployed handler instead (the cache start function, against moto's tables).
REAL = "real handler"
# A function's result that makes Lambda refuse the invocation, as at its reserved concurrency.
THROTTLED = "throttled"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "")
    return buffer.getvalue()


class InstantTime:
    """The Step Functions retrier's clock, without its sleeps: Retry intervals pass at once."""

    @staticmethod
    def sleep(seconds: float) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def pages(run):
    """The pages table the real cache start handler writes, read after the execution."""
    return run.pages


class Runner:
    """Runs the definition in moto; `pages` is the pages table of the last run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.pages: dict[int, Any] = {}

    def __call__(
        self, results: dict[str, Any], *, seed: dict[str, Any] | None = None
    ) -> tuple[str, Any, list[tuple[str, dict]]]:
        """Run one execution; a function's result may be a list (one per attempt), REAL or THROTTLED."""
        monkeypatch = self.monkeypatch
        calls: list[tuple[str, dict]] = []
        attempts: dict[str, int] = {}

        def invoke(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            payload = event if isinstance(event, dict) else json.loads(event)
            name = function.function_name
            if payload.get("operation"):
                name = f"{name}:{payload['operation']}"
            calls.append((name, payload))
            result = results.get(name, REAL)
            if isinstance(result, list):
                result = result[min(attempts.get(name, 0), len(result) - 1)]
            attempts[name] = attempts.get(name, 0) + 1
            if result == THROTTLED:
                raise TooManyRequestsException(function.function_name)
            if result == REAL:
                try:
                    result = cache_steps.start(payload, None)
                except Exception as error:
                    result = {"errorType": type(error).__name__, "errorMessage": str(error)}
            return json.dumps(result), "errorType" in result, ""

        monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)
        with mock_aws():
            dynamodb = boto3.client("dynamodb")
            create_tables(dynamodb, "pages", "links")
            for item in (seed or {}).values():
                dynamodb.put_item(TableName="pages", Item=item)
            role = boto3.client("iam").create_role(RoleName="machine", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            lambda_client = boto3.client("lambda")
            arns = {
                step: lambda_client.create_function(
                    FunctionName=step, Runtime="python3.12", Role=role, Handler="handler.h", Code={"ZipFile": _zip()}
                )["FunctionArn"]
                for step in ("start", "info", "backlinks")
            }
            sfn = boto3.client("stepfunctions")
            definition = state_machine_definition(arns["start"], arns["info"], arns["backlinks"])
            machine = sfn.create_state_machine(name="cache", definition=json.dumps(definition), roleArn=role)
            execution = sfn.start_execution(
                stateMachineArn=machine["stateMachineArn"], name="run-1", input=json.dumps(PAGE_INPUT)
            )["executionArn"]
            deadline = time.monotonic() + 20
            while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
                assert time.monotonic() < deadline, "the execution never finished"
                time.sleep(0.05)
            store = PageStore(dynamodb, "pages")
            self.pages.clear()
            self.pages.update({record.pageid: record for record in store.scan()})
        if described["status"] == "SUCCEEDED":
            return described["status"], json.loads(described["output"]), calls
        return described["status"], (described.get("error"), described.get("cause")), calls


@pytest.fixture
def run(monkeypatch):
    """Given moto with the three step functions answering from `results`, and the cache start function's real
    handler (for its claim and the Catch path's record) writing moto's pages table."""
    for key, value in local_aws_env(None).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    monkeypatch.setattr(retrier_decl, "time", InstantTime())
    for key, value in {
        settings.WIKI_API_URL: "http://127.0.0.1:9/w/api.php",  # never called by the claim or the record
        settings.WIKI_CONTACT: "ops@wikiroam.test",
        settings.PAGES_TABLE: "pages",
        settings.LINKS_TABLE: "links",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(cache_steps, "app", SandboxApp(cache_steps.build))
    return Runner(monkeypatch)


CLAIMED = {"proceed": True, "reason": "claimed"}
FOUND = {"found": True, "title": "Seven"}
COMPLETE = {"status": "complete", "count": 3, "wiki_requests": 1}


def test_given_a_new_page_then_all_three_steps_run_and_each_result_lands_at_its_path(run):
    status, output, calls = run({"start": CLAIMED, "info": FOUND, "backlinks": COMPLETE})
    assert status == "SUCCEEDED"
    assert [name for name, _ in calls] == ["start", "info", "backlinks"]
    assert output["start"] == {"result": CLAIMED}
    assert output["info"] == {"result": FOUND}
    assert output["backlinks"] == {"result": COMPLETE}
    payload = calls[0][1]
    assert payload["input"] == PAGE_INPUT
    assert payload["context"]["state_name"] == "CacheStart"
    assert payload["context"]["retry_count"] == 0
    assert payload["context"]["execution_id"].endswith(":run-1")


def test_given_a_page_already_cached_then_the_execution_stops_after_the_claim(run):
    status, _, calls = run({"start": {"proceed": False, "reason": "cached"}})
    assert status == "SUCCEEDED"
    assert [name for name, _ in calls] == ["start"]


def test_given_a_page_gone_from_the_wiki_then_backlinks_are_not_fetched(run):
    status, _, calls = run({"start": CLAIMED, "info": {"found": False}})
    assert status == "SUCCEEDED"
    assert [name for name, _ in calls] == ["start", "info"]


def test_given_a_deterministic_error_then_the_execution_fails_at_once_with_its_real_name(run):
    error = {"errorType": "WikiApiError", "errorMessage": "badvalue: no such page"}
    status, (name, cause), calls = run({"start": CLAIMED, "info": FOUND, "backlinks": error})
    assert status == "FAILED"
    assert name == "WikiApiError"
    assert "badvalue" in cause
    # Not retried; the Catch path's record found the page not claimed by this faked run, so left it alone.
    assert [name for name, _ in calls] == ["start", "info", "backlinks", "start:record_failure"]


def test_given_a_claimed_page_timing_out_every_retry_then_the_catch_marks_it_failed_and_frees_it(run, pages):
    timeout = {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 60.00 seconds"}
    status, (error, cause), calls = run({"start": REAL, "info": FOUND, "backlinks": timeout})

    assert (status, error) == ("FAILED", "Sandbox.Timedout")  # the executions-failed metric still counts it
    assert "timed out" in cause
    assert [name for name, _ in calls].count("backlinks") == 4  # the first attempt and three retries
    assert calls[-1][0] == "start:record_failure"
    record = pages[7]
    assert (record.backlinks_status, record.caching_error) == ("failed", "Sandbox.Timedout")
    assert (record.claimed_by, record.claimed_at) == (None, None)  # free for the next request at once


def test_given_a_step_that_crashes_then_the_page_is_failed_with_the_runtimes_error_name(run, pages):
    crash = {"errorType": "Runtime.ExitError", "errorMessage": "RequestId: 1 Error: Runtime exited with error"}
    status, (error, _), calls = run({"start": REAL, "info": crash})

    assert (status, error) == ("FAILED", "Runtime.ExitError")
    assert [name for name, _ in calls] == ["start", "info", "start:record_failure"]  # no Retry matches a crash
    assert (pages[7].backlinks_status, pages[7].caching_error) == ("failed", "Runtime.ExitError")


def test_given_the_first_step_throttled_out_of_retries_then_the_unclaimed_page_is_failed_too(run, pages):
    status, (error, _), calls = run({"start": THROTTLED, "start:record_failure": REAL})

    assert (status, error) == ("FAILED", "Lambda.TooManyRequestsException")
    assert [name for name, _ in calls].count("start") == 1 + THROTTLE_RETRY_MAX_ATTEMPTS  # first, then the Retry's
    # Nobody held the page: the record creates it failed, with the title a redrive re-requests it by.
    assert (pages[7].title, pages[7].backlinks_status, pages[7].caching_error) == (
        "Seven",
        "failed",
        "Lambda.TooManyRequestsException",
    )


def test_given_another_execution_holds_the_page_then_the_catch_leaves_its_claim_alone(run, pages):
    held = {
        "pageid": {"N": "7"},
        "title": {"S": "Seven"},
        "backlinks_status": {"S": "pending"},
        "claimed_by": {"S": "another-execution"},
        "claimed_at": {"N": str(time.time())},
    }
    crash = {"errorType": "Runtime.ExitError", "errorMessage": "exited"}
    # This run's start is faked as claimed, as when its claim was taken over by the other execution since.
    status, (error, _), _ = run({"start": CLAIMED, "info": crash, "start:record_failure": REAL}, seed={"7": held})

    assert (status, error) == ("FAILED", "Runtime.ExitError")
    assert (pages[7].backlinks_status, pages[7].claimed_by, pages[7].caching_error) == (
        "pending",
        "another-execution",
        None,
    )


def test_given_the_record_itself_fails_then_the_execution_still_fails_with_the_steps_error(run):
    crash = {"errorType": "Runtime.ExitError", "errorMessage": "exited"}
    broken = {"errorType": "ConfigurationError", "errorMessage": "WIKIROAM_PAGES_TABLE is not set"}
    status, (error, _), calls = run({"start": CLAIMED, "info": crash, "start:record_failure": broken})

    assert (status, error) == ("FAILED", "Runtime.ExitError")
    assert calls[-1][0] == "start:record_failure"
