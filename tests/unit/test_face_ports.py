"""The face ports as the adapters and fakes implement them, and how bootstrap wires the optional ones into People:
no use case asks which collection it has, so each implementation must carry the whole port it claims."""

from __future__ import annotations

import inspect

import pytest

from mediaindex import bootstrap
from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.adapters.faces.rekognition import RekognitionFaceCollection
from mediaindex.adapters.faces.rekognition_compare import RekognitionComparer
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.face_clusters import cluster_name, parse_cluster
from mediaindex.domain.model import Box, Face
from mediaindex.ports import FaceCollection, FaceComparer, FaceEmbedder, FaceMemory
from mediaindex.services.indexing import Pipeline
from mediaindex.services.people import People
from tests.fakes import FakeAnalyzer, FakeFaces, FakeIndex, FakeStorage


def members(port: type) -> dict[str, inspect.Signature | None]:
    """The port's methods (with their signatures) and attributes (None)."""
    found: dict[str, inspect.Signature | None] = {name: None for name in getattr(port, "__annotations__", {})}
    for name, value in vars(port).items():
        if not name.startswith("_") and callable(value):
            found[name] = inspect.signature(value)
    return found


def missing(port: type, implementation: type) -> list[str]:
    """What `implementation` lacks of `port`: a member, or a parameter of a method (extra ones need defaults)."""
    gaps = []
    for name, wanted in members(port).items():
        if wanted is None:  # an attribute: set by __init__, so looked for in the class's annotations or __init__
            source = inspect.getsource(implementation)
            if f"self.{name} =" not in source and name not in getattr(implementation, "__annotations__", {}):
                gaps.append(name)
            continue
        method = getattr(implementation, name, None)
        if not callable(method):
            gaps.append(name)
            continue
        have = inspect.signature(method).parameters
        for parameter in wanted.parameters:
            if parameter not in have:
                gaps.append(f"{name}({parameter})")
        for parameter, spec in have.items():
            if parameter not in wanted.parameters and spec.default is inspect.Parameter.empty \
                    and spec.kind not in (spec.VAR_POSITIONAL, spec.VAR_KEYWORD):
                gaps.append(f"{name}: extra required {parameter}")
    return gaps


@pytest.mark.parametrize("implementation", [LocalFaceCollection, RekognitionFaceCollection, FakeFaces])
def test_every_collection_implements_the_whole_face_collection_port(implementation):
    assert missing(FaceCollection, implementation) == []


def test_the_local_collection_is_a_face_memory_and_the_comparer_a_face_comparer():
    assert missing(FaceMemory, LocalFaceCollection) == []
    assert missing(FaceComparer, RekognitionComparer) == []


def test_rekognition_keeps_no_marks_and_needs_nothing_remembered():
    collection = RekognitionFaceCollection(Settings(analyzer="rekognition", collection_id="faces"), client=object())
    assert collection.hidden_boxes("abc") == [] and collection.has_remembered("abc", 3)


def test_the_local_collection_says_when_faces_are_not_remembered(tmp_path):
    collection = LocalFaceCollection(Settings(home=tmp_path))
    vector = [1.0] + [0.0] * 127
    collection.remember("pic", [Face(Box(0.1, 0.1, 0.2, 0.2), 99.0, embedding=vector)])
    assert collection.has_remembered("pic", 1) and not collection.has_remembered("pic", 2)
    assert not collection.has_remembered("other", 1)
    collection.close()


def test_removing_a_source_keeps_the_faces_asked_for(tmp_path):
    collection = LocalFaceCollection(Settings(home=tmp_path))
    kept = collection.enroll_embeddings("Ada", [[1.0] + [0.0] * 127], "ada.jpg")
    collection.enroll_embeddings("Ada", [[0.0, 1.0] + [0.0] * 126], "ada.jpg")
    assert collection.remove_source("ada.jpg", keep=kept) == 1
    assert collection.list_people() == {"Ada": 1} and collection.name_of(kept[0]) == "Ada"
    assert collection.remove_source("ada.jpg") == 1 and collection.is_empty()
    collection.close()


