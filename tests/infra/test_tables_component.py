"""The pages and links tables under mocks."""

from __future__ import annotations

TABLE = "aws:dynamodb/table:Table"


def test_given_the_pages_table_then_it_is_keyed_by_pageid(dev):
    pages = dev.named("wikiroam-tables-pages").inputs
    assert pages["hashKey"] == "pageid"
    assert "rangeKey" not in pages
    assert pages["attributes"] == [{"name": "pageid", "type": "N"}]
    assert "globalSecondaryIndexes" not in pages


def test_given_the_backlinks_table_then_it_is_keyed_by_toid_and_chunk_lower_bound_with_no_index(dev):
    links = dev.named("wikiroam-tables-backlinks").inputs
    assert (links["hashKey"], links["rangeKey"]) == ("toid", "lo")
    assert sorted(links["attributes"], key=lambda a: a["name"]) == [
        {"name": "lo", "type": "N"},
        {"name": "toid", "type": "N"},
    ]
    # No route reads links by their source: an index would bill every write a second time.
    assert "globalSecondaryIndexes" not in links
    assert not [r for r in dev.of_type(TABLE) if r.name == "wikiroam-tables-links"]


def test_given_each_stack_then_both_tables_are_on_demand_recoverable_encrypted_and_retained(deployment):
    tables = deployment.of_type(TABLE)
    assert len(tables) == 2
    for table in tables:
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
        assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
        assert table.inputs["serverSideEncryption"] == {"enabled": True}
        assert table.retain_on_delete, f"{table.name} would be deleted with the stack"


def test_given_dev_then_tables_can_be_deleted_and_given_prod_then_deletion_protection_is_on(dev, prod):
    assert [t.inputs["deletionProtectionEnabled"] for t in dev.of_type(TABLE)] == [False, False]
    assert [t.inputs["deletionProtectionEnabled"] for t in prod.of_type(TABLE)] == [True, True]
