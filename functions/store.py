"""Data access for the pages and backlinks tables; the only module that speaks DynamoDB.

Items are written with the low-level client and hand-built attribute values: the schema is small and fixed,
and this keeps boto3's resource layer out of the cold start.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from botocore.exceptions import ClientError

from functions.backoff import full_jitter
from functions.errors import ClaimLost, ReadThrottled, WikiRoamError, WriteThrottled

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BacklinksStatus = Literal["pending", "complete", "partial", "failed"]
# The page record's format, written with every backlinks progress save. 2: the backlinks are packed in the
# backlinks table (`LinkStore`). A finished record without it was cached before that upgrade, its backlinks in
# the retired links table: it reads as pending, is claimable again, and its next request re-caches it from the
# start (an old resume point is ignored too: the links before it are not in the backlinks table).
PAGE_FORMAT = 2

# DynamoDB's own limit per request.
BATCH_GET_SIZE = 100
# The error codes DynamoDB throttles with (botocore's own retries come first).
_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
    | {"ProvisionedThroughputExceeded", "ThrottlingError"}  # a cancelled transaction's reasons
)
_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextmanager
def _throttles_named(error: type[WikiRoamError], what: str) -> Iterator[None]:
    """A throttle that outlasted the client's attempts, raised as `error`: a name Step Functions' Retry matches
    (`functions.contract.TRANSIENT_ERRORS`) and the api answers 503 for, not botocore's bare ClientError."""
    try:
        yield
    except ClientError as caught:
        code = caught.response.get("Error", {}).get("Code")
        if code not in _THROTTLED:
            raise
        raise error(f"{what}: DynamoDB still throttled ({code}) after the client's attempts") from caught


