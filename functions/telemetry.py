"""OpenTelemetry for the functions, configured here and nowhere else: spans go to stdout, hence CloudWatch Logs.

Every invocation's spans are buffered in memory and written when the invocation ends (success or failure) as
OTLP lines, `OTLPv1 z1:<base64(deflate(ExportTraceServiceRequest protobuf))>` (raw deflate with the `z1` preset
dictionary), one per flush. Lambda ships stdout to
the function's log group; a subscription filter matching the marker (`SPAN_FILTER_PATTERN`) hands those lines
to the shipper, which decodes them and POSTs them to an OTLP/HTTP endpoint. No collector, no extension, no
network call in the request path.

Encoding, measured (bench.export, bench.trace_bytes): protobuf is 10-20x smaller than OTLP/JSON (the official
JSON encoder) at about the same CPU cost, and CloudWatch bills ingestion by the byte. Most invocations flush
2-4 spans, so a line's fixed part (the resource, attribute names) dominated: gzip gave 299 B/span over a real
ETL trace, deflate with a preset dictionary of those parts gives 174. The protobuf encoder is the official one
(`opentelemetry-exporter-otlp-proto-common`), imported at the first flush rather than at cold start because
protobuf is the costliest import in it.

Context crosses every hop as W3C tracecontext (+ baggage): HTTP headers into the api, SNS message attributes
into the trigger, `_trace` in the execution input into the state machine. A cache step's span is the child of
its Step Functions state's span, whose id is derived from the execution ARN, the state's name and the time
it was entered (`state_span_id`): the shipper derives the same id from the state machine's logs, so the two
meet without any coordination.

Telemetry is on when `WIKIROAM_ENVIRONMENT` names the deployment (every deployed function has it); without it
the handlers run untraced and print nothing, as in a unit test that does not ask for spans.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import logging
import os
import sys
import threading
import zlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar

from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from functions import __version__, settings

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

logger = logging.getLogger(__name__)

SERVICE_NAME = "wikiroam"
# The one term a CloudWatch Logs subscription filter matches to pick span lines out of a function's logs.
SPAN_MARKER = "OTLPv1"
SPAN_FILTER_PATTERN = SPAN_MARKER
# CloudWatch Logs takes events up to 256 KB and Lambda splits longer stdout lines: stay well below.
MAX_LINE_CHARS = 200_000
# Bounds what one attribute can add to a line (a long URL, an exception message).
MAX_ATTRIBUTE_LENGTH = 2048
TRACE_KEY = "_trace"
# Datadog names its trace metrics after a span's `operation.name` (`trace.<operation>.hits`, `.errors`, the
# `trace.<operation>` latency distribution). Each kind of entry or client span gets one stable name, so metric
# names do not multiply per route or per stack; the monitors and dashboards under dashboards/ query these.
OPERATION_NAME = "operation.name"
API_OPERATION = "wikiroam.api.request"
TRIGGER_OPERATION = "wikiroam.cache.trigger"
STEP_OPERATION = "wikiroam.cache.step"
WIKI_OPERATION = "wikiroam.wiki.request"

Trigger = Literal["http", "pubsub", "other"]
Handler = TypeVar("Handler", bound=Callable[..., Any])

_PROPAGATOR = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
_TRACECONTEXT = TraceContextTextMapPropagator()
_NOOP_TRACER = trace.NoOpTracer()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


# --- encoding: one function writes the lines, one reads them back


# Span lines are raw deflate with a preset dictionary: most invocations flush 2-4 spans, and without one the
# resource block and attribute names (the same in every line) cost most of a line. `z1` names this dictionary:
# it must never change (lines already in log groups are decoded with it); a new one gets a new name.
DICTIONARY_VERSION = "z1"


@functools.cache
def span_dictionary() -> bytes:
    """The `z1` preset dictionary: an export request with WikiRoam's resource and its spans' usual attributes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ResourceProto
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    def attributes(pairs: Mapping[str, str | int | bool]) -> list[KeyValue]:
        values = []
        for key, value in pairs.items():
            if isinstance(value, bool):
                any_value = AnyValue(bool_value=value)
            elif isinstance(value, int):
                any_value = AnyValue(int_value=value)
            else:
                any_value = AnyValue(string_value=value)
            values.append(KeyValue(key=key, value=any_value))
        return values

    arn = "arn:aws:states:us-east-1:123456789012:"
    spans: list[tuple[str, Any, Mapping[str, str | int | bool]]] = [
        (
            "GET",
            3,
            {
                "http.request.method": "GET",
                "server.address": "en.wikipedia.org",
                "server.port": 443,
                "wikiroam.wiki.operation": "backlinks",
                "url.full": "https://en.wikipedia.org/w/api.php?action=query&format=json&formatversion=2&list=backlinks&bllimit=max&maxlag=5",
                "http.response.status_code": 200,
            },
        ),
        (
            "DynamoDB.BatchWriteItem",
            3,
            {
                "rpc.system": "aws-api",
                "rpc.service": "DynamoDB",
                "rpc.method": "BatchWriteItem",
                "aws.region": "us-east-1",
                "cloud.region": "us-east-1",
                "db.system": "dynamodb",
                "db.operation.name": "BatchWriteItem",
                "aws.dynamodb.table_names": "wikiroam-tables-links-",
                "aws.request_id": "",
                "aws.dynamodb.consistent_read": False,
            },
        ),
        (
            "DynamoDB.UpdateItem",
            3,
            {"db.operation.name": "UpdateItem", "aws.dynamodb.table_names": "wikiroam-tables-pages-"},
        ),
        (
            "cache-backlinks",
            2,
            {
                "faas.trigger": "other",
                "faas.coldstart": True,
                "faas.invocation_id": "",
                "cloud.resource_id": "arn:aws:lambda:us-east-1:123456789012:function:wikiroam-cache-",
                "cloud.account.id": "123456789012",
                "aws.step_functions.execution.arn": f"{arn}execution:wikiroam-cache-state-machine-",
                "aws.step_functions.state.name": "CacheBacklinks",
                "aws.step_functions.state.retry_count": 0,
                "aws.step_functions.execution.name": "",
                "wikiroam.page.id": 1952,
                "aws.step_functions.state_machine.arn": f"{arn}stateMachine:wikiroam-cache-state-machine-",
            },
        ),
        ("SFN.StartExecution", 3, {"rpc.service": "SFN", "rpc.method": "StartExecution"}),
        (
            "publish wikiroam-cache-topic-",
            4,
            {
                "messaging.system": "aws_sns",
                "messaging.operation.type": "publish",
                "messaging.operation.name": "publish",
                "messaging.batch.message_count": 1,
                "messaging.destination.name": "wikiroam-cache-topic-",
                "messaging.message.id": "",
            },
        ),
        ("cache-trigger", 5, {"faas.trigger": "pubsub", "messaging.operation.type": "process"}),
        (
            "GET /api/search",
            2,
            {
                "faas.trigger": "http",
                "url.path": "/api/search",
                "user_agent.original": "Mozilla/5.0",
                "client.address": "",
                "network.protocol.name": "http",
                "http.route": "/api/pages/{pageid}",
            },
        ),
    ]
    resource = attributes(
        {
            "service.name": SERVICE_NAME,
            "service.version": __version__,
            "deployment.environment": "prod",
            "deployment.environment.name": "dev",
            "cloud.provider": "aws",
            "cloud.platform": "aws_lambda",
            "telemetry.sdk.language": "python",
            "cloud.region": "us-east-1",
            "faas.name": "wikiroam-cache-backlinks-function-",
            "faas.version": "$LATEST",
            "faas.max_memory": 536870912,
        }
    )
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=ResourceProto(attributes=resource),
                scope_spans=[
                    ScopeSpans(
                        scope=InstrumentationScope(name=SERVICE_NAME, version=__version__),
                        spans=[Span(name=name, kind=kind, attributes=attributes(pairs)) for name, kind, pairs in spans],
                    )
                ],
            )
        ]
    )
    return request.SerializeToString()


