"""Every Lambda function under mocks: code, layer, handler, environment, size, logs and role."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from functions import settings, telemetry
from functions.contract import TRIGGER_EXECUTIONS_IN_FLIGHT
from tests.infra.conftest import PROJECT_DIR, run_program

# Component name -> (handler, the settings reader its sandbox validates its environment with).
FUNCTIONS = {
    "wikiroam-api-handler": ("functions.handlers.api.handler", settings.api_settings),
    "wikiroam-cache-trigger": ("functions.handlers.trigger.handler", settings.trigger_settings),
    **{
        f"wikiroam-cache-{step}": (f"functions.handlers.cache_steps.{step}", settings.cache_settings)
        for step in ("start", "info", "backlinks")
    },
    "wikiroam-telemetry-shipper": ("functions.handlers.shipper.handler", settings.shipper_settings),
    "wikiroam-gaps-check": ("functions.handlers.gaps.handler", settings.gap_check_settings),
}


class ReadRecorder(Mapping[str, str]):
    """An environment that remembers which variables were read from it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def get(self, key, default=None):
        self.read.add(key)
        return self._values.get(key, default)

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


# Config keys (memory, timeout) per function.
SIZES = {
    "wikiroam-api-handler": ("apiMemoryMb", "apiTimeoutSeconds"),
    "wikiroam-cache-trigger": ("triggerMemoryMb", "triggerTimeoutSeconds"),
    "wikiroam-cache-start": ("cacheStepMemoryMb", "cacheStepTimeoutSeconds"),
    "wikiroam-cache-info": ("cacheStepMemoryMb", "cacheStepTimeoutSeconds"),
    "wikiroam-cache-backlinks": ("cacheBacklinksMemoryMb", "cacheBacklinksTimeoutSeconds"),
    "wikiroam-telemetry-shipper": ("shipperMemoryMb", "shipperTimeoutSeconds"),
    "wikiroam-gaps-check": ("gapCheckMemoryMb", "gapCheckTimeoutSeconds"),
}


def test_given_each_stack_then_there_are_exactly_the_seven_functions(deployment):
    assert sorted(r.name for r in deployment.of_type("aws:lambda/function:Function")) == sorted(
        f"{name}-function" for name in FUNCTIONS
    )


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_given_each_function_then_it_runs_its_handler_on_python_arm64_with_the_layer(dev, name):
    handler, _ = FUNCTIONS[name]
    function = dev.named(f"{name}-function").inputs
    assert function["handler"] == handler
    assert function["runtime"] == "python3.12"
    assert function["architectures"] == ["arm64"]
    assert function["layers"] == [_layer_arn(dev)]


def _layer_arn(deployment) -> str:
    layer = deployment.named("wikiroam-code-layer")
    return f"arn:aws:lambda:us-east-1:123456789012:layer:{layer.inputs['layerName']}:1"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_given_each_function_then_its_environment_has_exactly_the_variables_its_settings_read(dev, name):
    _, read_settings = FUNCTIONS[name]
    variables = dev.named(f"{name}-function").inputs["environment"]["variables"]
    environment = ReadRecorder(variables)
    # The function's own readers, as its sandbox runs them at the first invocation: a variable they require
    # and the component does not set fails here, naming it; one the component sets and nothing reads fails below.
    read_settings(environment)
    assert telemetry.telemetry_settings(environment) is not None
    assert set(variables) <= environment.read, f"set but never read: {sorted(set(variables) - environment.read)}"
    assert all(isinstance(value, str) and value for value in variables.values())
    if settings.WIKI_CONTACT in variables:
        assert variables[settings.WIKI_CONTACT] == dev.config["wikiroam:contact"]
        assert variables[settings.WIKI_API_URL] == dev.config["wikiroam:wikiApiUrl"]


def test_given_the_environments_then_they_carry_the_other_resources_physical_names(dev):
    api = dev.named("wikiroam-api-handler-function").inputs["environment"]["variables"]
    assert api[settings.PAGES_TABLE] == dev.outputs["pagesTableName"]
    assert api[settings.LINKS_TABLE] == dev.outputs["linksTableName"]
    assert api[settings.CACHE_TOPIC_ARN] == dev.outputs["cacheTopicArn"]
    trigger = dev.named("wikiroam-cache-trigger-function").inputs["environment"]["variables"]
    assert trigger[settings.STATE_MACHINE_ARN] == dev.outputs["stateMachineArn"]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_given_each_stack_then_every_function_names_the_stack_as_its_deployment(deployment, name):
    variables = deployment.named(f"{name}-function").inputs["environment"]["variables"]
    assert variables[settings.ENVIRONMENT] == deployment.stack


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_given_each_function_then_its_size_comes_from_config(deployment, name):
    memory_key, timeout_key = SIZES[name]
    function = deployment.named(f"{name}-function").inputs
    assert function["memorySize"] == int(deployment.config[f"wikiroam:{memory_key}"])
    assert function["timeout"] == int(deployment.config[f"wikiroam:{timeout_key}"])


