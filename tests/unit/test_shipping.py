"""The shipper: CloudWatch batches decoded, Step Functions events turned to spans, requests split and retried."""

from __future__ import annotations

import base64
import gzip
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from functions import settings, telemetry
from functions.backoff import retry_after_seconds
from functions.errors import ConfigurationError
from functions.handlers import SandboxApp
from functions.handlers import shipper as shipper_handler
from functions.shipping import (
    METRIC_NAMESPACE,
    Endpoint,
    HttpAnswer,
    InvalidLogBatch,
    LogEvent,
    Shipper,
    TransportError,
    count_spans,
    decode_awslogs,
    iter_spans,
    parse_state_machine_event,
    split_requests,
    state_machine_spans,
)
from local.awslogs import encode_awslogs
from tests.support.telemetry import TEST_ENV, LambdaContext, attributes

ARN = "arn:aws:states:us-east-1:123456789012:express:wikiroam-cache:1000-95df01b4:3f2c5a1e"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
T0 = 1795806539000


def span_lines(count: int = 3) -> tuple[list[str], list[tuple[int, int]]]:
    """Span lines as a function writes them, and the (trace id, span id) of every span in them."""
    stream = io.StringIO()
    demo = telemetry.SandboxTelemetry(telemetry.telemetry_settings(TEST_ENV), telemetry.StdoutSpanExporter(stream))
    ids = []
    with demo.tracer.start_as_current_span("root") as root:
        ids.append(root.get_span_context())
        for i in range(count - 1):
            with demo.tracer.start_as_current_span(f"child-{i}") as child:
                ids.append(child.get_span_context())
    demo.flush()
    return stream.getvalue().splitlines(), [(c.trace_id, c.span_id) for c in ids]


def machine_event(event_id: int, kind: str, at: int, *, arn: str = ARN, **details) -> str:
    """A Step Functions log event as the state machine's log group holds it."""
    return json.dumps(
        {
            "id": str(event_id),
            "type": kind,
            "details": details,
            "previous_event_id": str(event_id - 1),
            "event_timestamp": str(at),
            "execution_arn": arn,
        }
    )


STATE_INPUT = json.dumps(
    {"page": {"pageid": 1000, "title": "Zürich"}, "reason": "search", "_trace": {"traceparent": TRACEPARENT}}
)


def execution_with_a_retry() -> list[str]:
    """CacheStart succeeds; CacheInfo fails once (WikiUnavailable) and succeeds on its retry; then Cached."""
    return [
        machine_event(1, "ExecutionStarted", T0, input=STATE_INPUT, roleArn="arn:aws:iam::123456789012:role/x"),
        machine_event(2, "TaskStateEntered", T0 + 10, name="CacheStart", input=STATE_INPUT),
        machine_event(3, "TaskScheduled", T0 + 11, resourceType="lambda", resource="invoke"),
        machine_event(4, "TaskStarted", T0 + 12),
        machine_event(5, "TaskSucceeded", T0 + 80, output="{}"),
        machine_event(6, "TaskStateExited", T0 + 81, name="CacheStart", output=STATE_INPUT),
        machine_event(7, "ChoiceStateEntered", T0 + 82, name="Claimed?", input=STATE_INPUT),
        machine_event(8, "ChoiceStateExited", T0 + 83, name="Claimed?", output=STATE_INPUT),
        machine_event(9, "TaskStateEntered", T0 + 84, name="CacheInfo", input=STATE_INPUT),
        machine_event(10, "TaskScheduled", T0 + 85),
        machine_event(11, "TaskFailed", T0 + 300, error="WikiUnavailable", cause='{"errorMessage": "503"}'),
        machine_event(12, "TaskScheduled", T0 + 2300),
        machine_event(13, "TaskSucceeded", T0 + 2400, output="{}"),
        machine_event(14, "TaskStateExited", T0 + 2401, name="CacheInfo", output=STATE_INPUT),
        machine_event(15, "SucceedStateEntered", T0 + 2402, name="Cached", input=STATE_INPUT),
        machine_event(16, "SucceedStateExited", T0 + 2402, name="Cached", output=STATE_INPUT),
        machine_event(17, "ExecutionSucceeded", T0 + 2403, output=STATE_INPUT),
    ]


