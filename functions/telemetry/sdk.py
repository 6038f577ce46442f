"""The OpenTelemetry SDK, set up once per sandbox: a buffering processor and an exporter that prints span lines.

Every invocation's spans are kept in memory and written when it ends (success or failure), one line per flush:
no thread, no network. Telemetry is on when `WIKIROAM_ENVIRONMENT` names the deployment.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TextIO

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import Status, StatusCode

from functions import __version__, settings
from functions.contract import SERVICE_NAME
from functions.telemetry.lines import MAX_LINE_CHARS, encode_span_lines

logger = logging.getLogger("functions.telemetry")

# Bounds what one attribute can add to a line (a long URL, an exception message).
MAX_ATTRIBUTE_LENGTH = 2048
_NOOP_TRACER = trace.NoOpTracer()


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


# No dataclasses in this package: defining one costs 0.4-0.7 ms of CPU, paid at every cold start (bench.init);
# a plain class or a NamedTuple costs a tenth of it.
class StdoutSpanExporter:
    """Writes span lines to a stream (stdout by default, looked up at each write so test captures see it)."""

    def __init__(self, stream: TextIO | None = None, max_chars: int = MAX_LINE_CHARS) -> None:
        self.stream = stream
        self.max_chars = max_chars
        self.lines_written = 0
        self.spans_written = 0

    def __call__(self, spans: Sequence[ReadableSpan]) -> None:
        """Encode and write the spans, one line per flush."""
        stream = self.stream or sys.stdout
        for line in encode_span_lines(spans, self.max_chars):
            stream.write(line + "\n")
            self.lines_written += 1
        stream.flush()
        self.spans_written += len(spans)


class TelemetrySettings(NamedTuple):
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


class DerivedIdGenerator(RandomIdGenerator):
    """Random ids, except for the span a step writes for its Step Functions state or execution: that span's id
    (and, for an execution started without a trace, its trace's) is derived (`ids`), so that every attempt's
    span and the shipper's spans name it as their parent."""

    def __init__(self) -> None:
        self._next = threading.local()

    def generate_span_id(self) -> int:
        """The id given to `derive`, once, in this thread; a random one otherwise."""
        span_id: int | None = getattr(self._next, "span_id", None)
        self._next.span_id = None
        return span_id if span_id is not None else super().generate_span_id()

    def generate_trace_id(self) -> int:
        """The trace id given to `derive`, once, in this thread; a random one otherwise."""
        trace_id: int | None = getattr(self._next, "trace_id", None)
        self._next.trace_id = None
        return trace_id if trace_id is not None else super().generate_trace_id()

    def derive(self, span_id: int | None, trace_id: int | None = None) -> None:
        """The ids of the next span this thread starts (None: random)."""
        self._next.span_id, self._next.trace_id = span_id, trace_id


class SandboxTelemetry:
    """The sandbox's tracer provider, its buffering processor and the stdout exporter."""

    def __init__(self, config: TelemetrySettings, exporter: StdoutSpanExporter | None = None) -> None:
        self.config = config
        self.exporter = exporter if exporter is not None else StdoutSpanExporter()
        self.processor = BufferingSpanProcessor(self.exporter)
        # No atexit hook: Lambda freezes sandboxes rather than exiting them; every invocation flushes instead.
        self.ids = DerivedIdGenerator()
        self.provider = TracerProvider(
            resource=Resource(resource_attributes(self.config)),
            shutdown_on_exit=False,
            span_limits=SpanLimits(max_attribute_length=MAX_ATTRIBUTE_LENGTH),
            id_generator=self.ids,
        )
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer(SERVICE_NAME, __version__)
        # Cutting long values (an exception's stack trace) to the span limit is the intent, not news for every
        # failed invocation's log: the SDK's warning about it is silenced.
        logging.getLogger("opentelemetry.attributes").setLevel(logging.ERROR)

    def flush(self) -> None:
        """Write every span ended since the last flush."""
        self.processor.force_flush()

    def start_span_with_id(self, span_id: int, name: str, *, trace_id: int | None = None, **options: Any) -> trace.Span:
        """A span (not made current) whose id is `span_id`, and whose trace is `trace_id` when it has no parent;
        `options` are the tracer's `start_span` arguments."""
        self.ids.derive(span_id, trace_id)
        try:
            return self.tracer.start_span(name, **options)
        finally:
            self.ids.derive(None)


_telemetry: SandboxTelemetry | None = None
_configured = False
_cold_start = True


def configure_once(function_name: str | None, function_arn: str | None) -> SandboxTelemetry | None:
    """The sandbox's telemetry, configured from its environment at its first invocation."""
    if not _configured:
        configure(function_name=function_name, function_arn=function_arn)
    return _telemetry


def take_cold_start() -> bool:
    """True for the sandbox's first invocation only."""
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    return cold_start


def configure(
    env: Mapping[str, str] | None = None,
    *,
    function_name: str | None = None,
    function_arn: str | None = None,
    stream: TextIO | None = None,
) -> SandboxTelemetry | None:
    """Set up telemetry for this sandbox from its environment; None (and no spans) when it is off."""
    global _telemetry, _configured  # noqa: PLW0603 (one provider per sandbox)
    config = telemetry_settings(os.environ if env is None else env, function_name, function_arn)
    _telemetry = SandboxTelemetry(config, StdoutSpanExporter(stream)) if config is not None else None
    _configured = True
    return _telemetry


def reset() -> None:
    """Forget the configuration and the cold start, as a new sandbox would (for tests and benchmarks)."""
    global _telemetry, _configured, _cold_start
    _telemetry, _configured, _cold_start = None, False, True


def current() -> SandboxTelemetry | None:
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
