"""Export: requests split under the endpoint's byte limit, POSTed with bounded retries, every span accounted for."""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span

from functions import __version__
from functions.backoff import full_jitter, retry_after_seconds
from functions.contract import SERVICE_NAME
from functions.shipping.batches import LogBatch, extract

logger = logging.getLogger("functions.shipping")

METRIC_NAMESPACE = "WikiRoam/Telemetry"


# Framing a nested message costs a tag byte and a length varint (5 bytes at most): count 6 per level.
_FRAME = 6


@dataclass
class Split:
    """Export requests each under the byte limit, and the spans too large to fit any request alone."""

    requests: list[ExportTraceServiceRequest]
    oversized_spans: int = 0


def count_spans(request: ExportTraceServiceRequest) -> int:
    """How many spans an export request holds."""
    return sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)


def split_requests(requests: Iterable[ExportTraceServiceRequest], max_bytes: int) -> Split:
    """Repack the spans of these requests into as few requests as fit under `max_bytes` each, in order."""
    out: list[ExportTraceServiceRequest] = []
    oversized = 0
    current = ExportTraceServiceRequest()
    size = 0
    for request in requests:
        for resource_spans in request.resource_spans:
            resource_cost = resource_spans.resource.ByteSize() + len(resource_spans.schema_url) + 3 * _FRAME
            for scope_spans in resource_spans.scope_spans:
                scope_cost = scope_spans.scope.ByteSize() + len(scope_spans.schema_url) + 3 * _FRAME
                target: ScopeSpans | None = None
                for span in scope_spans.spans:
                    span_cost = span.ByteSize() + 3 * _FRAME
                    if span_cost + scope_cost + resource_cost > max_bytes:
                        oversized += 1
                        logger.error(
                            "a span of %d bytes (%s) exceeds the %d-byte request limit: dropped",
                            span.ByteSize(),
                            span.name,
                            max_bytes,
                        )
                        continue
                    extra = span_cost + (scope_cost if target is None else 0)
                    extra += resource_cost if target is None else 0
                    if size + extra > max_bytes:
                        out.append(current)
                        current, size, target = ExportTraceServiceRequest(), 0, None
                        extra = span_cost + scope_cost + resource_cost
                    if target is None:
                        group = current.resource_spans.add()
                        group.resource.CopyFrom(resource_spans.resource)
                        group.schema_url = resource_spans.schema_url
                        target = group.scope_spans.add()
                        target.scope.CopyFrom(scope_spans.scope)
                        target.schema_url = scope_spans.schema_url
                    target.spans.append(span)
                    size += extra
    if current.resource_spans:
        out.append(current)
    return Split(out, oversized)


# --- posting


