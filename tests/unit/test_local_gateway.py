"""The local gateway: route matching as API Gateway does it, CloudFront's security headers, integration failures."""

from __future__ import annotations

import socket
import struct
import time

import pytest
import requests

from local.gateway import Gateway, IntegrationTimeout, Route, http_api_event, security_headers

ARN = "arn:aws:lambda:us-east-1:123456789012:function:api"


def test_a_route_with_a_parameter_matches_one_segment_and_decodes_it():
    route = Route("GET", "/api/pages/{pageid}", ARN)

    assert route.match("GET", "/api/pages/1952") == {"pageid": "1952"}
    assert route.match("GET", "/api/pages/Z%C3%BCrich") == {"pageid": "Zürich"}
    assert route.match("GET", "/api/pages/1952/backlinks") is None
    assert route.match("POST", "/api/pages/1952") is None
    assert route.key == "GET /api/pages/{pageid}"


def test_a_greedy_parameter_takes_the_rest_of_the_path_and_any_matches_every_method():
    route = Route("ANY", "/api/{proxy+}", ARN)

    assert route.match("DELETE", "/api/pages/1/backlinks") == {"proxy": "pages/1/backlinks"}


def test_a_literal_route_matches_only_itself():
    route = Route("GET", "/api/search", ARN)

    assert route.match("GET", "/api/search") == {}
    assert route.match("GET", "/api/searches") is None


def test_security_headers_follow_the_response_headers_policy_inputs():
    headers = security_headers(
        {
            "securityHeadersConfig": {
                "contentSecurityPolicy": {"contentSecurityPolicy": "default-src 'self'", "override": True},
                "strictTransportSecurity": {"accessControlMaxAgeSec": 63072000.0, "includeSubdomains": True},
                "contentTypeOptions": {"override": True},
                "referrerPolicy": {"referrerPolicy": "strict-origin-when-cross-origin"},
                "frameOptions": {"frameOption": "DENY"},
            },
            "customHeadersConfig": {"items": [{"header": "X-Served-By", "value": "wikiroam", "override": True}]},
        }
    )

    assert headers == {
        "content-security-policy": "default-src 'self'",
        "strict-transport-security": "max-age=63072000; includeSubDomains",
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
        "x-frame-options": "DENY",
        "x-served-by": "wikiroam",
    }


def test_a_request_becomes_an_http_api_v2_event_with_query_and_trace_headers():
    event = http_api_event(
        "GET",
        "/api/search?q=rock+%26+roll&tag=a&tag=b",
        {"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Host": "127.0.0.1:8000"},
        b"",
        "127.0.0.1",
    )
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/api/search"
    assert event["queryStringParameters"] == {"q": "rock & roll", "tag": "a,b"}
    assert event["headers"]["traceparent"].startswith("00-4bf92f")
    assert event["requestContext"]["http"]["method"] == "GET"


@pytest.mark.parametrize(
    ("failure", "status", "body"),
    [
        (IntegrationTimeout("no answer within 29 s"), 503, {"message": "Service Unavailable"}),
        (ConnectionError("refused"), 500, None),
    ],
)
def test_an_integration_that_times_out_or_fails_answers_what_an_http_api_answers(failure, status, body):
    def invoke(function_arn, event):
        raise failure

    gateway = Gateway()
    gateway.start()
    try:
        gateway.deployed([Route("GET", "/api/health", ARN)], invoke, None, {})
        answer = requests.get(f"{gateway.url}/api/health", timeout=10)
    finally:
        gateway.stop()

    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/json")
    if body is not None:
        assert answer.json() == body
    else:
        assert answer.json()["error"]["code"] == "integration_error"


def test_a_reader_that_leaves_before_the_answer_leaves_no_traceback_in_make_devs_terminal(capfd):
    def invoke(function_arn, event):
        time.sleep(0.5)  # the reader's next keystroke aborts this search meanwhile
        return {"statusCode": 200, "body": "{}"}

    gateway = Gateway()
    gateway.start()
    try:
        gateway.deployed([Route("GET", "/api/search", ARN)], invoke, None, {})
        host, port = gateway.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as client:
            client.sendall(b"GET /api/search?q=a HTTP/1.1\r\nHost: x\r\n\r\n")
            # Closed with a reset, as a browser's abort does: the gateway's write fails.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        time.sleep(1.0)
        still_serving = requests.get(f"{gateway.url}/api/search", timeout=10)
    finally:
        gateway.stop()

    assert still_serving.status_code == 200
    assert "Traceback" not in capfd.readouterr().err
