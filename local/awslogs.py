"""The `awslogs` payload CloudWatch Logs delivers to a subscribed Lambda, made here for the local stack and tests.

The shipper reads it with `functions.shipping.decode_awslogs`; this is its one writer outside AWS.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable
from typing import Any

from functions.shipping import LogEvent

ACCOUNT = "123456789012"


def encode_awslogs(
    log_group: str,
    log_stream: str,
    events: Iterable[LogEvent],
    filter_name: str = "wikiroam-telemetry",
    owner: str = ACCOUNT,
) -> dict[str, Any]:
    """The subscription event CloudWatch Logs would deliver for these events."""
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [{"id": e.id, "timestamp": e.timestamp, "message": e.message} for e in events],
    }
    compressed = gzip.compress(json.dumps(document, separators=(",", ":")).encode())
    return {"awslogs": {"data": base64.b64encode(compressed).decode()}}
