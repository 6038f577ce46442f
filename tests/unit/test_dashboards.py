"""The dashboards and span-based metrics under dashboards/: strictly valid Datadog JSON that reads well.

Each property is a function returning its violations; a test checks the committed files have none and that a
copy broken on purpose has some, so no check can pass vacuously.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from datadog_api_client.v1.model.dashboard import Dashboard

from tests.support.datadog_models import (
    DASHBOARDS_DIR,
    MONITOR_ONLY_PLACEHOLDERS,
    PLACEHOLDERS,
    StrictModelError,
    load_catalogue,
    load_dashboard,
    load_lenient,
    load_spans_metric,
    metric_queries,
    metrics_in_query,
    placeholders_in,
)

DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))
SPAN_METRIC_FILES = sorted((DASHBOARDS_DIR / "span_metrics").glob("*.json"))
ENV_SOURCES = {"trace_metric", "span_metric", "cloudwatch_custom"}
# Words a sentence-case title may capitalise: names of products and acronyms.
PROPER_WORDS = {
    "API",
    "AWS",
    "CloudFront",
    "CloudWatch",
    "DynamoDB",
    "Functions",
    "Gateway",
    "HTTP",
    "Lambda",
    "SNS",
    "SQS",
    "Step",
    "WikiRoam",
}
UNIT_IN_TITLE = re.compile(r"\(ms\)|\bms\b|%|\bseconds?\b|\bmilliseconds?\b|\bnanoseconds?\b|\(s\)", re.IGNORECASE)
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def load_json(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def catalogue() -> dict[str, dict[str, str]]:
    return load_catalogue()


@pytest.fixture(params=DASHBOARD_FILES, ids=lambda path: path.name)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load_json(request.param)


@pytest.fixture
def overview() -> dict[str, Any]:
    return load_json(DASHBOARDS_DIR / "overview.json")


# --- walking a dashboard's raw JSON


def groups(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [w["definition"] for w in doc["widgets"] if w["definition"]["type"] == "group"]


def inner_definitions(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every widget definition inside a group, with a readable location."""
    for group in groups(doc):
        for index, widget in enumerate(group["widgets"]):
            yield f"{group['title']} #{index}", widget["definition"]


