"""Deploy the real Pulumi program (`__main__.py`) into the local AWS: no Pulumi CLI, no cloud account.

The program runs under `pulumi.runtime.set_mocks`; `LocalMocks.new_resource` creates each resource in moto
with boto3 and answers with the ids and attributes moto gave it, so every reference between resources (ARNs,
names, URLs) is a real one in the local AWS. One infrastructure definition serves AWS and the laptop.

Every resource type the program uses is either emulated (created in moto) or on `RECORDED_ONLY`, with the
reason it has no local meaning; anything else stops the deployment with an error naming the type.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from local.aws import ACCOUNT, REGION
from local.emulated import MotoResources, UnsupportedResourceError, auto_name
from local.harness import PROJECT_DIR, ThreadLoopMonitor, run_program_under_mocks, stack_config

__all__ = ["RECORDED_ONLY", "RECORDED_PREFIXES", "Deployment", "LocalMocks", "UnsupportedResourceError", "deploy"]


# Types with no local meaning: recorded (and listed at /api/local/resources), never emulated.
RECORDED_ONLY: dict[str, str] = {
    "command:local:Command": "builds the Lambda layer with pip for AWS; locally functions use the project's venv",
    "pulumi:providers:aws": "a provider for another region (the certificate's); the local AWS has one region",
    "pulumi:providers:datadog": "the Datadog provider of the recorded Datadog resources; it reaches no Datadog",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "the local gateway plays CloudFront",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": "the local gateway adds these headers itself",
    "aws:cloudfront/distribution:Distribution": "the local gateway plays CloudFront",
    "aws:acm/certificate:Certificate": "the local gateway serves plain HTTP on loopback",
    "aws:acm/certificateValidation:CertificateValidation": "the local gateway serves plain HTTP on loopback",
    "aws:route53/record:Record": "no DNS locally: the gateway is on 127.0.0.1",
}
RECORDED_PREFIXES: dict[str, str] = {
    "datadog:": "Datadog resources are recorded and shown at /api/local/monitoring, never sent anywhere",
}


@dataclass
class DeployedResource:
    """One resource of the program, as deployed locally."""

    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    emulated: bool
    note: str = ""

    def summary(self) -> dict[str, Any]:
        """What /api/local/resources shows."""
        return {"type": self.type, "name": self.name, "id": self.id, "emulated": self.emulated, "note": self.note}


@dataclass
class Deployment:
    """The program's resources and its exported outputs."""

    stack: str
    resources: list[DeployedResource]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[DeployedResource]:
        """Every resource of one type token."""
        return [r for r in self.resources if r.type == typ]


# How Pulumi's wire format marks a secret value: {SECRET_SIG_KEY: SECRET_SIG_VALUE, "value": ...}.
_SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 (a marker, not a secret)


def _unwrap_secrets(value: Any) -> Any:
    """Inputs with Pulumi's secret wrappers replaced by their values (the local AWS stores them as given)."""
    if isinstance(value, dict):
        if value.get(_SIGNATURE_KEY) == _SECRET_SIGNATURE:
            return _unwrap_secrets(value.get("value"))
        return {key: _unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(item) for item in value]
    return value


class LocalMocks(pulumi.runtime.Mocks):
    """Creates each registered resource in moto (boto3 at `endpoint_url`) and answers with its real attributes."""

    def __init__(self, stack: str, clients: Callable[[str], Any]) -> None:
        self._stack = stack
        self._client = clients
        self._lock = threading.Lock()
        self.resources: list[DeployedResource] = []
        self.error: Exception | None = None
        self._emulated = MotoResources(stack, clients)

    @staticmethod
    def supported_types() -> set[str]:
        """Every type token the local deployer emulates."""
        return set(MotoResources("probe", lambda service: None).creators)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Create the resource in moto, or record it; refuse a type that is neither."""
        inputs = _unwrap_secrets(dict(args.inputs))
        if args.custom is False:
            # A ComponentResource (wikiroam:components:*): a grouping of the program's, nothing to create.
            return f"{args.name}-component", inputs
        with self._lock:
            try:
                return self._new_resource(args.typ, args.name, inputs)
            except Exception as error:
                # Pulumi's mock monitor would turn this into an opaque gRPC failure: keep the real one.
                if self.error is None:
                    self.error = error
                raise

    def _new_resource(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        creator = self._emulated.creators.get(typ)
        if creator is not None:
            resource_id, outputs = creator(name, inputs)
            state = {**inputs, **outputs}
            self.resources.append(DeployedResource(typ, name, resource_id, inputs, state, emulated=True))
            return resource_id, state
        note = RECORDED_ONLY.get(typ) or next((v for k, v in RECORDED_PREFIXES.items() if typ.startswith(k)), None)
        if note is None:
            raise UnsupportedResourceError(
                f"the local deployer does not know the resource type {typ} (resource {name!r}): emulate it in "
                "MotoResources (local/emulated.py), or put it on RECORDED_ONLY (local/deployer.py) with the reason"
            )
        resource_id = f"{name}-local"
        state = {**inputs, **self._recorded_outputs(typ, name, resource_id, inputs)}
        self.resources.append(DeployedResource(typ, name, resource_id, inputs, state, emulated=False, note=note))
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Provider functions the program may call."""
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":  # noqa: S105 (a function token)
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "userId": ACCOUNT}, None
        if args.token == "aws:index/getRegion:getRegion":  # noqa: S105 (a function token)
            return {"name": REGION, "id": REGION}, None
        raise UnsupportedResourceError(f"the local deployer does not answer the provider function {args.token}")

    def _name(self, name: str, inputs: Mapping[str, Any], key: str = "name") -> str:
        value = inputs.get(key)
        return str(value) if value else auto_name(self._stack, name)

    # --- recorded types ------------------------------------------------------------------------------

    def _recorded_outputs(self, typ: str, name: str, resource_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if typ == "aws:cloudfront/distribution:Distribution":
            return {
                "domainName": "127.0.0.1",
                "hostedZoneId": "LOCAL",
                "arn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/{resource_id}",
            }
        if typ == "aws:acm/certificate:Certificate":
            return {
                "arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{resource_id}",
                "domainValidationOptions": [
                    {
                        "domainName": inputs.get("domainName"),
                        "resourceRecordName": f"_local.{inputs.get('domainName')}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": "_local.acm-validations.aws.",
                    }
                ],
            }
        if typ == "aws:acm/certificateValidation:CertificateValidation":
            return {"certificateArn": inputs.get("certificateArn")}
        if typ == "aws:route53/record:Record":
            return {"fqdn": inputs.get("name")}
        if typ == "datadog:index/dashboardJson:DashboardJson":
            return {"url": f"/dashboard/{resource_id}"}
        return {"arn": f"arn:aws:local:{REGION}:{ACCOUNT}:{resource_id}"}


def deploy(
    stack: str, config_overrides: Mapping[str, Any], clients: Callable[[str], Any], *, project_dir: Path = PROJECT_DIR
) -> Deployment:
    """Run `__main__.py` for `stack` under mocks that create every resource in the local AWS."""
    mocks = LocalMocks(stack, clients)
    try:
        outputs = run_program_under_mocks(
            stack=stack,
            config=stack_config(stack, config_overrides),
            mocks=mocks,
            monitor=ThreadLoopMonitor(mocks),
            project_dir=project_dir,
        )
    except Exception as error:
        # Pulumi's mock monitor turns a failed registration into an opaque error: raise the real one.
        if mocks.error is not None:
            raise mocks.error from error
        raise
    if mocks.error is not None:
        raise mocks.error
    return Deployment(stack=stack, resources=mocks.resources, outputs=outputs)
