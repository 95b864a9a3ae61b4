"""The media bucket: private, encrypted, TLS only, versioned, with server access logs in a bucket of their own."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.parts import data_removal
from infra.parts.nag import acknowledge, wildcard_finding
from infra.settings import DeploySettings

ACCESS_LOG_DAYS = 90


class MediaBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings) -> None:
        super().__init__(scope, construct_id)
        destroy = settings.destroys_data
        removal = data_removal(settings)

        self.access_logs = s3.Bucket(
            self, "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 server access logging writes to
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(ACCESS_LOG_DAYS))],
            removal_policy=removal,
            auto_delete_objects=destroy,
        )
        acknowledge(
            self.access_logs, "AwsSolutions-S1",
            "This bucket is the server access log target of the media bucket; logging the log bucket into itself "
            "would log its own log deliveries without end.",
        )

        self.bucket = s3.Bucket(
            self, "Media",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # versioned: an overwrite or a delete can be undone; a delete then arrives as DeleteMarkerCreated
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=cdk.Duration.days(settings.noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                    expired_object_delete_marker=True,
                ),
            ],
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="media/",
            removal_policy=removal,
            auto_delete_objects=destroy,
        )

    def grant_read(self, role: iam.IRole) -> None:
        """Read objects and list keys (the list is for backfilling what was in the bucket before the stack)."""
        objects = self.bucket.arn_for_objects("*")
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]))
        acknowledge(
            role, wildcard_finding(role, objects),
            "Any object of this one media bucket may be a file to index: the wildcard is the object key only.",
        )