def _named_throttles(error: type[WikiRoamError]) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """`_throttles_named` around a whole method."""

    def decorate(method: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(method)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with _throttles_named(error, method.__qualname__):
                return method(*args, **kwargs)

        return wrapper

    return decorate


_reads = _named_throttles(ReadThrottled)
_writes = _named_throttles(WriteThrottled)


class InvalidCursor(WikiRoamError, ValueError):
    """A pagination cursor that this API did not hand out."""


@dataclass(frozen=True)
class PageRecord:
    """A page as the pages table holds it."""

    pageid: int
    title: str
    extract: str
    url: str
    thumbnail: str | None
    lastrevid: int | None
    cached_at: str | None
    backlinks_status: BacklinksStatus
    backlinks_count: int
    claimed_by: str | None
    claimed_at: float | None
    backlinks_resume: Mapping[str, str] | None
    caching_error: str | None = None
    requested_at: float | None = None
    page_format: int | None = None

    @property
    def cached(self) -> bool:
        """Whether caching has finished for this page, with every backlink or with a known gap."""
        return self.backlinks_status in ("complete", "partial")

    @property
    def awaiting_claim(self) -> bool:
        """Only the api's request marker is here: no execution has claimed the page, nothing is cached."""
        return self.backlinks_status == "pending" and self.claimed_at is None and self.cached_at is None

    def requested_since(self, since: float) -> bool:
        """Whether a cache request for the page was published at or after `since` (its marker is live)."""
        return self.requested_at is not None and self.requested_at >= since


@dataclass(frozen=True)
class LinkRecord:
    """One link between two pages, with the linking page's title so a page of backlinks needs no second read."""

    fromid: int
    from_title: str
    toid: int


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": str(value)}


def _page_from_item(item: Mapping[str, Any]) -> PageRecord:
    def text(name: str) -> str | None:
        value = item.get(name)
        return str(value["S"]) if value and "S" in value else None

    def number(name: str) -> float | None:
        value = item.get(name)
        return float(value["N"]) if value and "N" in value else None

    resume = text("backlinks_resume")
    lastrevid = number("lastrevid")
    status = text("backlinks_status") or "pending"
    page_format = number("page_format")
    if status in ("complete", "partial") and page_format != PAGE_FORMAT:
        status = "pending"
    return PageRecord(
        pageid=int(item["pageid"]["N"]),
        title=text("title") or "",
        extract=text("extract") or "",
        url=text("url") or "",
        thumbnail=text("thumbnail"),
        lastrevid=int(lastrevid) if lastrevid is not None else None,
        cached_at=text("cached_at"),
        backlinks_status=status if status in ("complete", "partial", "failed") else "pending",  # type: ignore[arg-type]
        backlinks_count=int(number("backlinks_count") or 0),
        claimed_by=text("claimed_by"),
        claimed_at=number("claimed_at"),
        backlinks_resume=json.loads(resume) if resume else None,
        caching_error=text("caching_error"),
        requested_at=number("requested_at"),
        page_format=int(page_format) if page_format is not None else None,
    )


class PageStore:
    """The pages table: one item per page, keyed by `pageid`, guarded by a claim so one execution writes it."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    @_reads
    def get(self, pageid: int) -> PageRecord | None:
        """The page's record, or None when nobody has cached it."""
        item = self._client.get_item(TableName=self._table, Key={"pageid": _n(pageid)}, ConsistentRead=True)
        return _page_from_item(item["Item"]) if "Item" in item else None

    @_reads
    def get_many(self, pageids: Sequence[int]) -> dict[int, PageRecord]:
        """The records of those pages that are in the table, keyed by pageid (BatchGetItem, 100 keys a call)."""
        found: dict[int, PageRecord] = {}
        unique = list(dict.fromkeys(pageids))
        for start in range(0, len(unique), BATCH_GET_SIZE):
            keys: list[dict[str, Any]] = [{"pageid": _n(i)} for i in unique[start : start + BATCH_GET_SIZE]]
            attempt = 0
            while keys:
                response = self._client.batch_get_item(RequestItems={self._table: {"Keys": keys}})
                for item in response.get("Responses", {}).get(self._table, []):
                    record = _page_from_item(item)
                    found[record.pageid] = record
                unprocessed: Any = response.get("UnprocessedKeys", {}).get(self._table)
                keys = list(unprocessed["Keys"]) if unprocessed else []
                attempt += 1
                if keys:
                    _backoff_or_raise(attempt, "BatchGetItem on the pages table", error=ReadThrottled)
        return found

    @_writes
    def claim(self, pageid: int, title: str, owner: str, now: float, lease_seconds: float) -> bool:
        """Take the page for one execution; False when it is cached or another execution's claim is still live."""
        return self._update_if(
            pageid,
            # The claim replaces the api's `requested_at` marker: from here the claim's lease guards the page.
            UpdateExpression=(
                "SET title = if_not_exists(title, :title), claimed_by = :owner, claimed_at = :now, "
                "backlinks_status = :pending REMOVE caching_error, failed_at, requested_at"
            ),
            # A failed page is free to claim again: its failure released the claim, its progress is kept. An
            # item without a status holds only the api's marker: nobody has claimed it yet.
            ConditionExpression=(
                "attribute_not_exists(pageid) OR attribute_not_exists(backlinks_status) OR "
                "backlinks_status = :failed OR "
                "(backlinks_status IN (:complete, :partial) AND "
                "(attribute_not_exists(page_format) OR page_format < :format)) OR "
                "(backlinks_status = :pending AND (attribute_not_exists(claimed_at) OR claimed_at < :expired "
                "OR claimed_by = :owner))"
            ),
            ExpressionAttributeValues={
                ":title": _s(title),
                ":owner": _s(owner),
                ":now": _n(now),
                ":pending": _s("pending"),
                ":failed": _s("failed"),
                ":complete": _s("complete"),
                ":partial": _s("partial"),
                ":format": _n(PAGE_FORMAT),
                ":expired": _n(now - lease_seconds),
            },
        )

    def save_info(
        self,
        *,
        pageid: int,
        owner: str,
        title: str,
        extract: str,
        url: str,
        thumbnail: str | None,
        lastrevid: int | None,
        cached_at: str,
    ) -> None:
        """Write the page's article data; `ClaimLost` if another execution has taken the page since."""
        values: dict[str, Any] = {
            ":owner": _s(owner),
            ":title": _s(title),
            ":extract": _s(extract),
            ":url": _s(url),
            ":cached_at": _s(cached_at),
            ":zero": _n(0),
        }
        sets = ["title = :title", "#extract = :extract", "#url = :url", "cached_at = :cached_at"]
        sets.append("backlinks_count = if_not_exists(backlinks_count, :zero)")
        removes = []
        if thumbnail is not None:
            values[":thumbnail"] = _s(thumbnail)
            sets.append("thumbnail = :thumbnail")
        else:
            removes.append("thumbnail")
        if lastrevid is not None:
            values[":lastrevid"] = _n(lastrevid)
            sets.append("lastrevid = :lastrevid")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        # EXTRACT and URL are DynamoDB reserved words.
        self._update_owned(pageid, owner, expression, values, {"#extract": "extract", "#url": "url"})

    def save_backlinks_progress(
        self,
        *,
        pageid: int,
        owner: str,
        count: int,
        status: BacklinksStatus,
        resume: Mapping[str, str] | None,
    ) -> None:
        """Record how far backlinks caching got, so a retry resumes there instead of starting over."""
        values: dict[str, Any] = {
            ":owner": _s(owner),
            ":count": _n(count),
            ":status": _s(status),
            ":format": _n(PAGE_FORMAT),
        }
        sets = ["backlinks_count = :count", "backlinks_status = :status", "page_format = :format"]
        removes = []
        if resume is not None:
            values[":resume"] = _s(json.dumps(dict(resume), sort_keys=True))
            sets.append("backlinks_resume = :resume")
        else:
            removes.append("backlinks_resume")
        if status != "pending":
            # A finished page belongs to nobody: the next claim must see it as cached, not as leased.
            removes.extend(["claimed_by", "claimed_at"])
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self._update_owned(pageid, owner, expression, values, None)

    def record_failure(self, pageid: int, owner: str, error: str, now: float) -> None:
        """Mark the page failed with the error's name and release the claim; backlinks progress is kept."""
        self._update_owned(
            pageid,
            owner,
            "SET backlinks_status = :failed, caching_error = :error, failed_at = :now "
            "REMOVE claimed_by, claimed_at, requested_at",
            {":owner": _s(owner), ":failed": _s("failed"), ":error": _s(error), ":now": _n(now)},
            None,
        )

    @_writes
    def record_caught_failure(self, pageid: int, title: str, owner: str, error: str, now: float) -> bool:
        """The state machine's Catch path: mark the page failed with `error`; False when it was not ours to mark.

        Marked when this execution holds the claim (which is released), or when nobody does and the page is
        neither cached nor failed already (a step that failed before claiming: the page item may be absent or
        hold only the api's marker). A page another execution holds, a cached page, and a failure the step
        recorded itself are left as they are.
        """
        return self._update_if(
            pageid,
            UpdateExpression=(
                "SET title = if_not_exists(title, :title), backlinks_status = :failed, caching_error = :error, "
                "failed_at = :now REMOVE claimed_by, claimed_at, requested_at"
            ),
            ConditionExpression=(
                "claimed_by = :owner OR (attribute_not_exists(claimed_by) AND "
                "(attribute_not_exists(backlinks_status) OR backlinks_status = :pending))"
            ),
            ExpressionAttributeValues={
                ":title": _s(title),
                ":owner": _s(owner),
                ":failed": _s("failed"),
                ":pending": _s("pending"),
                ":error": _s(error),
                ":now": _n(now),
            },
        )

    @_writes
    def mark_requested(self, pageid: int, title: str, now: float, ttl_seconds: float) -> bool:
        """Set the page's `requested_at` marker unless a live one is there; False when a request is in flight.

        Writes only the key, the title (kept if present) and the marker: an item created here has no status,
        which reads as `pending` with no claim, and the first claim takes it over.
        """
        return self._update_if(
            pageid,
            UpdateExpression="SET title = if_not_exists(title, :title), requested_at = :now",
            ConditionExpression="attribute_not_exists(requested_at) OR requested_at < :expired",
            ExpressionAttributeValues={":title": _s(title), ":now": _n(now), ":expired": _n(now - ttl_seconds)},
        )

    @_writes
    def clear_requested(self, pageid: int, requested_at: float) -> bool:
        """Remove the marker this request set (its publish failed), so the next view asks again at once.

        False when another request's marker is there since: it is not this one's to remove.
        """
        return self._update_if(
            pageid,
            UpdateExpression="REMOVE requested_at",
            ConditionExpression="requested_at = :at",
            ExpressionAttributeValues={":at": _n(requested_at)},
        )

    def scan(self, *, segment_size: int = 500) -> Iterator[PageRecord]:
        """Every page item, read with a paginated Scan (for operators' tools, never the request path)."""
        request: dict[str, Any] = {"TableName": self._table, "Limit": segment_size}
        while True:
            with _throttles_named(ReadThrottled, "Scan on the pages table"):
                response = self._client.scan(**request)
            for item in response.get("Items", []):
                yield _page_from_item(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    @_writes
    def reopen_partial(self, pageid: int, error: str, now: float) -> bool:
        """Mark a partial page failed with `error`, so a new run may claim it and resume; False if not partial."""
        return self._update_if(
            pageid,
            UpdateExpression="SET backlinks_status = :failed, caching_error = :error, failed_at = :now",
            ConditionExpression="backlinks_status = :partial",
            ExpressionAttributeValues={
                ":failed": _s("failed"),
                ":partial": _s("partial"),
                ":error": _s(error),
                ":now": _n(now),
            },
        )

    @_writes
    def mark_gap(self, pageid: int, cached_count: int, error: str, now: float) -> bool:
        """Mark a complete page failed with `error` (its backlinks differ from the wiki's), unless it changed since.

        The condition holds the page to what the detector read (complete, with `cached_count` backlinks, and no
        claim), so a page re-cached meanwhile is left alone. The backlinks resume point is removed: a new run
        lists every backlink again instead of resuming past the end.
        """
        return self._update_if(
            pageid,
            UpdateExpression=(
                "SET backlinks_status = :failed, caching_error = :error, failed_at = :now REMOVE backlinks_resume"
            ),
            ConditionExpression=(
                "backlinks_status = :complete AND backlinks_count = :count AND attribute_not_exists(claimed_by)"
            ),
            ExpressionAttributeValues={
                ":failed": _s("failed"),
                ":complete": _s("complete"),
                ":count": _n(cached_count),
                ":error": _s(error),
                ":now": _n(now),
            },
        )

    @_writes
    def release(self, pageid: int, owner: str) -> None:
        """Forget a claimed page that turned out not to exist on the wiki."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"pageid": _n(pageid)},
                ConditionExpression="claimed_by = :owner",
                ExpressionAttributeValues={":owner": _s(owner)},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            raise ClaimLost(f"page {pageid} is no longer claimed by {owner}") from None

    def _update_if(self, pageid: int, **update: Any) -> bool:
        """One conditional UpdateItem of the page (`update`: the request's other fields); False if the condition
        does not hold."""
        try:
            self._client.update_item(TableName=self._table, Key={"pageid": _n(pageid)}, **update)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    @_writes
    def _update_owned(
        self,
        pageid: int,
        owner: str,
        expression: str,
        values: dict[str, Any],
        names: dict[str, str] | None,
    ) -> None:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pageid": _n(pageid)},
            "UpdateExpression": expression,
            "ConditionExpression": "claimed_by = :owner",
            "ExpressionAttributeValues": values,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            self._client.update_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            raise ClaimLost(f"page {pageid} is no longer claimed by {owner}") from None


class LinkWriteConflict(WikiRoamError):
    """Other executions kept changing the same backlinks chunk; the write gave up after bounded attempts."""


# A chunk's encoded links stay under this many bytes, so an item (key and version included) stays under 4 KB:
# one read unit strongly consistent, half eventually, and a page of 50 backlinks reads one or two of them.
CHUNK_MAX_BYTES = 4096 - 96
# Links merged into one chunk's range per write, so a split stays well inside a transaction's 100 items.
MAX_LINKS_PER_WRITE = 1000
# Conditional writes that lose to another execution are re-read and re-merged this many times at most.
MAX_CONFLICT_ATTEMPTS = 5


@dataclass(frozen=True)
class _Chunk:
    lo: int
    version: int
    links: dict[int, str]


class LinkStore:
    """The backlinks table: each page's backlinks packed into chunks in page-id order, a few hundred to an item.

    Key: partition `toid` (N), sort `lo` (N), the chunk's lower bound: 0 for a page's first chunk, the smallest
    `fromid` it held when it was split off for the others. A chunk holds the links with `lo <= fromid < next lo`
    as `links` (B, `encode_links`), and a version `v` (N) every write is conditional on, so two executions never
    clobber each other's chunk. The linked page's title stays on its page record.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        max_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        chunk_max_bytes: int = CHUNK_MAX_BYTES,
    ) -> None:
        self._client = client
        self._table = table
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._chunk_max_bytes = chunk_max_bytes

    def put_many(self, links: Iterable[LinkRecord]) -> int:
        """Merge links into their pages' chunks by `fromid`; returns how many were not cached before.

        Links already cached (a retried batch) are not written twice. The direct listing arrives in page-id
        order, so most batches append to a page's last chunk; links through redirects merge where they fall.
        """
        by_page: dict[int, dict[int, str]] = {}
        for link in links:
            by_page.setdefault(link.toid, {})[link.fromid] = link.from_title
        return sum(self._merge(toid, pending) for toid, pending in by_page.items())

    def count(self, toid: int) -> int:
        """How many backlinks of `toid` are cached (reads every chunk of the page once)."""
        return sum(len(chunk.links) for chunk in self._chunks(toid, after=None, consistent=True, page_size=None))

    def backlinks(self, toid: int, *, cursor: str | None, limit: int) -> tuple[list[LinkRecord], str | None]:
        """One page of the links to `toid` in `fromid` order, and the cursor of the next (None at the end)."""
        after = decode_cursor(cursor, toid) if cursor is not None else None
        found: list[LinkRecord] = []
        # Two chunks hold a few hundred links: a page of 50 is usually one 8 KB query (one eventually consistent read).
        for chunk in self._chunks(toid, after=after, consistent=False, page_size=2):
            for fromid in sorted(chunk.links):
                if after is None or fromid > after:
                    found.append(LinkRecord(fromid=fromid, from_title=chunk.links[fromid], toid=toid))
            if len(found) > limit:
                break
        page = found[:limit]
        return page, encode_cursor(toid, page[-1].fromid) if len(found) > limit else None

    def _merge(self, toid: int, pending: dict[int, str]) -> int:
        """Merge `pending` into the chunks of `toid`, highest ids first, one chunk's range per write."""
        added = 0
        while pending:
            for _ in range(MAX_CONFLICT_ATTEMPTS):
                chunk = self._chunk_at(toid, max(pending))
                lo = chunk.lo if chunk is not None else 0
                group = sorted(f for f in pending if f >= lo)[-MAX_LINKS_PER_WRITE:]
                merged = dict(chunk.links) if chunk is not None else {}
                new = [f for f in group if f not in merged]
                changed = bool(new) or any(merged[f] != pending[f] for f in group)
                merged.update((f, pending[f]) for f in group)
                if not changed or self._write(toid, chunk, merged):
                    break
            else:
                raise LinkWriteConflict(f"backlinks of page {toid}: chunk at {lo} kept changing under this write")
            added += len(new)
            for fromid in group:
                del pending[fromid]
        return added

    def _chunk_at(self, toid: int, fromid: int) -> _Chunk | None:
        """The chunk whose range holds `fromid`: the one with the greatest `lo <= fromid` (None: no chunk yet)."""
        response = self._call(
            self._client.query,
            TableName=self._table,
            KeyConditionExpression="toid = :toid AND lo <= :at",
            ExpressionAttributeValues={":toid": _n(toid), ":at": _n(fromid)},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return _chunk_from_item(items[0]) if items else None

    def _chunks(self, toid: int, *, after: int | None, consistent: bool, page_size: int | None) -> Iterator[_Chunk]:
        """The chunks holding links after `after` (every chunk without), in order, each query sent when needed.

        A page of backlinks costs the chunk holding the cursor (Limit 1, backwards) and the chunks forward that
        its links fill, `page_size` to a query: a bounded number of read units whatever the page's size.
        """
        condition, values = "toid = :toid", {":toid": _n(toid)}
        if after is not None:
            values[":after"] = _n(after)
            holding = self._call(
                self._client.query,
                TableName=self._table,
                KeyConditionExpression="toid = :toid AND lo <= :after",
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=consistent,
            ).get("Items", [])
            if holding:
                yield _chunk_from_item(holding[0])
            condition = "toid = :toid AND lo > :after"
        exclusive: Any = None
        while True:
            query: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ConsistentRead": consistent,
            }
            if page_size is not None:
                query["Limit"] = page_size
            if exclusive:
                query["ExclusiveStartKey"] = exclusive
            response = self._call(self._client.query, **query)
            for item in response.get("Items", []):
                yield _chunk_from_item(item)
            exclusive = response.get("LastEvaluatedKey")
            if not exclusive:
                return

    def _write(self, toid: int, chunk: _Chunk | None, merged: dict[int, str]) -> bool:
        """Rewrite the chunk with `merged`, split at the size cap; False when another write got there first."""
        lo = chunk.lo if chunk is not None else 0
        pieces = _split(sorted(merged.items()), lo, self._chunk_max_bytes)
        first = {
            "TableName": self._table,
            "Item": _chunk_item(toid, pieces[0][0], (chunk.version if chunk is not None else 0) + 1, pieces[0][1]),
        }
        if chunk is not None:
            first["ConditionExpression"] = "v = :v"
            first["ExpressionAttributeValues"] = {":v": _n(chunk.version)}
        else:
            first["ConditionExpression"] = "attribute_not_exists(lo)"
        rest = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _chunk_item(toid, piece_lo, 1, piece),
                    "ConditionExpression": "attribute_not_exists(lo)",
                }
            }
            for piece_lo, piece in pieces[1:]
        ]
        attempt = 0
        while True:
            try:
                if len(pieces) == 1:
                    self._call(self._client.put_item, **first)
                else:
                    # A split is one transaction: the shrunk chunk and the new ones appear together or not at all.
                    self._call(self._client.transact_write_items, TransactItems=[{"Put": first}, *rest])
            except self._client.exceptions.ConditionalCheckFailedException:
                return False
            except self._client.exceptions.TransactionCanceledException as error:
                reasons = {r.get("Code") for r in error.response.get("CancellationReasons", [])}
                if not reasons & _THROTTLED:
                    return False  # a condition failed, or another transaction held an item: re-read and re-merge
                attempt += 1
                _backoff_or_raise(attempt, "TransactWriteItems on the backlinks table", self._max_attempts, self._sleep)
                continue
            return True

    def _call(self, operation: Callable[..., Any], **request: Any) -> Any:
        """One request, retried with jittered backoff while DynamoDB throttles it; past the budget `ReadThrottled`
        for a query, `WriteThrottled` for a write."""
        throttled = ReadThrottled if getattr(operation, "__name__", "") == "query" else WriteThrottled
        attempt = 0
        while True:
            try:
                return operation(**request)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in _THROTTLED:
                    raise
                attempt += 1
                _backoff_or_raise(attempt, "the backlinks table", self._max_attempts, self._sleep, error=throttled)


