"""`wikiroam redrive` and `wikiroam gaps`: finish what the cache pipeline left undone, and find what it got wrong.

redrive:
- re-requests the pages the pipeline gave up on: `failed` (any error, a gap the detector marked included),
  `pending` whose claim expired (an execution that stalled), and pages only requested whose marker expired
  (their request never reached a claim: lost on the way). It publishes the api's own cache request message
  (`functions.messages.CacheRequest`, reason `page`, 50 pages a message), after setting each page's request
  marker as the api does, so readers do not publish them a second time meanwhile;
- reports `partial` pages apart: they have more backlinks than `wikiroam:maxBacklinks`, which no redrive fixes.
  `--include-partial` reopens them (after raising the limit): each is marked failed (`PartialReopened`), then
  re-requested, and its run resumes from the backlinks already cached;
- replays the dead-letter queue: each message's cache request(s) are published to the topic again, and the
  message is deleted only once every publish succeeded; a message with no readable request stays on the queue.

gaps: runs the deployed gap-check function (`functions.gaps`, Invoke) or, with `--direct`, the same check from
the command line: samples cached (`complete`) pages, asks the wiki for each one's backlinks (bounded requests),
and marks a page whose `backlinks_count` differs `failed` with `caching_error` `BacklinksGap`, so redrive
re-requests it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from functions.contract import CACHE_REQUEST_MARKER_SECONDS, CLAIM_LEASE_SECONDS
from functions.errors import WriteThrottled
from functions.messages import MAX_PAGES_PER_REQUEST, CacheRequest, PageRef
from functions.store import PageRecord, PageStore

if TYPE_CHECKING:
    from functions.gaps import GapReport

PARTIAL_REOPENED = "PartialReopened"
DEFAULT_GATEWAY = "http://127.0.0.1:8000"
LAMBDA_MAX_TIMEOUT_SECONDS = 900
# The local stack's fixed fake account and region (local.aws); its queue URLs are moto's, so they name its endpoint.
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}


class StackNotFound(RuntimeError):
    """The stack's tables, topic or queue could not be found from the flags given."""


@dataclass(frozen=True)
class StackTargets:
    """What redrive and gaps act on, and how to reach it."""

    pages_table: str
    topic_arn: str
    dlq_url: str | None
    endpoint_url: str | None = None
    region: str | None = None
    local: bool = False
    gap_check_function: str | None = None

    def client(self, service: str, config: Any = None) -> Any:
        """A boto3 client of the stack's AWS (the local stack's moto with its fake credentials)."""
        import boto3

        extra: dict[str, Any] = dict(LOCAL_CREDENTIALS) if self.local else {}
        region = self.region or (LOCAL_REGION if self.local else None)
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint_url, config=config, **extra)  # type: ignore[call-overload]


def local_targets(gateway: str, region: str | None = None) -> StackTargets:
    """The local stack's outputs, from its gateway's `/api/local/resources` (`make dev` must be running)."""
    url = gateway.rstrip("/") + "/api/local/resources"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (a loopback URL the user gives)
            outputs = json.loads(answer.read())["outputs"]
    except (OSError, ValueError, KeyError) as error:
        raise StackNotFound(f"no local stack answered at {url} ({error}): start it with `make dev`") from None
    queue = str(outputs["cacheDeadLetterQueueUrl"])
    parts = urlsplit(queue)
    return StackTargets(
        pages_table=str(outputs["pagesTableName"]),
        topic_arn=str(outputs["cacheTopicArn"]),
        dlq_url=queue,
        endpoint_url=f"{parts.scheme}://{parts.netloc}",
        region=region,
        local=True,
        gap_check_function=outputs.get("gapCheckFunctionName"),
    )


def pulumi_targets(stack: str | None, run: Callable[[list[str]], str] | None = None) -> StackTargets:
    """A deployed stack's outputs, from `pulumi stack output --json` (the selected stack, or `stack`)."""
    command = ["pulumi", "stack", "output", "--json", *(["--stack", stack] if stack else [])]

    def default_run(args: list[str]) -> str:
        return subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout  # noqa: S603

    try:
        outputs = json.loads((run or default_run)(command))
        return StackTargets(
            pages_table=str(outputs["pagesTableName"]),
            topic_arn=str(outputs["cacheTopicArn"]),
            dlq_url=outputs.get("cacheDeadLetterQueueUrl"),
            gap_check_function=outputs.get("gapCheckFunctionName"),
        )
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as error:
        raise StackNotFound(
            f"`{' '.join(command)}` gave no stack outputs ({error}): select a stack, or name the tables with "
            "--pages-table, --topic-arn and --dlq-url"
        ) from None


