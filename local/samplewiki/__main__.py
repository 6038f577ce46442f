"""Run the sample wiki standalone: `python -m local.samplewiki [--host 127.0.0.1] [--port 8080] [--search database]`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import get_args

from local.samplewiki.corpus import DEFAULT_SEED
from local.samplewiki.server import SampleWiki
from local.samplewiki.site import SEARCH_BACKEND_VARIABLE, SearchBackend


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM, then stop cleanly."""
    parser = argparse.ArgumentParser(prog="python -m local.samplewiki", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on, 0 for any free one (default 8080)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"corpus seed (default {DEFAULT_SEED})")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--search",
        choices=get_args(SearchBackend),
        default=None,
        help=f"search backend to play (default: ${SEARCH_BACKEND_VARIABLE}, else cirrus)",
    )
    args = parser.parse_args(argv)

    try:
        wiki = SampleWiki(
            host=args.host, port=args.port, seed=args.seed, verbose=args.verbose, search=args.search
        ).start()
    except (ValueError, OSError) as error:
        print(f"samplewiki: cannot start: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(wiki.api_url, flush=True)
    print(
        f"{len(wiki.corpus.pages)} pages; hub {wiki.corpus.hub.title!r}; search plays {wiki.search_backend}; "
        f"open {wiki.base_url}/ in a browser. "
        "Ctrl-C stops.",
        file=sys.stderr,
        flush=True,
    )
    try:
        # Waking up now and then keeps the main thread responsive to signals on every platform.
        while not stop.wait(0.5):
            pass
    finally:
        wiki.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
