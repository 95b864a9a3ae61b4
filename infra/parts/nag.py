"""cdk-nag 3 acknowledgements: each names one rule (or one finding of a rule) and says why it does not apply here."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge `rule` (e.g. "AwsSolutions-S1" or "AwsSolutions-IAM5[Resource::*]") on `scope` and below it."""
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def wildcard_finding(scope: IConstruct, resource: str) -> str:
    """The IAM5 finding id cdk-nag reports for `resource` (a string that may hold tokens) in a policy, e.g.
    AwsSolutions-IAM5[Resource::<StorageMedia9333CB25.Arn>/*]: references are written <LogicalId.Attr> or <Ref>."""
    return f"AwsSolutions-IAM5[Resource::{_render(cdk.Stack.of(scope).resolve(resource))}]"


def _render(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    raise ValueError(f"cannot render {value!r} as cdk-nag does")
