"""The FaaS span every handler gets: its parent, kind and attributes from the trigger's event, then a flush.

`traced_handler` wraps a Lambda entry point; `http_invocation`, `sns_invocation` and `step_invocation` say how
an API Gateway request, an SNS delivery and a Step Functions task become the span (FaaS and messaging semantic
conventions).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from functions.contract import OPERATION_NAME
from functions.telemetry import sdk
from functions.telemetry.propagation import extract_headers, extract_sns_record, state_parent

Trigger = Literal["http", "pubsub", "other"]
Handler = TypeVar("Handler", bound=Callable[..., Any])


class EntrySpan:
    """How one trigger's event becomes the FaaS span: its parent, kind, attributes and links."""

    # A plain class: a dataclass costs a cold start about 0.5 ms to define (see `sdk`).
    def __init__(
        self,
        *,
        parent: Context | None = None,
        kind: SpanKind = SpanKind.SERVER,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
        links: list[Link] | None = None,
        on_result: Callable[[trace.Span, Any], None] | None = None,
    ) -> None:
        self.parent = parent
        self.kind = kind
        self.name = name
        self.attributes: dict[str, Any] = attributes if attributes is not None else {}
        self.links: list[Link] = links if links is not None else []
        self.on_result = on_result


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def http_invocation(event: Any) -> EntrySpan:
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
    return EntrySpan(parent=extract_headers(headers), name=name, attributes=attributes, on_result=on_result)


def sns_invocation(event: Any) -> EntrySpan:
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
    return EntrySpan(
        parent=contexts[0] if contexts else None, kind=SpanKind.CONSUMER, attributes=attributes, links=links
    )


def step_invocation(event: Any) -> EntrySpan:
    """A Step Functions task (`lambda:invoke` with the state's context): the child of the state's span."""
    state_input = event.get("input") if isinstance(event, Mapping) else None
    context = event.get("context") if isinstance(event, Mapping) else None
    if not isinstance(context, Mapping):
        return EntrySpan()
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
    return EntrySpan(parent=parent, attributes=attributes)


def traced_handler(
    describe: Callable[[Any], EntrySpan], *, trigger: Trigger, name: str, operation: str
) -> Callable[[Handler], Handler]:
    """Wrap a Lambda entry point in its FaaS span, and flush the invocation's spans when it ends, even failing.

    `name` is the span's name when the trigger gives none better (a stable name: physical function names
    change per stack); `operation` its `operation.name`, which names its trace metrics.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def traced(event: Any, context: Any) -> Any:
            telemetry = sdk.configure_once(
                getattr(context, "function_name", None), getattr(context, "invoked_function_arn", None)
            )
            if telemetry is None:
                return handler(event, context)
            cold_start = sdk.take_cold_start()
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
                        sdk.record_error(error, span)
                        raise
                    if invocation.on_result is not None:
                        invocation.on_result(span, result)
                    return result
            finally:
                sdk.flush()

        return traced  # type: ignore[return-value]

    return decorate
