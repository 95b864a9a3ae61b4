"""The AWS CDK app that deploys mediaindex: S3 -> SQS -> Lambda -> Rekognition -> OpenSearch (docs/deploy.md)."""
