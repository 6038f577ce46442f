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
from local.aws import local_aws_env

PAGE_INPUT = {"page": {"pageid": 7, "title": "Seven"}, "reason": "search"}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "")
    return buffer.getvalue()


@pytest.fixture
def run(monkeypatch):
    """Given moto with the three step functions answering from `results`; returns (status, output|error, calls)."""
    for key, value in local_aws_env(None).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})

    def execute(results: dict[str, Any]) -> tuple[str, Any, list[tuple[str, dict]]]:
        calls: list[tuple[str, dict]] = []

        def invoke(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            payload = event if isinstance(event, dict) else json.loads(event)
            calls.append((function.function_name, payload))
            result = results[function.function_name]
            return json.dumps(result), "errorType" in result, ""

        monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)
        with mock_aws():
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
        if described["status"] == "SUCCEEDED":
            return described["status"], json.loads(described["output"]), calls
        return described["status"], (described.get("error"), described.get("cause")), calls

    return execute


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
    assert [name for name, _ in calls] == ["start", "info", "backlinks"]  # not retried
