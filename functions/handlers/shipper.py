"""The shipper: CloudWatch Logs subscription batches of span lines and state machine events, to OTLP/HTTP.

It is not traced itself (no span lines of its own, its log group unsubscribed), so shipping cannot feed itself.
The endpoint is read once per sandbox: the OTEL_EXPORTER_OTLP_* variables when set, else the Secrets Manager
secret named by WIKIROAM_OTLP_SECRET_ARN (`{"endpoint": "<base URL>", "headers": {...}}`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from functions.errors import ConfigurationError
from functions.handlers import SandboxApp
from functions.settings import OTLP_SECRET_ARN, ShipperSettings, shipper_settings, traces_url
from functions.shipping import Endpoint, RequestsTransport, Shipper, decode_awslogs

SecretReader = Callable[[str], str]


def read_secret(arn: str) -> str:
    """The secret's current string value (Secrets Manager, through the function's role)."""
    from functions.clients import BACKGROUND, aws_client

    return str(aws_client("secretsmanager", BACKGROUND).get_secret_value(SecretId=arn)["SecretString"])


def endpoint_from_secret(value: str, arn: str) -> Endpoint | None:
    """The endpoint a secret holds; None when its endpoint is empty (the stack ships nowhere yet)."""
    try:
        document = json.loads(value)
    except ValueError:
        raise ConfigurationError(
            f'the secret {arn} is not JSON: set it to {{"endpoint": ..., "headers": {{}}}}'
        ) from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"the secret {arn} is not a JSON object with endpoint and headers")
    endpoint = str(document.get("endpoint") or "").strip()
    headers = document.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ConfigurationError(f"the secret {arn} has headers that are not an object of strings")
    if not endpoint:
        return None
    return Endpoint(
        traces_url(endpoint, f"the endpoint in {OTLP_SECRET_ARN}"), {k.lower(): v for k, v in headers.items()}
    )


def resolve_endpoint(settings: ShipperSettings, secret_reader: SecretReader = read_secret) -> Endpoint | None:
    """The environment's endpoint when it names one, else the secret's."""
    if settings.traces_url is not None:
        return Endpoint(settings.traces_url, settings.headers)
    assert settings.secret_arn is not None  # shipper_settings requires one or the other
    return endpoint_from_secret(secret_reader(settings.secret_arn), settings.secret_arn)


def build(env: Mapping[str, str], secret_reader: SecretReader = read_secret) -> Shipper:
    """The shipper, wired from its environment."""
    settings = shipper_settings(env)
    return Shipper(
        endpoint=resolve_endpoint(settings, secret_reader),
        transport=RequestsTransport(),
        max_request_bytes=settings.max_request_bytes,
        environment=settings.environment,
    )


app = SandboxApp(build)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, int]:
    """Lambda entry point: ship one subscription batch; a failure to ship is logged and counted, not raised.

    Raising would make Lambda retry the whole batch and post again the requests that did arrive.
    """
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    seconds_left = (lambda: float(remaining()) / 1000.0) if remaining is not None else None
    return app().ship_batch(decode_awslogs(event), seconds_left).as_dict()
