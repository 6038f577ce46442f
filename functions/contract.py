"""What the deployed code and the infrastructure must agree on, in one module of the standard library only.

`components/` and `__main__.py` import these names to build the state machine, the tables, the routes and the
log subscriptions; `functions/` imports them to raise, match and emit the same names. Nothing here imports a
third-party package, so the Pulumi program never pulls in the functions' dependencies for a constant.
"""

from __future__ import annotations

# --- telemetry

SERVICE_NAME = "wikiroam"
# The one term a CloudWatch Logs subscription filter matches to pick span lines out of a function's logs.
SPAN_MARKER = "OTLPv1"
SPAN_FILTER_PATTERN = SPAN_MARKER
# The key of the W3C trace context in a pipeline execution's input.
TRACE_KEY = "_trace"
# Datadog names its trace metrics after a span's `operation.name` (`trace.<operation>.hits`, `.errors`, the
# `trace.<operation>` latency distribution). Each kind of entry or client span gets one stable name, so metric
# names do not multiply per route or per stack; the monitors and dashboards under dashboards/ query these.
OPERATION_NAME = "operation.name"
API_OPERATION = "wikiroam.api.request"
TRIGGER_OPERATION = "wikiroam.cache.trigger"
STEP_OPERATION = "wikiroam.cache.step"
WIKI_OPERATION = "wikiroam.wiki.request"