def spans_of(messages: list[str]) -> tuple[dict[str, Span], int]:
    events = [parse_state_machine_event(m) for m in messages]
    resource_spans, unpaired = state_machine_spans(events, {"service.name": "wikiroam"})
    spans = {s.name: s for s in resource_spans.scope_spans[0].spans} if resource_spans else {}
    return spans, unpaired


# --- decoding


def test_given_a_real_shaped_awslogs_event_then_its_span_lines_decode_with_identical_ids():
    lines, ids = span_lines(3)
    events = [
        LogEvent("1", T0, "START RequestId: c0ffee00 Version: $LATEST\n"),
        *(LogEvent(str(i + 2), T0 + 1, line + "\n") for i, line in enumerate(lines)),
        LogEvent("9", T0 + 2, "END RequestId: c0ffee00\n"),
    ]
    batch = decode_awslogs(encode_awslogs("wikiroam-api-handler-logs", "2026/11/27/[$LATEST]abc", events))
    assert batch.log_group == "wikiroam-api-handler-logs"
    assert len(lines) == 1  # one flush, one line
    assert len(batch.events) == 3
    requests = [telemetry.decode_span_line(e.message) for e in batch.events]
    decoded = [
        (int.from_bytes(s.trace_id, "big"), int.from_bytes(s.span_id, "big"))
        for s in iter_spans(r for r in requests if r is not None)
    ]
    assert sorted(decoded) == sorted(ids)


def test_given_a_control_message_then_no_events():
    event = encode_awslogs("g", "s", [])
    document = {"messageType": "CONTROL_MESSAGE", "logGroup": "", "logStream": "", "logEvents": [{"id": "1"}]}
    event["awslogs"]["data"] = base64.b64encode(gzip.compress(json.dumps(document).encode())).decode()
    assert decode_awslogs(event).events == ()


@pytest.mark.parametrize(
    "event", [{}, {"awslogs": {}}, {"awslogs": {"data": "not base64!"}}, {"awslogs": {"data": "aGVsbG8="}}]
)
def test_given_an_event_that_is_not_a_subscription_batch_then_invalid_log_batch(event):
    with pytest.raises(InvalidLogBatch):
        decode_awslogs(event)


# --- Step Functions events -> spans


NAMED = f"arn:aws:states:us-east-1:123456789012:express:wikiroam-cache:1000-{TRACEPARENT}:3f2c5a1e"


def test_given_a_whole_execution_at_level_all_then_spans_for_the_states_no_step_writes_and_the_failed_attempt():
    spans, unpaired = spans_of(execution_with_a_retry())
    assert unpaired == 0
    # The task states' spans and the execution's are the steps' own (telemetry.StepState): none is written twice.
    assert set(spans) == {"Claimed?", "Cached", "TaskFailed"}
    execution_id = telemetry.execution_span_id(ARN).to_bytes(8, "big")
    for name, entered in (("Claimed?", T0 + 82), ("Cached", T0 + 2402)):
        state = spans[name]
        assert state.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert state.parent_span_id == execution_id
        assert int.from_bytes(state.span_id, "big") == telemetry.state_span_id(ARN, name, str(entered))
    assert spans["Claimed?"].end_time_unix_nano == (T0 + 83) * 10**6


def test_given_a_failed_attempt_at_level_all_then_an_error_span_under_the_state_span_the_step_derives():
    spans, _ = spans_of(execution_with_a_retry())
    failed = spans["TaskFailed"]
    # The step function sees EnteredTime as an ISO string; both sides must land on the same id.
    entered_iso = "2026-11-27T19:08:59.084Z"
    assert telemetry.epoch_ms(entered_iso) == T0 + 84
    assert int.from_bytes(failed.parent_span_id, "big") == telemetry.state_span_id(ARN, "CacheInfo", entered_iso)
    assert failed.status.code == Status.STATUS_CODE_ERROR
    assert attributes(failed)["error.type"] == "WikiUnavailable"
    assert attributes(failed)["aws.step_functions.state.name"] == "CacheInfo"
    assert attributes(failed)["aws.step_functions.state.retry_count"] == 0
    assert (failed.start_time_unix_nano, failed.end_time_unix_nano) == ((T0 + 85) * 10**6, (T0 + 300) * 10**6)
    assert [e.name for e in failed.events] == ["exception"]


