"""Search by description on AWS: Amazon Titan Multimodal Embeddings G1 on Bedrock (the `descriptions` setting).
The indexer embeds every picture, the API embeds the query's words; each may invoke that one model and no other."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

# functions/mediaindex/adapters/embeddings/bedrock.py MODEL_ID (infra does not import the handlers' package)
TITAN_MODEL_ID = "amazon.titan-embed-image-v1"


def titan_arn(scope: Construct) -> str:
    """arn:<partition>:bedrock:<region>::foundation-model/amazon.titan-embed-image-v1 (a foundation model's ARN
    has no account)."""
    return cdk.Stack.of(scope).format_arn(service="bedrock", account="", resource="foundation-model",
                                          resource_name=TITAN_MODEL_ID, arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME)


def grant_titan(grantee: iam.IGrantable, scope: Construct) -> None:
    """bedrock:InvokeModel on Titan Multimodal Embeddings G1 alone."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=[titan_arn(scope)]))
