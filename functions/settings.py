"""The functions' environment contract: variable names, defaults and validation, in one place.

The infrastructure code imports these names when it sets a function's environment, so the two cannot drift.
Each handler reads its settings once per sandbox, before it touches its first event, and a missing or bad
value fails that invocation with a `ConfigurationError` naming the variable and what to set it to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from functions.errors import ConfigurationError

WIKI_API_URL = "WIKIROAM_WIKI_API_URL"
WIKI_CONTACT = "WIKIROAM_CONTACT"
WIKI_TIMEOUT_SECONDS = "WIKIROAM_WIKI_TIMEOUT_SECONDS"
SEARCH_LIMIT = "WIKIROAM_SEARCH_LIMIT"
MAX_BACKLINKS = "WIKIROAM_MAX_BACKLINKS"
PAGES_TABLE = "WIKIROAM_PAGES_TABLE"
LINKS_TABLE = "WIKIROAM_LINKS_TABLE"
CACHE_TOPIC_ARN = "WIKIROAM_CACHE_TOPIC_ARN"
STATE_MACHINE_ARN = "WIKIROAM_STATE_MACHINE_ARN"
GAP_CHECK_SAMPLE = "WIKIROAM_GAP_CHECK_SAMPLE"
GAP_CHECK_MAX_REQUESTS = "WIKIROAM_GAP_CHECK_MAX_REQUESTS"
# Telemetry. The deployment's name (the Pulumi stack) is `deployment.environment` on every span; a function
# without it (a handler run outside any deployment, e.g. in a unit test) writes no spans at all.
ENVIRONMENT = "WIKIROAM_ENVIRONMENT"
# The shipper's OTLP endpoint: the standard OpenTelemetry variables win over the Secrets Manager secret
# (JSON `{"endpoint": ..., "headers": {...}}`) whose ARN is in WIKIROAM_OTLP_SECRET_ARN.
OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
OTLP_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
OTLP_SECRET_ARN = "WIKIROAM_OTLP_SECRET_ARN"  # noqa: S105 (the name of a variable, not a secret)
OTLP_MAX_REQUEST_BYTES = "WIKIROAM_OTLP_MAX_REQUEST_BYTES"
# Read by the telemetry module, set by the Lambda runtime itself (not by our components).
LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
LAMBDA_FUNCTION_VERSION = "AWS_LAMBDA_FUNCTION_VERSION"
LAMBDA_MEMORY_MB = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
LAMBDA_LOG_STREAM = "AWS_LAMBDA_LOG_STREAM_NAME"
AWS_REGION = "AWS_REGION"

DEFAULT_WIKI_API_URL = "https://en.wikipedia.org/w/api.php"
DEFAULT_WIKI_TIMEOUT_SECONDS = 5.0
DEFAULT_SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 20
DEFAULT_MAX_BACKLINKS = 20_000
# The scheduled gap check: complete pages compared per run, and wiki requests per run at most (a page with more
# backlinks than one listing request returns costs several). 50 requests fit its 120 s timeout with room.
DEFAULT_GAP_CHECK_SAMPLE = 20
DEFAULT_GAP_CHECK_MAX_REQUESTS = 50
MAX_GAP_CHECK_SAMPLE = 1_000
MAX_GAP_CHECK_MAX_REQUESTS = 1_000
# Datadog's OTLP traces intake refuses requests over 3.2 MB; other backends take at least that.
DEFAULT_OTLP_MAX_REQUEST_BYTES = 3_200_000

_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$")


@dataclass(frozen=True)
class WikiSettings:
    """Where the wiki is and how to talk to it politely."""

    api_url: str
    contact: str
    timeout_seconds: float


@dataclass(frozen=True)
class ApiSettings:
    """What the api function needs."""

    wiki: WikiSettings
    search_limit: int
    pages_table: str
    links_table: str
    cache_topic_arn: str


@dataclass(frozen=True)
class TriggerSettings:
    """What the trigger function needs: the state machine it runs, the topic it puts back what it cannot run."""

    state_machine_arn: str
    cache_topic_arn: str


@dataclass(frozen=True)
class CacheSettings:
    """What the cache step functions need."""

    wiki: WikiSettings
    pages_table: str
    links_table: str
    max_backlinks: int


@dataclass(frozen=True)
class GapCheckSettings:
    """What the gap-check function needs: the wiki, the pages table, and how much to compare per run."""

    wiki: WikiSettings
    pages_table: str
    sample: int
    max_requests: int


@dataclass(frozen=True)
class ShipperSettings:
    """Where the shipper sends spans: an OTLP/HTTP traces URL with its headers, or the secret that holds them."""

    environment: str
    traces_url: str | None
    headers: dict[str, str]
    secret_arn: str | None
    max_request_bytes: int


def _required(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set: set it to {what}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not an integer: set it between {low} and {high}") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name}={value} is out of range: set it between {low} and {high}")
    return value


def _arn(env: Mapping[str, str], name: str, service: str) -> str:
    value = _required(env, name, f"the ARN of the {service}")
    if not _ARN.match(value):
        raise ConfigurationError(f"{name}={value!r} is not an ARN: set it to the ARN of the {service}")
    return value


def wiki_settings(env: Mapping[str, str]) -> WikiSettings:
    """Read the wiki's URL, the operator's contact for the User-Agent, and the request timeout."""
    api_url = env.get(WIKI_API_URL, "").strip() or DEFAULT_WIKI_API_URL
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{WIKI_API_URL}={api_url!r} is not an http(s) URL: set it to a wiki's api.php, e.g. {DEFAULT_WIKI_API_URL}"
        )
    contact = _required(
        env, WIKI_CONTACT, "an e-mail address or URL where the wiki's operators can reach you (API etiquette)"
    )
    raw_timeout = env.get(WIKI_TIMEOUT_SECONDS, "").strip()
    try:
        timeout = float(raw_timeout) if raw_timeout else DEFAULT_WIKI_TIMEOUT_SECONDS
    except ValueError:
        raise ConfigurationError(f"{WIKI_TIMEOUT_SECONDS}={raw_timeout!r} is not a number of seconds") from None
    if not 0 < timeout <= 60:
        raise ConfigurationError(f"{WIKI_TIMEOUT_SECONDS}={timeout} is out of range: set it between 0 and 60")
    return WikiSettings(api_url=api_url, contact=contact, timeout_seconds=timeout)


def api_settings(env: Mapping[str, str]) -> ApiSettings:
    """Read and validate the api function's environment."""
    return ApiSettings(
        wiki=wiki_settings(env),
        search_limit=_integer(env, SEARCH_LIMIT, DEFAULT_SEARCH_LIMIT, 1, MAX_SEARCH_LIMIT),
        pages_table=_required(env, PAGES_TABLE, "the name of the pages DynamoDB table"),
        links_table=_required(env, LINKS_TABLE, "the name of the links DynamoDB table"),
        cache_topic_arn=_arn(env, CACHE_TOPIC_ARN, "cache request SNS topic"),
    )


