"""The local AWS: moto's server on loopback, the environment that points boto3 at it, and table specs for tests.

The specs serve in-process `mock_aws` tests; `tests/infra/test_local_deployer.py` keeps them equal to the
program's tables.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The local AWS account moto answers for.
ACCOUNT = "123456789012"
REGION = "us-east-1"
# moto accepts any credentials; fixed ones keep boto3 from looking for real ones.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def local_aws_env(endpoint_url: str | None) -> dict[str, str]:
    """The environment that points boto3 at the local AWS and nowhere else."""
    env = {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL"] = endpoint_url
        # Some operations (Step Functions' StartSyncExecution) go to a host prefixed `sync-` in AWS: botocore
        # would send them to sync-127.0.0.1. The local endpoint serves every operation itself.
        env["AWS_DISABLE_HOST_PREFIX_INJECTION"] = "true"
    return env


@contextmanager
def patched_environ(values: Mapping[str, str], remove: Iterable[str] = ()) -> Iterator[None]:
    """Set `values` and remove `remove` in os.environ, then put back exactly those keys as they were.

    Only these keys are touched: other threads of the process may write theirs meanwhile.
    """
    removed = [key for key in remove if key not in values]
    saved = {key: os.environ.get(key) for key in [*values, *removed]}
    for key in removed:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def moto_server(port: int = 0) -> Iterator[str]:
    """moto's ThreadedMotoServer on 127.0.0.1, executing state machines; yields its endpoint URL.

    moto's backends are process-wide: on exit every resource is forgotten, so the next server starts empty.
    """
    import requests
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    # moto's werkzeug server logs every request; the local stack's own lines say what matters.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    endpoint = f"http://{host}:{bound_port}"
    saved_port = os.environ.get("MOTO_PORT")
    saved_config = {"stepfunctions": dict(default_user_config.get("stepfunctions", {}))}
    # moto's Step Functions calls Lambda through its own server, at MOTO_PORT.
    os.environ["MOTO_PORT"] = str(bound_port)
    try:
        answer = requests.post(
            f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10
        )
        answer.raise_for_status()
        yield endpoint
    finally:
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        # The config is process-wide too: in-process `mock_aws` users (tests) get back what they had.
        requests.post(f"{endpoint}/moto-api/config", json=saved_config, timeout=10)
        server.stop()
        if saved_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = saved_port


def pages_table_spec(name: str) -> dict[str, Any]:
    """The pages table: one item per page, keyed by pageid."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pageid", "AttributeType": "N"}],
        "KeySchema": [{"AttributeName": "pageid", "KeyType": "HASH"}],
    }


def links_table_spec(name: str) -> dict[str, Any]:
    """The backlinks table: each page's backlinks in chunks, keyed by toid + lo (`functions.store.LinkStore`)."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "toid", "AttributeType": "N"},
            {"AttributeName": "lo", "AttributeType": "N"},
        ],
        "KeySchema": [
            {"AttributeName": "toid", "KeyType": "HASH"},
            {"AttributeName": "lo", "KeyType": "RANGE"},
        ],
    }


def create_tables(dynamodb: DynamoDBClient, pages: str, links: str) -> None:
    """Create both tables."""
    dynamodb.create_table(**pages_table_spec(pages))
    dynamodb.create_table(**links_table_spec(links))
