"""Long videos: a small DynamoDB table holding the partial timeline of a video analysed over several invocations.

The library side is functions/mediaindex/services/video.py (docs/video.md, "Long videos on AWS"): with
MEDIAINDEX_VIDEO_STATE_TABLE set and a clock given by the handler, the indexer analyses a video window by window;
when its invocation's time runs short it saves the timeline under `pk` (`video:<sha256>:<analyzer>:...`, a few KB
of zlib-compressed JSON, `expires_at` two days on) and raises VideoContinued; the handler then sends the same S3
record back to the ingest queue (MEDIAINDEX_QUEUE_URL), and the next invocation resumes from the state.

Only with delivery=sqs: the continuation goes through the ingest queue (`continue_through`, which the re-match of
known people after an enrolment uses as well).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.parts.nag import acknowledge

# What DynamoVideoStateStore calls (get_item with ConsistentRead, put_item, delete_item), nothing else.
STATE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
TTL_ATTRIBUTE = "expires_at"
PARTITION_KEY = "pk"


class VideoState(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self, "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,  # a few writes per long video: nothing to provision
            time_to_live_attribute=TTL_ATTRIBUTE,  # an abandoned video's state goes by itself
            # encrypted at rest with a key DynamoDB owns: no KMS request charges for a table of progress notes
            encryption=dynamodb.TableEncryption.DEFAULT,
            # progress of videos being analysed; deleting it only means a video in progress is analysed again
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.table, "AwsSolutions-DDB3",
            "No point-in-time recovery: each item is the partial timeline of a video being analysed right now, "
            "expires within two days, and is rebuilt by analysing the video again; a restored copy would only "
            "hold stale progress.",
        )

    def attach(self, function: lambda_.Function, role: iam.IRole) -> None:
        """Give the indexer the table: exactly the calls the library makes. The queue to continue through (the
        same S3 record, sent back to the queue it came from) is `continue_through` (the stack's, shared with the
        re-match of known people)."""
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(STATE_ACTIONS), resources=[self.table.table_arn]))
        function.add_environment("MEDIAINDEX_VIDEO_STATE_TABLE", self.table.table_name)


def continue_through(function: lambda_.Function, role: iam.IRole, ingest: sqs.IQueue) -> None:
    """The indexer may send to the ingest queue: a long video's continuation (the same S3 record again) and the
    next step of a re-match of known people after an enrolment (a message of its own); MEDIAINDEX_QUEUE_URL."""
    role.add_to_principal_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[ingest.queue_arn]))
    function.add_environment("MEDIAINDEX_QUEUE_URL", ingest.queue_url)
