"""IAM, bucket and queue policy documents: plain dicts built by pure functions, serialised by the components.

Every statement names the actions a caller really makes and the resources it makes them on. The two
exceptions, Step Functions' log delivery and the Datadog integration's account-wide reads, say why beside them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Statement = dict[str, Any]
PolicyDocument = dict[str, Any]

VERSION = "2012-10-17"
# Statement ids the tests allow to use `Resource: "*"`, because AWS gives those actions no resource type.
WILDCARD_RESOURCE_SIDS = frozenset({"VendedLogDeliveryHasNoResourceType", "DatadogReadsAccountMetadata"})
# A managed policy holds at most 6,144 characters (white space excluded); keep a margin for the JSON around.
MANAGED_POLICY_MAX_CHARS = 6_000


def document(statements: Iterable[Statement]) -> PolicyDocument:
    """A policy document with the current policy language version."""
    return {"Version": VERSION, "Statement": list(statements)}


def assume_role_policy(service: str) -> PolicyDocument:
    """A trust policy letting one AWS service (e.g. `lambda.amazonaws.com`) assume the role."""
    return document([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


def log_group_statement(log_group_arn: str) -> Statement:
    """Write to one log group's streams (a function's own log group, nothing else)."""
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [f"{log_group_arn}:*"],
    }


def function_policy(log_group_arn: str, statements: Sequence[Mapping[str, Any]]) -> PolicyDocument:
    """A Lambda function's inline policy: its own logs plus what its code calls."""
    return document([log_group_statement(log_group_arn), *(dict(s) for s in statements)])


def api_statements(pages_table_arn: str, links_table_arn: str, cache_topic_arn: str) -> list[Statement]:
    """The api function reads both tables, marks the pages it requests, and publishes cache requests."""
    return [
        {
            "Sid": "ReadPages",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem"],
            "Resource": [pages_table_arn],
        },
        # The conditional `requested_at` marker, so a page whose request is in flight is not published again.
        {"Sid": "MarkRequested", "Effect": "Allow", "Action": ["dynamodb:UpdateItem"], "Resource": [pages_table_arn]},
        {"Sid": "QueryLinks", "Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": [links_table_arn]},
        {"Sid": "PublishCacheRequests", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [cache_topic_arn]},
    ]


def trigger_statements(state_machine_arn: str, cache_topic_arn: str, dead_letter_queue_arn: str) -> list[Statement]:
    """The trigger runs executions synchronously and puts back on the topic the pages its time cannot cover; its
    on-failure destination sends to the dead-letter queue as the function."""
    return [
        {
            "Sid": "RunCachePipeline",
            "Effect": "Allow",
            "Action": ["states:StartSyncExecution"],
            "Resource": [state_machine_arn],
        },
        {
            "Sid": "PutBackCacheRequests",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "Resource": [cache_topic_arn],
        },
        {
            "Sid": "SendFailedInvocations",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [dead_letter_queue_arn],
        },
    ]


def cache_start_statements(pages_table_arn: str) -> list[Statement]:
    """CacheStart claims the page with a conditional update, then reads it when the claim fails."""
    return [
        {
            "Sid": "ClaimPage",
            "Effect": "Allow",
            "Action": ["dynamodb:UpdateItem", "dynamodb:GetItem"],
            "Resource": [pages_table_arn],
        }
    ]


