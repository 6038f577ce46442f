"""`wikiroam <command>` (or `python -m wikiroam_cli <command>`): operating WikiRoam from the command line.

Commands:
  trace <trace-id>   print one trace, read from CloudWatch Logs, as a text waterfall
  redrive            re-request the pages the cache pipeline left failed or stalled, and replay its DLQ
  gaps               run the gap check (the deployed function, or --direct): compare sampled cached pages'
                     backlink counts with the wiki's, and mark the gaps
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
    _add_redrive_parsers(commands)
    return parser


def _add_stack_arguments(command: argparse.ArgumentParser) -> None:
    where = command.add_argument_group(
        "which stack", "default: the selected Pulumi stack's outputs (`pulumi stack output --json`)"
    )
    where.add_argument(
        "--local",
        nargs="?",
        const="http://127.0.0.1:8000",
        default=None,
        metavar="GATEWAY",
        help="the local stack (`make dev`), found through its gateway (default http://127.0.0.1:8000)",
    )
    where.add_argument("--stack", default=None, help="the Pulumi stack whose outputs to read")
    where.add_argument("--pages-table", default=None, help="the pages table (with --topic-arn: no Pulumi needed)")
    where.add_argument("--topic-arn", default=None, help="the cache request topic")
    where.add_argument("--dlq-url", default=None, help="the cache requests' dead-letter queue")
    where.add_argument("--region", default=None, help="the AWS region (default: the AWS configuration's)")
    where.add_argument("--endpoint-url", default=None, help="an AWS endpoint (default: $AWS_ENDPOINT_URL, else AWS)")
    command.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    command.add_argument("--quiet", action="store_true", help="no progress bars on stderr")


def _add_redrive_parsers(commands: Any) -> None:
    redrive = commands.add_parser(
        "redrive",
        help="re-request failed and stalled pages, and replay the dead-letter queue",
        description="Re-request the pages the cache pipeline left failed, stalled (claim expired) or requested "
        "but never claimed, by publishing the api's cache request; report partial pages apart; replay the "
        "dead-letter queue's requests to the topic (each message deleted once published).",
    )
    _add_stack_arguments(redrive)
    redrive.add_argument(
        "--include-partial",
        action="store_true",
        help="also reopen partial pages (more backlinks than wikiroam:maxBacklinks): useful after raising it",
    )
    redrive.add_argument("--no-dlq", action="store_true", help="leave the dead-letter queue alone")
    redrive.add_argument(
        "--max-messages", type=int, default=1000, help="dead-letter messages replayed at most (default 1000)"
    )
    gaps = commands.add_parser(
        "gaps",
        help="compare sampled cached pages' backlink counts with the wiki's own; mark the gaps failed",
        description="Run the stack's gap-check function once (Invoke; the schedule runs it too): it samples "
        "complete pages, lists each one's backlinks on the wiki as the pipeline does (within --max-requests wiki "
        "requests in all), marks a page whose cached count differs failed with caching_error BacklinksGap (the "
        "next view, or `wikiroam redrive`, caches it again), and records a span per gap that the cache-gaps "
        "monitor counts. --direct runs the same check from here instead (no span is shipped).",
    )
    _add_stack_arguments(gaps)
    gaps.add_argument(
        "--sample", type=int, default=None, help="complete pages to compare (default: wikiroam:gapCheckSample, 20)"
    )
    gaps.add_argument(
        "--max-requests",
        type=int,
        default=None,
        help="wiki requests at most, in all (default: wikiroam:gapCheckMaxRequests, 50)",
    )
    gaps.add_argument("--gap-check-function", default=None, help="the gap-check function (default: the stack's)")
    direct = gaps.add_argument_group("--direct", "run the check from this machine instead of the deployed function")
    direct.add_argument("--direct", action="store_true", help="compare from here, with a progress bar")
    direct.add_argument(
        "--wiki-api-url", default=None, help="the wiki's api.php (default: the local stack's, or English Wikipedia)"
    )
    direct.add_argument("--contact", default="wikiroam gaps (operator)", help="who runs this, for the User-Agent")
    direct.add_argument("--seed", type=int, default=None, help="seed the sample, to compare the same pages again")


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


def _targets(args: argparse.Namespace) -> Any:
    from wikiroam_cli.redrive import StackTargets, local_targets, pulumi_targets

    if args.pages_table and args.topic_arn:
        return StackTargets(
            args.pages_table,
            args.topic_arn,
            args.dlq_url,
            args.endpoint_url,
            args.region,
            gap_check_function=getattr(args, "gap_check_function", None),
        )
    if args.local:
        return local_targets(args.local, args.region)
    return pulumi_targets(args.stack)


def redrive_command(args: argparse.Namespace) -> int:
    """Re-request what the pipeline left undone and replay the dead-letter queue; 1 if anything still fails."""
    from wikiroam_cli.redrive import Redriver, RedriveResult, counts, iter_lines, stderr_or_none

    targets = _targets(args)
    redriver = Redriver(targets, progress=stderr_or_none(args.quiet))
    dlq = None if args.no_dlq else targets.dlq_url
    print(f"stack: pages table {targets.pages_table}, topic {targets.topic_arn}, dead-letter queue {dlq or '-'}")
    plan = redriver.plan()
    for line in iter_lines(plan, args.include_partial):
        print(line)
    waiting = redriver.dead_letters() if dlq else 0
    print(f"dead-letter messages: {waiting}")
    if args.dry_run:
        print("dry run: nothing published, nothing deleted")
        return 0
    result = RedriveResult()
    redriver.request(plan.to_request(args.include_partial), result)
    if dlq:
        redriver.replay(result, args.max_messages)
    still = len(result.not_requested) + result.unreadable + result.replay_failed
    print(
        "summary: "
        + counts(
            {
                "pages re-requested": len(result.requested),
                "already in flight": len(result.in_flight),
                "messages replayed": result.replayed,
                "still failing": still,
                "partial not re-requested": 0 if args.include_partial else len(plan.partial),
            }
        )
    )
    if still:
        print(
            f"still failing: pages {result.not_requested or '-'}; {result.unreadable} dead-letter messages hold no "
            f"cache request (left on the queue); {result.replay_failed} could not be published (left on the queue)"
        )
    return 1 if still else 0


def gaps_command(args: argparse.Namespace) -> int:
    """Run the gap check (the deployed function, or from here with --direct); 1 when a gap was found."""
    from functions.settings import DEFAULT_GAP_CHECK_MAX_REQUESTS, DEFAULT_GAP_CHECK_SAMPLE
    from wikiroam_cli.redrive import invoke_gap_check

    targets = _targets(args)
    if args.direct:
        report = _direct_gap_check(
            args,
            targets,
            args.sample or DEFAULT_GAP_CHECK_SAMPLE,
            args.max_requests or DEFAULT_GAP_CHECK_MAX_REQUESTS,
        )
    else:
        print(f"stack: gap-check function {targets.gap_check_function or '-'}")
        payload: dict[str, Any] = {"dry_run": bool(args.dry_run)}
        if args.sample is not None:
            payload["sample"] = args.sample
        if args.max_requests is not None:
            payload["max_requests"] = args.max_requests
        report = invoke_gap_check(targets, payload)
    for check in report.checks:
        state = "not checked (request budget spent)" if check.wiki is None else ("GAP" if check.gap else "ok")
        marked = " -> marked failed (BacklinksGap)" if check.marked else ""
        print(
            f"  {check.pageid:>10}  cached {check.cached:>6}  wiki {check.wiki if check.wiki is not None else '-':>6}"
            f"  {state}{marked}  {check.title}"
        )
    figures = report.summary()
    print(
        f"summary: pages compared {figures['pages_compared']}, gaps {figures['gaps_found']}, "
        f"marked {figures['gaps_marked']}, not checked {figures['not_checked']}, "
        f"wiki requests {figures['wiki_requests']}" + (" (dry run: nothing marked)" if report.dry_run else "")
    )
    return 1 if report.gaps else 0


def _direct_gap_check(args: argparse.Namespace, targets: Any, sample: int, max_requests: int) -> Any:
    import random

    from functions.gaps import check_gaps
    from functions.settings import DEFAULT_WIKI_API_URL
    from functions.store import PageStore
    from functions.wiki import BACKGROUND_MAXLAG_SECONDS, WikiClient
    from wikiroam_cli.redrive import Progress, local_wiki_api_url, stderr_or_none

    api_url = args.wiki_api_url or (local_wiki_api_url(targets, args.local) if args.local else None)
    api_url = api_url or DEFAULT_WIKI_API_URL
    print(f"stack: pages table {targets.pages_table}; wiki {api_url}")
    wiki = WikiClient(api_url, contact=args.contact, maxlag=BACKGROUND_MAXLAG_SECONDS)
    bars: list[Progress] = []
    report = check_gaps(
        PageStore(targets.client("dynamodb"), targets.pages_table),
        wiki,
        sample=sample,
        max_requests=max_requests,
        mark=not args.dry_run,
        rng=random.Random(args.seed),  # noqa: S311 (a sample, not a secret)
        on_sampled=lambda total: bars.append(Progress(stderr_or_none(args.quiet), "pages compared", total)),
        on_page=lambda: bars[0].advance(),  # noqa: PLW0108 (the bar exists once the sample is drawn)
    )
    for bar in bars:
        bar.close()
    return report


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
    if args.command in ("redrive", "gaps"):
        from botocore.exceptions import BotoCoreError, ClientError

        from wikiroam_cli.redrive import GapCheckFailed, StackNotFound

        try:
            return redrive_command(args) if args.command == "redrive" else gaps_command(args)
        except (StackNotFound, GapCheckFailed) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except (BotoCoreError, ClientError) as error:
            print(
                f"error: AWS refused or could not be reached ({error}): check the credentials and flags",
                file=sys.stderr,
            )
            return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
