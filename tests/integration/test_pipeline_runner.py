"""The trigger's synchronous runs over HTTP (moto's server): an execution that outlasts the wait runs on."""

from __future__ import annotations

import json

import boto3
from botocore.config import Config

from functions.messages import PageRef
from functions.messaging import PipelineRunner
from tests.support.local_aws import credentials

SLOW_MACHINE = {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 2, "End": True}}}


def test_given_an_execution_that_outlasts_the_wait_then_the_run_says_running_and_the_execution_runs_on(local_aws):
    sfn = local_aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="slow", definition=json.dumps(SLOW_MACHINE), roleArn=local_aws.role, type="EXPRESS"
    )["stateMachineArn"]
    # The PIPELINE_RUN profile's minute, cut to one second; one attempt, as the profile has.
    impatient = boto3.client(
        "stepfunctions",
        endpoint_url=local_aws.endpoint,
        config=Config(read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1}),
        **credentials(),
    )

    run = PipelineRunner(impatient, machine).run(PageRef(7, "Slow page"), "search", "message-1")

    assert (run.pageid, run.status, run.error) == (7, "RUNNING", "WaitedOut")
    assert local_aws.activity.wait_idle(20)
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["status"] == "SUCCEEDED"  # it ran on, and was started once
