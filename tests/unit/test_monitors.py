"""The monitors and the SLO (dashboards/monitors/, dashboards/slos/): Datadog's models, strictly, and our rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components import datadog_assets as assets
from functions import telemetry
from tests.support.datadog_models import (
    MONITOR_ONLY_PLACEHOLDERS,
    PLACEHOLDERS,
    StrictModelError,
    load_catalogue,
    load_monitor,
    load_slo,
    metrics_in_query,
)

MONITORS = assets.monitors()
BY_ANCHOR = {m.anchor: m.document for m in MONITORS}
QUERY_ALERTS = [m for m in MONITORS if m.document["type"] == "query alert"]
RUNBOOK = (assets.ASSETS_DIR / "README.md").read_text(encoding="utf-8")
# `<time aggregation>(last_<window>):<query> <comparator> <number>`, as the Monitor API takes a metric monitor.
MONITOR_QUERY = re.compile(
    r"^(?P<aggregation>avg|sum|min|max|percentile)\(last_(?P<window>\d+[mhd])\):(?P<query>.+?)"
    r"\s(?P<comparator>>=|<=|>|<)\s(?P<threshold>-?\d+(?:\.\d+)?)$"
)
SCOPE = re.compile(r"\{([^{}]*)\}")
# Each resource placeholder names something this stack created; `env` scopes trace metrics to this stack.
STACK_SCOPES = re.compile(
    r"\$\{(api_id|\w+_function|state_machine_arn|pages_table|links_table|topic_name|dlq_name|distribution_id|env)\}"
)
# Custom metrics named per stack (span-based metrics are org-wide, so their names carry the stack).
PER_STACK_METRIC = "${span_metric_prefix}."


def _id(monitor: assets.Monitor) -> str:
    return monitor.key


def _parsed(document: dict) -> re.Match[str]:
    match = MONITOR_QUERY.match(document["query"])
    assert match, f"{document['name']}: the query does not parse as `agg(last_N):query > threshold`"
    return match


def test_given_the_assets_then_there_are_at_least_twelve_metric_monitors_and_one_for_the_slo():
    assert len(QUERY_ALERTS) >= 12
    assert [m.anchor for m in MONITORS if m.document["type"] == "slo alert"] == ["slo-burn-rate"]
    assert len(BY_ANCHOR) == len(MONITORS), "two monitor files share a runbook anchor"


@pytest.mark.parametrize("monitor", MONITORS, ids=_id)
def test_given_each_monitor_then_it_loads_strictly_into_datadogs_monitor_model(monitor):
    model = load_monitor(monitor.document)
    assert model.query == monitor.document["query"]


def test_given_a_monitor_with_an_option_datadog_does_not_define_then_the_strict_load_fails():
    document = {**BY_ANCHOR["dlq-depth"], "options": {**BY_ANCHOR["dlq-depth"]["options"], "notify_everyone": True}}
    with pytest.raises(StrictModelError, match="notify_everyone"):
        load_monitor(document)


@pytest.mark.parametrize("monitor", QUERY_ALERTS, ids=_id)
def test_given_each_metric_monitor_then_its_query_parses_and_its_thresholds_agree(monitor):
    document = monitor.document
    match = _parsed(document)
    thresholds = document["options"]["thresholds"]
    # The number in the query is the critical threshold; the warning comes first on the way there.
    assert float(match["threshold"]) == thresholds["critical"]
    if match["comparator"] in (">", ">="):
        assert thresholds["warning"] < thresholds["critical"]
    else:
        assert thresholds["warning"] > thresholds["critical"]
    assert metrics_in_query(match["query"]), "no metric found in the query"


@pytest.mark.parametrize("monitor", QUERY_ALERTS, ids=_id)
def test_given_each_metric_monitor_then_every_metric_is_catalogued_and_scoped_to_this_stack(monitor):
    catalogue = load_catalogue()
    query = _parsed(monitor.document)["query"]
    for metric in metrics_in_query(query):
        assert metric in catalogue, f"{metric} is not in dashboards/metrics.csv"
        assert not metric.startswith("aws.lambda.enhanced."), "enhanced metrics need the Datadog extension"
    for metric, scope in metric_scopes(query):
        if metric.startswith(PER_STACK_METRIC):
            continue
        assert STACK_SCOPES.search(scope), f"{metric} is not scoped to this stack: {{{scope}}}"


def metric_scopes(query: str) -> list[tuple[str, str]]:
    """Each `<aggregator>:<metric>{<scope>}` term's metric and scope (a scope may hold `${...}` placeholders)."""
    terms = []
    for match in re.finditer(r"(?:avg|sum|min|max|p\d+):(?P<metric>[\w.]+|\$\{\w+\}[\w.]*)\{", query):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(query[end], 0)
            end += 1
        terms.append((match["metric"], query[match.end() : end - 1]))
    return terms


