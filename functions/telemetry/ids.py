"""Deterministic span ids of the Step Functions spans, so a step and the shipper name the same span apart.

A cache step's span is the child of its state's span; the shipper builds that state span from the state
machine's logs. Both derive its id from the execution ARN, the state's name and the time it was entered.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(value: str | float) -> int:
    """Integer epoch milliseconds from an epoch-ms string (log events) or an ISO time (the context object).

    AWS gives `2026-11-27T19:08:13.192Z`, moto `2026-11-27T19:08:59.097624+00:00`: both truncate to the
    millisecond the state machine's log event carries.
    """
    if isinstance(value, int | float):
        return int(value)
    text = value.strip()
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def _id64(text: str) -> int:
    # A span id of zero is invalid; a sha256 prefix of zero will not happen, but costs nothing to rule out.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") or 1


def state_span_id(execution_arn: str, state_name: str, entered: str | float) -> int:
    """The span id of one entry into a state: the first 8 bytes of sha256("<arn>#<state>#<entered ms>")."""
    return _id64(f"{execution_arn}#{state_name}#{epoch_ms(entered)}")


def execution_span_id(execution_arn: str) -> int:
    """The span id of an execution, so a state span names its parent without seeing ExecutionStarted."""
    return _id64(f"{execution_arn}#execution")


def execution_trace_id(execution_arn: str) -> int:
    """The trace id of an execution started without `_trace`, so its states and steps still share one trace."""
    return int.from_bytes(hashlib.sha256(execution_arn.encode()).digest()[:16], "big") or 1