def test_given_each_stack_then_the_pipeline_has_reserved_concurrency_and_the_others_do_not(deployment):
    reserved = int(deployment.config["wikiroam:cacheConcurrency"])
    assert reserved > 0
    expected = {name: -1 for name in FUNCTIONS}
    expected |= {f"wikiroam-cache-{step}": reserved for step in ("start", "info", "backlinks")}
    # The trigger runs TRIGGER_EXECUTIONS_IN_FLIGHT executions per instance: never more in flight than a step runs.
    expected["wikiroam-cache-trigger"] = max(1, reserved // TRIGGER_EXECUTIONS_IN_FLIGHT)
    assert expected["wikiroam-cache-trigger"] * TRIGGER_EXECUTIONS_IN_FLIGHT <= reserved
    actual = {name: deployment.named(f"{name}-function").inputs["reservedConcurrentExecutions"] for name in FUNCTIONS}
    assert actual == expected


def test_given_a_negative_concurrency_then_the_cache_steps_are_left_unreserved():
    deployment = run_program("dev", {"wikiroam:cacheConcurrency": -1})
    assert {r.inputs["reservedConcurrentExecutions"] for r in deployment.of_type("aws:lambda/function:Function")} == {
        -1
    }


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_given_each_function_then_it_logs_to_its_own_log_group_with_the_stack_retention(deployment, name):
    function = deployment.named(f"{name}-function").inputs
    log_group = deployment.named(f"{name}-logs")
    assert function["loggingConfig"]["logGroup"] == f"{name}-logs-1a2b3c4"
    assert log_group.inputs["retentionInDays"] == int(deployment.config["wikiroam:logRetentionDays"])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_given_each_function_then_it_has_its_own_role_trusted_by_lambda_only(dev, name):
    function = dev.named(f"{name}-function").inputs
    assert function["role"].endswith(f":role/{name}-role-1a2b3c4")
    trust = json.loads(dev.named(f"{name}-role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    policy = json.loads(dev.named(f"{name}-policy").inputs["policy"])
    logs = policy["Statement"][0]
    assert logs["Resource"] == [f"arn:aws:logs:us-east-1:123456789012:log-group:{name}-logs-1a2b3c4:*"]


def test_given_the_code_archive_then_it_holds_the_functions_package_at_its_root_without_bytecode(dev):
    code = dev.named("wikiroam-api-handler-function").inputs["code"]
    paths = set(code.assets)
    expected = {
        Path("functions", p.relative_to(PROJECT_DIR / "functions")).as_posix()
        for p in (PROJECT_DIR / "functions").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert paths == expected
    assert {"functions/__init__.py", "functions/handlers/api.py", "functions/settings.py"} <= paths
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in paths)


def test_given_the_layer_then_a_deploy_time_command_pip_installs_the_lock_for_lambda(dev):
    build = dev.named("wikiroam-code-layer-build").inputs
    create = build["create"]
    for argument in (
        "pip install",
        "--platform manylinux2014_aarch64",
        "--python-version 3.12",
        "--only-binary=:all:",
        "--target python",
        "--requirement ../../requirements/layer.txt",
    ):
        assert argument in create
    assert build["dir"] == "build/lambda-layer"
    assert build["archivePaths"] == ["python/**"]
    layer = dev.named("wikiroam-code-layer").inputs
    assert layer["compatibleRuntimes"] == ["python3.12"]
    assert layer["compatibleArchitectures"] == ["arm64"]


def test_given_the_lock_file_then_it_is_what_triggers_a_rebuild(dev):
    lock_hash = hashlib.sha256((PROJECT_DIR / "requirements/layer.txt").read_bytes()).hexdigest()
    assert lock_hash in dev.named("wikiroam-code-layer-build").inputs["triggers"]
    assert lock_hash in dev.named("wikiroam-code-layer-dir").inputs["triggers"]
