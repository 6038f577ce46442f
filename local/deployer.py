"""Deploy the real Pulumi program (`__main__.py`) into the local AWS: no Pulumi CLI, no cloud account.

The program runs under `pulumi.runtime.set_mocks`; `LocalMocks.new_resource` creates each resource in moto
with boto3 and answers with the ids and attributes moto gave it, so every reference between resources (ARNs,
names, URLs) is a real one in the local AWS. One infrastructure definition serves AWS and the laptop.

Every resource type the program uses is either emulated (created in moto) or on `RECORDED_ONLY`, with the
reason it has no local meaning; anything else stops the deployment with an error naming the type.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import runpy
import threading
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml  # type: ignore[import-untyped]
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from local.aws import REGION

PROJECT_DIR = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"

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


_DEPLOY_THREAD = "wikiroam-deploy"


class UnsupportedResourceError(RuntimeError):
    """The program declares a resource type the local deployer neither emulates nor records."""


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


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The config the Pulumi CLI hands the program: Pulumi.yaml defaults, then the stack file, then overrides."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {}
    for key, spec in (project.get("config") or {}).items():
        full_key = key if ":" in key else f"{project['name']}:{key}"
        if isinstance(spec, dict):
            if "default" in spec:
                values[full_key] = spec["default"]
            elif "value" in spec:
                values[full_key] = spec["value"]
        else:
            values[full_key] = spec
    stack_file = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise FileNotFoundError(f"no stack file {stack_file.name}: pick one of the Pulumi.<stack>.yaml files")
    values.update((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {})
    values.update(overrides or {})
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def _auto_name(stack: str, name: str) -> str:
    # Pulumi's auto-naming (logical name + 7 random characters), made deterministic for the local stack.
    return f"{name}-{hashlib.sha256(f'{stack}/{name}'.encode()).hexdigest()[:7]}"


def _zip_archive(archive: Any) -> bytes:
    """A Pulumi AssetArchive of FileAssets (the functions' code) as zip bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, asset in sorted(archive.assets.items()):
            path = getattr(asset, "path", None)
            if path is None:
                raise UnsupportedResourceError(f"archive member {name!r} is not a file asset")
            bundle.write(path, name)
    return buffer.getvalue()


def _layer_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(
            "python/README.txt", "The local stack runs functions with the project's environment (requirements/).\n"
        )
    return buffer.getvalue()


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


def table_spec(table: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB CreateTable's arguments for an `aws.dynamodb.Table`'s Pulumi inputs."""
    key_schema = [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}]
    if inputs.get("rangeKey"):
        key_schema.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
    spec: dict[str, Any] = {
        "TableName": table,
        "BillingMode": inputs.get("billingMode", "PAY_PER_REQUEST"),
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
        ],
        "KeySchema": key_schema,
    }
    indexes = []
    for index in inputs.get("globalSecondaryIndexes") or []:
        schema = [{"AttributeName": index["hashKey"], "KeyType": "HASH"}]
        if index.get("rangeKey"):
            schema.append({"AttributeName": index["rangeKey"], "KeyType": "RANGE"})
        projection: dict[str, Any] = {"ProjectionType": index.get("projectionType", "ALL")}
        if index.get("nonKeyAttributes"):
            projection["NonKeyAttributes"] = list(index["nonKeyAttributes"])
        indexes.append({"IndexName": index["name"], "KeySchema": schema, "Projection": projection})
    if indexes:
        spec["GlobalSecondaryIndexes"] = indexes
    if (inputs.get("serverSideEncryption") or {}).get("enabled"):
        spec["SSESpecification"] = {"Enabled": True}
    if inputs.get("deletionProtectionEnabled"):
        spec["DeletionProtectionEnabled"] = True
    return spec


def _tags(inputs: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (inputs.get("tags") or {}).items()}


class LocalMocks(pulumi.runtime.Mocks):
    """Creates each registered resource in moto (boto3 at `endpoint_url`) and answers with its real attributes."""

    def __init__(self, stack: str, clients: Callable[[str], Any]) -> None:
        self._stack = stack
        self._client = clients
        self._lock = threading.Lock()
        self.resources: list[DeployedResource] = []
        self.error: Exception | None = None
        self._creators: dict[str, Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]] = {
            "aws:dynamodb/table:Table": self._table,
            "aws:iam/role:Role": self._role,
            "aws:iam/rolePolicy:RolePolicy": self._role_policy,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": self._subscription_filter,
            "aws:lambda/layerVersion:LayerVersion": self._layer,
            "aws:lambda/function:Function": self._function,
            "aws:lambda/permission:Permission": self._permission,
            "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": self._event_invoke_config,
            "aws:sns/topic:Topic": self._topic,
            "aws:sns/topicSubscription:TopicSubscription": self._subscription,
            "aws:sqs/queue:Queue": self._queue,
            "aws:sqs/queuePolicy:QueuePolicy": self._queue_policy,
            "aws:sfn/stateMachine:StateMachine": self._state_machine,
            "aws:apigatewayv2/api:Api": self._http_api,
            "aws:apigatewayv2/integration:Integration": self._integration,
            "aws:apigatewayv2/stage:Stage": self._stage,
            "aws:apigatewayv2/route:Route": self._route,
            "aws:s3/bucketV2:BucketV2": self._bucket,
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": self._public_access_block,
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls": self._ownership_controls,
            "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": (
                self._bucket_encryption
            ),
            "aws:s3/bucketPolicy:BucketPolicy": self._bucket_policy,
            "aws:s3/bucketObjectv2:BucketObjectv2": self._bucket_object,
            "aws:secretsmanager/secret:Secret": self._secret,
            "aws:secretsmanager/secretVersion:SecretVersion": self._secret_version,
        }

    @staticmethod
    def supported_types() -> set[str]:
        """Every type token the local deployer emulates."""
        return set(LocalMocks("probe", lambda service: None)._creators)

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
        creator = self._creators.get(typ)
        if creator is not None:
            resource_id, outputs = creator(name, inputs)
            state = {**inputs, **outputs}
            self.resources.append(DeployedResource(typ, name, resource_id, inputs, state, emulated=True))
            return resource_id, state
        note = RECORDED_ONLY.get(typ) or next((v for k, v in RECORDED_PREFIXES.items() if typ.startswith(k)), None)
        if note is None:
            raise UnsupportedResourceError(
                f"the local deployer does not know the resource type {typ} (resource {name!r}): add it to "
                "local/deployer.py, as an emulated type in LocalMocks or on RECORDED_ONLY with the reason"
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
        return str(value) if value else _auto_name(self._stack, name)

    # --- emulated types ------------------------------------------------------------------------------

    def _table(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        table = self._name(name, inputs)
        spec = table_spec(table, inputs)
        dynamodb = self._client("dynamodb")
        described = dynamodb.create_table(**spec)["TableDescription"]
        if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
            dynamodb.update_continuous_backups(
                TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        return table, {"name": table, "arn": described["TableArn"]}

    def _role(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        role_name = self._name(name, inputs)
        role = self._client("iam").create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
            Description=inputs.get("description", ""),
        )["Role"]
        return role_name, {"name": role_name, "arn": role["Arn"], "uniqueId": role["RoleId"]}

    def _role_policy(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        policy_name = self._name(name, inputs)
        json.loads(inputs["policy"])  # a malformed policy fails here, as it would in IAM
        self._client("iam").put_role_policy(
            RoleName=inputs["role"], PolicyName=policy_name, PolicyDocument=inputs["policy"]
        )
        return f"{inputs['role']}:{policy_name}", {"name": policy_name}

    def _log_group(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        group = self._name(name, inputs)
        logs = self._client("logs")
        logs.create_log_group(logGroupName=group, **({"tags": _tags(inputs)} if inputs.get("tags") else {}))
        if inputs.get("retentionInDays"):
            logs.put_retention_policy(logGroupName=group, retentionInDays=int(inputs["retentionInDays"]))
        return group, {"name": group, "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"}

    def _subscription_filter(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        filter_name = self._name(name, inputs)
        self._client("logs").put_subscription_filter(
            logGroupName=inputs["logGroup"],
            filterName=filter_name,
            filterPattern=inputs.get("filterPattern", ""),
            destinationArn=inputs["destinationArn"],
        )
        return f"cwlsf-{filter_name}", {"name": filter_name}

    def _layer(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        layer = self._client("lambda").publish_layer_version(
            LayerName=inputs["layerName"],
            Description=inputs.get("description", ""),
            Content={"ZipFile": _layer_zip()},
            CompatibleRuntimes=list(inputs.get("compatibleRuntimes") or []),
            CompatibleArchitectures=list(inputs.get("compatibleArchitectures") or []),
        )
        arn = layer["LayerVersionArn"]
        return arn, {"arn": arn, "layerArn": layer["LayerArn"], "version": str(layer["Version"])}

    def _function(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        function_name = self._name(name, inputs)
        spec: dict[str, Any] = {
            "FunctionName": function_name,
            "Runtime": inputs["runtime"],
            "Role": inputs["role"],
            "Handler": inputs["handler"],
            "Code": {"ZipFile": _zip_archive(inputs["code"])},
            "Description": inputs.get("description", ""),
            "Timeout": int(inputs.get("timeout", 3)),
            "MemorySize": int(inputs.get("memorySize", 128)),
            "Architectures": list(inputs.get("architectures") or ["x86_64"]),
            "Environment": {"Variables": dict((inputs.get("environment") or {}).get("variables") or {})},
        }
        if inputs.get("layers"):
            spec["Layers"] = list(inputs["layers"])
        logging_config = inputs.get("loggingConfig") or {}
        if logging_config:
            spec["LoggingConfig"] = {
                key: value
                for key, value in {
                    "LogFormat": logging_config.get("logFormat"),
                    "LogGroup": logging_config.get("logGroup"),
                }.items()
                if value
            }
        lambda_client = self._client("lambda")
        created = lambda_client.create_function(**spec)
        reserved = int(inputs.get("reservedConcurrentExecutions", -1))
        if reserved >= 0:
            lambda_client.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=reserved)
        arn = created["FunctionArn"]
        invoke_arn = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"
        return function_name, {
            "name": function_name,
            "arn": arn,
            "invokeArn": invoke_arn,
            "qualifiedArn": f"{arn}:$LATEST",
            "version": "$LATEST",
            "sourceCodeHash": created["CodeSha256"],
        }

    def _permission(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        statement_id = inputs.get("statementId") or _auto_name(self._stack, name)
        spec = {
            "FunctionName": inputs["function"],
            "StatementId": statement_id,
            "Action": inputs["action"],
            "Principal": inputs["principal"],
        }
        if inputs.get("sourceArn"):
            spec["SourceArn"] = inputs["sourceArn"]
        self._client("lambda").add_permission(**spec)
        return statement_id, {"statementId": statement_id}

    def _event_invoke_config(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        spec: dict[str, Any] = {"FunctionName": inputs["functionName"]}
        if "maximumRetryAttempts" in inputs:
            spec["MaximumRetryAttempts"] = int(inputs["maximumRetryAttempts"])
        if "maximumEventAgeInSeconds" in inputs:
            spec["MaximumEventAgeInSeconds"] = int(inputs["maximumEventAgeInSeconds"])
        destinations = inputs.get("destinationConfig") or {}
        config: dict[str, Any] = {}
        for key, aws_key in (("onFailure", "OnFailure"), ("onSuccess", "OnSuccess")):
            if (destinations.get(key) or {}).get("destination"):
                config[aws_key] = {"Destination": destinations[key]["destination"]}
        if config:
            spec["DestinationConfig"] = config
        self._client("lambda").put_function_event_invoke_config(**spec)
        return str(inputs["functionName"]), {}

    def _topic(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        topic_name = self._name(name, inputs)
        arn = self._client("sns").create_topic(Name=topic_name)["TopicArn"]
        return arn, {"name": topic_name, "arn": arn}

    def _subscription(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        attributes = {}
        if inputs.get("redrivePolicy"):
            attributes["RedrivePolicy"] = inputs["redrivePolicy"]
        if inputs.get("filterPolicy"):
            attributes["FilterPolicy"] = inputs["filterPolicy"]
        arn = self._client("sns").subscribe(
            TopicArn=inputs["topic"],
            Protocol=inputs["protocol"],
            Endpoint=inputs["endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return arn, {"arn": arn}

    def _queue(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        queue_name = self._name(name, inputs)
        attributes = {}
        if inputs.get("messageRetentionSeconds"):
            attributes["MessageRetentionPeriod"] = str(int(inputs["messageRetentionSeconds"]))
        if inputs.get("sqsManagedSseEnabled"):
            attributes["SqsManagedSseEnabled"] = "true"
        sqs = self._client("sqs")
        url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, {"name": queue_name, "arn": arn, "url": url}

    def _queue_policy(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._client("sqs").set_queue_attributes(QueueUrl=inputs["queueUrl"], Attributes={"Policy": inputs["policy"]})
        return str(inputs["queueUrl"]), {}

    def _state_machine(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        machine_name = self._name(name, inputs)
        spec: dict[str, Any] = {
            "name": machine_name,
            "definition": inputs["definition"],
            "roleArn": inputs["roleArn"],
            "type": inputs.get("type", "STANDARD"),
        }
        logging_config = inputs.get("loggingConfiguration") or {}
        if logging_config:
            spec["loggingConfiguration"] = {
                "level": logging_config.get("level", "OFF"),
                "includeExecutionData": bool(logging_config.get("includeExecutionData")),
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": logging_config["logDestination"]}}]
                if logging_config.get("logDestination")
                else [],
            }
        arn = self._client("stepfunctions").create_state_machine(**spec)["stateMachineArn"]
        return arn, {"name": machine_name, "arn": arn}

    def _http_api(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        api = self._client("apigatewayv2").create_api(
            Name=self._name(name, inputs),
            ProtocolType=inputs.get("protocolType", "HTTP"),
            Description=inputs.get("description", ""),
        )
        api_id = api["ApiId"]
        return api_id, {
            "apiEndpoint": api["ApiEndpoint"],
            "executionArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}",
            "arn": f"arn:aws:apigateway:{REGION}::/apis/{api_id}",
        }

    def _integration(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        spec: dict[str, Any] = {
            "ApiId": inputs["apiId"],
            "IntegrationType": inputs["integrationType"],
            "IntegrationUri": inputs["integrationUri"],
            "PayloadFormatVersion": inputs.get("payloadFormatVersion", "2.0"),
        }
        if inputs.get("integrationMethod"):
            spec["IntegrationMethod"] = inputs["integrationMethod"]
        if inputs.get("timeoutMilliseconds"):
            spec["TimeoutInMillis"] = int(inputs["timeoutMilliseconds"])
        integration = self._client("apigatewayv2").create_integration(**spec)
        return integration["IntegrationId"], {}

    def _stage(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        spec: dict[str, Any] = {"ApiId": inputs["apiId"], "StageName": inputs["name"]}
        if inputs.get("autoDeploy") is not None:
            spec["AutoDeploy"] = bool(inputs["autoDeploy"])
        access = inputs.get("accessLogSettings") or {}
        if access:
            spec["AccessLogSettings"] = {"DestinationArn": access["destinationArn"], "Format": access["format"]}
        self._client("apigatewayv2").create_stage(**spec)
        return str(inputs["name"]), {"invokeUrl": f"https://{inputs['apiId']}.execute-api.{REGION}.amazonaws.com/"}

    def _route(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        spec: dict[str, Any] = {"ApiId": inputs["apiId"], "RouteKey": inputs["routeKey"]}
        if inputs.get("target"):
            spec["Target"] = inputs["target"]
        route = self._client("apigatewayv2").create_route(**spec)
        return route["RouteId"], {}

    def _bucket(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        bucket = self._name(name, inputs, "bucket")
        self._client("s3").create_bucket(Bucket=bucket)
        return bucket, {
            "bucket": bucket,
            "arn": f"arn:aws:s3:::{bucket}",
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
        }

    def _public_access_block(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._client("s3").put_public_access_block(
            Bucket=inputs["bucket"],
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": bool(inputs.get("blockPublicAcls")),
                "IgnorePublicAcls": bool(inputs.get("ignorePublicAcls")),
                "BlockPublicPolicy": bool(inputs.get("blockPublicPolicy")),
                "RestrictPublicBuckets": bool(inputs.get("restrictPublicBuckets")),
            },
        )
        return str(inputs["bucket"]), {}

    def _ownership_controls(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._client("s3").put_bucket_ownership_controls(
            Bucket=inputs["bucket"],
            OwnershipControls={"Rules": [{"ObjectOwnership": inputs["rule"]["objectOwnership"]}]},
        )
        return str(inputs["bucket"]), {}

    def _bucket_encryption(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rules = []
        for rule in inputs.get("rules") or []:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            entry: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": default["sseAlgorithm"]}}
            if "bucketKeyEnabled" in rule:
                entry["BucketKeyEnabled"] = bool(rule["bucketKeyEnabled"])
            rules.append(entry)
        self._client("s3").put_bucket_encryption(
            Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
        )
        return str(inputs["bucket"]), {}

    def _bucket_policy(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._client("s3").put_bucket_policy(Bucket=inputs["bucket"], Policy=inputs["policy"])
        return str(inputs["bucket"]), {}

    def _bucket_object(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        source = inputs.get("source")
        path = getattr(source, "path", None)
        body = Path(path).read_bytes() if path else str(inputs.get("content", "")).encode()
        spec: dict[str, Any] = {"Bucket": inputs["bucket"], "Key": inputs["key"], "Body": body}
        for key, aws_key in (("contentType", "ContentType"), ("cacheControl", "CacheControl")):
            if inputs.get(key):
                spec[aws_key] = inputs[key]
        etag = self._client("s3").put_object(**spec)["ETag"].strip('"')
        return str(inputs["key"]), {"etag": etag}

    def _secret(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        secret_name = self._name(name, inputs)
        spec: dict[str, Any] = {"Name": secret_name, "Description": inputs.get("description", "")}
        arn = self._client("secretsmanager").create_secret(**spec)["ARN"]
        return arn, {"name": secret_name, "arn": arn}

    def _secret_version(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        version = self._client("secretsmanager").put_secret_value(
            SecretId=inputs["secretId"], SecretString=str(inputs.get("secretString", ""))
        )
        return f"{inputs['secretId']}|{version['VersionId']}", {
            "versionId": version["VersionId"],
            "arn": version["ARN"],
        }

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


class ThreadLoopMonitor(MockMonitor):
    """Pulumi's mock monitor, owning the event loops its calls need on the executor's threads.

    MockMonitor makes an event loop on every thread it is called on and never closes it; these loops are
    made here instead, and closed by `close()` once the program has run.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._loops_lock = threading.Lock()

    def _thread_loop(self) -> None:
        # The program's own thread has its loop; the executor's threads get one each, closed afterwards.
        if getattr(self._local, "loop", None) is None and threading.current_thread().name != _DEPLOY_THREAD:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._local.loop = loop
            with self._loops_lock:
                self._loops.append(loop)

    def RegisterResource(self, request: Any) -> Any:
        self._thread_loop()
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]

    def Invoke(self, request: Any) -> Any:
        self._thread_loop()
        return super().Invoke(request)  # type: ignore[no-untyped-call]

    def ReadResource(self, request: Any) -> Any:
        self._thread_loop()
        return super().ReadResource(request)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Close the loops made for the executor's threads."""
        with self._loops_lock:
            for loop in self._loops:
                loop.close()
            self._loops.clear()


def run_program_under_mocks(
    *,
    stack: str,
    config: Mapping[str, str],
    mocks: pulumi.runtime.Mocks,
    monitor: ThreadLoopMonitor,
    project_dir: Path = PROJECT_DIR,
) -> dict[str, Any]:
    """Run `__main__.py` under `mocks` on a thread, event loop and executor of its own; return its outputs.

    Nothing of Pulumi's machinery (threads, event loops) outlives the run or touches the caller's event loop.
    """
    outputs: dict[str, Any] = {}

    def program() -> None:
        runpy.run_path(str(project_dir / "__main__.py"))
        root = pulumi.runtime.get_root_resource()
        exported = pulumi.Output.all(**root.outputs)  # type: ignore[union-attr]
        outputs.update(_sync_await(exported.future()) or {})  # type: ignore[arg-type]

    failure: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        executor = ThreadPoolExecutor(thread_name_prefix=f"{_DEPLOY_THREAD}-rpc")
        loop.set_default_executor(executor)
        try:
            # Pulumi's settings hold futures of the loop they were made on: make them on this one.
            set_root_resource(None)  # type: ignore[arg-type]  # a fresh stack resource per run
            pulumi.runtime.set_mocks(mocks, project="wikiroam", stack=stack, preview=False, monitor=monitor)
            pulumi.runtime.set_all_config(dict(config))
            _sync_await(run_pulumi_func(program))
        except BaseException as error:  # noqa: BLE001 (handed to the calling thread, which re-raises it)
            failure.append(error)
        finally:
            executor.shutdown(wait=True)
            monitor.close()
            loop.close()
            asyncio.set_event_loop(None)

    cwd = Path.cwd()
    os.chdir(project_dir)  # Pulumi runs the program in the project directory
    worker = threading.Thread(target=run, name=_DEPLOY_THREAD)
    try:
        worker.start()
        worker.join()
    finally:
        os.chdir(cwd)
    if failure:
        raise failure[0]
    return outputs


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
