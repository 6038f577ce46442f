"""Strict loading of Datadog assets with `datadog-api-client`'s models, and reading the metrics they query.

The client is lenient on purpose (an API answer must never break a caller): a key no model defines becomes an
additional property, an enum value it does not know becomes an "unparsed" simple model, and a `oneOf` that no
variant fits (an unknown widget type, a widget with a bad field) becomes an `UnparsedObject`, all silently.
`load_strict` deserializes with the client, then walks the loaded tree and fails with an `AssertionError`
that names the JSON path of each of those.
"""

from __future__ import annotations

import copy
import csv
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from datadog_api_client.configuration import Configuration
from datadog_api_client.exceptions import OpenApiException
from datadog_api_client.model_utils import (
    ModelComposed,
    ModelNormal,
    ModelSimple,
    OpenApiModel,
    UnparsedObject,
    validate_and_convert_types,
)
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.service_level_objective_request import ServiceLevelObjectiveRequest
from datadog_api_client.v2.model.spans_metric_create_request import SpansMetricCreateRequest

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO_ROOT / "dashboards"
CATALOGUE_PATH = DASHBOARDS_DIR / "metrics.csv"

# The placeholders the monitoring component fills (`${name}` inside any JSON string).
PLACEHOLDERS = frozenset(
    {
        "env",
        "service",
        "team",
        "span_metric_prefix",
        "api_id",
        "api_function",
        "trigger_function",
        "cache_start_function",
        "cache_info_function",
        "cache_backlinks_function",
        "shipper_function",
        "gap_check_function",
        "state_machine_arn",
        "pages_table",
        "links_table",
        "topic_name",
        "dlq_name",
        "distribution_id",
        "region",
        "overview_dashboard_url",
        "pipeline_dashboard_url",
        "runbook_url",
    }
)
# The ones only a monitor's message may use (a dashboard has no runbook or link to itself).
MONITOR_ONLY_PLACEHOLDERS = frozenset({"overview_dashboard_url", "pipeline_dashboard_url", "runbook_url"})
PLACEHOLDER_PATTERN = re.compile(r"\$\{([^}]*)\}")

CATALOGUE_SOURCES = frozenset({"aws_integration", "trace_metric", "span_metric", "cloudwatch_custom"})
CATALOGUE_TYPES = frozenset({"count", "gauge", "distribution", "rate"})

M = TypeVar("M", bound=OpenApiModel)


class StrictModelError(AssertionError):
    """A Datadog asset the lenient client would have accepted, but that Datadog would reject or misread."""


def load_strict(model_class: type[M], doc: Mapping[str, Any]) -> M:
    """Deserialize `doc` (API JSON) into `model_class` and fail on anything the model does not define.

    Raises `StrictModelError` naming the JSON path of every unknown key, invalid enum value and unparsed object,
    or of the first value whose type the client refuses outright.
    """
    try:
        loaded = load_lenient(model_class, doc)
    except (OpenApiException, TypeError, ValueError) as error:
        raise StrictModelError(f"{model_class.__name__} does not load: {error}") from error
    problems = list(_problems(loaded, "$", (model_class,)))
    if problems:
        raise StrictModelError(f"{model_class.__name__} is not strictly valid:\n  " + "\n  ".join(problems))
    return loaded


def load_lenient(model_class: type[M], doc: Mapping[str, Any], path: str = "$") -> M:
    """Deserialize `doc` as the client does when it reads an API answer: unknown keys, enums and widgets pass.

    What `load_strict` walks; tests use it to show the client alone would have accepted a broken asset.
    """
    return _convert(copy.deepcopy(dict(doc)), model_class, path)  # type: ignore[no-any-return]


def _convert(raw: Any, model_class: type[OpenApiModel], path: str) -> Any:
    # The client's own deserializer (`ApiClient.deserialize` calls it), without an HTTP client around it.
    return validate_and_convert_types(  # type: ignore[no-untyped-call]
        raw,
        (model_class,),
        [path],
        True,  # spec_property_naming: keys are the API's JSON names
        True,  # check_type
        configuration=Configuration(),  # type: ignore[no-untyped-call]
    )


