"""`wikiroam <command>` (or `python -m wikiroam_cli <command>`): operating WikiRoam from the command line.

Commands:
  trace <trace-id>   print one trace, read from CloudWatch Logs, as a text waterfall
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> float:
    """`90s`, `30m`, `1h`, `2d` as seconds (an argparse type)."""
    found = _DURATION.match(text.strip().lower())
    if found is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: write e.g. 30m, 1h or 2d")
    return float(found.group(1)) * _SECONDS[found.group(2)]


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per operation."""
    parser = argparse.ArgumentParser(prog="wikiroam", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    # Room for more operator commands (ROADMAP: `redrive`) as further subparsers.
    trace = commands.add_parser(
        "trace",
        help="print one trace, read from CloudWatch Logs, as a text waterfall",
        description="Print one trace as a text waterfall, read from the stack's CloudWatch log groups: the "
        "functions' span lines and the state machine's execution events, decoded as the shipper decodes them.",
    )
    trace.add_argument("trace_id", help="the trace id: 32 hexadecimal digits (as in a traceparent header)")
    trace.add_argument(
        "--since",
        type=duration_seconds,
        default=3600.0,
        metavar="DURATION",
        help="how far back to read, e.g. 30m, 6h, 2d (default: 1h)",
    )
    trace.add_argument("--region", default=None, help="the AWS region (default: the AWS configuration's)")
    trace.add_argument(
        "--endpoint-url",
        default=None,
        help="a CloudWatch Logs endpoint, e.g. the local stack's moto (default: $AWS_ENDPOINT_URL, else AWS)",
    )
    trace.add_argument(
        "--log-group",
        action="append",
        default=[],
        metavar="NAME",
        help="a function's log group to read span lines from (repeatable; default: discovered by --stack-prefix)",
    )
    trace.add_argument(
        "--states-log-group",
        action="append",
        default=[],
        metavar="NAME",
        help="a state machine's log group to read execution events from (repeatable)",
    )
    trace.add_argument(
        "--stack-prefix",
        default=None,
        help="discover the program's log groups by this name prefix (default: wikiroam-)",
    )
    trace.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def _logs_client(region: str | None, endpoint_url: str | None) -> Any:
    import boto3

    # boto3 reads AWS_ENDPOINT_URL itself when no endpoint is given.
    return boto3.client("logs", region_name=region, endpoint_url=endpoint_url)


def trace_command(args: argparse.Namespace, logs: Any | None = None) -> int:
    """Find the trace's spans in the log groups and print its waterfall; 1 with what to do when none is found."""
    from wikiroam_cli.trace import (
        DEFAULT_STACK_PREFIX,
        TRACE_ID,
        LogGroups,
        LogReader,
        discover_log_groups,
        render_waterfall,
    )

    trace_id = args.trace_id.strip().lower()
    if not TRACE_ID.match(trace_id):
        print(
            f"error: {args.trace_id!r} is not a trace id: give its 32 hexadecimal digits (the second field of a "
            "traceparent header, or the id the trace view shows)",
            file=sys.stderr,
        )
        return 2
    logs = logs if logs is not None else _logs_client(args.region, args.endpoint_url)
    prefix = args.stack_prefix or DEFAULT_STACK_PREFIX
    functions, machines = list(args.log_group), list(args.states_log_group)
    if args.stack_prefix or not (functions or machines):
        discovered = discover_log_groups(logs, prefix)
        functions += discovered.functions
        machines += discovered.state_machines
    groups = LogGroups(tuple(dict.fromkeys(functions)), tuple(dict.fromkeys(machines)))
    if not groups.all:
        print(
            f"error: no log group starts with {prefix!r}: name the stack's prefix with --stack-prefix, or the "
            "groups with --log-group/--states-log-group (and check --region and --endpoint-url)",
            file=sys.stderr,
        )
        return 1
    end_ms = int(time.time() * 1000)
    start_ms = end_ms - int(args.since * 1000)

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"  {message}", file=sys.stderr, flush=True)

    reading = LogReader(logs, start_ms, end_ms, progress).read(trace_id, groups)
    if not reading.spans:
        searched = "\n".join(f"  {name}" for name in groups.all)
        print(
            f"error: no span of trace {trace_id} in the last {_human(args.since)} of these log groups:\n{searched}\n"
            f"({reading.span_lines} span lines and {reading.state_events} execution events read.) "
            "Widen the window with --since, check the trace id, or name other groups with --log-group.",
            file=sys.stderr,
        )
        return 1
    for line in render_waterfall(reading.spans):
        print(line)
    if reading.damaged_lines or reading.unpaired_state_events:
        print(
            f"warning: {reading.damaged_lines} damaged span lines and {reading.unpaired_state_events} unpaired "
            "execution events were skipped: spans may be missing",
            file=sys.stderr,
        )
    return 0


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status (0 done, 1 nothing found or an AWS error, 2 bad usage)."""
    args = build_parser().parse_args(argv)
    if args.command == "trace":
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return trace_command(args)
        except (BotoCoreError, ClientError) as error:
            print(
                f"error: CloudWatch Logs refused or could not be reached ({error}): check the credentials, "
                "--region and --endpoint-url",
                file=sys.stderr,
            )
            return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