def test_given_a_retried_attempt_at_level_error_then_one_error_span_under_the_execution_in_the_names_trace():
    # Level ERROR: a state that fails once and then succeeds leaves one event, which names no state.
    messages = [machine_event(11, "TaskFailed", T0 + 300, arn=NAMED, error="WikiRateLimited", cause="429")]
    spans, unpaired = spans_of(messages)
    assert unpaired == 0
    (failed,) = spans.values()
    assert failed.name == "TaskFailed"
    assert failed.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert int.from_bytes(failed.parent_span_id, "big") == telemetry.execution_span_id(NAMED)
    assert attributes(failed)["error.type"] == "WikiRateLimited"
    assert failed.status.code == Status.STATUS_CODE_ERROR


def test_given_a_failed_execution_at_level_error_then_the_failed_attempt_and_the_fail_state_are_errors():
    messages = [
        machine_event(4, "TaskFailed", T0 + 3, arn=NAMED, error="ClaimLost", cause="page 1000 is no longer claimed"),
        machine_event(9, "FailStateEntered", T0 + 5, arn=NAMED, name="CachingFailed"),
        machine_event(10, "ExecutionFailed", T0 + 6, arn=NAMED, error="ClaimLost", cause="page 1000 is not claimed"),
    ]
    spans, unpaired = spans_of(messages)
    assert unpaired == 0
    # The execution's span is RecordFailure's (it ends the execution): not written here.
    assert set(spans) == {"TaskFailed", "CachingFailed"}
    assert attributes(spans["TaskFailed"])["error.type"] == "ClaimLost"
    # A Fail state has no Exited event: it ends with the execution.
    failed = spans["CachingFailed"]
    assert failed.end_time_unix_nano == (T0 + 6) * 10**6
    assert failed.status.code == Status.STATUS_CODE_ERROR
    assert "ClaimLost" in failed.status.message
    assert int.from_bytes(failed.parent_span_id, "big") == telemetry.execution_span_id(NAMED)


def test_given_an_execution_that_timed_out_then_the_shipper_writes_its_span_under_start_execution():
    messages = [
        machine_event(7, "TaskTimedOut", T0 + 290_000, arn=NAMED, error="States.Timeout"),
        machine_event(8, "ExecutionTimedOut", T0 + 300_000, arn=NAMED, error="States.Timeout"),
    ]
    spans, _ = spans_of(messages)
    execution = spans["StepFunctions.Execution"]
    assert int.from_bytes(execution.span_id, "big") == telemetry.execution_span_id(NAMED)
    assert execution.parent_span_id.hex() == "b7ad6b7169203331"
    assert execution.status.code == Status.STATUS_CODE_ERROR
    assert attributes(execution)["aws.step_functions.execution.status"] == "TIMEDOUT"
    assert spans["TaskTimedOut"].parent_span_id == execution.span_id


def test_given_a_batch_with_half_a_state_then_only_complete_states_become_spans_and_the_rest_is_counted():
    messages = execution_with_a_retry()
    first, second = messages[:7], messages[7:]  # Claimed? entered in the first, exited in the second
    spans, unpaired = spans_of(first)
    assert set(spans) == set()
    assert unpaired == 1
    spans, unpaired = spans_of(second)
    assert set(spans) == {"TaskFailed", "Cached"}
    assert unpaired == 1
    assert spans["Cached"].trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_given_events_without_execution_data_then_the_name_carries_the_trace_and_every_span_keeps_its_parent():
    data = {"input", "output", "parameters"}
    messages = []
    for message in execution_with_a_retry():
        event = json.loads(message)
        event["execution_arn"] = NAMED
        event["details"] = {k: v for k, v in event["details"].items() if k not in data}
        messages.append(json.dumps(event))
    spans, unpaired = spans_of(messages)
    assert unpaired == 0
    assert set(spans) == {"Claimed?", "TaskFailed", "Cached"}
    execution_id = telemetry.execution_span_id(NAMED).to_bytes(8, "big")
    for name in ("Claimed?", "Cached"):
        assert spans[name].trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert spans[name].parent_span_id == execution_id
    entered = telemetry.state_span_id(NAMED, "CacheInfo", str(T0 + 84))
    assert int.from_bytes(spans["TaskFailed"].parent_span_id, "big") == entered


