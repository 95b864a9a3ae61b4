"""The VideoStateStore port on a DynamoDB table (the stack's video state table)."""

from __future__ import annotations

import json
import time
import zlib
from typing import Any



class DynamoVideoStateStore:
    """One item per video in progress: `pk` (string), `state` (zlib-compressed JSON, a few KB) and `expires_at`
    (the table's TTL attribute, so an abandoned video's state disappears)."""

    def __init__(self, table: str, client: Any = None, ttl_seconds: int = 2 * 24 * 3600) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.table, self.client, self.ttl_seconds = table, client, ttl_seconds

    def get(self, key: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        if not item:
            return None
        return json.loads(zlib.decompress(item["state"]["B"]))

    def put(self, key: str, state: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table, Item={
            "pk": {"S": key},
            "state": {"B": zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 6)},
            "expires_at": {"N": str(int(time.time()) + self.ttl_seconds)},
        })

    def delete(self, key: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": {"S": key}})
