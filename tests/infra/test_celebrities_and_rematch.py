"""Two switches of issue 29: the `celebrities` feature (rekognition:RecognizeCelebrities granted only when it is on,
and the handlers told through MEDIAINDEX_FEATURES), and the queue the re-match of known people continues through
(the indexer may send to the ingest queue whenever people are matched, long videos on or off)."""

from __future__ import annotations

import pytest

from tests.infra.conftest import resources, synthesize
from tests.infra.test_parts import _actions, _granted, _id, role_statements


@pytest.fixture(scope="module")
def celebrities(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"), features="labels,faces,people,celebrities",
                      long_videos="false", backfill="false")


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"))


def _env(template, stack):
    return resources(template, "AWS::Lambda::Function")[_id(stack, stack.indexer.function)]["Properties"][
        "Environment"]["Variables"]


def test_celebrities_are_off_by_default_and_not_granted(default):
    template, stack = default
    assert "rekognition:RecognizeCelebrities" not in _granted(template, _id(stack, stack.indexer.role))
    assert "celebrities" not in _env(template, stack)["MEDIAINDEX_FEATURES"].split(",")


def test_celebrities_on_grant_recognize_celebrities_and_tell_the_handler(celebrities):
    from mediaindex.config import Settings

    template, stack = celebrities
    granted = _granted(template, _id(stack, stack.indexer.role))
    assert granted["rekognition:RecognizeCelebrities"] == "*"  # it takes an image, not a resource
    env = _env(template, stack)
    assert Settings.from_env({"MEDIAINDEX_FEATURES": env["MEDIAINDEX_FEATURES"]}).has("celebrities")


def test_the_rematch_continues_through_the_ingest_queue_without_long_videos(celebrities):
    template, stack = celebrities
    assert stack.video_state is None
    queue = _id(stack, stack.ingest.queue)
    assert _env(template, stack)["MEDIAINDEX_QUEUE_URL"] == {"Ref": queue}
    sends = [s["Resource"] for s in role_statements(template, _id(stack, stack.indexer.role))
             if "sqs:SendMessage" in _actions(s)]
    assert {"Fn::GetAtt": [queue, "Arn"]} in sends


def test_the_library_face_collection_is_named_granted_and_told_to_the_indexer_only(default, celebrities):
    for template, stack in (default, celebrities):
        library = stack.faces.library
        assert library is not None
        assert _env(template, stack)["MEDIAINDEX_LIBRARY_COLLECTION"] == stack.settings.library_collection_id
        arn = {"Fn::GetAtt": [stack.resolve(library.logical_id), "Arn"]}
        on_library = {a for s in role_statements(template, _id(stack, stack.indexer.role)) for a in _actions(s)
                      if arn in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
        assert on_library == {"rekognition:IndexFaces", "rekognition:SearchFacesByImage", "rekognition:DeleteFaces"}
    template, stack = default
    assert stack.settings.library_collection_id == "mediaindex-faces-library"


def test_the_library_face_collection_can_be_left_out(tmp_path):
    template, stack = synthesize(tmp_path, library_faces="false")
    assert stack.faces.library is None and len(resources(template, "AWS::Rekognition::Collection")) == 1
    assert "MEDIAINDEX_LIBRARY_COLLECTION" not in _env(template, stack)
