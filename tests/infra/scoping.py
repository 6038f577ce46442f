"""Checks shared by the infra tests: is every policy statement scoped to named actions and resources?"""

from __future__ import annotations

from typing import Any

from components.policies import WILDCARD_RESOURCE_SIDS


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def unscoped(document: dict[str, Any]) -> list[str]:
    """What is wrong with a policy document's scoping; empty when every statement is scoped."""
    problems = []
    for statement in document["Statement"]:
        sid = statement.get("Sid", "<no Sid>")
        for action in _as_list(statement.get("Action", [])):
            if action == "*" or action.endswith(":*"):
                problems.append(f"{sid}: wildcard action {action}")
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{sid}: NotAction/NotResource")
        resources = _as_list(statement.get("Resource", []))
        if "*" in resources and sid not in WILDCARD_RESOURCE_SIDS:
            problems.append(f"{sid}: Resource '*'")
        if statement.get("Effect") == "Allow" and statement.get("Principal") in ("*", {"AWS": "*"}):
            problems.append(f"{sid}: allows anyone")
    return problems
