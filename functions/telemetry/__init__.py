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
ETL trace, deflate with a preset dictionary of those parts gives 174. The protobuf bytes are the official
encoder's (`opentelemetry-exporter-otlp-proto-common`), written by `otlp` with the standard library and held
equal to it byte for byte by a test: importing protobuf was most of a cold sandbox's first flush (bench.init),
and the dictionary is kept as data for the same reason. Only the shipper and the tools, which decode, import
protobuf.

Context crosses every hop as W3C tracecontext (+ baggage): HTTP headers into the api, SNS message attributes
into the trigger, the execution's name (`<pageid>-<traceparent>`, in every event the state machine logs) and
`_trace` in its input into the state machine. A cache step's span is the child of
its Step Functions state's span, whose id is derived from the execution ARN, the state's name and the time
it was entered (`state_span_id`): every attempt of the step and the shipper (which turns the state machine's
failure events into spans) derive the same id, so they meet without any coordination. The step that ends a
state writes the state's span, and the one that ends the execution the execution's (`StepState`): the state
machine logs at level ERROR, so no event of a successful state reaches the shipper.

Telemetry is on when `WIKIROAM_ENVIRONMENT` names the deployment (every deployed function has it); without it
the handlers run untraced and print nothing, as in a unit test that does not ask for spans.

The package, by concern (handlers and domain code import only this package's names):

| module | what |
|---|---|
| `lines` | the span-line format: encode, decode, the frozen preset dictionaries |
| `otlp` | OTLP protobuf bytes of SDK spans, with the standard library (the official encoder's bytes) |
| `ids` | the deterministic ids of Step Functions execution and state spans |
| `propagation` | W3C context in HTTP headers, SNS message attributes and the execution input |
| `sdk` | the sandbox's tracer provider, buffering processor and stdout exporter |
| `handlers` | the FaaS span around every Lambda entry point |
| `aws` | CLIENT spans for AWS calls, from the clients' own botocore events |
"""

from __future__ import annotations

from functions.contract import (
    API_OPERATION,
    OPERATION_NAME,
    SERVICE_NAME,
    SPAN_FILTER_PATTERN,
    SPAN_MARKER,
    STEP_OPERATION,
    TRACE_KEY,
    TRIGGER_OPERATION,
    WIKI_OPERATION,
)
from functions.telemetry.aws import aws_call_attributes, aws_call_span, instrument_client
from functions.telemetry.handlers import (
    EXECUTION_SPAN_NAME,
    EntrySpan,
    StepState,
    Trigger,
    http_invocation,
    sns_invocation,
    step_invocation,
    traced_handler,
)
from functions.telemetry.ids import epoch_ms, execution_span_id, execution_trace_id, state_span_id
from functions.telemetry.lines import (
    DICTIONARIES,
    DICTIONARY_VERSION,
    MAX_LINE_CHARS,
    decode_span_line,
    encode_span_lines,
    span_dictionary,
)
from functions.telemetry.propagation import (
    execution_parent,
    execution_started_by,
    extract_execution_trace,
    extract_headers,
    extract_sns_record,
    extract_trace_carrier,
    inject_headers,
    sns_message_attributes,
    state_parent,
    trace_carrier,
)
from functions.telemetry.sdk import (
    MAX_ATTRIBUTE_LENGTH,
    BufferingSpanProcessor,
    DerivedIdGenerator,
    SandboxTelemetry,
    StdoutSpanExporter,
    TelemetrySettings,
    configure,
    current,
    flush,
    record_error,
    reset,
    resource_attributes,
    set_attributes,
    telemetry_settings,
    tracer,
    unqualified_function_arn,
)

__all__ = [
    "API_OPERATION",
    "DICTIONARIES",
    "DICTIONARY_VERSION",
    "EXECUTION_SPAN_NAME",
    "MAX_ATTRIBUTE_LENGTH",
    "MAX_LINE_CHARS",
    "OPERATION_NAME",
    "SERVICE_NAME",
    "SPAN_FILTER_PATTERN",
    "SPAN_MARKER",
    "STEP_OPERATION",
    "TRACE_KEY",
    "TRIGGER_OPERATION",
    "WIKI_OPERATION",
    "BufferingSpanProcessor",
    "DerivedIdGenerator",
    "EntrySpan",
    "SandboxTelemetry",
    "StdoutSpanExporter",
    "StepState",
    "TelemetrySettings",
    "Trigger",
    "aws_call_attributes",
    "aws_call_span",
    "configure",
    "current",
    "decode_span_line",
    "encode_span_lines",
    "epoch_ms",
    "execution_parent",
    "execution_span_id",
    "execution_started_by",
    "execution_trace_id",
    "extract_execution_trace",
    "extract_headers",
    "extract_sns_record",
    "extract_trace_carrier",
    "flush",
    "http_invocation",
    "inject_headers",
    "instrument_client",
    "record_error",
    "reset",
    "resource_attributes",
    "set_attributes",
    "sns_invocation",
    "sns_message_attributes",
    "span_dictionary",
    "state_parent",
    "state_span_id",
    "step_invocation",
    "telemetry_settings",
    "trace_carrier",
    "traced_handler",
    "tracer",
    "unqualified_function_arn",
]
