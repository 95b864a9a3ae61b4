"""The local face collection on synthetic vectors: matching, persistence, exact nearest search, clusters."""

from __future__ import annotations

import numpy as np
import pytest

from mediaindex.adapters.faces.local import FaceRef, LocalFaceCollection, default_path
from mediaindex.adapters.faces.vectors import box_json
from mediaindex.domain import face_vectors
from mediaindex.config import Settings
from mediaindex.domain.errors import BadMedia
from mediaindex.domain.model import Box, Face
from tests.people.vectors import person, photo_of

ADA, BOB, CAROL = person(1), person(2), person(3)


def face(embedding, left=0.1, size=0.2) -> Face:
    return Face(Box(left, 0.1, size, size), 99.0, embedding=embedding)


@pytest.fixture
def collection(tmp_path):
    # the synthetic vectors are shaped like dlib's (tests/people/vectors.py), so they are matched in its space
    c = LocalFaceCollection(Settings(home=tmp_path), space=face_vectors.DLIB)
    yield c
    c.close()


def test_lives_beside_a_sqlite_index_or_in_home(tmp_path):
    assert default_path(Settings(home=tmp_path)) == tmp_path / "faces.db"
    assert default_path(Settings(home=tmp_path, index_url=f"sqlite:///{tmp_path}/lib/demo.db")) == tmp_path / "lib" / "demo.faces.db"
    assert default_path(Settings(home=tmp_path, index_url="http://localhost:9200")) == tmp_path / "faces.db"


def test_each_vector_space_puts_its_measured_boundary_at_80():
    dlib, sface = face_vectors.DLIB, face_vectors.SFACE
    assert dlib.similarity(0.6 ** 2) == pytest.approx(80.0)
    assert dlib.similarity(0.0) == 100.0 and dlib.similarity(25.0) == 0.0
    # unit vectors: squared distance 2 - 2 cos; the boundary cosine is 80, cos 1 is 100, and the inverse agrees
    assert sface.similarity(2 - 2 * face_vectors.SFACE_BOUNDARY) == pytest.approx(80.0)
    assert sface.similarity(0.0) == 100.0 and sface.similarity(4.0) >= 0.0
    for space in (dlib, sface):
        for s in (60.0, 80.0, 95.0):
            assert space.similarity(space.squared_distance_for(s)) == pytest.approx(s)
    arr = sface.similarity(np.array([0.0, 2 - 2 * face_vectors.SFACE_BOUNDARY]))
    assert arr.tolist() == pytest.approx([100.0, 80.0])


def test_identify_names_enrolled_people_above_the_threshold_only(collection):
    assert collection.is_empty()
    collection.enroll_embeddings("Ada", [photo_of(ADA, 1)], source="ada.jpg")
    assert not collection.is_empty()
    matches, calls = collection.identify(None, [face(photo_of(ADA, 2)), face(photo_of(BOB, 3)), Face(Box(0, 0, 1, 1), 90.0)])
    assert calls == 0
    assert matches[0] is not None and matches[0].person == "Ada" and matches[0].similarity >= 80
    assert matches[1] is None and matches[2] is None


def test_the_best_of_several_people_wins(collection):
    collection.enroll_embeddings("Ada", [photo_of(ADA, 1)], "a")
    collection.enroll_embeddings("Bob", [photo_of(BOB, 1), photo_of(BOB, 2)], "b")
    assert [m.person for m in collection.match_embeddings([photo_of(BOB, 5), photo_of(ADA, 6)])] == ["Bob", "Ada"]
    assert collection.list_people() == {"Ada": 1, "Bob": 2}


def test_enrol_takes_the_largest_face_and_refuses_a_picture_without_one(collection):
    small, large = face(photo_of(BOB, 1), size=0.1), face(photo_of(ADA, 1), left=0.4, size=0.4)
    ids = collection.enroll("Ada", None, "two.jpg", faces=[small, large])
    assert len(ids) == 1 and collection.name_of(ids[0]) == "Ada"
    assert collection.match_embeddings([photo_of(BOB, 2)]) == [None]
    with pytest.raises(BadMedia):
        collection.enroll("Ada", None, "none.jpg", faces=[])


