"""DynamoDB's request units, metered where moto serves the requests (moto counts none of its own).

The local stack runs moto's server in the benchmark's process, so the meter wraps the backend's item
operations there and applies DynamoDB's on-demand rules to the items they touch:

- a write (put, update, delete, each put or delete of a BatchWriteItem) costs 1 WRU per KB of the larger of the
  item before and after, rounded up, and a failed conditional write still costs its units; each global
  secondary index holding the item (before or after) costs the same again (WikiRoam's index projects ALL);
- a TransactWriteItems costs 2 WRU per KB of each item it writes (DynamoDB's price for transactions), and the
  reads moto makes to check its conditions are not billed;
- a GetItem, or a key of a BatchGetItem, costs 1 RRU per 4 KB rounded up when strongly consistent, half when
  eventually consistent; a Query or Scan costs the same on the total size of the items it read.

Item sizes are moto's (`Item.size()`: attribute names plus values, as DynamoDB counts them).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

KB = 1024
READ_UNIT_BYTES = 4 * KB


@dataclass
class DynamoDbUsage:
    """Request units and requests by table, while metering."""

    write_units: Counter[str] = field(default_factory=Counter)
    read_units: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)
    reads: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def total_write_units(self) -> float:
        """Every table's WRUs."""
        return float(sum(self.write_units.values()))

    def total_read_units(self) -> float:
        """Every table's RRUs."""
        return float(sum(self.read_units.values()))

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers for the JSON."""
        return {
            "write_units": dict(self.write_units),
            "read_units": dict(self.read_units),
            "item_writes": dict(self.writes),
            "item_reads": dict(self.reads),
        }


def _size(item: Any) -> int:
    return int(item.size()) if item is not None else 0


def _write_units(table: Any, before: Any, after: Any) -> int:
    units = max(1, math.ceil(max(_size(before), _size(after)) / KB))
    indexed = 0
    for index in getattr(table, "global_indexes", []) or []:
        keys = [schema["AttributeName"] for schema in index.schema if schema["KeyType"] == "HASH"]
        if any(keys and all(key in (item.attrs if item else {}) for key in keys) for item in (before, after)):
            indexed += 1
    return units * (1 + indexed)


def _read_units(total_bytes: int, consistent: bool) -> float:
    units = max(1, math.ceil(total_bytes / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@contextmanager
def metered() -> Iterator[DynamoDbUsage]:
    """Meter every DynamoDB item operation moto serves in this process for the duration of the block."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    usage = DynamoDbUsage()
    request = threading.local()
    originals: dict[tuple[Any, str], Callable[..., Any]] = {}

    def patch(owner: Any, name: str, replacement: Callable[..., Any]) -> None:
        originals[(owner, name)] = getattr(owner, name)
        setattr(owner, name, replacement)

    def original(owner: Any, name: str) -> Callable[..., Any]:
        return originals[(owner, name)]

    def key_of(table: Any, attrs: dict[str, Any]) -> dict[str, Any]:
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {name: attrs[name] for name in names if name in attrs}

    def record_write(backend: Any, table_name: str, before: Any, after: Any) -> None:
        units = _write_units(backend.get_table(table_name), before, after)
        if getattr(request, "transaction", False):
            units *= 2
        with usage.lock:
            usage.write_units[table_name] += units
            usage.writes[table_name] += 1

    def record_read(table_name: str, total_bytes: int, consistent: bool, items: int) -> None:
        with usage.lock:
            usage.read_units[table_name] += _read_units(total_bytes, consistent)
            usage.reads[table_name] += items

    def current(backend: Any, table_name: str, key: dict[str, Any]) -> Any:
        return original(DynamoDBBackend, "get_item")(backend, table_name, key)

    def put_item(self: Any, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        before = current(self, table_name, key_of(self.get_table(table_name), item_attrs))
        try:
            after = original(DynamoDBBackend, "put_item")(self, table_name, item_attrs, *args, **kwargs)
        except Exception:
            record_write(self, table_name, before, None)  # a refused conditional write still costs its units
            raise
        record_write(self, table_name, before, after)
        return after

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        before = current(self, table_name, key)
        try:
            after = original(DynamoDBBackend, "update_item")(self, table_name, key, *args, **kwargs)
        except Exception:
            record_write(self, table_name, before, None)
            raise
        record_write(self, table_name, before, after)
        return after

    def delete_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        before = current(self, table_name, key)
        try:
            deleted = original(DynamoDBBackend, "delete_item")(self, table_name, key, *args, **kwargs)
        except Exception:
            record_write(self, table_name, before, None)
            raise
        record_write(self, table_name, before, None)
        return deleted

    def get_item(self: Any, table_name: str, keys: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        item = original(DynamoDBBackend, "get_item")(self, table_name, keys, *args, **kwargs)
        if getattr(request, "transaction", False):
            return item  # a transaction's own condition check, billed in its write units
        record_read(table_name, _size(item), bool(getattr(request, "consistent", False)), 1)
        return item

    def query(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        result = original(DynamoDBBackend, "query")(self, table_name, *args, **kwargs)
        items = result[0]
        record_read(table_name, sum(_size(i) for i in items), bool(kwargs.get("consistent_read")), len(items))
        return result

    def scan(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        result = original(DynamoDBBackend, "scan")(self, table_name, *args, **kwargs)
        items = result[0]
        record_read(table_name, sum(_size(i) for i in items), bool(kwargs.get("consistent_read")), len(items))
        return result

    def transact_write_items(self: Any, *args: Any, **kwargs: Any) -> Any:
        request.transaction = True
        try:
            return original(DynamoDBBackend, "transact_write_items")(self, *args, **kwargs)
        finally:
            request.transaction = False

    def handler_get_item(self: Any) -> Any:
        # The backend is not told about ConsistentRead: the request says it.
        request.consistent = bool(self.body.get("ConsistentRead"))
        try:
            return original(DynamoHandler, "get_item")(self)
        finally:
            request.consistent = False

    for name, replacement in (
        ("put_item", put_item),
        ("update_item", update_item),
        ("delete_item", delete_item),
        ("get_item", get_item),
        ("query", query),
        ("scan", scan),
        ("transact_write_items", transact_write_items),
    ):
        patch(DynamoDBBackend, name, replacement)
    patch(DynamoHandler, "get_item", handler_get_item)
    try:
        yield usage
    finally:
        for (owner, name), function in originals.items():
            setattr(owner, name, function)


def one_put_per_link_units(links: Sequence[tuple[int, str, int, str]]) -> tuple[int, int]:
    """(write requests, WRUs) of caching `(fromid, from_title, toid, to_title)` links the way WikiRoam did before
    packing: one item per link (`toid`, `fromid` and both titles) and a global secondary index on `fromid`
    projecting ALL, so each put is billed twice. Item sizes by moto's rules, as the meter's."""
    from types import SimpleNamespace

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    index = SimpleNamespace(
        schema=[{"AttributeName": "fromid", "KeyType": "HASH"}, {"AttributeName": "toid", "KeyType": "RANGE"}]
    )
    table = SimpleNamespace(global_indexes=[index])

    units = 0
    for fromid, from_title, toid, to_title in links:
        attrs = {
            "toid": {"N": str(toid)},
            "fromid": {"N": str(fromid)},
            "to_title": {"S": to_title},
            "from_title": {"S": from_title},
        }
        item = Item(DynamoType(attrs["toid"]), DynamoType(attrs["fromid"]), attrs)
        units += _write_units(table, None, item)
    return len(links), units
