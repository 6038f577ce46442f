"""The scheduled gap check: an EventBridge schedule (or `wikiroam gaps`, through Invoke) runs one bounded check.

The event may narrow a run: `{"sample": n, "max_requests": m, "dry_run": true}` (`wikiroam gaps` sends its flags),
each within the limits the environment's settings are checked against; the schedule's own event carries none of
them, so a scheduled run uses the settings (`wikiroam:gapCheckSample`, `wikiroam:gapCheckMaxRequests`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions import telemetry
from functions.clients import BACKGROUND, aws_client
from functions.contract import GAP_CHECK_OPERATION
from functions.errors import ConfigurationError
from functions.gaps import check_gaps, record_summary
from functions.handlers import SandboxApp
from functions.settings import MAX_GAP_CHECK_MAX_REQUESTS, MAX_GAP_CHECK_SAMPLE, GapCheckSettings, gap_check_settings
from functions.store import PageStore
from functions.wiki import WikiClient, background_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class GapChecker:
    """The check's settings, the pages table and the wiki client of one sandbox."""

    settings: GapCheckSettings
    pages: PageStore
    wiki: WikiClient


def build(env: Mapping[str, str], *, dynamodb: DynamoDBClient | None = None) -> GapChecker:
    """The checker, wired from the environment (and a DynamoDB client, in tests)."""
    settings = gap_check_settings(env)
    table = telemetry.instrument_client(dynamodb or aws_client("dynamodb", BACKGROUND))
    return GapChecker(
        settings=settings,
        pages=PageStore(table, settings.pages_table),
        wiki=background_client(
            settings.wiki.api_url, contact=settings.wiki.contact, timeout=settings.wiki.timeout_seconds
        ),
    )


app = SandboxApp(build)


def _bounded(event: Mapping[str, Any], key: str, default: int, high: int) -> int:
    value = event.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ConfigurationError(f"the event's {key}={value!r} is not an integer between 1 and {high}")
    return value


def scheduled_invocation(event: Any) -> telemetry.EntrySpan:
    """A scheduled (or operator's) run: a root span, with the rule that fired it when EventBridge did."""
    attributes: dict[str, Any] = {}
    resources = event.get("resources") if isinstance(event, Mapping) else None
    if isinstance(resources, list) and resources and isinstance(resources[0], str):
        attributes["aws.eventbridge.rule.arn"] = resources[0]
    return telemetry.EntrySpan(attributes=attributes)


def _seconds_left(context: Any) -> Callable[[], float] | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else lambda: float(remaining()) / 1000.0


@telemetry.traced_handler(scheduled_invocation, trigger="timer", name="gap-check", operation=GAP_CHECK_OPERATION)
def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Compare a sample of complete pages with the wiki, mark the gaps, answer the report."""
    checker = app()
    event = event if isinstance(event, Mapping) else {}
    report = check_gaps(
        checker.pages,
        checker.wiki,
        sample=_bounded(event, "sample", checker.settings.sample, MAX_GAP_CHECK_SAMPLE),
        max_requests=_bounded(event, "max_requests", checker.settings.max_requests, MAX_GAP_CHECK_MAX_REQUESTS),
        mark=event.get("dry_run") is not True,
        clock=time.time,
        rng=random.Random(),  # noqa: S311 (a sample, not a secret)
        seconds_left=_seconds_left(context),
    )
    record_summary(report)
    return report.to_dict()
