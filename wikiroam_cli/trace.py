"""`wikiroam trace <trace-id>`: one trace read back from CloudWatch Logs, printed as a text waterfall.

It reads what the shipper reads, and decodes it with the shipper's own code (`functions.shipping.extract`):
the span lines (`OTLPv1 ...`) of every function's log group, and the state machine's execution events, turned
into the execution and state spans. So it works without any OTLP backend, against AWS or the local stack's
moto (`--endpoint-url`), for as long as the log groups keep their events.

Span lines are compressed, so no filter pattern can find a trace id in them: every span line of the time window
is read and decoded. The state machine's events are found by the trace id (the execution's name carries its
traceparent, so every event's ARN holds the id; older executions carried it in `_trace` of their input) and by
the execution ARNs the step functions' spans name, then read whole, execution by execution.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from functions import shipping, telemetry
from wikiroam_cli.spans import SpanRecord, iso_time, records_from_request, waterfall

DEFAULT_STACK_PREFIX = "wikiroam-"
# The program's log group names: `<component>-<role>-logs-<suffix>` (Pulumi's auto-naming adds the suffix).
STATE_MACHINE_GROUP = re.compile(r"-executions-logs(-[0-9a-z]+)?$")
# The shipper's own group holds no spans (it is not traced, so that shipping cannot feed itself).
SHIPPER_GROUP = re.compile(r"-shipper-logs(-[0-9a-z]+)?$")
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
EXECUTION_ARN_ATTRIBUTE = "aws.step_functions.execution.arn"
BAR_WIDTH = 40
MAX_NAME_WIDTH = 60
MAX_SERVICE_WIDTH = 52


class TraceNotFound(LookupError):
    """No span of the trace in the log groups and window searched."""


@dataclass(frozen=True)
class LogGroups:
    """Where to look: the functions' log groups (span lines) and the state machine's (execution events)."""

    functions: tuple[str, ...]
    state_machines: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        """Every group, functions first."""
        return self.functions + self.state_machines


def discover_log_groups(logs: Any, prefix: str = DEFAULT_STACK_PREFIX) -> LogGroups:
    """The program's log groups under `prefix`, sorted into functions' and state machines' (shipper excluded)."""
    names = [
        group["logGroupName"]
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix)
        for group in page["logGroups"]
    ]
    return classify_log_groups(names)


def classify_log_groups(names: Iterable[str]) -> LogGroups:
    """Split log group names by what they hold, by the program's naming; the shipper's group is left out."""
    functions, machines = [], []
    for name in sorted(set(names)):
        if STATE_MACHINE_GROUP.search(name):
            machines.append(name)
        elif not SHIPPER_GROUP.search(name):
            functions.append(name)
    return LogGroups(tuple(functions), tuple(machines))


@dataclass
class TraceReading:
    """The spans of one trace found in the logs, and what was read to find them."""

    trace_id: str
    spans: list[SpanRecord] = field(default_factory=list)
    span_lines: int = 0
    damaged_lines: int = 0
    state_events: int = 0
    unpaired_state_events: int = 0


