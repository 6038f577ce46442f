"""The local Lambda runtime: moto's Lambda invocations run the deployed handler in this process, one at a time.

moto can only run Lambda code in Docker. `LambdaRunner.install()` replaces
`moto.awslambda.models.LambdaFunction._invoke_lambda`, the one seam behind Invoke, Step Functions tasks,
SNS -> Lambda and Logs subscription -> Lambda, with a runner that:

- unpacks the function's deployed zip (from moto) once per code hash and imports the handler from there, in a
  *sandbox* of its own: every function keeps its own copy of the `functions` package (module globals, cold
  start, telemetry provider), as separate Lambda sandboxes would. Third-party packages (the layer's) are the
  project environment's, shared.
- runs it with the function's environment variables plus the ones the Lambda runtime sets, and a context
  object whose remaining time honours the configured timeout;
- writes what the handler printed or logged, between START/END/REPORT lines, to the function's log group
  (its `loggingConfig.logGroup`, else `/aws/lambda/<name>`), which fires the log group's subscriptions;
- answers failures in Lambda's error shape (`errorType`, `errorMessage`, `stackTrace`), so Step Functions
  Retry/Catch match the real error name.

`os.environ`, `sys.modules` and the output streams are process-wide, so invocations are serialised by one
lock, except that an invocation waiting for a synchronous Step Functions execution (the trigger) lends its turn
to one invocation of another function at a time meanwhile (the steps), which it could not go on without; an
invocation's output is captured by context, so the threads a handler starts write into its own log. A handler
cannot be pre-empted in a thread: one that overruns its timeout runs to the end, then its
invocation is reported as `Sandbox.Timedout`, as Lambda would.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import moto

from local.aws import patched_environ
from local.fidelity import SYNC_WAITS
from local.runtime import Invocation, lambda_environment, patched_invoke, save_logs, unpack_code

# The runner replaces a private moto method: pin the version it was written and tested against.
SUPPORTED_MOTO_VERSION = "5.2.5"
SANDBOXED_PACKAGE = "functions"
MAX_INVOCATIONS_KEPT = 1000
# How long an invocation waits for the lock before it looks for a turn a synchronous execution lends.
_TURN_POLL_SECONDS = 0.05
# What the Lambda Python runtime's log handler writes (the `Text` log format).
_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
# The Lambda runtime passes the environment of its own; credentials come from the function's role.
_RUNTIME_ENV_PREFIXES = ("WIKIROAM_", "OTEL_", "AWS_LAMBDA_", "_HANDLER", "LAMBDA_")

logger = logging.getLogger(__name__)


@dataclass
class _Sandbox:
    modules: dict[str, ModuleType] = field(default_factory=dict)
    code_sha: str = ""
    started: bool = False


class LambdaContext:
    """The context object a Python handler receives."""

    def __init__(self, function: Any, request_id: str, log_stream_name: str, log_group_name: str) -> None:
        self.function_name: str = function.function_name
        self.function_version: str = str(function.version)
        self.invoked_function_arn: str = function.function_arn
        self.memory_limit_in_mb: int = int(function.memory_size)
        self.aws_request_id = request_id
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(function.timeout)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _Capture:
    """Collects what an invocation writes while it runs: its thread's, and the threads it starts in its context."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()


# The invocation whose output this context's writes belong to. A context variable, not the thread: the threads a
# handler starts with its context (the trigger's lanes) write into its log too, as in a Lambda sandbox.
_CAPTURE: ContextVar[_Capture | None] = ContextVar("wikiroam_lambda_capture", default=None)


