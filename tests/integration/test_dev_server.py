"""`make dev`'s server: it starts, answers the documented API from the sample wiki, and stops on SIGINT."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import requests

from local.gateway import http_api_event


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_request_becomes_an_http_api_v2_event_with_query_and_trace_headers():
    event = http_api_event(
        "GET",
        "/api/search?q=rock+%26+roll&tag=a&tag=b",
        {"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Host": "127.0.0.1:8000"},
        b"",
        "127.0.0.1",
    )
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/api/search"
    assert event["queryStringParameters"] == {"q": "rock & roll", "tag": "a,b"}
    assert event["headers"]["traceparent"].startswith("00-4bf92f")
    assert event["requestContext"]["http"]["method"] == "GET"


def test_given_make_dev_when_searching_through_it_then_the_sample_wiki_answers_and_sigint_stops_it():
    port = _free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "local", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        _exercise(process, port)


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
        assert any("sample wiki" in line for line in lines)
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/api/health", timeout=10).json() == {"status": "ok"}
        body = requests.get(f"{base}/api/search", params={"q": "river"}, timeout=10).json()
        assert body["query"] == "river"
        assert body["results"]
        assert set(body["results"][0]) == {"pageid", "title", "extract", "url", "thumbnail", "cached"}
        bad = requests.get(f"{base}/api/search", params={"q": " "}, timeout=10)
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "missing_query"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=15) == 0
        finally:
            process.kill()