def _split(links: list[tuple[int, str]], lo: int, max_bytes: int) -> list[tuple[int, list[tuple[int, str]]]]:
    """`links` in pieces of at most `max_bytes` encoded (a single oversized link alone); the first keeps `lo`."""
    pieces: list[tuple[int, list[tuple[int, str]]]] = []
    current: list[tuple[int, str]] = []
    size = 0
    previous = lo
    for fromid, title in links:
        length = _encoded_length(fromid - previous, title)
        if current and size + length > max_bytes:
            pieces.append((lo if not pieces else current[0][0], current))
            current, previous = [], fromid
            length = _encoded_length(0, title)
            size = 0
        current.append((fromid, title))
        size += length
        previous = fromid
    pieces.append((lo if not pieces else current[0][0], current))
    return pieces


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _encoded_length(delta: int, title: str) -> int:
    raw = len(title.encode())
    return len(_varint(delta)) + len(_varint(raw)) + raw


def encode_links(lo: int, links: Sequence[tuple[int, str]]) -> bytes:
    """A chunk's links, sorted by `fromid`: per link the id's distance from the previous one (from `lo` for the
    first) and the title's UTF-8 length as varints, then the title."""
    out = bytearray()
    previous = lo
    for fromid, title in links:
        raw = title.encode()
        out += _varint(fromid - previous) + _varint(len(raw)) + raw
        previous = fromid
    return bytes(out)


