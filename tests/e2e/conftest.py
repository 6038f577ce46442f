"""The whole local stack, started once per test module (moto's backends are process-wide: one stack at a time)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack, StackOptions
from tests.integration.conftest import mediawiki  # noqa: F401 (the real MediaWiki fixture, shared with e2e)


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    """Given WikiRoam deployed on this machine: sample wiki, moto, the Lambda runner and the gateway."""
    # Asynchronous retries are seconds apart in AWS; a hundredth of that keeps the tests quick.
    with LocalStack(StackOptions(retry_delays=(0.01, 0.02))) as stack:
        yield stack


@pytest.fixture
def wiki(local_stack: LocalStack):
    """The stack's sample wiki, with no fault armed and an empty request log."""
    assert local_stack.wiki is not None
    local_stack.wiki.faults.clear()
    local_stack.wiki.reset_log()
    yield local_stack.wiki
    local_stack.wiki.faults.clear()


@pytest.fixture
def instant_state_machine_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Step Functions Retry intervals (2 s, 4 s, 8 s) pass at once; the retries themselves still happen."""
    make_state_machine_retries_instant(monkeypatch)


def make_state_machine_retries_instant(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `instant_state_machine_retries` does, for module-scoped fixtures (with `pytest.MonkeyPatch.context()`)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    class InstantTime:
        @staticmethod
        def sleep(seconds: float) -> None:
            pass

        def __getattr__(self, name: str):
            import time

            return getattr(time, name)

    monkeypatch.setattr(retrier_decl, "time", InstantTime())


STACK_FIXTURES = ("local_stack", "site_stack", "mediawiki_stack")


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item):
    """Let the pipeline's work in flight finish before the test ends.

    trylast makes this the innermost wrapper: it runs while pytest still captures the test's output. The local
    Lambda runner routes a handler's output by swapping sys.stdout, which pytest swaps too between a test's
    phases; finishing the work inside the phase keeps every handler line in its function's log group.
    """
    yield
    for name in STACK_FIXTURES:
        stack = getattr(item, "funcargs", {}).get(name)
        if isinstance(stack, LocalStack):
            stack.wait_idle(120)
