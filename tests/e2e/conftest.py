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
def quick_state_machine_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Step Functions Retry intervals pass four times faster (2 s, 4 s, 8 s take 0.5, 1, 2); the retries still
    happen, and a throttled step still waits for a sandbox of its function to free up."""
    make_state_machine_retries_quick(monkeypatch)


def make_state_machine_retries_quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `quick_state_machine_retries` does, for module-scoped fixtures (with `pytest.MonkeyPatch.context()`)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    class QuickTime:
        @staticmethod
        def sleep(seconds: float) -> None:
            import time

            time.sleep(seconds / 4)

        def __getattr__(self, name: str):
            import time

            return getattr(time, name)

    monkeypatch.setattr(retrier_decl, "time", QuickTime())


STACK_FIXTURES = ("local_stack", "site_stack", "mediawiki_stack")


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item):
    """Let the pipeline's work in flight finish before the test ends.

    trylast makes this the innermost wrapper: a test's checks of the tables and logs then see the pipeline's
    finished work, and the next test starts from a quiet stack.
    """
    yield
    for name in STACK_FIXTURES:
        stack = getattr(item, "funcargs", {}).get(name)
        if isinstance(stack, LocalStack):
            stack.wait_idle(120)