def decode_links(lo: int, data: bytes) -> dict[int, str]:
    """The links `encode_links` packed, by `fromid`."""
    links: dict[int, str] = {}
    position, previous = 0, lo

    def varint() -> int:
        nonlocal position
        value = shift = 0
        while True:
            byte = data[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while position < len(data):
        previous += varint()
        length = varint()
        links[previous] = data[position : position + length].decode()
        position += length
    return links


def _chunk_item(toid: int, lo: int, version: int, links: Sequence[tuple[int, str]]) -> dict[str, Any]:
    return {"toid": _n(toid), "lo": _n(lo), "v": _n(version), "links": {"B": encode_links(lo, links)}}


def _chunk_from_item(item: Mapping[str, Any]) -> _Chunk:
    lo = int(item["lo"]["N"])
    return _Chunk(lo=lo, version=int(item["v"]["N"]), links=decode_links(lo, bytes(item["links"]["B"])))


def _backoff_or_raise(
    attempt: int,
    what: str,
    max_attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
    *,
    error: type[WikiRoamError] = WriteThrottled,
) -> None:
    """Full-jitter exponential backoff (AWS's advice for unprocessed items), bounded in attempts."""
    if attempt >= max_attempts:
        raise error(f"{what} still throttled or unprocessed after {attempt} attempts")
    sleep(full_jitter(attempt, base=0.1, cap=5.0))


def encode_cursor(toid: int, fromid: int) -> str:
    """An opaque cursor: callers pass it back, they do not build it."""
    raw = json.dumps({"toid": toid, "after": fromid}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, toid: int) -> int:
    """The `fromid` a cursor resumes after; `InvalidCursor` if it is not one of ours or is for another page."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("the cursor is not one this API handed out") from None
    if not isinstance(data, dict) or data.get("toid") != toid or not isinstance(data.get("after"), int):
        raise InvalidCursor("the cursor is not one this API handed out for this page")
    return int(data["after"])
