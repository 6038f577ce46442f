"""The monitoring component under mocks: what `wikiroam:datadog true` creates in Datadog, and what it does not."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from components import datadog_assets
from components.policies import MANAGED_POLICY_MAX_CHARS, datadog_integration_policies
from tests.infra.conftest import ACCOUNT, DATADOG_IAM_PERMISSIONS, PROJECT_DIR, Deployment, run_program
from tests.infra.scoping import unscoped
from tests.infra.test_telemetry_component import SECRET_SIG

SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"

DATADOG = {
    "wikiroam:datadog": "true",
    "wikiroam:datadogSite": "datadoghq.eu",
    "wikiroam:datadogNotify": "@slack-wikiroam-ops",
    "datadog:apiKey": "api-key-from-secret-config",
    "datadog:appKey": "app-key-from-secret-config",
}
MONITOR = "datadog:index/monitor:Monitor"
DASHBOARD = "datadog:index/dashboardJson:DashboardJson"
SLO = "datadog:index/serviceLevelObjective:ServiceLevelObjective"
SPANS_METRIC = "datadog:index/spansMetric:SpansMetric"


@pytest.fixture(scope="module", params=["dev", "prod"])
def monitored(request: pytest.FixtureRequest) -> Deployment:
    """Given a stack with Datadog on."""
    return run_program(request.param, DATADOG)


@pytest.fixture(scope="module")
def integrated() -> Deployment:
    """Given the dev stack with Datadog and the account's AWS integration on."""
    return run_program("dev", {**DATADOG, "wikiroam:datadogAwsIntegration": "true"})


def _function_names(deployment: Deployment) -> dict[str, str]:
    return {
        r.name: r.inputs.get("name") or f"{r.name}-1a2b3c4" for r in deployment.of_type("aws:lambda/function:Function")
    }


def test_given_datadog_on_then_every_asset_is_created_once_through_the_explicit_provider(monitored):
    assert len(monitored.of_type(MONITOR)) == len(datadog_assets.monitors())
    assert len(monitored.of_type(DASHBOARD)) == len(datadog_assets.dashboards()) == 2
    assert len(monitored.of_type(SLO)) == 1
    assert len(monitored.of_type(SPANS_METRIC)) == len(datadog_assets.spans_metrics())
    (provider,) = monitored.of_type("pulumi:providers:datadog")
    assert provider.inputs["apiUrl"] == "https://api.datadoghq.eu/"
    datadog_resources = [r for r in monitored.resources if r.type.startswith("datadog:")]
    assert all(r.provider.startswith(provider.urn) for r in datadog_resources)


def test_given_datadog_on_then_the_keys_reach_the_provider_as_secrets():
    deployment = run_program("dev", DATADOG)
    (provider,) = deployment.of_type("pulumi:providers:datadog")
    # Pulumi's wire form of a secret: the keys stay encrypted in the state.
    assert provider.inputs["apiKey"] == {SECRET_SIG: SECRET_VALUE, "value": "api-key-from-secret-config"}
    assert provider.inputs["appKey"] == {SECRET_SIG: SECRET_VALUE, "value": "app-key-from-secret-config"}


def test_given_datadog_on_then_monitors_are_tagged_filled_with_this_stacks_resources_and_notify(monitored):
    functions = {name.lower() for name in _function_names(monitored).values()}
    api_id = monitored.named("wikiroam-api-http-api").inputs.get("id", "wikiroam-api-http-api-id")
    for monitor in monitored.of_type(MONITOR):
        inputs = monitor.inputs
        assert inputs["tags"] == ["service:wikiroam", f"env:{monitored.stack}", "team:wikiroam"]
        assert "${" not in json.dumps(inputs), f"{monitor.name} kept a placeholder"
        assert inputs["message"].rstrip().endswith("@slack-wikiroam-ops")
        assert inputs["name"].endswith(f"({monitored.stack})")
        assert set(inputs["monitorThresholds"]) == {"critical", "warning"}
        assert all(isinstance(v, str) for v in inputs["monitorThresholds"].values())
    queries = " ".join(m.inputs["query"] for m in monitored.of_type(MONITOR))
    assert all(f"{name}" in queries for name in functions)
    assert f"apiid:{api_id}" in json.dumps([s.inputs for s in monitored.of_type(SLO)])


def test_given_datadog_on_then_monitor_messages_link_the_dashboards_and_the_runbook(monitored):
    urls = {monitored.outputs["overviewDashboardUrl"], monitored.outputs["pipelineDashboardUrl"]}
    assert all(url.startswith("https://app.datadoghq.eu/dashboard/") for url in urls)
    for monitor in monitored.of_type(MONITOR):
        message = monitor.inputs["message"]
        assert any(f"Dashboard: {url}" in message for url in urls)
        assert "Runbook: dashboards/README.md#" in message


