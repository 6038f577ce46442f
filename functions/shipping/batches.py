"""CloudWatch Logs subscription batches: decoded, and what they hold turned into OTLP export requests."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from functions import telemetry
from functions.shipping.states import parse_state_machine_event, state_machine_spans

logger = logging.getLogger("functions.shipping")


@dataclass(frozen=True)
class LogEvent:
    """One log event of a subscription batch."""

    id: str
    timestamp: int
    message: str


@dataclass(frozen=True)
class LogBatch:
    """A decoded subscription batch: its log group and events (none for CloudWatch's control messages)."""

    log_group: str
    log_stream: str
    events: tuple[LogEvent, ...]


class InvalidLogBatch(ValueError):
    """The event is not a CloudWatch Logs subscription batch."""


def decode_awslogs(event: Any) -> LogBatch:
    """Decode `{"awslogs": {"data": base64(gzip(json))}}`; a CONTROL_MESSAGE batch has no events."""
    data = event.get("awslogs", {}).get("data") if isinstance(event, Mapping) else None
    if not isinstance(data, str):
        raise InvalidLogBatch("the event has no awslogs.data: it is not a CloudWatch Logs subscription batch")
    try:
        document = json.loads(gzip.decompress(base64.b64decode(data, validate=True)))
    except (binascii.Error, OSError, EOFError, ValueError) as error:
        raise InvalidLogBatch(f"awslogs.data is not base64 gzip JSON ({type(error).__name__})") from None
    if not isinstance(document, dict):
        raise InvalidLogBatch("awslogs.data is not a JSON object")
    group, stream = str(document.get("logGroup", "")), str(document.get("logStream", ""))
    if document.get("messageType") == "CONTROL_MESSAGE":
        return LogBatch(group, stream, ())
    events = tuple(
        LogEvent(id=str(e.get("id", "")), timestamp=int(e.get("timestamp") or 0), message=str(e.get("message", "")))
        for e in document.get("logEvents") or []
        if isinstance(e, dict)
    )
    return LogBatch(group, stream, events)


# --- span lines and state machine events


@dataclass
class Extracted:
    """What a batch holds: export requests, and what could not become spans."""

    requests: list[ExportTraceServiceRequest] = field(default_factory=list)
    damaged_lines: int = 0
    unpaired_state_events: int = 0


def extract(batch: LogBatch, resource: Mapping[str, Any]) -> Extracted:
    """The export requests in a batch: span lines as they were written, state machine events turned to spans."""
    found = Extracted()
    machine_events = []
    for event in batch.events:
        request, damage = _decode(event.message)
        if damage:
            found.damaged_lines += 1
            logger.error("log event %s of %s: %s; its spans are lost", event.id, batch.log_group, damage)
            continue
        if request is not None:
            found.requests.append(request)
            continue
        machine_event = parse_state_machine_event(event.message)
        if machine_event is not None:
            machine_events.append(machine_event)
    if machine_events:
        spans, unpaired = state_machine_spans(machine_events, resource)
        found.unpaired_state_events = unpaired
        if spans is not None:
            found.requests.append(ExportTraceServiceRequest(resource_spans=[spans]))
    return found


def _decode(message: str) -> tuple[ExportTraceServiceRequest | None, str]:
    try:
        return telemetry.decode_span_line(message), ""
    except ValueError as error:
        return None, str(error)
