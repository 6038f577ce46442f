"""The local AWS: moto's server on loopback, and the tables and topic the functions use."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from functions.store import FROMID_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REGION = "us-east-1"
# moto accepts any credentials; fixed ones keep boto3 from looking for real ones.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def local_aws_env(endpoint_url: str | None) -> dict[str, str]:
    """The environment that points boto3 at the local AWS and nowhere else."""
    env = {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


@contextmanager
def moto_server(port: int = 0) -> Iterator[str]:
    """Run moto's ThreadedMotoServer on 127.0.0.1 and yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    # moto's werkzeug server logs every request; the local stack's own lines say what matters.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        host, bound_port = server.get_host_and_port()
        yield f"http://{host}:{bound_port}"
    finally:
        server.stop()


def pages_table_spec(name: str) -> dict[str, Any]:
    """The pages table: one item per page, keyed by pageid."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pageid", "AttributeType": "N"}],
        "KeySchema": [{"AttributeName": "pageid", "KeyType": "HASH"}],
    }


def links_table_spec(name: str) -> dict[str, Any]:
    """The links table: toid + fromid, with a GSI on fromid for "what does this page link to"."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "toid", "AttributeType": "N"},
            {"AttributeName": "fromid", "AttributeType": "N"},
        ],
        "KeySchema": [
            {"AttributeName": "toid", "KeyType": "HASH"},
            {"AttributeName": "fromid", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": FROMID_INDEX,
                "KeySchema": [
                    {"AttributeName": "fromid", "KeyType": "HASH"},
                    {"AttributeName": "toid", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def create_tables(dynamodb: DynamoDBClient, pages: str, links: str) -> None:
    """Create both tables."""
    dynamodb.create_table(**pages_table_spec(pages))
    dynamodb.create_table(**links_table_spec(links))
