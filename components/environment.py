"""Each function's environment, keyed by the names `functions.settings` reads, so the two cannot drift."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from functions import settings

Environment = dict[str, pulumi.Input[str]]


@dataclass(frozen=True)
class WikiConfig:
    """Where the wiki is, who to contact about our traffic, and how long to wait for it."""

    api_url: str
    contact: pulumi.Input[str]
    timeout_seconds: float


@dataclass(frozen=True)
class TableNames:
    """The physical names of the pages and links tables."""

    pages: pulumi.Input[str]
    links: pulumi.Input[str]


def telemetry_environment(deployment: str) -> Environment:
    """What every function's telemetry needs: the deployment's name (`deployment.environment` on its spans)."""
    return {settings.ENVIRONMENT: deployment}


def _wiki(wiki: WikiConfig) -> Environment:
    return {
        settings.WIKI_API_URL: wiki.api_url,
        settings.WIKI_CONTACT: wiki.contact,
        settings.WIKI_TIMEOUT_SECONDS: f"{wiki.timeout_seconds:g}",
    }


def api_environment(
    wiki: WikiConfig, tables: TableNames, search_limit: int, cache_topic_arn: pulumi.Input[str], deployment: str
) -> Environment:
    """The api function's environment."""
    return {
        **telemetry_environment(deployment),
        **_wiki(wiki),
        settings.SEARCH_LIMIT: str(search_limit),
        settings.PAGES_TABLE: tables.pages,
        settings.LINKS_TABLE: tables.links,
        settings.CACHE_TOPIC_ARN: cache_topic_arn,
    }


def trigger_environment(
    state_machine_arn: pulumi.Input[str], cache_topic_arn: pulumi.Input[str], deployment: str
) -> Environment:
    """The trigger function's environment: the state machine it runs, the topic it puts back what it cannot run."""
    return {
        **telemetry_environment(deployment),
        settings.STATE_MACHINE_ARN: state_machine_arn,
        settings.CACHE_TOPIC_ARN: cache_topic_arn,
    }


def cache_step_environment(wiki: WikiConfig, tables: TableNames, max_backlinks: int, deployment: str) -> Environment:
    """The environment the three cache step functions share."""
    return {
        **telemetry_environment(deployment),
        **_wiki(wiki),
        settings.PAGES_TABLE: tables.pages,
        settings.LINKS_TABLE: tables.links,
        settings.MAX_BACKLINKS: str(max_backlinks),
    }


def gap_check_environment(
    wiki: WikiConfig, pages_table: pulumi.Input[str], sample: int, max_requests: int, deployment: str
) -> Environment:
    """The gap-check function's environment: the wiki, the pages table, and how much one run compares."""
    return {
        **telemetry_environment(deployment),
        **_wiki(wiki),
        settings.PAGES_TABLE: pages_table,
        settings.GAP_CHECK_SAMPLE: str(sample),
        settings.GAP_CHECK_MAX_REQUESTS: str(max_requests),
    }


def shipper_environment(secret_arn: pulumi.Input[str], deployment: str) -> Environment:
    """The shipper's environment: the secret holding its OTLP endpoint, and the deployment it ships for."""
    return {**telemetry_environment(deployment), settings.OTLP_SECRET_ARN: secret_arn}
