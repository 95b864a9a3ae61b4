"""The Rekognition face collection of known people: created with the stack and deleted with it."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rekognition as rekognition
from constructs import Construct

from infra.settings import DeploySettings

# What the handlers call on the collection (functions/mediaindex/adapters/faces/rekognition.py).
COLLECTION_ACTIONS = (
    "rekognition:SearchFacesByImage", "rekognition:IndexFaces", "rekognition:ListFaces", "rekognition:DeleteFaces",
    "rekognition:DescribeCollection",
)
# Detect* calls take an image, not a resource: IAM has no resource to scope them to.
DETECT_ACTIONS = {
    "labels": "rekognition:DetectLabels",
    "faces": "rekognition:DetectFaces",
    "people": "rekognition:DetectFaces",  # people are matched from the faces DetectFaces finds
    "text": "rekognition:DetectText",
    "moderation": "rekognition:DetectModerationLabels",
    "celebrities": "rekognition:RecognizeCelebrities",  # only when the feature is on (off by default)
}


class FaceCollection(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings) -> None:
        super().__init__(scope, construct_id)
        self.collection_id = settings.collection_id
        self.resource = rekognition.CfnCollection(self, "Collection", collection_id=settings.collection_id)
        # enrolled faces are derived data: the photos under the people prefix enrol them again
        self.resource.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        self.arn = self.resource.attr_arn

    def grant_use(self, grantee: iam.IGrantable, features: tuple[str, ...]) -> None:
        """The Rekognition calls the enabled analyses make: Detect* on any image, face calls on this collection."""
        detect = sorted({DETECT_ACTIONS[f] for f in features})
        if detect:
            grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(actions=detect, resources=["*"]))
        if "people" in features:
            grantee.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(actions=list(COLLECTION_ACTIONS), resources=[self.arn])
            )