def encode_span_lines(spans: Sequence[ReadableSpan], max_chars: int = MAX_LINE_CHARS) -> list[str]:
    """`OTLPv1 z1:<base64(deflate(protobuf))>` lines for these spans: one, unless it would exceed `max_chars`."""
    # Imported here: protobuf is the heaviest import of the encoder, and only a flush needs it.
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=span_dictionary())
    payload = compressor.compress(encode_spans(spans).SerializeToString()) + compressor.flush()
    line = f"{SPAN_MARKER} {DICTIONARY_VERSION}:{base64.b64encode(payload).decode('ascii')}"
    if len(line) <= max_chars or len(spans) == 1:
        return [line]
    half = len(spans) // 2
    return encode_span_lines(spans[:half], max_chars) + encode_span_lines(spans[half:], max_chars)


def decode_span_line(message: str) -> ExportTraceServiceRequest | None:
    """The export request in a log message holding a span line; None when the message holds none.

    Raises ValueError when the message has the marker but its payload is damaged (e.g. a line Lambda split).
    """
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    start = message.find(f"{SPAN_MARKER} ")
    if start < 0:
        return None
    token = message[start + len(SPAN_MARKER) + 1 :].split(maxsplit=1)
    if not token:
        raise ValueError("a span line without a payload")
    version, _, encoded = token[0].rpartition(":")
    if version not in ("", DICTIONARY_VERSION):
        raise ValueError(f"a span line in an unknown encoding {version!r}")
    try:
        if version == DICTIONARY_VERSION:
            inflater = zlib.decompressobj(-15, zdict=span_dictionary())
            payload = inflater.decompress(base64.b64decode(encoded, validate=True)) + inflater.flush()
        else:
            # The first format: gzip without a dictionary (lines written before z1, still in log groups).
            payload = gzip.decompress(base64.b64decode(encoded, validate=True))
        request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(payload)
    except (ValueError, OSError, EOFError, zlib.error, DecodeError) as error:
        raise ValueError(f"a damaged span line ({type(error).__name__}: {error})") from None
    return request


