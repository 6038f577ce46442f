"""The gap check's contract pieces: its settings, the bounds an event may set, and the report the CLI reads back."""

from __future__ import annotations

import pytest

from functions import settings
from functions.errors import ConfigurationError
from functions.gaps import GapCheck, GapReport
from functions.handlers.gaps import _bounded, scheduled_invocation

GAP_ENV = {settings.WIKI_CONTACT: "ops@example.org", settings.PAGES_TABLE: "pages"}


def test_given_only_required_values_then_the_gap_check_compares_20_pages_within_50_requests():
    read = settings.gap_check_settings(GAP_ENV)
    assert (read.sample, read.max_requests, read.pages_table) == (20, 50, "pages")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (settings.GAP_CHECK_SAMPLE, "0"),
        (settings.GAP_CHECK_SAMPLE, "1001"),
        (settings.GAP_CHECK_MAX_REQUESTS, "many"),
        (settings.PAGES_TABLE, ""),
    ],
)
def test_given_a_bad_gap_check_setting_then_the_error_names_the_variable(name, value):
    with pytest.raises(ConfigurationError, match=name):
        settings.gap_check_settings({**GAP_ENV, name: value})


def test_given_an_event_without_overrides_then_the_settings_apply_and_bad_overrides_are_refused():
    assert _bounded({}, "sample", 20, 1000) == 20
    assert _bounded({"sample": 3}, "sample", 20, 1000) == 3
    for bad in (0, 1001, "5", True, 2.5):
        with pytest.raises(ConfigurationError, match="sample"):
            _bounded({"sample": bad}, "sample", 20, 1000)


def test_given_an_eventbridge_scheduled_event_then_the_span_names_the_rule_that_fired_it():
    rule = "arn:aws:events:us-east-1:123456789012:rule/wikiroam-gaps-schedule-1a2b3c4"
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "resources": [rule], "detail": {}}
    described = scheduled_invocation(event)
    assert described.parent is None
    assert described.attributes == {"aws.eventbridge.rule.arn": rule}


def test_given_a_report_then_the_cli_reads_back_what_the_function_answered():
    report = GapReport(
        [GapCheck(1, "A", 3, 3), GapCheck(2, "B", 4, 5, marked=True), GapCheck(3, "C", 7, None)], wiki_requests=9
    )
    answered = report.to_dict()
    assert {k: answered[k] for k in report.summary()} == {
        "pages_compared": 2,
        "gaps_found": 1,
        "gaps_marked": 1,
        "not_checked": 1,
        "wiki_requests": 9,
    }
    assert GapReport.from_dict(answered) == report


def test_given_a_stack_without_a_gap_check_function_then_invoking_says_how_to_deploy_it_or_run_it_directly():
    from wikiroam_cli.redrive import GapCheckFailed, StackTargets, invoke_gap_check

    with pytest.raises(GapCheckFailed, match="--direct"):
        invoke_gap_check(StackTargets("pages", "arn:aws:sns:us-east-1:123456789012:t", None), {})
