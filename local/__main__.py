"""`python -m local` (what `make dev` runs): WikiRoam on this machine, with no cloud account.

Today it serves the sample wiki, moto's AWS with the tables and topic, and the api function behind a local
gateway. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from functions import settings
from local.aws import create_tables, local_aws_env, moto_server
from local.gateway import Gateway
from local.samplewiki.server import SampleWiki

DEFAULT_PORT = 8000
PAGES_TABLE = "wikiroam-local-pages"
LINKS_TABLE = "wikiroam-local-links"
LOCAL_CONTACT = "local development; https://www.mediawiki.org/wiki/API:Etiquette"


class LambdaContext:
    """The parts of Lambda's context object the handlers read."""

    function_name = "wikiroam-local-api"
    memory_limit_in_mb = 512
    aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        """The api function's timeout, as if the invocation had just started."""
        return 29_000


def main(argv: list[str] | None = None) -> int:
    """Start every service, print where it is, and wait for Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__.splitlines()[0])
    raw_port = os.environ.get("WIKIROAM_PORT", "").strip() or str(DEFAULT_PORT)
    if not raw_port.isdigit() or not 0 <= int(raw_port) <= 65535:
        parser.error(f"WIKIROAM_PORT={raw_port!r} is not a port number: set it between 1 and 65535 (default 8000)")
    default_port = int(raw_port)
    parser.add_argument("--port", type=int, default=default_port, help="gateway port (env WIKIROAM_PORT, 8000)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    wiki_url = os.environ.get(settings.WIKI_API_URL, "").strip()
    wiki: SampleWiki | None = None
    if not wiki_url:
        wiki = SampleWiki()
        wiki.start()
        wiki_url = wiki.api_url
        print(f"  sample wiki       {wiki_url}", flush=True)
    else:
        print(f"  wiki              {wiki_url} (from {settings.WIKI_API_URL})", flush=True)
    try:
        with moto_server() as endpoint:
            print(f"  local AWS (moto)  {endpoint}", flush=True)
            os.environ.update(local_aws_env(endpoint))
            import boto3

            create_tables(boto3.client("dynamodb"), PAGES_TABLE, LINKS_TABLE)
            topic_arn = boto3.client("sns").create_topic(Name="wikiroam-local-cache-requests")["TopicArn"]
            os.environ.update(
                {
                    settings.WIKI_API_URL: wiki_url,
                    settings.WIKI_CONTACT: os.environ.get(settings.WIKI_CONTACT) or LOCAL_CONTACT,
                    settings.PAGES_TABLE: PAGES_TABLE,
                    settings.LINKS_TABLE: LINKS_TABLE,
                    settings.CACHE_TOPIC_ARN: topic_arn,
                }
            )
            print(f"  tables            {PAGES_TABLE}, {LINKS_TABLE}; topic {topic_arn}", flush=True)
            from functions.handlers import api

            def invoke(event: dict[str, Any]) -> Any:
                return api.handler(event, LambdaContext())

            try:
                gateway = Gateway(invoke, port=args.port)
            except OSError as error:
                print(
                    f"cannot listen on 127.0.0.1:{args.port} ({error.strerror}): "
                    "stop what uses it, or set WIKIROAM_PORT"
                )
                return 1
            gateway.start()
            print(f"  gateway           {gateway.url}/api/", flush=True)
            print(f"WikiRoam is running at {gateway.url} (try {gateway.url}/api/search?q=river); Ctrl-C stops it")
            sys.stdout.flush()
            stop.wait()
            print("stopping", flush=True)
            gateway.stop()
    finally:
        if wiki is not None:
            wiki.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