# --- deterministic ids of the Step Functions spans


def epoch_ms(value: str | float) -> int:
    """Integer epoch milliseconds from an epoch-ms string (log events) or an ISO time (the context object).

    AWS gives `2026-11-27T19:08:13.192Z`, moto `2026-11-27T19:08:59.097624+00:00`: both truncate to the
    millisecond the state machine's log event carries.
    """
    if isinstance(value, int | float):
        return int(value)
    text = value.strip()
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def _id64(text: str) -> int:
    # A span id of zero is invalid; a sha256 prefix of zero will not happen, but costs nothing to rule out.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") or 1


def state_span_id(execution_arn: str, state_name: str, entered: str | float) -> int:
    """The span id of one entry into a state: the first 8 bytes of sha256("<arn>#<state>#<entered ms>")."""
    return _id64(f"{execution_arn}#{state_name}#{epoch_ms(entered)}")


def execution_span_id(execution_arn: str) -> int:
    """The span id of an execution, so a state span names its parent without seeing ExecutionStarted."""
    return _id64(f"{execution_arn}#execution")


def execution_trace_id(execution_arn: str) -> int:
    """The trace id of an execution started without `_trace`, so its states and steps still share one trace."""
    return int.from_bytes(hashlib.sha256(execution_arn.encode()).digest()[:16], "big") or 1


# --- carriers


