"""The CDK app: `cdk synth` / `cdk deploy` run `python -m infra.app` (cdk.json). Settings come from context."""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.settings import DeploySettings
from infra.stack import MediaIndexStack


def build(app: cdk.App | None = None, nag: bool = True) -> tuple[cdk.App, MediaIndexStack]:
    app = app or cdk.App()
    settings = DeploySettings.from_context(app.node.try_get_context)
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    env = cdk.Environment(account=account, region=region) if account and region else None
    stack = MediaIndexStack(app, settings.stack_name, settings=settings, env=env)
    if nag:
        # synthesis fails on any finding that is not acknowledged with its reason
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    app, _ = build()
    app.synth()


if __name__ == "__main__":
    main()
