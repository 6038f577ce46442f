"""CloudWatch Logs subscriptions outside AWS: the filter patterns the local stack evaluates, and the `awslogs`
payload delivered to the subscribed Lambda (read by `functions.shipping.decode_awslogs`).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
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


_PATTERN_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
_UNSUPPORTED_PATTERN = re.compile(r"^\s*[\[{]|\?|(^|\s)-")


def matches_filter_pattern(pattern: str, message: str) -> bool:
    """CloudWatch Logs' filter pattern on unstructured text: every term (or quoted phrase) must appear."""
    terms = [quoted if quoted else bare for quoted, bare in _PATTERN_TOKEN.findall(pattern)]
    return all(term in message for term in terms)


def check_filter_pattern(pattern: str) -> None:
    """Refuse the pattern forms the local stack does not evaluate (JSON, space-delimited, OR, exclusion)."""
    if _UNSUPPORTED_PATTERN.search(pattern):
        raise ValueError(
            f"the local stack evaluates only term and quoted-phrase filter patterns, not {pattern!r}: "
            "use terms, or extend local.awslogs.matches_filter_pattern"
        )
