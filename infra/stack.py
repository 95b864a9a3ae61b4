"""The mediaindex stack: S3 -> SQS -> Lambda -> Rekognition -> OpenSearch, one construct per concern.

Optional parts, each a construct of its own switched by context (docs/deploy.md): `long_videos` (the video state
table, infra/parts/video.py), `backfill` (infra/parts/backfill.py) and `api` (infra/parts/api.py). All functions
share one code asset, bundled once.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as notifications
from constructs import Construct

from infra.bundling import PipBundle
from infra.parts.api import SearchApi
from infra.parts.backfill import BackfillFunction
from infra.parts.descriptions import grant_titan
from infra.parts.faces import FaceCollection
from infra.parts.indexer import IndexerFunction
from infra.parts.monitoring import Alarms
from infra.parts.nag import acknowledge
from infra.parts.queues import DeadLetterQueue, IngestQueue, QueueForThisBucket
from infra.parts.search import SearchIndex
from infra.parts.storage import MediaBucket
from infra.parts.video import VideoState, continue_through
from infra.regions import SUPPORTED_REGIONS, check_region
from infra.settings import DeploySettings

# The S3 events that change the index: every way an object is created, a delete, a delete marker (versioned), and
# a restore completed (an archived object, which got a failed document saying so, can be read now).
INDEXED_EVENTS = (
    s3.EventType.OBJECT_CREATED,
    s3.EventType.OBJECT_RESTORE_COMPLETED,
    s3.EventType.OBJECT_REMOVED_DELETE,
    s3.EventType.OBJECT_REMOVED_DELETE_MARKER_CREATED,
)


class MediaIndexStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings, **kwargs) -> None:
        super().__init__(scope, construct_id, description="mediaindex: searchable media (S3, Rekognition, OpenSearch)",
                         **kwargs)
        self.settings = settings
        self._deployable_here()
        self.media = MediaBucket(self, "Storage", settings=settings)
        self.dead_letters = DeadLetterQueue(self, "DeadLetters")
        self.ingest = IngestQueue(self, "Ingest", settings=settings, dead_letters=self.dead_letters.queue) \
            if settings.delivery == "sqs" else None
        self.faces = FaceCollection(self, "Faces", settings=settings)
        self.search = SearchIndex(self, "Search", settings=settings)
        self.code = PipBundle(settings.architecture).code()
        self.indexer = IndexerFunction(
            self, "Indexer", settings=settings, dead_letters=self.dead_letters.queue,
            ingest=self.ingest.queue if self.ingest else None, index_url=self.search.endpoint_url, code=self.code,
        )

        self.media.grant_read(self.indexer.role)
        self.faces.grant_use(self.indexer.role, settings.features)
        self.search.grant_read_write(self.indexer.role)
        if settings.descriptions:
            grant_titan(self.indexer.role, self)

        destination = QueueForThisBucket(self.ingest.queue) if self.ingest \
            else notifications.LambdaDestination(self.indexer.function)
        for event in INDEXED_EVENTS:
            self.media.bucket.add_event_notification(event, destination)

        self.alarms = Alarms(
            self, "Alarms", function=self.indexer.function, dead_letters=self.dead_letters.queue,
            ingest=self.ingest.queue if self.ingest else None, email=settings.alarm_email,
        )
        if self.search.domain is not None:
            self.alarms.watch_domain(self.search.domain, volume_gb=settings.opensearch_volume_gb)
        self._optional_parts()
        self._acknowledge_cdk_helpers()
        self._outputs()

    def _deployable_here(self) -> None:
        """Fail now, naming what is missing, in a region without a service the stack needs (infra/regions.py); and,
        for a template synthesized without a region, make CloudFormation refuse it before creating anything."""
        if not cdk.Token.is_unresolved(self.region):
            check_region(self.region)
        cdk.CfnRule(self, "SupportedRegion", assertions=[cdk.CfnRuleAssertion(
            assert_=cdk.Fn.condition_contains(list(SUPPORTED_REGIONS), cdk.Aws.REGION),
            assert_description="mediaindex needs Amazon Rekognition face collections (AWS::Rekognition::Collection), "
                               f"which exist only in: {', '.join(SUPPORTED_REGIONS)} (infra/regions.py)",
        )])

    def _optional_parts(self) -> None:
        settings = self.settings
        # Both continue through the ingest queue: without it (delivery=direct) they are left out.
        self.video_state = VideoState(self, "VideoState") if settings.long_videos and self.ingest else None
        if self.video_state:
            self.video_state.attach(self.indexer.function, self.indexer.role)
        # a long video, and the re-match of the library after an enrolment (in bounded steps), continue through
        # the ingest queue
        if self.ingest and (self.video_state or "people" in settings.features):
            continue_through(self.indexer.function, self.indexer.role, self.ingest.queue)
        self.backfill = BackfillFunction(
            self, "Backfill", settings=settings, code=self.code, bucket=self.media.bucket, ingest=self.ingest.queue,
            search=self.search,
        ) if settings.backfill and self.ingest else None
        if self.backfill:
            self.alarms.watch_queue(
                "BackfillFailures", self.backfill.failures,
                "A backfill invocation failed: its event (with the continuation_token to resume from) is in the "
                "backfill failure queue.",
            )
        self.api = SearchApi(
            self, "Api", settings=settings, code=self.code, bucket=self.media.bucket, search=self.search,
            collection_arn=self.faces.arn,
        ) if settings.api else None
        if self.api is not None and settings.descriptions:
            grant_titan(self.api.role, self)  # the words of a search are embedded by the API's function

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
        if self.video_state:
            output("VideoStateTable", self.video_state.table.table_name, "Progress of long videos analysed in parts")
        if self.backfill:
            output("BackfillFunctionName", self.backfill.function.function_name,
                   "Invoke with {\"bucket\": ...} to index what the bucket already holds (docs/deploy.md)")
            output("BackfillFailureQueueUrl", self.backfill.failures.queue_url,
                   "Failed backfill invocations, each with the continuation_token to resume from")
        if self.api:
            output("ApiUrl", self.api.url, "Search API (every route needs a Cognito token)")
            output("UserPoolId", self.api.user_pool.user_pool_id, "Cognito user pool of the API's users")
            output("UserPoolClientId", self.api.client.user_pool_client_id, "App client of the web page")
            output("SignInUrl", self.api.sign_in_url, "Cognito hosted sign-in domain")

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
