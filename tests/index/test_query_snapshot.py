"""The query side saved beside the index file: a new process starts from it and reads only the changes since; a
snapshot that is missing, damaged (anywhere, found when opened or only when a part is first read), truncated,
foreign, of an older format, of another file or behind the pruned log is never trusted, and saving leaves no
temporary file behind."""

from __future__ import annotations

import bisect
import contextlib
import json
import sqlite3
import zlib
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mediaindex.adapters.index import query_snapshot, sqlite_sync
from mediaindex.adapters.index.bitmap_columns import Deferred, PackedStrings
from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.domain.expressions import FACETS
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import parse_query
from tests.index.corpus import random_doc
from tests.support.pipes import named_pipe

QUERIES = ["", "dog", "label:dog>=90", 'person:"Barack Obama"', "smile:true gender:female", "NOT emotion:happy",
           "emotion:happy>=80", 'text:"happy birthday"', "path:holidays/2024/", "taken:2018-01-01..2019-12-31",
           "(label:beach OR label:snow) NOT label:person age:20..40", "type:video OR status:failed"]
SORTS = [Sort("relevance"), Sort("taken_at", True), Sort("key", False), Sort("indexed_at", False)]


def answers(index: SqliteIndex) -> list:
    found = []
    for text in QUERIES:
        for sort in SORTS:
            result = index.search(Query(where=parse_query(text), sort=sort, limit=7, offset=2, facets=FACETS))
            found.append((text, sort, result.total, [h["id"] for h in result.hits], result.facets))
    return found


@pytest.fixture
def small_snapshots(monkeypatch):
    monkeypatch.setattr(sqlite_sync, "SNAPSHOT_MIN", 50)
    monkeypatch.setattr(sqlite_sync, "SNAPSHOT_EVERY", 30)


@pytest.fixture
def written(tmp_path, small_snapshots):
    path = str(tmp_path / "index.db")
    index = SqliteIndex(path)
    rng = random.Random(11)
    index.put_many([random_doc(rng, n) for n in range(300)])
    return path, index, rng


def test_a_new_process_starts_from_the_snapshot_and_answers_as_a_build(written):
    path, writer, rng = written
    writer.search(Query(limit=1))  # the first query builds and saves
    assert writer.query_side.builds == 1 and os.path.exists(f"{path}.media.query")
    reader = SqliteIndex(path)
    assert reader.count("label:dog") == writer.count("label:dog")
    labels = reader.query_side.columns.labels.columns
    assert isinstance(labels, Deferred) and labels.unread == {"slot", "code", "confidence", "tier"}  # not needed yet
    assert answers(reader) == answers(writer)
    assert (reader.query_side.loads, reader.query_side.builds) == (1, 0)
    assert not reader.query_side.columns.terms.columns  # a reader that applies no change never reads the term rows


def test_a_loaded_query_side_saved_again_is_the_same(written):
    path, writer, rng = written
    writer.search(Query(limit=1))
    first = open(f"{path}.media.query", "rb").read()
    reader = SqliteIndex(path)
    reader.search(Query(limit=1))
    side = reader.query_side
    assert query_snapshot.save(f"{path}.again", side.columns, side.seq, side.generation, side.stamp)  # reads every part
    assert open(f"{path}.again", "rb").read() == first


def test_changes_after_the_snapshot_are_applied_on_top_of_it(written):
    path, writer, rng = written
    writer.search(Query(limit=1))
    first, second = list(writer.iter_documents())[:2]
    current = writer.get(first["id"])  # after the save: a replacement, new documents (tombstones among them), a deletion
    writer.put({**random_doc(rng, 1000), "id": first["id"]}, current.version)
    for n in range(20):
        writer.put(random_doc(rng, 2000 + n), None)
    writer.delete_document(second["id"])
    reader = SqliteIndex(path)
    fresh = answers(reader)
    assert (reader.query_side.loads, reader.query_side.builds, reader.query_side.applied) == (1, 0, 22)
    os.unlink(f"{path}.media.query")
    assert fresh == answers(SqliteIndex(path))  # a build from the file


