"""P1's auto-instrumentation is OpenTelemetry's Lambda layer: its instrumentations, its wrapper's variables."""

from __future__ import annotations

import re
from pathlib import Path

from bench import init

DEV = Path(__file__).resolve().parents[2] / "requirements" / "dev.txt"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;]+)")


def dev_pins() -> dict[str, str]:
    found = {}
    for line in DEV.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


def test_given_the_layers_instrumentations_then_each_is_pinned_on_the_sdks_line_or_installed_by_the_benchmark():
    pins = dev_pins()
    line = pins["opentelemetry-instrumentation"]
    pinned = {name for name in init.LAYER_INSTRUMENTATIONS if f"opentelemetry-instrumentation-{name}" in pins}
    assert {name: pins[f"opentelemetry-instrumentation-{name}"] for name in pinned} == dict.fromkeys(pinned, line)
    assert set(init.LAYER_NODEPS) == set(init.LAYER_INSTRUMENTATIONS) - pinned
    assert len(init.LAYER_INSTRUMENTATIONS) == 27
    # The layer's own packages besides the instrumentations.
    for name in ("opentelemetry-distro", "opentelemetry-exporter-otlp-proto-http", "opentelemetry-propagator-aws-xray"):
        assert name in pins


def test_given_a_function_then_the_layer_env_is_the_wrapper_scripts():
    env = dict(init.ENV, _HANDLER=init.HANDLER)
    layer = init.layer_env(env, "http://127.0.0.1:4318", ("flask", "jinja2"))
    assert layer["ORIG_HANDLER"] == "functions.handlers.api.handler"
    assert layer["_HANDLER"] == "otel_wrapper.lambda_handler"
    assert layer["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert layer["OTEL_PROPAGATORS"] == "tracecontext,baggage,xray"
    assert layer["OTEL_SERVICE_NAME"] == env["AWS_LAMBDA_FUNCTION_NAME"]
    assert layer["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] == "flask,jinja2"
    assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS" not in init.layer_env(env, "http://127.0.0.1:4318")