def test_remove_by_person_and_by_source(collection):
    collection.enroll_embeddings("Ada", [photo_of(ADA, 1)], "ada1.jpg")
    collection.enroll_embeddings("Ada", [photo_of(ADA, 2)], "ada2.jpg")
    collection.enroll_embeddings("Bob", [photo_of(BOB, 1)], "bob.jpg")
    assert collection.remove_source("ada1.jpg") == 1
    assert collection.list_people() == {"Ada": 1, "Bob": 1}
    assert collection.remove_person("Ada") == 1 and collection.remove_person("Ada") == 0
    assert collection.match_embeddings([photo_of(ADA, 3)]) == [None]
    assert collection.list_people() == {"Bob": 1}


def test_survives_a_restart_and_sees_another_process_writes(tmp_path):
    first = LocalFaceCollection(Settings(home=tmp_path))
    second = LocalFaceCollection(Settings(home=tmp_path))
    assert second.is_empty()
    first.enroll_embeddings("Ada", [photo_of(ADA, 1)], "a")
    first.remember("sha-1", [face(photo_of(BOB, 1))])
    assert not second.is_empty()  # the other connection's write is noticed without a restart
    assert second.nearest(photo_of(BOB, 2), k=1)[0][0] == FaceRef("sha-1", 0)
    first.close(), second.close()
    again = LocalFaceCollection(Settings(home=tmp_path))
    assert again.list_people() == {"Ada": 1} and again.remembered_count("sha-1") == 1


def test_remembered_faces_are_matched_again_by_content(collection):
    collection.remember("sha-x", [face(photo_of(ADA, 1)), Face(Box(0, 0, 1, 1), 50.0), face(photo_of(BOB, 1))])
    assert collection.matches_for_content("sha-x") == [None, None, None]
    collection.enroll_embeddings("Bob", [photo_of(BOB, 2)], "b")
    matches = collection.matches_for_content("sha-x")
    assert matches[0] is None and matches[1] is None and matches[2].person == "Bob"
    assert collection.matches_for_content("unknown") is None


def test_remembering_the_same_picture_twice_keeps_one_copy(collection):
    collection.remember("sha-1", [face(photo_of(ADA, 1))])
    collection.remember("sha-1", [face(photo_of(ADA, 1))])
    assert collection.remembered_count("sha-1") == 1


def test_nearest_is_exact(collection):
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(500, 128)).astype(np.float32) * 0.1
    for i in range(0, 500, 50):  # in batches, as pictures arrive
        collection.remember(f"sha-{i}", [face(list(v)) for v in vectors[i:i + 50]])
    query = vectors[123] + 0.01
    found = collection.nearest(query, k=5)
    brute = np.argsort(np.linalg.norm(vectors - query, axis=1))[:5]
    assert [(r.content_sha256, r.face_index) for r, _ in found] == [(f"sha-{b // 50 * 50}", b % 50) for b in brute]
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert all(s >= 99 for _, s in collection.nearest(query, k=100, min_similarity=99))


def test_unnamed_faces_cluster_with_stable_ids_and_bridges_merge(collection):
    collection.remember("p1", [face(photo_of(CAROL, 1, 0.2))])
    first = collection.clusters()
    (cid,) = first.keys()
    collection.remember("p2", [face(photo_of(CAROL, 2, 0.2)), face(photo_of(BOB, 1, 0.2))])
    clusters = collection.clusters()
    assert cid in clusters and {m.ref for m in clusters[cid]} == {FaceRef("p1", 0), FaceRef("p2", 0)}
    assert len(clusters) == 2  # Bob alone
    # two faces far apart form two clusters; a face between them joins both, and they merge into the older
    a = person(9)
    far = a + 0.9 * person(10)  # 0.9 apart: similarity 70, below the threshold; the middle is 85 from each
    collection.remember("q1", [face(list(a))])
    collection.remember("q2", [face(list(far))])
    older = collection.cluster_of(FaceRef("q1", 0))
    assert older != collection.cluster_of(FaceRef("q2", 0))
    collection.remember("q3", [face(list((a + far) / 2))])
    assert collection.cluster_of(FaceRef("q2", 0)) == collection.cluster_of(FaceRef("q3", 0)) == older


def test_named_faces_leave_the_clusters(collection):
    collection.remember("p1", [face(photo_of(CAROL, 1, 0.2)), face(photo_of(BOB, 1, 0.2))])
    collection.remember("p2", [face(photo_of(CAROL, 2, 0.2))])
    collection.enroll_embeddings("Carol", [photo_of(CAROL, 3, 0.2)], "c")
    clusters = collection.clusters()
    assert [m.ref for members in clusters.values() for m in members] == [FaceRef("p1", 1)]
    assert len(collection.clusters(unnamed_only=False)) == 2