def timeseries_requests(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for where, definition in inner_definitions(doc):
        if definition["type"] == "timeseries":
            for request in definition["requests"]:
                yield f"{where} {definition['title']!r}", request


def first_timeseries(doc: dict[str, Any], predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next(d for _, d in inner_definitions(doc) if d["type"] == "timeseries" and predicate(d))


# --- the properties, each as its violations


def ungrouped_widgets(doc: dict[str, Any]) -> list[str]:
    problems = [
        f"top-level {w['definition']['type']} {w['definition'].get('title')!r}"
        for w in doc["widgets"]
        if w["definition"]["type"] != "group"
    ]
    for group in groups(doc):
        problems += [
            f"group {group['title']!r} nests a group" for w in group["widgets"] if w["definition"]["type"] == "group"
        ]
    return problems


def undescribed_widgets(doc: dict[str, Any]) -> list[str]:
    """A group must open with a note saying how to read it; every other widget needs a `description`."""
    problems = []
    for group in groups(doc):
        first = group["widgets"][0]["definition"] if group["widgets"] else {}
        if first.get("type") != "note" or len(first.get("content", "").strip()) < 40:
            problems.append(f"group {group['title']!r} does not open with a note on how to read it")
    for where, definition in inner_definitions(doc):
        if definition["type"] != "note" and len(definition.get("description", "").strip()) < 40:
            problems.append(f"{where} {definition.get('title')!r} has no description saying how to read it")
    return problems


def badly_titled(doc: dict[str, Any]) -> list[str]:
    titles = [group["title"] for group in groups(doc)]
    titles += [d["title"] for _, d in inner_definitions(doc) if "title" in d]
    problems = []
    for title in titles:
        words = re.sub(r"\$\{\w+\}", "", title).split()
        if not words or not words[0][0].isupper():
            problems.append(f"{title!r} does not start with a capital")
        problems += [
            f"{title!r}: {word!r} is capitalised mid-sentence"
            for word in words[1:]
            if any(c.isupper() for c in word) and word.strip("()") not in PROPER_WORDS
        ]
        if UNIT_IN_TITLE.search(title):
            problems.append(f"{title!r} carries a unit")
    return problems


def is_count_query(query: str, catalogue: dict[str, dict[str, str]]) -> bool:
    if ".as_count()" in query or re.match(r"\s*count:", query):
        return True
    return any(catalogue.get(metric, {}).get("type") == "count" for metric in metrics_in_query(query))


def counts_not_as_bars(doc: dict[str, Any], catalogue: dict[str, dict[str, str]]) -> list[str]:
    return [
        f"{where}: counts shown as {request.get('display_type')!r}"
        for where, request in timeseries_requests(doc)
        if any(is_count_query(q["query"], catalogue) for q in request.get("queries", []))
        and request.get("display_type") != "bars"
    ]


def env_scoping_problems(doc: dict[str, Any], catalogue: dict[str, dict[str, str]]) -> list[str]:
    """Queries on our own telemetry follow `$env`; AWS queries are scoped by this stack's resource placeholders."""
    problems = []
    for path, query in metric_queries(doc):
        sources = {catalogue.get(m, {}).get("source") for m in metrics_in_query(query)}
        if sources & ENV_SOURCES and "$env" not in query:
            problems.append(f"{path}: {query!r} does not use $env")
        if "aws_integration" in sources and not placeholders_in(query) - {"env", "service", "span_metric_prefix"}:
            problems.append(f"{path}: {query!r} is not scoped by this stack's resources")
        if "aws_integration" in sources and "$env" in query:
            problems.append(f"{path}: {query!r} filters AWS metrics by $env, which they do not carry")
    return problems


def uncatalogued_metrics(doc: dict[str, Any], catalogue: dict[str, dict[str, str]]) -> list[str]:
    problems = []
    for path, query in metric_queries(doc):
        names = metrics_in_query(query)
        if not names:
            problems.append(f"{path}: no metric found in {query!r}")
        problems += [f"{path}: {name} is not in dashboards/metrics.csv" for name in sorted(names - set(catalogue))]
    return problems


def placeholder_problems(doc: dict[str, Any]) -> list[str]:
    used = placeholders_in(doc)
    return [f"unknown placeholder ${{{name}}}" for name in sorted(used - PLACEHOLDERS)] + [
        f"monitor-only placeholder ${{{name}}} in a dashboard" for name in sorted(used & MONITOR_ONLY_PLACEHOLDERS)
    ]


def span_metric_problems(doc: dict[str, Any], file_name: str, catalogue: dict[str, dict[str, str]]) -> list[str]:
    data = doc["data"]
    attributes = data["attributes"]
    problems = []
    metric = data["id"]
    if not metric.startswith("${span_metric_prefix}."):
        problems.append(f"{file_name}: id {metric!r} is not under ${{span_metric_prefix}} (ids are org-wide)")
    if file_name != metric.removeprefix("${span_metric_prefix}.").replace(".", "_") + ".json":
        problems.append(f"{file_name}: file is not named after its id {metric!r}")
    if catalogue.get(metric, {}).get("source") != "span_metric":
        problems.append(f"{file_name}: {metric} is not catalogued as a span_metric")
    elif catalogue[metric]["type"] != attributes["compute"]["aggregation_type"]:
        problems.append(f"{file_name}: catalogued as {catalogue[metric]['type']}")
    if "service:wikiroam env:${env}" not in attributes["filter"]["query"]:
        problems.append(f"{file_name}: filter does not select service:wikiroam env:${{env}}")
    tag_names = [g.get("tag_name", "") for g in attributes.get("group_by", [])]
    if {"path": "env", "tag_name": "env"} not in attributes.get("group_by", []):
        problems.append(f"{file_name}: no env tag, so dashboards cannot filter it by $env")
    problems += [
        f"{file_name}: tag {name!r} is not short snake_case" for name in tag_names if not SNAKE_CASE.match(name)
    ]
    catalogued_tags = set(catalogue.get(metric, {}).get("tags", "").split())
    if catalogued_tags and catalogued_tags != set(tag_names):
        problems.append(f"{file_name}: tags {sorted(tag_names)} differ from the catalogue's {sorted(catalogued_tags)}")
    return problems


# --- strict loading


def test_given_a_dashboard_when_loaded_strictly_then_every_key_widget_and_enum_is_known(dashboard):
    loaded = load_dashboard(dashboard)
    assert loaded.layout_type.value == "ordered"


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        pytest.param(
            lambda d: first_timeseries(d, lambda t: True).update({"legend_position": "bottom"}),
            r"\$\.widgets\[0\]\.definition\.widgets\[\d+\]\.definition\.legend_position: not a field",
            id="unknown key",
        ),
        pytest.param(
            lambda d: first_timeseries(d, lambda t: True)["requests"][0].update({"display_type": "columns"}),
            r"\.requests\[0\]\.display_type: 'columns' is not a valid WidgetDisplayType",
            id="invalid enum",
        ),
        pytest.param(
            lambda d: groups(d)[0]["widgets"].append({"definition": {"type": "sparkline", "title": "Sparkline"}}),
            r"\$\.widgets\[0\]\.definition\.widgets\[\d+\]\.definition\.type: 'sparkline' is not a type",
            id="unknown widget",
        ),
        pytest.param(
            lambda d: d.update({"layout": "grid"}),
            r"\$\.layout: not a field of Dashboard",
            id="unknown top-level key",
        ),
    ],
)
def test_given_a_broken_copy_when_the_lenient_client_accepts_it_then_the_strict_walk_names_the_json_path(
    overview, breakage, expected
):
    broken = copy.deepcopy(overview)
    breakage(broken)
    load_lenient(Dashboard, broken)  # the client alone raises nothing: this is what the walk is for
    with pytest.raises(StrictModelError, match=expected):
        load_dashboard(broken)


