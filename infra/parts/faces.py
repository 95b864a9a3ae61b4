"""The Rekognition face collection of known people, and (with `people` and `library_faces`) the library face
collection, where every indexed picture's faces are kept so that an enrolment finds the faces matching the new
person with one search: both created with the stack and deleted with it."""

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
# What the indexer calls on the library face collection (adapters/faces/rekognition.py keep_library_faces,
# library_matches, forget_library_faces).
LIBRARY_ACTIONS = ("rekognition:IndexFaces", "rekognition:SearchFacesByImage", "rekognition:DeleteFaces")
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
        self.library: rekognition.CfnCollection | None = None
        if settings.keeps_library_faces:
            self.library = rekognition.CfnCollection(self, "LibraryCollection",
                                                     collection_id=settings.library_collection_id)
            # derived data: the pictures indexed again fill it again (as the documents they come from)
            self.library.apply_removal_policy(cdk.RemovalPolicy.DESTROY)

    def grant_use(self, grantee: iam.IGrantable, features: tuple[str, ...]) -> None:
        """The Rekognition calls the enabled analyses make: Detect* on any image, face calls on this collection."""
        detect = sorted({DETECT_ACTIONS[f] for f in features})
        if detect:
            grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(actions=detect, resources=["*"]))
        if "people" in features:
            grantee.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(actions=list(COLLECTION_ACTIONS), resources=[self.arn])
            )
            if self.library is not None:
                grantee.grant_principal.add_to_principal_policy(
                    iam.PolicyStatement(actions=list(LIBRARY_ACTIONS), resources=[self.library.attr_arn])
                )
