"""The whole program (__main__.py) under mocks, per stack: what it creates, how it is organised, what it exports."""

from __future__ import annotations

import pytest
import yaml

from tests.infra.conftest import PROJECT_DIR

EXPORTS = {
    "siteUrl",
    "apiUrl",
    "apiGatewayEndpoint",
    "siteBucketName",
    "distributionId",
    "pagesTableName",
    "linksTableName",
    "cacheTopicArn",
    "cacheDeadLetterQueueUrl",
    "stateMachineArn",
    "gapCheckFunctionName",
}
# Every resource type the program creates without a custom domain (the local deployer must know each one).
RESOURCE_TYPES = {
    "wikiroam:components:Tables",
    "wikiroam:components:LambdaPackage",
    "wikiroam:components:LambdaFunction",
    "wikiroam:components:CachePipeline",
    "wikiroam:components:Api",
    "wikiroam:components:Site",
    "wikiroam:components:Telemetry",
    "wikiroam:components:GapCheck",
    "command:local:Command",
    "aws:lambda/layerVersion:LayerVersion",
    "aws:lambda/function:Function",
    "aws:lambda/permission:Permission",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:dynamodb/table:Table",
    "aws:sns/topic:Topic",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:sqs/queue:Queue",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:sfn/stateMachine:StateMachine",
    "aws:secretsmanager/secret:Secret",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:apigatewayv2/api:Api",
    "aws:apigatewayv2/integration:Integration",
    "aws:apigatewayv2/route:Route",
    "aws:apigatewayv2/stage:Stage",
    "aws:s3/bucketV2:BucketV2",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:cloudfront/originAccessControl:OriginAccessControl",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy",
    "aws:cloudfront/distribution:Distribution",
}
# Added by a custom domain (wikiroam:domainName + wikiroam:hostedZoneId).
CUSTOM_DOMAIN_TYPES = {
    "pulumi:providers:aws",
    "aws:acm/certificate:Certificate",
    "aws:acm/certificateValidation:CertificateValidation",
    "aws:route53/record:Record",
}


def test_given_each_stack_when_the_program_runs_then_every_output_is_exported_and_resolved(deployment):
    assert set(deployment.outputs) == EXPORTS
    assert all(isinstance(value, str) and value for value in deployment.outputs.values())
    assert deployment.outputs["apiUrl"] == deployment.outputs["siteUrl"] + "/api"
    assert deployment.outputs["siteUrl"].startswith("https://")
    assert deployment.outputs["stateMachineArn"].startswith("arn:aws:states:")
    assert deployment.outputs["cacheTopicArn"].startswith("arn:aws:sns:")


def test_given_each_stack_then_it_creates_exactly_the_documented_resource_types(deployment):
    # The site/ folder may hold files or not; uploads are checked in the site's own tests.
    types = {r.type for r in deployment.resources} - {"aws:s3/bucketObjectv2:BucketObjectv2"}
    assert types == RESOURCE_TYPES


def test_given_a_custom_domain_then_only_certificate_and_dns_types_are_added(custom_domain):
    types = {r.type for r in custom_domain.resources} - {"aws:s3/bucketObjectv2:BucketObjectv2"}
    assert types == RESOURCE_TYPES | CUSTOM_DOMAIN_TYPES


def test_given_each_stack_when_the_program_runs_under_mocks_then_it_spawns_nothing_so_pip_never_runs(deployment):
    assert deployment.spawned == []
    # The layer is still wired: built by a deploy-time command, not by the program.
    assert len(deployment.of_type("command:local:Command")) == 2


def test_given_each_stack_then_the_program_makes_no_provider_calls(deployment):
    # No data-source invokes: nothing the local deployer would have to answer besides resources.
    assert deployment.calls == []


def test_given_each_stack_then_every_resource_sits_in_a_component_and_is_named_after_it(deployment):
    by_urn = {r.urn: r for r in deployment.resources}
    for resource in deployment.resources:
        if resource.type.startswith("wikiroam:components:") and resource.parent_urn not in by_urn:
            assert resource.name.startswith("wikiroam-"), resource.name  # a top-level component
            continue
        parent = by_urn.get(resource.parent_urn)
        assert parent is not None, f"{resource.name} is not in a component"
        assert parent.type.startswith("wikiroam:components:")
        assert resource.name.startswith(f"{parent.name}-"), (resource.name, parent.name)


def test_given_the_components_then_each_has_the_house_type_token(dev):
    components = [r for r in dev.resources if not r.custom]
    assert components
    assert all(r.type.startswith("wikiroam:components:") for r in components)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_given_the_stack_files_then_they_only_set_keys_pulumi_yaml_declares(stack, request):
    deployment = request.getfixturevalue(stack)
    declared = {f"wikiroam:{key}" for key in yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]}
    stack_keys = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert {key for key in stack_keys if key.startswith("wikiroam:")} <= declared
    assert deployment.config["aws:region"]


def test_given_pulumi_yaml_then_every_key_has_a_type_and_description_and_only_contact_lacks_a_default():
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["name"] == "wikiroam"
    for key, spec in project["config"].items():
        assert spec["type"] in {"string", "integer", "boolean"}, key
        assert spec["description"], key
    assert {key for key, spec in project["config"].items() if "default" not in spec} == {"contact"}
