"""The local stack's HTTP servers on loopback, one lifecycle for all: the sample wiki, the gateway, the OTLP receiver.

A `LoopbackServer` binds at once (so a taken port fails early), serves from a background thread on `start()`,
reports its base URL as `url`, and on `stop()` stops accepting, wakes handlers that wait on `stopping`, ends the
connections still open (after their answers, with `join_requests`) and frees the port.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

# The kernel's accept queue: Python's default of 5 reset connections when 100 searches arrived at once.
LISTEN_BACKLOG: Final = 256
# How long the serving loop sleeps between checks for a stop: the most `stop()` waits for it.
POLL_INTERVAL: Final = 0.05
# How long `stop()` waits for the answers in progress when they must not be cut.
JOIN_TIMEOUT: Final = 10.0

Request = socket.socket | tuple[bytes, socket.socket]


def is_loopback(host: str) -> bool:
    """Whether `host` is `localhost` or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(host: str, *, name: str) -> None:
    """Refuse a host that is not loopback: what the local stack serves must not be reachable from the network."""
    if not is_loopback(host):
        raise ValueError(f"{name} only listens on loopback addresses, not {host!r}")


class _ThreadingServer(ThreadingHTTPServer):
    """The stdlib threading server with a deep accept queue and daemon request threads that `stop()` can find."""

    request_queue_size = LISTEN_BACKLOG
    # Daemon threads never hold the interpreter open; `LoopbackServer.stop` joins them itself, with a bound.
    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], stopping: threading.Event
    ) -> None:
        self.stopping = stopping
        self._lock = threading.Lock()
        self._open: dict[Request, threading.Thread] = {}
        super().__init__(address, handler)

    def process_request(self, request: Request, client_address: Any) -> None:
        """Answer the connection in a daemon thread, remembered until it ends."""
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address), daemon=True)
        with self._lock:
            self._open[request] = thread
        thread.start()

    def process_request_thread(self, request: Request, client_address: Any) -> None:
        """Serve the connection, then forget it."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._open.pop(request, None)

    def handle_error(self, request: Request, client_address: Any) -> None:
        """Report a handler's failure, unless it is a connection that `stop()` ended."""
        if self.stopping.is_set() and isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def open_connections(self) -> list[tuple[Request, threading.Thread]]:
        """The connections being served and their threads."""
        with self._lock:
            return list(self._open.items())


class LoopbackServer:
    """A threaded HTTP server on a loopback address, served from a background thread.

    `join_requests` makes `stop()` wait (up to `JOIN_TIMEOUT`) for the connections being served, for handlers
    whose work must not be cut and that answer one request per connection; otherwise `stop()` ends open
    connections at once (kept-alive ones would go on answering after the stop).
    Handlers reach `stopping` through their `server` to give up a slow answer when the server stops.
    """

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        join_requests: bool = False,
    ) -> None:
        require_loopback(host, name=name)
        self._name = name
        self._join_requests = join_requests
        self.stopping = threading.Event()
        self.server = _ThreadingServer((host, port), handler, self.stopping)
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """The server's base URL, `http://<address>:<port>`."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        return int(self.server.server_address[1])

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._thread is not None and not self._closed

    def start(self) -> None:
        """Serve in a background thread."""
        if self._thread is not None or self._closed:
            raise RuntimeError(f"{self._name} was started already")
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, name=self._name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, end the connections still open, and close the socket. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        if self._thread is not None:
            # Without a serving loop, shutdown() would wait forever for one to end.
            self.server.shutdown()
        if self._join_requests:
            deadline = time.monotonic() + JOIN_TIMEOUT
            for _, thread in self.server.open_connections():
                thread.join(timeout=max(deadline - time.monotonic(), 0.0))
        for request, _ in self.server.open_connections():
            connection = request if isinstance(request, socket.socket) else request[1]
            # A handler waiting for the next request on a kept-alive connection wakes up to an end of file.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
