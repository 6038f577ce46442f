"""The pages and backlinks DynamoDB tables."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class TablesArgs:
    """`deletion_protection` makes DynamoDB refuse to delete the tables (set it for production)."""

    deletion_protection: bool


class Tables(pulumi.ComponentResource):
    """pages (by `pageid`) and backlinks (by `toid`, `lo`: each page's backlinks packed in chunks, `LinkStore`).

    On-demand capacity, point-in-time recovery and encryption at rest. Both are retained on delete: removing
    them from the program (or `pulumi destroy`) leaves the cached data in the account. The backlinks table
    replaced the links table (one item per link, with a GSI on `fromid`), which is retained the same way: the
    README says what an operator does with it on upgrade. A page is keyed by its wiki page id alone; serving
    several wikis would key by wiki and page id (a new table again, or a `wiki#pageid` string key), which no
    item here assumes against.
    """

    pages: aws.dynamodb.Table
    links: aws.dynamodb.Table

    def __init__(self, name: str, args: TablesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wikiroam:components:Tables", name, None, opts)
        self.pages = self._create_pages(name, args)
        self.links = self._create_links(name, args)
        self.register_outputs(
            {
                "pages_table_name": self.pages.name,
                "pages_table_arn": self.pages.arn,
                "links_table_name": self.links.name,
                "links_table_arn": self.links.arn,
            }
        )

    def _options(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, retain_on_delete=True)

    def _create_pages(self, name: str, args: TablesArgs) -> aws.dynamodb.Table:
        return aws.dynamodb.Table(
            f"{name}-pages",
            billing_mode="PAY_PER_REQUEST",
            hash_key="pageid",
            attributes=[aws.dynamodb.TableAttributeArgs(name="pageid", type="N")],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            opts=self._options(),
        )

    def _create_links(self, name: str, args: TablesArgs) -> aws.dynamodb.Table:
        # A new table, not the old links table changed: its key differs, and DynamoDB cannot change a key.
        return aws.dynamodb.Table(
            f"{name}-backlinks",
            billing_mode="PAY_PER_REQUEST",
            hash_key="toid",
            range_key="lo",
            attributes=[
                aws.dynamodb.TableAttributeArgs(name="toid", type="N"),
                aws.dynamodb.TableAttributeArgs(name="lo", type="N"),
            ],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            opts=self._options(),
        )
