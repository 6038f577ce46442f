"""The telemetry module: span lines, ids, carriers, and the FaaS span every handler gets."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from opentelemetry import trace
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.trace import SpanKind

from functions import __version__, settings, telemetry
from functions.messages import PageRef, execution_input
from tests.conftest import EVENTS, load_event
from tests.support.telemetry import TEST_ENV, LambdaContext, attributes

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
TRACE_ID = int("4bf92f3577b34da6a3ce929d0e0e4736", 16)
PARENT_ID = int("b7ad6b7169203331", 16)


# --- span lines


def test_given_spans_when_flushed_then_one_marked_line_parses_back_with_identical_ids(span_log):
    tracer = telemetry.tracer()
    with tracer.start_as_current_span("outer") as outer, tracer.start_as_current_span("inner") as inner:
        pass
    telemetry.flush()
    (line,) = span_log.lines()
    assert line.startswith(telemetry.SPAN_MARKER + " ")
    (request,) = span_log.requests()
    decoded = {s.name: s for s in request.resource_spans[0].scope_spans[0].spans}
    for name, span in (("outer", outer), ("inner", inner)):
        assert int.from_bytes(decoded[name].trace_id, "big") == span.get_span_context().trace_id
        assert int.from_bytes(decoded[name].span_id, "big") == span.get_span_context().span_id
    assert decoded["inner"].parent_span_id == decoded["outer"].span_id


def test_given_telemetry_on_then_the_resource_names_service_version_deployment_and_function(span_log):
    with telemetry.tracer().start_as_current_span("x"):
        pass
    telemetry.flush()
    resource = attributes(span_log.requests()[0].resource_spans[0].resource)
    assert resource["service.name"] == "wikiroam"
    assert resource["service.version"] == __version__
    assert resource["deployment.environment"] == "test"
    assert resource["cloud.provider"] == "aws"
    assert resource["cloud.region"] == "us-east-1"
    assert resource["faas.name"] == "wikiroam-test-function"
    assert resource["faas.version"] == "$LATEST"
    assert resource["faas.max_memory"] == 512 * 1024 * 1024


def test_given_nothing_ended_when_flushed_then_nothing_is_written(span_log):
    telemetry.flush()
    assert span_log.lines() == []


def test_given_more_spans_than_a_line_holds_then_they_are_split_over_lines_and_none_is_lost():
    stream = io.StringIO()
    exporter = telemetry.StdoutSpanExporter(stream, max_chars=2_000)
    provider_telemetry = telemetry.SandboxTelemetry(telemetry.telemetry_settings(TEST_ENV), exporter)
    for i in range(60):
        with provider_telemetry.tracer.start_as_current_span(f"span-{i}", attributes={"i": i, "pad": "x" * 100}):
            pass
    provider_telemetry.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) > 1
    assert all(len(line) <= 2_000 for line in lines)
    names = [s.name for line in lines for s in telemetry.decode_span_line(line).resource_spans[0].scope_spans[0].spans]
    assert names == [f"span-{i}" for i in range(60)]


def test_given_a_log_message_with_text_around_the_line_then_it_still_decodes_and_others_do_not():
    stream = io.StringIO()
    demo = telemetry.SandboxTelemetry(telemetry.telemetry_settings(TEST_ENV), telemetry.StdoutSpanExporter(stream))
    with demo.tracer.start_as_current_span("x"):
        pass
    demo.flush()
    line = stream.getvalue().strip()
    assert telemetry.decode_span_line(f"2026-11-27T19:08:59Z {line}\n") is not None
    assert telemetry.decode_span_line("START RequestId: 1 Version: $LATEST") is None
    with pytest.raises(ValueError, match="damaged"):
        telemetry.decode_span_line(line[: len(line) // 2])


def test_given_no_deployment_name_then_telemetry_is_off_and_spans_are_no_ops():
    telemetry.reset()
    try:
        assert telemetry.configure({settings.AWS_REGION: "us-east-1"}) is None
        span = telemetry.tracer().start_span("x")
        assert not span.is_recording()
        assert telemetry.inject_headers() == {}
    finally:
        telemetry.reset()


# --- deterministic ids


@pytest.mark.parametrize(
    "entered",
    ["2026-11-27T19:08:59.097Z", "2026-11-27T19:08:59.097624+00:00", "1795806539097", 1795806539097],
)
def test_given_each_form_of_the_entered_time_then_the_state_span_id_is_the_same(entered):
    arn = "arn:aws:states:us-east-1:123456789012:express:wikiroam-cache:1000-abc:3f2c"
    assert telemetry.epoch_ms(entered) == 1795806539097
    expected = hashlib.sha256(f"{arn}#CacheStart#1795806539097".encode()).digest()[:8]
    assert telemetry.state_span_id(arn, "CacheStart", entered) == int.from_bytes(expected, "big")


def test_given_another_state_or_entry_then_another_span_id():
    arn = "arn:aws:states:us-east-1:123456789012:express:m:e:1"
    ids = {
        telemetry.state_span_id(arn, "CacheStart", "1000"),
        telemetry.state_span_id(arn, "CacheInfo", "1000"),
        telemetry.state_span_id(arn, "CacheStart", "1001"),
        telemetry.state_span_id(arn + "x", "CacheStart", "1000"),
        telemetry.execution_span_id(arn),
    }
    assert len(ids) == 5


# --- carriers


def test_given_a_span_when_its_http_headers_are_extracted_then_the_context_round_trips(span_log):
    with telemetry.tracer().start_as_current_span("caller") as caller:
        headers = telemetry.inject_headers()
    assert headers["traceparent"].split("-")[2] == f"{caller.get_span_context().span_id:016x}"
    context = trace.get_current_span(telemetry.extract_headers({"TraceParent": headers["traceparent"]}))
    assert context.get_span_context().trace_id == caller.get_span_context().trace_id
    assert context.get_span_context().span_id == caller.get_span_context().span_id


def test_given_sns_attributes_when_delivered_to_lambda_then_the_record_carries_the_publishers_context(span_log):
    with telemetry.tracer().start_as_current_span("publish") as publish:
        published = telemetry.sns_message_attributes()
    assert published["traceparent"]["DataType"] == "String"
    # SNS hands Lambda {"Type": ..., "Value": ...} for each attribute it was given.
    record = {
        "Sns": {"MessageAttributes": {k: {"Type": "String", "Value": v["StringValue"]} for k, v in published.items()}}
    }
    received = trace.get_current_span(telemetry.extract_sns_record(record)).get_span_context()
    assert (received.trace_id, received.span_id) == (
        publish.get_span_context().trace_id,
        publish.get_span_context().span_id,
    )


def test_given_a_start_execution_span_then_the_execution_input_carries_it_under_trace(span_log):
    with telemetry.tracer().start_as_current_span("start") as start:
        document = execution_input(PageRef(1000, "Zürich"), "search", telemetry.trace_carrier())
    assert document["page"] == {"pageid": 1000, "title": "Zürich"}
    carried = telemetry.extract_trace_carrier(json.loads(json.dumps(document)))
    assert (carried.trace_id, carried.span_id) == (start.get_span_context().trace_id, start.get_span_context().span_id)


def test_given_no_context_then_the_execution_input_is_unchanged():
    assert execution_input(PageRef(1, "A"), "page", {}) == {"page": {"pageid": 1, "title": "A"}, "reason": "page"}


# --- the handler span


def _handler(result=None, error=None):
    @telemetry.traced_handler(telemetry.http_invocation, trigger="http", name="api", operation=telemetry.API_OPERATION)
    def handler(event, context):
        with telemetry.tracer().start_as_current_span("work"):
            if error is not None:
                raise error
        return result

    return handler


def test_given_an_http_request_with_traceparent_then_a_server_span_child_of_the_caller(span_log):
    handler = _handler({"statusCode": 200, "body": "{}"})
    handler(load_event("api_search"), LambdaContext())
    span = span_log.named("GET /api/search")
    assert span.kind == Span.SPAN_KIND_SERVER
    assert span.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent_span_id.hex() == "00f067aa0ba902b7"
    values = attributes(span)
    assert values["faas.trigger"] == "http"
    assert values["faas.invocation_id"] == LambdaContext.aws_request_id
    assert values["cloud.resource_id"] == LambdaContext.invoked_function_arn
    assert values["faas.coldstart"] is True
    assert values["http.request.method"] == "GET"
    assert values["http.route"] == "/api/search"
    assert values["http.response.status_code"] == 200
    assert values["operation.name"] == "wikiroam.api.request"
    assert span_log.named("work").parent_span_id == span.span_id


def test_given_a_first_invocation_then_the_resource_names_the_function_by_its_unqualified_arn(monkeypatch, capsys):
    # Given a new sandbox whose environment names the deployment (as Lambda's does), printing to stdout
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)
    telemetry.reset()
    arn = "arn:aws:lambda:eu-west-1:210987654321:function:wikiroam-api"
    context = LambdaContext()
    context.invoked_function_arn = f"{arn}:live"  # invoked through an alias: the resource names the function
    try:
        _handler({"statusCode": 200})(load_event("api_search"), context)
    finally:
        telemetry.reset()
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith(telemetry.SPAN_MARKER)]
    resource = attributes(telemetry.decode_span_line(line).resource_spans[0].resource)
    assert resource["faas.id"] == arn
    assert resource["cloud.resource_id"] == arn
    assert resource["cloud.account.id"] == "210987654321"
    assert resource["cloud.provider"] == "aws"


def test_given_something_that_is_no_lambda_arn_then_no_function_id_is_claimed():
    assert telemetry.unqualified_function_arn("arn:aws:lambda:us-east-1:1:function:f:7") == (
        "arn:aws:lambda:us-east-1:1:function:f"
    )
    assert telemetry.unqualified_function_arn("arn:aws:states:us-east-1:1:stateMachine:m") == ""
    assert telemetry.unqualified_function_arn("not an arn") == ""


def test_given_a_second_invocation_then_it_is_not_a_cold_start(span_log):
    handler = _handler({"statusCode": 200})
    handler(load_event("api_search"), LambdaContext())
    handler(load_event("api_search"), LambdaContext())
    spans = [s for s in span_log.spans() if s.name == "GET /api/search"]
    assert [attributes(s)["faas.coldstart"] for s in spans] == [True, False]


def test_given_every_invocation_then_its_spans_are_written_before_it_returns(span_log):
    handler = _handler({"statusCode": 200})
    handler(load_event("api_search"), LambdaContext())
    # No explicit flush: the decorator flushed, as Lambda may freeze the sandbox right after the return.
    assert len(span_log.lines()) == 1


def test_given_a_failing_handler_then_the_error_is_re_raised_recorded_and_still_flushed(span_log):
    handler = _handler(error=KeyError("boom"))
    with pytest.raises(KeyError):
        handler(load_event("api_search"), LambdaContext())
    assert len(span_log.lines()) == 1
    span = next(s for s in span_log.spans() if s.name == "GET /api/search")
    assert span.status.code == Status.STATUS_CODE_ERROR
    assert attributes(span)["error.type"] == "KeyError"
    (event,) = [e for e in span.events if e.name == "exception"]
    assert attributes(event)["exception.type"] == "KeyError"


def test_given_a_5xx_answer_then_the_server_span_is_an_error_and_a_4xx_is_not(span_log):
    _handler({"statusCode": 503})(load_event("api_search"), LambdaContext())
    _handler({"statusCode": 404})(load_event("api_search"), LambdaContext())
    statuses = [(attributes(s)["http.response.status_code"], s.status.code) for s in span_log.spans() if s.kind == 2]
    assert statuses == [(503, Status.STATUS_CODE_ERROR), (404, Status.STATUS_CODE_UNSET)]


def test_given_an_sns_delivery_then_a_consumer_span_child_of_the_publisher(span_log):
    @telemetry.traced_handler(
        telemetry.sns_invocation, trigger="pubsub", name="cache-trigger", operation=telemetry.TRIGGER_OPERATION
    )
    def handler(event, context):
        return {}

    handler(load_event("sns_cache_request"), LambdaContext())
    span = span_log.named("cache-trigger")
    assert span.kind == Span.SPAN_KIND_CONSUMER
    assert (span.trace_id.hex(), span.parent_span_id.hex()) == ("4bf92f3577b34da6a3ce929d0e0e4736", "b7ad6b7169203331")
    values = attributes(span)
    assert values["operation.name"] == "wikiroam.cache.trigger"
    assert values["faas.trigger"] == "pubsub"
    assert values["messaging.system"] == "aws_sns"
    assert values["messaging.destination.name"] == "wikiroam-dev-cache-requests"
    assert values["messaging.message.id"] == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"


def test_given_a_task_payload_then_the_step_span_is_the_child_of_its_state_span(span_log):
    @telemetry.traced_handler(
        telemetry.step_invocation, trigger="other", name="cache-start", operation=telemetry.STEP_OPERATION
    )
    def handler(event, context):
        return {}

    event = load_event("task_cache_start")
    event["input"]["_trace"] = {"traceparent": TRACEPARENT}
    event["context"]["retry_count"] = 2
    handler(event, LambdaContext())
    span = span_log.named("cache-start")
    context = event["context"]
    expected_parent = telemetry.state_span_id(context["execution_id"], "CacheStart", context["entered_time"])
    assert int.from_bytes(span.trace_id, "big") == TRACE_ID
    assert int.from_bytes(span.parent_span_id, "big") == expected_parent
    values = attributes(span)
    assert values["operation.name"] == "wikiroam.cache.step"
    assert values["faas.trigger"] == "other"
    assert values["aws.step_functions.state.retry_count"] == 2
    assert values["aws.step_functions.state.name"] == "CacheStart"


def test_given_a_task_payload_without_trace_then_the_trace_id_comes_from_the_execution(span_log):
    @telemetry.traced_handler(
        telemetry.step_invocation, trigger="other", name="cache-start", operation=telemetry.STEP_OPERATION
    )
    def handler(event, context):
        return {}

    event = load_event("task_cache_start")
    handler(event, LambdaContext())
    span = span_log.named("cache-start")
    assert int.from_bytes(span.trace_id, "big") == telemetry.execution_trace_id(event["context"]["execution_id"])


def test_given_a_task_payload_without_trace_in_an_execution_named_with_one_then_the_step_joins_that_trace(span_log):
    @telemetry.traced_handler(
        telemetry.step_invocation, trigger="other", name="cache-start", operation=telemetry.STEP_OPERATION
    )
    def handler(event, context):
        return {}

    event = load_event("task_cache_start")
    event["input"].pop("_trace", None)
    event["context"]["execution_id"] = (
        f"arn:aws:states:us-east-1:123456789012:express:wikiroam-dev-cache:1000-{TRACEPARENT}:3f2c5a1e-7b8d"
    )
    handler(event, LambdaContext())
    span = span_log.named("cache-start")
    context = event["context"]
    assert int.from_bytes(span.trace_id, "big") == TRACE_ID
    expected_parent = telemetry.state_span_id(context["execution_id"], "CacheStart", context["entered_time"])
    assert int.from_bytes(span.parent_span_id, "big") == expected_parent


def test_given_record_error_outside_any_span_then_nothing_happens():
    telemetry.record_error(ValueError("x"))  # no current span: a no-op, not an exception
    assert not trace.get_current_span().is_recording()


def test_given_a_span_line_that_cannot_be_written_then_the_handler_still_answers(span_log, caplog):
    class Broken(io.StringIO):
        def write(self, text):
            raise OSError("stdout closed")

    span_log_stream = Broken()
    telemetry.configure(TEST_ENV, stream=span_log_stream)
    assert _handler({"statusCode": 200})(load_event("api_search"), LambdaContext()) == {"statusCode": 200}
    assert "could not write this invocation's spans" in caplog.text


def test_kinds_map_as_the_conventions_say():
    assert telemetry.http_invocation({}).kind == SpanKind.SERVER
    assert telemetry.sns_invocation({"Records": []}).kind == SpanKind.CONSUMER
    assert telemetry.step_invocation({}).kind == SpanKind.SERVER


def test_the_z1_dictionary_never_changes():
    # Span lines already in log groups are inflated with it: a change must come as a new dictionary version.
    import hashlib

    from functions.telemetry import DICTIONARY_VERSION, span_dictionary

    assert DICTIONARY_VERSION == "z1"
    assert hashlib.sha256(span_dictionary()).hexdigest() == (
        "89dd59e07f08e663429646dec3a1d4588899cc9f0d070abf6e4deaf30437bc24"
    )


def test_given_a_line_written_with_z1_when_the_version_changes_then_it_still_decodes(monkeypatch):
    # A z1 line as the functions wrote it (tests/events/span_line_z1.txt, written by WikiRoam 0.1.0), read
    # after a version bump: the dictionary's inputs are frozen, so the bump cannot change it.
    import functions

    line = (EVENTS / "span_line_z1.txt").read_text().strip()
    monkeypatch.setattr(functions, "__version__", "9.9.9")
    telemetry.span_dictionary.cache_clear()
    try:
        request = telemetry.decode_span_line(line)
    finally:
        telemetry.span_dictionary.cache_clear()
    spans = request.resource_spans[0].scope_spans[0].spans
    assert [s.name for s in spans] == ["GET", "cache-backlinks"]
    assert attributes(spans[1])["wikiroam.page.id"] == 1952
    assert set(telemetry.DICTIONARIES) == {"z1"}


def test_given_a_line_naming_a_dictionary_nobody_wrote_then_it_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown encoding 'z9'"):
        telemetry.decode_span_line(f"{telemetry.SPAN_MARKER} z9:AAAA")


def test_lines_of_the_first_encoding_still_decode():
    import base64
    import gzip

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    from functions.telemetry import SPAN_MARKER, decode_span_line

    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[Span(name="GET", trace_id=b"\x01" * 16)])])]
    )
    line = f"{SPAN_MARKER} {base64.b64encode(gzip.compress(request.SerializeToString())).decode()}"

    assert decode_span_line(line) == request


def test_a_line_in_an_unknown_encoding_is_reported_not_guessed():
    from functions.telemetry import SPAN_MARKER, decode_span_line

    with pytest.raises(ValueError, match="unknown encoding 'z9'"):
        decode_span_line(f"{SPAN_MARKER} z9:AAAA")
