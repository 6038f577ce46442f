"""Exceptions with stable names: Step Functions matches Retry and Catch on them, the API maps them to status codes.

Each name Step Functions matches is also a constant of `functions.contract`, which the state machine is built
from; a test holds the two together.
"""

from __future__ import annotations


class WikiRoamError(Exception):
    """Base class of every error WikiRoam raises on purpose."""


class ConfigurationError(WikiRoamError):
    """A function's environment is missing a variable or holds a bad value."""


class WikiError(WikiRoamError):
    """The wiki could not answer the request."""


class WikiUnavailable(WikiError):
    """The wiki is down, timing out, or answered with a server error; retrying later may succeed."""


class WikiRateLimited(WikiUnavailable):
    """The wiki kept answering 429 or maxlag past the retry budget."""


class WikiApiError(WikiError):
    """The wiki answered with an API error (`error.code` in the body)."""

    def __init__(self, code: str, info: str) -> None:
        super().__init__(f"{code}: {info}")
        self.code = code
        self.info = info


class WikiPageNotFound(WikiApiError):
    """The wiki has no page with that id or title."""


class WikiBadResponse(WikiError):
    """The wiki answered with something that is not the Action API's JSON."""


class InvalidCacheRequest(WikiRoamError):
    """An SNS cache request is not the documented JSON shape."""


class InvalidTaskPayload(WikiRoamError):
    """A Step Functions task payload is not the documented shape."""


class ClaimLost(WikiRoamError):
    """Another execution took over the page this execution was caching."""


class WriteThrottled(WikiRoamError):
    """DynamoDB kept throttling a write, or returning unprocessed items, past the retry budget."""


class ReadThrottled(WikiRoamError):
    """DynamoDB kept throttling a read, or returning unprocessed keys, past the retry budget."""


class BacklinksNotFinished(WikiRoamError):
    """The invocation ran short of time; progress is saved and a retry resumes from there."""