def test_given_a_query_then_each_metric_scope_is_read_whole_placeholders_included():
    query = "sum(last_5m):sum:a.b{x:${y},z IN (${w})}.as_count() / max:${p}.c{*} > 1"
    assert metric_scopes(query) == [("a.b", "x:${y},z IN (${w})"), ("${p}.c", "*")]


@pytest.mark.parametrize("monitor", QUERY_ALERTS, ids=_id)
def test_given_a_cloudwatch_polled_metric_then_the_monitor_waits_for_it(monitor):
    catalogue = load_catalogue()
    sources = {catalogue[m]["source"] for m in metrics_in_query(monitor.document["query"])}
    polled = sources & {"aws_integration", "cloudwatch_custom"}
    delay = monitor.document["options"].get("evaluation_delay")
    if polled:
        # CloudWatch metrics reach Datadog ~10 minutes late: an earlier evaluation sees a half-empty window.
        assert delay is not None
        assert delay >= 600
    else:
        assert delay is None, "trace and span metrics are not late: a delay only slows the alert"


@pytest.mark.parametrize("monitor", MONITORS, ids=_id)
def test_given_each_monitor_then_its_name_tags_priority_and_missing_data_follow_the_house_rules(monitor):
    document = monitor.document
    options = document["options"]
    assert document["name"].startswith("[wikiroam] ")
    assert document["name"].endswith(" (${env})")
    assert document["tags"] == ["service:${service}", "env:${env}", "team:${team}"]
    assert document["priority"] in (1, 2, 3, 4, 5)
    if document["priority"] <= 2:
        assert options["renotify_interval"] > 0
        assert options["renotify_statuses"] == ["alert"]
    if document["type"] == "query alert":
        assert options["on_missing_data"] in ("show_no_data", "show_and_notify_no_data", "resolve", "default")
        assert "notify_no_data" not in options, "notify_no_data conflicts with on_missing_data"


@pytest.mark.parametrize("monitor", MONITORS, ids=_id)
def test_given_each_monitor_then_its_message_says_what_happens_what_to_do_and_links_its_runbook(monitor):
    message = monitor.document["message"]
    assert message.startswith("## What's happening?\n")
    assert message.index("## What's happening?") < message.index("## What to do") < message.index("Runbook:")
    assert f"${{runbook_url}}#{monitor.anchor}" in message
    assert re.search(r"Dashboard: \$\{(overview|pipeline)_dashboard_url\}", message)
    assert message.rstrip().endswith("${notify}")
    assert re.search(rf"^### {re.escape(monitor.anchor)}$", RUNBOOK, re.MULTILINE), (
        f"dashboards/README.md has no runbook section `### {monitor.anchor}`"
    )


def test_given_the_trace_metrics_the_monitors_read_then_each_is_an_operation_the_functions_name():
    operations = {telemetry.API_OPERATION, telemetry.TRIGGER_OPERATION, telemetry.STEP_OPERATION}
    operations.add(telemetry.WIKI_OPERATION)
    for monitor in QUERY_ALERTS:
        for metric in metrics_in_query(monitor.document["query"]):
            if metric.startswith("trace."):
                operation = re.sub(r"\.(hits|errors)$", "", metric.removeprefix("trace."))
                assert operation in operations, f"{metric}: no span sets operation.name {operation}"


