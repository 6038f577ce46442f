"""Public on-demand prices P6 multiplies its measured usage by: one dated table, us-east-1, arm64.

List prices from each service's pricing page, first tier, without free tiers or savings plans (the cost of
one more search, not of the first million). Check the pages before relying on a figure: prices change.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2026-12-02"
REGION = "us-east-1"
ARCHITECTURE = "arm64"


@dataclass(frozen=True)
class Price:
    """`usd` for every `per` units of `unit`."""

    usd: float
    per: float
    unit: str
    source: str

    def cost(self, quantity: float) -> float:
        """The price of `quantity` units, in USD."""
        return self.usd * quantity / self.per


LAMBDA = "https://aws.amazon.com/lambda/pricing/"
STEP_FUNCTIONS = "https://aws.amazon.com/step-functions/pricing/"
DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
PRICES = {
    "lambda_requests": Price(0.20, 1e6, "Lambda requests", LAMBDA),
    "lambda_gb_seconds": Price(0.0000133334, 1, "Lambda GB-seconds (arm64, first 7.5 billion a month)", LAMBDA),
    "http_api_requests": Price(
        1.00, 1e6, "HTTP API requests (first 300 million)", "https://aws.amazon.com/api-gateway/pricing/"
    ),
    "sns_publishes": Price(
        0.50, 1e6, "SNS publishes (deliveries to Lambda are free)", "https://aws.amazon.com/sns/pricing/"
    ),
    "express_requests": Price(1.00, 1e6, "Express workflow requests", STEP_FUNCTIONS),
    # $0.06 per GB-hour for the first 1,000 GB-hours; duration rounded up to 100 ms, memory billed in 64 MB chunks.
    "express_gb_seconds": Price(0.06 / 3600, 1, "Express workflow GB-seconds (first 1,000 GB-hours)", STEP_FUNCTIONS),
    "standard_transitions": Price(0.025, 1000, "Standard workflow state transitions", STEP_FUNCTIONS),
    "dynamodb_write_units": Price(0.625, 1e6, "DynamoDB on-demand write request units", DYNAMODB),
    "dynamodb_read_units": Price(0.125, 1e6, "DynamoDB on-demand read request units", DYNAMODB),
    # Lambda logs are Standard-class ingestion; Step Functions' are vended logs, whose first tier is the same price.
    "logs_ingested_gb": Price(0.50, 1, "CloudWatch Logs GB ingested", "https://aws.amazon.com/cloudwatch/pricing/"),
}
