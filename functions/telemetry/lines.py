"""Span lines: the one format spans take through CloudWatch Logs, written by the functions, read by the shipper.

`OTLPv1 z1:<base64(raw deflate(ExportTraceServiceRequest protobuf))>`, one line per flush, with the `z1` preset
dictionary. Protobuf is 10-20x smaller than OTLP/JSON at about the same CPU cost (bench.export), and CloudWatch
bills ingestion by the byte; the dictionary takes a real ETL trace from 299 B/span (gzip) to 174. The protobuf
bytes are the official encoder's, written by `otlp` with the standard library (importing protobuf was most of a
cold sandbox's first flush); the decoder, which only the shipper and the tools run, uses protobuf.
"""

from __future__ import annotations

import base64
import functools
import gzip
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from functions.contract import SPAN_FILTER_PATTERN, SPAN_MARKER
from functions.telemetry.otlp import encode_export_request

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = [
    "DICTIONARIES",
    "DICTIONARY_VERSION",
    "MAX_LINE_CHARS",
    "SPAN_FILTER_PATTERN",
    "SPAN_MARKER",
    "decode_span_line",
    "encode_span_lines",
    "span_dictionary",
]

# CloudWatch Logs takes events up to 256 KB and Lambda splits longer stdout lines: stay well below.
MAX_LINE_CHARS = 200_000


# Span lines are raw deflate with a preset dictionary: most invocations flush 2-4 spans, and without one the
# resource block and attribute names (the same in every line) cost most of a line. A dictionary's name (`z1`)
# stands in every line, and a line already in a log group is decoded with the dictionary it names: so a
# dictionary never changes. Its inputs are frozen here (not read from the package's version or names, which
# change); a better dictionary gets a new name beside this one, and `DICTIONARIES` keeps reading both.
DICTIONARY_VERSION = "z1"
_Z1_SERVICE = "wikiroam"
_Z1_VERSION = "0.1.0"


