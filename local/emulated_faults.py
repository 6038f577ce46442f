"""Faults at the emulated AWS services (moto 5.2.5), for `WIKIROAM_FAULTS`: DynamoDB throttling, SNS failed deliveries.

They are injected where AWS would fail, in moto's request handling, so every client sees them: the Lambda
sandboxes (separate processes calling moto's server over HTTP), tests' boto3 clients, the AWS CLI. Only the local
stack's own requests (`local.faults.HARNESS_HEADER`) pass untouched.

- **DynamoDB** (`DynamoHandler`, the server's request handler): a throttled single-item call, Query or Scan
  answers `ProvisionedThroughputExceededException` (HTTP 400, with the `ThrottlingReasons` of a hot key, what an
  on-demand table meets), which the SDKs retry. A throttled BatchWriteItem / BatchGetItem is not an error, as in
  DynamoDB: the first half of its requests is processed and the rest comes back as `UnprocessedItems` /
  `UnprocessedKeys`; a batch of one, of which nothing can be processed, is the exception DynamoDB then answers.
  CreateTable, UpdateTable and DeleteTable answer `ThrottlingException`, the control plane's rate limit.
  Transactions are left alone (WikiRoam uses none).
- **SNS -> Lambda**: a failed delivery is a server-side error, so SNS retries it with the delivery policy of AWS
  managed endpoints (3 immediate retries, 2 one second apart, 10 with exponential backoff from 1 to 20 s), then
  moves the message to the subscription's dead-letter queue (its `RedrivePolicy`), with the `ErrorCode`,
  `ErrorMessage` and `RequestID` attributes. moto models neither retries nor redrive. Locally the waits are
  `SNS_DELAY_SCALE` of AWS's and the last phase (100,000 retries 20 s apart, 23 days) is left out: a message
  failing 16 times in a row goes to the DLQ within seconds.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Final, cast

from moto.core.exceptions import JsonRESTError

from local.faults import HARNESS_HEADER, HARNESS_VALUE, FaultRates

logger = logging.getLogger(__name__)

_PREFIX: Final = "com.amazonaws.dynamodb.v20120810#"
# What DynamoDB says when an on-demand table's partition is over its throughput.
_THROTTLED_MESSAGE: Final = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table "
    "or index so please try again shortly. If exceptions persist, check if you have a hot key: "
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
)
WRITE_ACTIONS: Final = ("put_item", "update_item", "delete_item")
READ_ACTIONS: Final = ("get_item", "query", "scan")
CONTROL_ACTIONS: Final = ("create_table", "update_table", "delete_table")

# SNS's delivery policy for AWS managed endpoints (Lambda, SQS), in seconds between attempts.
_IMMEDIATE: Final = (0.0, 0.0, 0.0)
_PRE_BACKOFF: Final = (1.0, 1.0)
_BACKOFF: Final = tuple(round(1.0 * 20.0 ** (i / 9), 2) for i in range(10))
SNS_DELIVERY_DELAYS: Final = _IMMEDIATE + _PRE_BACKOFF + _BACKOFF
# Locally a twentieth of AWS's waits: the 15 retries take about 3.5 s instead of about 70.
SNS_DELAY_SCALE: Final = 0.05


class ProvisionedThroughputExceeded(JsonRESTError):
    """DynamoDB's throttle of a data-plane request, with its ThrottlingReasons."""

    code = 400

    def __init__(self, reason: str, table_arn: str) -> None:
        super().__init__(_PREFIX + "ProvisionedThroughputExceededException", _THROTTLED_MESSAGE)
        self.description = json.dumps(
            {
                "__type": self.error_type,
                "message": self.message,
                "ThrottlingReasons": [{"reason": reason, "resource": table_arn}],
            }
        )


class ControlPlaneThrottled(JsonRESTError):
    """DynamoDB's rate limit on CreateTable, UpdateTable and DeleteTable."""

    code = 400

    def __init__(self) -> None:
        super().__init__(
            "com.amazon.coral.availability#ThrottlingException", "Rate of requests exceeds the allowed throughput."
        )


