"""The indexing function: S3 notifications in (through the ingest queue, or directly), documents out.

Handlers (functions/mediaindex/entrypoints/aws_lambda.py):
- `sqs_handler` (delivery=sqs, the default): batches from the ingest queue, partial-failure reporting, at most
  `max_concurrency` instances at once;
- `s3_handler` (delivery=direct): asynchronous invocations by S3, retried twice by Lambda, then sent to the
  dead-letter queue with the error.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import RUNTIME, PipBundle
from infra.parts import retention
from infra.parts.nag import acknowledge
from infra.settings import DeploySettings

SQS_HANDLER = "mediaindex.entrypoints.aws_lambda.sqs_handler"
S3_HANDLER = "mediaindex.entrypoints.aws_lambda.s3_handler"
ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}


class IndexerFunction(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploySettings, dead_letters: sqs.IQueue,
        ingest: sqs.IQueue | None, index_url: str, code: lambda_.Code | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        # A role of our own, so no AWS-managed policy is attached: each permission is granted to this one resource.
        self.role = iam.Role(
            self, "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="mediaindex indexer: reads the media bucket, calls Rekognition, writes the search index",
        )
        self.log_group = logs.LogGroup(
            self, "Logs",
            retention=retention(settings.log_retention_days),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.log_group.grant_write(self.role)

        direct = settings.delivery == "direct"
        self.function = lambda_.Function(
            self, "Function",
            description="mediaindex: index media from S3 notifications (Rekognition -> OpenSearch)",
            runtime=RUNTIME,
            architecture=ARCHITECTURES[settings.architecture],
            handler=S3_HANDLER if direct else SQS_HANDLER,
            # one asset for every function of the stack (stack.py builds it once): bundled once per synth
            code=code or PipBundle(settings.architecture).code(),
            memory_size=settings.memory_mb,
            # a large video from S3 goes to a temporary file in /tmp, not into memory: room for the largest one
            ephemeral_storage_size=cdk.Size.mebibytes(settings.tmp_mb),
            timeout=cdk.Duration.seconds(settings.timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment=settings.handler_environment(index_url=index_url, dlq_url=dead_letters.queue_url),
        )
        dead_letters.grant_send_messages(self.role)  # the handler dead-letters a spent message with its reason

        if direct:
            self.function.configure_async_invoke(
                retry_attempts=2,
                max_event_age=cdk.Duration.hours(6),
                on_failure=destinations.SqsDestination(dead_letters),
            )
        else:
            assert ingest is not None
            self.function.add_event_source(sources.SqsEventSource(
                ingest,
                batch_size=settings.batch_size,
                report_batch_item_failures=True,
                max_concurrency=settings.effective_max_concurrency,
            ))

        acknowledge(
            self.function, "AwsSolutions-L1",
            f"Pinned to Python {RUNTIME.name.removeprefix('python')}: the bundled wheels (Pillow, pillow-heif, PyAV) "
            "are fetched for exactly this CPython version (pip --python-version), and must match the runtime.",
        )
        acknowledge(
            self.role, "AwsSolutions-IAM5[Resource::*]",
            "Two kinds of actions that have no resource to scope to: Rekognition DetectLabels, DetectFaces, "
            "DetectText and DetectModerationLabels analyse an image passed in the request and do not support "
            "resource-level permissions; X-Ray PutTraceSegments and PutTelemetryRecords do not either. The face "
            "collection actions are scoped to the collection's ARN.",
        )
