"""cdk.json sets every feature flag aws-cdk-lib recommends (as `cdk init` would for a new project), read back from
the feature-flag report the synthesis itself writes into the cloud assembly; the one deliberate exception says why."""

from __future__ import annotations

import json

from tests.infra.conftest import cdk_json_context, synthesize

# flag -> (the value this project sets, why it is not the recommended one)
DELIBERATE = {
    "@aws-cdk/core:target-partitions": (
        ["aws"], "only the aws partition: Rekognition face collections and Cognito do not exist in aws-cn "
                 "(infra/regions.py)"),
}


def test_every_recommended_feature_flag_is_in_effect(tmp_path):
    synthesize(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    report = next(a for a in manifest["artifacts"].values() if a["type"] == "cdk:feature-flag-report")
    flags = report["properties"]["flags"]
    assert len(flags) > 80
    differing = {}
    for name, flag in flags.items():
        effective = flag["userValue"] if "userValue" in flag else flag.get("unconfiguredBehavesLike", {}).get("v2", False)
        if name in DELIBERATE:
            assert effective == DELIBERATE[name][0], name
        elif effective != flag.get("recommendedValue", effective):
            differing[name] = (effective, flag["recommendedValue"])
    assert not differing, f"set these in cdk.json (and check the template diff they cause): {differing}"
    assert set(DELIBERATE) <= set(cdk_json_context())