@dataclass(frozen=True)
class Endpoint:
    """An OTLP/HTTP traces URL and the headers it wants (e.g. Datadog's `dd-api-key`)."""

    url: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class HttpAnswer:
    """What the endpoint answered."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportError(Exception):
    """The request did not get an answer (connection refused or reset, timeout)."""


class Transport(Protocol):
    """Sends one POST; raises `TransportError` when no answer came."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        """POST `body` and return the answer."""
        ...


class RequestsTransport:
    """The production transport: one `requests` session, reused across invocations for its connections."""

    def __init__(self) -> None:
        import requests

        self._requests = requests
        self._session = requests.Session()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
        """POST through the session; connection failures and timeouts become `TransportError`."""
        try:
            response = self._session.post(url, data=body, headers=dict(headers), timeout=timeout)
        except (self._requests.ConnectionError, self._requests.Timeout) as error:
            raise TransportError(f"{type(error).__name__}: {error}") from None
        return HttpAnswer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)


@dataclass
class ShipResult:
    """What one batch came to: spans shipped and dropped, requests sent, and what could not become spans."""

    spans_shipped: int = 0
    spans_dropped: int = 0
    requests_sent: int = 0
    damaged_lines: int = 0
    unpaired_state_events: int = 0

    def as_dict(self) -> dict[str, int]:
        """The result as the handler returns it."""
        return dict(self.__dict__)


@dataclass
class Shipper:
    """Posts export requests to one endpoint, split, retried and accounted for."""

    endpoint: Endpoint | None
    transport: Transport
    max_request_bytes: int
    environment: str = ""
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    timeout: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[float, float], float] = random.uniform
    metrics: TextIO | None = None

    def ship_batch(self, batch: LogBatch, seconds_left: Callable[[], float] | None = None) -> ShipResult:
        """Ship every span a batch holds, and report the outcome as an EMF metric line."""
        found = extract(batch, self._resource())
        result = self.ship(found.requests, seconds_left)
        result.damaged_lines = found.damaged_lines
        result.unpaired_state_events = found.unpaired_state_events
        self._emit_metrics(result)
        return result

    def ship(
        self, requests: Sequence[ExportTraceServiceRequest], seconds_left: Callable[[], float] | None = None
    ) -> ShipResult:
        """Split the requests under the byte limit and POST each; spans that do not arrive are counted dropped."""
        result = ShipResult()
        if not requests:
            return result
        split = split_requests(requests, self.max_request_bytes)
        result.spans_dropped += split.oversized_spans
        if self.endpoint is None:
            count = sum(count_spans(r) for r in split.requests)
            logger.error("no OTLP endpoint is configured: %d spans dropped (set the telemetry secret)", count)
            result.spans_dropped += count
            return result
        deadline = self.clock() + seconds_left() if seconds_left is not None else None
        for request in split.requests:
            count = count_spans(request)
            sent, attempts = self._post(request.SerializeToString(), count, deadline)
            result.requests_sent += attempts
            if sent:
                result.spans_shipped += count
            else:
                result.spans_dropped += count
        return result

    def _post(self, body: bytes, count: int, deadline: float | None) -> tuple[bool, int]:
        assert self.endpoint is not None  # checked by ship()
        headers = {**self.endpoint.headers, "content-type": "application/x-protobuf"}
        reason = ""
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            retry_after: float | None = None
            try:
                answer = self.transport.post(self.endpoint.url, body, headers, self.timeout)
            except TransportError as error:
                reason = str(error)
            else:
                if 200 <= answer.status < 300:
                    self._check_partial_success(answer, count)
                    return True, attempt
                if answer.status != 429 and answer.status < 500:
                    logger.error(
                        "the OTLP endpoint refused a request of %d bytes with HTTP %d (not retried): "
                        "%d spans dropped; it said: %.300s",
                        len(body),
                        answer.status,
                        count,
                        answer.body.decode("utf-8", "replace"),
                    )
                    return False, attempt
                reason = f"HTTP {answer.status}"
                retry_after = retry_after_seconds(answer.headers.get("retry-after"), cap=self.max_delay)
            if attempt >= self.max_attempts:
                break
            delay = (
                retry_after
                if retry_after is not None
                else full_jitter(attempt, base=self.base_delay, cap=self.max_delay, uniform=self.jitter)
            )
            # Leave the invocation time to report: a retry that cannot finish before the timeout is not tried.
            if deadline is not None and self.clock() + delay + self.timeout > deadline:
                reason += " (no time left for another attempt)"
                break
            self.sleep(delay)
        logger.error(
            "the OTLP endpoint did not take a request of %d bytes after %d attempts (%s): %d spans dropped",
            len(body),
            attempt,
            reason,
            count,
        )
        return False, attempt

    def _check_partial_success(self, answer: HttpAnswer, count: int) -> None:
        if not answer.body:
            return
        try:
            response = ExportTraceServiceResponse.FromString(answer.body)
        except Exception:  # noqa: BLE001 (a 2xx whose body is not a response is accepted; the spans arrived)
            return
        rejected = response.partial_success.rejected_spans
        if rejected:
            logger.error(
                "the OTLP endpoint rejected %d of %d spans: %s", rejected, count, response.partial_success.error_message
            )

    def _resource(self) -> dict[str, Any]:
        resource: dict[str, Any] = {"service.name": SERVICE_NAME, "service.version": __version__}
        if self.environment:
            resource["deployment.environment"] = self.environment
            resource["deployment.environment.name"] = self.environment
        return resource

    def _emit_metrics(self, result: ShipResult) -> None:
        """One CloudWatch EMF line: counts per invocation, which CloudWatch sums (no shared counter to race)."""
        line = emf_line(
            {
                "SpansShipped": result.spans_shipped,
                "SpansDropped": result.spans_dropped,
                "SpanLinesDamaged": result.damaged_lines,
                "StateEventsUnpaired": result.unpaired_state_events,
            },
            {"Environment": self.environment or "unknown"},
        )
        stream = self.metrics or sys.stdout
        stream.write(line + "\n")
        stream.flush()


def emf_line(counts: Mapping[str, int], dimensions: Mapping[str, str], now_ms: int | None = None) -> str:
    """A CloudWatch Embedded Metric Format line with these counts in the `WikiRoam/Telemetry` namespace."""
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(time.time() * 1000) if now_ms is None else now_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRIC_NAMESPACE,
                        "Dimensions": [list(dimensions)],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in counts],
                    }
                ],
            },
            **dimensions,
            **counts,
        },
        separators=(",", ":"),
    )


def iter_spans(requests: Iterable[ExportTraceServiceRequest]) -> Iterator[Span]:
    """Every span of these requests, in order."""
    for request in requests:
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                yield from scope_spans.spans