def cache_info_statements(pages_table_arn: str) -> list[Statement]:
    """CacheInfo writes the article, or releases the claim when the wiki no longer has the page."""
    return [
        {
            "Sid": "WritePageInfo",
            "Effect": "Allow",
            "Action": ["dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            "Resource": [pages_table_arn],
        }
    ]


def cache_backlinks_statements(pages_table_arn: str, links_table_arn: str) -> list[Statement]:
    """CacheBacklinks reads and saves its progress on the page, and merges links into the backlinks chunks."""
    return [
        {
            "Sid": "TrackBacklinksProgress",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Resource": [pages_table_arn],
        },
        {
            "Sid": "WriteLinks",
            "Effect": "Allow",
            # A chunk is read, then rewritten conditionally; a split is a TransactWriteItems of PutItems.
            "Action": ["dynamodb:Query", "dynamodb:PutItem"],
            "Resource": [links_table_arn],
        },
    ]


def gap_check_statements(pages_table_arn: str) -> list[Statement]:
    """The gap check scans the pages table for complete pages and marks a gap with a conditional update."""
    return [
        {
            "Sid": "SampleAndMarkPages",
            "Effect": "Allow",
            "Action": ["dynamodb:Scan", "dynamodb:UpdateItem"],
            "Resource": [pages_table_arn],
        }
    ]


def shipper_statements(secret_arn: str) -> list[Statement]:
    """The shipper reads the one secret that holds its OTLP endpoint and headers."""
    return [
        {
            "Sid": "ReadTelemetryEndpoint",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [secret_arn],
        }
    ]


def state_machine_policy(function_arns: Sequence[str]) -> PolicyDocument:
    """The state machine invokes its three task functions and delivers its execution logs."""
    return document(
        [
            {
                "Sid": "InvokeTaskFunctions",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                # The `:*` form covers qualified invocations (versions, aliases) of the same functions.
                "Resource": [arn for function_arn in function_arns for arn in (function_arn, f"{function_arn}:*")],
            },
            {
                # Step Functions writes to CloudWatch Logs through vended log delivery; these actions have no
                # resource type in IAM, so AWS requires `Resource: "*"` (Step Functions developer guide,
                # "IAM policies for logging to CloudWatch Logs").
                "Sid": "VendedLogDeliveryHasNoResourceType",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ],
                "Resource": "*",
            },
        ]
    )


def site_bucket_policy(bucket_arn: str, distribution_arn: str) -> PolicyDocument:
    """Only this CloudFront distribution (through its origin access control) may read the site's objects."""
    return document(
        [
            {
                "Sid": "CloudFrontReadsSite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/*"],
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            }
        ]
    )


def dead_letter_queue_policy(queue_arn: str, topic_arn: str) -> PolicyDocument:
    """Only the cache request topic may move undeliverable messages into the dead-letter queue."""
    return document(
        [
            {
                "Sid": "TopicRedrivesUndeliverable",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": ["sqs:SendMessage"],
                "Resource": [queue_arn],
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ]
    )


def datadog_integration_trust_policy(principal: str, external_id: str) -> PolicyDocument:
    """Let Datadog's AWS account assume the integration role, with the external id it was given only."""
    return document(
        [
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ]
    )


def datadog_integration_policies(
    actions: Sequence[str], max_chars: int = MANAGED_POLICY_MAX_CHARS
) -> list[PolicyDocument]:
    """Datadog's integration permissions as managed policies, each under IAM's size limit.

    Datadog lists what its integration reads across the account (`cloudwatch:GetMetricData`, `tag:GetResources`,
    `lambda:List*`...): describe and list calls that have no resource type, hence `Resource: "*"` under a Sid the
    scoping check knows. A bare `*` or `service:*` action is refused.
    """
    wildcards = [action for action in actions if action == "*" or action.endswith(":*")]
    if wildcards:
        raise ValueError(f"Datadog's integration permissions include whole services {wildcards}: refusing them")
    chunks: list[list[str]] = [[]]
    for action in sorted(set(actions)):
        candidate = [*chunks[-1], action]
        if chunks[-1] and len(json.dumps(_datadog_reads(candidate), separators=(",", ":"))) > max_chars:
            chunks.append([action])
        else:
            chunks[-1] = candidate
    return [_datadog_reads(chunk) for chunk in chunks if chunk]


def _datadog_reads(actions: list[str]) -> PolicyDocument:
    return document([{"Sid": "DatadogReadsAccountMetadata", "Effect": "Allow", "Action": actions, "Resource": "*"}])