def test_all_matches_agrees_with_matching_each_picture(collection):
    collection.remember("one", [face(photo_of(ADA, 1)), face(photo_of(BOB, 1))])
    collection.remember("two", [face(photo_of(CAROL, 1))])
    assert collection.all_matches() == {"one": [None, None], "two": [None]}
    collection.enroll_embeddings("Ada", [photo_of(ADA, 2)], "a")
    collection.enroll_embeddings("Carol", [photo_of(CAROL, 2)], "c")
    table = collection.all_matches(chunk=2)  # chunks that split a picture's faces
    assert table == {sha: collection.matches_for_content(sha) for sha in ("one", "two")}
    assert [m.person if m else None for m in table["one"]] == ["Ada", None] and table["two"][0].person == "Carol"


def test_threads_share_one_collection(collection):
    import threading

    errors = []

    def work(n):
        try:
            for i in range(30):
                collection.remember(f"t{n}-{i}", [face(photo_of(ADA if i % 2 else BOB, 100 * n + i))])
                collection.identify(None, [face(photo_of(ADA, i))])
            collection.enroll_embeddings(f"P{n}", [photo_of(person(50 + n), 1)], f"p{n}")
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    assert collection.stats()["remembered_faces"] == 120 and len(collection.list_people()) == 4
    assert len(collection.clusters(unnamed_only=False)) == 2  # Ada's and Bob's faces, from every thread


def test_a_vector_of_another_model_is_a_clear_configuration_error(collection):
    from mediaindex.domain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="128"):
        collection.remember("x", [face([0.1] * 512)])


# ---- vectors of two models ----------------------------------------------------------------------------------------
def test_vectors_of_another_model_are_never_compared_and_are_listed_as_stale(tmp_path):
    settings = Settings(home=tmp_path)
    old = LocalFaceCollection(settings, space=face_vectors.DLIB)
    old.enroll_embeddings("Ada", [photo_of(ADA, 1)], source="/photos/ada.jpg")
    old.remember("pic", [face(photo_of(ADA, 2))])
    old.close()
    new = LocalFaceCollection(settings, space=face_vectors.SFACE)
    assert new.is_empty()  # Ada's only face is dlib's: nothing to match SFace vectors against
    assert new.match_embeddings([photo_of(ADA, 3)]) == [None]
    assert new.nearest(photo_of(ADA, 2)) == [] and new.clusters() == {}
    assert new.stale() == {"enrolments": [("Ada", "/photos/ada.jpg")], "remembered_faces": 1}
    # a face that says it is dlib's is not matched even when SFace vectors of the same person are enrolled
    new.enroll_embeddings("Ada", [photo_of(ADA, 4)], source="/photos/ada.jpg", replace_source=True)
    assert new.stale()["enrolments"] == []
    dlib_face = Face(Box(0, 0, 0.5, 0.5), 99.0, embedding=photo_of(ADA, 5), embedding_space=face_vectors.DLIB.id)
    assert new.identify(None, [dlib_face, face(photo_of(ADA, 5))])[0][0] is None
    assert new.identify(None, [face(photo_of(ADA, 5))])[0][0].person == "Ada"
    # the picture analysed again with the new model: its dlib faces make way for the new ones
    new.remember("pic", [face(photo_of(ADA, 2))])
    assert new.stale()["remembered_faces"] == 0 and new.remembered_count("pic") == 1
    new.close()


