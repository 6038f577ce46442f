"""A threaded HTTP server on loopback, served from a background thread: what the gateway and receiver share."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Binds at once (so a taken port fails early), serves on `start()`, and closes its socket on `stop()`.

    `join_requests` makes `stop()` wait for the requests in progress, for handlers whose work must not be cut.
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
        self._name = name
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = not join_requests
        self.server.block_on_close = join_requests
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.server.serve_forever, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
