"""The functions' environment contract: variable names, defaults and validation, in one place.

The infrastructure code imports these names when it sets a function's environment, so the two cannot drift.
Each handler reads its settings once per sandbox, before it touches its first event, and a missing or bad
value fails that invocation with a `ConfigurationError` naming the variable and what to set it to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

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

DEFAULT_WIKI_API_URL = "https://en.wikipedia.org/w/api.php"
DEFAULT_WIKI_TIMEOUT_SECONDS = 5.0
DEFAULT_SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 20
DEFAULT_MAX_BACKLINKS = 20_000

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
    """What the trigger function needs."""

    state_machine_arn: str


@dataclass(frozen=True)
class CacheSettings:
    """What the cache step functions need."""

    wiki: WikiSettings
    pages_table: str
    links_table: str
    max_backlinks: int


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
    return TriggerSettings(state_machine_arn=_arn(env, STATE_MACHINE_ARN, "cache pipeline state machine"))


def cache_settings(env: Mapping[str, str]) -> CacheSettings:
    """Read and validate the environment of the cache step functions."""
    return CacheSettings(
        wiki=wiki_settings(env),
        pages_table=_required(env, PAGES_TABLE, "the name of the pages DynamoDB table"),
        links_table=_required(env, LINKS_TABLE, "the name of the links DynamoDB table"),
        max_backlinks=_integer(env, MAX_BACKLINKS, DEFAULT_MAX_BACKLINKS, 1, 10_000_000),
    )
