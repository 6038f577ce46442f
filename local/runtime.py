"""The local Lambda runtime: one worker process per execution environment, reused while warm, as in Lambda.

moto can only run Lambda code in Docker. `ProcessRuntime.install()` replaces
`moto.awslambda.models.LambdaFunction._invoke_lambda`, the one seam behind Invoke, Step Functions tasks,
SNS -> Lambda and Logs subscription -> Lambda, with a runtime that:

- runs each invocation in a *sandbox*, a process of its own started from the function's deployed zip (unpacked
  once per code hash) with exactly the function's environment (`local.sandbox_worker`); a warm sandbox serves the
  next invocation, a new one is a cold start (`Init Duration` in the REPORT line, `faas.coldstart` on the span);
- runs a function's invocations concurrently, up to its reserved concurrency (or the account's limit,
  `WIKIROAM_LAMBDA_CONCURRENCY`), and throttles beyond it with Lambda's `TooManyRequestsException` (HTTP 429),
  which Step Functions' Retry and SNS's retries act on as in AWS;
- stops a sandbox that overruns its timeout (`Sandbox.Timedout`, "Task timed out after N seconds"), that runs out
  of memory (`Runtime.OutOfMemory`) or whose process exits (`Runtime.ExitError`), and starts a fresh one next time;
- writes START, the handler's output, END and REPORT to the function's log group, which fires its subscriptions;
- reaps sandboxes idle for a while, and stops them all when the local stack stops.

Third-party packages come from the project's environment, imported once by the fork server the sandboxes are
forked from (the layer's packages, in AWS). The sandboxes never import the program's main module; still, like any
`multiprocessing` program, a script that starts the local stack must do so under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import base64
import compileall
import io
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import spawn
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import moto
from moto.core.exceptions import JsonRESTError

from local.aws import FAKE_CREDENTIALS, REGION
from local.sandbox_worker import SandboxSpec, error_payload, serve

# The runtime replaces a private moto method: pin the version it was written and tested against.
SUPPORTED_MOTO_VERSION = "5.2.5"
MAX_INVOCATIONS_KEPT = 1000
ACCOUNT_CONCURRENCY_VARIABLE = "WIKIROAM_LAMBDA_CONCURRENCY"
# AWS's default account quota is 1,000; a laptop runs out of memory well before that many Python processes.
DEFAULT_ACCOUNT_CONCURRENCY = 200
IDLE_SANDBOX_SECONDS = 300.0
# Sandboxes starting at once: Lambda starts each on a CPU of its own, a laptop has a few. Cold starts beyond these
# wait for a start slot (the wait is not the function's time: Lambda's init phase is outside its timeout too).
START_SLOTS_VARIABLE = "WIKIROAM_LAMBDA_START_SLOTS"
# The niceness of the sandboxes of functions no reader waits on (the pipeline, the shipper): in a burst, the api's
# sandboxes get the machine's CPU first, as each gets its own in Lambda; the pipeline catches up after.
BACKGROUND_NICENESS = 10
_SANDBOX_PROCESS_PREFIX = "lambda-"
INIT_TIMEOUT_SECONDS = 60.0
# The third-party packages the functions import, loaded once in the fork server (the layer, in AWS).
_PRELOAD = ("boto3", "botocore.session", "requests", "opentelemetry.sdk.trace", "opentelemetry.propagate")
# Lambda's own environment, beside the function's variables (credentials: the local AWS's, for the role's).
_BASE_ENVIRONMENT = {"PATH": os.defpath, "LANG": "en_US.UTF-8", "TZ": ":UTC", "PYTHONDONTWRITEBYTECODE": "1"}

logger = logging.getLogger(__name__)


class TooManyRequestsException(JsonRESTError):
    """Lambda's throttle: the function is at its concurrency limit (HTTP 429, as the Invoke API answers)."""

    code = 429

    def __init__(self, function_name: str) -> None:
        super().__init__("TooManyRequestsException", f"Rate Exceeded. {function_name} is at its concurrency limit")


