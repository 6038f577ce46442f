"""moto's server with the local Lambda runtime and the fidelity patches, and a probe function to deploy in it."""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from local.aws import local_aws_env, moto_server
from local.fidelity import Activity, AsyncInvoker, install_fidelity_patches
from local.runtime import ProcessRuntime

PROBE = textwrap.dedent(
    """
    import json
    import logging
    import os
    import sys
    import time

    if os.environ.get("PROBE_INIT_SECONDS"):
        time.sleep(float(os.environ["PROBE_INIT_SECONDS"]))
    invocations = 0
    logger = logging.getLogger("probe")


    def handler(event, context):
        global invocations
        invocations += 1
        request = event
        if isinstance(event, dict) and "Records" in event:
            request = json.loads(event["Records"][0]["Sns"]["Message"])
        action = request.get("action") if isinstance(request, dict) else None
        print("probe saw", json.dumps(event, sort_keys=True))
        if action == "fail":
            raise LookupError("the probe was asked to fail")
        if action == "warn":
            logger.warning("a warning from the probe")
        if action == "sleep":
            time.sleep(request["seconds"])
        if action == "print-marker":
            print("MARKER line for the subscription")
        if action == "exit":
            os._exit(3)
        if action == "allocate":
            hoard = bytearray(request["megabytes"] * 1024 * 1024)
            hoard[-1] = 1
        return {
            "invocations": invocations,
            "colour": os.environ.get("PROBE_COLOUR"),
            "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
            "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "event": event,
            "niceness": os.nice(0),
            # The program that started the runtime, if the sandbox imported it as multiprocessing does by default.
            "main_module_file": getattr(sys.modules.get("__mp_main__"), "__file__", None),
            "compiled": __cached__ is not None and os.path.exists(__cached__),
        }
    """
)


def probe_zip(source: str = PROBE) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("functions/__init__.py", "")
        archive.writestr("functions/probe.py", source)
    return buffer.getvalue()


@dataclass
class LocalAws:
    endpoint: str
    runner: ProcessRuntime
    invoker: AsyncInvoker
    activity: Activity
    role: str

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, **credentials())

    def function(
        self,
        name: str,
        *,
        colour: str = "blue",
        timeout: int = 30,
        code: bytes | None = None,
        memory: int = 128,
        reserved: int | None = None,
        init_seconds: float = 0.0,
    ) -> str:
        arn = self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role,
            Handler="functions.probe.handler",
            Code={"ZipFile": code or probe_zip()},
            Timeout=timeout,
            Environment={"Variables": {"PROBE_COLOUR": colour, "PROBE_INIT_SECONDS": str(init_seconds or "")}},
            MemorySize=memory,
        )["FunctionArn"]
        if reserved is not None:
            self.client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
        self.runner.set_log_group(name, f"probe-{name}-logs")
        self.client("logs").create_log_group(logGroupName=f"probe-{name}-logs")
        return arn

    def invoke(self, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        answer = self.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
        return json.loads(answer["Payload"].read()), answer.get("FunctionError")

    def logging_state_machine(self, name: str, function_arn: str, payload: dict[str, Any]) -> str:
        """An EXPRESS machine of one `lambda:invoke` task, logging ALL with data to the log group `<name>-logs`."""
        self.client("logs").create_log_group(logGroupName=f"{name}-logs")
        definition = {
            "StartAt": "Probe",
            "States": {
                "Probe": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": function_arn, **payload},
                    "End": True,
                }
            },
        }
        group_arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{name}-logs:*"
        return self.client("stepfunctions").create_state_machine(
            name=name,
            definition=json.dumps(definition),
            roleArn=self.role,
            type="EXPRESS",
            loggingConfiguration={
                "level": "ALL",
                "includeExecutionData": True,
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}],
            },
        )["stateMachineArn"]

    def messages(self, group: str) -> list[str]:
        return [e["message"] for e in self.client("logs").filter_log_events(logGroupName=group)["events"]]


def credentials() -> dict[str, str]:
    env = local_aws_env(None)
    return {
        "region_name": env["AWS_DEFAULT_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    """Given moto's server with the Lambda runner and the fidelity patches installed."""
    with ExitStack() as stack:
        endpoint = stack.enter_context(moto_server())
        for key, value in local_aws_env(endpoint).items():
            monkeypatch.setenv(key, value)
        runner = ProcessRuntime(endpoint_url=endpoint)
        stack.enter_context(runner.install())
        activity = Activity()
        invoker = AsyncInvoker(activity, retry_delays=(0.0, 0.0))
        stack.callback(invoker.shutdown)
        stack.enter_context(install_fidelity_patches(invoker, activity))
        iam = boto3.client("iam", endpoint_url=endpoint, **credentials())
        role = iam.create_role(RoleName="probe", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        yield LocalAws(endpoint, runner, invoker, activity, role)
