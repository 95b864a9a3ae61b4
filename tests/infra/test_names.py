"""Two stacks in one account and region: every name that must be unique there (the face collection, the
OpenSearch domain, the Cognito sign-in prefix) is derived from the stack name, so none is shared, even between
two long stack names that start alike."""

from __future__ import annotations

import pytest

from infra.settings import DeploySettings
from tests.infra.conftest import only, resources, synthesize

STACKS = ("MediaIndex", "MediaIndexStaging", "MediaIndexProductionEuropeWestA", "MediaIndexProductionEuropeWestB")


def _physical_names(template) -> dict[str, str]:
    collections = [c["Properties"]["CollectionId"] for c in resources(template, "AWS::Rekognition::Collection").values()]
    known = [c for c in collections if not c.endswith("-library")]  # the library's faces: `<collection>-library`
    assert len(known) == 1 and sorted(collections) == sorted([known[0], f"{known[0]}-library"])
    _, domain = only(template, "AWS::OpenSearchService::Domain")
    _, sign_in = only(template, "AWS::Cognito::UserPoolDomain")
    return {"collection": known[0], "domain": domain["Properties"]["DomainName"],
            "sign_in": str(sign_in["Properties"]["Domain"])}


@pytest.fixture(scope="module")
def names(tmp_path_factory):
    return {stack: _physical_names(synthesize(tmp_path_factory.mktemp("cdk"), stack_name=stack, api="true")[0])
            for stack in STACKS}


def test_the_default_stack_keeps_the_names_it_had(names):
    # a deployed stack must not see its collection or domain replaced by this derivation
    assert names["MediaIndex"]["collection"] == "mediaindex-faces"
    assert names["MediaIndex"]["domain"] == "mediaindex"


@pytest.mark.parametrize("kind", ["collection", "domain", "sign_in"])
def test_no_two_stacks_share_a_name(names, kind):
    assert len({found[kind] for found in names.values()}) == len(STACKS), {s: n[kind] for s, n in names.items()}


def test_derived_names_are_valid_where_they_are_used():
    for stack in STACKS:
        settings = DeploySettings.from_context({"stack_name": stack})
        assert 3 <= len(settings.domain_name) <= 28 and settings.domain_name[0].isalpha()
        assert settings.collection_id.endswith("-faces") and len(settings.collection_id) <= 255
        assert len(settings.auth_domain_base) <= 40


def test_a_collection_id_given_is_kept(tmp_path):
    template, _ = synthesize(tmp_path, collection_id="shared-faces")
    collections = {c["Properties"]["CollectionId"] for c in resources(template, "AWS::Rekognition::Collection").values()}
    assert collections == {"shared-faces", "shared-faces-library"}
    template, _ = synthesize(tmp_path / "off", collection_id="shared-faces", library_faces="false")
    _, collection = only(template, "AWS::Rekognition::Collection")
    assert collection["Properties"]["CollectionId"] == "shared-faces"
