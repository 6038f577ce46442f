"""`python -m local` (what `make dev` runs): all of WikiRoam on this machine, with no cloud account.

It starts the sample wiki, moto's AWS, deploys the Pulumi program into it, and serves the site and the API
through a local gateway. Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from functions import settings
from local.faults import FAULTS_SEED_VARIABLE, FAULTS_VARIABLE, FaultSpecError, parse_faults, parse_seed
from local.runtime import DEFAULT_ACCOUNT_CONCURRENCY, account_concurrency_from
from local.stack import DEFAULT_STACK, LocalStack, PortInUseError, StackOptions

DEFAULT_PORT = 8000
PORT_VARIABLE = "WIKIROAM_PORT"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=None, help=f"the gateway's port (default: ${PORT_VARIABLE}, else {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--stack", default=DEFAULT_STACK, help=f"the Pulumi stack whose config is deployed (default: {DEFAULT_STACK})"
    )
    parser.add_argument(
        "--runtime",
        choices=("process", "in-process"),
        default="process",
        help="where Lambda handlers run: a process per sandbox, as in Lambda (default), or all in this process, "
        "one at a time (to step through handler code in a debugger)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the tables' data in DIR between runs (default: none, every run starts empty)",
    )
    return parser


def _port(parser: argparse.ArgumentParser, explicit: int | None) -> int:
    if explicit is not None:
        port = explicit
        source = "--port"
    else:
        raw = os.environ.get(PORT_VARIABLE, "").strip() or str(DEFAULT_PORT)
        if not raw.isdigit():
            parser.error(f"{PORT_VARIABLE}={raw!r} is not a port number: set it between 1 and 65535 (default 8000)")
        port, source = int(raw), PORT_VARIABLE
    if not 0 <= port <= 65535:
        parser.error(f"{source} {port} is not a port number: set it between 1 and 65535 (default 8000)")
    return port


def _log_to_terminal(stack: LocalStack) -> None:
    """The local stack's own warnings on stderr; a handler's records go to its function's log group instead."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(lambda record: stack.runner is None or not stack.runner.capturing())
    handler.setLevel(logging.WARNING)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Start every service, print where it is, and wait for Ctrl-C or SIGTERM."""
    parser = _parser()
    args = parser.parse_args(argv)
    port = _port(parser, args.port)
    try:
        account_concurrency_from(os.environ)
    except ValueError as error:
        parser.error(f"{error} (the local account's Lambda concurrency, default {DEFAULT_ACCOUNT_CONCURRENCY})")
    try:
        faults = parse_faults(os.environ.get(FAULTS_VARIABLE, ""))
        fault_seed = parse_seed(os.environ.get(FAULTS_SEED_VARIABLE, ""))
    except FaultSpecError as error:
        parser.error(str(error))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    options = StackOptions(
        port=port,
        stack=args.stack,
        wiki_api_url=os.environ.get(settings.WIKI_API_URL, "").strip() or None,
        contact=os.environ.get(settings.WIKI_CONTACT, "").strip() or None,
        state_dir=args.state,
        runtime=args.runtime,
        faults=faults,
        fault_seed=fault_seed,
        report=lambda line: print(line, flush=True),
    )
    print(f"Starting WikiRoam on this machine (stack {args.stack})", flush=True)
    stack = LocalStack(options)
    _log_to_terminal(stack)
    try:
        stack.start()
    except PortInUseError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    try:
        url = stack.url
        print(f"WikiRoam is running at {url} (try {url}/api/search?q=river); Ctrl-C stops it", flush=True)
        # Waking now and then: a wait with no timeout does not always return for a signal handled meanwhile.
        while not stop.wait(0.5):
            pass
        print("stopping: finishing the pipeline's work in flight", flush=True)
    finally:
        stack.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
