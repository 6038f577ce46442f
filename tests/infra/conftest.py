"""The Pulumi program run under `pulumi.runtime.set_mocks`: once per stack per session, every resource recorded.

No Pulumi CLI and no cloud: a mock monitor answers every registration with the inputs plus the outputs AWS
would compute (ARNs, endpoints, domain names), and records each resource's type, name, inputs, parent and
options. Config comes from Pulumi.yaml's defaults overlaid with Pulumi.<stack>.yaml, as the CLI would give it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
import pytest

from local.harness import ThreadLoopMonitor, run_program_under_mocks, stack_config

PROJECT_DIR = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
CONTACT = "infra-tests@example.org"
CLOUDFRONT_DOMAIN = "d111111abcdef8.cloudfront.net"
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"


def _physical_name(typ: str, name: str, inputs: Mapping[str, Any]) -> str:
    for key in ("name", "bucket", "layerName"):
        if isinstance(inputs.get(key), str) and inputs[key]:
            return str(inputs[key])
    # Pulumi's auto-naming: the logical name and a random suffix.
    return f"{name}-1a2b3c4"


def computed_outputs(typ: str, name: str, resource_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What AWS would compute for a resource: its ARN, physical name, endpoints and domain names."""
    physical = _physical_name(typ, name, inputs)
    service = typ.split(":")[1].split("/", maxsplit=1)[0]
    prefix = f"arn:aws:{service}:{REGION}:{ACCOUNT}"
    outputs: dict[str, Any] = {"arn": f"{prefix}:{physical}"}
    if typ == "aws:cloudwatch/logGroup:LogGroup":
        outputs.update(name=physical, arn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical}")
    elif typ == "aws:lambda/function:Function":
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}"
        invoke = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"
        outputs.update(name=physical, arn=arn, invokeArn=invoke)
    elif typ == "aws:lambda/layerVersion:LayerVersion":
        outputs.update(arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{physical}:1")
    elif typ == "aws:dynamodb/table:Table":
        outputs.update(name=physical, arn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical}")
    elif typ == "aws:sns/topic:Topic":
        outputs.update(name=physical, arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:{physical}")
    elif typ == "aws:sqs/queue:Queue":
        outputs.update(
            name=physical,
            arn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{physical}",
            url=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}",
        )
    elif typ == "aws:cloudwatch/eventRule:EventRule":
        outputs.update(name=physical, arn=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{physical}")
    elif typ == "aws:sfn/stateMachine:StateMachine":
        outputs.update(name=physical, arn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{physical}")
    elif typ == "aws:secretsmanager/secret:Secret":
        # Secrets Manager appends six random characters to the name in the ARN.
        outputs.update(name=physical, arn=f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{physical}-AbCdEf")
    elif typ == "aws:iam/role:Role":
        outputs.update(name=physical, arn=f"arn:aws:iam::{ACCOUNT}:role/{physical}")
    elif typ == "aws:apigatewayv2/api:Api":
        outputs.update(
            apiEndpoint=f"https://{resource_id}.execute-api.{REGION}.amazonaws.com",
            executionArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{resource_id}",
        )
    elif typ == "aws:s3/bucketV2:BucketV2":
        outputs.update(
            bucket=physical, arn=f"arn:aws:s3:::{physical}", bucketRegionalDomainName=f"{physical}.s3.amazonaws.com"
        )
    elif typ == "aws:cloudfront/distribution:Distribution":
        outputs.update(
            domainName=CLOUDFRONT_DOMAIN,
            hostedZoneId=CLOUDFRONT_ZONE,
            arn=f"arn:aws:cloudfront::{ACCOUNT}:distribution/{resource_id}",
        )
    elif typ == "aws:acm/certificate:Certificate":
        outputs.update(
            arn=f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{resource_id}",
            domainValidationOptions=[
                {
                    "domainName": inputs.get("domainName"),
                    "resourceRecordName": f"_0123.{inputs.get('domainName')}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": "_4567.acm-validations.aws.",
                }
            ],
        )
    elif typ == "aws:route53/record:Record":
        outputs.update(fqdn=inputs.get("name"))
    elif typ == "aws:iam/policy:Policy":
        outputs.update(arn=f"arn:aws:iam::{ACCOUNT}:policy/{physical}")
    elif typ == "datadog:index/dashboardJson:DashboardJson":
        outputs = {"url": f"/dashboard/{resource_id}"}
    elif typ == "datadog:aws/integrationExternalId:IntegrationExternalId":
        outputs = {}
    return outputs


# What the provider functions the program calls answer (others answer nothing).
DATADOG_IAM_PERMISSIONS = [f"service{n}:Describe{k}" for n in range(150) for k in ("Things", "Other*")] + [
    "cloudwatch:GetMetricData",
    "tag:GetResources",
]
CALL_RESULTS: dict[str, dict[str, Any]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root"},
    "datadog:aws/getIntegrationIamPermissions:getIntegrationIamPermissions": {
        "iamPermissions": DATADOG_IAM_PERMISSIONS,
        "id": "permissions",
    },
}


@dataclass
class Recorded:
    """One registered resource: what the program asked for, and how."""

    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    parent_urn: str
    urn: str = ""
    retain_on_delete: bool = False
    provider: str = ""


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers registrations with computed outputs and keeps every resource."""

    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id = f"{args.name}-id"
        self.inputs[args.typ, args.name] = dict(args.inputs)
        state = {**args.inputs, **computed_outputs(args.typ, args.name, resource_id, args.inputs)}
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append(args.token)
        return CALL_RESULTS.get(args.token, {}), []


class RecordingMonitor(ThreadLoopMonitor):
    """The mock monitor, also recording the resource options the mocks do not see (parent, retain, provider)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recording.resources.append(
                Recorded(
                    type=request.type,
                    name=request.name,
                    inputs=self.recording.inputs.get((request.type, request.name), {}),
                    custom=request.custom,
                    parent_urn=request.parent,
                    urn=response.urn,
                    retain_on_delete=request.HasField("retainOnDelete") and request.retainOnDelete,
                    provider=request.provider,
                )
            )
        return response


@dataclass
class Deployment:
    """A program run: the stack, its config, every resource, and the exported outputs (resolved)."""

    stack: str
    config: dict[str, str]
    resources: list[Recorded]
    outputs: dict[str, Any]
    calls: list[str] = field(default_factory=list)
    spawned: list[Any] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Recorded]:
        """Every resource of one type token, e.g. `aws:lambda/function:Function`."""
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str) -> Recorded:
        """The one resource with this logical name."""
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"{len(matches)} resources named {name!r}"
        return matches[0]

    def children_of(self, parent: Recorded) -> list[Recorded]:
        """The resources whose parent is `parent`."""
        return [r for r in self.resources if r.parent_urn == parent.urn]


def run_program(stack: str, overrides: Mapping[str, Any] | None = None) -> Deployment:
    """Run __main__.py under mocks for a stack and return what it registered and exported."""
    config = stack_config(stack, {"wikiroam:contact": CONTACT, **(overrides or {})})
    mocks = RecordingMocks()
    # Building the dependency layer (pip) is the engine's job at deploy time: the program itself never spawns.
    spawned: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        spawned.append(args)
        raise AssertionError(f"the program tried to run {args!r}")

    with mock.patch.object(subprocess.Popen, "__init__", refuse), mock.patch.object(os, "system", refuse):
        outputs = run_program_under_mocks(stack=stack, config=config, mocks=mocks, monitor=RecordingMonitor(mocks))
    return Deployment(
        stack=stack, config=config, resources=mocks.resources, outputs=outputs, calls=mocks.calls, spawned=spawned
    )


@pytest.fixture(scope="session")
def dev() -> Deployment:
    """Given the dev stack's program run under mocks."""
    return run_program("dev")


@pytest.fixture(scope="session")
def prod() -> Deployment:
    """Given the prod stack's program run under mocks."""
    return run_program("prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """Each stack's program run, for checks that hold on every stack."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def custom_domain() -> Deployment:
    """Given the prod stack with a custom domain in a Route 53 zone."""
    return run_program("prod", {"wikiroam:domainName": "roam.example.org", "wikiroam:hostedZoneId": "Z0123456789ABC"})
