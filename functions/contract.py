"""What the deployed code and the infrastructure must agree on, in one module of the standard library only.

`components/` and `__main__.py` import these names to build the state machine, the tables, the routes and the
log subscriptions; `functions/` imports them to raise, match and emit the same names. Nothing here imports a
third-party package, so the Pulumi program never pulls in the functions' dependencies for a constant.
"""

from __future__ import annotations

# --- telemetry

SERVICE_NAME = "wikiroam"
# The one term a CloudWatch Logs subscription filter matches to pick span lines out of a function's logs.
SPAN_MARKER = "OTLPv1"
SPAN_FILTER_PATTERN = SPAN_MARKER
# The key of the W3C trace context in a pipeline execution's input.
TRACE_KEY = "_trace"
# Datadog names its trace metrics after a span's `operation.name` (`trace.<operation>.hits`, `.errors`, the
# `trace.<operation>` latency distribution). Each kind of entry or client span gets one stable name, so metric
# names do not multiply per route or per stack; the monitors and dashboards under dashboards/ query these.
OPERATION_NAME = "operation.name"
API_OPERATION = "wikiroam.api.request"
TRIGGER_OPERATION = "wikiroam.cache.trigger"
STEP_OPERATION = "wikiroam.cache.step"
GAP_CHECK_OPERATION = "wikiroam.cache.gap_check"
WIKI_OPERATION = "wikiroam.wiki.request"


# --- the cache pipeline's errors and retry policy
# Step Functions' Retry and Catch match a failed task's `errorType`, which is the raised exception's class
# name: functions/errors.py has one class per name below, and the state machine is built from these tuples.

INVALID_CACHE_REQUEST = "InvalidCacheRequest"
INVALID_TASK_PAYLOAD = "InvalidTaskPayload"
CONFIGURATION_ERROR = "ConfigurationError"
WIKI_UNAVAILABLE = "WikiUnavailable"
WIKI_RATE_LIMITED = "WikiRateLimited"
WIKI_API_ERROR = "WikiApiError"
WIKI_BAD_RESPONSE = "WikiBadResponse"
WRITE_THROTTLED = "WriteThrottled"
READ_THROTTLED = "ReadThrottled"
CLAIM_LOST = "ClaimLost"
BACKLINKS_NOT_FINISHED = "BacklinksNotFinished"
PIPELINE_ERRORS = (
    INVALID_CACHE_REQUEST,
    INVALID_TASK_PAYLOAD,
    CONFIGURATION_ERROR,
    WIKI_UNAVAILABLE,
    WIKI_RATE_LIMITED,
    WIKI_API_ERROR,
    WIKI_BAD_RESPONSE,
    WRITE_THROTTLED,
    READ_THROTTLED,
    CLAIM_LOST,
    BACKLINKS_NOT_FINISHED,
)
# Retried by every task (a step knows its failure is the execution's last word when none is left): the wiki
# being unavailable or rate limiting, DynamoDB throttling, a backlinks run cut short near the timeout.
# A throttle that outlasts the AWS client's own attempts (`functions.clients`) reaches a step as one of the two
# throttle names, never as botocore's bare ClientError, which no Retry could match.
TRANSIENT_ERRORS = (WIKI_UNAVAILABLE, WIKI_RATE_LIMITED, WRITE_THROTTLED, READ_THROTTLED, BACKLINKS_NOT_FINISHED)
# The Lambda service's own errors, retried too. `Sandbox.Timedout` is a function that ran out of time (a slow
# wiki): every step is idempotent and the backlinks one resumes, so a retry is safe.
LAMBDA_SERVICE_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Sandbox.Timedout",
)
# A throttled step (the function at its reserved concurrency: a burst of searches) has its own, longer Retry:
# waiting is all it needs, and a burst of executions needs more than three tries to drain through the
# concurrent steps. An Express execution is billed for every second it sleeps, and a step's slot frees as soon as
# one of its invocations ends (a fraction of a second on AWS), so the waits stay short (full jitter under a 3 s
# cap: 1.5 s on average, where a 10 s cap slept up to 10 past the slot) and the attempts many: about 45 s of
# waiting at most, well inside an Express execution's five minutes.
THROTTLE_ERROR = "Lambda.TooManyRequestsException"
THROTTLE_RETRY_INTERVAL_SECONDS = 1
THROTTLE_RETRY_BACKOFF_RATE = 1.5
THROTTLE_RETRY_MAX_ATTEMPTS = 16
THROTTLE_RETRY_MAX_DELAY_SECONDS = 3
# Step Functions' own errors a task can end with. A Fail state may not raise a name with the reserved `States.`
# prefix (moto refuses it outright), so these fail the execution as `CachingStepFailed` with the original name
# at the start of the cause. (`States.TaskFailed` is absent on purpose: in a Catch it matches every task error.)
STEP_FUNCTIONS_ERRORS = (
    "States.Timeout",
    "States.HeartbeatTimeout",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ParameterPathFailure",
    "States.DataLimitExceeded",
    "States.IntrinsicFailure",
)
FAILED_STATE = "CachingFailed"
SERVICE_FAILED_STATE = "CachingStepFailed"
# The Catch path: before a Fail state, a task of the cache start function marks the page `failed` with the error's
# name, for the failures the step's own code could not record (a crash, a timeout, a throttle out of retries).
# The payload's `operation` tells the function which of its operations to run.
RECORD_FAILURE_STATE = "RecordFailure"
RECORD_STEP_FAILURE_STATE = "RecordStepFailure"
TASK_OPERATION = "operation"
RECORD_FAILURE_OPERATION = "record_failure"
RETRY_MAX_ATTEMPTS = 3
RETRY_INTERVAL_SECONDS = 2
RETRY_BACKOFF_RATE = 2.0
# Express workflows stop at five minutes: keep the retries of the longest task well inside that.
RETRY_MAX_DELAY_SECONDS = 20

# Backpressure: the trigger runs each page's execution synchronously (StartSyncExecution) and waits for it, at most
# this many at once per trigger instance, and the trigger's reserved concurrency is the cache steps' divided by it.
# So executions in flight never outnumber a step's reserved concurrency (each execution runs one step at a time),
# and a burst of searches waits in Lambda's queue of asynchronous events (the trigger's throttled invocations,
# retried by Lambda for up to the event's maximum age) instead of exhausting the steps' throttle Retry.
TRIGGER_EXECUTIONS_IN_FLIGHT = 2
# The trigger waits for an execution a minute at most (`functions.clients.PIPELINE_RUN`; Step Functions would
# end a synchronous Express execution at five): one still running then runs on by itself. It starts a page only
# while its own timeout leaves that wait and the margin below; it publishes the pages it could not start as a new
# cache request, back into the queue.
TRIGGER_DEADLINE_MARGIN_SECONDS = 10

# How long a claim keeps other executions off a page; past it, a stalled execution's page can be taken over.
CLAIM_LEASE_SECONDS = 15 * 60
# How long a published cache request keeps the api from publishing the same page again (the page item's
# `requested_at` marker): long enough for SNS, the trigger and the claim (seconds), short enough that a request
# lost on the way is asked again soon. The claim replaces the marker; a failure removes it.
CACHE_REQUEST_MARKER_SECONDS = 60

# --- the tables and the HTTP API

# Route role -> API Gateway route key. The component deploys exactly these; the api function routes on the
# event's `routeKey` with them, so anything else never reaches it (API Gateway answers 404 at the edge).
API_ROUTES = {
    "health": "GET /api/health",
    "search": "GET /api/search",
    "page": "GET /api/pages/{pageid}",
    "backlinks": "GET /api/pages/{pageid}/backlinks",
}
