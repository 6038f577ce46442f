"""Where moto 5.2.5 differs from AWS in ways WikiRoam depends on, and the patches that close each gap.

Each patch is installed by `install_fidelity_patches()` and undone on exit; each has a test in
`tests/integration/test_local_fidelity.py`.

1. SNS -> Lambda: moto builds the Lambda event with fake MessageAttributes, a constant MessageId and topic ARN,
   and invokes the function inside Publish. AWS delivers asynchronously with the published attributes (W3C
   trace context rides in them) and the real ids. Patched: `Subscription.publish` for the `lambda` protocol.
2. Asynchronous invocation: Lambda retries a failed asynchronous invocation (the function's
   EventInvokeConfig `MaximumRetryAttempts`, default 2) and then sends a record to its on-failure
   destination. moto does neither. `AsyncInvoker` does, with `retry_delays` shortened from AWS's minutes.
3. Logs subscription -> Lambda: moto ignores `filterPattern` and calls the function inside PutLogEvents.
   Patched: `LambdaBackend.send_log_event` applies the pattern (terms and quoted phrases, the forms WikiRoam
   uses; anything else is refused at PutSubscriptionFilter time) and delivers asynchronously.
4. Step Functions execution logs: moto writes none. Patched: when an execution ends, its history becomes
   CloudWatch events in the Step Functions log format (`id`, `type`, `details`, `previous_event_id`,
   `event_timestamp` in epoch-ms, `execution_arn`) in the log group of the state machine's logging
   configuration, honouring `level` and `includeExecutionData`.
5. A state's `$$.State.EnteredTime`: moto reads the clock twice, once for the StateEntered event and again for
   the context object, so the two can fall in different milliseconds. In AWS they are the same instant, and the
   trace relies on it (a step function derives its state span's id from EnteredTime, the shipper from the
   event). Patched: the context object's EnteredTime is the StateEntered event's timestamp.
6. StartSyncExecution: moto's server answers it with a 500. Patched: the execution starts as StartExecution
   starts one, the call answers when it has ended, with AWS's fields (`status` SUCCEEDED, FAILED or TIMED_OUT,
   `output`, `error`, `cause`, `billingDetails`). The trigger waits on it: the pipeline's backpressure.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from functions.backoff import full_jitter
from functions.shipping import LogEvent
from local.awslogs import check_filter_pattern, encode_awslogs, matches_filter_pattern
from local.runtime import TooManyRequestsException

logger = logging.getLogger(__name__)

# AWS waits about 1 then 2 minutes between asynchronous retries; locally seconds keep the loop observable.
DEFAULT_RETRY_DELAYS = (1.0, 2.0)
_DEFAULT_ASYNC_RETRIES = 2


class Activity:
    """Counts the local AWS's background work (queued invocations, running executions) to tell when it is idle."""

    def __init__(self) -> None:
        self._busy = 0
        self._changed = threading.Condition()

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark one piece of work as in progress for the duration of the block."""
        with self._changed:
            self._busy += 1
        try:
            yield
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()

    def begin(self) -> None:
        """Mark one piece of work as started (`end` must follow)."""
        with self._changed:
            self._busy += 1

    def end(self) -> None:
        """Mark one piece of work as finished."""
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is in progress; False if `timeout` seconds pass first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._busy == 0, timeout=timeout)


class AsyncInvoker:
    """Lambda's asynchronous invocation: a queue, retries per EventInvokeConfig, then the on-failure destination."""

    def __init__(
        self, activity: Activity, *, retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS, workers: int = 4
    ) -> None:
        self._activity = activity
        self._retry_delays = tuple(retry_delays)
        self._workers = workers
        # One queue per function, as Lambda keeps one per function: a trigger waiting on its executions, or its
        # burst of throttled events, never holds up the shipper's log batches.
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pending: set[Future[None]] = set()
        # What each pending invocation delivers, by function: the events Lambda's queue holds (AsyncEventAge's).
        self._queued: dict[Future[None], tuple[str, dict[str, Any], float]] = {}
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self.failures: list[dict[str, Any]] = []

    def submit(self, function: Any, event: Mapping[str, Any]) -> None:
        """Queue one asynchronous invocation of a moto LambdaFunction."""
        self._activity.begin()
        delivered = dict(event)
        try:
            future = self._pool(function.function_name).submit(self._deliver, function, delivered)
        except RuntimeError:
            self._activity.end()
            raise
        with self._guard:
            self._pending.add(future)
            self._queued[future] = (function.function_name, delivered, time.monotonic())
        future.add_done_callback(self._done)

    def queued(self, function_name: str) -> list[dict[str, Any]]:
        """The events still waiting for (or being retried on) `function_name`: its asynchronous queue."""
        with self._guard:
            return [event for name, event, _ in self._queued.values() if name == function_name]

    def queues(self) -> dict[str, dict[str, float]]:
        """Per function with events waiting: how many, and the oldest one's age in seconds (AsyncEventAge's)."""
        now = time.monotonic()
        found: dict[str, dict[str, float]] = {}
        with self._guard:
            for name, _, submitted in self._queued.values():
                queue = found.setdefault(name, {"events": 0, "oldest_age_s": 0.0})
                queue["events"] += 1
                queue["oldest_age_s"] = round(max(queue["oldest_age_s"], now - submitted), 1)
        return found

    def _pool(self, function_name: str) -> ThreadPoolExecutor:
        with self._guard:
            pool = self._pools.get(function_name)
            if pool is None:
                pool = self._pools[function_name] = ThreadPoolExecutor(
                    max_workers=self._workers, thread_name_prefix=f"wikiroam-async-{function_name[:40]}"
                )
            return pool

    def idle(self) -> bool:
        """True when no asynchronous invocation is queued or running."""
        with self._guard:
            return not self._pending

    def shutdown(self, timeout: float = 30.0) -> None:
        """Finish what is running (no new retries), then stop the workers."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        while not self.idle() and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._guard:
            pools = list(self._pools.values())
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)

    def _done(self, future: Future[None]) -> None:
        with self._guard:
            self._pending.discard(future)
            self._queued.pop(future, None)
        self._activity.end()
        error = future.exception() if not future.cancelled() else None
        if error is not None:
            logger.error("asynchronous invocation crashed: %s: %s", type(error).__name__, error)

    def _deliver(self, function: Any, event: dict[str, Any]) -> None:
        config = _event_invoke_config(function)
        retries = int(config.get("MaximumRetryAttempts", _DEFAULT_ASYNC_RETRIES))
        attempt = 0
        throttled = 0
        while True:
            headers: dict[str, str] = {}
            try:
                payload = function.invoke(json.dumps(event), {"x-amz-invocation-type": "Event"}, headers)
            except TooManyRequestsException as error:
                # Lambda keeps a throttled event and tries it again later (for up to six hours), without counting
                # it as a failed attempt: here, with backoff, until the stack stops.
                # Short waits: the trigger is throttled by design under a burst (it is the queue), and a slot it
                # frees should not stay idle for long.
                throttled += 1
                payload = json.dumps({"errorType": error.error_type, "errorMessage": error.message})
                if self._stopping.wait(full_jitter(throttled, base=0.1, cap=1.0)):
                    break
                continue
            errored = "x-amz-function-error" in headers
            attempt += 1
            if not errored:
                return
            if attempt > retries or self._stopping.is_set():
                break
            delay = self._retry_delays[min(attempt - 1, len(self._retry_delays) - 1)] if self._retry_delays else 0
            if self._stopping.wait(delay):
                break
        self._send_to_failure_destination(function, config, event, payload, attempt)

    def _send_to_failure_destination(
        self, function: Any, config: Mapping[str, Any], event: Mapping[str, Any], payload: Any, attempts: int
    ) -> None:
        text = payload.decode() if isinstance(payload, bytes) else str(payload)
        reported = _json_or_text(text)
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": "",
                "functionArn": f"{function.function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": reported,
        }
        self.failures.append(record)
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
        if not destination.startswith("arn:aws:sqs:"):
            reason = (
                f"{reported.get('errorType')}: {reported.get('errorMessage')}" if isinstance(reported, dict) else text
            )
            logger.error(
                "%s failed %d times and has no on-failure destination: %s", function.function_name, attempts, reason
            )
            return
        from moto.sqs.models import sqs_backends

        _, _, _, region, account, queue_name = destination.split(":", 5)
        sqs_backends[account][region].send_message(queue_name, json.dumps(record))


def _event_invoke_config(function: Any) -> dict[str, Any]:
    configs = getattr(function, "event_invoke_config", None) or []
    return dict(configs[-1].config) if configs else {}


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def sns_lambda_event(
    subscription: Any, message: str, message_id: str, subject: str | None, attributes: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The event SNS hands a subscribed Lambda function, with the published message's real ids and attributes."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    topic_arn = subscription.topic.arn
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": now,
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": f"https://sns.local/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
                    "MessageAttributes": {
                        name: {"Type": value.get("Type", "String"), "Value": value.get("Value")}
                        for name, value in (attributes or {}).items()
                    },
                },
            }
        ]
    }


# What `includeExecutionData: false` leaves out of an event's details.
_EXECUTION_DATA_KEYS = ("input", "output", "inputDetails", "outputDetails", "parameters")


def step_functions_log_events(
    execution_arn: str, history: Sequence[Mapping[str, Any]], *, level: str, include_execution_data: bool
) -> list[dict[str, Any]]:
    """An execution's history as CloudWatch log events in the Step Functions log format."""
    from moto.stepfunctions.parser.api import HistoryEventType, LogLevel
    from moto.stepfunctions.parser.asl.eval.event.logging import is_logging_enabled_for

    events = []
    for event in history:
        raw_type = event["type"]
        event_type = str(getattr(raw_type, "value", raw_type))
        if not is_logging_enabled_for(LogLevel(level), HistoryEventType(event_type)):
            continue
        details: dict[str, Any] = {}
        for key, value in event.items():
            if key.endswith("EventDetails") and isinstance(value, Mapping):
                details = dict(value)
        if not include_execution_data:
            # A task's `parameters` are the state's data rendered into its request (our Lambda payloads hold the
            # state's whole input): execution data too. Tracing tools that read payloads from TaskScheduled
            # events (Datadog's Step Functions tracing) ask for execution data for that reason.
            for key in _EXECUTION_DATA_KEYS:
                details.pop(key, None)
        epoch_ms = _epoch_ms(event["timestamp"])
        record = {
            "id": str(event["id"]),
            "type": event_type,
            "details": details,
            "previous_event_id": str(event.get("previousEventId", 0)),
            "event_timestamp": str(epoch_ms),
            "execution_arn": execution_arn,
            "redrive_count": "0",
        }
        events.append({"timestamp": epoch_ms, "message": json.dumps(record, separators=(",", ":"), default=str)})
    return events


