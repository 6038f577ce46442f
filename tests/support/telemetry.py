"""Helpers for tests that read the functions' spans: the span log, a Lambda context, attribute access."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from functions import settings, telemetry
from functions.shipping import iter_spans

TEST_ENV = {
    settings.ENVIRONMENT: "test",
    settings.AWS_REGION: "us-east-1",
    settings.LAMBDA_FUNCTION_NAME: "wikiroam-test-function",
    settings.LAMBDA_FUNCTION_VERSION: "$LATEST",
    settings.LAMBDA_MEMORY_MB: "512",
}


@dataclass
class SpanLog:
    """What the functions wrote to stdout, decoded back into export requests and spans."""

    stream: io.StringIO = field(default_factory=io.StringIO)

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line]

    def requests(self):
        return [telemetry.decode_span_line(line) for line in self.lines()]

    def spans(self):
        """Every span written so far (flushing first), in the order written."""
        telemetry.flush()
        return list(iter_spans(self.requests()))

    def named(self, name: str):
        matches = [s for s in self.spans() if s.name == name]
        assert len(matches) == 1, f"{len(matches)} spans named {name!r}: {[s.name for s in self.spans()]}"
        return matches[0]


@dataclass
class LambdaContext:
    """Lambda's context object as the handlers read it."""

    function_name: str = "wikiroam-test-function"
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000000"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:wikiroam-test-function"
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def attributes(span) -> dict:
    """A protobuf span's (or resource's) attributes as a plain dict."""
    values = {}
    for item in span.attributes:
        which = item.value.WhichOneof("value")
        value = getattr(item.value, which)
        if which == "array_value":
            value = [getattr(v, v.WhichOneof("value")) for v in value.values]
        values[item.key] = value
    return values
