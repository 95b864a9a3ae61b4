"""The queue S3 notifications go to, and the dead-letter queue behind it."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.parts.nag import acknowledge
from infra.settings import DeploySettings

# AWS's advice for an SQS event source: visibility timeout at least six times the function timeout, so a message
# is not delivered again while batches with it are still being retried by the poller.
VISIBILITY_PER_TIMEOUT = 6
INGEST_RETENTION_DAYS = 14


@jsii.implements(s3.IBucketNotificationDestination)
class QueueForThisBucket:
    """S3 notifications to an SQS queue, as CDK's SqsDestination but with the queue policy AWS recommends: S3 may
    send only for this bucket (aws:SourceArn) of this account (aws:SourceAccount, since a bucket ARN names no
    account), and only SendMessage."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(self, scope: Construct, bucket: s3.IBucket) -> s3.BucketNotificationDestinationConfig:
        self.queue.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("s3.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[self.queue.queue_arn],
            conditions={"ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                        "StringEquals": {"aws:SourceAccount": cdk.Stack.of(bucket).account}},
        ))
        # the notification is installed after the queue and its policy: S3 checks it may send when it is set
        return s3.BucketNotificationDestinationConfig(
            arn=self.queue.queue_arn, type=s3.BucketNotificationDestinationType.QUEUE, dependencies=[self.queue],
        )


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
            # the longest SQS keeps a message: a backlog that waits (a long outage, a big backfill) is indexed or
            # dead-lettered, not dropped after the default 4 days
            retention_period=cdk.Duration.days(INGEST_RETENTION_DAYS),
            # SSE-SQS: S3 can deliver to it (S3 cannot use the AWS-managed aws/sqs KMS key)
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=settings.max_receives),
        )