def test_given_a_span_metric_with_an_unknown_aggregation_when_loaded_strictly_then_it_fails():
    doc = load_json(SPAN_METRIC_FILES[0])
    doc["data"]["attributes"]["compute"]["aggregation_type"] = "sum"
    with pytest.raises(StrictModelError, match=r"\$\.data\.attributes\.compute\.aggregation_type: 'sum'"):
        load_spans_metric(doc)


# --- how the dashboards read


def test_given_a_dashboard_then_every_widget_sits_in_a_group(dashboard):
    assert ungrouped_widgets(dashboard) == []
    broken = copy.deepcopy(dashboard)
    broken["widgets"].append(groups(broken)[0]["widgets"][1])
    assert ungrouped_widgets(broken)


def test_given_a_dashboard_then_every_group_opens_with_a_note_and_every_widget_says_how_to_read_it(dashboard):
    assert undescribed_widgets(dashboard) == []
    broken = copy.deepcopy(dashboard)
    first_timeseries(broken, lambda t: True).pop("description")
    groups(broken)[-1]["widgets"].pop(0)
    assert len(undescribed_widgets(broken)) == 2


def test_given_a_dashboard_then_titles_are_sentence_case_without_units(dashboard):
    assert badly_titled(dashboard) == []
    broken = copy.deepcopy(dashboard)
    first_timeseries(broken, lambda t: True)["title"] = "Latency (ms)"
    groups(broken)[0]["title"] = "Requests By Route"
    assert sorted(badly_titled(broken)) == [
        "'Latency (ms)' carries a unit",
        "'Requests By Route': 'By' is capitalised mid-sentence",
        "'Requests By Route': 'Route' is capitalised mid-sentence",
    ]


def test_given_a_dashboard_then_timeseries_of_counts_are_bars(dashboard, catalogue):
    assert counts_not_as_bars(dashboard, catalogue) == []
    broken = copy.deepcopy(dashboard)
    request = next(r for _, r in timeseries_requests(broken) if r["display_type"] == "bars")
    request["display_type"] = "line"
    assert counts_not_as_bars(broken, catalogue)


def test_given_a_dashboard_then_own_telemetry_follows_env_and_aws_metrics_follow_the_stack(dashboard, catalogue):
    assert env_scoping_problems(dashboard, catalogue) == []
    broken = copy.deepcopy(dashboard)
    for _, request in timeseries_requests(broken):
        for query in request["queries"]:
            query["query"] = query["query"].replace(",$env", "").replace("{$env", "{*").replace("$env.value", "x")
    assert env_scoping_problems(broken, catalogue)


def test_given_a_dashboard_then_its_env_variable_defaults_to_the_stack_and_its_title_names_it(dashboard):
    variables = {v["name"]: v for v in dashboard["template_variables"]}
    assert variables["env"]["prefix"] == "env"
    assert variables["env"]["default"] == "${env}"
    assert dashboard["title"].endswith("(${env})")
    assert dashboard["title"].startswith("WikiRoam ")


def test_given_a_dashboard_then_every_metric_it_queries_is_in_the_catalogue(dashboard, catalogue):
    assert uncatalogued_metrics(dashboard, catalogue) == []
    broken = copy.deepcopy(dashboard)
    _, request = next(timeseries_requests(broken))
    request["queries"][0]["query"] = "sum:aws.lambda.enhanced.invocations{functionname:${api_function}}.as_count()"
    assert uncatalogued_metrics(broken, catalogue) == [
        f"$.widgets[0].definition.widgets[{_index_of(broken, request)}].definition.requests[0].queries[0].query: "
        "aws.lambda.enhanced.invocations is not in dashboards/metrics.csv"
    ]


def _index_of(doc: dict[str, Any], request: dict[str, Any]) -> int:
    widgets = groups(doc)[0]["widgets"]
    return next(i for i, w in enumerate(widgets) if request in w["definition"].get("requests", []))


def test_given_a_dashboard_then_it_uses_only_the_component_s_dashboard_placeholders(dashboard):
    assert placeholder_problems(dashboard) == []
    assert {"env", "span_metric_prefix"} <= placeholders_in(dashboard)
    broken = copy.deepcopy(dashboard)
    broken["description"] += " ${runbook_url} ${stack}"
    assert placeholder_problems(broken) == [
        "unknown placeholder ${stack}",
        "monitor-only placeholder ${runbook_url} in a dashboard",
    ]