@contextmanager
def install_emulated_faults(
    faults: FaultRates, on_background: Callable[[], Callable[[], None]] | None = None
) -> Iterator[None]:
    """Patch moto's DynamoDB handler and SNS's Lambda deliveries to inject `faults`; undo on exit.

    Install after `local.fidelity`'s patches: the SNS one wraps theirs. `on_background()` is called when a
    delivery starts retrying in the background and returns what to call when it ends (the stack's `Activity`,
    so waiting for idle waits for the retries too).
    """
    stopping = threading.Event()
    with ExitStack() as stack:
        stack.enter_context(_dynamodb_faults(faults))
        stack.enter_context(_sns_delivery_faults(faults, on_background, stopping))
        stack.callback(stopping.set)
        yield


def _is_harness(handler: Any) -> bool:
    headers = getattr(handler, "headers", None) or {}
    return bool(headers.get(HARNESS_HEADER) == HARNESS_VALUE)


def _table_arn(handler: Any, table: str) -> str:
    return f"arn:aws:dynamodb:{handler.region}:{handler.current_account}:table/{table}"


@contextmanager
def _patched(owner: Any, name: str, replacement: Any) -> Iterator[None]:
    original = owner.__dict__[name]
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextmanager
def _dynamodb_faults(faults: FaultRates) -> Iterator[None]:
    from moto.dynamodb.responses import DynamoHandler

    def single(action: str, fault: str, kind: str) -> Callable[[Any], Any]:
        original = getattr(DynamoHandler, action)

        def throttled(self: Any) -> Any:
            if not _is_harness(self) and faults.should_inject(fault):
                table = str(self.body.get("TableName", ""))
                raise ProvisionedThroughputExceeded(f"Table{kind}KeyRangeThroughputExceeded", _table_arn(self, table))
            return original(self)

        return throttled

    def control(action: str) -> Callable[[Any], Any]:
        original = getattr(DynamoHandler, action)

        def throttled(self: Any) -> Any:
            if not _is_harness(self) and faults.should_inject("dynamodb_write_throttle"):
                raise ControlPlaneThrottled()
            return original(self)

        return throttled

    original_batch_write = DynamoHandler.batch_write_item
    original_batch_get = DynamoHandler.batch_get_item

    def batch_write_item(self: Any) -> Any:
        if _is_harness(self) or not faults.should_inject("dynamodb_write_throttle"):
            return original_batch_write(self)
        requested: dict[str, list[Any]] = self.body["RequestItems"]
        kept, unprocessed = _split_half(requested, lambda requests: requests)
        if not kept:
            raise ProvisionedThroughputExceeded(
                "TableWriteKeyRangeThroughputExceeded", _table_arn(self, next(iter(requested)))
            )
        self.body["RequestItems"] = kept
        result = original_batch_write(self)
        cast("dict[str, Any]", result.result)["UnprocessedItems"] = unprocessed
        return result

    def batch_get_item(self: Any) -> Any:
        if _is_harness(self) or not faults.should_inject("dynamodb_read_throttle"):
            return original_batch_get(self)
        requested: dict[str, dict[str, Any]] = self.body["RequestItems"]
        kept_keys, unprocessed_keys = _split_half(
            {table: request["Keys"] for table, request in requested.items()}, lambda keys: keys
        )
        if not kept_keys:
            raise ProvisionedThroughputExceeded(
                "TableReadKeyRangeThroughputExceeded", _table_arn(self, next(iter(requested)))
            )
        self.body["RequestItems"] = {table: {**requested[table], "Keys": keys} for table, keys in kept_keys.items()}
        result = original_batch_get(self)
        cast("dict[str, Any]", result.result)["UnprocessedKeys"] = {
            table: {**requested[table], "Keys": keys} for table, keys in unprocessed_keys.items()
        }
        return result

    with ExitStack() as stack:
        for action in WRITE_ACTIONS:
            stack.enter_context(_patched(DynamoHandler, action, single(action, "dynamodb_write_throttle", "Write")))
        for action in READ_ACTIONS:
            stack.enter_context(_patched(DynamoHandler, action, single(action, "dynamodb_read_throttle", "Read")))
        for action in CONTROL_ACTIONS:
            stack.enter_context(_patched(DynamoHandler, action, control(action)))
        stack.enter_context(_patched(DynamoHandler, "batch_write_item", batch_write_item))
        stack.enter_context(_patched(DynamoHandler, "batch_get_item", batch_get_item))
        yield


