"""One Lambda execution environment: a process that imports a function's deployed handler and runs invocations.

`local.runtime` starts it (from a fork server that has already imported the layer's third-party packages, so a
sandbox starts in a fraction of a second on a laptop) and talks to it over a pipe:

1. the sandbox receives its `SandboxSpec` (the unpacked code, the handler, the environment, the memory size),
   takes the function's environment as its whole `os.environ`, imports the handler (the init phase) and answers
   `{"init_ms": ..., "init_error": ...}`;
2. then, per invocation, it receives `{"request_id", "event", "deadline", ...}` and answers with the payload,
   whether it is an error, what the handler printed and logged (Lambda's text log format), the duration and the
   process's peak memory.

Its memory is limited to the function's memory size on top of what the init phase left in use, where the OS
allows: an invocation that exhausts it ends the sandbox with `Runtime.OutOfMemory`. A handler that exits the
process, or a crash, ends it too; the runtime sees the pipe close and reports `Runtime.ExitError`.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

# What the Lambda Python runtime's log handler writes (the `Text` log format).
LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
SANDBOXED_PACKAGE = "functions"


@dataclass(frozen=True)
class SandboxSpec:
    """What a sandbox needs to start: the function's code, handler, environment and identity."""

    code_dir: str
    handler: str
    environment: Mapping[str, str]
    function_name: str
    function_version: str
    function_arn: str
    memory_mb: int
    # Added to the process's niceness before init (`local.runtime.BACKGROUND_NICENESS` for the pipeline's).
    niceness: int = 0


class LambdaContext:
    """The context object a Python handler receives."""

    def __init__(self, spec: SandboxSpec, request: Mapping[str, Any]) -> None:
        self.function_name = spec.function_name
        self.function_version = spec.function_version
        self.invoked_function_arn = spec.function_arn
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id: str = request["request_id"]
        self.log_group_name: str = request["log_group"]
        self.log_stream_name: str = request["log_stream"]
        self.identity = None
        self.client_context = None
        self._deadline: float = request["deadline"]

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout."""
        return max(0, int((self._deadline - time.time()) * 1000))


class _LambdaLogHandler(logging.Handler):
    """The runtime's root log handler: warnings and above, in Lambda's text format, into the invocation's log."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.request_id = ""
        self.output: io.StringIO | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.output is None:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{''.join(traceback.format_exception(*record.exc_info)).rstrip()}"
            self.output.write(
                LOG_FORMAT
                % {
                    "levelname": record.levelname,
                    "asctime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
                    "msecs": record.msecs,
                    "aws_request_id": self.request_id,
                    "message": message,
                }
            )
        except Exception:  # noqa: BLE001 (logging must never fail the invocation; this is logging's own policy)
            self.handleError(record)


def error_payload(request_id: str, error_type: str, message: str, stack: list[str] | None = None) -> str:
    """A failed invocation's payload in Lambda's shape (`errorType`, `errorMessage`, `stackTrace`)."""
    body: dict[str, Any] = {"errorMessage": message, "errorType": error_type, "requestId": request_id}
    if stack is not None:
        body["stackTrace"] = stack
    return json.dumps(body)


def serve(connection: Connection, spec: SandboxSpec) -> None:
    """The sandbox's life: init, then one invocation per request until the pipe closes."""
    # Ctrl-C in `make dev`'s terminal reaches the whole process group: the runtime stops its sandboxes itself,
    # after the work in flight, as Lambda would.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spec.niceness:
        os.nice(spec.niceness)
    os.environ.clear()
    os.environ.update(spec.environment)
    # The deployed code first: a `functions` package the fork server may know is not this function's.
    for name in [n for n in sys.modules if n == SANDBOXED_PACKAGE or n.startswith(f"{SANDBOXED_PACKAGE}.")]:
        del sys.modules[name]
    sys.path.insert(0, spec.code_dir)
    log_handler = _LambdaLogHandler()
    logging.getLogger().addHandler(log_handler)
    started = time.perf_counter()
    entry, init_error = _load(spec.handler)
    init_ms = (time.perf_counter() - started) * 1000
    _limit_memory(spec.memory_mb)
    connection.send({"init_ms": init_ms, "init_error": init_error})
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        connection.send(_invoke(spec, entry, init_error, request, log_handler))


def _load(handler: str) -> tuple[Callable[..., Any] | None, tuple[str, str] | None]:
    module_name, _, attribute = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 (Lambda reports any import failure as this error type)
        return None, ("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}")
    entry = getattr(module, attribute, None)
    if not callable(entry):
        return None, ("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'")
    return entry, None


def _limit_memory(memory_mb: int) -> None:
    # The function's memory size on top of what init left mapped: Lambda counts the whole process, but a laptop's
    # Python maps more address space than it uses, so the init footprint is the baseline.
    try:
        with open("/proc/self/statm") as statm:
            mapped = int(statm.read().split()[0]) * resource.getpagesize()
        limit = mapped + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    except (OSError, ValueError):
        return  # no /proc or no rlimit here: the sandbox runs without a memory limit


def _invoke(
    spec: SandboxSpec,
    entry: Callable[..., Any] | None,
    init_error: tuple[str, str] | None,
    request: Mapping[str, Any],
    log_handler: _LambdaLogHandler,
) -> dict[str, Any]:
    request_id = request["request_id"]
    output = io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = output
    log_handler.request_id, log_handler.output = request_id, output
    started = time.perf_counter()
    fatal = None
    try:
        if entry is None:
            assert init_error is not None
            print(f"[ERROR] {init_error[0]}: {init_error[1]}")
            payload, errored = error_payload(request_id, *init_error), True
        else:
            payload, errored, fatal = _call(entry, request["event"], LambdaContext(spec, request), request_id)
    finally:
        sys.stdout, sys.stderr = saved
        log_handler.output = None
    return {
        "payload": payload,
        "errored": errored,
        "fatal": fatal,
        "output": output.getvalue(),
        "duration_ms": (time.perf_counter() - started) * 1000,
        "max_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def _call(
    entry: Callable[..., Any], event: Any, context: LambdaContext, request_id: str
) -> tuple[str, bool, str | None]:
    try:
        result = entry(event, context)
    except MemoryError:
        # Lambda stops an environment that runs out of memory: so does the runtime, after this answer.
        message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
        print(f"[ERROR] Runtime.OutOfMemory: {message}")
        return error_payload(request_id, "Runtime.OutOfMemory", message), True, "Runtime.OutOfMemory"
    except Exception as error:  # noqa: BLE001 (a handler's exception is the invocation's result, as in Lambda)
        stack = traceback.format_exception(error)
        print(f"[ERROR] {type(error).__name__}: {error}\n{''.join(stack).rstrip()}")
        return (
            error_payload(request_id, type(error).__name__, str(error), traceback.format_tb(error.__traceback__)),
            True,
            None,
        )
    try:
        return json.dumps(result), False, None
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        print(f"[ERROR] Runtime.MarshalError: {message}")
        return error_payload(request_id, "Runtime.MarshalError", message), True, None