# --- span-based metrics and the catalogue


@pytest.mark.parametrize("path", SPAN_METRIC_FILES, ids=lambda path: path.name)
def test_given_a_span_metric_file_then_it_loads_strictly_and_is_catalogued_with_its_tags(path, catalogue):
    doc = load_json(path)
    load_spans_metric(doc)
    assert span_metric_problems(doc, path.name, catalogue) == []
    broken = copy.deepcopy(doc)
    broken["data"]["attributes"]["group_by"] = [{"path": "@wikiroam.cache.outcome", "tag_name": "Cache-Outcome"}]
    broken["data"]["attributes"]["filter"]["query"] = "service:wikiroam"
    assert len(span_metric_problems(broken, path.name, catalogue)) >= 3


def test_given_the_catalogue_then_every_span_metric_in_it_has_its_definition_file(catalogue):
    defined = {load_json(path)["data"]["id"] for path in SPAN_METRIC_FILES}
    catalogued = {metric for metric, row in catalogue.items() if row["source"] == "span_metric"}
    assert catalogued == defined
    assert len(defined) == len(SPAN_METRIC_FILES)


def test_given_the_catalogue_then_it_has_no_enhanced_lambda_metric_and_every_row_says_where_it_was_checked(catalogue):
    assert [m for m in catalogue if m.startswith("aws.lambda.enhanced.")] == []
    assert all(len(row["reference"]) > 20 for row in catalogue.values())


def test_given_the_catalogue_then_it_covers_the_metrics_the_monitors_rely_on(catalogue):
    expected = {
        "aws.lambda.invocations": "functionname",
        "aws.lambda.errors": "functionname",
        "aws.lambda.throttles": "functionname",
        "aws.lambda.duration.maximum": "functionname",
        "aws.lambda.timeout": "functionname",
        "aws.apigateway.count": "apiid",
        "aws.apigateway.5xx": "apiid",
        "aws.apigateway.4xx": "apiid",
        "aws.apigateway.latency": "apiid",
        "aws.states.executions_failed": "statemachinearn",
        "aws.states.executions_timed_out": "statemachinearn",
        "aws.states.executions_started": "statemachinearn",
        "aws.sns.number_of_notifications_failed": "topicname",
        "aws.sns.number_of_messages_published": "topicname",
        "aws.sqs.approximate_number_of_messages_visible": "queuename",
        "aws.dynamodb.read_throttle_events": "tablename",
        "aws.dynamodb.write_throttle_events": "tablename",
        "aws.dynamodb.system_errors": "tablename",
        "aws.cloudfront.5xx_error_rate": "distributionid",
        "aws.cloudfront.requests": "distributionid",
    }
    assert {metric: catalogue[metric]["tags"] for metric in expected if metric in catalogue} == expected
    custom = {m for m, row in catalogue.items() if row["source"] == "cloudwatch_custom"}
    assert custom == {
        "wikiroam.telemetry.spans_shipped",
        "wikiroam.telemetry.spans_dropped",
        "wikiroam.telemetry.span_lines_damaged",
        "wikiroam.telemetry.state_events_unpaired",
    }


# --- reading metric names out of queries


@pytest.mark.parametrize(
    ("query", "metrics"),
    [
        (
            "sum(last_10m):sum:aws.apigateway.5xx{apiid:x}.as_count() / sum:aws.apigateway.count{apiid:x}.as_count()"
            " > 0.05",
            {"aws.apigateway.5xx", "aws.apigateway.count"},
        ),
        ("avg:aws.lambda.duration{functionname:x} by {functionname}", {"aws.lambda.duration"}),
        ("p95:trace.wikiroam.api.request{service:wikiroam,$env}", {"trace.wikiroam.api.request"}),
        ("percentile(last_5m):p99.9:trace.wikiroam.api.request{*} > 3", {"trace.wikiroam.api.request"}),
        (
            "sum:${span_metric_prefix}.wiki.requests{$env} by {status_code}.as_count()",
            {"${span_metric_prefix}.wiki.requests"},
        ),
        (
            "max:aws.lambda.duration.maximum{functionname IN (${api_function},${trigger_function})} by {functionname}"
            " / (max:aws.lambda.timeout{functionname IN (${api_function})} by {functionname} * 1000)",
            {"aws.lambda.duration.maximum", "aws.lambda.timeout"},
        ),
        (
            "count:${span_metric_prefix}.pipeline.execution.duration{$env} by {status}",
            {"${span_metric_prefix}.pipeline.execution.duration"},
        ),
    ],
)
def test_given_a_metric_query_when_reading_it_then_every_metric_name_is_found(query, metrics):
    assert metrics_in_query(query) == metrics
