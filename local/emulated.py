"""The resource types the local deployer emulates: each created in moto with boto3, answered with moto's ids.

`MotoResources.creators` maps a Pulumi type token to the function that creates it in the local AWS and returns
its id and the outputs AWS would compute (ARNs, names, URLs), so references between resources are real ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from local.aws import ACCOUNT, REGION

Creator = Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]


class UnsupportedResourceError(RuntimeError):
    """The program declares a resource type the local deployer neither emulates nor records."""


def auto_name(stack: str, name: str) -> str:
    """Pulumi's auto-naming (logical name + 7 random characters), deterministic for the local stack."""
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


class MotoResources:
    """Creates resources in moto through `clients(service)`, naming them as Pulumi's auto-naming would."""

    def __init__(self, stack: str, clients: Callable[[str], Any]) -> None:
        self._stack = stack
        self._client = clients
        self.creators: dict[str, Creator] = {
            "aws:dynamodb/table:Table": self._table,
            "aws:iam/role:Role": self._role,
            "aws:iam/rolePolicy:RolePolicy": self._role_policy,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": self._subscription_filter,
            "aws:cloudwatch/eventRule:EventRule": self._event_rule,
            "aws:cloudwatch/eventTarget:EventTarget": self._event_target,
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

    def _name(self, name: str, inputs: Mapping[str, Any], key: str = "name") -> str:
        value = inputs.get(key)
        return str(value) if value else auto_name(self._stack, name)

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

    # moto keeps EventBridge rules and targets but never fires a schedule: `wikiroam gaps` invokes the target.
    def _event_rule(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rule_name = self._name(name, inputs)
        spec = {"Name": rule_name, "Description": inputs.get("description", ""), "State": "ENABLED"}
        if inputs.get("scheduleExpression"):
            spec["ScheduleExpression"] = inputs["scheduleExpression"]
        if inputs.get("eventPattern"):
            spec["EventPattern"] = inputs["eventPattern"]
        arn = self._client("events").put_rule(**spec)["RuleArn"]
        return rule_name, {"name": rule_name, "arn": arn}

    def _event_target(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        target_id = inputs.get("targetId") or auto_name(self._stack, name)
        self._client("events").put_targets(Rule=inputs["rule"], Targets=[{"Id": target_id, "Arn": inputs["arn"]}])
        return f"{inputs['rule']}-{target_id}", {"targetId": target_id}

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
        statement_id = inputs.get("statementId") or auto_name(self._stack, name)
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