def inject_headers(context: Context | None = None) -> dict[str, str]:
    """The W3C headers (`traceparent`, `tracestate`, `baggage`) of the current (or given) context."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return carrier


def extract_headers(headers: Mapping[str, Any] | None) -> Context:
    """The context W3C headers carry (header names in any case); an empty context when they carry none."""
    carrier = {str(k).lower(): str(v) for k, v in (headers or {}).items() if isinstance(v, str)}
    return _PROPAGATOR.extract(carrier)


def sns_message_attributes(context: Context | None = None) -> dict[str, dict[str, str]]:
    """SNS `MessageAttributes` carrying the current context (String type, as SNS delivers it to Lambda)."""
    return {key: {"DataType": "String", "StringValue": value} for key, value in inject_headers(context).items()}


def extract_sns_record(record: Mapping[str, Any]) -> Context:
    """The producer's context from one Lambda SNS record (`Sns.MessageAttributes.<name>.Value`)."""
    sns = record.get("Sns") if isinstance(record, Mapping) else None
    attributes = sns.get("MessageAttributes") if isinstance(sns, Mapping) else None
    carrier: dict[str, str] = {}
    for key, attribute in (attributes or {}).items():
        if isinstance(attribute, Mapping) and isinstance(attribute.get("Value"), str):
            carrier[str(key).lower()] = attribute["Value"]
    return _PROPAGATOR.extract(carrier)


def trace_carrier(context: Context | None = None) -> dict[str, str]:
    """What goes under `_trace` in an execution input: `traceparent`, and `tracestate`/`baggage` when set."""
    return inject_headers(context)


def extract_trace_carrier(state_input: Any) -> SpanContext | None:
    """The span context in a state input's `_trace`, or None."""
    carrier = state_input.get(TRACE_KEY) if isinstance(state_input, Mapping) else None
    if not isinstance(carrier, Mapping):
        return None
    span_context = trace.get_current_span(
        _TRACECONTEXT.extract({k: v for k, v in carrier.items() if isinstance(v, str)})
    ).get_span_context()
    return span_context if span_context.is_valid else None


def state_parent(execution_arn: str, state_name: str, entered_time: str, state_input: Any) -> Context:
    """The context of the Step Functions state span a task invocation runs under."""
    started_by = extract_trace_carrier(state_input)
    span_context = SpanContext(
        trace_id=started_by.trace_id if started_by else execution_trace_id(execution_arn),
        span_id=state_span_id(execution_arn, state_name, entered_time),
        is_remote=True,
        trace_flags=started_by.trace_flags if started_by else TraceFlags(TraceFlags.SAMPLED),
        trace_state=started_by.trace_state if started_by else None,
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))


# --- the SDK, once per sandbox


