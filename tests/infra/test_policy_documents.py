"""The IAM, bucket and queue policy documents, as pure functions (no Pulumi)."""

from __future__ import annotations

import json

import pytest

from components import policies
from tests.infra.scoping import unscoped

PAGES = "arn:aws:dynamodb:us-east-1:123456789012:table/pages"
LINKS = "arn:aws:dynamodb:us-east-1:123456789012:table/links"
TOPIC = "arn:aws:sns:us-east-1:123456789012:cache"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:dlq"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:cache"
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:fn"
BUCKET = "arn:aws:s3:::site"
DISTRIBUTION = "arn:aws:cloudfront::123456789012:distribution/E123"
FUNCTIONS = [f"arn:aws:lambda:us-east-1:123456789012:function:{n}" for n in ("start", "info", "backlinks")]


def grants(statements) -> set[tuple[str, str]]:
    """Every (action, resource) pair the statements allow."""
    return {
        (action, resource)
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }


ALL_DOCUMENTS = {
    "api": policies.function_policy(LOG_GROUP, policies.api_statements(PAGES, LINKS, TOPIC)),
    "trigger": policies.function_policy(LOG_GROUP, policies.trigger_statements(MACHINE, TOPIC, QUEUE)),
    "start": policies.function_policy(LOG_GROUP, policies.cache_start_statements(PAGES)),
    "info": policies.function_policy(LOG_GROUP, policies.cache_info_statements(PAGES)),
    "backlinks": policies.function_policy(LOG_GROUP, policies.cache_backlinks_statements(PAGES, LINKS)),
    "gap check": policies.function_policy(LOG_GROUP, policies.gap_check_statements(PAGES)),
    "state machine": policies.state_machine_policy(FUNCTIONS),
    "site bucket": policies.site_bucket_policy(BUCKET, DISTRIBUTION),
    "dead-letter queue": policies.dead_letter_queue_policy(QUEUE, TOPIC),
    "lambda trust": policies.assume_role_policy("lambda.amazonaws.com"),
}


@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_given_each_policy_document_then_every_statement_is_scoped_and_it_serialises(name):
    document = ALL_DOCUMENTS[name]
    assert document["Version"] == "2012-10-17"
    if name != "lambda trust":
        assert unscoped(document) == []
    assert json.loads(json.dumps(document)) == document


def test_given_the_api_then_it_reads_and_marks_pages_queries_links_and_publishes_only():
    assert grants(policies.api_statements(PAGES, LINKS, TOPIC)) == {
        ("dynamodb:GetItem", PAGES),
        ("dynamodb:BatchGetItem", PAGES),
        ("dynamodb:UpdateItem", PAGES),
        ("dynamodb:Query", LINKS),
        ("sns:Publish", TOPIC),
    }


def test_given_the_trigger_then_it_runs_executions_puts_requests_back_and_sends_failures_only():
    assert grants(policies.trigger_statements(MACHINE, TOPIC, QUEUE)) == {
        ("states:StartSyncExecution", MACHINE),
        ("sns:Publish", TOPIC),
        ("sqs:SendMessage", QUEUE),
    }


def test_given_the_gap_check_then_it_scans_and_marks_the_pages_table_only():
    assert grants(policies.gap_check_statements(PAGES)) == {("dynamodb:Scan", PAGES), ("dynamodb:UpdateItem", PAGES)}


def test_given_the_cache_steps_then_each_gets_only_the_calls_it_makes():
    assert grants(policies.cache_start_statements(PAGES)) == {
        ("dynamodb:UpdateItem", PAGES),
        ("dynamodb:GetItem", PAGES),
    }
    assert grants(policies.cache_info_statements(PAGES)) == {
        ("dynamodb:UpdateItem", PAGES),
        ("dynamodb:DeleteItem", PAGES),
    }
    assert grants(policies.cache_backlinks_statements(PAGES, LINKS)) == {
        ("dynamodb:GetItem", PAGES),
        ("dynamodb:UpdateItem", PAGES),
        ("dynamodb:Query", LINKS),
        ("dynamodb:PutItem", LINKS),
    }


def test_given_a_function_policy_then_its_logs_go_to_its_own_log_group_only():
    first = policies.function_policy(LOG_GROUP, [])["Statement"][0]
    assert grants([first]) == {
        ("logs:CreateLogStream", f"{LOG_GROUP}:*"),
        ("logs:PutLogEvents", f"{LOG_GROUP}:*"),
    }


def test_given_the_state_machine_then_it_invokes_its_three_functions_and_only_log_delivery_is_unscoped():
    document = policies.state_machine_policy(FUNCTIONS)
    invoke, delivery = document["Statement"]
    assert set(invoke["Resource"]) == {*FUNCTIONS, *(f"{arn}:*" for arn in FUNCTIONS)}
    assert invoke["Action"] == ["lambda:InvokeFunction"]
    assert delivery["Resource"] == "*"
    assert delivery["Sid"] in policies.WILDCARD_RESOURCE_SIDS
    assert all(action.startswith("logs:") and "*" not in action for action in delivery["Action"])


def test_given_the_site_bucket_then_only_this_distribution_reads_objects():
    (statement,) = policies.site_bucket_policy(BUCKET, DISTRIBUTION)["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == ["s3:GetObject"]
    assert statement["Resource"] == [f"{BUCKET}/*"]
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceArn": DISTRIBUTION}}


def test_given_the_dead_letter_queue_then_only_the_topic_sends_to_it():
    (statement,) = policies.dead_letter_queue_policy(QUEUE, TOPIC)["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == ["sqs:SendMessage"]
    assert statement["Resource"] == [QUEUE]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": TOPIC}}


def test_given_a_wildcard_then_the_scoping_check_catches_it():
    bad = policies.document(
        [
            {"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": [BUCKET]},
            {"Sid": "B", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
        ]
    )
    assert unscoped(bad) == ["A: wildcard action s3:*", "B: Resource '*'"]