def test_given_an_execution_started_without_trace_then_its_spans_share_the_execution_derived_trace():
    plain = json.dumps({"page": {"pageid": 1, "title": "A"}, "reason": "page"})
    messages = [
        machine_event(1, "ExecutionStarted", T0, input=plain),
        machine_event(2, "SucceedStateEntered", T0 + 1, name="Cached", input=plain),
        machine_event(3, "SucceedStateExited", T0 + 2, name="Cached", output=plain),
        machine_event(4, "ExecutionSucceeded", T0 + 3, output=plain),
    ]
    spans, _ = spans_of(messages)
    assert {int.from_bytes(s.trace_id, "big") for s in spans.values()} == {telemetry.execution_trace_id(ARN)}
    assert int.from_bytes(spans["Cached"].parent_span_id, "big") == telemetry.execution_span_id(ARN)


def test_given_messages_that_are_not_state_machine_events_then_they_are_ignored():
    assert parse_state_machine_event("REPORT RequestId: 1 Duration: 2 ms") is None
    assert parse_state_machine_event('{"level": "info"}') is None
    assert parse_state_machine_event("{not json") is None


# --- splitting


def many_spans(count: int, pad: int) -> ExportTraceServiceRequest:
    stream = io.StringIO()
    demo = telemetry.SandboxTelemetry(telemetry.telemetry_settings(TEST_ENV), telemetry.StdoutSpanExporter(stream))
    for i in range(count):
        with demo.tracer.start_as_current_span(f"s{i}", attributes={"pad": "x" * pad}):
            pass
    demo.flush()
    (request,) = [telemetry.decode_span_line(line) for line in stream.getvalue().splitlines()]
    return request


def test_given_more_bytes_than_the_limit_then_requests_are_split_under_it_and_keep_every_span_in_order():
    request = many_spans(200, 400)
    assert request.ByteSize() > 20_000
    split = split_requests([request, request], 20_000)
    assert len(split.requests) > 2
    assert all(r.ByteSize() <= 20_000 for r in split.requests)
    assert [s.name for s in iter_spans(split.requests)] == [s.name for s in iter_spans([request, request])]
    assert split.oversized_spans == 0
    resource = split.requests[-1].resource_spans[0].resource
    assert resource == request.resource_spans[0].resource


def test_given_a_request_under_the_limit_then_it_is_sent_as_one():
    request = many_spans(5, 10)
    split = split_requests([request], 3_200_000)
    assert len(split.requests) == 1
    assert count_spans(split.requests[0]) == 5


def test_given_a_span_larger_than_the_limit_alone_then_it_is_dropped_and_counted(caplog):
    request = many_spans(3, 1500)
    split = split_requests([request], 1_000)
    assert split.oversized_spans == 3
    assert split.requests == []
    assert "exceeds the 1000-byte request limit" in caplog.text


# --- posting