class BufferingSpanProcessor(SpanProcessor):
    """Keeps ended spans in memory and hands them to `export` at flush: no thread, no encoding before the flush."""

    def __init__(self, export: Callable[[Sequence[ReadableSpan]], None]) -> None:
        self._export = export
        self._spans: list[ReadableSpan] = []
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        """Keep the span (sampled spans only) until the next flush."""
        if span.context is not None and span.context.trace_flags.sampled:
            with self._lock:
                self._spans.append(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every span kept so far."""
        with self._lock:
            spans, self._spans = self._spans, []
        if spans:
            self._export(spans)
        return True

    def shutdown(self) -> None:
        """Export what is left."""
        self.force_flush()


@dataclass
class StdoutSpanExporter:
    """Writes span lines to a stream (stdout by default, looked up at each write so test captures see it)."""

    stream: TextIO | None = None
    max_chars: int = MAX_LINE_CHARS
    lines_written: int = 0
    spans_written: int = 0

    def __call__(self, spans: Sequence[ReadableSpan]) -> None:
        """Encode and write the spans, one line per flush."""
        stream = self.stream or sys.stdout
        for line in encode_span_lines(spans, self.max_chars):
            stream.write(line + "\n")
            self.lines_written += 1
        stream.flush()
        self.spans_written += len(spans)


@dataclass(frozen=True)
class TelemetrySettings:
    """What the resource says about the function (names the Lambda runtime sets, and our deployment's)."""

    environment: str
    function_name: str
    function_version: str
    region: str
    memory_mb: str
    function_arn: str = ""


def telemetry_settings(
    env: Mapping[str, str], function_name: str | None = None, function_arn: str | None = None
) -> TelemetrySettings | None:
    """The settings when the deployment is named (telemetry on), None otherwise.

    `function_arn` is the invoked ARN from the first invocation's context (the environment has no ARN).
    """
    environment = env.get(settings.ENVIRONMENT, "").strip()
    if not environment or env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    return TelemetrySettings(
        environment=environment,
        function_name=env.get(settings.LAMBDA_FUNCTION_NAME) or function_name or "",
        function_version=env.get(settings.LAMBDA_FUNCTION_VERSION, ""),
        region=env.get(settings.AWS_REGION, ""),
        memory_mb=env.get(settings.LAMBDA_MEMORY_MB, ""),
        function_arn=unqualified_function_arn(function_arn or ""),
    )


def unqualified_function_arn(arn: str) -> str:
    """A Lambda function's ARN without the version or alias it was invoked through ("" if it is no such ARN)."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function":
        return ""
    return ":".join(parts[:7])


def resource_attributes(config: TelemetrySettings) -> dict[str, str | int]:
    """The resource of every span a function writes (service, deployment, cloud and FaaS attributes)."""
    attributes: dict[str, str | int] = {
        "service.name": SERVICE_NAME,
        "service.version": __version__,
        # Both spellings: backends read one or the other (the newer semantic conventions add `.name`).
        "deployment.environment": config.environment,
        "deployment.environment.name": config.environment,
        "cloud.provider": "aws",
        "cloud.platform": "aws_lambda",
        "telemetry.sdk.language": "python",
    }
    optional = {
        "cloud.region": config.region,
        "faas.name": config.function_name,
        "faas.version": config.function_version,
        # Datadog's OTLP intake ties a Lambda's spans to the function (and its trace metrics) by its ARN.
        "faas.id": config.function_arn,
        "cloud.resource_id": config.function_arn,
        "cloud.account.id": config.function_arn.split(":")[4] if config.function_arn else "",
    }
    attributes.update({key: value for key, value in optional.items() if value})
    if config.memory_mb.isdigit():
        attributes["faas.max_memory"] = int(config.memory_mb) * 1024 * 1024
    return attributes


@dataclass
class Telemetry:
    """The sandbox's tracer provider, its buffering processor and the stdout exporter."""

    config: TelemetrySettings
    exporter: StdoutSpanExporter = field(default_factory=StdoutSpanExporter)

    def __post_init__(self) -> None:
        self.processor = BufferingSpanProcessor(self.exporter)
        # No atexit hook: Lambda freezes sandboxes rather than exiting them; every invocation flushes instead.
        self.provider = TracerProvider(
            resource=Resource(resource_attributes(self.config)),
            shutdown_on_exit=False,
            span_limits=SpanLimits(max_attribute_length=MAX_ATTRIBUTE_LENGTH),
        )
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer(SERVICE_NAME, __version__)
        # Cutting long values (an exception's stack trace) to the span limit is the intent, not news for every
        # failed invocation's log: the SDK's warning about it is silenced.
        logging.getLogger("opentelemetry.attributes").setLevel(logging.ERROR)

    def flush(self) -> None:
        """Write every span ended since the last flush."""
        self.processor.force_flush()


_telemetry: Telemetry | None = None
_configured = False
_cold_start = True


def configure(
    env: Mapping[str, str] | None = None,
    *,
    function_name: str | None = None,
    function_arn: str | None = None,
    stream: TextIO | None = None,
) -> Telemetry | None:
    """Set up telemetry for this sandbox from its environment; None (and no spans) when it is off."""
    global _telemetry, _configured  # noqa: PLW0603 (one provider per sandbox)
    config = telemetry_settings(os.environ if env is None else env, function_name, function_arn)
    _telemetry = Telemetry(config, StdoutSpanExporter(stream)) if config is not None else None
    _configured = True
    return _telemetry


def reset() -> None:
    """Forget the configuration and the cold start, as a new sandbox would (for tests and benchmarks)."""
    global _telemetry, _configured, _cold_start
    _telemetry, _configured, _cold_start = None, False, True


def current() -> Telemetry | None:
    """The sandbox's telemetry, or None when it is off or not configured yet."""
    return _telemetry


def tracer() -> trace.Tracer:
    """The tracer spans are opened with; a no-op tracer when telemetry is off."""
    return _telemetry.tracer if _telemetry is not None else _NOOP_TRACER


def flush() -> None:
    """Write the spans ended so far; a failure to write is logged, never raised into the handler."""
    if _telemetry is None:
        return
    try:
        _telemetry.flush()
    except Exception:
        logger.exception("could not write this invocation's spans")


def set_attributes(attributes: Mapping[str, str | int | bool]) -> None:
    """Add attributes to the current span (e.g. a step's outcome, which span-based metrics count)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(attributes)


def record_error(error: BaseException, span: trace.Span | None = None) -> None:
    """Mark a span (the current one by default) as failed by `error`, with the exception as an event."""
    target = span if span is not None else trace.get_current_span()
    if not target.is_recording():
        return
    target.record_exception(error)
    target.set_attribute("error.type", type(error).__name__)
    target.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:MAX_ATTRIBUTE_LENGTH]))


# --- the handler span


@dataclass
class Invocation:
    """How one trigger's event becomes the FaaS span: its parent, kind, attributes and links."""

    parent: Context | None = None
    kind: SpanKind = SpanKind.SERVER
    name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    on_result: Callable[[trace.Span, Any], None] | None = None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def http_invocation(event: Any) -> Invocation:
    """An API Gateway HTTP API (payload v2) request: the server span, child of the caller's `traceparent`."""
    event = event if isinstance(event, Mapping) else {}
    request_context = _mapping(event.get("requestContext"))
    http = _mapping(request_context.get("http"))
    method = str(http.get("method") or "GET")
    route = event.get("routeKey") if isinstance(event.get("routeKey"), str) else None
    attributes: dict[str, Any] = {"http.request.method": method}
    for key, value in (
        ("url.path", event.get("rawPath") or http.get("path")),
        ("user_agent.original", http.get("userAgent")),
        ("client.address", http.get("sourceIp")),
        ("network.protocol.name", "http"),
    ):
        if isinstance(value, str) and value:
            attributes[key] = value
    name = f"{method} {http.get('path') or event.get('rawPath') or ''}".strip()
    if route and route != "$default":
        attributes["http.route"] = route.split(" ", 1)[-1]
        name = route

    def on_result(span: trace.Span, result: Any) -> None:
        status = result.get("statusCode") if isinstance(result, Mapping) else None
        if isinstance(status, int):
            span.set_attribute("http.response.status_code", status)
            # A server span is in error for 5xx only: a 4xx is the client's mistake.
            if status >= 500:
                span.set_attribute("error.type", str(status))
                span.set_status(Status(StatusCode.ERROR))

    headers = event.get("headers") if isinstance(event.get("headers"), Mapping) else None
    return Invocation(parent=extract_headers(headers), name=name, attributes=attributes, on_result=on_result)


def sns_invocation(event: Any) -> Invocation:
    """An SNS delivery: a consumer span, child of the publisher's span (SNS delivers one record per invocation).

    Should an event ever hold several records, the span is the child of the first one's publisher and links
    to every record's publisher.
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    records = [r for r in records if isinstance(r, Mapping)] if isinstance(records, list) else []
    contexts = [extract_sns_record(r) for r in records]
    links = [
        Link(span_context)
        for span_context in (trace.get_current_span(c).get_span_context() for c in contexts[1:])
        if span_context.is_valid
    ]
    sns = records[0].get("Sns") if records and isinstance(records[0].get("Sns"), Mapping) else {}
    topic = str(sns.get("TopicArn") or "").rsplit(":", 1)[-1]
    attributes: dict[str, Any] = {
        "messaging.system": "aws_sns",
        "messaging.operation.type": "process",
        "messaging.batch.message_count": len(records),
    }
    if topic:
        attributes["messaging.destination.name"] = topic
    if isinstance(sns.get("MessageId"), str):
        attributes["messaging.message.id"] = sns["MessageId"]
    return Invocation(
        parent=contexts[0] if contexts else None, kind=SpanKind.CONSUMER, attributes=attributes, links=links
    )


def step_invocation(event: Any) -> Invocation:
    """A Step Functions task (`lambda:invoke` with the state's context): the child of the state's span."""
    state_input = event.get("input") if isinstance(event, Mapping) else None
    context = event.get("context") if isinstance(event, Mapping) else None
    if not isinstance(context, Mapping):
        return Invocation()
    execution_arn, state_name = context.get("execution_id"), context.get("state_name")
    entered_time, retry_count = context.get("entered_time"), context.get("retry_count")
    attributes: dict[str, Any] = {}
    parent = None
    if isinstance(execution_arn, str) and isinstance(state_name, str) and isinstance(entered_time, str):
        attributes["aws.step_functions.execution.arn"] = execution_arn
        attributes["aws.step_functions.state.name"] = state_name
        try:
            parent = state_parent(execution_arn, state_name, entered_time, state_input)
        except ValueError:
            # An entered time we cannot read: the span still exists, as a root, and says why in its attributes.
            attributes["wikiroam.telemetry.parent_error"] = f"unreadable entered_time {entered_time!r:.60}"
    if isinstance(retry_count, int) and not isinstance(retry_count, bool):
        attributes["aws.step_functions.state.retry_count"] = retry_count
    return Invocation(parent=parent, attributes=attributes)


def traced_handler(
    describe: Callable[[Any], Invocation], *, trigger: Trigger, name: str, operation: str
) -> Callable[[Handler], Handler]:
    """Wrap a Lambda entry point in its FaaS span, and flush the invocation's spans when it ends, even failing.

    `name` is the span's name when the trigger gives none better (a stable name: physical function names
    change per stack); `operation` its `operation.name`, which names its trace metrics.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def traced(event: Any, context: Any) -> Any:
            global _cold_start
            if not _configured:
                configure(
                    function_name=getattr(context, "function_name", None),
                    function_arn=getattr(context, "invoked_function_arn", None),
                )
            telemetry = _telemetry
            if telemetry is None:
                return handler(event, context)
            cold_start, _cold_start = _cold_start, False
            try:
                invocation = describe(event)
                attributes: dict[str, Any] = {
                    "faas.trigger": trigger,
                    "faas.coldstart": cold_start,
                    OPERATION_NAME: operation,
                }
                request_id = getattr(context, "aws_request_id", None)
                if isinstance(request_id, str):
                    attributes["faas.invocation_id"] = request_id
                function_arn = getattr(context, "invoked_function_arn", None)
                if isinstance(function_arn, str):
                    attributes["cloud.resource_id"] = function_arn
                    parts = function_arn.split(":")
                    if len(parts) > 4 and parts[4].isdigit():
                        attributes["cloud.account.id"] = parts[4]
                attributes.update(invocation.attributes)
                with telemetry.tracer.start_as_current_span(
                    invocation.name or name,
                    context=invocation.parent,
                    kind=invocation.kind,
                    attributes=attributes,
                    links=invocation.links,
                    record_exception=False,
                    set_status_on_exception=False,
                ) as span:
                    try:
                        result = handler(event, context)
                    except BaseException as error:
                        record_error(error, span)
                        raise
                    if invocation.on_result is not None:
                        invocation.on_result(span, result)
                    return result
            finally:
                flush()

        return traced  # type: ignore[return-value]

    return decorate


# --- dependency spans for AWS calls, hooked into the clients' own events

_SPAN_KEY = "wikiroam.span"
_Client = TypeVar("_Client")


def instrument_client(client: _Client) -> _Client:
    """Give every call of a boto3 client a CLIENT span (rpc.*, aws.*, db.* attributes); returns the client.

    The hooks are botocore's own events, registered on this client only, so the data-access classes keep
    taking any client (a test's, moto's) and nothing is patched globally.
    """
    events = client.meta.events  # type: ignore[attr-defined]
    events.register("before-parameter-build", _start_aws_span, unique_id="wikiroam-telemetry-start")
    events.register("after-call", _end_aws_span, unique_id="wikiroam-telemetry-end")
    events.register("after-call-error", _fail_aws_span, unique_id="wikiroam-telemetry-error")
    return client


def aws_call_attributes(service: str, method: str, region: str | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes of one AWS API call, per the AWS SDK semantic conventions."""
    attributes: dict[str, Any] = {"rpc.system": "aws-api", "rpc.service": service, "rpc.method": method}
    if region:
        attributes["aws.region"] = region
        attributes["cloud.region"] = region
    if service == "DynamoDB":
        attributes["db.system"] = "dynamodb"
        attributes["db.operation.name"] = method
        tables = [params["TableName"]] if isinstance(params.get("TableName"), str) else []
        tables += [str(t) for t in params.get("RequestItems") or {}]
        if tables:
            attributes["aws.dynamodb.table_names"] = tables
        if isinstance(params.get("IndexName"), str):
            attributes["aws.dynamodb.index_name"] = params["IndexName"]
        if isinstance(params.get("ConsistentRead"), bool):
            attributes["aws.dynamodb.consistent_read"] = params["ConsistentRead"]
        if isinstance(params.get("Limit"), int):
            attributes["aws.dynamodb.limit"] = params["Limit"]
    elif service == "SNS" and isinstance(params.get("TopicArn"), str):
        attributes["messaging.destination.name"] = params["TopicArn"].rsplit(":", 1)[-1]
    elif service == "SFN" and isinstance(params.get("stateMachineArn"), str):
        attributes["aws.step_functions.state_machine.arn"] = params["stateMachineArn"]
    return attributes


def _start_aws_span(params: Mapping[str, Any], model: Any, context: MutableMapping[str, Any], **_: Any) -> None:
    if _telemetry is None:
        return
    service, method = str(model.service_model.service_id), str(model.name)
    attributes = aws_call_attributes(service, method, context.get("client_region"), params)
    current = trace.get_current_span()
    described = getattr(current, "attributes", None) or {}
    if current.is_recording() and (described.get("rpc.service"), described.get("rpc.method")) == (service, method):
        # The caller opened this call's span itself (a PRODUCER publish, the StartExecution that injects
        # `_trace`): add to it rather than nest a twin.
        current.set_attributes(attributes)
        context[_SPAN_KEY] = (current, False)
        return
    span = _telemetry.tracer.start_span(f"{service}.{method}", kind=SpanKind.CLIENT, attributes=attributes)
    context[_SPAN_KEY] = (span, True)


def _end_aws_span(http_response: Any, parsed: Mapping[str, Any], context: MutableMapping[str, Any], **_: Any) -> None:
    held = context.pop(_SPAN_KEY, None)
    if held is None:
        return
    span, owned = held
    status = getattr(http_response, "status_code", None)
    metadata = parsed.get("ResponseMetadata") if isinstance(parsed, Mapping) else None
    if isinstance(status, int):
        span.set_attribute("http.response.status_code", status)
    if isinstance(metadata, Mapping):
        if isinstance(metadata.get("RequestId"), str):
            span.set_attribute("aws.request_id", metadata["RequestId"])
        if metadata.get("RetryAttempts"):
            span.set_attribute("aws.retry_attempts", int(metadata["RetryAttempts"]))
    if isinstance(status, int) and status >= 300:
        error = parsed.get("Error") if isinstance(parsed, Mapping) else None
        code = str(error.get("Code")) if isinstance(error, Mapping) and error.get("Code") else str(status)
        span.set_attribute("error.type", code)
        span.set_status(Status(StatusCode.ERROR, code))
    if owned:
        span.end()


def _fail_aws_span(exception: BaseException, context: MutableMapping[str, Any], **_: Any) -> None:
    held = context.pop(_SPAN_KEY, None)
    if held is None:
        return
    span, owned = held
    record_error(exception, span)
    if owned:
        span.end()