def load_dashboard(doc: Mapping[str, Any]) -> Dashboard:
    """A dashboard as the v1 Dashboard API takes it, strictly."""
    return load_strict(Dashboard, doc)


def load_monitor(doc: Mapping[str, Any]) -> Monitor:
    """A monitor as the v1 Monitor API takes it, strictly."""
    return load_strict(Monitor, doc)


def load_slo(doc: Mapping[str, Any]) -> ServiceLevelObjectiveRequest:
    """An SLO as the v1 SLO create API takes it (`ServiceLevelObjectiveRequest`), strictly."""
    return load_strict(ServiceLevelObjectiveRequest, doc)


def load_spans_metric(doc: Mapping[str, Any]) -> SpansMetricCreateRequest:
    """A span-based metric as the v2 Spans Metrics create API takes it (`{"data": {...}}`), strictly."""
    return load_strict(SpansMetricCreateRequest, doc)


# --- the walk


def _model_classes(spec: Any) -> list[type[OpenApiModel]]:
    """The model classes an `openapi_types` entry allows, through its lists and dicts."""
    if isinstance(spec, type):
        return [spec] if issubclass(spec, OpenApiModel) else []
    if isinstance(spec, list | tuple):
        return [cls for item in spec for cls in _model_classes(item)]
    if isinstance(spec, dict):
        return [cls for item in spec.values() for cls in _model_classes(item)]
    return []