@dataclass
class LogReader:
    """Reads one trace's spans from CloudWatch Logs through a boto3 `logs` client."""

    logs: Any
    start_ms: int
    end_ms: int
    progress: Callable[[str], None] = field(default=lambda message: None)

    def events(self, group: str, pattern: str) -> Iterator[shipping.LogEvent]:
        """The group's events matching `pattern` within the window, as the shipper's `LogEvent`s."""
        paginator = self.logs.get_paginator("filter_log_events")
        pages = paginator.paginate(
            logGroupName=group, filterPattern=pattern, startTime=self.start_ms, endTime=self.end_ms
        )
        for page in pages:
            for event in page["events"]:
                yield shipping.LogEvent(
                    id=str(event.get("eventId", "")), timestamp=int(event["timestamp"]), message=event["message"]
                )

    def read(self, trace_id: str, groups: LogGroups) -> TraceReading:
        """Every span of `trace_id` in these groups: decoded span lines, then the executions' state spans."""
        reading = TraceReading(trace_id)
        executions: set[str] = set()
        for group in groups.functions:
            self.progress(f"reading span lines of {group}")
            events = tuple(self.events(group, telemetry.SPAN_FILTER_PATTERN))
            reading.span_lines += len(events)
            found = self._extract(group, events, reading)
            reading.spans.extend(found)
            executions |= {
                str(s.attributes[EXECUTION_ARN_ATTRIBUTE]) for s in found if EXECUTION_ARN_ATTRIBUTE in s.attributes
            }
        for group in groups.state_machines:
            self.progress(f"reading execution events of {group}")
            # An execution started in the trace has its id in its name, hence in every event's ARN.
            for event in self.events(group, f'"{trace_id}"'):
                parsed = shipping.parse_state_machine_event(event.message)
                if parsed is not None:
                    executions.add(parsed.execution_arn)
            for arn in sorted(executions):
                events = tuple(self.events(group, f'"{arn}"'))
                reading.state_events += len(events)
                reading.spans.extend(self._extract(group, events, reading))
        # A span read twice (an execution's events found under two patterns) is one span.
        unique = {(s.span_id, s.start_unix_nano): s for s in reading.spans}
        reading.spans = list(unique.values())
        return reading

    @staticmethod
    def _extract(group: str, events: Sequence[shipping.LogEvent], reading: TraceReading) -> list[SpanRecord]:
        if not events:
            return []
        # The shipper's own decoding: span lines as written, execution events turned into spans.
        extracted = shipping.extract(
            shipping.LogBatch(group, "", tuple(events)), {"service.name": telemetry.SERVICE_NAME}
        )
        reading.damaged_lines += extracted.damaged_lines
        reading.unpaired_state_events += extracted.unpaired_state_events
        return [
            record
            for request in extracted.requests
            for record in records_from_request(request)
            if record.trace_id == reading.trace_id
        ]


def render_waterfall(spans: Sequence[SpanRecord], bar_width: int = BAR_WIDTH) -> list[str]:
    """A text waterfall: a header, then one line per span (indented by depth) with its bar on the trace's scale."""
    if not spans:
        return []
    start = min(s.start_unix_nano for s in spans)
    end = max(s.end_unix_nano for s in spans)
    total = max(end - start, 1)
    rows = waterfall(spans)
    errors = sum(s.is_error for s in spans)
    name_width = min(max(len("  " * depth + _one_line(span.name)) for depth, span in rows), MAX_NAME_WIDTH)
    service_width = min(max(len(span.service) for _, span in rows), MAX_SERVICE_WIDTH)
    lines = [
        f"trace {spans[0].trace_id}: {len(spans)} spans, {errors} {'error' if errors == 1 else 'errors'}, "
        f"{(end - start) / 1e6:.1f} ms from {iso_time(start)}"
    ]
    for depth, span in rows:
        label = _fit("  " * depth + _one_line(span.name), name_width)
        service = _fit(_one_line(span.service), service_width)
        offset = round((span.start_unix_nano - start) / total * bar_width)
        offset = min(offset, bar_width - 1)
        length = max(1, round((span.end_unix_nano - span.start_unix_nano) / total * bar_width))
        length = min(length, bar_width - offset)
        bar = " " * offset + "#" * length + " " * (bar_width - offset - length)
        line = f"{label}  {span.kind:<8}  {service}  {span.duration_ms:>9.1f} ms  |{bar}|"
        if span.is_error:
            reason = span.status_message or str(span.attributes.get("error.type") or "error")
            line += f"  ! {_fit(_one_line(reason), 60).rstrip()}"
        lines.append(line.rstrip())
    return lines


def _one_line(text: str) -> str:
    """Whitespace runs (newlines included) as one space: one span, one line."""
    return " ".join(text.split())


def _fit(text: str, width: int) -> str:
    """`text` padded or cut to `width` characters (a cut ends with `~`)."""
    if len(text) > width:
        return text[: width - 1] + "~"
    return text.ljust(width)
