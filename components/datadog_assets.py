"""WikiRoam's Datadog assets (dashboards/): loaded as data, their placeholders filled from a stack's outputs.

The assets are in Datadog's own API formats (dashboard JSON, one Monitor API document per monitor, SLO and
span-based metric documents), so they can be reviewed, diffed and validated like code. Strings in them may hold
`${name}` placeholders; `fill` replaces them with a stack's values (function names, table names, the API id...),
and refuses an asset that names a placeholder it was not given. Datadog's own template syntax (`{{value}}`,
`$env`) is left alone.

Pure functions, standard library only: the local stack and the tests use them without Pulumi or Datadog.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ASSETS_DIR = Path(__file__).resolve().parent.parent / "dashboards"
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
SERVICE = "wikiroam"
# Placeholders whose values Datadog sees as tag values, which it lowercases (`statemachinearn:arn:aws:states:...
# :statemachine:...`): a query with the ARN's original case would match nothing.
TAG_VALUE_PLACEHOLDERS = frozenset(
    {
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
        "env",
        "team",
    }
)
# The CloudWatch namespaces the monitors and dashboards read (the AWS integration collects these; the roadmap's
# metric streams would stream the same list). AWS/SQS is one Datadog's defaults leave out.
MONITORED_NAMESPACES = (
    "AWS/ApiGateway",
    "AWS/CloudFront",
    "AWS/DynamoDB",
    "AWS/Lambda",
    "AWS/SNS",
    "AWS/SQS",
    "AWS/States",
)
# Datadog's AWS account, which assumes the integration role, per Datadog site (verified offline only).
DATADOG_PRINCIPALS = {
    "datadoghq.com": "arn:aws:iam::464622532012:root",
    "us3.datadoghq.com": "arn:aws:iam::464622532012:root",
    "us5.datadoghq.com": "arn:aws:iam::464622532012:root",
    "datadoghq.eu": "arn:aws:iam::464622532012:root",
    "ap1.datadoghq.com": "arn:aws:iam::464622532012:root",
    "ddog-gov.com": "arn:aws-us-gov:iam::065115117704:root",
}
# The Monitor API's options the component passes on; an asset with any other option is refused rather than
# deployed without it.
MONITOR_OPTIONS = frozenset(
    {
        "thresholds",
        "evaluation_delay",
        "on_missing_data",
        "include_tags",
        "notify_audit",
        "require_full_window",
        "renotify_interval",
        "renotify_statuses",
    }
)


@dataclass(frozen=True)
class Monitor:
    """One monitor asset: its file's stem (which is also its runbook anchor) and its Monitor API document."""

    key: str
    document: dict[str, Any]

    @property
    def anchor(self) -> str:
        """The runbook section of dashboards/README.md, e.g. `api-5xx-ratio` for `01-api-5xx-ratio.json`."""
        return self.key.split("-", 1)[1]


def _load(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise TypeError(f"{path}: a Datadog asset is a JSON object")
    return document


def dashboards(directory: Path = ASSETS_DIR) -> dict[str, dict[str, Any]]:
    """The dashboards by name (`overview`, `pipeline`), in Datadog's dashboard JSON."""
    return {path.stem: _load(path) for path in sorted(directory.glob("*.json"))}


def monitors(directory: Path = ASSETS_DIR) -> list[Monitor]:
    """The monitors in file order, in the Monitor API's format."""
    return [Monitor(path.stem, _load(path)) for path in sorted((directory / "monitors").glob("*.json"))]


def slos(directory: Path = ASSETS_DIR) -> dict[str, dict[str, Any]]:
    """The service level objectives by name, in the SLO API's format."""
    return {path.stem: _load(path) for path in sorted((directory / "slos").glob("*.json"))}


def spans_metrics(directory: Path = ASSETS_DIR) -> dict[str, dict[str, Any]]:
    """The span-based metrics by file name, in the Spans Metrics API's create format (`{"data": ...}`)."""
    return {path.stem: _load(path) for path in sorted((directory / "span_metrics").glob("*.json"))}


def placeholders(document: Any) -> set[str]:
    """Every placeholder name an asset uses."""
    return {match for text in _strings(document) for match in PLACEHOLDER.findall(text)}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def fill(document: Any, values: Mapping[str, str]) -> Any:
    """A copy of an asset with every `${name}` replaced; a name without a value is an error naming it."""
    missing = placeholders(document) - set(values)
    if missing:
        raise KeyError(f"no value for the placeholders {sorted(missing)}")
    resolved = {k: v.lower() if k in TAG_VALUE_PLACEHOLDERS else v for k, v in values.items()}

    def substitute(value: Any) -> Any:
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda m: resolved[m.group(1)], value)
        if isinstance(value, Mapping):
            return {key: substitute(item) for key, item in value.items()}
        if isinstance(value, list):
            return [substitute(item) for item in value]
        return value

    return substitute(document)