def _epoch_ms(timestamp: Any) -> int:
    # moto's history holds datetimes or ISO strings ("...06.696Z"), depending on the event.
    if isinstance(timestamp, datetime):
        return int(timestamp.timestamp() * 1000)
    if isinstance(timestamp, (int, float)):
        return int(timestamp)
    return int(datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp() * 1000)


@contextmanager
def install_fidelity_patches(invoker: AsyncInvoker, activity: Activity) -> Iterator[None]:
    """Install the six patches above; undo them on exit."""
    with ExitStack() as stack:
        stack.enter_context(_patched_sns_delivery(invoker))
        stack.enter_context(_patched_log_subscriptions(invoker))
        stack.enter_context(_patched_execution_logs(activity))
        stack.enter_context(_patched_state_entered_time())
        stack.enter_context(patched_sync_executions())
        yield


@contextmanager
def _patch(owner: Any, name: str, replacement: Any, *, missing_ok: bool = False) -> Iterator[Any]:
    """Replace `owner.name` while inside; `missing_ok` adds what moto lacks, and removes it again on exit."""
    missing = object()
    original = getattr(owner, name, missing) if missing_ok else getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield None if original is missing else original
    finally:
        if original is missing:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


@contextmanager
def _patched_sns_delivery(invoker: AsyncInvoker) -> Iterator[None]:
    from moto.awslambda.utils import get_backend
    from moto.sns.models import Subscription

    original_publish = Subscription.publish

    def publish(  # noqa: PLR0917 (moto's signature)
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol != "lambda":
            original_publish(
                self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure
            )
            return
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        region = self.endpoint.split(":")[3]
        function = get_backend(self.account_id, region).get_function(self.endpoint)
        invoker.submit(function, sns_lambda_event(self, message, message_id, subject, message_attributes))

    with _patch(Subscription, "publish", publish):
        yield


@contextmanager
def _patched_log_subscriptions(invoker: AsyncInvoker) -> Iterator[None]:
    from moto.awslambda.models import LambdaBackend
    from moto.logs.exceptions import InvalidParameterException
    from moto.logs.models import LogGroup

    original_put = LogGroup.put_subscription_filter

    def put_subscription_filter(self: Any, filter_name: str, filter_pattern: str, *args: Any, **kwargs: Any) -> None:
        try:
            check_filter_pattern(filter_pattern)
        except ValueError as error:
            raise InvalidParameterException(msg=str(error)) from error
        original_put(self, filter_name, filter_pattern, *args, **kwargs)

    def send_log_event(  # noqa: PLR0917 (moto's signature)
        self: Any,
        function_arn: str,
        filter_name: str,
        log_group_name: str,
        log_stream_name: str,
        log_events: list[dict[str, Any]],
    ) -> None:
        from moto.logs.models import logs_backends

        group = logs_backends[self.account_id][self.region_name].groups.get(log_group_name)
        subscription = group.subscription_filters.get(filter_name) if group is not None else None
        pattern = subscription.filter_pattern if subscription is not None else ""
        matching = [event for event in log_events if matches_filter_pattern(pattern, event["message"])]
        if not matching:
            return
        events = [LogEvent(str(e["id"]), int(e["timestamp"]), str(e["message"])) for e in matching]
        payload = encode_awslogs(log_group_name, log_stream_name, events, filter_name, owner=self.account_id)
        invoker.submit(self.get_function(function_arn), payload)

    with (
        _patch(LogGroup, "put_subscription_filter", put_subscription_filter),
        _patch(LambdaBackend, "send_log_event", send_log_event),
    ):
        yield


@contextmanager
def _patched_execution_logs(activity: Activity) -> Iterator[None]:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_start: Callable[[Any], None] = ExecutionWorker.start
    original_logic: Callable[[Any], None] = ExecutionWorker._execution_logic

    def start(self: Any) -> None:
        # Counted from StartExecution, so "idle" never falls between the start and the execution's thread.
        activity.begin()
        try:
            original_start(self)
        except BaseException:
            activity.end()
            raise

    def execution_logic(self: Any) -> None:
        try:
            original_logic(self)
        finally:
            # An exception escaping here would leave the execution RUNNING forever: log it instead.
            try:
                _write_execution_logs(self)
            except Exception:
                logger.exception("could not write the execution's Step Functions log events")
            finally:
                activity.end()

    with _patch(ExecutionWorker, "start", start), _patch(ExecutionWorker, "_execution_logic", execution_logic):
        yield


class SyncWaits:
    """The StartSyncExecution calls waiting for their execution, and the turns the in-process runner lends.

    The in-process runner (`local.runner`) runs one invocation at a time under one lock. The trigger holds it
    while it waits for its executions, whose steps need it too: while a synchronous call waits, one invocation
    of another function at a time may borrow a turn (never the waiting function's, a second trigger, which would
    wait in its turn in turn). A call
    answers only once no borrowed turn is left running, so the trigger never writes
    its output while another invocation's is being captured.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting = 0
        self._borrowed = False

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Around the wait of one StartSyncExecution call."""
        with self._changed:
            self._waiting += 1
        try:
            yield
        finally:
            with self._changed:
                self._waiting -= 1
                self._changed.wait_for(lambda: self._waiting > 0 or not self._borrowed)

    def try_borrow(self) -> bool:
        """Take the turn a waiting call lends, if any and if free."""
        with self._changed:
            if self._waiting > 0 and not self._borrowed:
                self._borrowed = True
                return True
            return False

    def give_back(self) -> None:
        """End a borrowed turn."""
        with self._changed:
            self._borrowed = False
            self._changed.notify_all()


SYNC_WAITS = SyncWaits()


# How often a StartSyncExecution call looks at its execution's status.
_SYNC_POLL_SECONDS = 0.02
# Express bills duration in 100 ms steps at 64 MB steps; billingDetails reports what the execution was billed.
_EXPRESS_BILLING_STEP_MS = 100
_EXPRESS_BILLED_MEMORY_MB = 64


@contextmanager
def patched_sync_executions() -> Iterator[None]:
    """StartSyncExecution on moto's Step Functions (with `execute_state_machine` on): start, wait, answer."""
    from moto.core.config import default_user_config
    from moto.core.responses import ActionResult
    from moto.stepfunctions.exceptions import InvalidArn
    from moto.stepfunctions.responses import StepFunctionResponse

    def start_sync_execution(self: Any) -> Any:
        if not default_user_config.get("stepfunctions", {}).get("execute_state_machine", False):
            # Executions that never run would hold the call forever.
            raise InvalidArn("StartSyncExecution needs moto's stepfunctions execute_state_machine config")
        arn = self._get_param("stateMachineArn")
        name = self._get_param("name") or uuid.uuid4().hex
        execution = self.stepfunction_backend.start_execution(arn, name, self._get_param("input", if_none="{}"))
        with SYNC_WAITS.waiting():
            while execution.status == "RUNNING":
                time.sleep(_SYNC_POLL_SECONDS)
        status = {"SUCCEEDED": "SUCCEEDED", "TIMED_OUT": "TIMED_OUT"}.get(execution.status, "FAILED")
        started, stopped = execution.start_date, execution.stop_date or datetime.now(UTC)
        duration_ms = max(0, int((stopped - started).total_seconds() * 1000))
        response: dict[str, Any] = {
            "executionArn": execution.exec_arn,
            "stateMachineArn": arn,
            "name": name,
            "startDate": started,
            "stopDate": stopped,
            "status": status,
            "input": _as_json_text(execution.input_data),
            "billingDetails": {
                "billedMemoryUsedInMB": _EXPRESS_BILLED_MEMORY_MB,
                "billedDurationInMilliseconds": -(-max(duration_ms, 1) // _EXPRESS_BILLING_STEP_MS)
                * _EXPRESS_BILLING_STEP_MS,
            },
        }
        if status == "SUCCEEDED":
            response["output"] = _as_json_text(execution.output)
        if execution.error is not None:
            response["error"] = execution.error
        if execution.cause is not None:
            response["cause"] = execution.cause
        return ActionResult(response)

    with _patch(StepFunctionResponse, "start_sync_execution", start_sync_execution, missing_ok=True):
        yield


def _as_json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


@contextmanager
def _patched_state_entered_time() -> Iterator[None]:
    import datetime as real_datetime

    from moto.stepfunctions.parser.asl.component.state import state as state_module
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    # Per thread: each execution runs its states on a thread of its own.
    entered = threading.local()
    original_add_event = EventManager.add_event

    def add_event(  # noqa: PLR0917 (moto's signature)
        self: Any,
        context: Any,
        event_type: Any,
        event_details: Any = None,
        timestamp: datetime | None = None,
        update_source_event_id: bool = True,
    ) -> int:
        moment = timestamp or self._get_current_timestamp()
        if str(getattr(event_type, "value", event_type)).endswith("StateEntered"):
            entered.moment = moment
        result: int = original_add_event(self, context, event_type, event_details, moment, update_source_event_id)
        return result

    def now(tz: Any = None) -> datetime:
        # moto's state.py reads the clock for EnteredTime right after adding the StateEntered event (its only use
        # of `datetime`): hand it that event's instant, once.
        moment = getattr(entered, "moment", None)
        entered.moment = None
        return moment if moment is not None else real_datetime.datetime.now(tz=tz)

    clock = SimpleNamespace(datetime=SimpleNamespace(now=now), timezone=real_datetime.timezone)
    with _patch(EventManager, "add_event", add_event), _patch(state_module, "datetime", clock):
        yield


def _write_execution_logs(worker: Any) -> None:
    execution = worker._execution_communication.execution
    configuration = getattr(execution.state_machine, "loggingConfiguration", None) or {}
    level = configuration.get("level", "OFF")
    destinations = configuration.get("destinations") or []
    if level == "OFF" or not destinations:
        return
    group_arn = destinations[0].get("cloudWatchLogsLogGroup", {}).get("logGroupArn", "")
    # arn:aws:logs:<region>:<account>:log-group:<name>:*
    parts = group_arn.split(":")
    if len(parts) < 7 or parts[5] != "log-group":
        logger.error("the state machine logs to %r, which is not a log group ARN", group_arn)
        return
    region, account, group_name = parts[3], parts[4], parts[6]
    history = worker.env.event_manager.get_event_history() if worker.env is not None else []
    events = step_functions_log_events(
        execution.exec_arn,
        history,
        level=level,
        include_execution_data=bool(configuration.get("includeExecutionData")),
    )
    if not events:
        return
    from moto.logs.models import logs_backends

    backend = logs_backends[account][region]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H-%M")
    # One stream per execution, as Step Functions writes them. Express executions may share a name, and so an ARN
    # (a cache request delivered twice starts two executions of the same name): the stream's name must not repeat.
    stream = f"states/{execution.state_machine.name}/{stamp}/{uuid.uuid4().hex}"
    backend.create_log_stream(group_name, stream)
    backend.put_log_events(group_name, stream, events)
