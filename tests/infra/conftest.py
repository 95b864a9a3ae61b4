"""Building templates for the infra tests: the real app code (infra/app.py `build`), cdk-nag included, bundling
skipped. jsii starts once per process and the first synthesis costs seconds, so each module builds its templates
once (module-scoped fixtures)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def cdk_json_context() -> dict[str, Any]:
    return json.loads((ROOT / "cdk.json").read_text())["context"]


def synthesize(tmp_dir: Path, **context: Any) -> tuple[Any, Any]:
    """(Template, stack) for cdk.json's context plus `context`; raises if cdk-nag has unacknowledged findings."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.app import build

    app = cdk.App(
        context={**cdk_json_context(), "aws:cdk:bundling-stacks": [], **context}, outdir=str(tmp_dir),
    )
    app, stack = build(app)
    app.synth()  # runs the cdk-nag validation plugin: fails on any finding without an acknowledgement
    return Template.from_stack(stack), stack


def resources(template: Any, kind: str) -> dict[str, dict[str, Any]]:
    return template.find_resources(kind)


def only(template: Any, kind: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.items()))


def role_statements(template: Any, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to one role."""
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} in roles:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
