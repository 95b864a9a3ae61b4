"""Where the stack deploys: infra/regions.py against cfn-lint's per-region resource schemas (both ways), the
synthesis-time error elsewhere, the template rule for region-less templates, and cfn-lint with no error in every
supported region (docs/deploy.md lists them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.regions import REGIONS, REKOGNITION_COLLECTION, SUPPORTED_REGIONS, UnsupportedRegion, check_region
from tests.infra.conftest import ROOT, synthesize

cfnlint = pytest.importorskip("cfnlint", reason="cfn-lint is in the dev extra")
PROVIDERS = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
OTHER_PARTITIONS = ("cn-", "us-gov-", "us-iso", "eu-isoe-", "eusc-")


@pytest.fixture(scope="module")
def every_part(tmp_path_factory):
    """The stack with every optional part on, and mailed alarms: all the resource types it can have."""
    return synthesize(tmp_path_factory.mktemp("cdk"), api="true", api_writes="true", alarm_email="ops@example.com")


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"))


def _resource_types(template) -> set[str]:
    return {r["Type"] for r in template.to_json()["Resources"].values() if r["Type"].startswith("AWS::")}


def _schema_types(region: str) -> set[str]:
    return set(json.loads((PROVIDERS / f"{region}.json").read_text()))


def test_the_table_is_what_cfn_lint_knows_of_each_region(every_part):
    template, _ = every_part
    needed = _resource_types(template)
    assert REKOGNITION_COLLECTION in needed and "AWS::OpenSearchService::Domain" in needed
    for region, missing in REGIONS.items():
        assert sorted(needed - _schema_types(region)) == list(missing), region


def test_every_region_of_the_aws_partition_is_in_the_table():
    known = {p.stem for p in PROVIDERS.glob("*-*.json") if not p.stem.startswith(OTHER_PARTITIONS)}
    assert known == set(REGIONS)
    assert {"us-east-1", "eu-west-1", "ap-northeast-1"} <= set(SUPPORTED_REGIONS)
    assert {"eu-west-3", "eu-north-1", "ap-east-1"}.isdisjoint(SUPPORTED_REGIONS)


@pytest.mark.parametrize("region, words", [
    ("eu-west-3", ["eu-west-3", "Amazon Rekognition face collections", REKOGNITION_COLLECTION, "us-east-1"]),
    ("cn-north-1", ["aws-cn", "Cognito", "eu-west-1"]),
    ("xx-nowhere-9", ["not in infra/regions.py", "us-east-1"]),
])
def test_a_region_without_a_service_is_refused_naming_it(region, words):
    with pytest.raises(UnsupportedRegion) as caught:
        check_region(region)
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_synthesis_for_an_unsupported_region_fails_before_building_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-north-1")
    with pytest.raises(Exception, match=r"cannot be deployed in eu-north-1: Amazon Rekognition face collections"):
        synthesize(tmp_path)


def test_synthesis_for_a_supported_region_names_it_in_the_template(tmp_path, monkeypatch):
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    _, stack = synthesize(tmp_path)
    assert stack.region == "eu-west-1"


def test_a_template_without_a_region_carries_a_rule_cloudformation_checks_first(default):
    template, _ = default
    rule = template.to_json()["Rules"]["SupportedRegion"]
    [assertion] = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Contains": [list(SUPPORTED_REGIONS), {"Ref": "AWS::Region"}]}
    assert REKOGNITION_COLLECTION in assertion["AssertDescription"]


def test_the_deploy_doc_lists_the_supported_regions():
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    listed = re.search(r"<!-- supported-regions -->\n(.*?)\n<!-- /supported-regions -->", doc, flags=re.S)
    assert listed, "docs/deploy.md has no supported-regions list"
    assert re.findall(r"`([a-z]{2}-[a-z]+-\d)`", listed.group(1)) == list(SUPPORTED_REGIONS)


@pytest.mark.parametrize("variant", ["default", "every_part"])
def test_cfn_lint_finds_no_error_in_any_supported_region(variant, request):
    """The region check's promise, checked: each resource type and property exists in each supported region."""
    from cfnlint.api import ManualArgs, lint

    template, _ = request.getfixturevalue(variant)
    matches = lint(json.dumps(template.to_json()), config=ManualArgs(regions=list(SUPPORTED_REGIONS)))
    errors = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id.startswith("E")]
    assert not errors, errors
    # and cfn-lint does see a missing resource type: the error the table and the region check are about
    elsewhere = lint(json.dumps(template.to_json()), config=ManualArgs(regions=["eu-west-3"]))
    assert any(m.rule.id == "E3006" and REKOGNITION_COLLECTION in m.message for m in elsewhere)
