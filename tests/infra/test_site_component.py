"""The site under mocks: private bucket, origin access control, CloudFront behaviours, headers, custom domain."""

from __future__ import annotations

import json

from components.site import (
    ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID,
    CACHING_DISABLED_POLICY_ID,
    CACHING_OPTIMIZED_POLICY_ID,
)
from components.site_files import site_files
from tests.infra.conftest import PROJECT_DIR


def distribution(deployment) -> dict:
    return deployment.named("wikiroam-site-cdn").inputs


def test_given_the_bucket_then_all_public_access_is_blocked_acls_are_off_and_objects_are_encrypted(dev):
    block = dev.named("wikiroam-site-public-access-block").inputs
    assert block["bucket"] == "wikiroam-site-bucket-id"
    assert all(
        block[key] is True
        for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    assert dev.named("wikiroam-site-ownership").inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (rule,) = dev.named("wikiroam-site-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    assert "websites" not in dev.named("wikiroam-site-bucket").inputs


def test_given_the_bucket_origin_then_cloudfront_signs_every_request_with_origin_access_control(dev):
    oac = dev.named("wikiroam-site-origin-access-control").inputs
    assert (oac["originAccessControlOriginType"], oac["signingBehavior"], oac["signingProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    site_origin = next(o for o in distribution(dev)["origins"] if o["originId"] == "site")
    assert site_origin["originAccessControlId"] == "wikiroam-site-origin-access-control-id"
    assert site_origin["domainName"] == "wikiroam-site-bucket-1a2b3c4.s3.amazonaws.com"
    assert "customOriginConfig" not in site_origin


def test_given_the_bucket_policy_then_only_this_distribution_may_read(dev):
    policy = dev.named("wikiroam-site-bucket-policy").inputs
    (statement,) = json.loads(policy["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Resource"] == ["arn:aws:s3:::wikiroam-site-bucket-1a2b3c4/*"]
    assert statement["Condition"]["StringEquals"]["AWS:SourceArn"].endswith(":distribution/wikiroam-site-cdn-id")


def test_given_the_default_behaviour_then_the_site_is_served_from_the_bucket_cached(dev):
    default = distribution(dev)["defaultCacheBehavior"]
    assert default["targetOriginId"] == "site"
    assert default["cachePolicyId"] == CACHING_OPTIMIZED_POLICY_ID
    assert distribution(dev)["defaultRootObject"] == "index.html"


def test_given_api_paths_then_they_go_uncached_to_the_http_api_over_https_only(dev):
    (api,) = distribution(dev)["orderedCacheBehaviors"]
    assert api["pathPattern"] == "/api/*"
    assert api["targetOriginId"] == "api"
    assert api["cachePolicyId"] == CACHING_DISABLED_POLICY_ID
    assert api["originRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID
    assert {"GET", "HEAD"} <= set(api["allowedMethods"])
    api_origin = next(o for o in distribution(dev)["origins"] if o["originId"] == "api")
    assert api_origin["domainName"] == "wikiroam-api-http-api-id.execute-api.us-east-1.amazonaws.com"
    assert api_origin["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert api_origin["customOriginConfig"]["originSslProtocols"] == ["TLSv1.2"]


def test_given_each_stack_then_viewers_are_redirected_to_https_and_get_the_security_headers(deployment):
    cdn = distribution(deployment)
    behaviours = [cdn["defaultCacheBehavior"], *cdn["orderedCacheBehaviors"]]
    assert {b["viewerProtocolPolicy"] for b in behaviours} == {"redirect-to-https"}
    assert {b["responseHeadersPolicyId"] for b in behaviours} == {"wikiroam-site-security-headers-id"}


def test_given_the_headers_policy_then_csp_hsts_nosniff_referrer_and_framing_are_set(dev):
    headers = dev.named("wikiroam-site-security-headers").inputs["securityHeadersConfig"]
    csp = headers["contentSecurityPolicy"]["contentSecurityPolicy"]
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["img-src"] == "'self' https: data:"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert headers["strictTransportSecurity"]["accessControlMaxAgeSec"] >= 31_536_000
    assert headers["contentTypeOptions"] == {"override": True}
    assert headers["referrerPolicy"]["referrerPolicy"] == "strict-origin-when-cross-origin"
    assert headers["frameOptions"]["frameOption"] == "DENY"
    assert all(header["override"] is True for header in headers.values())


def test_given_no_custom_domain_then_the_cloudfront_domain_and_certificate_serve(dev):
    cdn = distribution(dev)
    assert cdn["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert cdn.get("aliases", []) == []
    assert dev.outputs["siteUrl"] == "https://d111111abcdef8.cloudfront.net"
    assert dev.of_type("aws:acm/certificate:Certificate") == []
    assert dev.of_type("aws:route53/record:Record") == []


def test_given_a_custom_domain_then_a_us_east_1_certificate_is_dns_validated_and_aliased(custom_domain):
    (provider,) = custom_domain.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-east-1"
    certificate = custom_domain.named("wikiroam-site-certificate")
    assert certificate.inputs["domainName"] == "roam.example.org"
    assert certificate.inputs["validationMethod"] == "DNS"
    assert certificate.provider.startswith(provider.urn)
    validation_record = custom_domain.named("wikiroam-site-certificate-validation-record").inputs
    assert validation_record["zoneId"] == "Z0123456789ABC"
    assert validation_record["name"] == "_0123.roam.example.org."
    assert validation_record["records"] == ["_4567.acm-validations.aws."]
    validation = custom_domain.named("wikiroam-site-certificate-validation")
    assert validation.inputs["validationRecordFqdns"] == ["_0123.roam.example.org."]
    assert validation.provider.startswith(provider.urn)
    cdn = distribution(custom_domain)
    assert cdn["aliases"] == ["roam.example.org"]
    assert cdn["viewerCertificate"]["acmCertificateArn"].startswith("arn:aws:acm:us-east-1:")
    assert cdn["viewerCertificate"]["sslSupportMethod"] == "sni-only"
    for record_type in ("A", "AAAA"):
        alias = custom_domain.named(f"wikiroam-site-alias-{record_type.lower()}").inputs
        assert (alias["type"], alias["name"], alias["zoneId"]) == (record_type, "roam.example.org", "Z0123456789ABC")
        assert alias["aliases"] == [
            {"name": "d111111abcdef8.cloudfront.net", "zoneId": "Z2FDTNDATAQYW2", "evaluateTargetHealth": False}
        ]
    assert custom_domain.outputs["siteUrl"] == "https://roam.example.org"
    assert custom_domain.outputs["apiUrl"] == "https://roam.example.org/api"


def test_given_the_site_folder_then_its_files_are_uploaded_with_their_content_types(dev):
    expected = {f.key: f.content_type for f in site_files(PROJECT_DIR / "site")}
    uploaded = {r.inputs["key"]: r.inputs["contentType"] for r in dev.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert uploaded == expected
    assert all(
        r.inputs["bucket"] == "wikiroam-site-bucket-id" for r in dev.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    )
