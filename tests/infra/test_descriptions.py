"""Search by description on AWS (the `descriptions` setting): off by default; on, the indexer and the API may invoke
Titan Multimodal Embeddings G1 and no other model, and both read MEDIAINDEX_DESCRIPTIONS with its output length."""

from __future__ import annotations

import pytest

from infra.settings import DeploySettings, SettingsError
from mediaindex.config import Settings
from tests.infra.conftest import as_list, resources, role_statements, synthesize

TITAN_ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":bedrock:", {"Ref": "AWS::Region"},
                               "::foundation-model/amazon.titan-embed-image-v1"]]}


def _id(stack, construct):
    return stack.resolve(construct.node.default_child.logical_id)


def _bedrock(template, role_id) -> dict[str, list]:
    granted: dict[str, list] = {}
    for statement in role_statements(template, role_id):
        for action in as_list(statement["Action"]):
            if action.startswith("bedrock:"):
                granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    return granted


def _env(template, stack, function) -> dict:
    return resources(template, "AWS::Lambda::Function")[_id(stack, function)]["Properties"]["Environment"]["Variables"]


@pytest.fixture(scope="module")
def described(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"), api="true", descriptions="true", description_length="384")


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"), api="true")


def test_titan_is_granted_to_the_indexer_and_the_api_scoped_to_its_model(described):
    template, stack = described
    for role in (stack.indexer.role, stack.api.role):
        assert _bedrock(template, _id(stack, role)) == {"bedrock:InvokeModel": [TITAN_ARN]}
    for function in (stack.indexer.function, stack.api.function):
        assert _env(template, stack, function)["MEDIAINDEX_DESCRIPTIONS"] == "bedrock:384"
    # the backfill function hands files over and never embeds
    assert _bedrock(template, _id(stack, stack.backfill.role)) == {}


def test_off_by_default_no_bedrock_at_all(default):
    template, stack = default
    for role in (stack.indexer.role, stack.api.role, stack.backfill.role):
        assert _bedrock(template, _id(stack, role)) == {}
    assert _env(template, stack, stack.indexer.function)["MEDIAINDEX_DESCRIPTIONS"] == "off"


def test_the_library_reads_what_the_stack_sets():
    on = DeploySettings.from_context({"descriptions": "true", "description_length": "256"})
    env = {k: v for k, v in on.handler_environment("https://search.example", "https://sqs.example/q").items()}
    assert Settings.from_env(env).descriptions == "bedrock:256"
    off = DeploySettings.from_context({}).handler_environment("https://search.example", "https://sqs.example/q")
    assert Settings.from_env(off).descriptions == "off"
    with pytest.raises(SettingsError, match="description_length"):
        DeploySettings.from_context({"descriptions": "true", "description_length": "512"})
