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
