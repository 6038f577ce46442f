"""The whole of WikiRoam on this machine: sample wiki, moto, the deployed program, the Lambda runner, the gateway.

`LocalStack` is what `make dev` runs and what the end-to-end tests start. Starting it:

1. binds the gateway (it answers 503 until step 6, so `/api/health` is 200 only once all is deployed);
2. starts the sample wiki, unless `wiki_api_url` points at another MediaWiki;
3. starts moto's server on loopback with Step Functions execution on;
4. installs the Lambda runtime (`local.runtime`: a worker process per sandbox; `local.runner` runs handlers in
   this process instead, with `runtime="in-process"`) and the fidelity patches (`local.fidelity`);
5. deploys `__main__.py` into moto (`local.deployer`), with the wiki's URL as the stack's `wikiApiUrl` and the
   local OTLP receiver (`local.traces`, or `$OTEL_EXPORTER_OTLP_ENDPOINT` when set) as its `otlpEndpoint`;
6. hands the gateway the deployed routes, the site bucket and CloudFront's security headers.

Stopping waits for the pipeline's work in flight, then stops everything in reverse order. With `state_dir`,
the tables' items are saved there on stop and loaded on the next start.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from components import datadog_assets
from local.aws import local_aws_env, moto_server, patched_environ
from local.deployer import Deployment, deploy
from local.emulated_faults import install_emulated_faults
from local.faults import LAMBDA_FAULTS, WIKI_FAULTS, FaultRates, faults_get, faults_post, mark_as_harness
from local.fidelity import DEFAULT_RETRY_DELAYS, Activity, AsyncInvoker, install_fidelity_patches
from local.gateway import Gateway, IntegrationTimeout, Route, SiteOrigin, allow_images_from, security_headers
from local.harness import stack_config
from local.runner import LambdaRunner
from local.runtime import ProcessRuntime
from local.samplewiki.server import SampleWiki
from local.serving import LISTEN_BACKLOG
from local.traces import OtlpReceiver, TraceStore, serving
from local.traces import local_routes as trace_routes

DEFAULT_STACK = "dev"
LOCAL_CONTACT = "local development; https://www.mediawiki.org/wiki/API:Etiquette"
# The local stack records the Datadog resources (never sending them), so it deploys them with keys that open nothing.
LOCAL_DATADOG_CONFIG = {
    "wikiroam:datadog": "true",
    "datadog:apiKey": "local-never-sent",
    "datadog:appKey": "local-never-sent",
}
_FUNCTION = "aws:lambda/function:Function"
# An HTTP API integration's timeout when the deployment sets none (API Gateway's maximum, 30 s).
DEFAULT_INTEGRATION_TIMEOUT_SECONDS = 30.0
# Connections from the gateway to the local Lambda: as many as the gateway's listen backlog holds readers.
GATEWAY_CONNECTIONS = LISTEN_BACKLOG
# The standard OpenTelemetry variables: set, they send the shipper's spans to that backend instead of the receiver.
OTLP_ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTLP_HEADERS_VARIABLE = "OTEL_EXPORTER_OTLP_HEADERS"


class PortInUseError(RuntimeError):
    """The gateway's port is taken."""


@dataclass
class StackOptions:
    """How to run the local stack. Every field has the default `make dev` uses, but `port` (8000 there)."""

    port: int = 0
    stack: str = DEFAULT_STACK
    wiki_api_url: str | None = None
    contact: str | None = None
    state_dir: Path | None = None
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    # "process": one worker process per Lambda sandbox, as Lambda runs them; "in-process": every handler in this
    # process, one at a time (for stepping through handler code in a debugger).
    runtime: Literal["process", "in-process"] = "process"
    # WIKIROAM_FAULTS: a rate per fault name (`local.faults`), and the seed of their draws (None: unseeded).
    faults: Mapping[str, float] = field(default_factory=dict)
    fault_seed: int | None = None
    report: Callable[[str], None] = field(default=lambda line: None)


