"""One search through the whole local stack: gateway -> api Lambda -> SNS -> trigger -> Step Functions -> cache
Lambdas -> DynamoDB, with every Lambda's logs and the state machine's in CloudWatch Logs."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from components import datadog_assets
from functions.store import decode_links
from local.samplewiki.corpus import ROLL_TITLE
from local.stack import LocalStack

# "rivers" finds River (a medium hub), The Burning Rivers, and Earth, the hub with 640 backlinks.
TERM = "rivers"
EARTH = 1952
STEP_ROLES = ("cache-start", "cache-info", "cache-backlinks")
ROLES = ("cache-trigger", *STEP_ROLES)


def search(stack: LocalStack, term: str) -> dict[str, Any]:
    answer = requests.get(f"{stack.url}/api/search", params={"q": term}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def backlinks_from_the_wiki(api_url: str, pageid: int) -> set[int]:
    """The articles the wiki's "What links here" lists for the page, following `continue` (independent of our client).

    That is `list=backlinks&blredirect=1`: the articles linking to the page directly and those linking to a
    redirect to it (nested under the redirect's `redirlinks`), without the redirect pages themselves.
    """
    found: set[int] = set()
    params: dict[str, Any] = {
        "action": "query",
        "list": "backlinks",
        "blpageid": pageid,
        "blredirect": "1",
        "blnamespace": "0",
        "bllimit": "max",
        "format": "json",
        "formatversion": "2",
    }
    while True:
        answer = requests.get(api_url, params=params, timeout=10).json()
        for link in answer["query"]["backlinks"]:
            found |= {e["pageid"] for e in [link, *link.get("redirlinks", [])] if not e.get("redirect")}
        if "continue" not in answer:
            return found
        params.update(answer["continue"])


def cached_backlinks(stack: LocalStack, pageid: int) -> set[int]:
    dynamodb = stack.client("dynamodb")
    paginator = dynamodb.get_paginator("query")
    pages = paginator.paginate(
        TableName=stack.outputs["linksTableName"],
        KeyConditionExpression="toid = :toid",
        ExpressionAttributeValues={":toid": {"N": str(pageid)}},
    )
    # Each item is a chunk of the page's backlinks (functions.store.LinkStore); every link is in exactly one.
    fromids = [
        f for page in pages for item in page["Items"] for f in decode_links(int(item["lo"]["N"]), item["links"]["B"])
    ]
    assert len(fromids) == len(set(fromids))
    return set(fromids)


def executions(stack: LocalStack) -> list[dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=stack.outputs["stateMachineArn"], maxResults=1000)["executions"]


def log_messages(stack: LocalStack, group: str) -> list[str]:
    logs = stack.client("logs")
    paginator = logs.get_paginator("filter_log_events")
    return [event["message"] for page in paginator.paginate(logGroupName=group) for event in page["events"]]


def test_given_the_local_stack_then_health_is_ok_and_the_site_is_served_with_cloudfronts_headers(local_stack):
    health = requests.get(f"{local_stack.url}/api/health", timeout=10)
    site = requests.get(f"{local_stack.url}/", timeout=10)

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert site.status_code == 200
    assert site.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in site.headers["content-security-policy"]
    assert site.headers["x-frame-options"] == "DENY"
    assert requests.get(f"{local_stack.url}/no-such-file.js", timeout=10).status_code == 403


def test_the_local_views_list_every_deployed_resource_and_the_recorded_monitoring(local_stack):
    resources = requests.get(f"{local_stack.url}/api/local/resources", timeout=10).json()
    monitoring = requests.get(f"{local_stack.url}/api/local/monitoring", timeout=10)

    by_type = {}
    for resource in resources["resources"]:
        by_type.setdefault(resource["type"], []).append(resource)
    assert len(by_type["aws:lambda/function:Function"]) >= 5
    assert all(r["emulated"] for r in by_type["aws:lambda/function:Function"])
    [distribution] = by_type["aws:cloudfront/distribution:Distribution"]
    assert not distribution["emulated"]
    assert "gateway" in distribution["note"]
    assert resources["outputs"]["pagesTableName"] == local_stack.outputs["pagesTableName"]
    runtime = requests.get(f"{local_stack.url}/api/local/lambda", timeout=10).json()
    assert runtime["runtime"] == "process"
    api = next(counts for name, counts in runtime["functions"].items() if "api-handler" in name)
    assert api["invocations"] >= 1  # at least this module's searches
    assert api["cold_starts"] >= 1
    assert set(api) == {"invocations", "cold_starts", "errors", "throttles", "timeouts", "warm", "busy"}
    assert monitoring.status_code == 200
    view = monitoring.json()
    assert all(r["type"].startswith("datadog:") for r in view["resources"])
    # The recorded assets, in Datadog's API formats, filled with this local deployment's resources.
    assert len(view["monitors"]) == len(datadog_assets.monitors())
    assert {d["title"] for d in view["dashboards"]} == {"WikiRoam overview (dev)", "WikiRoam cache pipeline (dev)"}
    assert [slo["name"] for slo in view["slos"]] == ["WikiRoam API availability (dev)"]
    assert {m["data"]["id"] for m in view["spans_metrics"]} >= {
        "wikiroam.dev.wiki.requests",
        "wikiroam.dev.pipeline.pages",
    }
    text = json.dumps(view)
    assert "${" not in text
    api_function = next(r["id"] for r in by_type["aws:lambda/function:Function"] if "api" in r["name"])
    assert f"functionname IN ({api_function.lower()}," in text
    assert f"topicname:{local_stack.outputs['cacheTopicArn'].rsplit(':', 1)[-1].lower()}" in text


def test_given_an_unknown_api_route_then_the_gateway_answers_like_an_http_api(local_stack):
    answer = requests.get(f"{local_stack.url}/api/nowhere", timeout=10)

    assert (answer.status_code, answer.json()) == (404, {"message": "Not Found"})


def test_given_a_search_when_the_pipeline_finishes_then_every_result_page_and_all_its_backlinks_are_cached(
    local_stack, wiki
):
    results = search(local_stack, TERM)["results"]
    pageids = [r["pageid"] for r in results]
    assert EARTH in pageids
    assert len(pageids) >= 3

    items = local_stack.wait_until_cached(pageids, timeout=120)
    assert local_stack.wait_idle(60)

    for pageid in pageids:
        expected = backlinks_from_the_wiki(wiki.api_url, pageid)
        assert cached_backlinks(local_stack, pageid) == expected, f"backlinks of {pageid}"
        assert items[pageid]["backlinks_status"]["S"] == "complete"
        assert int(items[pageid]["backlinks_count"]["N"]) == len(expected)
    assert len(backlinks_from_the_wiki(wiki.api_url, EARTH)) >= 600
    page = requests.get(f"{local_stack.url}/api/pages/{EARTH}", timeout=10).json()
    assert (page["backlinks_status"], page["backlinks_count"]) == (
        "complete",
        len(cached_backlinks(local_stack, EARTH)),
    )


def test_given_a_page_reached_through_redirects_then_its_cached_backlinks_are_what_links_here(local_stack, wiki):
    # Given "Rock & roll": linked directly, through two redirects, and by a page linking to a double redirect
    roll = wiki.corpus.by_title(ROLL_TITLE)
    assert [r.title for r in wiki.corpus.redirects_to(roll.pageid)] == ["Rock and roll", "Rock 'n' roll"]

    # When a reader opens it, and the pipeline caches it
    first = requests.get(f"{local_stack.url}/api/pages/{roll.pageid}", timeout=30).json()
    items = local_stack.wait_until_cached([roll.pageid], timeout=120)
    assert local_stack.wait_idle(60)

    # Then the cache holds the wiki's own "What links here" articles: the ones through redirects, not the
    # redirect pages (opening one would only roam back here), and the count is what the API serves.
    expected = backlinks_from_the_wiki(wiki.api_url, roll.pageid)
    assert first["backlinks_status"] in ("pending", "complete")
    assert cached_backlinks(local_stack, roll.pageid) == expected
    titles = {wiki.corpus.by_id(i).title for i in expected}
    assert {"Blues", "Skiffle", "AC/DC"} <= titles
    assert not titles & {"Rock and roll", "Rock 'n' roll", "Rock-and-roll", "Rockabilly"}
    served = requests.get(f"{local_stack.url}/api/pages/{roll.pageid}/backlinks", params={"limit": 200}, timeout=10)
    listed = [link["pageid"] for link in served.json()["backlinks"]]
    assert int(items[roll.pageid]["backlinks_count"]["N"]) == len(listed) == len(expected)


def test_given_a_finished_search_then_each_execution_history_shows_every_state(local_stack, wiki):
    pageids = {r["pageid"] for r in search(local_stack, TERM)["results"]}
    local_stack.wait_until_cached(pageids, timeout=120)
    assert local_stack.wait_idle(60)
    sfn = local_stack.client("stepfunctions")

    runs = [e for e in executions(local_stack) if int(e["name"].split("-", 1)[0]) in pageids]

    assert {int(e["name"].split("-", 1)[0]) for e in runs} == pageids
    for run in runs:
        assert run["status"] == "SUCCEEDED"
        history = sfn.get_execution_history(executionArn=run["executionArn"])["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
        assert entered == ["CacheStart", "Claimed?", "CacheInfo", "Found?", "CacheBacklinks", "Cached"]


def test_given_the_pipeline_ran_then_function_and_state_machine_log_groups_hold_its_logs(local_stack, wiki):
    pageids = {r["pageid"] for r in search(local_stack, TERM)["results"]}
    local_stack.wait_until_cached(pageids, timeout=120)
    assert local_stack.wait_idle(60)

    for function in ("api-handler", "cache-trigger", "cache-start", "cache-info", "cache-backlinks"):
        logical = f"wikiroam-{function}-function"
        messages = log_messages(local_stack, local_stack.log_group(logical))
        assert any(m.startswith("START RequestId: ") for m in messages), function
        assert any(m.startswith("REPORT RequestId: ") for m in messages), function
    machine = local_stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=local_stack.outputs["stateMachineArn"]
    )
    group_arn = machine["loggingConfiguration"]["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"]
    assert machine["loggingConfiguration"]["level"] == "ERROR"
    records = [json.loads(m) for m in log_messages(local_stack, group_arn.split(":")[6])]
    # Level ERROR: a search whose steps succeed logs at most their throttled attempts (the steps write the spans).
    assert {r["type"] for r in records} <= {"TaskFailed"}


def test_given_a_cached_search_when_searching_again_then_no_new_caching_work_starts(local_stack, wiki):
    pageids = [r["pageid"] for r in search(local_stack, TERM)["results"]]
    local_stack.wait_until_cached(pageids, timeout=120)
    assert local_stack.wait_idle(60)
    before = len(executions(local_stack))
    wiki.reset_log()

    again = search(local_stack, TERM)
    assert local_stack.wait_idle(30)

    assert all(result["cached"] for result in again["results"])
    assert len(executions(local_stack)) == before
    assert wiki.count(list="backlinks") == 0


def test_given_the_wiki_failing_a_step_then_it_is_retried_then_caught_by_name_and_the_api_says_failed(
    local_stack, wiki, quick_state_machine_retries
):
    page = wiki.corpus.by_title("Zürich")
    # Every backlinks request for this page is rate limited; Retry-After 0 keeps the client's own retries quick.
    wiki.faults.arm("429", count=None, retry_after=0, match=f"list=backlinks&blpageid={page.pageid}")

    first = requests.get(f"{local_stack.url}/api/pages/{page.pageid}", timeout=30).json()
    assert first["backlinks_status"] == "pending"
    assert local_stack.wait_idle(60)

    [run] = [e for e in executions(local_stack) if e["name"].startswith(f"{page.pageid}-")]
    described = local_stack.client("stepfunctions").describe_execution(executionArn=run["executionArn"])
    assert (described["status"], described["error"]) == ("FAILED", "WikiRateLimited")
    history = local_stack.client("stepfunctions").get_execution_history(executionArn=run["executionArn"])["events"]
    failures = [e for e in history if e["type"] == "TaskFailed"]
    assert len(failures) == 4  # the first attempt and three retries, all of the backlinks state
    assert {e["taskFailedEventDetails"]["error"] for e in failures} == {"WikiRateLimited"}
    assert [e["stateEnteredEventDetails"]["name"] for e in history if e["type"] == "FailStateEntered"] == [
        "CachingFailed"
    ]

    wiki.faults.clear()
    failed = requests.get(f"{local_stack.url}/api/pages/{page.pageid}", timeout=30).json()
    assert (failed["backlinks_status"], failed["caching_error"]) == ("failed", "WikiRateLimited")

    # Reading the failed page asked for it again: with the wiki healthy, the next execution finishes it.
    local_stack.wait_until_cached([page.pageid], timeout=60)
    assert cached_backlinks(local_stack, page.pageid) == backlinks_from_the_wiki(wiki.api_url, page.pageid)


def test_given_a_burst_of_searches_then_they_queue_for_the_trigger_and_no_cache_step_is_throttled(local_stack, wiki):
    # The dev config reserves 2 per cache step, so 1 for the trigger, which runs 2 executions at a time: a burst
    # of searches waits in the trigger's queue of asynchronous events, never in the steps' throttle Retry.
    names = {role: local_stack.function_name(f"wikiroam-{role}-function") for role in ROLES}

    def counts() -> dict[str, dict[str, int]]:
        functions = requests.get(f"{local_stack.url}/api/local/lambda", timeout=10).json()["functions"]
        return {role: functions.get(name, {"throttles": 0}) for role, name in names.items()}

    terms = [p.title for p in wiki.corpus.pages if not p.is_redirect][40:52]
    before = counts()
    with ThreadPoolExecutor(len(terms)) as pool:
        answers = list(pool.map(lambda term: search(local_stack, term), terms))
    pageids = sorted({r["pageid"] for answer in answers for r in answer["results"]})

    local_stack.wait_until_cached(pageids, timeout=300)
    assert local_stack.wait_idle(60)
    after = counts()

    throttled = {role: after[role]["throttles"] - before[role]["throttles"] for role in ROLES}
    assert throttled["cache-trigger"] > 0, "the burst never queued: nothing tested"
    assert {role: throttled[role] for role in STEP_ROLES} == dict.fromkeys(STEP_ROLES, 0)
    assert len(pageids) > len(terms)  # more pages than the trigger's two lanes and one instance take at once
