"""One backfill run per bucket at a time, on AWS: a lease in a DynamoDB table (the stack's backfill lease table).

A run is a chain of invocations (each invokes the next with its checkpoint). Every link takes the lease for its
run with one conditional write, which succeeds only when nobody holds the bucket, the run already holds it, or the
holder's lease has expired. So two runs over one bucket never send its files side by side, without any reserved
Lambda concurrency (which an account whose quota is still 10 cannot reserve). The lease lasts the invocation plus
a slack for the next link to start; a run that dies keeps it until then, and resuming that run (its event carries
the run id) takes it back at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LeaseHolder:
    run_id: str
    expires_at: int  # epoch seconds


class DynamoRunLease:
    """Items `pk` = `backfill:<bucket>`, `run_id`, `expires_at` (also the table's TTL attribute, which removes an
    expired lease some time later: the condition compares the time itself, never trusting TTL to have run)."""

    def __init__(self, table: str, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.table, self.client = table, client

    @staticmethod
    def key(bucket: str) -> dict[str, Any]:
        return {"pk": {"S": f"backfill:{bucket}"}}

    def acquire(self, bucket: str, run_id: str, now: float, seconds: float) -> LeaseHolder | None:
        """Hold `bucket` for `run_id` until now + seconds; None when done, else who holds it and until when."""
        expires_at = int(now + seconds)
        holder = LeaseHolder("(released meanwhile)", int(now))
        for _ in range(2):  # a second try only when the holder let go between our write and our read
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item={**self.key(bucket), "run_id": {"S": run_id}, "expires_at": {"N": str(expires_at)}},
                    ConditionExpression="attribute_not_exists(pk) OR run_id = :run OR expires_at < :now",
                    ExpressionAttributeValues={":run": {"S": run_id}, ":now": {"N": str(int(now))}},
                )
                return None
            except self.client.exceptions.ConditionalCheckFailedException:
                item = self.client.get_item(TableName=self.table, Key=self.key(bucket), ConsistentRead=True).get("Item")
                if item:
                    return LeaseHolder(item["run_id"]["S"], int(item["expires_at"]["N"]))
        return holder

    def release(self, bucket: str, run_id: str) -> None:
        """Let go of `bucket` if `run_id` still holds it (a later run that took an expired lease keeps it)."""
        try:
            self.client.delete_item(
                TableName=self.table, Key=self.key(bucket), ConditionExpression="run_id = :run",
                ExpressionAttributeValues={":run": {"S": run_id}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            pass
