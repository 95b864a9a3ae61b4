"""Titan Multimodal Embeddings G1 through botocore's Stubber, with answers of the real shape (moto answers
InvokeModel with an empty body): what is sent, what is read back, and the errors the pipeline tells apart."""

from __future__ import annotations

import base64
import io
import json
import math

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from PIL import Image

from mediaindex.adapters.embeddings.bedrock import MODEL_ID, TitanEmbedder, model_arn
from mediaindex.bootstrap import build_describer, meaning_model
from mediaindex.config import Settings
from mediaindex.domain.errors import BadMedia, ConfigurationError, TransientError, UnsupportedMedia
from mediaindex.media.picture import Picture
from tests.descriptions.conftest import coloured


def answer(embedding: list[float], tokens: int = 0, message: str | None = None) -> dict:
    body = json.dumps({"embedding": embedding, "inputTextTokenCount": tokens, "message": message}).encode()
    return {"body": StreamingBody(io.BytesIO(body), len(body)), "contentType": "application/json"}


@pytest.fixture
def client():
    return boto3.client("bedrock-runtime", region_name="us-east-1")


def sent_bodies(stubber: Stubber) -> list[dict]:
    return stubber.bodies  # type: ignore[attr-defined]


def stub(client) -> Stubber:
    """A Stubber that also keeps every request body sent (to check what Titan was asked)."""
    stubber = Stubber(client)
    stubber.bodies = []  # type: ignore[attr-defined]
    client.meta.events.register("before-parameter-build.bedrock-runtime.InvokeModel",
                                lambda params, **_: stubber.bodies.append(json.loads(params["body"])))
    return stubber


def test_a_picture_is_sent_as_base64_with_the_output_length_and_comes_back_of_unit_length(client):
    titan = TitanEmbedder(client, 256)
    data = coloured((200, 40, 40), fmt="JPEG")
    with stub(client) as stubber:
        stubber.add_response("invoke_model", answer([3.0, 4.0] + [0.0] * 254),
                             {"modelId": MODEL_ID, "body": ANY, "contentType": "application/json",
                              "accept": "application/json"})
        vector = titan.embed_image(Picture.from_bytes(data))
        stubber.assert_no_pending_responses()
        body = sent_bodies(stubber)[0]
    assert body["embeddingConfig"] == {"outputEmbeddingLength": 256}
    assert base64.b64decode(body["inputImage"]) == data  # a JPEG within Titan's limits is sent as it is
    assert "inputText" not in body
    assert vector[:2] == pytest.approx([0.6, 0.8]) and len(vector) == 256
    assert titan.model == "titan-embed-image-v1:256" and titan.dimensions == 256 and titan.calls == 1


def test_a_picture_above_2048_pixels_is_scaled_down_before_it_is_sent(client):
    titan = TitanEmbedder(client, 384)
    data = coloured((40, 40, 200), size=(3000, 1000), fmt="PNG")
    with stub(client) as stubber:
        stubber.add_response("invoke_model", answer([1.0] * 384))
        titan.embed_image(Picture.from_bytes(data))
        sent = base64.b64decode(sent_bodies(stubber)[0]["inputImage"])
    with Image.open(io.BytesIO(sent)) as im:
        assert max(im.size) <= 2048 and im.size[0] / im.size[1] == pytest.approx(3.0, rel=0.01)


def test_text_is_sent_as_input_text_and_its_tokens_are_counted(client):
    titan = TitanEmbedder(client)
    with stub(client) as stubber:
        stubber.add_response("invoke_model", answer([1.0] + [0.0] * 1023, tokens=7))
        vector = titan.embed_text("  a dog on the beach ")
        body = sent_bodies(stubber)[0]
    assert body == {"inputText": "a dog on the beach", "embeddingConfig": {"outputEmbeddingLength": 1024}}
    assert math.isclose(sum(v * v for v in vector), 1.0) and titan.text_tokens == 7


def test_a_blank_picture_is_never_sent(client):
    titan = TitanEmbedder(client)
    black = io.BytesIO()
    Image.new("RGB", (800, 600), (0, 0, 0)).save(black, "JPEG")
    with stub(client) as stubber:  # no response queued: a call would fail
        assert titan.embed_image(Picture.from_bytes(black.getvalue())) is None
    assert titan.calls == 0


@pytest.mark.parametrize("code, status, error", [
    ("ThrottlingException", 429, TransientError),
    ("ModelTimeoutException", 408, TransientError),
    ("ServiceUnavailableException", 503, TransientError),
    ("AccessDeniedException", 403, ConfigurationError),
    ("ValidationException", 400, UnsupportedMedia),
])
def test_errors_become_what_the_pipeline_tells_apart(client, code, status, error):
    titan = TitanEmbedder(client)
    with stub(client) as stubber:
        stubber.add_client_error("invoke_model", service_error_code=code, service_message="no", http_status_code=status)
        with pytest.raises(error):
            titan.embed_image(Picture.from_bytes(coloured((10, 200, 10))))


def test_an_answer_of_the_wrong_length_is_refused(client):
    titan = TitanEmbedder(client, 384)
    with stub(client) as stubber:
        stubber.add_response("invoke_model", answer([0.5] * 256, message="odd"))
        with pytest.raises(BadMedia, match="256 numbers, not 384: odd"):
            titan.embed_text("red")


def test_settings_pick_titan_with_its_output_length(client):
    settings = Settings.from_env({"MEDIAINDEX_DESCRIPTIONS": "bedrock:384"})
    describer = build_describer(settings, client)
    assert isinstance(describer, TitanEmbedder) and describer.dimensions == 384
    assert meaning_model(settings) == describer.model == "titan-embed-image-v1:384"
    assert Settings.from_env({"MEDIAINDEX_DESCRIPTIONS": "bedrock"}).descriptions == "bedrock:1024"
    with pytest.raises(ConfigurationError, match="256, 384, 1024"):
        Settings.from_env({"MEDIAINDEX_DESCRIPTIONS": "bedrock:512"})
    with pytest.raises(ConfigurationError, match="clip:NAME"):
        Settings.from_env({"MEDIAINDEX_DESCRIPTIONS": "clip:"})
    assert model_arn("eu-west-1") == "arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-image-v1"
