"""The local analyzer on an OpenSearch index: faces.db is mirrored into `<name>-faces` as files are indexed and
people enrolled or forgotten, and search by face runs in the cluster (osmem-server through opensearch-py, which
refuses `knn`, so the adapter's exact fallback answers there)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from mediaindex import bootstrap
from mediaindex.adapters.export.local_faces import LocalFaceVectorFile
from mediaindex.adapters.faces.cluster_mirror import ClusterMirroredFaces
from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.adapters.faces.local_store import default_path
from mediaindex.adapters.storage.folder import ref_for
from mediaindex.config import Settings
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.domain.model import Analysis, Box, Face
from mediaindex.ports import FACE, PERSON

COLOURS = [(250, 0, 0), (0, 250, 0), (0, 0, 250), (250, 250, 0), (9, 9, 9)]
FACES_PER_PICTURE = 3


def _embedding(seed) -> list[float]:
    rng = random.Random(repr(seed))
    return [rng.gauss(0, 1) for _ in range(128)]


class VectorAnalyzer:
    """Three faces a picture, whose 128-number vectors follow from the picture's colour and the face's place."""

    name = "vectors"
    face_model = None

    def analyze(self, picture) -> Analysis:
        colour = picture.image.getpixel((0, 0))
        faces = [Face(Box(0.05 + 0.3 * i, 0.1, 0.2, 0.2), 99.0, embedding=_embedding((colour, i)))
                 for i in range(FACES_PER_PICTURE)]
        return Analysis(analyzer=self.name, faces=faces)


@pytest.fixture
def app(tmp_path, osmem_clone):
    media = tmp_path / "media"
    media.mkdir()
    for n, colour in enumerate(COLOURS):
        buf = io.BytesIO()
        Image.new("RGB", (32, 32), colour).save(buf, "PNG")
        (media / f"{n}.png").write_bytes(buf.getvalue())
    settings = Settings(home=tmp_path / "home", index_url=osmem_clone.url, index_name="media", analyzer="local",
                        features=("labels", "faces", "people"))
    built = bootstrap.build_app(settings, analyzer=VectorAnalyzer())
    for path in sorted(media.iterdir()):
        built.pipeline.handle(StorageEvent(CREATED, ref_for(path)))
    yield built
    built.faces.close()


def _cluster_ids(app, kind):
    vectors = app.index.face_vectors()
    vectors.refresh()
    return {hit["_id"] for hit in vectors._scan({"term": {"kind": kind}})}


def _local_ids(app, kind):
    source = LocalFaceVectorFile(default_path(app.settings))
    try:
        return {v.id for v in source.iter_vectors(kind)}
    finally:
        source.close()


def test_indexed_faces_reach_the_cluster_under_the_ids_migrate_gives_them(app):
    assert isinstance(app.faces, ClusterMirroredFaces) and app.people.memory is app.faces
    expected = _local_ids(app, FACE)
    assert len(expected) == len(COLOURS) * FACES_PER_PICTURE
    assert _cluster_ids(app, FACE) == expected
    assert app.faces.mirror_failures == 0


def test_search_by_face_runs_in_the_cluster_and_answers_as_faces_db(app, monkeypatch):
    probe = _embedding(((0, 0, 250), 1))
    local = app.faces.local.nearest(probe, k=6)
    app.index.face_vectors().refresh()
    monkeypatch.setattr(app.faces.local, "nearest", lambda *a, **k: pytest.fail("searched locally"))
    remote = app.faces.nearest(probe, k=6)
    assert [ref for ref, _ in remote] == [ref for ref, _ in local]
    assert [s for _, s in remote] == pytest.approx([s for _, s in local], abs=0.01)
    assert remote[0][1] == pytest.approx(100.0, abs=0.01)  # the probe is that face's own vector
    assert app.faces.vectors.knn_refused  # osmem has no k-NN: the exact fallback in the cluster answered
    floor = app.faces.nearest(probe, k=6, min_similarity=99.0)
    assert [ref for ref, _ in floor] == [remote[0][0]]


def test_enrolled_people_follow_enrolment_merges_and_removals(app):
    faces = app.faces
    ada = faces.enroll_embeddings("Ada", [_embedding("ada1"), _embedding("ada2")], source="/photos/ada.jpg")
    faces.enroll_embeddings("Bob", [_embedding("bob")], source="/photos/bob.jpg")
    bob = {f"person:{i}" for i in _local_face_ids(app, "Bob")}
    assert _cluster_ids(app, PERSON) == _local_ids(app, PERSON) == {f"person:{i}" for i in ada} | bob

    faces.merge_people("Bob", "Ada")
    people = app.index.face_vectors().nearest_vectors([1.0] * 128, faces.space, k=10, kind=PERSON)
    assert {v.fields["person"] for v, _ in people} == {"Ada"} and len(people) == 3

    replaced = faces.replace_source("Ada", "/photos/ada.jpg", [_embedding("ada3")])
    assert _cluster_ids(app, PERSON) == _local_ids(app, PERSON) and f"person:{replaced[0]}" in _local_ids(app, PERSON)
    assert faces.remove_source("/photos/bob.jpg") == 1
    assert _cluster_ids(app, PERSON) == {f"person:{replaced[0]}"}
    assert faces.remove_person("Ada") == 1
    assert _cluster_ids(app, PERSON) == set() == _local_ids(app, PERSON)


def _local_face_ids(app, person):
    source = LocalFaceVectorFile(default_path(app.settings))
    try:
        return {v.id.split(":", 1)[1] for v in source.iter_vectors(PERSON) if v.fields["person"] == person}
    finally:
        source.close()


def test_hidden_faces_leave_the_cluster_and_the_rest_move_down(app):
    sha = sorted({i.split(":")[2] for i in _local_ids(app, FACE)})[0]
    app.faces.hide_face(sha, 0, Box(0.05, 0.1, 0.2, 0.2))
    assert _cluster_ids(app, FACE) == _local_ids(app, FACE)
    assert {i for i in _cluster_ids(app, FACE) if sha in i} == {f"face:{app.faces.space.id}:{sha}:{n}" for n in (0, 1)}
    assert app.faces.unhide_faces(sha) == 1
    assert not {i for i in _cluster_ids(app, FACE) if sha in i}


def test_a_cluster_that_cannot_be_written_loses_nothing_locally(tmp_path, caplog):
    def unreachable():
        raise ConnectionError("no cluster")

    local = LocalFaceCollection(Settings(home=tmp_path), path=tmp_path / "faces.db")
    faces = ClusterMirroredFaces(local, unreachable)
    faces.remember("abc", [Face(Box(0.1, 0.1, 0.2, 0.2), 99.0, embedding=_embedding(1))])
    faces.enroll_embeddings("Ada", [_embedding(2)], source="/photos/ada.jpg")
    assert local.remembered_count("abc") == 1 and local.list_people() == {"Ada": 1}
    assert faces.mirror_failures == 2 and "migrate --to" in caplog.text
    # searching falls back to faces.db while the cluster is away
    assert [ref.content_sha256 for ref, _ in faces.nearest(_embedding(1), k=1)] == ["abc"]
    faces.close()


def test_only_the_local_analyzer_on_opensearch_is_mirrored(tmp_path):
    on_sqlite = bootstrap.build_app(Settings(home=tmp_path, analyzer="local"))
    assert type(on_sqlite.faces) is LocalFaceCollection
    rekognition = bootstrap.build_app(Settings(home=tmp_path, analyzer="rekognition", index_url="http://localhost:1",
                                               collection_id="people"), rekognition=object())
    from mediaindex.adapters.faces.rekognition import RekognitionFaceCollection

    assert type(rekognition.faces) is RekognitionFaceCollection


def test_a_resync_writes_back_what_the_cluster_missed(app):
    vectors = app.index.face_vectors()
    app.faces.enroll_embeddings("Ada", [_embedding("ada")], source="/photos/ada.jpg")
    vectors.delete_vectors(sorted(_cluster_ids(app, FACE))[:4])
    assert len(_cluster_ids(app, FACE)) == len(_local_ids(app, FACE)) - 4
    assert app.faces.resync() == len(_local_ids(app, FACE)) + 1
    assert _cluster_ids(app, FACE) == _local_ids(app, FACE) and _cluster_ids(app, PERSON) == _local_ids(app, PERSON)
