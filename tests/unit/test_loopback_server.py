"""The loopback server the sample wiki, the gateway and the OTLP receiver share: bursts, stops, loopback only."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest

from local.serving import LISTEN_BACKLOG, LoopbackServer


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    release = threading.Event()
    started = threading.Event()

    def do_GET(self) -> None:
        if self.path == "/slow":
            Hello.started.set()
            Hello.release.wait(5)
        body = b"daemon" if threading.current_thread().daemon else b"not daemon"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def get(connection: socket.socket, path: str = "/", *, close: bool = False) -> bytes:
    ending = "Connection: close\r\n" if close else ""
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{ending}\r\n".encode())
    answer = b""
    while not answer.endswith(b"daemon"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer


def test_given_a_burst_of_connections_before_any_is_accepted_then_every_one_is_queued_and_answered():
    # Given a bound server that accepts nothing yet (Python's default backlog of 5 would drop the 7th)
    server = LoopbackServer(Hello, name="burst")
    host, port = server.server.server_address[:2]
    burst = min(LISTEN_BACKLOG, 200)
    connections: list[socket.socket] = []
    try:
        connections.extend(socket.create_connection((host, port), timeout=2) for _ in range(burst))
        # When it starts serving
        server.start()
        answers = [get(c) for c in connections]
    finally:
        for connection in connections:
            connection.close()
        server.stop()

    # Then every connection was queued, and answered from a daemon thread
    assert all(a.startswith(b"HTTP/1.1 200") and a.endswith(b"\r\n\r\ndaemon") for a in answers)


def test_given_a_kept_alive_connection_when_stopping_then_it_is_closed_and_the_port_freed_at_once():
    server = LoopbackServer(Hello, name="keepalive")
    server.start()
    host, port = server.server.server_address[:2]
    connection = socket.create_connection((host, port), timeout=5)
    assert get(connection).endswith(b"daemon")

    started = time.monotonic()
    server.stop()

    assert time.monotonic() - started < 1
    assert connection.recv(1) == b""  # the server ended the idle keep-alive connection
    connection.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=1)
    server.stop()  # a second stop is harmless


def test_given_join_requests_when_stopping_mid_answer_then_the_answer_is_finished_first():
    Hello.release.clear()
    Hello.started.clear()
    server = LoopbackServer(Hello, name="join", join_requests=True)
    server.start()
    connection = socket.create_connection(server.server.server_address[:2], timeout=5)
    answers: list[bytes] = []
    # One request per connection, as the OTLP receiver answers: a kept-alive one would hold the stop instead.
    reader = threading.Thread(target=lambda: answers.append(get(connection, "/slow", close=True)))
    reader.start()
    assert Hello.started.wait(5)

    stopper = threading.Thread(target=server.stop)
    stopper.start()
    time.sleep(0.2)
    assert stopper.is_alive()  # waiting for the answer in progress
    Hello.release.set()
    stopper.join(5)
    reader.join(5)
    connection.close()

    assert not stopper.is_alive()
    assert answers[0].startswith(b"HTTP/1.1 200")


def test_a_server_stopped_before_it_started_frees_its_port_without_waiting():
    server = LoopbackServer(Hello, name="unstarted")
    port = server.port

    started = time.monotonic()
    server.stop()

    assert time.monotonic() - started < 1
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_a_public_address_is_refused_and_the_url_names_the_bound_port():
    with pytest.raises(ValueError, match="loopback"):
        LoopbackServer(Hello, name="public", host="0.0.0.0")
    server = LoopbackServer(Hello, name="local", host="localhost")
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