class LocalStack:
    """Starts and stops every piece of the local stack; use as a context manager."""

    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.activity = Activity()
        # Faults on demand: read by the sample wiki, moto's DynamoDB and SNS, and the Lambda runtime.
        self.faults = FaultRates(self.options.faults, seed=self.options.fault_seed)
        self.wiki: SampleWiki | None = None
        self.wiki_api_url = ""
        self.endpoint_url = ""
        self.deployment: Deployment | None = None
        self.runner: ProcessRuntime | LambdaRunner | None = None
        self.invoker: AsyncInvoker | None = None
        # The spans the shipper sent to the local OTLP receiver (empty when OTEL_EXPORTER_OTLP_ENDPOINT is set).
        self.traces = TraceStore()
        self.otlp_endpoint = ""
        self._gateway: Gateway | None = None
        self._exit = ExitStack()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._save_on_stop = False
        self._integration_timeout = DEFAULT_INTEGRATION_TIMEOUT_SECONDS
        self._route_invoker: Any = None

    # --- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start everything; on failure, stop what had started and re-raise."""
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise

    def stop(self) -> None:
        """Finish the work in flight, save state if asked, and stop every piece."""
        self._exit.close()

    def _start(self) -> None:
        report = self.options.report
        started = time.monotonic()
        try:
            gateway = Gateway(port=self.options.port)
        except OSError as error:
            raise PortInUseError(
                f"cannot listen on 127.0.0.1:{self.options.port} ({error.strerror}): "
                "stop what uses it, or set WIKIROAM_PORT to another port"
            ) from error
        gateway.start()
        self._exit.callback(gateway.stop)
        self._gateway = gateway

        if self.options.wiki_api_url:
            self.wiki_api_url = self.options.wiki_api_url
            report(f"  wiki              {self.wiki_api_url}")
        else:
            self.wiki = self._exit.enter_context(_started(SampleWiki(fault_chance=self.faults.should_inject)))
            self.wiki_api_url = self.wiki.api_url
            report(f"  sample wiki       {self.wiki_api_url}")

        self.endpoint_url = self._exit.enter_context(moto_server())
        report(f"  local AWS (moto)  {self.endpoint_url}")
        self._exit.enter_context(patched_environ(local_aws_env(self.endpoint_url)))

        # Started before the runner: stopping drains the shipper's invocations first, which post here.
        receiver = self._exit.enter_context(serving(OtlpReceiver(self.traces)))
        self.otlp_endpoint = os.environ.get(OTLP_ENDPOINT_VARIABLE, "").strip() or receiver.url
        report(f"  OTLP endpoint     {self.otlp_endpoint}")

        # A failed state is logged by moto's interpreter as an error; the execution's own log events say it.
        self._exit.enter_context(_log_level("moto.stepfunctions.parser", logging.CRITICAL))
        runner = self.runner = self._start_runtime()
        self.invoker = AsyncInvoker(self.activity, retry_delays=self.options.retry_delays)
        self._exit.enter_context(install_fidelity_patches(self.invoker, self.activity))
        self._exit.enter_context(install_emulated_faults(self.faults, self._background_work))
        # Registered after the patches so that it runs before they are undone (an ExitStack unwinds in reverse):
        # the executions in flight finish as they started, counted, logged and delivered by the same patches.
        self._exit.callback(self._drain)
        self._report_faults()

        report(f"  deploying         __main__.py, stack {self.options.stack}")
        overrides = {
            "wikiroam:wikiApiUrl": self.wiki_api_url,
            "wikiroam:contact": self.options.contact or os.environ.get("WIKIROAM_CONTACT") or LOCAL_CONTACT,
            "wikiroam:otlpEndpoint": self.otlp_endpoint,
        }
        # Datadog is recorded, never sent: on, so /api/local/monitoring shows what `pulumi up` would create.
        overrides.update(LOCAL_DATADOG_CONFIG)
        if not stack_config(self.options.stack).get("wikiroam:datadogSite"):
            overrides["wikiroam:datadogSite"] = "datadoghq.com"
        if os.environ.get(OTLP_ENDPOINT_VARIABLE, "").strip() and os.environ.get(OTLP_HEADERS_VARIABLE, "").strip():
            overrides["wikiroam:otlpHeaders"] = os.environ[OTLP_HEADERS_VARIABLE].strip()
        self.deployment = deploy(self.options.stack, overrides, self.client)
        emulated = sum(r.emulated for r in self.deployment.resources)
        report(
            f"  deployed          {emulated} resources emulated, {len(self.deployment.resources) - emulated} recorded"
        )
        for function in self.deployment.of_type(_FUNCTION):
            log_group = (function.inputs.get("loggingConfig") or {}).get("logGroup")
            if log_group:
                runner.set_log_group(function.id, str(log_group))

        if self.options.state_dir is not None:
            loaded = load_tables(self.options.state_dir, self.client("dynamodb"), self._table_names())
            report(f"  state             {self.options.state_dir} ({loaded} items loaded)")
            # Saved by `_drain`, once the work in flight has finished: saved before, a page an execution was
            # caching would come back pending under a claim no execution holds any more (for the claim's 15 minutes).
            self._save_on_stop = True

        gateway.deployed(
            _readers_first(runner, self._routes()),
            self._invoke_route,
            self._site(),
            self._local_routes(),
            {"/api/local/faults": faults_post(self.faults)},
        )
        report(f"  traces            {gateway.url}/traces")
        report(f"  gateway           {gateway.url} (ready in {time.monotonic() - started:.1f} s)")

    def _background_work(self) -> Callable[[], None]:
        self.activity.begin()
        return self.activity.end

    def _report_faults(self) -> None:
        report = self.options.report
        report(f"  faults            {self.faults.describe()} (GET/POST {self._gateway_url()}/api/local/faults)")
        rates = self.faults.rates
        if self.wiki is None and any(rates[name] for name in WIKI_FAULTS):
            report("  faults            the wiki_* faults apply to the sample wiki only, not to " + self.wiki_api_url)
        if self.options.runtime != "process" and any(rates[name] for name in LAMBDA_FAULTS):
            report("  faults            lambda_error and lambda_timeout need the process runtime (--runtime process)")

    def _gateway_url(self) -> str:
        return self._gateway.url if self._gateway is not None else ""

    def _drain(self) -> None:
        # Throttled steps wait out their Retry (about a minute at most) before the runtime can stop.
        self.wait_idle(timeout=120)
        if self.invoker is not None:
            self.invoker.shutdown()
        if self._save_on_stop:
            self._save_state()

    def _save_state(self) -> None:
        assert self.options.state_dir is not None
        saved = save_tables(self.options.state_dir, self.client("dynamodb"), self._table_names())
        self.options.report(f"  state             {saved} items saved to {self.options.state_dir}")

    # --- what tests and tools use -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The gateway's base URL (the site and `/api`)."""
        assert self._gateway is not None, "the local stack is not started"
        return self._gateway.url

    @property
    def outputs(self) -> dict[str, Any]:
        """The program's exported outputs (table names, topic and state machine ARNs...)."""
        assert self.deployment is not None, "the local stack is not deployed"
        return self.deployment.outputs

    def client(self, service: str) -> Any:
        """A boto3 client of the local AWS (one per service, thread-safe to share)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str, config: Any = None) -> Any:
        """A boto3 client of the local AWS; the stack's own requests, which the faults of WIKIROAM_FAULTS spare."""
        import boto3

        return mark_as_harness(
            boto3.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint_url, config=config, **_boto3_credentials(self.endpoint_url)
            )
        )

    def function_name(self, logical_name: str) -> str:
        """The physical name of a function from its logical name, e.g. `wikiroam-cache-start-function`."""
        assert self.deployment is not None
        for function in self.deployment.of_type(_FUNCTION):
            if function.name == logical_name:
                return function.id
        raise KeyError(logical_name)

    def log_group(self, function_logical_name: str) -> str:
        """The log group a function writes to."""
        assert self.deployment is not None
        for function in self.deployment.of_type(_FUNCTION):
            if function.name == function_logical_name:
                return str(function.inputs["loggingConfig"]["logGroup"])
        raise KeyError(function_logical_name)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no asynchronous invocation is queued and no execution runs; False on timeout."""
        deadline = time.monotonic() + timeout
        # Idle twice in a row: one piece of work can hand over to the next between two looks.
        while time.monotonic() < deadline:
            if self.activity.wait_idle(max(0.0, deadline - time.monotonic())):
                time.sleep(0.05)
                if self.activity.wait_idle(0):
                    return True
        return False

    def wait_until_cached(self, pageids: Iterable[int], timeout: float = 60.0) -> dict[int, dict[str, Any]]:
        """Wait until every page is in the pages table with its backlinks complete or partial; return the items."""
        wanted = {int(pageid) for pageid in pageids}
        table = self.outputs["pagesTableName"]
        dynamodb = self.client("dynamodb")
        deadline = time.monotonic() + timeout
        items: dict[int, dict[str, Any]] = {}
        while True:
            for pageid in wanted - set(items):
                item = dynamodb.get_item(TableName=table, Key={"pageid": {"N": str(pageid)}}).get("Item")
                if item and item.get("backlinks_status", {}).get("S") in ("complete", "partial"):
                    items[pageid] = item
            if len(items) == len(wanted):
                return items
            if time.monotonic() > deadline:
                missing = sorted(wanted - set(items))
                states = {p: _page_state(dynamodb, table, p) for p in missing}
                runner = self.runner.describe() if self.runner is not None else "not started"
                raise TimeoutError(
                    f"pages {missing} were not cached within {timeout:.0f} s: {states}; "
                    f"executions: {self._executions_of(missing)}; Lambda runtime: {runner}"
                )
            time.sleep(0.1)

    def _executions_of(self, pageids: Iterable[int]) -> dict[str, str]:
        """Each execution of these pages: its status, with its last event while it runs and its error once failed."""
        sfn = self.client("stepfunctions")
        wanted = tuple(f"{pageid}-" for pageid in pageids)
        found: dict[str, str] = {}
        listed = sfn.list_executions(stateMachineArn=self.outputs["stateMachineArn"], maxResults=1000)["executions"]
        for execution in listed:
            if not execution["name"].startswith(wanted):
                continue
            status = str(execution["status"])
            if status == "RUNNING":
                events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
                status += f" (last event: {events[-1]['type']})" if events else " (no event yet)"
            elif status == "FAILED":
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                status += f" ({described.get('error')}: {str(described.get('cause'))[:300]})"
            found[execution["name"]] = status
        return found

    # --- gateway wiring ------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        assert self.deployment is not None
        apigateway = self.client("apigatewayv2")
        routes: list[Route] = []
        for api in self.deployment.of_type("aws:apigatewayv2/api:Api"):
            items = apigateway.get_integrations(ApiId=api.id)["Items"]
            integrations = {item["IntegrationId"]: item["IntegrationUri"] for item in items}
            timeouts = [item["TimeoutInMillis"] / 1000 for item in items if item.get("TimeoutInMillis")]
            self._integration_timeout = max(timeouts, default=DEFAULT_INTEGRATION_TIMEOUT_SECONDS)
            for route in apigateway.get_routes(ApiId=api.id)["Items"]:
                method, _, path = route["RouteKey"].partition(" ")
                target = route.get("Target", "").removeprefix("integrations/")
                uri = integrations.get(target, "")
                # arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations
                function_arn = uri.split("/functions/", 1)[-1].removesuffix("/invocations")
                routes.append(Route(method=method, path=path, function_arn=function_arn))
        return routes

    def _invoke_route(self, function_arn: str, event: dict[str, Any]) -> Mapping[str, Any]:
        from botocore.exceptions import ReadTimeoutError

        if self._route_invoker is None:
            self._route_invoker = self._integration_client()
        try:
            response = self._route_invoker.invoke(FunctionName=function_arn, Payload=json.dumps(event).encode())
        except ReadTimeoutError:
            raise IntegrationTimeout(
                f"the api function did not answer within {self._integration_timeout:g} s"
            ) from None
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            # API Gateway hides the function's error from the client.
            return {
                "statusCode": 500,
                "headers": {"content-type": "application/json"},
                "body": json.dumps({"message": "Internal Server Error"}),
            }
        return payload if isinstance(payload, Mapping) else {"statusCode": 200, "body": json.dumps(payload)}

    def _integration_client(self) -> Any:
        """API Gateway's side of Invoke: one attempt (it never retries), given up at the integration's timeout,
        with connections for a burst of readers (botocore keeps 10 by default)."""
        from botocore.config import Config

        config = Config(
            read_timeout=self._integration_timeout,
            retries={"total_max_attempts": 1},
            max_pool_connections=GATEWAY_CONNECTIONS,
        )
        return self._new_client("lambda", config)

    def _site(self) -> SiteOrigin | None:
        assert self.deployment is not None
        bucket = self.outputs.get("siteBucketName")
        if not bucket:
            return None
        s3 = self.client("s3")

        def read_object(key: str) -> tuple[bytes, str] | None:
            try:
                found = s3.get_object(Bucket=bucket, Key=key)
            except s3.exceptions.NoSuchKey:
                return None
            return found["Body"].read(), str(found.get("ContentType") or "application/octet-stream")

        policies = self.deployment.of_type("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
        headers = security_headers(policies[0].inputs) if policies else {}
        if self.wiki is not None:
            headers = allow_images_from(headers, self.wiki.base_url)
        return SiteOrigin(read_object=read_object, headers=headers)

    def _start_runtime(self) -> ProcessRuntime | LambdaRunner:
        runner: ProcessRuntime | LambdaRunner
        if self.options.runtime == "process":
            runner = ProcessRuntime(endpoint_url=self.endpoint_url)
            runner.fault_chance = self.faults.should_inject
            self.options.report(
                f"  Lambda runtime    a process per sandbox, {runner.account_concurrency} at most at once"
            )
        else:
            runner = LambdaRunner(endpoint_url=self.endpoint_url)
            self.options.report("  Lambda runtime    in this process, one invocation at a time")
        self._exit.enter_context(runner.install())
        return runner

    def _local_routes(self) -> dict[str, Callable[[str, Mapping[str, str]], tuple[int, Any]]]:
        def resources(rest: str, query: Mapping[str, str]) -> tuple[int, Any]:
            assert self.deployment is not None
            return 200, {
                "stack": self.deployment.stack,
                "resources": [r.summary() for r in self.deployment.resources],
                "outputs": self.deployment.outputs,
            }

        def monitoring(rest: str, query: Mapping[str, str]) -> tuple[int, Any]:
            assert self.deployment is not None
            recorded = [r for r in self.deployment.resources if r.type.startswith("datadog:")]
            return 200, {
                "note": "Datadog resources of the program, recorded and never sent, in Datadog's API formats",
                **monitoring_view([(r.type, _jsonable(r.inputs)) for r in recorded]),
                "resources": [{"type": r.type, "name": r.name, "inputs": _jsonable(r.inputs)} for r in recorded],
            }

        def lambda_runtime(rest: str, query: Mapping[str, str]) -> tuple[int, Any]:
            assert self.runner is not None
            return 200, {
                "runtime": self.options.runtime,
                "functions": self.runner.stats(),
                # Lambda's queues of asynchronous events: a burst waiting for the trigger (the pipeline's
                # backpressure), as the queue-age monitor sees it in AWS.
                "async_queues": self.invoker.queues() if self.invoker is not None else {},
            }

        return {
            "/api/local/resources": resources,
            "/api/local/monitoring": monitoring,
            "/api/local/lambda": lambda_runtime,
            "/api/local/faults": faults_get(self.faults),
            **trace_routes(self.traces),
        }

    def _table_names(self) -> dict[str, str]:
        assert self.deployment is not None
        return {r.name: r.id for r in self.deployment.of_type("aws:dynamodb/table:Table")}


def _readers_first(runner: ProcessRuntime | LambdaRunner, routes: list[Route]) -> list[Route]:
    """The routes; their functions run at normal priority, the others below (`ProcessRuntime.set_foreground`)."""
    if isinstance(runner, ProcessRuntime):
        for route in routes:
            # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
            runner.set_foreground(route.function_arn.split(":function:", 1)[-1].split(":", 1)[0])
    return routes


def _page_state(dynamodb: Any, table: str, pageid: int) -> str:
    item = dynamodb.get_item(TableName=table, Key={"pageid": {"N": str(pageid)}}).get("Item")
    if item is None:
        return "not in the pages table"
    fields = ("backlinks_status", "caching_error", "claimed_by", "backlinks_count")
    return ", ".join(f"{f}={next(iter(item[f].values()))}" for f in fields if f in item)


def save_tables(state_dir: Path, dynamodb: Any, tables: Mapping[str, str]) -> int:
    """Write every item of each table to `<state_dir>/dynamodb/<logical name>.json`; return the item count."""
    folder = state_dir / "dynamodb"
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for logical, physical in tables.items():
        items = [item for page in dynamodb.get_paginator("scan").paginate(TableName=physical) for item in page["Items"]]
        partial = folder / f"{logical}.json.partial"
        partial.write_text(json.dumps([_item_to_json(item) for item in items]))
        partial.replace(folder / f"{logical}.json")
        total += len(items)
    return total


def load_tables(state_dir: Path, dynamodb: Any, tables: Mapping[str, str]) -> int:
    """Put back the items `save_tables` wrote; return the item count."""
    total = 0
    for logical, physical in tables.items():
        source = state_dir / "dynamodb" / f"{logical}.json"
        if not source.is_file():
            continue
        items = [_item_from_json(item) for item in json.loads(source.read_text())]
        for start in range(0, len(items), 25):
            requests = {physical: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
            while requests:
                requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
        total += len(items)
    return total


def _item_to_json(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as DynamoDB JSON: binary values (`B`, `BS`) base64-encoded, as DynamoDB's own exports write them."""
    return {name: _value_to_json(value) for name, value in item.items()}


