"""Indexing with search by description on: every indexed picture gets a meaning vector of the configured model, kept
by content in the vector store, and its document says which model (`meaning_model`);
a picture too small or blank, or one the embedder refuses, is indexed without one (recorded in `no_vectors`);
throttling fails the file for a later try; copies reuse the vector; turning it on (or changing the model) embeds the
pictures already indexed without analysing them again."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mediaindex.adapters.embeddings.clip_onnx import ClipEmbedder
from mediaindex.domain import document as docs
from mediaindex.domain.errors import TransientError, UnsupportedMedia
from mediaindex.domain.freshness import is_unchanged
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.media.picture import Picture
from mediaindex.ports import ObjectRef
from mediaindex.services.indexing import Pipeline
from tests.descriptions.conftest import NAME, coloured
from tests.fakes import FakeAnalyzer, FakeStorage


class Counting:
    """The tiny CLIP model, counting its pictures, or failing as told."""

    def __init__(self, clip: ClipEmbedder, fail_with: Exception | None = None) -> None:
        self.clip, self.fail_with, self.pictures = clip, fail_with, 0
        self.model, self.dimensions = clip.model, clip.dimensions

    def embed_image(self, picture):
        self.pictures += 1
        if self.fail_with is not None:
            raise self.fail_with
        return self.clip.embed_image(picture)

    def embed_text(self, text):
        return self.clip.embed_text(text)


@pytest.fixture
def clip(models_dir):
    return ClipEmbedder(models_dir, NAME)


@pytest.fixture
def setup(stores):
    index, vectors = stores

    def make(describer, analyzer=None):
        storage = FakeStorage()
        return storage, index, vectors, Pipeline(storage=storage, analyzer=analyzer or FakeAnalyzer(), index=index,
                                                 vectors=vectors, describer=describer)

    return make


def index_file(storage, pipeline, key, data, etag=None):
    storage.write(key, data)
    return pipeline.handle(StorageEvent(CREATED, ObjectRef("media", key), etag=etag, size=len(data)))


def doc_of(index, key):
    return index.get(docs.document_id("media", key)).doc


def test_every_indexed_picture_gets_its_meaning_vector(clip, setup):
    storage, index, vectors, pipeline = setup(Counting(clip))
    assert index_file(storage, pipeline, "red.png", coloured((220, 40, 40))).action == "indexed"
    doc = doc_of(index, "red.png")
    assert doc["meaning_model"] == clip.model and "no_vectors" not in doc
    [kept] = vectors.vectors_of("meaning", doc["content_sha256"])
    assert kept.model == clip.model and len(kept.values) == clip.dimensions
    # kept as int8 by the store: the cosines within a thousandth
    assert kept.values == pytest.approx(clip.embed_image(Picture.from_bytes(coloured((220, 40, 40)))), abs=0.01)
    assert vectors.nearest("meaning", clip.model, clip.embed_text("red"), 5)[0][0] == doc["content_sha256"]


def test_a_blank_or_tiny_picture_is_indexed_without_a_vector_and_says_why(clip, setup):
    storage, index, vectors, pipeline = setup(Counting(clip))
    black = io.BytesIO()
    Image.new("RGB", (640, 480), (0, 0, 0)).save(black, "PNG")
    index_file(storage, pipeline, "black.png", black.getvalue())
    doc = doc_of(index, "black.png")
    assert doc["status"] == "indexed" and doc["meaning_model"] is None
    assert doc["no_vectors"]["meaning"] == {"model": clip.model, "reason": "too small or blank for a meaningful vector"}
    assert vectors.nearest("meaning", clip.model, clip.embed_text("red"), 5) == []


def test_a_picture_the_embedder_refuses_is_indexed_all_the_same(clip, setup):
    describer = Counting(clip, fail_with=UnsupportedMedia("Titan refused the picture"))
    storage, index, vectors, pipeline = setup(describer)
    outcome = index_file(storage, pipeline, "odd.png", coloured((10, 10, 200)))
    doc = doc_of(index, "odd.png")
    assert outcome.action == "indexed" and doc["labels"] and doc["meaning_model"] is None
    assert "Titan refused the picture" in doc["no_vectors"]["meaning"]["reason"]


def test_throttling_fails_the_file_for_a_later_try(clip, setup):
    storage, index, vectors, pipeline = setup(Counting(clip, fail_with=TransientError("ThrottlingException")))
    with pytest.raises(TransientError):
        index_file(storage, pipeline, "later.png", coloured((10, 200, 10)))
    assert index.get(docs.document_id("media", "later.png")) is None


def test_a_copy_reuses_the_vector_and_the_analysis(clip, setup):
    describer, analyzer = Counting(clip), FakeAnalyzer()
    storage, index, vectors, pipeline = setup(describer, analyzer)
    data = coloured((220, 40, 40))
    index_file(storage, pipeline, "one.png", data)
    assert index_file(storage, pipeline, "copy.png", data).action == "reused"
    assert (analyzer.calls, describer.pictures) == (1, 1)
    assert doc_of(index, "copy.png")["meaning_model"] == doc_of(index, "one.png")["meaning_model"] == clip.model


def test_turning_descriptions_on_embeds_what_was_indexed_without_analysing_it_again(clip, setup):
    analyzer = FakeAnalyzer()
    storage, index, vectors, before = setup(None, analyzer)
    data = coloured((220, 40, 40))
    index_file(storage, before, "old.png", data)
    old = doc_of(index, "old.png")
    etag = old["etag"]  # what the storage listed
    assert "meaning_model" not in old
    assert is_unchanged(old, etag=etag, size=len(data), analyzer="fake", face_model=None)
    assert not is_unchanged(old, etag=etag, size=len(data), analyzer="fake", face_model=None, meaning_model=clip.model)
    describer = Counting(clip)
    after = Pipeline(storage=storage, analyzer=analyzer, index=index, vectors=vectors, describer=describer)
    assert after.handle(StorageEvent(CREATED, ObjectRef("media", "old.png"), etag=etag, size=len(data))).action == "reused"
    assert (analyzer.calls, describer.pictures) == (1, 1)
    new = doc_of(index, "old.png")
    assert new["meaning_model"] == clip.model and vectors.has("meaning", new["content_sha256"], clip.model)
    # now it is unchanged for this model, and not for another one
    assert is_unchanged(new, etag=etag, size=len(data), analyzer="fake", face_model=None, meaning_model=clip.model)
    assert not is_unchanged(new, etag=etag, size=len(data), analyzer="fake", face_model=None,
                            meaning_model="titan-embed-image-v1:1024")
    assert after.handle(StorageEvent(CREATED, ObjectRef("media", "old.png"), etag=etag, size=len(data))).action == "unchanged"


def test_a_picture_known_to_get_no_vector_is_not_asked_again():
    doc = {"status": "indexed", "media_type": "image", "no_vectors": {"meaning": {"model": "m", "reason": "blank"}}}
    assert not docs.needs_meaning(doc, "m") and docs.needs_meaning(doc, "other")
    assert not docs.needs_meaning({"status": "indexed", "media_type": "image", "meaning_model": "m"}, "m")
    assert not docs.needs_meaning({"status": "indexed", "media_type": "video"}, "m")
    assert not docs.needs_meaning({"status": "failed", "media_type": "image"}, "m")
