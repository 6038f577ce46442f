"""SNS cache requests in, one cache pipeline execution per page run to its end.

The trigger waits for each execution (StartSyncExecution), `TRIGGER_EXECUTIONS_IN_FLIGHT` at a time, and its
reserved concurrency is the cache steps' divided by that: the executions in flight never outnumber what the steps
may run, so a burst of searches waits in Lambda's queue of asynchronous events for the trigger rather than in the
state machine's throttle Retry, which gives up after about 45 seconds.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from functions import telemetry
from functions.clients import BACKGROUND, PIPELINE_RUN, PIPELINE_RUN_WORST_SECONDS, aws_client
from functions.contract import TRIGGER_DEADLINE_MARGIN_SECONDS, TRIGGER_EXECUTIONS_IN_FLIGHT
from functions.errors import InvalidCacheRequest
from functions.handlers import SandboxApp
from functions.messages import MAX_PAGES_PER_REQUEST, CacheRequest, PageRef, Reason
from functions.messaging import CacheRequestPublisher, PipelineRun, PipelineRunner
from functions.settings import trigger_settings

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# A page still to run: its place in the event, the SNS message that asked for it, why, and which page.
Work = tuple[int, str, Reason, PageRef]


class Trigger:
    """Runs the pipeline for every page of every request in an SNS event; puts back what its time cannot cover."""

    def __init__(
        self,
        runner: PipelineRunner,
        publisher: Callable[[], CacheRequestPublisher],
        *,
        in_flight: int = TRIGGER_EXECUTIONS_IN_FLIGHT,
        time_per_page: float = PIPELINE_RUN_WORST_SECONDS + TRIGGER_DEADLINE_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runner = runner
        self._publisher = publisher
        self._in_flight = in_flight
        self._time_per_page = time_per_page
        self._clock = clock

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Validate every record first, so a bad one starts nothing rather than half of the event."""
        requests = [(message_id, CacheRequest.from_json(body)) for message_id, body in _sns_messages(event)]
        pages = [(message_id, request.reason, page) for message_id, request in requests for page in request.pages]
        work: deque[Work] = deque((n, *page) for n, page in enumerate(pages))
        # The last moment a page may start: its call's worst case must end before the function's timeout does.
        last_start = self._clock() + context.get_remaining_time_in_millis() / 1000 - self._time_per_page
        runs = self._run(work, last_start)
        put_back = self._put_back(work)
        failed = [run for run in runs if run.status not in ("SUCCEEDED", "RUNNING")]
        return {
            "executions": [run.execution_arn for run in runs],
            "failed": [{"pageid": run.pageid, "status": run.status, "error": run.error} for run in failed],
            "still_running": [run.pageid for run in runs if run.status == "RUNNING"],
            "put_back": put_back,
        }

    def _run(self, work: deque[Work], last_start: float) -> list[PipelineRun]:
        runs: dict[int, PipelineRun] = {}
        guard = threading.Lock()
        stop = threading.Event()

        def next_page() -> Work | None:
            with guard:
                if stop.is_set() or not work or self._clock() > last_start:
                    return None
                return work.popleft()

        def lane() -> None:
            while (item := next_page()) is not None:
                n, message_id, reason, page = item
                try:
                    run = self._runner.run(page, reason, message_id)
                except BaseException:
                    stop.set()  # the other lane starts nothing more: the event fails and Lambda retries it whole
                    raise
                with guard:
                    runs[n] = run

        lanes = min(self._in_flight, len(work))
        with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="wikiroam-pipeline-run") as pool:
            # Each lane runs in a copy of this context, so its spans are children of the trigger's.
            futures = [pool.submit(contextvars.copy_context().run, lane) for _ in range(lanes)]
        for future in futures:
            future.result()
        return [runs[n] for n in sorted(runs)]  # in the order the requests asked for the pages

    def _put_back(self, work: deque[Work]) -> int:
        """Publish the pages no lane had time to start as new cache requests: back into the queue, not lost."""
        if not work:
            return 0
        publisher = self._publisher()
        by_reason: dict[Reason, list[PageRef]] = {}
        for _, _, reason, page in work:
            by_reason.setdefault(reason, []).append(page)
        for reason, pages in by_reason.items():
            for start in range(0, len(pages), MAX_PAGES_PER_REQUEST):
                publisher.publish(
                    CacheRequest(pages=tuple(pages[start : start + MAX_PAGES_PER_REQUEST]), reason=reason)
                )
        return len(work)


def _sns_messages(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        raise InvalidCacheRequest("the event has no SNS Records")
    messages = []
    for record in records:
        sns = record.get("Sns") if isinstance(record, dict) else None
        if not isinstance(sns, dict) or not isinstance(sns.get("Message"), str):
            raise InvalidCacheRequest("an event record is not an SNS notification with a Message")
        messages.append((str(sns.get("MessageId") or ""), sns["Message"]))
    return messages


def build(env: Mapping[str, str], *, stepfunctions: SFNClient | None = None) -> Trigger:
    """The trigger function's handler, wired from its environment (and a Step Functions client, in tests)."""
    settings = trigger_settings(env)
    client = telemetry.instrument_client(stepfunctions or aws_client("stepfunctions", PIPELINE_RUN))
    publisher: list[CacheRequestPublisher] = []

    def put_back_publisher() -> CacheRequestPublisher:
        # Made on first use: most invocations put nothing back, and a client costs the cold start.
        if not publisher:
            sns = telemetry.instrument_client(aws_client("sns", BACKGROUND))
            publisher.append(CacheRequestPublisher(sns, settings.cache_topic_arn))
        return publisher[0]

    return Trigger(PipelineRunner(client, settings.state_machine_arn), put_back_publisher)


app = SandboxApp(build)


@telemetry.traced_handler(
    telemetry.sns_invocation, trigger="pubsub", name="cache-trigger", operation=telemetry.TRIGGER_OPERATION
)
def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    return app()(event, context)
