"""The Lambda entry points: each parses its event, calls one piece of logic, and shapes the answer.

Each handler module has a `build(env, *, clients=None)` that wires its app from the environment (and, in tests,
from given AWS clients), and one `SandboxApp` holding the app its sandbox builds at the first invocation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

App = TypeVar("App")


class SandboxApp(Generic[App]):
    """A function's app, built from the environment at the sandbox's first invocation and reused while warm."""

    def __init__(self, build: Callable[[Mapping[str, str]], App]) -> None:
        self._build = build
        self._app: App | None = None

    def __call__(self) -> App:
        """The app, built on first use (a bad environment fails here, naming the variable)."""
        if self._app is None:
            self._app = self._build(os.environ)
        return self._app

    def reset(self) -> None:
        """Forget the app, as a new sandbox would (tests change the environment between invocations)."""
        self._app = None
