"""CLIENT spans for AWS calls, from botocore's own events on the clients the data-access classes receive."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from functions.telemetry import sdk

_SPAN_KEY = "wikiroam.span"
# Set by `aws_call_span` while its caller makes the call: (service, method, the span).
_CALLER_SPAN = otel_context.create_key("wikiroam.aws-call-span")
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


@contextmanager
def aws_call_span(
    name: str, *, kind: SpanKind, service: str, method: str, attributes: Mapping[str, Any]
) -> Iterator[trace.Span]:
    """A span the caller opens itself for the one AWS call it makes inside (`service`.`method`).

    For a call whose span must exist before the call does: a PRODUCER publish, or the StartSyncExecution whose
    context `_trace` carries into the execution. The client hook then adds the call's attributes to this span
    instead of nesting a twin CLIENT span under it.
    """
    attributes = {"rpc.system": "aws-api", "rpc.service": service, "rpc.method": method, **attributes}
    with sdk.tracer().start_as_current_span(name, kind=kind, attributes=attributes) as span:
        token = otel_context.attach(otel_context.set_value(_CALLER_SPAN, (service, method, span)))
        try:
            yield span
        finally:
            otel_context.detach(token)


def _start_aws_span(params: Mapping[str, Any], model: Any, context: MutableMapping[str, Any], **_: Any) -> None:
    telemetry = sdk.current()
    if telemetry is None:
        return
    service, method = str(model.service_model.service_id), str(model.name)
    attributes = aws_call_attributes(service, method, context.get("client_region"), params)
    claimed = otel_context.get_value(_CALLER_SPAN)
    if isinstance(claimed, tuple) and claimed[:2] == (service, method) and claimed[2] is trace.get_current_span():
        caller_span: trace.Span = claimed[2]
        caller_span.set_attributes(attributes)
        context[_SPAN_KEY] = (caller_span, False)
        return
    span = telemetry.tracer.start_span(f"{service}.{method}", kind=SpanKind.CLIENT, attributes=attributes)
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
    sdk.record_error(exception, span)
    if owned:
        span.end()