class Progress:
    """A progress bar on stderr: `label [#####.....] done/total`."""

    def __init__(self, stream: TextIO | None, label: str, total: int) -> None:
        self._stream, self._label, self._total, self._done = stream, label, total, 0
        self._draw()

    def advance(self, count: int = 1) -> None:
        """Count `count` more items done."""
        self._done += count
        self._draw()

    def close(self) -> None:
        """End the bar's line."""
        if self._stream is not None:
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self) -> None:
        if self._stream is None:
            return
        width = 30
        filled = width if self._total == 0 else min(width, width * self._done // self._total)
        self._stream.write(f"\r{self._label:<18} [{'#' * filled}{'.' * (width - filled)}] {self._done}/{self._total}")
        self._stream.flush()


@dataclass
class RedrivePlan:
    """The pages a scan found, by why they are re-requested (or only reported)."""

    failed: list[PageRecord] = field(default_factory=list)
    stalled: list[PageRecord] = field(default_factory=list)
    lost: list[PageRecord] = field(default_factory=list)
    partial: list[PageRecord] = field(default_factory=list)
    scanned: int = 0

    def to_request(self, include_partial: bool) -> list[PageRecord]:
        """Every page to re-request, in page id order."""
        pages = self.failed + self.stalled + self.lost + (self.partial if include_partial else [])
        return sorted(pages, key=lambda record: record.pageid)


def plan_redrive(records: Iterable[PageRecord], now: float) -> RedrivePlan:
    """Sort the pages table's records into what redrive re-requests, and the partial ones it reports."""
    plan = RedrivePlan()
    for record in records:
        plan.scanned += 1
        if record.backlinks_status == "failed":
            plan.failed.append(record)
        elif record.backlinks_status == "partial":
            plan.partial.append(record)
        elif record.backlinks_status == "pending" and record.claimed_at is not None:
            if record.claimed_at < now - CLAIM_LEASE_SECONDS:
                plan.stalled.append(record)
        elif record.awaiting_claim and not record.requested_since(now - CACHE_REQUEST_MARKER_SECONDS):
            plan.lost.append(record)
    return plan


@dataclass
class RedriveResult:
    """What a redrive did."""

    requested: list[int] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)
    not_requested: list[int] = field(default_factory=list)
    replayed: int = 0
    unreadable: int = 0
    replay_failed: int = 0


def cache_requests_in(body: str) -> list[str]:
    """The cache request bodies a dead-letter message holds, whichever way it reached the queue.

    SNS's own dead-letter queue holds the notification (the request, or its SNS envelope with `Message`); the
    trigger's on-failure destination holds Lambda's invocation record, whose `requestPayload` is the SNS event.
    """
    try:
        document: Any = json.loads(body)
    except ValueError:
        return []
    if isinstance(document, dict) and isinstance(document.get("requestPayload"), dict):
        document = document["requestPayload"]
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        bodies = []
        for record in document["Records"]:
            sns = record.get("Sns") if isinstance(record, dict) else None
            if isinstance(sns, dict) and isinstance(sns.get("Message"), str):
                bodies.append(sns["Message"])
        return [b for b in bodies if _is_cache_request(b)]
    if isinstance(document, dict) and isinstance(document.get("Message"), str):
        return [document["Message"]] if _is_cache_request(document["Message"]) else []
    return [body] if _is_cache_request(body) else []


def _is_cache_request(body: str) -> bool:
    try:
        CacheRequest.from_json(body)
    except Exception:  # noqa: BLE001 (any unreadable body is reported, never replayed)
        return False
    return True


