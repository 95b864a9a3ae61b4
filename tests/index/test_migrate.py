"""`mediaindex migrate`: an embedded index (SQLite documents, the local collection's faces and people) copied into
OpenSearch (osmem-server through opensearch-py), resumed after an interruption, and checked by counts."""

from __future__ import annotations

import json
import random

import pytest

from mediaindex.adapters.checkpoint.file import StateFile
from mediaindex.adapters.export.local_faces import LocalFaceVectorFile
from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.config import Settings
from mediaindex.domain.face_vectors import SFACE
from mediaindex.domain.model import Box
from mediaindex.entrypoints.cli import main
from mediaindex.services.migrate import CountMismatch, Migration
from tests.conftest import opensearch_index
from tests.index.corpus import corpus, random_doc

DOCUMENTS = 300
FACES = 130
BATCH = 50


def _embedding(rng: random.Random) -> list[float]:
    return [rng.gauss(0, 1) for _ in range(128)]


@pytest.fixture
def embedded(tmp_path):
    """A SQLite index of the test corpus and generated documents (every status), and its faces.db with remembered
    faces and two enrolled people, as `mediaindex index` and `people add` leave them."""
    rng = random.Random(7)
    index = SqliteIndex(str(tmp_path / "index.db"))
    index.ensure_ready()
    docs = corpus() + [random_doc(rng, n) for n in range(DOCUMENTS)]
    index.put_many(docs)
    collection = LocalFaceCollection(Settings(home=tmp_path), path=tmp_path / "faces.db", space=SFACE)
    collection.import_faces((f"sha{n // 2}", n % 2, Box(0.1, 0.1, 0.2, 0.2), _embedding(rng)) for n in range(FACES))
    collection.enroll_embeddings("Ada", [_embedding(rng), _embedding(rng)], source="/photos/ada.jpg")
    collection.enroll_embeddings("Bob", [_embedding(rng)], source="/photos/bob.jpg")
    collection.close()
    yield {"index": index, "docs": docs, "faces_db": tmp_path / "faces.db", "home": tmp_path,
           "collection": LocalFaceCollection(Settings(home=tmp_path), path=tmp_path / "faces.db", space=SFACE)}
    index.close()


def _migration(embedded, url, progress=None, batch_size=BATCH, name="media"):
    target = opensearch_index(url, name)
    state = StateFile(embedded["home"] / "migrate.json", f"test -> {url}")
    return Migration(embedded["index"], target, state, source_vectors=LocalFaceVectorFile(embedded["faces_db"]),
                     target_vectors=target.face_vectors(), batch_size=batch_size, progress=progress), target


def _statuses(docs):
    return {s: sum(d["status"] == s for d in docs) for s in ("indexed", "failed", "deleted")}


def test_everything_is_copied_and_verified_by_counts(embedded, osmem_clone):
    migration, target = _migration(embedded, osmem_clone.url)
    report = migration.run()
    expected = {**_statuses(embedded["docs"]), "faces": FACES, "people": 3}
    assert report.counts.verified and report.counts.source == expected and report.counts.target == expected
    assert report.copied == {"documents": len(embedded["docs"]), "faces": FACES, "people": 3}
    # the copy answers queries as the source does, and documents come back as they were written
    for query in ("dog", "person:ada", "status:failed", "NOT label:cat"):
        assert target.count(query) == embedded["index"].count(query), query
    some = embedded["docs"][5]
    assert target.get(some["id"]).doc == embedded["index"].get(some["id"]).doc
    # people keep their names and sources; face search in the cluster finds what the local collection finds
    vectors = target.face_vectors()
    ada = vectors.nearest_vectors([1.0] * 128, SFACE, k=10, kind="person")
    assert {v.fields["person"] for v, _ in ada} == {"Ada", "Bob"}
    probe = _embedding(random.Random(99))
    local = embedded["collection"].nearest(probe, k=10)
    remote = vectors.nearest_vectors(probe, SFACE, k=10)
    assert [(r.content_sha256, r.face_index) for r, _ in local] == \
        [(v.fields["content_sha256"], v.fields["face_index"]) for v, _ in remote]
    assert [s for _, s in local] == pytest.approx([s for _, s in remote], abs=0.01)  # the local one rounds to 0.01


def test_an_interrupted_copy_resumes_after_the_last_batch(embedded, osmem_clone):
    batches = []

    def stop_after_three(what, n):
        batches.append((what, n))
        if len(batches) == 3:
            raise KeyboardInterrupt

    migration, target = _migration(embedded, osmem_clone.url, progress=stop_after_three)
    with pytest.raises(KeyboardInterrupt):
        migration.run()
    target.refresh()
    stats = target.stats()
    assert stats["documents"] + stats["deleted"] == 3 * BATCH  # the three batches written before the stop
    saved = migration.checkpoint.load()
    assert not saved["done"] and saved["totals"]["documents"] == 3 * BATCH

    written: list[int] = []
    migration.progress = lambda what, n: written.append(n)
    report = migration.run()
    assert report.resumed and report.counts.verified
    assert report.copied["documents"] == len(embedded["docs"])  # the batches before and the rest now
    assert sum(written) == len(embedded["docs"]) - 3 * BATCH + FACES + 3  # nothing copied twice
    # a finished copy run again copies nothing and checks the counts again
    assert migration.run().copied == {"documents": 0, "faces": 0, "people": 0}