class FakeTransport:
    """Answers from a script: an HttpAnswer, or TransportError to raise; records each request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def post(self, url, body, headers, timeout):
        self.sent.append((url, body, dict(headers)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok():
    return HttpAnswer(200, {}, b"")


def make_shipper(transport, sleeps, **kwargs):
    return Shipper(
        endpoint=Endpoint("https://otlp.example/v1/traces", {"dd-api-key": "k"}),
        transport=transport,
        max_request_bytes=kwargs.pop("max_request_bytes", 3_200_000),
        environment="test",
        sleep=sleeps.append,
        jitter=lambda low, high: high,
        metrics=io.StringIO(),
        **kwargs,
    )


@pytest.mark.parametrize("failure", [HttpAnswer(429, {}, b""), HttpAnswer(503, {}, b""), TransportError("reset")])
def test_given_a_transient_failure_then_the_request_is_retried_and_ships(failure):
    transport, sleeps = FakeTransport(failure, failure, ok()), []
    result = make_shipper(transport, sleeps).ship([many_spans(4, 10)])
    assert (result.spans_shipped, result.spans_dropped, result.requests_sent) == (4, 0, 3)
    assert sleeps == [0.5, 1.0]  # the backoff's ceiling doubles (the test's jitter takes the ceiling)
    url, body, headers = transport.sent[-1]
    assert url == "https://otlp.example/v1/traces"
    assert headers == {"dd-api-key": "k", "content-type": "application/x-protobuf"}
    assert count_spans(ExportTraceServiceRequest.FromString(body)) == 4


def test_given_retry_after_then_the_shipper_waits_that_long():
    transport, sleeps = FakeTransport(HttpAnswer(429, {"retry-after": "3"}, b""), ok()), []
    assert make_shipper(transport, sleeps).ship([many_spans(1, 10)]).spans_shipped == 1
    assert sleeps == [3.0]


@pytest.mark.parametrize("status", [400, 413, 403])
def test_given_a_client_error_then_no_retry_and_the_drop_is_logged_with_the_count(status, caplog):
    transport, sleeps = FakeTransport(HttpAnswer(status, {}, b"payload too large")), []
    result = make_shipper(transport, sleeps).ship([many_spans(4, 10)])
    assert (result.spans_shipped, result.spans_dropped, len(transport.sent)) == (0, 4, 1)
    assert sleeps == []
    assert f"HTTP {status} (not retried): 4 spans dropped" in caplog.text


def test_given_an_endpoint_that_stays_down_then_attempts_are_bounded_and_the_spans_counted_dropped(caplog):
    transport, sleeps = FakeTransport(*[HttpAnswer(502, {}, b"")] * 5), []
    result = make_shipper(transport, sleeps, max_attempts=5).ship([many_spans(2, 10)])
    assert (result.spans_dropped, result.requests_sent) == (2, 5)
    assert len(sleeps) == 4
    assert max(sleeps) <= 8.0
    assert "after 5 attempts (HTTP 502): 2 spans dropped" in caplog.text


def test_given_no_time_left_then_no_retry_is_started():
    transport, sleeps = FakeTransport(HttpAnswer(503, {}, b""), ok()), []
    result = make_shipper(transport, sleeps).ship([many_spans(1, 10)], seconds_left=lambda: 5.0)
    assert result.spans_dropped == 1
    assert sleeps == []


def test_given_no_endpoint_then_every_span_is_logged_dropped(caplog):
    shipper = Shipper(endpoint=None, transport=FakeTransport(), max_request_bytes=3_200_000, metrics=io.StringIO())
    assert shipper.ship([many_spans(3, 10)]).spans_dropped == 3
    assert "no OTLP endpoint is configured: 3 spans dropped" in caplog.text


def test_given_a_batch_then_one_emf_line_counts_shipped_and_dropped():
    lines, _ = span_lines(3)
    transport, sleeps = FakeTransport(HttpAnswer(413, {}, b"")), []
    shipper = make_shipper(transport, sleeps)
    batch = decode_awslogs(encode_awslogs("g", "s", [LogEvent("1", T0, lines[0]), LogEvent("2", T0, "OTLPv1 !!!")]))
    result = shipper.ship_batch(batch)
    assert (result.spans_dropped, result.damaged_lines) == (3, 1)
    metric = json.loads(shipper.metrics.getvalue())
    directive = metric["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == METRIC_NAMESPACE == "WikiRoam/Telemetry"
    assert {m["Name"] for m in directive["Metrics"]} >= {"SpansShipped", "SpansDropped"}
    assert (metric["SpansDropped"], metric["SpansShipped"], metric["SpanLinesDamaged"]) == (3, 0, 1)
    assert metric["Environment"] == "test"


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Fri, 27 Nov 2026 19:09:09 GMT", now=1795806539.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# --- configuration


def test_given_the_otel_variables_then_they_name_the_endpoint_and_headers():
    config = settings.shipper_settings(
        {settings.OTLP_ENDPOINT: "http://127.0.0.1:4318/", settings.OTLP_HEADERS: "dd-api-key=a%3Db,X-Other=1"}
    )
    assert config.traces_url == "http://127.0.0.1:4318/v1/traces"
    assert config.headers == {"dd-api-key": "a=b", "x-other": "1"}
    explicit = settings.shipper_settings({settings.OTLP_TRACES_ENDPOINT: "https://collector.example/custom/path"})
    assert explicit.traces_url == "https://collector.example/custom/path"
    assert explicit.max_request_bytes == 3_200_000


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, settings.OTLP_SECRET_ARN),
        ({settings.OTLP_ENDPOINT: "localhost:4318"}, settings.OTLP_ENDPOINT),
        ({settings.OTLP_SECRET_ARN: "my-secret"}, settings.OTLP_SECRET_ARN),
        ({settings.OTLP_ENDPOINT: "http://h", settings.OTLP_HEADERS: "novalue"}, settings.OTLP_HEADERS),
    ],
)
def test_given_a_bad_shipper_environment_then_configuration_error_naming_the_variable(env, named):
    with pytest.raises(ConfigurationError, match=named):
        settings.shipper_settings(env)


def test_given_the_secret_then_the_endpoint_and_headers_come_from_it_read_once():
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:wikiroam-telemetry-endpoint-AbCdEf"
    reads = []

    def reader(secret_arn):
        reads.append(secret_arn)
        return json.dumps({"endpoint": "https://otlp.datadoghq.com", "headers": {"DD-API-KEY": "k"}})

    shipper = shipper_handler.build({settings.OTLP_SECRET_ARN: arn, settings.ENVIRONMENT: "prod"}, reader)
    assert shipper.endpoint == Endpoint("https://otlp.datadoghq.com/v1/traces", {"dd-api-key": "k"})
    assert reads == [arn]
    empty = shipper_handler.endpoint_from_secret(json.dumps({"endpoint": "", "headers": {}}), arn)
    assert empty is None
    with pytest.raises(ConfigurationError, match="not JSON"):
        shipper_handler.endpoint_from_secret("nope", arn)


# --- the handler, against a loopback OTLP receiver


class Receiver(BaseHTTPRequestHandler):
    """Keeps every export request POSTed to /v1/traces."""

    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((self.path, self.headers["Content-Type"], self.headers["dd-api-key"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_given_a_batch_when_the_handler_runs_then_the_receiver_gets_the_same_spans(receiver, monkeypatch, capsys):
    monkeypatch.setenv(settings.OTLP_ENDPOINT, receiver)
    monkeypatch.setenv(settings.OTLP_HEADERS, "dd-api-key=secret")
    monkeypatch.setenv(settings.ENVIRONMENT, "test")
    monkeypatch.setattr(shipper_handler, "app", SandboxApp(shipper_handler.build))
    lines, ids = span_lines(3)
    events = [
        LogEvent("1", T0, lines[0]),
        *(LogEvent(str(i + 2), T0, m) for i, m in enumerate(execution_with_a_retry())),
    ]
    result = shipper_handler.handler(encode_awslogs("wikiroam-cache-info-logs", "s", events), LambdaContext())
    assert result["spans_shipped"] == 3 + 3  # the span lines', and Claimed?, TaskFailed and Cached
    assert result["spans_dropped"] == 0
    ((path, content_type, key, body),) = Receiver.received
    assert (path, content_type, key) == ("/v1/traces", "application/x-protobuf", "secret")
    shipped = ExportTraceServiceRequest.FromString(body)
    shipped_ids = {(int.from_bytes(s.trace_id, "big"), int.from_bytes(s.span_id, "big")) for s in iter_spans([shipped])}
    assert set(ids) <= shipped_ids
    # The shipper prints its metric line, and never a span line of its own (no loop through its logs).
    output = capsys.readouterr().out
    assert telemetry.SPAN_MARKER not in output
    assert json.loads(output.splitlines()[-1])["SpansShipped"] == 6