def trigger_settings(env: Mapping[str, str]) -> TriggerSettings:
    """Read and validate the trigger function's environment."""
    return TriggerSettings(
        state_machine_arn=_arn(env, STATE_MACHINE_ARN, "cache pipeline state machine"),
        cache_topic_arn=_arn(env, CACHE_TOPIC_ARN, "cache request SNS topic"),
    )


def cache_settings(env: Mapping[str, str]) -> CacheSettings:
    """Read and validate the environment of the cache step functions."""
    return CacheSettings(
        wiki=wiki_settings(env),
        pages_table=_required(env, PAGES_TABLE, "the name of the pages DynamoDB table"),
        links_table=_required(env, LINKS_TABLE, "the name of the links DynamoDB table"),
        max_backlinks=_integer(env, MAX_BACKLINKS, DEFAULT_MAX_BACKLINKS, 1, 10_000_000),
    )


def gap_check_settings(env: Mapping[str, str]) -> GapCheckSettings:
    """Read and validate the gap-check function's environment."""
    return GapCheckSettings(
        wiki=wiki_settings(env),
        pages_table=_required(env, PAGES_TABLE, "the name of the pages DynamoDB table"),
        sample=_integer(env, GAP_CHECK_SAMPLE, DEFAULT_GAP_CHECK_SAMPLE, 1, MAX_GAP_CHECK_SAMPLE),
        max_requests=_integer(
            env, GAP_CHECK_MAX_REQUESTS, DEFAULT_GAP_CHECK_MAX_REQUESTS, 1, MAX_GAP_CHECK_MAX_REQUESTS
        ),
    )


def otlp_headers(raw: str, name: str = OTLP_HEADERS) -> dict[str, str]:
    """Headers in the OpenTelemetry form `key1=value1,key2=value2` (values URL-encoded)."""
    headers: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(
                f"{name} has {item.strip()!r:.40}, not key=value: set it as key1=value1,key2=value2"
            )
        headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers


def traces_url(endpoint: str, name: str = OTLP_ENDPOINT) -> str:
    """The traces URL of an OTLP/HTTP base endpoint (`<endpoint>/v1/traces`), as OpenTelemetry's exporters do."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{name}={endpoint!r} is not an http(s) URL: set it to an OTLP/HTTP endpoint")
    return endpoint.rstrip("/") + "/v1/traces"


def shipper_settings(env: Mapping[str, str]) -> ShipperSettings:
    """Read and validate the shipper's environment: an endpoint from the OTEL_ variables, or the secret's ARN."""
    url: str | None = None
    explicit = env.get(OTLP_TRACES_ENDPOINT, "").strip()
    if explicit:
        # The traces-specific variable is the full URL, used as given (OpenTelemetry's rule); checked all the same.
        traces_url(explicit, OTLP_TRACES_ENDPOINT)
        url = explicit
    elif env.get(OTLP_ENDPOINT, "").strip():
        url = traces_url(env[OTLP_ENDPOINT].strip())
    secret_arn = env.get(OTLP_SECRET_ARN, "").strip() or None
    if url is None and secret_arn is None:
        raise ConfigurationError(
            f"no OTLP endpoint: set {OTLP_ENDPOINT} (and {OTLP_HEADERS}) or {OTLP_SECRET_ARN} "
            'to the ARN of a secret holding {"endpoint": ..., "headers": {...}}'
        )
    if secret_arn is not None and not _ARN.match(secret_arn):
        raise ConfigurationError(f"{OTLP_SECRET_ARN}={secret_arn!r} is not an ARN: set it to the secret's ARN")
    return ShipperSettings(
        environment=env.get(ENVIRONMENT, "").strip(),
        traces_url=url,
        headers=otlp_headers(env.get(OTLP_HEADERS, "")),
        secret_arn=secret_arn,
        max_request_bytes=_integer(
            env, OTLP_MAX_REQUEST_BYTES, DEFAULT_OTLP_MAX_REQUEST_BYTES, 10_000, DEFAULT_OTLP_MAX_REQUEST_BYTES * 10
        ),
    )
