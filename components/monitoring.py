"""Datadog monitoring as code: dashboards, monitors, an SLO, span-based metrics and, opt-in, the AWS integration.

Every asset is data under dashboards/ in Datadog's own API format (see `components.datadog_assets`); this
component fills their placeholders with this stack's resources and deploys them through an explicit Datadog
provider. Importing this module imports `pulumi_datadog` (seconds of start-up): `__main__.py` imports it only when
the stack turns Datadog on.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_datadog as datadog

from components import datadog_assets as assets
from components.policies import datadog_integration_policies, datadog_integration_trust_policy

# Monitor arguments that come from the asset (see `datadog_assets.monitor_args`).
_MONITOR_FIELDS = (
    "name",
    "type",
    "query",
    "message",
    "tags",
    "priority",
    "monitor_thresholds",
    *sorted(assets.MONITOR_OPTIONS - {"thresholds"}),
)


@dataclass(frozen=True)
class MonitoredResources:
    """The stack's resources the assets name, by placeholder (`api_id`, `api_function`, `pages_table`...)."""

    api_id: pulumi.Input[str]
    functions: Mapping[str, pulumi.Input[str]]
    state_machine_arn: pulumi.Input[str]
    pages_table: pulumi.Input[str]
    links_table: pulumi.Input[str]
    topic_name: pulumi.Input[str]
    dlq_name: pulumi.Input[str]
    distribution_id: pulumi.Input[str]

    def placeholders(self) -> dict[str, pulumi.Input[str]]:
        """The placeholder values: one per resource, functions as `<role>_function`."""
        return {
            "api_id": self.api_id,
            **{f"{role}_function": name for role, name in self.functions.items()},
            "state_machine_arn": self.state_machine_arn,
            "pages_table": self.pages_table,
            "links_table": self.links_table,
            "topic_name": self.topic_name,
            "dlq_name": self.dlq_name,
            "distribution_id": self.distribution_id,
        }


@dataclass(frozen=True)
class AwsIntegration:
    """The account-level Datadog AWS integration: this account, and the regions it collects from."""

    account_id: pulumi.Input[str]
    regions: Sequence[str]


@dataclass(frozen=True)
class MonitoringArgs:
    """Where the assets go (the Datadog site and keys) and what fills them.

    `notify` is appended to every monitor's message (e.g. `@pagerduty-wikiroam @slack-ops`); `runbook_url` is
    where dashboards/README.md is published (its sections are linked by anchor).
    """

    environment: str
    region: str
    site: str
    api_key: pulumi.Input[str]
    app_key: pulumi.Input[str]
    team: str
    notify: str
    runbook_url: str
    resources: MonitoredResources
    aws_integration: AwsIntegration | None = None


