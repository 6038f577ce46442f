"""The pinned requirements: the Lambda layer deploys the versions the tests and the local stack run."""

from __future__ import annotations

import re
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;]+)")


def pins(name: str) -> dict[str, str]:
    """Package -> version of one requirements/<name>.txt."""
    found = {}
    for line in (REQUIREMENTS / f"{name}.txt").read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


def test_given_the_lambda_layer_then_every_package_it_pins_is_the_version_the_tests_run():
    layer, dev = pins("layer"), pins("dev")
    assert "protobuf" in layer
    assert {name: (version, dev.get(name)) for name, version in layer.items() if dev.get(name) != version} == {}


def test_given_the_runtime_requirements_then_they_agree_with_the_tests_too():
    runtime, dev = pins("runtime"), pins("dev")
    assert {name: (version, dev.get(name)) for name, version in runtime.items() if dev.get(name) != version} == {}
