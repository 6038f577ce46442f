"""The functions' AWS clients fail fast: explicit timeouts and a small standard-mode attempt budget."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from functions import clients
from functions.clients import BACKGROUND, PIPELINE_RUN, PIPELINE_RUN_WORST_SECONDS, READER, aws_client
from functions.contract import TRIGGER_DEADLINE_MARGIN_SECONDS

pytestmark = pytest.mark.unit

HANDLERS = Path(__file__).resolve().parents[2] / "functions" / "handlers"
# Each function's timeout (Pulumi.yaml defaults) and the profile its clients use.
FUNCTION_TIMEOUTS = {"api": (15, READER), "trigger's publish": (180, BACKGROUND), "cache steps": (30, BACKGROUND)}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.mark.parametrize("profile", [READER, BACKGROUND, PIPELINE_RUN], ids=["reader", "background", "pipeline-run"])
def test_given_a_profile_when_a_client_is_made_then_it_has_its_timeouts_and_standard_retries(profile):
    client = aws_client("dynamodb", profile)

    assert client.meta.config.connect_timeout == profile.connect_timeout
    assert client.meta.config.read_timeout == profile.read_timeout
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.retries["total_max_attempts"] == profile.retries["total_max_attempts"]


@pytest.mark.parametrize("function", FUNCTION_TIMEOUTS)
def test_given_every_attempt_times_out_then_the_call_gives_up_well_inside_the_function_timeout(function):
    timeout, profile = FUNCTION_TIMEOUTS[function]
    attempts = profile.retries["total_max_attempts"]
    # standard mode's backoff before attempt n (n >= 2) is at most 2 ** (n - 2) seconds.
    backoff = sum(2 ** (n - 2) for n in range(2, attempts + 1))
    worst = attempts * (profile.connect_timeout + profile.read_timeout) + backoff

    assert worst <= 0.65 * timeout


def test_given_the_handlers_then_none_makes_a_boto3_client_without_the_profiles():
    calls = {path.name: re.findall(r"boto3\.client\(", path.read_text()) for path in HANDLERS.glob("*.py")}

    assert {name: found for name, found in calls.items() if found} == {}
    assert "aws_client(" in (HANDLERS / "api.py").read_text()
    assert clients.READER.retries["total_max_attempts"] <= 2


def test_given_the_trigger_then_it_waits_for_an_execution_once_and_has_time_to_start_pages_after():
    # One attempt: a read timeout is a long execution running on, and a retry would start its page again.
    assert PIPELINE_RUN.retries["total_max_attempts"] == 1
    # The trigger's 180 s leave a window to start pages after the worst wait and the margin.
    assert PIPELINE_RUN_WORST_SECONDS + TRIGGER_DEADLINE_MARGIN_SECONDS < 180 / 2
