"""`wikiroam trace`: the text waterfall, the log groups it reads, and the trace it finds in CloudWatch Logs."""

from __future__ import annotations

import json
import re
import time

import boto3
import pytest
from moto import mock_aws

from functions import telemetry
from tests.support.telemetry import SpanLog
from wikiroam_cli.__main__ import build_parser, duration_seconds, main, trace_command
from wikiroam_cli.spans import SpanRecord, waterfall
from wikiroam_cli.trace import classify_log_groups, render_waterfall

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
T0 = 1_795_812_649_000_000_000
MS = 1_000_000


def record(span_id: str, parent: str, name: str, start_ms: int, end_ms: int, **fields) -> SpanRecord:
    return SpanRecord(
        trace_id=TRACE,
        span_id=span_id * 16,
        parent_span_id=parent * 16 if parent else "",
        name=name,
        kind=fields.pop("kind", "INTERNAL"),
        service=fields.pop("service", "wikiroam/api"),
        start_unix_nano=T0 + start_ms * MS,
        end_unix_nano=T0 + end_ms * MS,
        **fields,
    )


def name_column(row: str) -> str:
    """The indented span name a waterfall row starts with (up to the kind column)."""
    found = re.match(r"^(\s*\S.*?)\s{2,}(INTERNAL|SERVER|CLIENT|PRODUCER|CONSUMER)\s", row)
    assert found, row
    return found.group(1)


# A search trace in shuffled order: api (0-100 ms) -> wiki call and publish; trigger (100-200) -> execution.
SPANS = [
    record("5", "4", "StepFunctions.Execution", 150, 200, service="wikiroam/states", kind="SERVER"),
    record("3", "1", "publish cache", 40, 60, kind="PRODUCER"),
    record("1", "", "GET /api/search", 0, 100, kind="SERVER"),
    record("4", "3", "cache-trigger", 100, 200, kind="CONSUMER", service="wikiroam/trigger"),
    record("2", "1", "GET", 10, 30, kind="CLIENT", status_code="ERROR", status_message="WikiRateLimited: 429"),
]


def test_waterfall_puts_parents_before_children_and_siblings_by_start():
    ordered = [(depth, span.name) for depth, span in waterfall(SPANS)]

    assert ordered == [
        (0, "GET /api/search"),
        (1, "GET"),
        (1, "publish cache"),
        (2, "cache-trigger"),
        (3, "StepFunctions.Execution"),
    ]


def test_a_span_whose_parent_is_missing_is_shown_as_a_root_not_hidden():
    lost_parent = record("9", "8", "CacheStart", 120, 130)

    ordered = [(depth, span.name) for depth, span in waterfall([*SPANS, lost_parent])]

    assert (0, "CacheStart") in ordered
    assert len(ordered) == 6


def test_the_waterfall_text_indents_by_depth_scales_bars_to_the_trace_and_marks_errors():
    lines = render_waterfall(SPANS, bar_width=20)

    assert lines[0] == f"trace {TRACE}: 5 spans, 1 error, 200.0 ms from 2026-11-27T20:50:49.000Z"
    rows = lines[1:]
    assert [name_column(row) for row in rows] == [
        "GET /api/search",
        "  GET",
        "  publish cache",
        "    cache-trigger",
        "      StepFunctions.Execution",
    ]
    bars = [row[row.index("|") + 1 : row.rindex("|")] for row in rows]
    # 200 ms over 20 columns: 10 ms a column.
    assert bars == [
        "#" * 10 + " " * 10,
        " " + "##" + " " * 17,
        " " * 4 + "##" + " " * 14,
        " " * 10 + "#" * 10,
        " " * 15 + "#" * 5,
    ]
    assert rows[1].endswith("! WikiRateLimited: 429")
    assert "!" not in rows[0]
    assert "100.0 ms" in rows[0]
    assert "wikiroam/states" in rows[4]


def test_a_span_too_short_to_see_still_gets_one_column_inside_the_bar():
    lines = render_waterfall([record("1", "", "root", 0, 1000), record("2", "1", "tick", 1000, 1000)], bar_width=10)

    assert lines[2].endswith("|         #|")


