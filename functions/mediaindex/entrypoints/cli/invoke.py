"""`mediaindex invoke EVENT.json`: run the Lambda handler on an event file, here, with backends from the
environment (MEDIAINDEX_INDEX, MEDIAINDEX_ANALYZER, MEDIAINDEX_COLLECTION, ...; S3 through boto3's usual settings,
AWS_ENDPOINT_URL_S3 included)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from mediaindex.domain.errors import ConfigurationError


@dataclass
class LocalContext:
    """Enough of Lambda's context object for Powertools and the batch processor."""

    function_name: str = "mediaindex-local"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:mediaindex-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/mediaindex-local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "invoke",
        help="run the Lambda handler on an event file (S3 notification or SQS batch)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  MEDIAINDEX_INDEX=sqlite:///demo.db mediaindex invoke events/put.json",
    )
    p.add_argument("event", type=Path, help="a JSON file: an S3 event notification, or an SQS batch of them")
    p.add_argument("--handler", choices=("auto", "sqs", "s3"), default="auto",
                   help="which handler to run (default: sqs for an SQS batch, s3 otherwise)")
    p.add_argument("--json", action="store_true", help="accepted for symmetry: the result is always JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        event = json.loads(args.event.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{args.event}: no such file") from None
    except ValueError as e:
        raise ConfigurationError(f"{args.event} is not JSON: {e}") from None
    handler_name = args.handler
    if handler_name == "auto":
        records = event.get("Records") if isinstance(event, dict) else None
        first = records[0] if isinstance(records, list) and records else None
        handler_name = "sqs" if isinstance(first, dict) and first.get("eventSource") == "aws:sqs" else "s3"
    # The handler's logs and metrics go to stderr so that stdout is only the result. Powertools binds its log
    # stream when the module is first imported, so the import happens inside the redirection.
    with contextlib.redirect_stdout(sys.stderr):
        from mediaindex.entrypoints import aws_lambda

        handler = aws_lambda.sqs_handler if handler_name == "sqs" else aws_lambda.s3_handler
        try:
            result = handler(event, LocalContext())
            status = 0
        except aws_lambda.RecordsFailed as e:
            result, status = {"failed": json.loads(str(e))}, 1
        except aws_lambda.MalformedEvent as e:  # no dead-letter queue to send it to: Lambda would retry it
            result, status = {"malformed": str(e)}, 1
    if handler_name == "sqs" and result.get("batchItemFailures"):
        status = 1
    json.dump(result, sys.stdout, ensure_ascii=False, separators=(", ", ": "))  # one line
    sys.stdout.write("\n")
    return status
