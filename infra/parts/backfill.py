"""Backfill from inside AWS: a function that lists the media bucket (or reads an S3 Inventory report) and sends one
ingest-queue message per file not yet indexed, throttled to the Rekognition quota, then invokes itself with its
checkpoint until the bucket is done (functions/mediaindex/entrypoints/aws_backfill.py, docs/backfill.md).

    aws lambda invoke --function-name <BackfillFunctionName> --invocation-type Event \
        --cli-binary-format raw-in-base64-out --payload '{"bucket": "<BucketName>"}' /dev/stdout

Only with delivery=sqs: it feeds the ingest queue.

One run per bucket at a time, without reserved concurrency (an account whose Lambda quota is still the new-account
10 cannot reserve any: Lambda keeps 10 unreserved): each invocation takes the bucket's lease for its run in a small
DynamoDB table with one conditional write (functions/mediaindex/adapters/checkpoint/dynamodb_lease.py). An SQS
event source's maximum concurrency would not do: its minimum is 2.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import RUNTIME
from infra.parts import retention
from infra.parts.indexer import ARCHITECTURES
from infra.parts.nag import acknowledge, wildcard_finding
from infra.parts.search import SearchIndex
from infra.settings import DeploySettings

HANDLER = "mediaindex.entrypoints.aws_backfill.handler"
# One invocation lists and enqueues for up to 15 minutes, keeping MEDIAINDEX_BACKFILL_MARGIN_S in hand.
TIMEOUT_SECONDS = 900
MEMORY_MB = 512  # no models, no media: a page of keys, its index lookups and SQS batches
MARGIN_SECONDS = 60
# What DynamoRunLease calls: a conditional put, a consistent get of the holder, a conditional delete.
LEASE_ACTIONS = ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem")


class BackfillFunction(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploySettings, code: lambda_.Code,
        bucket: s3.IBucket, ingest: sqs.IQueue, search: SearchIndex,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self, "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="mediaindex backfill: lists the media bucket, looks documents up, feeds the ingest queue",
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=retention(settings.log_retention_days), removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.log_group.grant_write(self.role)

        # Where an invocation that failed lands, with its event: the event's continuation_token resumes the run.
        self.failures = sqs.Queue(
            self, "Failures",
            retention_period=cdk.Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(
            self.failures, "AwsSolutions-SQS3",
            "This queue is itself the failure destination of the backfill function's asynchronous invocations: "
            "each message is a failed invocation's record, read by a person to resume the run.",
        )

        # the bucket's lease: which run holds it, until when (an expired item is also removed by TTL, later)
        self.lease = dynamodb.Table(
            self, "Lease",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expires_at",
            encryption=dynamodb.TableEncryption.DEFAULT,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.lease, "AwsSolutions-DDB3",
            "No point-in-time recovery: the table holds at most one item per bucket, the lease of the backfill run "
            "in progress, which expires within 25 minutes; a restored copy would only hold a stale lease.",
        )

        self.function = lambda_.Function(
            self, "Function",
            description="mediaindex: backfill the media bucket into the ingest queue (invokes itself to continue)",
            runtime=RUNTIME,
            architecture=ARCHITECTURES[settings.architecture],
            handler=HANDLER,
            code=code,
            memory_size=MEMORY_MB,
            timeout=cdk.Duration.seconds(TIMEOUT_SECONDS),
            role=self.role,
            log_group=self.log_group,
            environment={
                "MEDIAINDEX_QUEUE_URL": ingest.queue_url,
                "MEDIAINDEX_INDEX": search.endpoint_url,
                "MEDIAINDEX_INDEX_NAME": settings.index_name,
                "MEDIAINDEX_OPENSEARCH_AUTH": "sigv4",
                "MEDIAINDEX_FEATURES": ",".join(settings.features),  # the default rate follows the analyses
                "MEDIAINDEX_BACKFILL_MARGIN_S": str(MARGIN_SECONDS),
                # one run per bucket at a time: two over one bucket would send every file twice
                "MEDIAINDEX_BACKFILL_LEASE_TABLE": self.lease.table_name,
                "POWERTOOLS_SERVICE_NAME": "mediaindex-backfill",
                "POWERTOOLS_LOG_LEVEL": settings.log_level.upper(),
            },
        )
        # Not retried: a retry would repeat a whole chain link; the failed event keeps the checkpoint instead.
        self.function.configure_async_invoke(
            retry_attempts=0,
            max_event_age=cdk.Duration.hours(6),
            on_failure=destinations.SqsDestination(self.failures),
        )

        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=list(LEASE_ACTIONS),
                                                              resources=[self.lease.table_arn]))
        # SendMessageBatch is authorised by sqs:SendMessage (grant_send_messages would add GetQueueAttributes too)
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[ingest.queue_arn]))
        search.grant_read(self.role)
        if settings.backfill_inventory_bucket:
            self.grant_inventory(settings.backfill_inventory_bucket)

        # The handler invokes `context.invoked_function_arn`, read at run time. The permission is a policy of its
        # own, created after the function: in the role's default policy (which the function waits for) it would
        # make the function depend on itself.
        iam.Policy(self, "InvokeSelf", roles=[self.role], statements=[iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[self.function.function_arn],
        )])

        acknowledge(
            self.function, "AwsSolutions-L1",
            f"Pinned to Python {RUNTIME.name.removeprefix('python')}: it shares the indexer's code asset, whose "
            "wheels are fetched for exactly this CPython version (pip --python-version).",
        )

    def grant_inventory(self, bucket_name: str) -> None:
        """Read an S3 Inventory destination bucket (manifest.json and its CSV.gz data files)."""
        objects = f"arn:{cdk.Aws.PARTITION}:s3:::{bucket_name}/*"
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
        acknowledge(
            self.role, wildcard_finding(self.role, objects),
            "An S3 Inventory report is a manifest.json and data files under dated keys that S3 chooses in the "
            "inventory destination bucket named by backfill_inventory_bucket; only reads of that bucket's objects.",
        )