def test_a_damaged_or_foreign_snapshot_is_ignored(written, tmp_path):
    path, writer, rng = written
    writer.search(Query(limit=1))
    expected = answers(writer)
    snapshot = f"{path}.media.query"
    with open(snapshot, "r+b") as f:
        f.truncate(os.path.getsize(snapshot) // 2)
    reader = SqliteIndex(path)
    assert answers(reader) == expected and reader.query_side.builds == 1
    other = str(tmp_path / "other.db")  # another index's snapshot copied over: its generation differs
    SqliteIndex(other).put_many([random_doc(rng, n) for n in range(100)])
    SqliteIndex(other).search(Query(limit=1))
    os.replace(f"{other}.media.query", snapshot)
    reader = SqliteIndex(path)
    assert answers(reader) == expected and (reader.query_side.loads, reader.query_side.builds) == (0, 1)


def test_a_snapshot_behind_the_pruned_log_is_not_trusted(written, monkeypatch):
    path, writer, rng = written
    writer.search(Query(limit=1))
    monkeypatch.setattr(sqlite_sync, "KEEP_CHANGES", 5)
    writer.put_many([random_doc(rng, 5000 + n) for n in range(40)])  # prunes the log to its newest 5 entries
    reader = SqliteIndex(path)
    assert answers(reader) == answers(SqliteIndex(path, name="media")) and reader.query_side.loads == 0


def test_an_unwritable_folder_only_costs_a_build(written, monkeypatch):
    path, writer, rng = written
    reader = SqliteIndex(path)
    reader.query_side.snapshot_path = os.path.join(path + ".missing-folder", "index.db.media.query")
    assert answers(reader) == answers(writer)
    assert not os.path.exists(reader.query_side.snapshot_path)


def pristine(written) -> tuple[str, bytes, list]:
    path, writer, rng = written
    writer.search(Query(limit=1))
    expected = answers(writer)
    snapshot = f"{path}.media.query"
    with open(snapshot, "rb") as f:
        return snapshot, f.read(), expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255), data=st.data())
def test_a_snapshot_damaged_anywhere_never_gives_a_wrong_answer(written, where, flip, data):
    path, writer, rng = written
    snapshot, good, expected = _pristine_once(written)
    damaged = bytearray(good)
    damaged[int(where * len(good))] ^= flip
    if data.draw(st.booleans(), "truncated too"):
        damaged = damaged[:data.draw(st.integers(0, len(damaged) - 1), "to")]
    with open(snapshot, "wb") as f:
        f.write(damaged)
    reader = SqliteIndex(path)
    assert answers(reader) == expected
    side = reader.query_side
    assert side.builds <= 1 and (side.loads, side.builds) != (0, 0)


_PRISTINE: dict = {}


def _pristine_once(written):
    """The writer's snapshot and answers, once per test (hypothesis runs many examples on one fixture)."""
    key = written[0]
    if key not in _PRISTINE:
        _PRISTINE.clear()
        _PRISTINE[key] = pristine(written)
    return _PRISTINE[key]


@pytest.mark.parametrize("part", ["labels.confidence", "labels._index_order", "faces.age_low", "terms.code",
                                  "sorted.taken_at.values", "sorted.key.order", "sorted.indexed_at.position",
                                  "bitmaps"])
def test_a_part_found_damaged_at_its_first_use_is_answered_from_a_build(written, part):
    snapshot, good, expected = pristine(written)
    path, writer, rng = written
    saved = query_snapshot._Saved(snapshot)
    _, count, offset, _ = saved.arrays[part]
    middle = offset + count // 2
    if part == "bitmaps":  # the bitmap of the documents indexed, which every query here reads
        vocabulary = saved.header["vocabulary"]
        i = list(zip(vocabulary["kinds"], vocabulary["values"])).index(("status", "indexed"))
        start, end = saved.array("bitmaps.offsets")[i:i + 2]
        middle = offset + int(start + end) // 2
    del saved
    assert count > 0
    damaged = bytearray(good)
    damaged[middle] ^= 0x40  # inside the array: opening the file does not notice
    with open(snapshot, "wb") as f:
        f.write(damaged)
    before = os.stat(snapshot)
    reader = SqliteIndex(path)
    reader.person_names()  # opened and loaded: the header and the small parts are sound
    assert reader.query_side.loads == 1 and reader.query_side.builds == 0
    if part.startswith("terms."):  # read only to apply a change
        first = next(writer.iter_documents())
        writer.update_fields(first["id"], {"people": ["Ada Lovelace"]}, writer.get(first["id"]).version)
        expected = answers(writer)
    assert answers(reader) == expected
    assert reader.query_side.builds == 1 and reader.query_side.refused
    assert os.stat(snapshot).st_ino != before.st_ino  # the build saved a sound one in its place
    again = SqliteIndex(path)
    assert answers(again) == expected and (again.query_side.loads, again.query_side.builds) == (1, 0)


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, query_snapshot.MAGIC, query_snapshot.MAGIC * 20,
                                     b"PK\x03\x04 an older format: a numpy archive"])
def test_a_foreign_or_empty_file_is_ignored(written, content):
    snapshot, good, expected = pristine(written)
    path, writer, rng = written
    with open(snapshot, "wb") as f:
        f.write(content)
    reader = SqliteIndex(path)
    assert answers(reader) == expected and (reader.query_side.loads, reader.query_side.builds) == (0, 1)