def test_given_datadog_on_then_the_slo_alert_watches_the_deployed_slo(monitored):
    (slo,) = monitored.of_type(SLO)
    (burn,) = [m for m in monitored.of_type(MONITOR) if m.inputs["type"] == "slo alert"]
    assert burn.inputs["query"].startswith(f'burn_rate("{slo.name}-id")')
    assert [t["timeframe"] for t in slo.inputs["thresholds"]] == ["7d", "30d"]


def test_given_datadog_on_then_span_metrics_and_dashboards_are_this_stacks_own(monitored):
    prefix = datadog_assets.span_metric_prefix(monitored.stack)
    assert all(m.inputs["name"].startswith(f"{prefix}.") for m in monitored.of_type(SPANS_METRIC))
    for dashboard in monitored.of_type(DASHBOARD):
        document = json.loads(dashboard.inputs["dashboard"])
        assert document["title"].endswith(f"({monitored.stack})")
        assert "${" not in dashboard.inputs["dashboard"]


def test_given_datadog_on_without_a_site_then_the_program_says_which_key_to_set():
    with pytest.raises(Exception, match="wikiroam:datadogSite"):
        run_program("dev", {**DATADOG, "wikiroam:datadogSite": ""})


def test_given_datadog_off_then_nothing_is_created_in_datadog_and_pulumi_datadog_is_never_imported():
    # A fresh interpreter: this test session imports pulumi_datadog for the other tests.
    script = (
        "import sys\n"
        "from tests.infra.conftest import run_program\n"
        "deployment = run_program('dev')\n"
        "assert not [r for r in deployment.resources if r.type.startswith(('datadog:', 'pulumi:providers:datadog'))]\n"
        "assert 'overviewDashboardUrl' not in deployment.outputs\n"
        "print('pulumi_datadog' in sys.modules, 'components.monitoring' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "False"]


def test_given_the_aws_integration_then_datadog_assumes_a_role_with_the_external_id_in_this_accounts_regions(
    integrated,
):
    (account,) = integrated.of_type("datadog:aws/integrationAccount:IntegrationAccount")
    inputs = account.inputs
    assert inputs["awsAccountId"] == ACCOUNT
    assert inputs["awsPartition"] == "aws"
    assert inputs["awsRegions"] == {"includeOnlies": ["us-east-1"]}
    assert inputs["metricsConfig"]["namespaceFilters"] == {"includeOnlies": list(datadog_assets.MONITORED_NAMESPACES)}
    assert "AWS/SQS" in inputs["metricsConfig"]["namespaceFilters"]["includeOnlies"]
    assert inputs["metricsConfig"]["collectCustomMetrics"] is True
    (role,) = [r for r in integrated.of_type("aws:iam/role:Role") if "aws-integration" in r.name]
    role_name = role.inputs.get("name") or f"{role.name}-1a2b3c4"
    assert inputs["authConfig"]["awsAuthConfigRole"]["roleName"] == role_name
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::464622532012:root"}
    external_id = inputs["authConfig"]["awsAuthConfigRole"]["externalId"]
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": external_id}}


def test_given_the_aws_integration_then_its_permissions_are_datadogs_split_under_the_size_limit_and_scoped(
    integrated,
):
    policies = [r for r in integrated.of_type("aws:iam/policy:Policy") if "aws-integration" in r.name]
    documents = [json.loads(p.inputs["policy"]) for p in policies]
    assert len(documents) > 1, "the test's permission list is meant to need more than one policy"
    assert all(len(p.inputs["policy"]) <= MANAGED_POLICY_MAX_CHARS for p in policies)
    assert all(unscoped(document) == [] for document in documents)
    granted = [action for document in documents for s in document["Statement"] for action in s["Action"]]
    assert sorted(granted) == sorted(set(DATADOG_IAM_PERMISSIONS))
    attachments = [r for r in integrated.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert len(attachments) == len(policies)


def test_given_the_aws_integration_on_an_unknown_site_then_the_program_names_the_known_ones():
    with pytest.raises(Exception, match=r"datadoghq\.com"):
        run_program(
            "dev", {**DATADOG, "wikiroam:datadogSite": "example.invalid", "wikiroam:datadogAwsIntegration": "true"}
        )


def test_given_datadogs_permission_list_with_a_whole_service_then_it_is_refused():
    with pytest.raises(ValueError, match=r"s3:\*"):
        datadog_integration_policies(["cloudwatch:GetMetricData", "s3:*"])


def test_given_a_short_permission_list_then_one_policy_holds_it():
    (document,) = datadog_integration_policies(["tag:GetResources", "cloudwatch:GetMetricData", "tag:GetResources"])
    assert document["Statement"][0]["Action"] == ["cloudwatch:GetMetricData", "tag:GetResources"]
