"""The three cache step functions: each is a Step Functions task invoked with `lambda:invoke`.

They share one module because they share their environment and clients; each deployed function names its
own entry point (`start`, `info`, `backlinks`), and only that one runs in its sandbox. The start function has
a second operation, chosen by the payload's `operation`: `record_failure`, which the state machine's Catch
path runs to mark a page failed when a step ended without recording it (a crash, a timeout, a throttle).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from functions import telemetry
from functions.caching import CacheSteps, is_final_failure
from functions.clients import BACKGROUND, aws_client
from functions.contract import RECORD_FAILURE_OPERATION
from functions.handlers import SandboxApp
from functions.messages import TaskEvent, parse_caught_failure, parse_task_event, task_operation
from functions.settings import cache_settings
from functions.store import LinkStore, PageStore
from functions.wiki import background_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


logger = logging.getLogger(__name__)


def build(env: Mapping[str, str], *, dynamodb: DynamoDBClient | None = None) -> CacheSteps:
    """The steps, wired from the environment (and a DynamoDB client, in tests)."""
    settings = cache_settings(env)
    tables = telemetry.instrument_client(dynamodb or aws_client("dynamodb", BACKGROUND))
    return CacheSteps(
        wiki=background_client(
            settings.wiki.api_url, contact=settings.wiki.contact, timeout=settings.wiki.timeout_seconds
        ),
        pages=PageStore(tables, settings.pages_table),
        links=LinkStore(tables, settings.links_table),
        max_backlinks=settings.max_backlinks,
        clock=time.time,
    )


app = SandboxApp(build)


def _run(task: TaskEvent, step: Callable[[CacheSteps], dict[str, Any]]) -> dict[str, Any]:
    """Run one step; when its error ends the execution (no retry left), mark the page failed, then re-raise."""
    steps = app()
    try:
        return step(steps)
    except Exception as error:
        if is_final_failure(error, task.context.retry_count):
            try:
                steps.record_failure(task.page, task.context.execution_id, error)
            except Exception:
                # The step's own error is the one Step Functions must see; this one is only logged.
                logger.exception("could not mark page %d as failed", task.page.pageid)
        raise


def _seconds_left(context: Any) -> Callable[[], float]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return lambda: float("inf")
    return lambda: float(remaining()) / 1000.0


@telemetry.traced_handler(
    telemetry.step_invocation,
    trigger="other",
    name="cache-start",
    operation=telemetry.STEP_OPERATION,
    final_failure=is_final_failure,
)
def start(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """CacheStart: claim the page, or stop because it is cached or being cached; also the Catch path's recorder."""
    if task_operation(event) == RECORD_FAILURE_OPERATION:
        caught = parse_caught_failure(event)
        return app().record_caught_failure(caught.task.page, caught.task.context.execution_id, caught.error)
    task = parse_task_event(event)
    return _run(task, lambda steps: steps.start(task.page, task.context.execution_id))


@telemetry.traced_handler(
    telemetry.step_invocation,
    trigger="other",
    name="cache-info",
    operation=telemetry.STEP_OPERATION,
    final_failure=is_final_failure,
)
def info(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """CacheInfo: write the article's data."""
    task = parse_task_event(event)
    return _run(task, lambda steps: steps.info(task.page, task.context.execution_id))


@telemetry.traced_handler(
    telemetry.step_invocation,
    trigger="other",
    name="cache-backlinks",
    operation=telemetry.STEP_OPERATION,
    final_failure=is_final_failure,
)
def backlinks(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """CacheBacklinks: write every link to the page."""
    task = parse_task_event(event)
    return _run(task, lambda steps: steps.backlinks(task.page, task.context.execution_id, _seconds_left(context)))
