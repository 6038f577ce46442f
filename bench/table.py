"""What every benchmark hands `make bench`: a table row, its raw numbers as JSON, and a picture where one helps.

Each row is one measure: our figure, the comparison measured in the same run, their ratio, the target and
whether it is met. The raw numbers go to one folder (`test-artifacts/bench/` by default, `--out` to change),
one JSON file per benchmark with the commit and machine they were measured on, for tracking across commits.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "test-artifacts" / "bench"


@dataclass(frozen=True)
class Row:
    """One line of the `make bench` table."""

    id: str
    measure: str
    ours: str
    comparison: str
    ratio: str
    target: str
    met: bool | None  # None: no target this issue (printed as "-")

    @property
    def verdict(self) -> str:
        """`met`, `MISSED`, or `-` without a target."""
        return "-" if self.met is None else ("met" if self.met else "MISSED")


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (it reads as well in a terminal as in the README)."""
    header = ("id", "measure", "ours", "comparison (same run)", "ratio", "target", "")
    lines = [header] + [(r.id, r.measure, r.ours, r.comparison, r.ratio, r.target, r.verdict) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def commit() -> str:
    """The commit measured, with `+dirty` when the tree has changes."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, check=True
    )
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def write_json(out: Path, name: str, data: dict[str, Any], *, quick: bool) -> Path:
    """`<out>/<name>.json`: the raw numbers, with when, where and at which commit they were measured."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    document = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "quick": quick,
        "machine": machine(),
        **data,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def ratio(ours: float, other: float, *, inverse: bool = False) -> str:
    """`other / ours` as `12.3x` (how many times better ours is), or `ours / other` with `inverse`."""
    numerator, denominator = (ours, other) if inverse else (other, ours)
    return f"{numerator / denominator:.2f}x" if denominator else "inf"
