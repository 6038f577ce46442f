"""The AWS clients the functions create: every one with timeouts and retries that end well inside its function's.

botocore's defaults are 60 s connect and read timeouts and, for DynamoDB, the legacy mode's 10 attempts: a slow or
throttled table could hold a call past the api's 15 s timeout, so the reader got a Lambda timeout (API Gateway's
500) instead of the documented `503 storage_unavailable`, and a step's Retry never saw a named error in time.
Here a call gives up, with botocore's own exception, while its function still has time to answer:

| profile | used by | connect | read | attempts | worst case (all attempts time out, longest backoff) |
|---|---|---|---|---|---|
| `READER` | api (15 s) | 1 s | 3 s | 2 | 2 x 4 s + 1 s backoff = 9 s |
| `BACKGROUND` | trigger's publish, steps (30 s), gaps (120 s), shipper (60 s) | 1 s | 4 s | 3 | 3 x 5 s + 3 s = 18 s |
| `PIPELINE_RUN` | trigger's StartSyncExecution (180 s) | 1 s | 60 s | 1 | 61 s, left at each start |

`standard` retry mode retries throttles and transient errors with full-jitter exponential backoff (up to 1, 2 s
before the 2nd and 3rd attempts) and the same rules in every SDK. A DynamoDB throttle that outlasts the attempts
(a `ClientError` such as `ProvisionedThroughputExceededException`) leaves `functions.store` as `WriteThrottled` or
`ReadThrottled`: the api answers 503, a step's Retry retries it.
`PIPELINE_RUN` waits for an execution (StartSyncExecution answers when it ends): a minute at most, then the
trigger goes on and the execution runs on by itself; the trigger starts one only while its own timeout leaves
that long. Every other DynamoDB, SNS, Step
Functions and Secrets Manager call answers in milliseconds in the same region, so these timeouts only cut what is
already broken. `botocore.config` is imported by boto3 itself: no cold-start cost.
"""

from __future__ import annotations

from typing import Any, Final

import boto3
from botocore.config import Config

CONNECT_TIMEOUT_SECONDS: Final = 1
READER_READ_TIMEOUT_SECONDS: Final = 3
READER_MAX_ATTEMPTS: Final = 2
BACKGROUND_READ_TIMEOUT_SECONDS: Final = 4
BACKGROUND_MAX_ATTEMPTS: Final = 3

# A reader is waiting (the api): one quick retry at most.
READER: Final = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READER_READ_TIMEOUT_SECONDS,
    retries={"mode": "standard", "total_max_attempts": READER_MAX_ATTEMPTS},
)
# Nobody waits, but the function's timeout does (the trigger's and the cache steps' 30 s are the shortest).
BACKGROUND: Final = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=BACKGROUND_READ_TIMEOUT_SECONDS,
    retries={"mode": "standard", "total_max_attempts": BACKGROUND_MAX_ATTEMPTS},
)

# The trigger's StartSyncExecution: the answer comes when the execution ends. A cache execution takes seconds; one
# that outlasts the wait (a hub's backlinks under a slow wiki) runs on by itself, the trigger goes on with the
# next page. One attempt: a read timeout is that long execution, and a retry would start the page a second time.
PIPELINE_RUN_READ_TIMEOUT_SECONDS: Final = 60
PIPELINE_RUN: Final = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=PIPELINE_RUN_READ_TIMEOUT_SECONDS,
    retries={"mode": "standard", "total_max_attempts": 1},
)
PIPELINE_RUN_WORST_SECONDS: Final = CONNECT_TIMEOUT_SECONDS + PIPELINE_RUN_READ_TIMEOUT_SECONDS


def aws_client(service: str, config: Config) -> Any:
    """A boto3 client of `service` with one of the profiles above (`READER`, `BACKGROUND`, `PIPELINE_RUN`)."""
    return boto3.client(service, config=config)  # type: ignore[call-overload]
