"""Data access for the pages and links tables; the only module that speaks DynamoDB.

Items are written with the low-level client and hand-built attribute values: the schema is small and fixed,
and this keeps boto3's resource layer out of the cold start.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from functions.backoff import full_jitter
from functions.errors import ClaimLost, WikiRoamError, WriteThrottled

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BacklinksStatus = Literal["pending", "complete", "partial", "failed"]

# DynamoDB's own limits per request.
BATCH_WRITE_SIZE = 25
BATCH_GET_SIZE = 100


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

    @property
    def cached(self) -> bool:
        """Whether caching has finished for this page, with every backlink or with a known gap."""
        return self.backlinks_status in ("complete", "partial")


@dataclass(frozen=True)
class LinkRecord:
    """One link between two pages, with both titles so a page of backlinks needs no second read."""

    fromid: int
    from_title: str
    toid: int
    to_title: str


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
    )


class PageStore:
    """The pages table: one item per page, keyed by `pageid`, guarded by a claim so one execution writes it."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, pageid: int) -> PageRecord | None:
        """The page's record, or None when nobody has cached it."""
        item = self._client.get_item(TableName=self._table, Key={"pageid": _n(pageid)}, ConsistentRead=True)
        return _page_from_item(item["Item"]) if "Item" in item else None

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
                    _backoff_or_raise(attempt, "BatchGetItem on the pages table")
        return found

    def claim(self, pageid: int, title: str, owner: str, now: float, lease_seconds: float) -> bool:
        """Take the page for one execution; False when it is cached or another execution's claim is still live."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pageid": _n(pageid)},
                UpdateExpression=(
                    "SET title = if_not_exists(title, :title), claimed_by = :owner, claimed_at = :now, "
                    "backlinks_status = :pending REMOVE caching_error, failed_at"
                ),
                # A failed page is free to claim again: its failure released the claim, its progress is kept.
                ConditionExpression=(
                    "attribute_not_exists(pageid) OR backlinks_status = :failed OR "
                    "(backlinks_status = :pending AND (attribute_not_exists(claimed_at) OR claimed_at < :expired "
                    "OR claimed_by = :owner))"
                ),
                ExpressionAttributeValues={
                    ":title": _s(title),
                    ":owner": _s(owner),
                    ":now": _n(now),
                    ":pending": _s("pending"),
                    ":failed": _s("failed"),
                    ":expired": _n(now - lease_seconds),
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

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
        values: dict[str, Any] = {":owner": _s(owner), ":count": _n(count), ":status": _s(status)}
        sets = ["backlinks_count = :count", "backlinks_status = :status"]
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
            "SET backlinks_status = :failed, caching_error = :error, failed_at = :now REMOVE claimed_by, claimed_at",
            {":owner": _s(owner), ":failed": _s("failed"), ":error": _s(error), ":now": _n(now)},
            None,
        )

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


class LinkStore:
    """The links table: partition key `toid`, sort key `fromid`, and a GSI on `fromid`."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        max_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
        self._max_attempts = max_attempts
        self._sleep = sleep
        self.batch_writes = 0

    def put_many(self, links: Iterable[LinkRecord]) -> int:
        """Write links with BatchWriteItem, 25 per request, retrying unprocessed items; returns how many."""
        written = 0
        batch: list[dict[str, Any]] = []
        for link in links:
            batch.append({"PutRequest": {"Item": _link_item(link)}})
            if len(batch) == BATCH_WRITE_SIZE:
                self._write(batch)
                written += len(batch)
                batch = []
        if batch:
            self._write(batch)
            written += len(batch)
        return written

    def backlinks(self, toid: int, *, cursor: str | None, limit: int) -> tuple[list[LinkRecord], str | None]:
        """One page of the links to `toid` in `fromid` order, and the cursor of the next (None at the end)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "toid = :toid",
            "ExpressionAttributeValues": {":toid": _n(toid)},
            "Limit": limit,
        }
        if cursor is not None:
            query["ExclusiveStartKey"] = {"toid": _n(toid), "fromid": _n(decode_cursor(cursor, toid))}
        response = self._client.query(**query)
        links = [_link_from_item(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return links, encode_cursor(toid, int(last["fromid"]["N"])) if last else None

    def _write(self, requests: list[dict[str, Any]]) -> None:
        pending: list[Any] = requests
        attempt = 0
        while pending:
            self.batch_writes += 1
            response = self._client.batch_write_item(RequestItems={self._table: pending})
            pending = list(response.get("UnprocessedItems", {}).get(self._table, []))
            attempt += 1
            if pending:
                _backoff_or_raise(attempt, "BatchWriteItem on the links table", self._max_attempts, self._sleep)


def _link_item(link: LinkRecord) -> dict[str, Any]:
    return {
        "toid": _n(link.toid),
        "fromid": _n(link.fromid),
        "to_title": _s(link.to_title),
        "from_title": _s(link.from_title),
    }


def _link_from_item(item: Mapping[str, Any]) -> LinkRecord:
    return LinkRecord(
        fromid=int(item["fromid"]["N"]),
        from_title=str(item.get("from_title", {}).get("S", "")),
        toid=int(item["toid"]["N"]),
        to_title=str(item.get("to_title", {}).get("S", "")),
    )


def _backoff_or_raise(
    attempt: int,
    what: str,
    max_attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Full-jitter exponential backoff (AWS's advice for unprocessed items), bounded in attempts."""
    if attempt >= max_attempts:
        raise WriteThrottled(f"{what} still had unprocessed items after {attempt} attempts")
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