@dataclass
class Invocation:
    """One finished invocation, as the runtime saw it."""

    function_name: str
    request_id: str
    event: Any
    payload: str
    errored: bool
    log_lines: list[str]
    duration_ms: float
    cold_start: bool
    error_type: str | None = None


@dataclass
class FunctionStats:
    """Per function: what the Datadog monitors would count as `aws.lambda.*`, and the sandboxes now."""

    invocations: int = 0
    cold_starts: int = 0
    errors: int = 0
    throttles: int = 0
    timeouts: int = 0
    warm: int = 0
    busy: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts, for `GET /api/local/lambda`."""
        return dict(self.__dict__)


class _Overran(Exception):
    """The invocation (or the sandbox's init) ran past the function's timeout."""


@dataclass(frozen=True)
class _Where:
    """One invocation's request id and the log stream its lines go to."""

    request_id: str
    log_group: str
    log_stream: str


class _Sandbox:
    """A worker process serving one function's code, and the pipe to it."""

    def __init__(self, process: BaseProcess, connection: Connection, code_sha: str) -> None:
        self.process = process
        self.connection = connection
        self.code_sha = code_sha
        self.init_ms: float | None = None
        self.idle_since = time.monotonic()

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> None:
        """End the process (a kill: Lambda freezes, then discards, environments without asking them)."""
        self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


@dataclass
class _Pool:
    idle: list[_Sandbox] = field(default_factory=list)
    stats: FunctionStats = field(default_factory=FunctionStats)
    # Reserved concurrency is the function's own; unreserved functions share what the account has left.
    reserved: int | None = None


class ProcessRuntime:
    """Runs moto's Lambda functions in worker processes. Use `install()` as a context manager."""

    # `WIKIROAM_FAULTS`' draw for `lambda_error` and `lambda_timeout` (`local.faults.FaultRates.should_inject`).
    fault_chance: Callable[[str, str], bool] | None = None

    def __init__(
        self,
        *,
        endpoint_url: str,
        work_dir: Path | None = None,
        account_concurrency: int | None = None,
        idle_seconds: float = IDLE_SANDBOX_SECONDS,
    ) -> None:
        if moto.__version__ != SUPPORTED_MOTO_VERSION:
            raise RuntimeError(
                f"the local Lambda runtime patches moto {SUPPORTED_MOTO_VERSION} internals, found moto "
                f"{moto.__version__}: install the version requirements/runtime.txt pins (make dev does)"
            )
        self._endpoint_url = endpoint_url
        self._own_work_dir = work_dir is None
        self._work_dir = work_dir or Path(tempfile.mkdtemp(prefix="wikiroam-lambda-"))
        self.account_concurrency = account_concurrency or account_concurrency_from(os.environ)
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._pools: dict[str, _Pool] = {}
        self._log_groups: dict[str, str] = {}
        self._foreground: set[str] = set()
        self._start_slots = threading.BoundedSemaphore(start_slots_from(os.environ))
        self._context: ForkServerContext | None = None
        self._stopping = threading.Event()
        self._reaper: threading.Thread | None = None
        # The latest invocations, for tests and the local views; bounded, as a long `make dev` makes many.
        self.invocations: deque[Invocation] = deque(maxlen=MAX_INVOCATIONS_KEPT)

    def set_log_group(self, function_name: str, log_group_name: str) -> None:
        """Where a function's logs go: Lambda's `loggingConfig.logGroup` (moto does not keep it)."""
        self._log_groups[function_name] = log_group_name

    def set_foreground(self, function_name: str) -> None:
        """A function a reader waits on (an API route's): its sandboxes run at normal priority, the others' below."""
        self._foreground.add(function_name)

    @contextmanager
    def install(self) -> Iterator[ProcessRuntime]:
        """Patch moto's Lambda invocation and start the fork server; on exit, stop every sandbox and undo both."""
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(_PRELOAD))
        self._context = context
        self._reaper = threading.Thread(target=self._reap, name="wikiroam-lambda-reaper", daemon=True)
        self._reaper.start()
        try:
            with patched_invoke(self.invoke), _sandboxes_without_main():
                yield self
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop every sandbox and the reaper; no process is left behind."""
        self._stopping.set()
        with self._lock:
            sandboxes = [sandbox for pool in self._pools.values() for sandbox in pool.idle]
            for pool in self._pools.values():
                pool.idle.clear()
                pool.stats.warm = 0
        for sandbox in sandboxes:
            sandbox.stop()
        if self._reaper is not None:
            self._reaper.join(timeout=5)
        for child in multiprocessing.active_children():
            child.kill()
            child.join(timeout=5)
        if self._own_work_dir:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per function name: invocations, cold starts, errors, throttles, timeouts, sandboxes warm and busy."""
        with self._lock:
            return {name: pool.stats.as_dict() for name, pool in sorted(self._pools.items())}

    def describe(self) -> str:
        """What the runtime is doing now, for diagnostics: the busy sandboxes per function, or idle."""
        busy = {name: s["busy"] for name, s in self.stats().items() if s["busy"]}
        return ", ".join(f"{name}: {count} busy" for name, count in busy.items()) or "idle"

    def capturing(self) -> bool:
        """Whether this thread is running a handler: never, handlers run in their own processes."""
        return False

    # --- one invocation

    def invoke(self, function: Any, event: Any) -> tuple[str, bool, str]:
        """moto's `_invoke_lambda` contract: (payload, errored, log tail); a throttle raises Lambda's 429."""
        if isinstance(event, (str, bytes)):
            event = json.loads(event or "{}")
        name = function.function_name
        sandbox = self._acquire(function)
        where = _Where(
            request_id=str(uuid.uuid4()),
            log_group=self._log_groups.get(name, f"/aws/lambda/{name}"),
            log_stream=f"{datetime.now(UTC):%Y/%m/%d}/[{function.version}]{secrets.token_hex(16)}",
        )
        chance = self.fault_chance
        # The function's name: a fault scoped to some functions (`lambda_timeout@cache`) is drawn only for them.
        fault = next((f for f in ("lambda_error", "lambda_timeout") if chance is not None and chance(f, name)), None)
        try:
            invocation, warm = self._run(function, sandbox, event, where, fault)
        except BaseException:
            # An invocation the runtime itself failed (not the handler): free its slot, or the function would stay
            # throttled for good.
            with self._lock:
                self._pools[name].stats.busy -= 1
            if sandbox is not None:
                sandbox.stop()
            raise
        self._release(name, warm, invocation)
        save_logs(function, where.log_group, where.log_stream, invocation.log_lines)
        self.invocations.append(invocation)
        return invocation.payload, invocation.errored, "\n".join(invocation.log_lines)

    def _acquire(self, function: Any) -> _Sandbox | None:
        """A warm sandbox of the function's current code, None for a cold start, or a throttle."""
        name = function.function_name
        reserved = getattr(function, "reserved_concurrency", None)
        if self._stopping.is_set():
            # Stopping: what is still running drains, nothing new starts (a state machine's Retry waits it out).
            raise TooManyRequestsException(name)
        with self._lock:
            pool = self._pools.setdefault(name, _Pool())
            pool.reserved = int(reserved) if reserved not in (None, "") else None
            if pool.reserved is not None:
                limit = pool.reserved
            else:
                reserved_total = sum(p.reserved or 0 for p in self._pools.values())
                others = sum(p.stats.busy for p in self._pools.values() if p.reserved is None and p is not pool)
                limit = self.account_concurrency - reserved_total - others
            if pool.stats.busy >= limit:
                pool.stats.throttles += 1
                raise TooManyRequestsException(name)
            pool.stats.busy += 1
            while pool.idle:
                sandbox = pool.idle.pop()
                pool.stats.warm -= 1
                if sandbox.code_sha == function.code_sha_256 and sandbox.alive():
                    return sandbox
                threading.Thread(target=sandbox.stop, daemon=True).start()
        return None

    def _release(self, name: str, sandbox: _Sandbox | None, invocation: Invocation) -> None:
        stop = False
        with self._lock:
            pool = self._pools[name]
            pool.stats.busy -= 1
            pool.stats.invocations += 1
            pool.stats.cold_starts += invocation.cold_start
            pool.stats.errors += invocation.errored
            pool.stats.timeouts += invocation.error_type == "Sandbox.Timedout"
            if sandbox is not None:
                if self._stopping.is_set():
                    stop = True
                else:
                    sandbox.idle_since = time.monotonic()
                    pool.idle.append(sandbox)
                    pool.stats.warm += 1
        if stop and sandbox is not None:
            sandbox.stop()

    def _start(self, function: Any, where: _Where) -> _Sandbox:
        assert self._context is not None, "install() the runtime before invoking"
        spec = SandboxSpec(
            code_dir=str(self._unpack(function)),
            handler=str(function.handler),
            environment=self._environment(function, where.log_group, where.log_stream),
            function_name=function.function_name,
            function_version=str(function.version),
            function_arn=function.function_arn,
            memory_mb=int(function.memory_size),
            niceness=0 if function.function_name in self._foreground else BACKGROUND_NICENESS,
        )
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=serve, args=(child, spec), name=f"{_SANDBOX_PROCESS_PREFIX}{function.function_name}", daemon=True
        )
        process.start()
        child.close()
        return _Sandbox(process, parent, function.code_sha_256)

    def _run(
        self, function: Any, sandbox: _Sandbox | None, event: Any, where: _Where, fault: str | None = None
    ) -> tuple[Invocation, _Sandbox | None]:
        """One invocation in `sandbox` (None: a cold start), and the sandbox if it may serve the next one.

        `fault` injects one: `lambda_timeout` hangs until the timeout (then the timeout path, as for a real one),
        `lambda_error` fails before the handler runs, with an unhandled error the sandbox survives.
        """
        timeout = float(function.timeout)
        started = time.monotonic()
        cold = sandbox is None
        result: dict[str, Any] | None = None
        error_type: str | None
        try:
            if fault == "lambda_timeout":
                self._hang(timeout)
            if fault == "lambda_error":
                result = _injected_error(where.request_id)
            else:
                if sandbox is None:
                    with self._start_slots:
                        sandbox = self._start(function, where)
                        self._await_init(sandbox)
                    started = time.monotonic()
                result = self._exchange(sandbox, event, where, timeout=timeout, started=started)
        except _Overran:
            error_type = "Sandbox.Timedout"
            message = f"RequestId: {where.request_id} Error: Task timed out after {timeout:.2f} seconds"
            payload = json.dumps({"errorType": error_type, "errorMessage": message})
            output = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ} {message}\n"
            report = "\tStatus: timeout"
        except (EOFError, OSError):
            assert sandbox is not None
            sandbox.process.join(timeout=5)
            error_type = "Runtime.ExitError"
            message = f"RequestId: {where.request_id} Error: Runtime exited with error: exit status "
            message += str(sandbox.process.exitcode)
            payload = error_payload(where.request_id, error_type, message)
            output = f"{message}\n"
            report = "\tStatus: error\tError Type: Runtime.ExitError"
        duration_ms = (time.monotonic() - started) * 1000
        if result is not None:
            payload, output = result["payload"], result["output"]
            duration_ms = float(result["duration_ms"])
            error_type = result["fatal"] or (json.loads(payload).get("errorType") if result["errored"] else None)
            report = f"\tMax Memory Used: {result['max_memory_mb']} MB"
            if result["fatal"]:
                report += f"\tStatus: error\tError Type: {result['fatal']}"
        reusable = result is not None and not result["fatal"] and sandbox is not None and sandbox.alive()
        if not reusable and sandbox is not None:
            sandbox.stop()
        if cold and sandbox is not None and sandbox.init_ms is not None:
            report += f"\tInit Duration: {sandbox.init_ms:.2f} ms"
        lines = [
            f"START RequestId: {where.request_id} Version: {function.version}",
            *output.splitlines(),
            f"END RequestId: {where.request_id}",
            f"REPORT RequestId: {where.request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, round(duration_ms))} ms\tMemory Size: {function.memory_size} MB{report}",
        ]
        invocation = Invocation(
            function_name=function.function_name,
            request_id=where.request_id,
            event=event,
            payload=payload,
            errored=error_type is not None,
            log_lines=lines,
            duration_ms=duration_ms,
            cold_start=cold,
            error_type=error_type,
        )
        return invocation, sandbox if reusable else None

    def _hang(self, timeout: float) -> None:
        """An invocation that never answers: wait out the function's timeout (or the stop), then overrun."""
        self._stopping.wait(timeout)
        raise _Overran

    @staticmethod
    def _await_init(sandbox: _Sandbox) -> None:
        """Wait for a new sandbox's init, which has a limit of its own, as in Lambda (generous here: a laptop)."""
        if not sandbox.connection.poll(INIT_TIMEOUT_SECONDS):
            raise _Overran
        sandbox.init_ms = float(sandbox.connection.recv()["init_ms"])

    def _exchange(
        self, sandbox: _Sandbox, event: Any, where: _Where, *, timeout: float, started: float
    ) -> dict[str, Any]:
        """Send the invocation to a ready sandbox and wait out the function's timeout."""

        def wait() -> None:
            if not sandbox.connection.poll(max(0.0, timeout - (time.monotonic() - started))):
                raise _Overran

        sandbox.connection.send(
            {
                "request_id": where.request_id,
                "event": event,
                "deadline": time.time() + timeout - (time.monotonic() - started),
                "log_group": where.log_group,
                "log_stream": where.log_stream,
            }
        )
        wait()
        answer: dict[str, Any] = sandbox.connection.recv()
        return answer

    def _unpack(self, function: Any) -> Path:
        with self._lock:
            return unpack_code(self._work_dir, function)

    def _environment(self, function: Any, log_group: str, stream: str) -> dict[str, str]:
        return {
            **_BASE_ENVIRONMENT,
            **FAKE_CREDENTIALS,
            **lambda_environment(function, self._endpoint_url, log_group, stream),
        }

    def _reap(self) -> None:
        while not self._stopping.wait(min(30.0, self._idle_seconds / 2)):
            cutoff = time.monotonic() - self._idle_seconds
            with self._lock:
                stale = [s for pool in self._pools.values() for s in pool.idle if s.idle_since < cutoff]
                for pool in self._pools.values():
                    kept = [s for s in pool.idle if s.idle_since >= cutoff]
                    pool.stats.warm -= len(pool.idle) - len(kept)
                    pool.idle[:] = kept
            for sandbox in stale:
                sandbox.stop()


