"""The mediaindex stack: S3 -> SQS -> Lambda -> Rekognition -> OpenSearch, one construct per concern.

Later concerns (a video-processing state machine, a backfill runner, a search API) belong beside these as
constructs of their own, taking what they need from the attributes below (`media.grant_read`,
`search.grant_read_write`, `faces.grant_use`, `dead_letters.queue`).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as notifications
from constructs import Construct

from infra.parts.faces import FaceCollection
from infra.parts.indexer import IndexerFunction
from infra.parts.monitoring import Alarms
from infra.parts.nag import acknowledge
from infra.parts.queues import DeadLetterQueue, IngestQueue
from infra.parts.search import SearchIndex
from infra.parts.storage import MediaBucket
from infra.settings import DeploySettings

# The S3 events that change the index: every way an object is created, a delete, and a delete marker (versioned).
INDEXED_EVENTS = (
    s3.EventType.OBJECT_CREATED,
    s3.EventType.OBJECT_REMOVED_DELETE,
    s3.EventType.OBJECT_REMOVED_DELETE_MARKER_CREATED,
)


class MediaIndexStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings, **kwargs) -> None:
        super().__init__(scope, construct_id, description="mediaindex: searchable media (S3, Rekognition, OpenSearch)",
                         **kwargs)
        self.settings = settings
        self.media = MediaBucket(self, "Storage", settings=settings)
        self.dead_letters = DeadLetterQueue(self, "DeadLetters")
        self.ingest = IngestQueue(self, "Ingest", settings=settings, dead_letters=self.dead_letters.queue) \
            if settings.delivery == "sqs" else None
        self.faces = FaceCollection(self, "Faces", settings=settings)
        self.search = SearchIndex(self, "Search", settings=settings)
        self.indexer = IndexerFunction(
            self, "Indexer", settings=settings, dead_letters=self.dead_letters.queue,
            ingest=self.ingest.queue if self.ingest else None, index_url=self.search.endpoint_url,
        )

        self.media.grant_read(self.indexer.role)
        self.faces.grant_use(self.indexer.role, settings.features)
        self.search.grant_read_write(self.indexer.role)

        destination = notifications.SqsDestination(self.ingest.queue) if self.ingest \
            else notifications.LambdaDestination(self.indexer.function)
        for event in INDEXED_EVENTS:
            self.media.bucket.add_event_notification(event, destination)

        self.alarms = Alarms(
            self, "Alarms", function=self.indexer.function, dead_letters=self.dead_letters.queue,
            ingest=self.ingest.queue if self.ingest else None, email=settings.alarm_email,
        )
        self._acknowledge_cdk_helpers()
        self._outputs()

    def _outputs(self) -> None:
        def output(name: str, value: str, description: str) -> None:
            cdk.CfnOutput(self, name, value=value, description=description)

        output("BucketName", self.media.bucket.bucket_name, "Upload media here; people/<name>/... enrols a person")
        output("IndexEndpoint", self.search.endpoint_url, "OpenSearch endpoint (SigV4)")
        output("IndexName", self.settings.index_name, "The index alias the documents are in")
        output("CollectionId", self.faces.collection_id, "Rekognition face collection of known people")
        if self.ingest:
            output("QueueUrl", self.ingest.queue.queue_url, "Queue of S3 notifications waiting to be indexed")
        output("DeadLetterQueueUrl", self.dead_letters.queue.queue_url, "Notifications that could not be indexed")
        output("FunctionName", self.indexer.function.function_name, "The indexer function")

    def _acknowledge_cdk_helpers(self) -> None:
        """Lambda functions CDK itself adds to install bucket notifications and empty buckets on destroy."""
        reasons = {
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]":
                "CDK's own helper functions (bucket notification installer, bucket emptier on destroy) log with "
                "the basic execution role; they run only during deployments.",
            "AwsSolutions-IAM5[Resource::*]":
                "CDK's bucket-notification installer calls s3:PutBucketNotification while CloudFormation creates "
                "the bucket; its policy is CDK's, written for any bucket of the stack.",
            "AwsSolutions-L1":
                "The runtime of CDK's own helper functions is chosen by the CDK version, not by this project.",
        }
        for child in self.node.children:
            if child.node.id.startswith(("BucketNotificationsHandler", "Custom::S3AutoDeleteObjects")):
                for rule, reason in reasons.items():
                    acknowledge(child, rule, reason)
