"""The Pulumi program run under mocks: the local deployer and the infra tests share this harness.

`stack_config` gives the config the Pulumi CLI would hand the program; `run_program_under_mocks` runs
`__main__.py` on a thread, event loop and executor of its own, so nothing of Pulumi's machinery outlives a run.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pulumi
import yaml  # type: ignore[import-untyped]
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT_DIR = Path(__file__).resolve().parents[1]
_DEPLOY_THREAD = "wikiroam-deploy"


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The config the Pulumi CLI hands the program: Pulumi.yaml defaults, then the stack file, then overrides."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {}
    for key, spec in (project.get("config") or {}).items():
        full_key = key if ":" in key else f"{project['name']}:{key}"
        if isinstance(spec, dict):
            if "default" in spec:
                values[full_key] = spec["default"]
            elif "value" in spec:
                values[full_key] = spec["value"]
        else:
            values[full_key] = spec
    stack_file = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise FileNotFoundError(f"no stack file {stack_file.name}: pick one of the Pulumi.<stack>.yaml files")
    values.update((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {})
    values.update(overrides or {})
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


class ThreadLoopMonitor(MockMonitor):
    """Pulumi's mock monitor, owning the event loops its calls need on the executor's threads.

    MockMonitor makes an event loop on every thread it is called on and never closes it; these loops are
    made here instead, and closed by `close()` once the program has run.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._loops_lock = threading.Lock()

    def _thread_loop(self) -> None:
        # The program's own thread has its loop; the executor's threads get one each, closed afterwards.
        if getattr(self._local, "loop", None) is None and threading.current_thread().name != _DEPLOY_THREAD:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._local.loop = loop
            with self._loops_lock:
                self._loops.append(loop)

    def RegisterResource(self, request: Any) -> Any:
        self._thread_loop()
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]

    def Invoke(self, request: Any) -> Any:
        self._thread_loop()
        return super().Invoke(request)  # type: ignore[no-untyped-call]

    def ReadResource(self, request: Any) -> Any:
        self._thread_loop()
        return super().ReadResource(request)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Close the loops made for the executor's threads."""
        with self._loops_lock:
            for loop in self._loops:
                loop.close()
            self._loops.clear()


def run_program_under_mocks(
    *,
    stack: str,
    config: Mapping[str, str],
    mocks: pulumi.runtime.Mocks,
    monitor: ThreadLoopMonitor,
    project_dir: Path = PROJECT_DIR,
) -> dict[str, Any]:
    """Run `__main__.py` under `mocks` on a thread, event loop and executor of its own; return its outputs.

    Nothing of Pulumi's machinery (threads, event loops) outlives the run or touches the caller's event loop.
    """
    outputs: dict[str, Any] = {}

    def program() -> None:
        runpy.run_path(str(project_dir / "__main__.py"))
        root = pulumi.runtime.get_root_resource()
        exported = pulumi.Output.all(**root.outputs)  # type: ignore[union-attr]
        outputs.update(_sync_await(exported.future()) or {})  # type: ignore[arg-type]

    failure: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        executor = ThreadPoolExecutor(thread_name_prefix=f"{_DEPLOY_THREAD}-rpc")
        loop.set_default_executor(executor)
        try:
            # Pulumi's settings hold futures of the loop they were made on: make them on this one.
            set_root_resource(None)  # type: ignore[arg-type]  # a fresh stack resource per run
            pulumi.runtime.set_mocks(mocks, project="wikiroam", stack=stack, preview=False, monitor=monitor)
            pulumi.runtime.set_all_config(dict(config))
            _sync_await(run_pulumi_func(program))
        except BaseException as error:  # noqa: BLE001 (handed to the calling thread, which re-raises it)
            failure.append(error)
        finally:
            executor.shutdown(wait=True)
            monitor.close()
            loop.close()
            asyncio.set_event_loop(None)

    cwd = Path.cwd()
    os.chdir(project_dir)  # Pulumi runs the program in the project directory
    worker = threading.Thread(target=run, name=_DEPLOY_THREAD)
    try:
        worker.start()
        worker.join()
    finally:
        os.chdir(cwd)
    if failure:
        raise failure[0]
    return outputs