def test_a_snapshot_without_an_array_it_should_hold_is_ignored(written, monkeypatch):
    original = query_snapshot._Writer.add
    monkeypatch.setattr(query_snapshot._Writer, "add", lambda self, name, values, spare=0: None
                        if name == "sorted.key.position" else original(self, name, values, spare))
    snapshot, good, expected = pristine(written)
    monkeypatch.undo()
    path, writer, rng = written
    reader = SqliteIndex(path)
    assert answers(reader) == expected and (reader.query_side.loads, reader.query_side.builds) == (0, 1)


def test_a_snapshot_of_another_format_is_ignored(written, monkeypatch):
    snapshot, good, expected = pristine(written)
    path, writer, rng = written
    monkeypatch.setattr(query_snapshot, "FORMAT", query_snapshot.FORMAT + 1)
    reader = SqliteIndex(path)
    assert answers(reader) == expected and (reader.query_side.loads, reader.query_side.builds) == (0, 1)


def test_saving_leaves_no_temporary_file(written, monkeypatch, tmp_path):
    path, writer, rng = written
    writer.search(Query(limit=1))
    side = writer.query_side
    assert sorted(os.listdir(tmp_path)) == ["index.db", "index.db-shm", "index.db-wal", "index.db.media.query"]

    def full_disk(writer_, columns, seq, generation, stamp=None):
        writer_.add("present", np.zeros(10, np.uint8))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(query_snapshot, "_write", full_disk)
    assert not query_snapshot.save(f"{path}.media.query", side.columns, side.seq, side.generation)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]

    def interrupted(writer_, columns, seq, generation, stamp=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(query_snapshot, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        query_snapshot.save(f"{path}.media.query", side.columns, side.seq, side.generation)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_a_temporary_file_of_a_killed_save_is_removed_by_the_next(written, monkeypatch, tmp_path):
    path, writer, rng = written
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    abandoned = f"{path}.media.query.{int(gone.stdout)}.tmp"  # its process has exited
    alive = f"{path}.media.query.{os.getppid()}.tmp"  # another process still saving
    for name in (abandoned, alive):
        with open(name, "wb") as f:
            f.write(b"half a snapshot")
    writer.search(Query(limit=1))  # builds and saves
    assert os.path.exists(f"{path}.media.query") and not os.path.exists(abandoned) and os.path.exists(alive)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), max_size=20), st.text())
def test_packed_strings_are_the_strings(values, probe):
    values.sort()
    packed = PackedStrings.pack(values)
    assert list(packed) == values and len(packed) == len(values)
    assert bisect.bisect_left(packed, probe) == bisect.bisect_left(values, probe)
    again = PackedStrings(packed.data.copy(), packed.offsets.copy())
    assert again[-1:] == values[-1:]


# ---- the snapshot proves it belongs to the file's history ----------------------------------------------------------
def _copy(source: str, target: str) -> None:
    """A consistent copy of an index file (as a backup tool would take it)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()


def _restore(backup: str, path: str) -> None:
    for leftover in (f"{path}-wal", f"{path}-shm"):
        if os.path.exists(leftover):
            os.unlink(leftover)
    shutil.copyfile(backup, path)


def test_a_snapshot_of_the_history_a_restored_backup_left_is_not_trusted(written, tmp_path):
    path, writer, rng = written
    backup = str(tmp_path / "backup.db")
    _copy(path, backup)  # the log at 300 entries
    writer.put_many([{**random_doc(rng, 3000 + n), "labels": [{"name": "Orange", "confidence": 99.0}]}
                     for n in range(40)])
    writer.search(Query(limit=1))  # the snapshot of this history, at 340 entries
    writer.close()
    _restore(backup, path)
    restored = SqliteIndex(path)  # new writes after the restore reuse positions 301..340
    restored.put_many([random_doc(rng, 4000 + n) for n in range(40)])
    reader = SqliteIndex(path)
    got = answers(reader)
    assert (reader.query_side.loads, reader.query_side.builds) == (0, 1)
    os.unlink(f"{path}.media.query")
    assert got == answers(SqliteIndex(path))
    assert SqliteIndex(path).count("label:orange") == 0


def test_a_snapshot_whose_stamp_is_forged_is_not_trusted(written):
    path, writer, rng = written
    writer.search(Query(limit=1))
    snapshot = f"{path}.media.query"
    saved = query_snapshot._Saved(snapshot)
    stamp = saved.header["stamp"]
    assert isinstance(stamp, int)
    del saved
    _rewrite_header(snapshot, lambda header: {**header, "stamp": stamp ^ 1})
    reader = SqliteIndex(path)
    assert answers(reader) == answers(writer) and (reader.query_side.loads, reader.query_side.builds) == (0, 1)


def test_an_index_written_before_stamps_gets_them_and_a_restored_copy_other_ones(tmp_path, small_snapshots):
    path = str(tmp_path / "index.db")
    index = SqliteIndex(path)
    index.put_many([random_doc(random.Random(3), n) for n in range(80)])
    index.close()
    conn = sqlite3.connect(path)  # as an older version left it: no stamp column
    conn.execute("ALTER TABLE media_changes DROP COLUMN stamp")
    conn.commit()
    conn.close()
    _copy(path, str(tmp_path / "copy.db"))
    first, second = SqliteIndex(path), SqliteIndex(str(tmp_path / "copy.db"))
    assert first.count("") == second.count("")
    stamps = [sqlite3.connect(p).execute("SELECT stamp FROM media_changes ORDER BY seq DESC").fetchone()[0]
              for p in (path, str(tmp_path / "copy.db"))]
    assert None not in stamps and stamps[0] != stamps[1]


def _rewrite_header(snapshot: str, change) -> None:
    """The snapshot with its header changed and every checksum made to match (as a forger would)."""
    data = bytearray(open(snapshot, "rb").read())
    at, length, _, magic = query_snapshot._TRAILER.unpack_from(data, len(data) - query_snapshot._TRAILER.size)
    header = change(json.loads(bytes(data[at:at + length])))
    body = json.dumps(header, separators=(",", ":")).encode()
    with open(snapshot, "wb") as f:
        f.write(bytes(data[:at]) + body + query_snapshot._TRAILER.pack(at, len(body), zlib.crc32(body), magic))


def _forge_array(snapshot: str, name: str, values: np.ndarray) -> None:
    """Overwrite the array's first elements in place and fix its checksum."""
    saved = query_snapshot._Saved(snapshot)
    dtype, count, offset, _ = saved.arrays[name]
    del saved
    data = bytearray(open(snapshot, "rb").read())
    values = values.astype(dtype)[:count]
    data[offset:offset + values.nbytes] = values.tobytes()
    with open(snapshot, "wb") as f:
        f.write(data)
    crc = zlib.crc32(bytes(data[offset:offset + count * dtype.itemsize]))
    _rewrite_header(snapshot, lambda header: {**header, "arrays": {
        **header["arrays"], name: [*header["arrays"][name][:3], crc]}})