def test_the_fake_collection_enrols_and_forgets_as_a_collection_does():
    faces = FakeFaces(person=None)
    assert faces.is_empty()
    first = faces.enroll("Ada", None, "a.jpg")
    second = faces.enroll("Ada", None, "a.jpg")
    faces.enroll("Bob", None, "b.jpg")
    assert faces.list_people() == {"Ada": 2, "Bob": 1}
    assert faces.remove_source("a.jpg", keep=second) == 1 and faces.list_people() == {"Ada": 1, "Bob": 1}
    assert faces.remove_person("Bob") == 1 and not faces.is_empty()
    assert first != second


def test_cluster_ids_read_back_as_written():
    assert cluster_name(12) == "c12" and parse_cluster(" C12 ") == 12 and parse_cluster("7") == 7
    with pytest.raises(ConfigurationError, match="not a cluster id"):
        parse_cluster("cluster-3")


class Embedding(FakeAnalyzer):
    def face_vectors(self, picture):
        return []


def test_bootstrap_gives_people_the_local_collection_as_its_memory_and_the_analyzer_as_embedder(tmp_path):
    settings = Settings(home=tmp_path, features=("faces", "people"))
    collection = LocalFaceCollection(settings)
    analyzer = Embedding()
    people = bootstrap.build_people(settings, Pipeline(FakeStorage(), analyzer, FakeIndex(), faces=collection))
    assert people.memory is collection and people.embedder is analyzer and people.comparer is None
    assert isinstance(analyzer, FaceEmbedder) and not isinstance(FakeAnalyzer(), FaceEmbedder)
    plain = bootstrap.build_people(settings, Pipeline(FakeStorage(), FakeAnalyzer(), FakeIndex(), faces=FakeFaces()))
    assert plain.memory is None and plain.embedder is None  # a collection that keeps no vectors has no memory
    collection.close()


def test_bootstrap_gives_people_on_rekognition_a_comparer_and_no_memory():
    settings = Settings(analyzer="rekognition", collection_id="faces", features=("people",))
    client = object()
    collection = RekognitionFaceCollection(settings, client=client)
    people = bootstrap.build_people(settings, Pipeline(FakeStorage(), FakeAnalyzer(), FakeIndex(), faces=collection))
    assert people.memory is None and isinstance(people.comparer, RekognitionComparer)
    assert people.comparer.client is client


def test_people_without_a_face_memory_say_what_needs_the_local_collection():
    people = People(Settings(), Pipeline(FakeStorage(), FakeAnalyzer(), FakeIndex(), faces=FakeFaces()))
    for attempt in (lambda: people.merge_people("Ada", "Bob"), lambda: people.hide_face("doc", 0),
                    lambda: people.unhide_faces("doc"), lambda: people.clusters(),
                    lambda: people.split_cluster("c1", [("doc", 0)])):
        with pytest.raises(ConfigurationError, match="local face collection"):
            attempt()


def test_people_with_known_people_switched_off_say_so():
    people = People(Settings(), Pipeline(FakeStorage(), FakeAnalyzer(), FakeIndex(), faces=None))
    with pytest.raises(ConfigurationError, match="switched off"):
        people.rematch()
    with pytest.raises(ConfigurationError, match="switched off"):
        people.list_people()


def test_compare_goes_through_the_comparer_when_there_is_one():
    class Comparer:
        def compare(self, a, b):
            return [(0, 0, 91.5)], [Face(Box(0.1, 0.1, 0.2, 0.2), 99.0)], [Face(Box(0.5, 0.5, 0.2, 0.2), 98.0)], 2

    people = People(Settings(), Pipeline(FakeStorage(), FakeAnalyzer(), FakeIndex(), faces=FakeFaces()),
                    comparer=Comparer())
    result = people.compare(None, None)
    assert result["best"] == {"a": 0, "b": 0, "similarity": 91.5, "same_person": True} and result["api_calls"] == 2
