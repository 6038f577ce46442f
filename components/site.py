"""The site: a private S3 bucket behind CloudFront, which also routes `/api/*` to the HTTP API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from components.policies import site_bucket_policy
from components.site_files import site_files

# AWS managed CloudFront policies (the same ids in every account).
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED_POLICY_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SITE_ORIGIN = "site"
API_ORIGIN = "api"
# The site loads its own scripts, styles and data only; article thumbnails come from the wiki's image servers.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "https:", "data:"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
HSTS_MAX_AGE_SECONDS = 2 * 365 * 24 * 3600


def content_security_policy(directives: dict[str, list[str]]) -> str:
    """The Content-Security-Policy header value for a directive -> sources map."""
    return "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in directives.items())


@dataclass(frozen=True)
class CustomDomain:
    """A name in a Route 53 hosted zone to serve the site at (an ACM certificate is issued for it)."""

    name: str
    hosted_zone_id: str


@dataclass(frozen=True)
class SiteArgs:
    """The API to route `/api/*` to, the folder to upload, and optionally a custom domain."""

    api_endpoint: pulumi.Input[str]
    site_dir: Path
    price_class: str
    domain: CustomDomain | None = None


class Site(pulumi.ComponentResource):
    """CloudFront in front of the private bucket (origin access control) and of the HTTP API, HTTPS only.

    One origin for the page and its API means no CORS and no API URL in the site: the browser calls `/api/...`.
    """

    bucket: aws.s3.BucketV2
    distribution: aws.cloudfront.Distribution
    url: pulumi.Output[str]

    def __init__(self, name: str, args: SiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wikiroam:components:Site", name, None, opts)
        self.bucket, public_access_block = self._create_bucket(name)
        certificate_arn = self._create_certificate(name, args.domain) if args.domain else None
        self.distribution = self._create_distribution(name, args, certificate_arn)
        self._create_bucket_policy(name, public_access_block)
        self._upload_files(name, args.site_dir)
        if args.domain is not None:
            self._create_alias_records(name, args.domain)
            self.url = pulumi.Output.from_input(f"https://{args.domain.name}")
        else:
            self.url = self.distribution.domain_name.apply(lambda domain: f"https://{domain}")
        self.register_outputs(
            {"url": self.url, "bucket_name": self.bucket.bucket, "distribution_id": self.distribution.id}
        )

    def _create_bucket(self, name: str) -> tuple[aws.s3.BucketV2, aws.s3.BucketPublicAccessBlock]:
        bucket = aws.s3.BucketV2(f"{name}-bucket", opts=pulumi.ResourceOptions(parent=self))
        public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketServerSideEncryptionConfigurationV2(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationV2RuleArgs(
                    apply_server_side_encryption_by_default=(
                        aws.s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="AES256"
                        )
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        return bucket, public_access_block

    def _create_certificate(self, name: str, domain: CustomDomain) -> pulumi.Output[str]:
        # CloudFront only takes certificates from us-east-1, whatever region the rest of the stack is in.
        us_east_1 = aws.Provider(f"{name}-us-east-1", region="us-east-1", opts=pulumi.ResourceOptions(parent=self))
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=domain.name,
            validation_method="DNS",
            opts=pulumi.ResourceOptions(parent=self, provider=us_east_1),
        )
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-certificate-validation-record",
            zone_id=domain.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=pulumi.ResourceOptions(parent=self, provider=us_east_1),
        )
        return validation.certificate_arn

    def _create_headers_policy(self, name: str) -> aws.cloudfront.ResponseHeadersPolicy:
        return aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-security-headers",
            comment="WikiRoam security headers",
            security_headers_config=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigArgs(
                content_security_policy=(
                    aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicyArgs(
                        content_security_policy=content_security_policy(CONTENT_SECURITY_POLICY), override=True
                    )
                ),
                strict_transport_security=(
                    aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurityArgs(
                        access_control_max_age_sec=HSTS_MAX_AGE_SECONDS, include_subdomains=True, override=True
                    )
                ),
                content_type_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigContentTypeOptionsArgs(
                    override=True
                ),
                referrer_policy=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigReferrerPolicyArgs(
                    referrer_policy="strict-origin-when-cross-origin", override=True
                ),
                frame_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigFrameOptionsArgs(
                    frame_option="DENY", override=True
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_distribution(
        self, name: str, args: SiteArgs, certificate_arn: pulumi.Output[str] | None
    ) -> aws.cloudfront.Distribution:
        access_control = aws.cloudfront.OriginAccessControl(
            f"{name}-origin-access-control",
            description="CloudFront signs every request to the WikiRoam site bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=pulumi.ResourceOptions(parent=self),
        )
        headers = self._create_headers_policy(name)
        if certificate_arn is None:
            viewer_certificate = aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)
        else:
            viewer_certificate = aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version="TLSv1.2_2021",
            )
        return aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            comment="WikiRoam",
            aliases=[args.domain.name] if args.domain else [],
            default_root_object="index.html",
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=args.price_class,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=SITE_ORIGIN,
                    domain_name=self.bucket.bucket_regional_domain_name,
                    origin_access_control_id=access_control.id,
                ),
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=API_ORIGIN,
                    domain_name=pulumi.Output.from_input(args.api_endpoint).apply(_hostname),
                    custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                        http_port=80,
                        https_port=443,
                        origin_protocol_policy="https-only",
                        origin_ssl_protocols=["TLSv1.2"],
                    ),
                ),
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=SITE_ORIGIN,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD"],
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_OPTIMIZED_POLICY_ID,
                response_headers_policy_id=headers.id,
                compress=True,
            ),
            ordered_cache_behaviors=[
                aws.cloudfront.DistributionOrderedCacheBehaviorArgs(
                    path_pattern="/api/*",
                    target_origin_id=API_ORIGIN,
                    viewer_protocol_policy="redirect-to-https",
                    # The API answers GET only; HEAD and OPTIONS come with it (CloudFront's smallest set with them).
                    allowed_methods=["GET", "HEAD", "OPTIONS"],
                    cached_methods=["GET", "HEAD"],
                    cache_policy_id=CACHING_DISABLED_POLICY_ID,
                    # Query strings, headers (traceparent included) and cookies reach the API; Host must not,
                    # or API Gateway could not tell which API is meant.
                    origin_request_policy_id=ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID,
                    response_headers_policy_id=headers.id,
                    compress=True,
                )
            ],
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            viewer_certificate=viewer_certificate,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_bucket_policy(self, name: str, public_access_block: aws.s3.BucketPublicAccessBlock) -> None:
        aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, self.distribution.arn).apply(
                lambda arns: json.dumps(site_bucket_policy(arns[0], arns[1]))
            ),
            # S3 rejects a bucket policy while the public access block is being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )

    def _upload_files(self, name: str, site_dir: Path) -> None:
        for file in site_files(site_dir):
            aws.s3.BucketObjectv2(
                f"{name}-file-{file.key}",
                bucket=self.bucket.id,
                key=file.key,
                source=pulumi.FileAsset(str(file.path)),
                content_type=file.content_type,
                cache_control=file.cache_control,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _create_alias_records(self, name: str, domain: CustomDomain) -> None:
        for record_type in ("A", "AAAA"):
            aws.route53.Record(
                f"{name}-alias-{record_type.lower()}",
                zone_id=domain.hosted_zone_id,
                name=domain.name,
                type=record_type,
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=self.distribution.domain_name,
                        zone_id=self.distribution.hosted_zone_id,
                        evaluate_target_health=False,
                    )
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )


def _hostname(url: str) -> str:
    """`https://abc.execute-api.eu-west-1.amazonaws.com` -> `abc.execute-api.eu-west-1.amazonaws.com`."""
    host = urlsplit(url).hostname
    if not host:
        raise ValueError(f"the API endpoint {url!r} has no host name")
    return host