def test_a_faces_db_from_before_models_were_recorded_is_read_as_dlibs(tmp_path):
    import sqlite3

    path = tmp_path / "faces.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE enrolled (face_id TEXT PRIMARY KEY, person TEXT NOT NULL, source TEXT NOT NULL,
                               embedding BLOB NOT NULL, created_at TEXT);
        CREATE TABLE remembered (id INTEGER PRIMARY KEY, content_sha256 TEXT NOT NULL, face_index INTEGER NOT NULL,
                                 box TEXT NOT NULL, embedding BLOB NOT NULL, cluster INTEGER NOT NULL,
                                 UNIQUE (content_sha256, face_index));
    """)
    vector = np.asarray(photo_of(BOB, 1), dtype=np.float32).tobytes()
    db.execute("INSERT INTO enrolled VALUES ('f1', 'Bob', '/bob.jpg', ?, '2024-01-01')", (vector,))
    db.commit()
    db.close()
    as_dlib = LocalFaceCollection(Settings(home=tmp_path), path=path, space=face_vectors.DLIB)
    assert as_dlib.match_embeddings([photo_of(BOB, 2)])[0].person == "Bob"
    as_dlib.close()
    as_sface = LocalFaceCollection(Settings(home=tmp_path), path=path)
    assert as_sface.stale()["enrolments"] == [("Bob", "/bob.jpg")] and as_sface.stats()["face_model"] == face_vectors.SFACE.id
    as_sface.close()


# ---- the cluster listing --------------------------------------------------------------------------------------------
def full_listing(c, min_size, unnamed_only):
    """The listing made the long way, as it was before: every remembered face of the space read and matched by
    brute force against every enrolled face, grouped by its cluster, small clusters dropped after the named faces."""
    rows = c.store.db.execute("SELECT cluster, content_sha256, face_index, box, embedding FROM remembered WHERE model = ? "
                        "ORDER BY id", (c.space.id,)).fetchall()
    enrolled = np.array([np.frombuffer(r[0], dtype=np.float32) for r in
                         c.store.db.execute("SELECT embedding FROM enrolled WHERE model = ?", (c.space.id,))])
    groups: dict[int, list] = {}
    for cluster, sha, index, box, blob in rows:
        vector = np.frombuffer(blob, dtype=np.float32).astype(np.float64)
        if unnamed_only and len(enrolled):
            closest = float(((enrolled - vector) ** 2).sum(axis=1).min())
            if c.space.similarity(closest) >= c.threshold:
                continue
        groups.setdefault(cluster, []).append((sha, index, box, blob))
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [(f"c{cluster}", members) for cluster, members in ordered if len(members) >= max(min_size, 1)]


def listed(c, min_size, unnamed_only):
    import json

    return [(cid, [(m.ref.content_sha256, m.ref.face_index, json.dumps(box_json(m.box)), m.embedding.tobytes())
                   for m in members])
            for cid, members in c.clusters(min_size=min_size, unnamed_only=unnamed_only).items()]


def test_the_listing_reads_only_big_enough_clusters_and_matches_what_reading_everything_gives(collection):
    rng = np.random.default_rng(7)
    people = [person(200 + i) for i in range(14)]
    # chains of faces 0.25 apart, one cluster each: a face enrolled at one end names the first faces of its chain
    # only (0.6 apart is the boundary), so clusters shrink by a few named faces and some fall below min_size
    chains = []
    for i in range(6):
        step = person(300 + i) - people[i]
        step *= 0.25 / np.linalg.norm(step)
        chains.append([people[i] + t * step for t in range(int(rng.integers(2, 9)))])
    faces = [(f"chain{i}-{t}", v) for i, chain in enumerate(chains) for t, v in enumerate(chain)]
    for i in range(6, 14):  # clusters of 1 to 7 faces, some of them people enrolled below
        faces += [(f"p{i}-{k}", np.array(photo_of(people[i], 1000 * i + k, 0.15))) for k in range(int(rng.integers(1, 8)))]
    order = rng.permutation(len(faces))
    for batch in np.array_split(order, 3):  # remembered in three goes, clustered incrementally between them
        for n in batch:
            sha, vector = faces[n]
            collection.remember(sha, [face(list(vector), left=float(rng.uniform(0, 0.5)))])
        collection.clusters(min_size=2)
    for i in (0, 1, 2, 6, 7):
        collection.enroll_embeddings(f"P{i}", [list(people[i] + 0.01)], f"p{i}")
    # a face of another model under the number of a small cluster: never listed with it
    smallest = min(collection.clusters(min_size=1, unnamed_only=False).items(), key=lambda item: len(item[1]))
    collection.store.db.execute("INSERT INTO remembered (content_sha256, face_index, box, embedding, cluster, model) "
                          "VALUES ('other', 0, '{}', ?, ?, 'another-model')",
                          (np.zeros(128, dtype=np.float32).tobytes(), int(smallest[0][1:])))
    sizes = {len(m) for m in collection.clusters(min_size=1, unnamed_only=True).values()}
    assert len(sizes) > 2  # the sizes vary, so each min_size below keeps a different set
    for min_size in range(0, 10):
        for unnamed_only in (False, True):
            expected = full_listing(collection, min_size, unnamed_only)
            assert listed(collection, min_size, unnamed_only) == expected, (min_size, unnamed_only)
    named_away = [cid for cid, members in full_listing(collection, 1, False)
                  if len(members) > len(dict(full_listing(collection, 1, True)).get(cid, []))]
    assert named_away  # some clusters lost named faces, so unnamed_only had something to remove