def _value_to_json(value: Mapping[str, Any]) -> dict[str, Any]:
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {kind: base64.b64encode(inner).decode()}
    if kind == "BS":
        return {kind: [base64.b64encode(v).decode() for v in inner]}
    if kind == "M":
        return {kind: _item_to_json(inner)}
    if kind == "L":
        return {kind: [_value_to_json(v) for v in inner]}
    return dict(value)


def _item_from_json(item: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `_item_to_json`."""
    return {name: _value_from_json(value) for name, value in item.items()}


def _value_from_json(value: Mapping[str, Any]) -> dict[str, Any]:
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {kind: base64.b64decode(inner)}
    if kind == "BS":
        return {kind: [base64.b64decode(v) for v in inner]}
    if kind == "M":
        return {kind: _item_from_json(inner)}
    if kind == "L":
        return {kind: [_value_from_json(v) for v in inner]}
    return dict(value)


SLO_KEYS = ("name", "type", "description", "query", "thresholds", "tags")


def monitoring_view(recorded: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The recorded Datadog resources as the documents Datadog's APIs would receive, by kind."""
    view: dict[str, list[dict[str, Any]]] = {"monitors": [], "dashboards": [], "slos": [], "spans_metrics": []}
    for typ, inputs in recorded:
        args = {_snake(key): value for key, value in inputs.items()}
        if typ == "datadog:index/monitor:Monitor":
            view["monitors"].append(datadog_assets.monitor_document(args))
        elif typ == "datadog:index/dashboardJson:DashboardJson":
            view["dashboards"].append(json.loads(args["dashboard"]))
        elif typ == "datadog:index/serviceLevelObjective:ServiceLevelObjective":
            view["slos"].append({key: args[key] for key in SLO_KEYS})
        elif typ == "datadog:index/spansMetric:SpansMetric":
            args["compute"] = {_snake(k): v for k, v in args["compute"].items()}
            args["group_bies"] = [{_snake(k): v for k, v in g.items()} for g in args.get("group_bies") or []]
            view["spans_metrics"].append(datadog_assets.spans_metric_document(args))
    return view


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _boto3_credentials(endpoint_url: str) -> dict[str, str]:
    env = local_aws_env(endpoint_url)
    return {
        "region_name": env["AWS_DEFAULT_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": env["AWS_SESSION_TOKEN"],
    }


@contextmanager
def _log_level(name: str, level: int) -> Iterator[None]:
    target = logging.getLogger(name)
    saved = target.level
    target.setLevel(level)
    try:
        yield
    finally:
        target.setLevel(saved)


@contextmanager
def _started(wiki: SampleWiki) -> Iterator[SampleWiki]:
    wiki.start()
    try:
        yield wiki
    finally:
        wiki.stop()