INJECTED_ERROR_TYPE = "Runtime.InjectedFault"


def _injected_error(request_id: str) -> dict[str, Any]:
    """A sandbox's answer for an invocation failed by `lambda_error`: an unhandled error, as Lambda reports one."""
    message = "the invocation failed on purpose: WIKIROAM_FAULTS has lambda_error"
    return {
        "payload": error_payload(request_id, INJECTED_ERROR_TYPE, message, []),
        "output": f"[ERROR] {INJECTED_ERROR_TYPE}: {message}\n",
        "duration_ms": 0.0,
        "errored": True,
        "fatal": None,
        "max_memory_mb": 0,
    }


def start_slots_from(env: os._Environ[str] | dict[str, str]) -> int:
    """Sandboxes that may start at once (`WIKIROAM_LAMBDA_START_SLOTS`, default: twice the CPUs).

    Twice: a start also waits (the fork server, the pipe, the files), and a CPU left idle makes the burst longer.
    """
    raw = env.get(START_SLOTS_VARIABLE, "").strip()
    if not raw:
        return 2 * (os.cpu_count() or 1)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{START_SLOTS_VARIABLE} must be a positive integer, not {raw!r}")
    return int(raw)


def account_concurrency_from(env: os._Environ[str] | dict[str, str]) -> int:
    """The local account's concurrency limit (`WIKIROAM_LAMBDA_CONCURRENCY`, default 200); an error names it."""
    raw = env.get(ACCOUNT_CONCURRENCY_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_ACCOUNT_CONCURRENCY
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{ACCOUNT_CONCURRENCY_VARIABLE} must be a positive integer, not {raw!r}")
    return int(raw)


@contextmanager
def _sandboxes_without_main() -> Iterator[None]:
    """Sandboxes start without importing the program's main module.

    `multiprocessing` re-imports the parent's main module in each child it starts (unless it is a package's
    `__main__`), for targets defined there. A sandbox's target is `local.sandbox_worker.serve`: importing, in every
    cold start, the script or pytest or `python -m bench.local_stack` that started the stack (and with it moto,
    Pulumi and the whole local stack) cost more CPU than the function's own init and is nothing Lambda does.
    """
    original = spawn.get_preparation_data

    def preparation_data(name: str) -> dict[str, Any]:
        data: dict[str, Any] = original(name)
        if name.startswith(_SANDBOX_PROCESS_PREFIX):
            data.pop("init_main_from_name", None)
            data.pop("init_main_from_path", None)
        return data

    spawn.get_preparation_data = preparation_data
    try:
        yield
    finally:
        spawn.get_preparation_data = original


@contextmanager
def patched_invoke(invoke: Callable[[Any, Any], tuple[str, bool, str]]) -> Iterator[None]:
    """moto's `LambdaFunction._invoke_lambda` (behind Invoke, SNS, Step Functions and Logs) answered by `invoke`."""
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction._invoke_lambda

    def invoke_lambda(function: Any, event: Any = None) -> tuple[str, bool, str]:
        return invoke(function, event)

    LambdaFunction._invoke_lambda = invoke_lambda  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        LambdaFunction._invoke_lambda = original  # type: ignore[method-assign]


def unpack_code(work_dir: Path, function: Any) -> Path:
    """The function's deployed zip, unpacked once per code hash under `work_dir` (the function's /var/task)."""
    # Lambda's CodeSha256 (base64), computed by moto at deploy time: no need to hash the zip per invocation.
    target = work_dir / "code" / base64.b64decode(function.code_sha_256).hex()
    if not target.is_dir():
        partial = target.with_suffix(f".partial-{secrets.token_hex(4)}")
        with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
            archive.extractall(partial)
        # Bytecode once per code hash (the sandboxes never write any): a cold start imports, it does not compile,
        # as from a package that carries bytecode for its runtime's Python.
        compileall.compile_dir(partial, quiet=2, workers=1)
        partial.rename(target)
    return target


def lambda_environment(function: Any, endpoint_url: str, log_group: str, stream: str) -> dict[str, str]:
    """The variables Lambda sets for a function (its own, the runtime's), pointed at the local AWS."""
    return {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint_url,
        # The local endpoint serves StartSyncExecution too, without AWS's `sync-` host prefix (`local.aws`).
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "_HANDLER": str(function.handler),
        **{str(k): str(v) for k, v in (function.environment_vars or {}).items()},
    }


def save_logs(function: Any, log_group: str, stream: str, lines: list[str]) -> None:
    """Write an invocation's lines to its log stream (which fires the log group's subscriptions)."""
    # Called outside the runtimes' locks: a subscription on the log group may invoke another function.
    backend = function.logs_backend
    backend.ensure_log_group(log_group)
    backend.create_log_stream(log_group, stream)
    now = int(time.time() * 1000)
    backend.put_log_events(log_group, stream, [{"timestamp": now, "message": line} for line in lines])