# The z1 dictionary's bytes, as `build_span_dictionary` makes them (a test holds the two equal): kept as data so a
# sandbox's first flush builds nothing and needs no protobuf.
_Z1_DICTIONARY = (
    "CtUSCuMCChoKDHNlcnZpY2UubmFtZRIKCgh3aWtpcm9hbQoaCg9zZXJ2aWNlLnZlcnNpb24SBwoFMC4xLjAKIAoWZGVwbG95bWVudC5lbnZpcm9u"
    "bWVudBIGCgRwcm9kCiQKG2RlcGxveW1lbnQuZW52aXJvbm1lbnQubmFtZRIFCgNkZXYKFwoOY2xvdWQucHJvdmlkZXISBQoDYXdzCh4KDmNsb3Vk"
    "LnBsYXRmb3JtEgwKCmF3c19sYW1iZGEKIgoWdGVsZW1ldHJ5LnNkay5sYW5ndWFnZRIICgZweXRob24KGwoMY2xvdWQucmVnaW9uEgsKCXVzLWVh"
    "c3QtMQoxCglmYWFzLm5hbWUSJAoid2lraXJvYW0tY2FjaGUtYmFja2xpbmtzLWZ1bmN0aW9uLQoZCgxmYWFzLnZlcnNpb24SCQoHJExBVEVTVAoZ"
    "Cg9mYWFzLm1heF9tZW1vcnkSBhiAgICAAhLsDwoRCgh3aWtpcm9hbRIFMC4xLjASqAIqA0dFVDADShwKE2h0dHAucmVxdWVzdC5tZXRob2QSBQoD"
    "R0VUSiQKDnNlcnZlci5hZGRyZXNzEhIKEGVuLndpa2lwZWRpYS5vcmdKEgoLc2VydmVyLnBvcnQSAxi7A0omChd3aWtpcm9hbS53aWtpLm9wZXJh"
    "dGlvbhILCgliYWNrbGlua3NKfQoIdXJsLmZ1bGwScQpvaHR0cHM6Ly9lbi53aWtpcGVkaWEub3JnL3cvYXBpLnBocD9hY3Rpb249cXVlcnkmZm9y"
    "bWF0PWpzb24mZm9ybWF0dmVyc2lvbj0yJmxpc3Q9YmFja2xpbmtzJmJsbGltaXQ9bWF4Jm1heGxhZz01SiAKGWh0dHAucmVzcG9uc2Uuc3RhdHVz"
    "X2NvZGUSAxjIARLXAioXRHluYW1vREIuQmF0Y2hXcml0ZUl0ZW0wA0oXCgpycGMuc3lzdGVtEgkKB2F3cy1hcGlKGQoLcnBjLnNlcnZpY2USCgoI"
    "RHluYW1vREJKHgoKcnBjLm1ldGhvZBIQCg5CYXRjaFdyaXRlSXRlbUoZCgphd3MucmVnaW9uEgsKCXVzLWVhc3QtMUobCgxjbG91ZC5yZWdpb24S"
    "CwoJdXMtZWFzdC0xShcKCWRiLnN5c3RlbRIKCghkeW5hbW9kYkolChFkYi5vcGVyYXRpb24ubmFtZRIQCg5CYXRjaFdyaXRlSXRlbUo0Chhhd3Mu"
    "ZHluYW1vZGIudGFibGVfbmFtZXMSGAoWd2lraXJvYW0tdGFibGVzLWxpbmtzLUoUCg5hd3MucmVxdWVzdF9pZBICCgBKIgocYXdzLmR5bmFtb2Ri"
    "LmNvbnNpc3RlbnRfcmVhZBICEAAScCoTRHluYW1vREIuVXBkYXRlSXRlbTADSiEKEWRiLm9wZXJhdGlvbi5uYW1lEgwKClVwZGF0ZUl0ZW1KNAoY"
    "YXdzLmR5bmFtb2RiLnRhYmxlX25hbWVzEhgKFndpa2lyb2FtLXRhYmxlcy1wYWdlcy0S6QQqD2NhY2hlLWJhY2tsaW5rczACShcKDGZhYXMudHJp"
    "Z2dlchIHCgVvdGhlckoUCg5mYWFzLmNvbGRzdGFydBICEAFKGAoSZmFhcy5pbnZvY2F0aW9uX2lkEgIKAEpVChFjbG91ZC5yZXNvdXJjZV9pZBJA"
    "Cj5hcm46YXdzOmxhbWJkYTp1cy1lYXN0LTE6MTIzNDU2Nzg5MDEyOmZ1bmN0aW9uOndpa2lyb2FtLWNhY2hlLUoiChBjbG91ZC5hY2NvdW50Lmlk"
    "Eg4KDDEyMzQ1Njc4OTAxMkpzCiBhd3Muc3RlcF9mdW5jdGlvbnMuZXhlY3V0aW9uLmFybhJPCk1hcm46YXdzOnN0YXRlczp1cy1lYXN0LTE6MTIz"
    "NDU2Nzg5MDEyOmV4ZWN1dGlvbjp3aWtpcm9hbS1jYWNoZS1zdGF0ZS1tYWNoaW5lLUoxCh1hd3Muc3RlcF9mdW5jdGlvbnMuc3RhdGUubmFtZRIQ"
    "Cg5DYWNoZUJhY2tsaW5rc0oqCiRhd3Muc3RlcF9mdW5jdGlvbnMuc3RhdGUucmV0cnlfY291bnQSAhgASicKIWF3cy5zdGVwX2Z1bmN0aW9ucy5l"
    "eGVjdXRpb24ubmFtZRICCgBKFwoQd2lraXJvYW0ucGFnZS5pZBIDGKAPSnoKJGF3cy5zdGVwX2Z1bmN0aW9ucy5zdGF0ZV9tYWNoaW5lLmFybhJS"
    "ClBhcm46YXdzOnN0YXRlczp1cy1lYXN0LTE6MTIzNDU2Nzg5MDEyOnN0YXRlTWFjaGluZTp3aWtpcm9hbS1jYWNoZS1zdGF0ZS1tYWNoaW5lLRJM"
    "KhJTRk4uU3RhcnRFeGVjdXRpb24wA0oUCgtycGMuc2VydmljZRIFCgNTRk5KHgoKcnBjLm1ldGhvZBIQCg5TdGFydEV4ZWN1dGlvbhKGAiodcHVi"
    "bGlzaCB3aWtpcm9hbS1jYWNoZS10b3BpYy0wBEodChBtZXNzYWdpbmcuc3lzdGVtEgkKB2F3c19zbnNKJQoYbWVzc2FnaW5nLm9wZXJhdGlvbi50"
    "eXBlEgkKB3B1Ymxpc2hKJQoYbWVzc2FnaW5nLm9wZXJhdGlvbi5uYW1lEgkKB3B1Ymxpc2hKIwodbWVzc2FnaW5nLmJhdGNoLm1lc3NhZ2VfY291"
    "bnQSAhgBSjUKGm1lc3NhZ2luZy5kZXN0aW5hdGlvbi5uYW1lEhcKFXdpa2lyb2FtLWNhY2hlLXRvcGljLUoaChRtZXNzYWdpbmcubWVzc2FnZS5p"
    "ZBICCgASUioNY2FjaGUtdHJpZ2dlcjAFShgKDGZhYXMudHJpZ2dlchIICgZwdWJzdWJKJQoYbWVzc2FnaW5nLm9wZXJhdGlvbi50eXBlEgkKB3By"
    "b2Nlc3MSyAEqD0dFVCAvYXBpL3NlYXJjaDACShYKDGZhYXMudHJpZ2dlchIGCgRodHRwShkKCHVybC5wYXRoEg0KCy9hcGkvc2VhcmNoSiQKE3Vz"
    "ZXJfYWdlbnQub3JpZ2luYWwSDQoLTW96aWxsYS81LjBKFAoOY2xpZW50LmFkZHJlc3MSAgoASh8KFW5ldHdvcmsucHJvdG9jb2wubmFtZRIGCgRo"
    "dHRwSiMKCmh0dHAucm91dGUSFQoTL2FwaS9wYWdlcy97cGFnZWlkfQ=="
)


