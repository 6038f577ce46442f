"""Every resource type the program declares is one the local deployer emulates or records, never skips."""

from __future__ import annotations

import pytest

from local.aws import links_table_spec, pages_table_spec
from local.deployer import RECORDED_ONLY, RECORDED_PREFIXES, LocalMocks, UnsupportedResourceError
from local.emulated import table_spec


def _known(typ: str) -> bool:
    return typ in LocalMocks.supported_types() or typ in RECORDED_ONLY or typ.startswith(tuple(RECORDED_PREFIXES))


@pytest.mark.parametrize("stack", ["dev", "prod", "custom_domain"])
def test_given_each_stack_then_every_resource_type_is_emulated_or_recorded(stack, request):
    deployment = request.getfixturevalue(stack)

    types = {r.type for r in deployment.resources if r.custom}

    assert {t for t in types if not _known(t)} == set()


def test_given_a_type_the_local_deployer_does_not_know_then_deploying_stops_with_its_name():
    mocks = LocalMocks("dev", lambda service: None)

    with pytest.raises(UnsupportedResourceError, match=r"aws:ec2/vpc:Vpc \(resource 'network'\)"):
        mocks._new_resource("aws:ec2/vpc:Vpc", "network", {})


def test_recorded_types_say_why_they_have_no_local_meaning():
    assert all(reason.strip() for reason in [*RECORDED_ONLY.values(), *RECORDED_PREFIXES.values()])
    assert not set(RECORDED_ONLY) & LocalMocks.supported_types()


@pytest.mark.parametrize(
    ("logical", "fixture_spec"),
    [("wikiroam-tables-pages", pages_table_spec), ("wikiroam-tables-backlinks", links_table_spec)],
)
def test_the_table_specs_tests_use_in_process_match_the_programs_tables(dev, logical, fixture_spec):
    from_program = table_spec("t", dev.named(logical).inputs)

    keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    assert {k: from_program.get(k) for k in keys} == {k: fixture_spec("t").get(k) for k in keys}