def test_an_interruption_among_the_face_vectors_resumes_there(embedded, osmem_clone):
    seen = []

    def stop_in_faces(what, n):
        seen.append(what)
        if what == "faces" and seen.count("faces") == 2:
            raise KeyboardInterrupt

    migration, target = _migration(embedded, osmem_clone.url, progress=stop_in_faces)
    with pytest.raises(KeyboardInterrupt):
        migration.run()
    migration.progress = lambda what, n: seen.append(f"again {what}")
    report = migration.run()
    assert report.counts.verified and "again documents" not in seen
    assert report.copied["faces"] == FACES


def test_a_missing_document_fails_the_count_check_loudly(embedded, osmem_clone):
    migration, target = _migration(embedded, osmem_clone.url)
    migration.run()
    lost = next(d for d in embedded["docs"] if d["status"] == "indexed")
    target.delete_document(lost["id"])
    target.refresh()
    with pytest.raises(CountMismatch) as caught:
        migration.verify()
    assert "indexed" in str(caught.value) and not caught.value.report.verified
    assert caught.value.report.target["indexed"] == caught.value.report.source["indexed"] - 1
    # --restart copies everything again, and the copy is whole once more
    assert migration.run(restart=True).counts.verified


def test_a_dry_run_says_what_and_how_much_and_writes_nothing(embedded, osmem_clone):
    migration, target = _migration(embedded, osmem_clone.url)
    target.client.indices.delete(index=target.concrete_name())
    plan = migration.plan()
    assert plan.source["faces"] == FACES and plan.source["people"] == 3
    assert plan.documents == len(embedded["docs"]) and plan.estimated_document_bytes > 100 * len(embedded["docs"])
    assert plan.estimated_vector_bytes > 0 and plan.resume is None
    assert not target.exists()