def _split_half(
    by_table: dict[str, list[Any]], items: Callable[[list[Any]], list[Any]]
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """The first half of a batch's requests (in request order, across tables) and the rest, each by table."""
    flat = [(table, item) for table, entries in by_table.items() for item in items(entries)]
    cut = len(flat) // 2
    kept: dict[str, list[Any]] = {}
    rest: dict[str, list[Any]] = {}
    for index, (table, item) in enumerate(flat):
        (kept if index < cut else rest).setdefault(table, []).append(item)
    return kept, rest


@contextmanager
def _sns_delivery_faults(
    faults: FaultRates, on_background: Callable[[], Callable[[], None]] | None, stopping: threading.Event
) -> Iterator[None]:
    from moto.sns.models import Subscription

    delivered = Subscription.publish  # local.fidelity's asynchronous delivery, when installed

    def publish(self: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
        if self.protocol != "lambda" or not faults.active("sns_delivery_failure"):
            delivered(self, message, message_id, *args, **kwargs)
            return
        subject = args[0] if args else kwargs.get("subject")
        attributes = args[1] if len(args) > 1 else kwargs.get("message_attributes")
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(attributes, message):
            return  # filtered out: not a delivery
        if not faults.should_inject("sns_delivery_failure"):
            delivered(self, message, message_id, *args, **kwargs)
            return
        done = on_background() if on_background is not None else (lambda: None)

        def retry() -> None:
            try:
                for delay in SNS_DELIVERY_DELAYS:
                    if stopping.wait(delay * SNS_DELAY_SCALE):
                        break
                    if not faults.should_inject("sns_delivery_failure"):
                        delivered(self, message, message_id, *args, **kwargs)
                        return
                _dead_letter(self, message, message_id, subject, attributes, attempts=1 + len(SNS_DELIVERY_DELAYS))
            except Exception:
                logger.exception("SNS's retried delivery of message %s failed", message_id)
            finally:
                done()

        threading.Thread(target=retry, name=f"sns-delivery-{message_id[:8]}", daemon=True).start()

    Subscription.publish = publish  # type: ignore[method-assign]
    try:
        yield
    finally:
        Subscription.publish = delivered  # type: ignore[method-assign]


def _dead_letter(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None,
    attributes: dict[str, Any] | None,
    *,
    attempts: int,
) -> None:
    """Move an undeliverable message to the subscription's DLQ, as SNS does; without one it is discarded."""
    policy = json.loads(subscription.attributes.get("RedrivePolicy") or "{}")
    target = str(policy.get("deadLetterTargetArn") or "")
    if not target.startswith("arn:aws:sqs:"):
        logger.error(
            "SNS discarded message %s after %d failed deliveries: its subscription has no DLQ", message_id, attempts
        )
        return
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, queue_name = target.split(":", 5)
    body = json.dumps(subscription.get_post_data(message, message_id, subject, message_attributes=attributes))
    error = {
        "ErrorCode": "ServiceUnavailable",
        "ErrorMessage": f"Delivery to {subscription.endpoint} failed {attempts} times (injected: sns_delivery_failure)",
        "RequestID": str(uuid.uuid4()),
    }
    sqs_backends[account][region].send_message(
        queue_name,
        body,
        message_attributes={name: {"DataType": "String", "StringValue": value} for name, value in error.items()},
    )
