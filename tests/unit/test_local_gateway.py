"""The local gateway's pure parts: route matching as API Gateway does it, and CloudFront's security headers."""

from __future__ import annotations

from local.gateway import Route, security_headers

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