class Monitoring(pulumi.ComponentResource):
    """Dashboards, monitors, the API availability SLO and its burn-rate monitor, span metrics, the AWS integration."""

    provider: datadog.Provider
    dashboards: dict[str, datadog.DashboardJson]
    dashboard_urls: dict[str, pulumi.Output[str]]
    monitors: dict[str, datadog.Monitor]
    slos: dict[str, datadog.ServiceLevelObjective]
    spans_metrics: dict[str, datadog.SpansMetric]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wikiroam:components:Monitoring", name, None, opts)
        self.provider = datadog.Provider(
            f"{name}-provider",
            api_key=args.api_key,
            app_key=args.app_key,
            api_url=assets.api_url(args.site),
            opts=pulumi.ResourceOptions(parent=self),
        )
        static = {
            "env": args.environment,
            "service": assets.SERVICE,
            "team": args.team,
            "notify": args.notify,
            "runbook_url": args.runbook_url,
            "region": args.region,
            "span_metric_prefix": assets.span_metric_prefix(args.environment),
        }
        values = pulumi.Output.all(**args.resources.placeholders()).apply(lambda v: {**static, **v})
        self.spans_metrics = self._create_spans_metrics(name, static)
        self.dashboards = self._create_dashboards(name, values)
        self.dashboard_urls = {
            key: dashboard.url.apply(lambda url: f"{assets.app_url(args.site)}{url}" if url else "")
            for key, dashboard in self.dashboards.items()
        }
        self.slos = self._create_slos(name, values)
        with_links = pulumi.Output.all(
            values,
            self.dashboard_urls["overview"],
            self.dashboard_urls["pipeline"],
            self.slos["api-availability"].id,
        ).apply(
            lambda v: {**v[0], "overview_dashboard_url": v[1], "pipeline_dashboard_url": v[2], "slo_id": v[3] or ""}
        )
        self.monitors = self._create_monitors(name, with_links)
        if args.aws_integration is not None:
            self._create_aws_integration(name, args.site, args.aws_integration)
        self.register_outputs({"dashboard_urls": self.dashboard_urls})

    def _opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self.provider, **kwargs)

    def _create_spans_metrics(self, name: str, static: Mapping[str, str]) -> dict[str, datadog.SpansMetric]:
        created = {}
        for key, document in assets.spans_metrics().items():
            spec = assets.spans_metric_args(assets.fill(document, static))
            created[key] = datadog.SpansMetric(f"{name}-span-metric-{key}", **spec, opts=self._opts())
        return created

    def _create_dashboards(self, name: str, values: pulumi.Output[dict[str, str]]) -> dict[str, datadog.DashboardJson]:
        return {
            key: datadog.DashboardJson(
                f"{name}-dashboard-{key}",
                dashboard=values.apply(functools.partial(_filled_json, document)),
                opts=self._opts(),
            )
            for key, document in assets.dashboards().items()
        }

    def _create_slos(
        self, name: str, values: pulumi.Output[dict[str, str]]
    ) -> dict[str, datadog.ServiceLevelObjective]:
        created = {}
        for key, document in assets.slos().items():
            spec = values.apply(functools.partial(_filled, assets.slo_args, document))
            created[key] = datadog.ServiceLevelObjective(
                f"{name}-slo-{key}",
                name=spec["name"],
                type=spec["type"],
                description=spec["description"],
                query=spec["query"],
                thresholds=spec["thresholds"],
                tags=spec["tags"],
                opts=self._opts(),
            )
        return created

    def _create_monitors(self, name: str, values: pulumi.Output[dict[str, str]]) -> dict[str, datadog.Monitor]:
        created = {}
        for monitor in assets.monitors():
            spec = values.apply(functools.partial(_filled, assets.monitor_args, monitor.document))
            fields = {field: spec.apply(functools.partial(_get, field)) for field in _MONITOR_FIELDS}
            created[monitor.anchor] = datadog.Monitor(f"{name}-monitor-{monitor.anchor}", **fields, opts=self._opts())
        return created

    def _create_aws_integration(self, name: str, site: str, integration: AwsIntegration) -> None:
        principal = assets.DATADOG_PRINCIPALS.get(site)
        if principal is None:
            raise ValueError(
                f"no known Datadog AWS account for the site {site!r}: set wikiroam:datadogSite to one of "
                f"{sorted(assets.DATADOG_PRINCIPALS)}, or set wikiroam:datadogAwsIntegration false and integrate "
                "the account in Datadog's own way"
            )
        external_id = datadog.aws.IntegrationExternalId(f"{name}-aws-external-id", opts=self._opts())
        role = aws.iam.Role(
            f"{name}-aws-integration-role",
            description="Assumed by Datadog's AWS integration to read CloudWatch metrics and resource tags",
            assume_role_policy=external_id.id.apply(
                lambda external: json.dumps(datadog_integration_trust_policy(principal, external))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Datadog's own list of what its integration reads; it outgrows one managed policy (6,144 characters).
        permissions = datadog.aws.get_integration_iam_permissions(
            opts=pulumi.InvokeOptions(parent=self, provider=self.provider)
        ).iam_permissions
        attachments = []
        for index, document in enumerate(datadog_integration_policies(permissions)):
            policy = aws.iam.Policy(
                f"{name}-aws-integration-policy-{index}",
                description=f"Datadog AWS integration permissions, part {index + 1}",
                # Compact: IAM's size limit counts every character but white space.
                policy=json.dumps(document, separators=(",", ":")),
                opts=pulumi.ResourceOptions(parent=self),
            )
            attachments.append(
                aws.iam.RolePolicyAttachment(
                    f"{name}-aws-integration-attachment-{index}",
                    role=role.name,
                    policy_arn=policy.arn,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        datadog.aws.IntegrationAccount(
            f"{name}-aws-integration",
            aws_account_id=integration.account_id,
            aws_partition=principal.split(":")[1],
            aws_regions={"include_onlies": list(integration.regions)},
            auth_config={"aws_auth_config_role": {"role_name": role.name, "external_id": external_id.id}},
            metrics_config={
                "enabled": True,
                # The span shipper's `WikiRoam/Telemetry` EMF metrics are custom CloudWatch metrics.
                "collect_custom_metrics": True,
                "automute_enabled": True,
                "namespace_filters": {"include_onlies": list(assets.MONITORED_NAMESPACES)},
            },
            logs_config={"lambda_forwarder": {}},
            resources_config={},
            traces_config={"xray_services": {}},
            opts=self._opts(depends_on=attachments),
        )


def _filled(shape: Callable[[dict[str, Any]], dict[str, Any]], document: dict[str, Any], values: dict[str, str]) -> Any:
    return shape(assets.fill(document, values))


def _filled_json(document: dict[str, Any], values: dict[str, str]) -> str:
    return json.dumps(assets.fill(document, values))


def _get(field: str, spec: dict[str, Any]) -> Any:
    return spec.get(field)