def test_the_command_copies_verifies_and_reports_json(embedded, osmem_clone, capsys):
    source = ["--index", f"sqlite:///{embedded['home'] / 'index.db'}", "--home", str(embedded["home"])]
    assert main(["migrate", "--to", osmem_clone.url, "--dry-run", "--json", *source]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["source"]["people"] == 3 and plan["face_vectors"]
    assert main(["migrate", "--to", osmem_clone.url, "--json", "--no-progress", *source]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] and report["target"]["faces"] == FACES
    assert main(["migrate", "--to", osmem_clone.url, *source]) == 0  # done already: verified again, in words
    assert "verified" in capsys.readouterr().out


def test_the_command_refuses_a_target_that_is_not_opensearch(embedded, capsys):
    source = ["--index", f"sqlite:///{embedded['home'] / 'index.db'}", "--home", str(embedded["home"])]
    assert main(["migrate", "--to", "sqlite:////tmp/other.db", *source]) == 2
    assert "http(s)://" in capsys.readouterr().err


def test_rekognition_deployments_copy_documents_only(embedded, osmem_clone):
    """Rekognition keeps its vectors inside its collection: nothing else is read, no faces index is made."""
    from mediaindex.bootstrap import build_app

    settings = Settings(home=embedded["home"], index_url=f"sqlite:///{embedded['home'] / 'index.db'}",
                        analyzer="rekognition")
    migration = build_app(settings, read_only=True).migration(osmem_clone.url)
    report = migration.run()
    assert report.counts.verified and report.copied["faces"] == 0 and report.counts.target["people"] == 0
    assert not migration.target.client.indices.exists_alias(name="media-faces")


def test_a_face_file_from_before_vectors_knew_their_model_is_read_as_dlib(tmp_path):
    """faces.db files older than the `model` column hold dlib's vectors (local_store.py migrates them so too)."""
    import sqlite3
    import struct

    path = tmp_path / "faces.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE remembered (id INTEGER PRIMARY KEY, content_sha256 TEXT, face_index INTEGER, box TEXT,
                                 embedding BLOB, cluster INTEGER);
        CREATE TABLE enrolled (face_id TEXT PRIMARY KEY, person TEXT, source TEXT, embedding BLOB, created_at TEXT);
    """)
    blob = struct.pack("<128f", *([0.5] * 128))
    db.execute("INSERT INTO remembered VALUES (1, 'sha', 0, '{\"left\": 0.1}', ?, 3)", (blob,))
    db.execute("INSERT INTO enrolled VALUES ('f1', 'Ada', '/ada.jpg', ?, '2024-01-01')", (blob,))
    db.commit()
    db.close()
    source = LocalFaceVectorFile(path)
    [face] = source.iter_vectors("face")
    [person] = source.iter_vectors("person")
    assert face.model == person.model == "dlib-resnet-v1" and face.embedding == [0.5] * 128
    assert face.fields == {"content_sha256": "sha", "face_index": 0, "box": {"left": 0.1}, "cluster": 3}
    assert person.fields["person"] == "Ada" and person.id == "person:f1"
    assert list(source.iter_vectors("face", after=1)) == []
    assert LocalFaceVectorFile(tmp_path / "none.db").count_vectors("face") == 0
    assert not (tmp_path / "none.db").exists()  # reading never creates a collection


def test_look_vectors_are_copied_and_searched_in_the_cluster(embedded, osmem_clone):
    """The look-alike vectors (adapters/vectors/local.py) go to `<name>-vectors`; the cluster finds the same nearest
    contents (osmem-server refuses the k-NN query: the exact fallback answers), of the same model only."""
    from mediaindex.adapters.vectors.local import LocalPictureVectors
    from mediaindex.domain.look_alikes import LOOK
    from mediaindex.ports import PictureVector

    rng = random.Random(3)
    local = LocalPictureVectors(embedded["home"] / "vectors.db")
    vectors = [[abs(rng.gauss(0, 1)) for _ in range(1280)] for _ in range(12)]
    for n, values in enumerate(vectors):
        local.remember(LOOK, [PictureVector(f"{n:064x}", "pool:test", values, 0, bytes([8, 8]) + bytes(range(64)))])
    local.remember(LOOK, [PictureVector("f" * 64, "pool:other", vectors[0])])
    target = opensearch_index(osmem_clone.url, "media")
    state = StateFile(embedded["home"] / "migrate.json", f"test -> {osmem_clone.url}")
    migration = Migration(embedded["index"], target, state, batch_size=5,
                          source_pictures=local, target_pictures=target.picture_vectors())
    report = migration.run()
    assert report.counts.source["looks"] == report.counts.target["looks"] == 13
    assert report.copied["looks"] == 13
    cluster = target.picture_vectors()
    here = local.nearest(LOOK, "pool:test", vectors[4], k=3)
    there = cluster.nearest(LOOK, "pool:test", vectors[4], k=3)
    assert [sha for sha, _ in there] == [sha for sha, _ in here] and there[0][0] == f"{4:064x}"
    assert abs(there[0][1] - here[0][1]) < 0.01
    assert "f" * 64 not in [sha for sha, _ in cluster.nearest(LOOK, "pool:test", vectors[0], k=20)]
    copied = cluster.vectors_of(LOOK, f"{2:064x}")
    assert copied[0].layout == bytes([8, 8]) + bytes(range(64)) and copied[0].model == "pool:test"


# ---- servers that are not OpenSearch, or never answer ----------------------------------------------------------------
def _server(handler_class):
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_migrate_to_a_json_server_that_is_not_opensearch_says_so(embedded, capsys):
    from http.server import BaseHTTPRequestHandler

    class AnyJson(BaseHTTPRequestHandler):  # {} to every request, as a generic JSON API would
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

        def log_message(self, *args):
            pass

    server = _server(AnyJson)
    try:
        source = ["--index", f"sqlite:///{embedded['home'] / 'index.db'}", "--home", str(embedded["home"])]
        code = main(["migrate", "--to", f"http://127.0.0.1:{server.server_port}", "--no-progress", *source])
        err = capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()
    assert code == 2 and "does not answer" in err and "OpenSearch" in err and "Traceback" not in err, err
    assert "KeyError" not in err


def test_a_server_that_accepts_and_never_answers_ends_in_one_line_within_the_deadline(tmp_path, capsys, monkeypatch):
    """The deadline bounds the attempts: with a 0.3 s request timeout and a 1 s deadline, a few connections, not
    the 5 rounds of 3 tries (15 waits) the client made before."""
    import socket
    import threading

    from mediaindex.adapters.index import opensearch_connection

    monkeypatch.setattr(opensearch_connection, "REQUEST_TIMEOUT", 0.3)
    monkeypatch.setattr(opensearch_connection, "CALL_DEADLINE", 1.0)
    monkeypatch.setattr(opensearch_connection, "INFO_TIMEOUT", 0.3)
    listener = socket.create_server(("127.0.0.1", 0))
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)  # held open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        code = main(["search", "dog", "--index", f"http://127.0.0.1:{listener.getsockname()[1]}"])
        err = capsys.readouterr().err
    finally:
        stop.set()
        listener.close()
        for connection in accepted:
            connection.close()
    assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "OpenSearch did not answer" in err or "unavailable" in err
    assert 1 <= len(accepted) <= 6  # before: 15 requests of 30 s each (544 s)