@functools.cache
def span_dictionary() -> bytes:
    """The `z1` preset dictionary: an export request with WikiRoam's resource and its spans' usual attributes."""
    return base64.b64decode(_Z1_DICTIONARY)


def build_span_dictionary() -> bytes:
    """The `z1` dictionary made from its frozen inputs with the official protobuf classes (what `span_dictionary`
    holds as data)."""
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
            "service.name": _Z1_SERVICE,
            "service.version": _Z1_VERSION,
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
                        scope=InstrumentationScope(name=_Z1_SERVICE, version=_Z1_VERSION),
                        spans=[Span(name=name, kind=kind, attributes=attributes(pairs)) for name, kind, pairs in spans],
                    )
                ],
            )
        ]
    )
    return request.SerializeToString()


def encode_span_lines(spans: Sequence[ReadableSpan], max_chars: int = MAX_LINE_CHARS) -> list[str]:
    """`OTLPv1 z1:<base64(deflate(protobuf))>` lines for these spans: one, unless it would exceed `max_chars`."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=span_dictionary())
    payload = compressor.compress(encode_export_request(spans)) + compressor.flush()
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
    if version and version not in DICTIONARIES:
        raise ValueError(f"a span line in an unknown encoding {version!r}")
    try:
        if version:
            inflater = zlib.decompressobj(-15, zdict=DICTIONARIES[version]())
            payload = inflater.decompress(base64.b64decode(encoded, validate=True)) + inflater.flush()
        else:
            # The first format: gzip without a dictionary (lines written before z1, still in log groups).
            payload = gzip.decompress(base64.b64decode(encoded, validate=True))
        request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(payload)
    except (ValueError, OSError, EOFError, zlib.error, DecodeError) as error:
        raise ValueError(f"a damaged span line ({type(error).__name__}: {error})") from None
    return request


# Every dictionary a line may name, by name: lines stay in log groups for their retention, so none is dropped.
DICTIONARIES: Mapping[str, Callable[[], bytes]] = {DICTIONARY_VERSION: span_dictionary}