def _problems(value: Any, path: str, expected: Any = None) -> Iterator[str]:
    if isinstance(value, UnparsedObject):
        yield from _explain_unparsed(value, path, _model_classes(expected))
    elif isinstance(value, ModelSimple):
        if value._unparsed:
            allowed = sorted(str(v) for v in type(value).allowed_values)
            yield f"{path}: {value.value!r} is not a valid {type(value).__name__} (one of {allowed})"
    elif isinstance(value, ModelComposed):
        for instance in value._composed_instances:
            if isinstance(instance, UnparsedObject):
                yield from _explain_unparsed(instance, path, [type(value)])
            else:
                yield from _problems(instance, path, (type(instance),))
    elif isinstance(value, ModelNormal):
        yield from _normal_problems(value, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _problems(item, f"{path}[{index}]", expected)


def _normal_problems(value: ModelNormal, path: str) -> Iterator[str]:
    cls = type(value)
    found = False
    for name, child in value._data_store.items():
        key = cls.attribute_map.get(name, name)
        if name not in cls.openapi_types:
            found = True
            yield f"{path}.{key}: not a field of {cls.__name__} (known: {sorted(cls.attribute_map.values())})"
            continue
        for problem in _problems(child, f"{path}.{key}", cls.openapi_types[name]):
            found = True
            yield problem
    if value._unparsed and not found:
        yield f"{path}: {cls.__name__} did not parse"


def _type_values(cls: type[OpenApiModel]) -> frozenset[str] | None:
    """The values a model's `type` discriminator takes (`timeseries` for a timeseries widget), if it has one."""
    spec = cls.openapi_types.get("type") if issubclass(cls, ModelNormal) else None
    enum = spec[0] if isinstance(spec, tuple) and spec else None
    if isinstance(enum, type) and issubclass(enum, ModelSimple) and enum.allowed_values:
        return frozenset(str(v) for v in enum.allowed_values)
    return None


def _explain_unparsed(value: UnparsedObject, path: str, expected: list[type[OpenApiModel]]) -> Iterator[str]:
    """Say why no model fitted: load the raw data into each candidate alone and report the closest one's faults.

    Candidates are narrowed by the `type` discriminator when the data and the models have one, so an unknown
    widget type is reported as such and a known widget's bad field is reported inside that widget.
    """
    raw = dict(value._data_store)
    candidates: list[type[OpenApiModel]] = []
    for cls in expected:
        if issubclass(cls, ModelComposed):
            candidates.extend(cls._composed_schemas.get("oneOf", ()))
        else:
            candidates.append(cls)
    kind = raw.get("type")
    typed = {cls: _type_values(cls) for cls in candidates}
    if isinstance(kind, str) and any(values is not None for values in typed.values()):
        matching = [cls for cls, values in typed.items() if values is not None and kind in values]
        if not matching:
            known = sorted({v for values in typed.values() if values for v in values})
            yield f"{path}.type: {kind!r} is not a type Datadog knows here (known: {known})"
            return
        candidates = matching
    best: list[str] | None = None
    errors: list[str] = []
    for cls in candidates:
        try:
            loaded = _convert(copy.deepcopy(raw), cls, path)
        except (OpenApiException, TypeError, ValueError) as error:
            # Required fields missing, or a value of a type the candidate refuses: not this variant.
            errors.append(f"{cls.__name__}: {error}")
            continue
        problems = list(_problems(loaded, path, (cls,)))
        if problems and (best is None or len(problems) < len(best)):
            best = problems
    if best:
        yield from best
    else:
        names = sorted(cls.__name__ for cls in candidates) or ["a known model"]
        detail = f": {'; '.join(errors)}" if errors and len(candidates) == 1 else ""
        yield f"{path}: unparsed object (keys {sorted(raw)}) fits none of {names}{detail}"


# --- metric queries


_AGGREGATOR = r"(?:avg|sum|min|max|count|p(?:\d{1,2})(?:\.\d+)?)"
_NAME = r"(?:\$\{[a-z_]+\}|[A-Za-z_])(?:[\w.]|\$\{[a-z_]+\})*"
_METRIC_IN_QUERY = re.compile(rf"(?<![\w.]){_AGGREGATOR}\s*:\s*({_NAME})\s*\{{")


def metrics_in_query(query: str) -> set[str]:
    """The metric names a Datadog metric query names (`<aggregator>:<metric>{<scope>}`), placeholders kept.

    Works for monitor queries (`sum(last_10m):sum:aws.apigateway.5xx{apiid:x}.as_count() / ... > 0.05`),
    dashboard queries (`avg:aws.lambda.duration{functionname:x} by {functionname}`), percentiles
    (`p95:trace.wikiroam.api.request{...}`) and span metric names (`${span_metric_prefix}.wiki.requests{...}`).
    """
    return set(_METRIC_IN_QUERY.findall(query))


def metric_queries(doc: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every metric query string in a dashboard's (or any asset's) raw JSON, with its JSON path.

    A metric query is the `query` of a `data_source: metrics` query, or a legacy request's `q`.
    """
    if isinstance(doc, dict):
        if doc.get("data_source") == "metrics" and isinstance(doc.get("query"), str):
            yield f"{path}.query", doc["query"]
        if isinstance(doc.get("q"), str):
            yield f"{path}.q", doc["q"]
        for key, value in doc.items():
            yield from metric_queries(value, f"{path}.{key}")
    elif isinstance(doc, list):
        for index, item in enumerate(doc):
            yield from metric_queries(item, f"{path}[{index}]")


def placeholders_in(doc: Any) -> set[str]:
    """The `${name}` placeholders used anywhere in an asset's strings (keys included)."""
    found: set[str] = set()
    if isinstance(doc, str):
        found.update(PLACEHOLDER_PATTERN.findall(doc))
    elif isinstance(doc, dict):
        for key, value in doc.items():
            found |= placeholders_in(key) | placeholders_in(value)
    elif isinstance(doc, list):
        for item in doc:
            found |= placeholders_in(item)
    return found


# --- the catalogue


def load_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, dict[str, str]]:
    """The committed metric catalogue (`dashboards/metrics.csv`): each metric's row, keyed by metric name.

    Fails on a duplicate metric, an unknown source or type, or a row without a reference.
    """
    catalogue: dict[str, dict[str, str]] = {}
    with path.open(newline="", encoding="utf-8") as stream:
        for line, row in enumerate(csv.DictReader(stream), start=2):
            metric = row["metric"].strip()
            if metric in catalogue:
                raise AssertionError(f"{path.name}:{line}: {metric} is catalogued twice")
            if row["source"] not in CATALOGUE_SOURCES:
                raise AssertionError(f"{path.name}:{line}: unknown source {row['source']!r}")
            if row["type"] not in CATALOGUE_TYPES:
                raise AssertionError(f"{path.name}:{line}: unknown type {row['type']!r}")
            if not row.get("reference", "").strip():
                raise AssertionError(f"{path.name}:{line}: {metric} has no reference")
            catalogue[metric] = {key: (value or "").strip() for key, value in row.items()}
    return catalogue
