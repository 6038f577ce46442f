"""A DynamoDB throttle that outlasts the client's attempts reaches the steps and the api under a name they handle."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from functions import contract
from functions.errors import ReadThrottled, WriteThrottled
from functions.handlers.api import ApiHandler
from functions.store import LinkRecord, LinkStore, PageStore

NOW = 1_795_806_539.0


class Throttling:
    """A DynamoDB client whose named operations always answer a throttle, as a table hot past botocore's retries."""

    def __init__(self, client, operations: set[str], code: str = "ProvisionedThroughputExceededException"):
        self._client = client
        self._operations = operations
        self._code = code

    def __getattr__(self, name):
        real = getattr(self._client, name)
        if name not in self._operations:
            return real

        def throttled(**request):
            raise ClientError({"Error": {"Code": self._code, "Message": "throttled"}}, name)

        throttled.__name__ = name
        return throttled


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]
)
def test_given_writes_throttled_past_the_clients_attempts_then_the_steps_writes_raise_write_throttled(aws, code):
    pages = PageStore(Throttling(aws.dynamodb, {"update_item"}, code), aws.pages_table)

    with pytest.raises(WriteThrottled, match=code):
        pages.claim(1, "One", "exec-1", NOW, 900)
    with pytest.raises(WriteThrottled):
        pages.record_caught_failure(1, "One", "exec-1", "Sandbox.Timedout", NOW)
    with pytest.raises(WriteThrottled):
        pages.save_backlinks_progress(pageid=1, owner="exec-1", count=0, status="complete", resume=None)
    # The name Step Functions' Retry matches.
    assert "WriteThrottled" in contract.TRANSIENT_ERRORS


def test_given_reads_throttled_then_reads_raise_read_throttled_a_transient_error(aws):
    pages = PageStore(Throttling(aws.dynamodb, {"get_item", "batch_get_item", "scan"}), aws.pages_table)
    links = LinkStore(Throttling(aws.dynamodb, {"query"}), aws.links_table, max_attempts=2, sleep=lambda _: None)

    with pytest.raises(ReadThrottled):
        pages.get(1)
    with pytest.raises(ReadThrottled):
        pages.get_many([1, 2])
    with pytest.raises(ReadThrottled):
        list(pages.scan())
    with pytest.raises(ReadThrottled):
        links.backlinks(1, cursor=None, limit=50)
    assert "ReadThrottled" in contract.TRANSIENT_ERRORS


def test_given_another_client_error_then_it_is_not_renamed(aws):
    pages = PageStore(Throttling(aws.dynamodb, {"get_item"}, "ResourceNotFoundException"), aws.pages_table)
    writes = PageStore(aws.dynamodb, aws.pages_table)
    links = LinkStore(aws.dynamodb, aws.links_table)

    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        pages.get(1)
    # A failed condition is still an answer, not a throttle.
    assert writes.claim(1, "One", "exec-1", NOW, 900) is True
    assert writes.claim(1, "One", "exec-2", NOW, 900) is False
    links.put_many([LinkRecord(fromid=2, from_title="Two", toid=1)])
    assert links.count(1) == 1


class ThrottledService:
    """The api's page service, its tables throttled past the client's attempts."""

    def __init__(self, error: Exception):
        self._error = error

    def search(self, term):
        raise self._error

    def page(self, pageid):
        raise self._error

    def backlinks(self, pageid, cursor, limit):
        raise self._error


@pytest.mark.parametrize(
    ("route", "path", "query"),
    [
        ("GET /api/search", {}, {"q": "music"}),
        ("GET /api/pages/{pageid}", {"pageid": "1952"}, {}),
        ("GET /api/pages/{pageid}/backlinks", {"pageid": "1952"}, {}),
    ],
)
@pytest.mark.parametrize("error", [ReadThrottled("get_many: throttled"), WriteThrottled("claim: throttled")])
def test_given_a_throttled_table_then_the_api_answers_503_storage_unavailable_json(route, path, query, error):
    handler = ApiHandler(ThrottledService(error))  # type: ignore[arg-type]

    answer = handler({"routeKey": route, "pathParameters": path, "queryStringParameters": query}, None)

    assert answer["statusCode"] == 503
    assert json.loads(answer["body"]) == {
        "error": {"code": "storage_unavailable", "message": "The cache is not answering; try again soon."}
    }