ARRAYS = ["labels.slot", "labels.code", "labels._index_order", "labels._index_values", "labels.start", "labels.end",
          "faces.slot", "faces.age_low", "terms.code", "terms.start", "sorted.taken_at.order",
          "sorted.taken_at.position", "sorted.key.offsets", "sorted.key.order", "bitmaps.offsets", "present"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(ARRAYS), values=st.lists(st.integers(-2**31, 2**31 - 1), min_size=1, max_size=40))
def test_malformed_arrays_with_matching_checksums_never_give_a_traceback(written, name, values):
    """Arrays rewritten with their checksums made to match: whatever cannot be used is found when read, and the
    answer is made again from a build. (Values that are well formed but false are the stamp's business: a forger
    must read index.db to copy it, and whoever can write beside the index can write the index itself.)"""
    path, writer, rng = written
    snapshot, good, expected = _pristine_once(written)
    with open(snapshot, "wb") as f:
        f.write(good)
    _forge_array(snapshot, name, np.asarray(values, dtype=np.int64))
    reader = SqliteIndex(path)
    got = answers(reader)  # never raises
    if reader.query_side.refused:  # found unusable: every answer since came from a build
        assert reader.query_side.builds == 1
        assert answers(reader) == expected
    assert len(got) == len(expected)


def test_a_zip_bomb_at_the_snapshot_is_refused_without_inflating_it(written, tmp_path):
    import tracemalloc
    import zipfile

    path, writer, rng = written
    snapshot = f"{path}.media.query"
    with zipfile.ZipFile(snapshot, "w", zipfile.ZIP_DEFLATED) as z:  # ~1 GB of zeros in ~1 MB
        with z.open("bitmaps.npy", "w", force_zip64=True) as member:
            chunk = bytes(1 << 24)
            for _ in range(64):
                member.write(chunk)
    assert os.path.getsize(snapshot) < 4 << 20
    tracemalloc.start()
    try:
        assert query_snapshot.load(snapshot, writer.query_side.generation or "x") is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # nothing inflated: refused on its first bytes
    assert answers(SqliteIndex(path)) == answers(writer)


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_something_other_than_a_file_at_the_snapshot_is_a_cache_to_rebuild(written, kind):
    path, writer, rng = written
    snapshot = f"{path}.media.query"
    expected = answers(writer)
    os.unlink(snapshot)
    if kind == "folder":
        os.mkdir(snapshot)
    with named_pipe(snapshot) if kind == "fifo" else contextlib.nullcontext() as opened:
        reader = SqliteIndex(path)
        assert answers(reader) == expected and (reader.query_side.loads, reader.query_side.builds) == (0, 1)
    if kind == "fifo":  # never opened (it would wait for a writer for ever); the build's save replaced it
        assert not opened.is_set() and os.path.isfile(snapshot)