def test_given_the_slo_then_it_loads_strictly_and_counts_non_5xx_over_all_requests_for_7_and_30_days():
    (slo,) = assets.slos().values()
    model = load_slo(slo)
    assert model.type.value == "metric"
    assert [(t["timeframe"], t["target"]) for t in slo["thresholds"]] == [("7d", 99.5), ("30d", 99.5)]
    assert all(t["warning"] > t["target"] for t in slo["thresholds"])
    query = slo["query"]
    assert query["denominator"] == "sum:aws.apigateway.count{apiid:${api_id}}.as_count()"
    assert query["numerator"] == f"{query['denominator']} - sum:aws.apigateway.5xx{{apiid:${{api_id}}}}.as_count()"
    catalogue = load_catalogue()
    assert all(m in catalogue for part in query.values() for m in metrics_in_query(part))


def test_given_the_slo_burn_rate_monitor_then_it_watches_the_deployed_slo_with_a_fast_burn_threshold():
    document = BY_ANCHOR["slo-burn-rate"]
    assert document["query"].startswith('burn_rate("${slo_id}")')
    assert document["query"].endswith(f"> {document['options']['thresholds']['critical']}")


def test_given_the_assets_then_they_use_only_the_placeholders_the_component_fills():
    # The dashboards' placeholders, and what only monitors need: their links, who to notify, the SLO they watch.
    known = PLACEHOLDERS | MONITOR_ONLY_PLACEHOLDERS | {"notify", "slo_id"}
    used = set().union(
        *(assets.placeholders(m.document) for m in MONITORS), *map(assets.placeholders, assets.slos().values())
    )
    assert used <= known, f"unknown placeholders {sorted(used - known)}"


# --- filling placeholders


def test_given_values_then_fill_replaces_every_placeholder_lowercasing_tag_values_and_keeps_datadogs_syntax():
    document = {
        "query": "sum:aws.states.executions_failed{statemachinearn:${state_machine_arn}}",
        "message": "{{value}} failed in ${env}: ${overview_dashboard_url}",
        "tags": ["env:${env}"],
    }
    filled = assets.fill(
        document,
        {
            "state_machine_arn": "arn:aws:states:us-east-1:1:stateMachine:Cache",
            "env": "Dev",
            "overview_dashboard_url": "https://app.datadoghq.com/dashboard/AbC",
        },
    )
    assert filled == {
        "query": "sum:aws.states.executions_failed{statemachinearn:arn:aws:states:us-east-1:1:statemachine:cache}",
        "message": "{{value}} failed in dev: https://app.datadoghq.com/dashboard/AbC",
        "tags": ["env:dev"],
    }


def test_given_a_placeholder_without_a_value_then_fill_names_it():
    with pytest.raises(KeyError, match="dlq_name"):
        assets.fill({"query": "{queuename:${dlq_name}}"}, {"env": "dev"})


def test_given_a_monitor_then_its_pulumi_arguments_round_trip_to_the_same_monitor_api_document():
    document = assets.fill(
        BY_ANCHOR["lambda-error-rate"], {name: "x" for name in assets.placeholders(MONITORS[2].document)}
    )
    args = assets.monitor_args(document)
    assert args["monitor_thresholds"] == {"critical": "0.1", "warning": "0.05"}
    assert args["priority"] == "2"
    assert assets.monitor_document(args) == document


def test_given_a_monitor_option_the_component_does_not_deploy_then_it_is_refused():
    document = {**BY_ANCHOR["dlq-depth"], "options": {"thresholds": {"critical": 1}, "timeout_h": 2}}
    with pytest.raises(ValueError, match="timeout_h"):
        assets.monitor_args(document)


@pytest.mark.parametrize(
    ("environment", "prefix"), [("dev", "wikiroam.dev"), ("prod-eu", "wikiroam.prod_eu"), ("QA.2", "wikiroam.qa_2")]
)
def test_given_a_stack_name_then_its_span_metrics_get_a_valid_prefix_of_their_own(environment, prefix):
    assert assets.span_metric_prefix(environment) == prefix


def test_given_a_site_then_the_app_and_api_urls_are_datadogs():
    assert assets.app_url("datadoghq.eu") == "https://app.datadoghq.eu"
    assert assets.app_url("us5.datadoghq.com") == "https://us5.datadoghq.com"
    assert assets.api_url("us5.datadoghq.com") == "https://api.us5.datadoghq.com/"


def test_given_the_asset_files_then_each_monitor_file_is_numbered_and_named_after_its_anchor():
    for path in sorted((assets.ASSETS_DIR / "monitors").glob("*.json")):
        assert re.fullmatch(r"\d\d-[a-z0-9-]+\.json", Path(path).name)
