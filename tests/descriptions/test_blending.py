"""Search by description end to end on the tiny CLIP model: pictures indexed through the real pipeline get their
meaning vector, and free text blends the keyword ranking with the pictures nearest its meaning (reciprocal rank
fusion), within the query's filters; without an embedder nothing changes."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaindex.adapters.embeddings.clip_onnx import ClipEmbedder
from mediaindex.domain.errors import TransientError
from mediaindex.domain.fusion import K, reciprocal_rank_fusion
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import parse_query
from mediaindex.ports import ObjectRef
from mediaindex.services.indexing import Pipeline
from mediaindex.services.search import POOL, run_search
from tests.descriptions.conftest import NAME, coloured
from tests.fakes import FakeAnalyzer, FakeStorage

TODAY = date(2026, 12, 7)
COLOURS = {"red": (220, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 220)}
KEYS = {"red": "p1.png", "green": "p2.png", "blue": "p3.png"}


def test_fusion_adds_reciprocal_ranks():
    fused = reciprocal_rank_fusion(["a", "b", "c"], ["c", "d"])
    scores = dict(fused)
    assert scores["c"] == pytest.approx(1 / (K + 3) + 1 / (K + 1))
    assert scores["a"] == pytest.approx(1 / (K + 1)) and scores["d"] == pytest.approx(1 / (K + 2))
    assert [doc_id for doc_id, _ in fused] == ["c", "a", "b", "d"]


@settings(deadline=None, max_examples=200)
@given(st.lists(st.lists(st.sampled_from("abcdefghij"), max_size=10), max_size=3))
def test_fusion_keeps_every_id_once_and_an_id_first_in_every_list_wins(rankings):
    fused = reciprocal_rank_fusion(*rankings)
    ids = [doc_id for doc_id, _ in fused]
    assert sorted(ids) == sorted({d for r in rankings for d in r})
    assert all(a[1] >= b[1] for a, b in zip(fused, fused[1:]))
    firsts = {r[0] for r in rankings if r}
    if len(firsts) == 1 and all(rankings):
        assert ids[0] in firsts


@pytest.fixture(scope="session")
def clip(models_dir):
    return ClipEmbedder(models_dir, NAME)


def index_library(clip, stores, files: dict[str, bytes]):
    index, vectors = stores
    storage = FakeStorage()
    pipeline = Pipeline(storage=storage, analyzer=FakeAnalyzer(), index=index, vectors=vectors, describer=clip)
    for key, data in files.items():
        storage.write(key, data)
        outcome = pipeline.handle(StorageEvent(CREATED, ObjectRef("media", key)))
        assert outcome.action in ("indexed", "reused"), outcome
    return index, vectors


@pytest.fixture
def library(clip, stores):
    # neutral names: no keyword (a file name, a label) says which colour a picture is
    files = {f"{folder}/{KEYS[name]}": coloured(colour, seed=i + (10 if folder == "b" else 0))
             for folder in ("a", "b") for i, (name, colour) in enumerate(COLOURS.items())}
    return index_library(clip, stores, files)


def search(library, text, describer=None, **options):
    index, vectors = library
    return run_search(index, Query(where=parse_query(text, TODAY), **options), describer=describer, vectors=vectors)


def keys(answer) -> list[str]:
    return [hit["key"] for hit in answer.result.hits]


def test_a_description_no_label_names_finds_the_pictures_nearest_its_meaning(library, clip):
    assert search(library, "red").result.total == 0  # no label, text or name says red: keywords find nothing
    answer = search(library, "a red car", clip)
    assert answer.described == clip.model and answer.not_understood == ()
    assert set(keys(answer)[:2]) == {"a/" + KEYS["red"], "b/" + KEYS["red"]}
    assert keys(answer)[-2:] != ["a/" + KEYS["red"], "b/" + KEYS["red"]] and answer.result.total == 6
    assert answer.by_description == {hit["id"] for hit in answer.result.hits}
    blue = search(library, "blue", clip)
    assert set(keys(blue)[:2]) == {"a/" + KEYS["blue"], "b/" + KEYS["blue"]}


def test_keywords_and_description_are_blended(library, clip):
    # every picture is labelled "Thing"; "thing" ranks them all alike, the description puts the green ones first
    plain = search(library, "thing")
    assert plain.result.total == 6 and plain.described is None
    blended = search(library, "green thing", clip)
    assert set(keys(blended)[:2]) == {"a/" + KEYS["green"], "b/" + KEYS["green"]} and blended.result.total == 6


def test_the_query_filters_bound_the_description(library, clip):
    answer = search(library, "red path:b/", clip)
    assert keys(answer)[0] == "b/" + KEYS["red"] and all(key.startswith("b/") for key in keys(answer))
    assert answer.result.total == 3


def test_paging_walks_the_blended_list(library, clip):
    whole = keys(search(library, "red", clip, limit=6))
    pages = [keys(search(library, "red", clip, limit=2, offset=offset)) for offset in (0, 2, 4)]
    assert sum(pages, []) == whole
    assert library[1].nearest_calls[-1] == {"kind": "meaning", "model": clip.model, "k": POOL}


def test_without_an_embedder_or_with_another_sort_free_text_stays_keywords_only(library, clip):
    index, _ = library
    assert keys(search(library, "thing")) == keys(run_search(index, Query(where=parse_query("thing", TODAY))))
    by_key = search(library, "red", clip, sort=Sort.parse("key"))
    assert by_key.described is None and by_key.result.total == 0


class Throttled:
    def __init__(self, model: str) -> None:
        self.model, self.dimensions = model, 3

    def embed_image(self, picture):
        raise TransientError("throttled")

    def embed_text(self, text):
        raise TransientError("throttled")


def test_a_throttled_embedder_leaves_the_keyword_answer(library, clip):
    answer = search(library, "thing", Throttled(clip.model))
    assert answer.described is None and keys(answer) == keys(search(library, "thing"))


def test_vectors_of_another_model_are_never_compared(library, clip):
    other = Throttled("clip-onnx:another-model")
    other.embed_text = clip.embed_text  # the same numbers, another space
    answer = search(library, "red", other)
    assert answer.described == "clip-onnx:another-model" and answer.result.total == 0


def test_the_same_blend_on_opensearch(clip, osmem_clone):
    """The meaning vectors in the OpenSearch store beside the documents (osmem-server refuses the k-NN query: the
    store's exact fallback answers), the filters through ContentIn in the cluster's query."""
    from tests.conftest import opensearch_index

    index = opensearch_index(osmem_clone.url)
    index.ensure_ready()
    vectors = index.picture_vectors()
    files = {f"{folder}/{KEYS[name]}": coloured(colour, seed=i + (10 if folder == "b" else 0))
             for folder in ("a", "b") for i, (name, colour) in enumerate(COLOURS.items())}
    library = index_library(clip, (index, vectors), files)
    index.refresh()
    vectors.refresh()
    answer = search(library, "red", clip)
    assert set(keys(answer)[:2]) == {"a/" + KEYS["red"], "b/" + KEYS["red"]} and answer.result.total == 6
    filtered = search(library, "red path:b/", clip)
    assert keys(filtered)[0] == "b/" + KEYS["red"] and filtered.result.total == 3