class _StreamRouter(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: an invocation's writes (its context's) go to its capture."""

    def __init__(self, runner: LambdaRunner, original: TextIO) -> None:
        self._runner = runner
        self.original = original

    def write(self, text: str) -> int:
        capture = self._runner._capture_for_current_thread()
        if capture is None:
            return self.original.write(text)
        return capture.buffer.write(text)

    def flush(self) -> None:
        self.original.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


class _LambdaLogHandler(logging.Handler):
    """The Lambda runtime's root log handler: an invocation's records (its context's), in the runtime's text format."""

    def __init__(self, runner: LambdaRunner) -> None:
        super().__init__(level=logging.WARNING)
        self._runner = runner

    def emit(self, record: logging.LogRecord) -> None:
        capture = self._runner._capture_for_current_thread()
        if capture is None:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{''.join(traceback.format_exception(*record.exc_info)).rstrip()}"
            line = _LOG_FORMAT % {
                "levelname": record.levelname,
                "asctime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
                "msecs": record.msecs,
                "aws_request_id": self._runner._current_request_id,
                "message": message,
            }
        except Exception:  # noqa: BLE001 (logging must never fail the invocation; this is logging's own policy)
            self.handleError(record)
            return
        capture.buffer.write(line)


class LambdaRunner:
    """Runs moto's Lambda functions in this process. Use `install()` as a context manager."""

    def __init__(self, *, endpoint_url: str, work_dir: Path | None = None) -> None:
        if moto.__version__ != SUPPORTED_MOTO_VERSION:
            raise RuntimeError(
                f"the local Lambda runner patches moto {SUPPORTED_MOTO_VERSION} internals, found moto "
                f"{moto.__version__}: install the version requirements/runtime.txt pins (make dev does)"
            )
        self._endpoint_url = endpoint_url
        self._own_work_dir = work_dir is None
        self._work_dir = work_dir or Path(tempfile.mkdtemp(prefix="wikiroam-lambda-"))
        self._lock = threading.RLock()
        self._sandboxes: dict[str, _Sandbox] = {}
        self._log_groups: dict[str, str] = {}
        self._current_request_id = ""
        # The function whose invocation holds the lock (a borrowed turn never goes to the same function).
        self._holder: str | None = None
        self._running: tuple[str, float] | None = None
        # The latest invocations, for tests and the local views; bounded, as a long `make dev` makes many.
        self.invocations: deque[Invocation] = deque(maxlen=MAX_INVOCATIONS_KEPT)

    def set_log_group(self, function_name: str, log_group_name: str) -> None:
        """Where a function's logs go: Lambda's `loggingConfig.logGroup` (moto does not keep it)."""
        self._log_groups[function_name] = log_group_name

    @contextmanager
    def install(self) -> Iterator[LambdaRunner]:
        """Patch moto's Lambda invocation and add the runtime's log handler; undo both on exit."""
        log_handler = _LambdaLogHandler(self)
        logging.getLogger().addHandler(log_handler)
        try:
            with patched_invoke(self.invoke):
                yield self
        finally:
            logging.getLogger().removeHandler(log_handler)
            if self._own_work_dir:
                shutil.rmtree(self._work_dir, ignore_errors=True)

    def invoke(self, function: Any, event: Any) -> tuple[str, bool, str]:
        """moto's `_invoke_lambda` contract: (payload, errored, log tail)."""
        if isinstance(event, (str, bytes)):
            event = json.loads(event or "{}")
        request_id = str(uuid.uuid4())
        log_group = self._log_groups.get(function.function_name, f"/aws/lambda/{function.function_name}")
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[{function.version}]{secrets.token_hex(16)}"
        with self._turn(function.function_name):
            invocation = self._run(function, event, request_id, log_group, stream)
        save_logs(function, log_group, stream, invocation.log_lines)
        self.invocations.append(invocation)
        return invocation.payload, invocation.errored, "\n".join(invocation.log_lines)

    @contextmanager
    def _turn(self, function_name: str) -> Iterator[None]:
        """The runner's lock; or, while the invocation holding it waits for a synchronous execution (the trigger),
        a turn borrowed from it (`local.fidelity.SYNC_WAITS`) by another function's invocation: that execution's
        steps must run for it to go on."""
        while True:
            if self._lock.acquire(timeout=_TURN_POLL_SECONDS):
                outer, self._holder = self._holder, function_name
                try:
                    yield
                finally:
                    self._holder = outer
                    self._lock.release()
                return
            if function_name != self._holder and SYNC_WAITS.try_borrow():
                try:
                    yield
                finally:
                    SYNC_WAITS.give_back()
                return

    def _run(self, function: Any, event: Any, request_id: str, log_group: str, stream: str) -> Invocation:
        sandbox = self._sandboxes.setdefault(function.function_arn, _Sandbox())
        code_dir = unpack_code(self._work_dir, function)
        if sandbox.code_sha != function.code_sha_256:
            # New code (first invocation or an update): a new sandbox, a cold start.
            sandbox.modules.clear()
            sandbox.code_sha = function.code_sha_256
            sandbox.started = False
        cold_start = not sandbox.started
        context = LambdaContext(function, request_id, stream, log_group)
        capture = _Capture()
        started = time.monotonic()
        outer = self._current_request_id
        with (
            self._environment(function, log_group, stream),
            self._sandbox(sandbox, code_dir),
            self._routed_streams(),
        ):
            self._current_request_id = request_id
            self._running = (function.function_name, started)
            token = _CAPTURE.set(capture)
            try:
                payload, errored = self._call_handler(function, event, context, request_id)
            finally:
                _CAPTURE.reset(token)
                self._current_request_id = outer
                self._running = None
        sandbox.started = True
        duration_ms = (time.monotonic() - started) * 1000
        timeout_ms = float(function.timeout) * 1000
        if duration_ms > timeout_ms:
            message = f"RequestId: {request_id} Error: Task timed out after {float(function.timeout):.2f} seconds"
            payload = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message})
            errored = True
            capture.buffer.write(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ} {message}\n")
        lines = [f"START RequestId: {request_id} Version: {function.version}"]
        lines += capture.buffer.getvalue().splitlines()
        lines.append(f"END RequestId: {request_id}")
        lines.append(
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, round(duration_ms))} ms\tMemory Size: {function.memory_size} MB"
        )
        return Invocation(
            function_name=function.function_name,
            request_id=request_id,
            event=event,
            payload=payload,
            errored=errored,
            log_lines=lines,
            duration_ms=duration_ms,
            cold_start=cold_start,
        )

    def _call_handler(self, function: Any, event: Any, context: LambdaContext, request_id: str) -> tuple[str, bool]:
        module_name, _, attribute = str(function.handler).rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # noqa: BLE001 (Lambda reports any import failure as this error type)
            print(f"[ERROR] Runtime.ImportModuleError: Unable to import module '{module_name}': {error}")
            return _error_payload(
                request_id, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
            ), True
        entry = getattr(module, attribute, None)
        if not callable(entry):
            message = f"Handler '{attribute}' missing on module '{module_name}'"
            print(f"[ERROR] Runtime.HandlerNotFound: {message}")
            return _error_payload(request_id, "Runtime.HandlerNotFound", message), True
        try:
            result = entry(event, context)
        except Exception as error:  # noqa: BLE001 (a handler's exception is the invocation's result, as in Lambda)
            stack = traceback.format_exception(error)
            print(f"[ERROR] {type(error).__name__}: {error}\n{''.join(stack).rstrip()}")
            return _error_payload(
                request_id, type(error).__name__, str(error), traceback.format_tb(error.__traceback__)
            ), True
        try:
            return json.dumps(result), False
        except (TypeError, ValueError) as error:
            message = f"Unable to marshal response: {error}"
            print(f"[ERROR] Runtime.MarshalError: {message}")
            return _error_payload(request_id, "Runtime.MarshalError", message), True

    @contextmanager
    def _environment(self, function: Any, log_group: str, stream: str) -> Iterator[None]:
        wanted = lambda_environment(function, self._endpoint_url, log_group, stream)
        # Only the keys the function's environment decides are touched (set, or removed when they are the
        # runtime's kind and not the function's), and only they are put back: other threads of this process
        # (a test runner, the local stack) keep writing theirs meanwhile.
        unwanted = [key for key in os.environ if key.startswith(_RUNTIME_ENV_PREFIXES)]
        with patched_environ(wanted, remove=unwanted):
            yield

    @contextmanager
    def _sandbox(self, sandbox: _Sandbox, code_dir: Path) -> Iterator[None]:
        host = {name: module for name, module in sys.modules.items() if _sandboxed(name)}
        for name in host:
            del sys.modules[name]
        sys.modules.update(sandbox.modules)
        # Only the top-level package is found through sys.path; its submodules through the package's __path__.
        sys.path.insert(0, str(code_dir))
        try:
            yield
        finally:
            sys.path.remove(str(code_dir))
            sandbox.modules = {name: module for name, module in sys.modules.items() if _sandboxed(name)}
            for name in sandbox.modules:
                del sys.modules[name]
            sys.modules.update(host)

    @contextmanager
    def _routed_streams(self) -> Iterator[None]:
        # Swapped per invocation, not once: test runners and other tools replace sys.stdout between their steps.
        saved = sys.stdout, sys.stderr
        routers = _StreamRouter(self, saved[0]), _StreamRouter(self, saved[1])
        sys.stdout, sys.stderr = routers
        try:
            yield
        finally:
            # Put back only what is still ours: had another thread replaced a stream meanwhile, its choice stands.
            if sys.stdout is routers[0]:
                sys.stdout = saved[0]
            if sys.stderr is routers[1]:
                sys.stderr = saved[1]

    def stats(self) -> dict[str, dict[str, int]]:
        """Per function name, from the invocations kept: invocations, cold starts, errors and timeouts."""
        counts: dict[str, dict[str, int]] = {}
        for invocation in self.invocations:
            entry = counts.setdefault(
                invocation.function_name, {"invocations": 0, "cold_starts": 0, "errors": 0, "timeouts": 0}
            )
            entry["invocations"] += 1
            entry["cold_starts"] += invocation.cold_start
            entry["errors"] += invocation.errored
            entry["timeouts"] += '"Sandbox.Timedout"' in invocation.payload
        return counts

    def describe(self) -> str:
        """What the runner is doing now, for diagnostics: the function running and for how long, or idle."""
        running = self._running
        if running is None:
            return "idle"
        return f"running {running[0]} for {time.monotonic() - running[1]:.1f} s"

    def capturing(self) -> bool:
        """Whether the current thread is running a handler (its log records belong to the function's logs)."""
        return self._capture_for_current_thread() is not None

    def _capture_for_current_thread(self) -> _Capture | None:
        return _CAPTURE.get()


def _sandboxed(module_name: str) -> bool:
    return module_name == SANDBOXED_PACKAGE or module_name.startswith(f"{SANDBOXED_PACKAGE}.")


def _error_payload(request_id: str, error_type: str, message: str, stack: list[str] | None = None) -> str:
    body: dict[str, Any] = {"errorMessage": message, "errorType": error_type, "requestId": request_id}
    if stack is not None:
        body["stackTrace"] = stack
    return json.dumps(body)
