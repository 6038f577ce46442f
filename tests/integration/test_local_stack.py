"""The local stack's lifecycle: it stops without leaving threads behind, and `state_dir` keeps the tables."""

from __future__ import annotations

import threading

import pytest
import requests

from local.stack import LocalStack, StackOptions


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.is_alive()}


def test_given_a_state_dir_when_the_stack_restarts_then_cached_pages_are_still_there_and_no_thread_is_left(
    tmp_path,
):
    before = _threads()
    with LocalStack(StackOptions(state_dir=tmp_path)) as stack:
        results = requests.get(f"{stack.url}/api/search", params={"q": "rivers"}, timeout=30).json()["results"]
        pageids = [r["pageid"] for r in results]
        stack.wait_until_cached(pageids, timeout=120)
        backlinks = requests.get(f"{stack.url}/api/pages/{pageids[0]}/backlinks", timeout=30).json()
    assert _threads() <= before, f"threads left running: {_threads() - before}"
    assert (tmp_path / "dynamodb" / "wikiroam-tables-pages.json").is_file()

    with LocalStack(StackOptions(state_dir=tmp_path)) as stack:
        assert stack.wiki is not None
        stack.wiki.reset_log()
        again = requests.get(f"{stack.url}/api/search", params={"q": "rivers"}, timeout=30).json()["results"]
        page = requests.get(f"{stack.url}/api/pages/{pageids[0]}", timeout=30).json()
        backlinks_again = requests.get(f"{stack.url}/api/pages/{pageids[0]}/backlinks", timeout=30).json()
        assert stack.wait_idle(30)

        assert all(r["cached"] for r in again)
        assert page["backlinks_status"] == "complete"
        assert stack.wiki.count(list="backlinks") == 0
        # The packed backlinks (binary attributes) come back as they were saved.
        assert backlinks["backlinks"], "the first result has backlinks to keep"
        assert backlinks_again == backlinks


def test_given_a_stack_without_state_dir_then_every_start_is_empty_and_a_vain_wait_says_what_it_saw():
    with LocalStack() as stack:
        table = stack.outputs["pagesTableName"]
        assert stack.client("dynamodb").scan(TableName=table)["Count"] == 0
        with pytest.raises(TimeoutError) as raised:
            stack.wait_until_cached([424242], timeout=0.2)

    message = str(raised.value)
    assert "pages [424242] were not cached within 0 s" in message
    assert "424242: 'not in the pages table'" in message
    assert "executions: {}" in message
    assert "Lambda runtime: idle" in message