def span_metric_prefix(environment: str) -> str:
    """The prefix of this stack's span-based metrics: their names are org-wide, so each stack has its own."""
    return f"{SERVICE}.{re.sub(r'[^a-z0-9_]', '_', environment.lower())}"


def app_url(site: str) -> str:
    """The Datadog web app of a site (`datadoghq.com` -> `https://app.datadoghq.com`)."""
    return f"https://app.{site}" if site in ("datadoghq.com", "datadoghq.eu", "ddog-gov.com") else f"https://{site}"


def api_url(site: str) -> str:
    """The Datadog API of a site, as the Pulumi provider takes it."""
    return f"https://api.{site}/"


def monitor_args(document: Mapping[str, Any]) -> dict[str, Any]:
    """The `datadog.Monitor` arguments for a filled Monitor API document (thresholds are strings there)."""
    options = dict(document.get("options") or {})
    unknown = set(options) - MONITOR_OPTIONS
    if unknown:
        raise ValueError(f"monitor {document.get('name')!r}: options {sorted(unknown)} are not deployed")
    thresholds = {key: str(value) for key, value in (options.pop("thresholds", None) or {}).items()}
    args: dict[str, Any] = {
        "name": document["name"],
        "type": document["type"],
        "query": document["query"],
        "message": document["message"],
        "tags": list(document.get("tags") or []),
        "priority": str(document["priority"]),
        "monitor_thresholds": thresholds,
        **options,
    }
    return args


def monitor_document(args: Mapping[str, Any]) -> dict[str, Any]:
    """The Monitor API document of `datadog.Monitor` arguments: `monitor_args` undone (e.g. for the local view)."""
    top = ("name", "type", "query", "message", "tags")
    options: dict[str, Any] = {k: v for k, v in args.items() if k in MONITOR_OPTIONS and v is not None}
    thresholds = args.get("monitor_thresholds") or {}
    options["thresholds"] = {key: float(value) for key, value in thresholds.items() if value is not None}
    return {**{key: args[key] for key in top if key in args}, "priority": int(args["priority"]), "options": options}


def slo_args(document: Mapping[str, Any]) -> dict[str, Any]:
    """The `datadog.ServiceLevelObjective` arguments for a filled metric SLO document."""
    return {
        "name": document["name"],
        "type": document["type"],
        "description": document.get("description"),
        "query": dict(document["query"]),
        "thresholds": [dict(threshold) for threshold in document["thresholds"]],
        "tags": list(document.get("tags") or []),
    }


def spans_metric_args(document: Mapping[str, Any]) -> dict[str, Any]:
    """The `datadog.SpansMetric` arguments for a filled Spans Metrics API create document."""
    data = document["data"]
    attributes = data["attributes"]
    return {
        "name": data["id"],
        "compute": dict(attributes["compute"]),
        "filter": dict(attributes.get("filter") or {"query": "*"}),
        "group_bies": [dict(group) for group in attributes.get("group_by") or []],
    }


def spans_metric_document(args: Mapping[str, Any]) -> dict[str, Any]:
    """The Spans Metrics API document of `datadog.SpansMetric` arguments: `spans_metric_args` undone."""
    return {
        "data": {
            "id": args["name"],
            "type": "spans_metrics",
            "attributes": {
                "compute": dict(args["compute"]),
                "filter": dict(args["filter"]),
                "group_by": [dict(group) for group in args.get("group_bies") or []],
            },
        }
    }