class Redriver:
    """Re-requests pages and replays the dead-letter queue of one stack."""

    def __init__(
        self,
        targets: StackTargets,
        *,
        pages: PageStore | None = None,
        sns: Any = None,
        sqs: Any = None,
        clock: Callable[[], float] = time.time,
        progress: TextIO | None = None,
    ) -> None:
        self.targets = targets
        self._sns = sns if sns is not None else targets.client("sns")
        self._sqs = sqs if sqs is not None or targets.dlq_url is None else targets.client("sqs")
        self.pages = pages or PageStore(targets.client("dynamodb"), targets.pages_table)
        self._clock = clock
        self._progress = progress

    def plan(self) -> RedrivePlan:
        """Scan the pages table."""
        return plan_redrive(self.pages.scan(), self._clock())

    def dead_letters(self) -> int:
        """How many messages the dead-letter queue holds (approximately, as SQS counts them)."""
        if self._sqs is None:
            return 0
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.targets.dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0))

    def request(self, records: list[PageRecord], result: RedriveResult) -> None:
        """Mark, then publish, the pages in messages of up to 50; a page whose marker is live is in flight."""
        from botocore.exceptions import BotoCoreError, ClientError

        bar = Progress(self._progress, "pages re-requested", len(records))
        now = self._clock()
        for start in range(0, len(records), MAX_PAGES_PER_REQUEST):
            chunk = records[start : start + MAX_PAGES_PER_REQUEST]
            wanted: list[PageRef] = []
            for record in chunk:
                if record.backlinks_status == "partial" and not self.pages.reopen_partial(
                    record.pageid, PARTIAL_REOPENED, now
                ):
                    result.not_requested.append(record.pageid)  # changed since the scan: left as it is now
                    continue
                try:
                    marked = self.pages.mark_requested(record.pageid, record.title, now, CACHE_REQUEST_MARKER_SECONDS)
                except WriteThrottled:
                    # The table throttles the marker: request the page anyway, as the api does (a duplicate request
                    # is deduplicated by the claim; a lost one is not).
                    marked = True
                if marked:
                    wanted.append(PageRef(record.pageid, record.title or str(record.pageid)))
                else:
                    result.in_flight.append(record.pageid)
            if wanted:
                try:
                    self._publish(CacheRequest(pages=tuple(wanted), reason="page").to_json())
                    result.requested.extend(page.pageid for page in wanted)
                except (BotoCoreError, ClientError):
                    result.not_requested.extend(page.pageid for page in wanted)
                    for page in wanted:
                        with contextlib.suppress(WriteThrottled):  # the marker expires by itself soon enough
                            self.pages.clear_requested(page.pageid, now)
            bar.advance(len(chunk))
        bar.close()

    def replay(self, result: RedriveResult, max_messages: int) -> None:
        """Receive the dead-letter queue's messages, publish their requests again, then delete each."""
        if self._sqs is None:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        bar = Progress(self._progress, "messages replayed", min(self.dead_letters(), max_messages))
        seen = 0
        while seen < max_messages:
            batch = self._sqs.receive_message(
                QueueUrl=self.targets.dlq_url,
                MaxNumberOfMessages=min(10, max_messages - seen),
                WaitTimeSeconds=1,
                # Kept invisible for the run: a message left on the queue is not received twice by this run.
                VisibilityTimeout=300,
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                seen += 1
                bodies = cache_requests_in(message.get("Body", ""))
                if not bodies:
                    result.unreadable += 1
                    continue
                try:
                    for body in bodies:
                        self._publish(body)
                except (BotoCoreError, ClientError):
                    result.replay_failed += 1
                    continue
                self._sqs.delete_message(QueueUrl=self.targets.dlq_url, ReceiptHandle=message["ReceiptHandle"])
                result.replayed += 1
                bar.advance()
        bar.close()

    def _publish(self, body: str) -> None:
        self._sns.publish(TopicArn=self.targets.topic_arn, Message=body)


class GapCheckFailed(RuntimeError):
    """The gap-check function could not be found, or its invocation failed."""


def invoke_gap_check(targets: StackTargets, payload: Mapping[str, Any], lambda_client: Any = None) -> GapReport:
    """Run the deployed gap-check function once (Invoke, RequestResponse), so its spans take the shipped path."""
    from botocore.config import Config

    from functions.gaps import GapReport

    if not targets.gap_check_function:
        raise GapCheckFailed(
            "the stack exports no gapCheckFunctionName (deployed before the gap check existed?): run `pulumi up`, "
            "name the function with --gap-check-function, or run the check from here with --direct"
        )
    # One attempt: a retried invocation would compare (and spend wiki requests) twice. The read timeout outlasts
    # any Lambda timeout (900 s at most).
    client = lambda_client or targets.client(
        "lambda", Config(read_timeout=LAMBDA_MAX_TIMEOUT_SECONDS + 10, retries={"total_max_attempts": 1})
    )
    answer = client.invoke(
        FunctionName=targets.gap_check_function,
        InvocationType="RequestResponse",
        Payload=json.dumps(dict(payload)).encode(),
    )
    body = answer["Payload"].read()
    if answer.get("FunctionError"):
        raise GapCheckFailed(f"the gap-check function {targets.gap_check_function} failed: {body.decode()[:2000]}")
    return GapReport.from_dict(json.loads(body))


def local_wiki_api_url(targets: StackTargets, gateway: str) -> str | None:
    """The wiki the local stack's cache steps read, from a deployed function's environment."""
    url = gateway.rstrip("/") + "/api/local/resources"
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (a loopback URL the user gives)
        resources = json.loads(answer.read())["resources"]
    lambda_client = targets.client("lambda")
    for resource in resources:
        if resource["type"] == "aws:lambda/function:Function" and "cache-backlinks" in resource["name"]:
            variables = lambda_client.get_function_configuration(FunctionName=resource["id"])["Environment"]
            return variables["Variables"].get("WIKIROAM_WIKI_API_URL")  # type: ignore[no-any-return]
    return None


def iter_lines(plan: RedrivePlan, include_partial: bool) -> Iterator[str]:
    """What a redrive acts on, one line per kind, with up to 10 page ids each."""

    def ids(records: list[PageRecord]) -> str:
        shown = ", ".join(str(r.pageid) for r in records[:10])
        return f" ({shown}{', ...' if len(records) > 10 else ''})" if records else ""

    yield f"pages scanned: {plan.scanned}"
    yield f"  failed:                  {len(plan.failed)}{ids(plan.failed)}"
    yield f"  stalled (claim expired): {len(plan.stalled)}{ids(plan.stalled)}"
    yield f"  request lost (marker expired, never claimed): {len(plan.lost)}{ids(plan.lost)}"
    action = "re-requested (--include-partial)" if include_partial else "reported only"
    yield f"  partial, {action}: {len(plan.partial)}{ids(plan.partial)}"


def counts(values: Mapping[str, int]) -> str:
    """`a 1, b 2` for a summary line."""
    return ", ".join(f"{name} {value}" for name, value in values.items())


def stderr_or_none(quiet: bool) -> TextIO | None:
    """Where progress bars go."""
    return None if quiet else sys.stderr
