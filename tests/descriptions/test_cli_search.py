"""`mediaindex search` with search by description on: an embedded index whose pictures were embedded by the tiny
CLIP model, searched from the command line with MEDIAINDEX_DESCRIPTIONS=clip:NAME; and `search --help` saying how
to turn it on. On AWS the vectors are kept beside the documents in OpenSearch."""

from __future__ import annotations

import json

from mediaindex.adapters.embeddings.clip_onnx import ClipEmbedder
from mediaindex.adapters.vectors.local import LocalPictureVectors, default_path
from mediaindex.bootstrap import build_app, meaning_model
from mediaindex.config import Settings
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.entrypoints.cli import main
from mediaindex.ports import ObjectRef
from mediaindex.services.indexing import Pipeline
from tests.descriptions.conftest import NAME, coloured
from tests.fakes import FakeAnalyzer, FakeStorage


def test_search_from_the_command_line_blends_the_description(models_dir, tmp_path, monkeypatch, capsys):
    env = {"MEDIAINDEX_INDEX": f"sqlite:///{tmp_path / 'index.db'}", "MEDIAINDEX_MODELS_DIR": str(models_dir),
           "MEDIAINDEX_DESCRIPTIONS": f"clip:{NAME}", "MEDIAINDEX_HOME": str(tmp_path)}
    settings = Settings.from_env(env)
    index = build_app(settings).index
    index.ensure_ready()
    vectors = LocalPictureVectors(default_path(settings))
    storage = FakeStorage()
    pipeline = Pipeline(storage=storage, analyzer=FakeAnalyzer(), index=index, vectors=vectors,
                        describer=ClipEmbedder(models_dir, NAME))
    for key, colour in {"p1.png": (30, 30, 220), "p2.png": (220, 30, 30), "p3.png": (30, 200, 30)}.items():
        storage.write(key, coloured(colour))
        pipeline.handle(StorageEvent(CREATED, ObjectRef("media", key)))
    vectors.close()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["search", "red", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hits"][0]["key"] == "p2.png" and out["total"] == 3
    assert out["described"] == ClipEmbedder(models_dir, NAME).model and "not_understood" not in out
    assert main(["search", "green"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("media/p3.png") and "ranked by keywords and by description" in text
    monkeypatch.setenv("MEDIAINDEX_DESCRIPTIONS", "off")
    assert main(["search", "red", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 0  # keywords alone: nothing is called red


def test_search_help_says_how_to_turn_vectors_on(capsys):
    try:
        main(["search", "--help"])
    except SystemExit as e:
        assert e.code == 0
    text = capsys.readouterr().out
    assert "search by description" in text and "MEDIAINDEX_DESCRIPTIONS=clip:" in text
    assert "mediaindex models install" in text and "MEDIAINDEX_DESCRIPTIONS=bedrock" in text


def test_on_aws_the_meaning_vectors_go_beside_the_documents_in_opensearch():
    aws = {"MEDIAINDEX_ANALYZER": "rekognition", "MEDIAINDEX_INDEX": "https://search.example"}
    off = Settings.from_env(aws)
    assert build_app(off).vectors is None and meaning_model(off) is None  # Rekognition alone keeps no vectors
    on = Settings.from_env({**aws, "MEDIAINDEX_DESCRIPTIONS": "bedrock:256"})
    app = build_app(on)
    assert type(app.vectors).__name__ == "OpenSearchPictureVectors"  # nothing is reached before it is used
    assert meaning_model(on) == "titan-embed-image-v1:256"


def test_the_api_blends_the_description_of_q(models_dir, stores):
    from starlette.testclient import TestClient

    from mediaindex.adapters.media.folder import FolderMedia
    from mediaindex.api.app import MediaApi, create_app

    index, vectors = stores
    clip = ClipEmbedder(models_dir, NAME)
    storage = FakeStorage()
    pipeline = Pipeline(storage=storage, analyzer=FakeAnalyzer(), index=index, vectors=vectors, describer=clip)
    for key, colour in {"p1.png": (30, 30, 220), "p2.png": (220, 30, 30)}.items():
        storage.write(key, coloured(colour))
        pipeline.handle(StorageEvent(CREATED, ObjectRef("media", key)))
    api = MediaApi(index=index, media=FolderMedia(), describer_factory=lambda: clip, vectors_factory=lambda: vectors)
    client = TestClient(create_app(api), base_url="http://127.0.0.1")
    body = client.get("/api/search", params={"q": "blue"}).json()
    assert [hit["key"] for hit in body["hits"]][0] == "p1.png" and body["described"] == clip.model
    plain = client.get("/api/search", params={"type": "image"}).json()  # no words: no description
    assert "described" not in plain and plain["total"] == 2
