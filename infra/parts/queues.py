"""The queue S3 notifications go to, and the dead-letter queue behind it."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.parts.nag import acknowledge
from infra.settings import DeploySettings

# AWS's advice for an SQS event source: visibility timeout at least six times the function timeout, so a message
# is not delivered again while batches with it are still being retried by the poller.
VISIBILITY_PER_TIMEOUT = 6


class DeadLetterQueue(Construct):
    """Where a message (or an event, on direct delivery) goes when retries are spent, with the reason attached."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self, "Queue",
            retention_period=cdk.Duration.days(14),  # the longest SQS keeps a message: time to look and redrive
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(
            self.queue, "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the ingest queue and of the function's failed events.",
        )


class IngestQueue(Construct):
    """S3 notifications wait here for the function; after `max_receives` deliveries a message is dead-lettered."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploySettings, dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self, "Queue",
            visibility_timeout=cdk.Duration.seconds(settings.timeout_seconds * VISIBILITY_PER_TIMEOUT),
            retention_period=cdk.Duration.days(4),
            # SSE-SQS: S3 can deliver to it (S3 cannot use the AWS-managed aws/sqs KMS key)
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=settings.max_receives),
        )
