"""The functions' environment contract: defaults, and errors that name the variable to fix."""

from __future__ import annotations

import pytest

from functions import settings
from functions.errors import ConfigurationError

TOPIC = "arn:aws:sns:us-east-1:123456789012:wikiroam-dev-cache-requests"
COMPLETE_API_ENV = {
    settings.WIKI_CONTACT: "ops@example.org",
    settings.PAGES_TABLE: "pages",
    settings.LINKS_TABLE: "links",
    settings.CACHE_TOPIC_ARN: TOPIC,
}


def test_given_only_required_values_when_read_then_documented_defaults_apply():
    api = settings.api_settings(COMPLETE_API_ENV)
    assert api.wiki.api_url == settings.DEFAULT_WIKI_API_URL
    assert api.wiki.timeout_seconds == settings.DEFAULT_WIKI_TIMEOUT_SECONDS
    assert api.search_limit == settings.DEFAULT_SEARCH_LIMIT
    assert api.cache_topic_arn == TOPIC


@pytest.mark.parametrize("missing", sorted(COMPLETE_API_ENV))
def test_given_a_required_variable_missing_then_the_error_names_it(missing):
    env = {k: v for k, v in COMPLETE_API_ENV.items() if k != missing}
    with pytest.raises(ConfigurationError, match=missing):
        settings.api_settings(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (settings.SEARCH_LIMIT, "21"),
        (settings.SEARCH_LIMIT, "ten"),
        (settings.WIKI_API_URL, "ftp://wiki.example.org/api.php"),
        (settings.WIKI_TIMEOUT_SECONDS, "-1"),
        (settings.WIKI_TIMEOUT_SECONDS, "soon"),
        (settings.CACHE_TOPIC_ARN, "wikiroam-cache-requests"),
    ],
)
def test_given_a_bad_value_then_the_error_names_the_variable(name, value):
    with pytest.raises(ConfigurationError, match=name):
        settings.api_settings({**COMPLETE_API_ENV, name: value})


def test_cache_settings_read_the_backlinks_cap():
    env = {**COMPLETE_API_ENV, settings.MAX_BACKLINKS: "600"}
    assert settings.cache_settings(env).max_backlinks == 600
    assert settings.cache_settings(COMPLETE_API_ENV).max_backlinks == settings.DEFAULT_MAX_BACKLINKS


def test_trigger_needs_the_state_machine_and_the_topic_it_puts_pages_back_on():
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:wikiroam-dev-cache"
    topic = "arn:aws:sns:us-east-1:123456789012:wikiroam-dev-cache-requests"
    with pytest.raises(ConfigurationError, match=settings.STATE_MACHINE_ARN):
        settings.trigger_settings({settings.CACHE_TOPIC_ARN: topic})
    with pytest.raises(ConfigurationError, match=settings.CACHE_TOPIC_ARN):
        settings.trigger_settings({settings.STATE_MACHINE_ARN: arn})
    read = settings.trigger_settings({settings.STATE_MACHINE_ARN: arn, settings.CACHE_TOPIC_ARN: topic})
    assert (read.state_machine_arn, read.cache_topic_arn) == (arn, topic)
