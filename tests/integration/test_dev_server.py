"""`make dev`'s server: it starts, answers the documented API from the sample wiki, and stops on SIGINT."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_given_make_dev_when_searching_through_it_then_the_pipeline_caches_the_results_and_sigint_stops_it():
    port = _free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "local", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        _exercise(process, port)


def test_given_the_port_is_taken_when_starting_make_dev_then_it_says_what_to_do_and_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "local", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "WIKIROAM_PORT" in result.stderr


def test_given_a_bad_wikiroam_port_then_make_dev_refuses_it_with_the_default_named(monkeypatch):
    monkeypatch.setenv("WIKIROAM_PORT", "eighty")
    result = subprocess.run([sys.executable, "-m", "local"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "WIKIROAM_PORT='eighty' is not a port number" in result.stderr
    assert "default 8000" in result.stderr


def test_given_a_bad_lambda_concurrency_then_make_dev_refuses_it_naming_the_variable_and_its_default(monkeypatch):
    monkeypatch.setenv("WIKIROAM_LAMBDA_CONCURRENCY", "lots")
    result = subprocess.run([sys.executable, "-m", "local"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "WIKIROAM_LAMBDA_CONCURRENCY must be a positive integer, not 'lots'" in result.stderr
    assert "default 200" in result.stderr


def _exercise(process: subprocess.Popen, port: int) -> None:
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, f"the dev server exited early:\n{''.join(lines)}"
            lines.append(line)
            if line.startswith("WikiRoam is running at"):
                break
        assert f"http://127.0.0.1:{port}" in lines[-1]
        for service in ("sample wiki", "local AWS (moto)", "deployed", "gateway"):
            assert any(service in line for line in lines), service
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/api/health", timeout=10).json() == {"status": "ok"}
        assert "<html" in requests.get(f"{base}/", timeout=10).text
        body = requests.get(f"{base}/api/search", params={"q": "river"}, timeout=10).json()
        assert body["query"] == "river"
        assert body["results"]
        assert set(body["results"][0]) == {"pageid", "title", "extract", "url", "thumbnail", "cached"}
        bad = requests.get(f"{base}/api/search", params={"q": " "}, timeout=10)
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "missing_query"
        first = body["results"][0]["pageid"]
        while time.monotonic() < deadline + 60:
            page = requests.get(f"{base}/api/pages/{first}", timeout=10).json()
            if page["backlinks_status"] == "complete":
                break
            time.sleep(0.2)
        assert page["backlinks_status"] == "complete"
        sandboxes = _descendants(process.pid)
        assert sandboxes, "the Lambda runtime runs its sandboxes as processes"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            # Stopping lets the pipeline finish its work in flight, throttled steps waiting out their Retry.
            assert process.wait(timeout=120) == 0
        finally:
            process.kill()
    rest = process.stdout.read()
    assert "stopped" in rest
    # Ctrl-C leaves no process behind: every sandbox, and the fork server once it sees its parent gone.
    deadline = time.monotonic() + 10
    while (left := [pid for pid in sandboxes if Path(f"/proc/{pid}").exists()]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux's /proc/<pid>/task/<tid>/children)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in map(int, children.read_text().split()):
            found += [child, *_descendants(child)]
    return found
