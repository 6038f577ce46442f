"""PageStore's request marker, the Catch path's record, scans and gap marks, against moto's DynamoDB."""

from __future__ import annotations

import pytest

from functions.store import PageStore

NOW = 1_795_806_539.0
LEASE = 900.0
TTL = 60.0


@pytest.fixture
def pages(aws):
    return PageStore(aws.dynamodb, aws.pages_table)


def test_given_no_item_when_marking_requested_then_a_marker_only_item_reads_as_awaiting_its_claim(pages):
    assert pages.mark_requested(7, "Seven", NOW, TTL)

    record = pages.get(7)
    assert record is not None
    assert (record.title, record.requested_at, record.claimed_by) == ("Seven", NOW, None)
    # Not cached, not failed, not claimed: the api's marker must not read as anything the pipeline wrote.
    assert (record.cached, record.backlinks_status, record.cached_at, record.awaiting_claim) == (
        False,
        "pending",
        None,
        True,
    )
    assert record.requested_since(NOW - TTL)


def test_given_a_live_marker_then_a_second_mark_is_refused_and_an_expired_one_is_renewed(pages):
    assert pages.mark_requested(7, "Seven", NOW, TTL)
    assert not pages.mark_requested(7, "Seven", NOW + TTL - 1, TTL)
    assert pages.mark_requested(7, "Seven", NOW + TTL + 1, TTL)
    assert pages.get(7).requested_at == NOW + TTL + 1


def test_given_a_marker_only_item_then_the_first_claim_takes_it_and_removes_the_marker(pages):
    pages.mark_requested(7, "Seven", NOW, TTL)

    assert pages.claim(7, "Seven", "exec-1", NOW + 1, LEASE)

    record = pages.get(7)
    assert (record.claimed_by, record.requested_at, record.awaiting_claim) == ("exec-1", None, False)
    assert not pages.claim(7, "Seven", "exec-2", NOW + 2, LEASE)


def test_given_a_marker_on_a_cached_page_then_its_data_and_status_are_untouched(pages):
    pages.claim(7, "Seven", "exec-1", NOW, LEASE)
    pages.save_backlinks_progress(pageid=7, owner="exec-1", count=3, status="complete", resume=None)

    pages.mark_requested(7, "Another title", NOW + 1, TTL)

    record = pages.get(7)
    assert (record.title, record.backlinks_status, record.backlinks_count, record.cached) == (
        "Seven",
        "complete",
        3,
        True,
    )


def test_clear_requested_removes_only_the_marker_it_set(pages):
    pages.mark_requested(7, "Seven", NOW, TTL)
    assert not pages.clear_requested(7, NOW + 5)  # another request's marker
    assert pages.get(7).requested_at == NOW
    assert pages.clear_requested(7, NOW)
    assert pages.get(7).requested_at is None


def test_given_a_failure_recorded_by_its_owner_then_the_marker_goes_too(pages):
    pages.claim(7, "Seven", "exec-1", NOW, LEASE)
    pages.mark_requested(7, "Seven", NOW + 1, TTL)  # a reader's request while the claim ran

    pages.record_failure(7, "exec-1", "WikiApiError", NOW + 2)

    record = pages.get(7)
    assert (record.backlinks_status, record.caching_error, record.requested_at) == ("failed", "WikiApiError", None)


@pytest.mark.parametrize(
    ("setup", "owner", "expected"),
    [
        ("claimed by exec-1", "exec-1", ("failed", "Sandbox.Timedout", None)),
        ("absent", "exec-1", ("failed", "Sandbox.Timedout", None)),
        ("marker only", "exec-1", ("failed", "Sandbox.Timedout", None)),
        ("claimed by exec-2", "exec-1", ("pending", None, "exec-2")),
        ("complete", "exec-1", ("complete", None, None)),
        ("failed by its step", "exec-1", ("failed", "WikiApiError", None)),
    ],
)
def test_the_catch_paths_record_marks_only_what_is_its_own_to_mark(pages, setup, owner, expected):
    if setup.startswith("claimed by"):
        pages.claim(7, "Seven", setup.rsplit(" ", 1)[1], NOW, LEASE)
    elif setup == "marker only":
        pages.mark_requested(7, "Seven", NOW, TTL)
    elif setup == "complete":
        pages.claim(7, "Seven", "exec-0", NOW, LEASE)
        pages.save_backlinks_progress(pageid=7, owner="exec-0", count=3, status="complete", resume=None)
    elif setup == "failed by its step":
        pages.claim(7, "Seven", "exec-1", NOW, LEASE)
        pages.record_failure(7, "exec-1", "WikiApiError", NOW)

    recorded = pages.record_caught_failure(7, "Seven", owner, "Sandbox.Timedout", NOW + 1)

    record = pages.get(7)
    assert (record.backlinks_status, record.caching_error, record.claimed_by) == expected
    assert recorded == (expected[1] == "Sandbox.Timedout")
    if recorded:
        assert (record.title, record.requested_at, record.claimed_at) == ("Seven", None, None)


def test_scan_reads_every_item_across_pages_of_results(pages):
    for pageid in range(1, 8):
        pages.mark_requested(pageid, f"Page {pageid}", NOW, TTL)
    assert sorted(r.pageid for r in pages.scan(segment_size=3)) == list(range(1, 8))


def test_a_gap_mark_fails_a_complete_page_for_a_fresh_listing_unless_it_changed_since(pages):
    pages.claim(7, "Seven", "exec-1", NOW, LEASE)
    pages.save_backlinks_progress(pageid=7, owner="exec-1", count=3, status="complete", resume=None)

    assert not pages.mark_gap(7, 4, "BacklinksGap", NOW + 1)  # not the count the detector read: re-cached since
    assert pages.mark_gap(7, 3, "BacklinksGap", NOW + 1)

    record = pages.get(7)
    assert (record.backlinks_status, record.caching_error, record.backlinks_resume) == ("failed", "BacklinksGap", None)
    assert pages.claim(7, "Seven", "exec-2", NOW + 2, LEASE)  # a redrive's execution may take it at once
