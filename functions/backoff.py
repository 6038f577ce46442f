"""Retry pacing shared by the wiki client, the data access and the span shipper.

One formula, AWS's "full jitter" (a delay drawn uniformly between zero and an exponentially growing ceiling,
capped), so retries from concurrent invocations spread out instead of arriving together; and one reader of
`Retry-After`, which a server may send as seconds or as an HTTP date.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

Uniform = Callable[[float, float], float]


def full_jitter(attempt: int, *, base: float, cap: float, uniform: Uniform = random.uniform) -> float:
    """The delay before retry `attempt` (1 for the first retry): uniform in [0, min(cap, base * 2**(attempt-1))]."""
    # The exponent is bounded too, so a long retry loop cannot overflow the float.
    ceiling = min(cap, base * 2 ** min(max(attempt - 1, 0), 32))
    return uniform(0.0, ceiling)


def retry_after_seconds(value: str | None, *, now: float | None = None, cap: float | None = None) -> float | None:
    """Seconds a `Retry-After` value asks for (delta-seconds or an HTTP date), capped; None when it says nothing."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    seconds = max(seconds, 0.0)
    return min(seconds, cap) if cap is not None else seconds
