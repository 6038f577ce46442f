"""Every policy the program deploys, as deployed: named actions on named resources."""

from __future__ import annotations

import json

from tests.infra.scoping import unscoped

POLICY_INPUTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
}


def deployed_policies(deployment):
    for typ, key in POLICY_INPUTS.items():
        for resource in deployment.of_type(typ):
            yield resource.name, json.loads(resource.inputs[key])


def test_given_each_stack_then_every_deployed_statement_is_scoped(deployment):
    problems = {name: unscoped(document) for name, document in deployed_policies(deployment)}
    assert {name: p for name, p in problems.items() if p} == {}


def test_given_each_stack_then_each_function_role_has_one_inline_policy_and_no_managed_ones(deployment):
    roles = {r.name for r in deployment.of_type("aws:iam/role:Role")}
    policies = [r.inputs["role"] for r in deployment.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert sorted(policies) == sorted(f"{name}-id" for name in roles)
    assert all("managedPolicyArns" not in r.inputs for r in deployment.of_type("aws:iam/role:Role"))
    assert deployment.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []


def test_given_each_stack_then_only_the_state_machines_log_delivery_uses_a_wildcard_resource(deployment):
    wildcard = [
        (name, statement["Sid"])
        for name, document in deployed_policies(deployment)
        for statement in document["Statement"]
        if statement.get("Resource") == "*" or "*" in (statement.get("Resource") or [])
    ]
    assert wildcard == [("wikiroam-cache-state-machine-policy", "VendedLogDeliveryHasNoResourceType")]
