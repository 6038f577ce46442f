"""WikiRoam's Pulumi program: read the stack's config, build the components, export what operators need."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.api import Api, ApiArgs
from components.cache_pipeline import CachePipeline, CachePipelineArgs
from components.environment import TableNames, WikiConfig
from components.gap_check import GapCheck, GapCheckArgs
from components.lambda_function import FunctionSize
from components.lambda_package import LambdaPackage, LambdaPackageArgs
from components.site import CustomDomain, Site, SiteArgs
from components.tables import Tables, TablesArgs
from components.telemetry import LogSource, Telemetry, TelemetryArgs, log_sources

# Every key has its default and description in Pulumi.yaml.
config = pulumi.Config()

domain_name = config.get("domainName") or ""
hosted_zone_id = config.get("hostedZoneId") or ""
if bool(domain_name) != bool(hosted_zone_id):
    raise ValueError("Set wikiroam:domainName and wikiroam:hostedZoneId together, or neither.")
cache_concurrency = config.require_int("cacheConcurrency")
wiki = WikiConfig(
    api_url=config.require("wikiApiUrl"),
    contact=config.require("contact"),
    timeout_seconds=config.require_int("wikiTimeoutSeconds"),
)
log_retention_days = config.require_int("logRetentionDays")
# `deployment.environment` of every span (Datadog's `env`): the stack's name.
deployment = pulumi.get_stack()

package = LambdaPackage(
    "wikiroam-code",
    LambdaPackageArgs(
        functions_dir=Path("functions"),
        layer_requirements=Path("requirements/layer.txt"),
        build_dir=Path("build/lambda-layer"),
    ),
)
tables = Tables("wikiroam-tables", TablesArgs(deletion_protection=config.require_bool("deletionProtection")))
table_names = TableNames(pages=tables.pages.name, links=tables.links.name)
pipeline = CachePipeline(
    "wikiroam-cache",
    CachePipelineArgs(
        code=package.code,
        layers=[package.layer_arn],
        wiki=wiki,
        table_names=table_names,
        pages_table_arn=tables.pages.arn,
        links_table_arn=tables.links.arn,
        max_backlinks=config.require_int("maxBacklinks"),
        trigger_size=FunctionSize(config.require_int("triggerMemoryMb"), config.require_int("triggerTimeoutSeconds")),
        step_size=FunctionSize(config.require_int("cacheStepMemoryMb"), config.require_int("cacheStepTimeoutSeconds")),
        backlinks_size=FunctionSize(
            config.require_int("cacheBacklinksMemoryMb"), config.require_int("cacheBacklinksTimeoutSeconds")
        ),
        step_concurrency=None if cache_concurrency < 0 else cache_concurrency,
        log_retention_days=log_retention_days,
        deployment=deployment,
        execution_data_in_logs=config.require_bool("executionDataInLogs"),
        state_machine_log_level=config.require("stateMachineLogLevel"),
    ),
)
api = Api(
    "wikiroam-api",
    ApiArgs(
        code=package.code,
        layers=[package.layer_arn],
        wiki=wiki,
        table_names=table_names,
        pages_table_arn=tables.pages.arn,
        links_table_arn=tables.links.arn,
        cache_topic_arn=pipeline.topic.arn,
        search_limit=config.require_int("searchLimit"),
        size=FunctionSize(config.require_int("apiMemoryMb"), config.require_int("apiTimeoutSeconds")),
        throttle_burst=config.require_int("apiThrottleBurst"),
        throttle_rate=config.require_int("apiThrottleRate"),
        log_retention_days=log_retention_days,
        deployment=deployment,
    ),
)
gaps = GapCheck(
    "wikiroam-gaps",
    GapCheckArgs(
        code=package.code,
        layers=[package.layer_arn],
        wiki=wiki,
        pages_table_name=tables.pages.name,
        pages_table_arn=tables.pages.arn,
        sample=config.require_int("gapCheckSample"),
        max_requests=config.require_int("gapCheckMaxRequests"),
        schedule=config.require("gapCheckSchedule"),
        size=FunctionSize(config.require_int("gapCheckMemoryMb"), config.require_int("gapCheckTimeoutSeconds")),
        log_retention_days=log_retention_days,
        deployment=deployment,
    ),
)
site = Site(
    "wikiroam-site",
    SiteArgs(
        api_endpoint=api.endpoint,
        site_dir=Path("site"),
        price_class=config.require("priceClass"),
        domain=CustomDomain(domain_name, hosted_zone_id) if domain_name else None,
    ),
)
telemetry = Telemetry(
    "wikiroam-telemetry",
    TelemetryArgs(
        code=package.code,
        layers=[package.layer_arn],
        deployment=deployment,
        otlp_endpoint=config.get("otlpEndpoint") or "",
        datadog_site=config.get("datadogSite") or "",
        otlp_headers=config.get_secret("otlpHeaders") or "",
        function_logs=log_sources({"api": api.function, **pipeline.functions, "gap-check": gaps.function}),
        state_machine_logs=LogSource("executions", pipeline.execution_logs.name, pipeline.execution_logs.arn),
        size=FunctionSize(config.require_int("shipperMemoryMb"), config.require_int("shipperTimeoutSeconds")),
        log_retention_days=log_retention_days,
    ),
)

if config.get_bool("datadog"):
    # Imported here: pulumi_datadog costs seconds of start-up that stacks without Datadog do not pay.
    from components.monitoring import AwsIntegration, MonitoredResources, Monitoring, MonitoringArgs

    datadog_site = config.get("datadogSite") or ""
    if not datadog_site:
        raise ValueError("wikiroam:datadog is on: set wikiroam:datadogSite too (e.g. datadoghq.com, datadoghq.eu).")
    datadog_keys = pulumi.Config("datadog")
    region = pulumi.Config("aws").require("region")
    monitoring = Monitoring(
        "wikiroam-monitoring",
        MonitoringArgs(
            environment=deployment,
            region=region,
            site=datadog_site,
            api_key=datadog_keys.require_secret("apiKey"),
            app_key=datadog_keys.require_secret("appKey"),
            team=config.require("datadogTeam"),
            notify=config.get("datadogNotify") or "",
            runbook_url=config.require("datadogRunbookUrl"),
            resources=MonitoredResources(
                api_id=api.http_api.id,
                functions={
                    "api": api.function.function_name,
                    "trigger": pipeline.trigger.function_name,
                    "cache_start": pipeline.steps["start"].function_name,
                    "cache_info": pipeline.steps["info"].function_name,
                    "cache_backlinks": pipeline.steps["backlinks"].function_name,
                    "shipper": telemetry.shipper.function_name,
                    "gap_check": gaps.function.function_name,
                },
                state_machine_arn=pipeline.state_machine.arn,
                pages_table=tables.pages.name,
                links_table=tables.links.name,
                topic_name=pipeline.topic.name,
                dlq_name=pipeline.dead_letter_queue.name,
                distribution_id=site.distribution.id,
            ),
            # Account-wide: one stack per AWS account turns it on. CloudFront's metrics live in us-east-1.
            aws_integration=AwsIntegration(
                account_id=aws.get_caller_identity_output().account_id,
                regions=sorted({region, "us-east-1"}),
            )
            if config.get_bool("datadogAwsIntegration")
            else None,
        ),
    )
    pulumi.export("overviewDashboardUrl", monitoring.dashboard_urls["overview"])
    pulumi.export("pipelineDashboardUrl", monitoring.dashboard_urls["pipeline"])

pulumi.export("siteUrl", site.url)
pulumi.export("apiUrl", site.url.apply(lambda url: f"{url}/api"))
pulumi.export("apiGatewayEndpoint", api.endpoint)
pulumi.export("siteBucketName", site.bucket.bucket)
pulumi.export("distributionId", site.distribution.id)
pulumi.export("pagesTableName", tables.pages.name)
pulumi.export("linksTableName", tables.links.name)
pulumi.export("cacheTopicArn", pipeline.topic.arn)
pulumi.export("cacheDeadLetterQueueUrl", pipeline.dead_letter_queue.url)
pulumi.export("stateMachineArn", pipeline.state_machine.arn)
pulumi.export("gapCheckFunctionName", gaps.function.function_name)