def test_log_groups_are_sorted_by_what_they_hold_and_the_shipper_is_left_out():
    groups = classify_log_groups(
        [
            "wikiroam-cache-executions-logs-affccab",
            "wikiroam-api-handler-logs-5a465ec",
            "wikiroam-telemetry-shipper-logs-a92ea9d",
            "wikiroam-cache-start-logs-a01fb4e",
        ]
    )

    assert groups.functions == ("wikiroam-api-handler-logs-5a465ec", "wikiroam-cache-start-logs-a01fb4e")
    assert groups.state_machines == ("wikiroam-cache-executions-logs-affccab",)


def test_durations_read_as_seconds():
    assert [duration_seconds(d) for d in ("90s", "30m", "1h", "2d")] == [90, 1800, 3600, 172800]


def test_given_a_bad_trace_id_then_it_says_what_a_trace_id_looks_like(capsys):
    assert main(["trace", "not-a-trace"]) == 2
    assert "32 hexadecimal digits" in capsys.readouterr().err


@pytest.fixture
def logs():
    """Given CloudWatch Logs (moto, in-process) with a function's and the state machine's log groups."""
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1")
        for group in ("wikiroam-api-handler-logs-1", "wikiroam-cache-executions-logs-1"):
            client.create_log_group(logGroupName=group)
            client.create_log_stream(logGroupName=group, logStreamName="s")
        yield client


def put(logs, group: str, *messages: str) -> None:
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": m} for m in messages]
    )


def test_given_span_lines_and_execution_events_in_the_logs_then_it_prints_the_trace_they_hold(
    logs, span_log: SpanLog, capsys
):
    # The api's spans, written by the functions' own telemetry, for a trace the caller started.
    parent = f"00-{TRACE}-00f067aa0ba902b7-01"
    with (
        telemetry.tracer().start_as_current_span(
            "GET /api/search", context=telemetry.extract_headers({"traceparent": parent})
        ),
        telemetry.tracer().start_as_current_span("SFN.StartExecution"),
    ):
        carrier = telemetry.trace_carrier()
    telemetry.flush()
    arn = "arn:aws:states:us-east-1:123456789012:execution:wikiroam-cache:1952-m1"
    # An execution that timed out (level ALL): the one execution whose span the shipper writes, as no step ends it.
    events = [
        {"type": "ExecutionStarted", "details": {"input": json.dumps({"_trace": carrier})}},
        {"type": "ChoiceStateEntered", "details": {"name": "Claimed?"}},
        {"type": "ChoiceStateExited", "details": {"name": "Claimed?"}},
        {"type": "ExecutionTimedOut", "details": {"error": "States.Timeout"}},
    ]
    messages = [
        json.dumps(
            {
                "id": str(n),
                "type": e["type"],
                "details": e["details"],
                "event_timestamp": str(1_795_812_649_000 + n),
                "execution_arn": arn,
            }
        )
        for n, e in enumerate(events, start=1)
    ]
    put(logs, "wikiroam-api-handler-logs-1", "START RequestId: x", *span_log.lines(), "END RequestId: x")
    put(logs, "wikiroam-cache-executions-logs-1", *messages)

    status = trace_command(build_parser().parse_args(["trace", TRACE, "--quiet"]), logs=logs)

    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[0].startswith(f"trace {TRACE}: 4 spans, 1 error")
    names = [name_column(line) for line in out[1:]]
    # The execution span (from the state machine's events) hangs under the span that started it.
    assert names == ["GET /api/search", "  SFN.StartExecution", "    StepFunctions.Execution", "      Claimed?"]


def test_given_no_span_of_the_trace_then_it_names_the_groups_and_window_searched(logs, capsys):
    status = trace_command(build_parser().parse_args(["trace", TRACE, "--since", "30m", "--quiet"]), logs=logs)

    err = capsys.readouterr().err
    assert status == 1
    assert f"no span of trace {TRACE} in the last 30m" in err
    assert "wikiroam-api-handler-logs-1" in err
    assert "wikiroam-cache-executions-logs-1" in err
    assert "--since" in err


def test_the_installed_wikiroam_command_runs_the_cli_from_any_directory(tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    # `make dev` and `make test` install the project into the virtualenv, with its console script.
    script = shutil.which("wikiroam", path=str(Path(sys.executable).parent))
    assert script is not None, "wikiroam is not installed in the virtualenv: run `make test` (or `make dev`)"

    helped = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, check=False)
    refused = subprocess.run([str(script), "trace", "xyz"], cwd=tmp_path, capture_output=True, text=True, check=False)

    assert helped.returncode == 0
    assert "trace" in helped.stdout
    assert refused.returncode == 2
    assert "'xyz' is not a trace id" in refused.stderr
