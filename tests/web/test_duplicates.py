"""Duplicates and look-alikes through the API and the CLI, on a real library with edited copies (conftest.py's
`build_copies_library`: a flipped and a half-size copy of the husky, a half-size copy of the orange, two unrelated
photos) indexed by the real pipeline with the local models: the report, `similar:` in search, one file's
look-alikes, and moving copies to the trash and back (files, manifest, index)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from mediaindex.domain.document import document_id
from mediaindex.entrypoints.cli.serve import build_local_api
from tests.local_mode.conftest import cli
from tests.web.helpers import get, post_json

HUSKY, ORANGE = "n02110185_Siberian_husky.JPEG", "n07747607_orange.JPEG"


@pytest.fixture(scope="module")
def reader(copies_read_only) -> Any:
    from tests.web.helpers import RunningServer

    server = RunningServer(build_local_api(copies_read_only.settings, index=copies_read_only.index, writes=False))
    yield server
    server.close()


def names(files: list[dict[str, Any]]) -> set[str]:
    return {Path(f["key"]).name for f in files}


def largest(library, group: dict[str, Any]) -> str:
    """The file of the group with most pixels, then most bytes, measured on disk here."""
    from PIL import Image

    def size(f: dict[str, Any]) -> tuple[int, int]:
        with Image.open(f["key"]) as im:
            return im.width * im.height, os.path.getsize(f["key"])

    return max(group["files"], key=size)["key"]


def check_report(report: dict[str, Any], library) -> None:
    groups = {frozenset(names(g["files"])): g for g in report["groups"]}
    assert set(groups) == {frozenset({HUSKY, "husky_flipped.jpg", "husky_half.jpg"}),
                           frozenset({ORANGE, "orange_half.jpg"})}
    for group in groups.values():
        keep = [f for f in group["files"] if f["keep"]]
        assert len(keep) == 1 and keep[0]["key"] == group["keep"] == largest(library, group)
        assert group["reclaimable_bytes"] == sum(os.path.getsize(f["key"]) for f in group["files"] if not f["keep"])
        assert all(f["reason"] in ("edited copy", "near-identical") for f in group["files"] if not f["keep"])
    assert Path(groups[frozenset({HUSKY, "husky_flipped.jpg", "husky_half.jpg"})]["keep"]).name == HUSKY
    # ordered by what a clean-up frees
    assert [g["reclaimable_bytes"] for g in report["groups"]] == sorted(
        (g["reclaimable_bytes"] for g in report["groups"]), reverse=True)


# ---- the report and look-alikes ------------------------------------------------------------------------------------
def test_duplicates_report_groups_the_copies_with_the_largest_kept(reader, copies_read_only):
    reply = get(reader, "/api/duplicates")
    assert reply.status == 200
    report = reply.json()
    check_report(report, copies_read_only)
    assert report["reclaimable_bytes"] == sum(g["reclaimable_bytes"] for g in report["groups"])
    assert report["files"] == 7 and report["files_without_vector"] == 0
    assert (report["writes"], report["trash"], report["look_alikes"]) == (False, False, True)
    assert "similar" not in report
    files = [f for g in report["groups"] for f in g["files"]]
    assert {f["media_type"] for f in files} == {"image"} and all(f["name"] == Path(f["key"]).name for f in files)
    with_similar = get(reader, "/api/duplicates?similar=1").json()
    assert isinstance(with_similar["similar"], list)
    assert not {f["id"] for g in with_similar["similar"] for f in g["files"]} & {f["id"] for f in files}


def test_similar_search_ranks_the_copies_first_and_combines_with_filters(reader, copies_read_only):
    half = copies_read_only.folder / "husky_half.jpg"
    reply = get(reader, "/api/search?q=" + quote(f"similar:{half}"))
    assert reply.status == 200, reply.body
    hits = reply.json()["hits"]
    assert {h["name"] for h in hits[:2]} == {HUSKY, "husky_flipped.jpg"}
    assert "husky_half.jpg" not in {h["name"] for h in hits}  # not itself
    similarities = [h["similarity"] for h in hits]
    assert similarities == sorted(similarities, reverse=True) and 0 < similarities[-1] < similarities[0] <= 1
    narrowed = get(reader, "/api/search?q=" + quote(f"similar:{half} AND type:video")).json()
    assert narrowed["total"] == 0
    by_id = get(reader, f"/api/search?q=similar:{copies_read_only.doc_id(ORANGE)}").json()["hits"]
    assert by_id[0]["name"] == "orange_half.jpg"


def test_similar_of_a_file_not_indexed_is_a_clear_404(reader, copies_read_only):
    reply = get(reader, "/api/search?q=similar:/nowhere/at/all.jpg")
    assert reply.status == 404
    assert reply.json()["error"].startswith("similar:/nowhere/at/all.jpg: no indexed file")


def test_a_documents_look_alikes(reader, copies_read_only):
    reply = get(reader, f"/api/documents/{copies_read_only.doc_id(HUSKY)}/similar?limit=2")
    assert reply.status == 200
    body = reply.json()
    assert [h["name"] for h in body["hits"]] and len(body["hits"]) == 2
    assert {h["name"] for h in body["hits"]} == {"husky_flipped.jpg", "husky_half.jpg"}
    assert all(0 < h["similarity"] <= 1 for h in body["hits"])
    assert get(reader, f"/api/documents/{'0' * 40}/similar").status == 404
    assert get(reader, f"/api/documents/{copies_read_only.doc_id('n01440764_tench.JPEG')}/similar").status == 200
    assert get(reader, f"/api/documents/{copies_read_only.doc_id(HUSKY)}/similar?limit=0").status == 400


def test_trash_is_refused_without_writes(reader, copies_read_only):
    ids = [copies_read_only.doc_id("husky_half.jpg")]
    reply = post_json(reader, "/api/duplicates/trash", {"ids": ids})
    assert reply.status == 403 and "--allow-writes" in reply.json()["error"]
    assert (copies_read_only.folder / "husky_half.jpg").is_file()
    assert get(reader, "/api/duplicates/trash").json() == {"available": False, "batches": []}


# ---- the trash, and back -------------------------------------------------------------------------------------------
def test_trash_and_restore_round_trip(serve, copies_library):
    lib = copies_library
    server = serve(build_local_api(lib.settings, index=lib.index, writes=True))
    report = get(server, "/api/duplicates").json()
    assert report["trash"] is True
    others = [f for g in report["groups"] for f in g["files"] if not f["keep"]]
    before = {f["key"]: Path(f["key"]).read_bytes() for f in others}
    moved = post_json(server, "/api/duplicates/trash", {"ids": [f["id"] for f in others]})
    assert moved.status == 200, moved.body
    batch = moved.json()["batch"]
    assert moved.json()["moved"] == 3 and moved.json()["bytes"] == sum(len(b) for b in before.values())
    root = lib.home / "trash" / batch
    manifest = json.loads((root / "manifest.json").read_text())
    assert {f["original"]: f["trashed"] for f in manifest["files"]} == {
        key: str(root / key.lstrip("/")) for key in before}
    for key, data in before.items():  # moved, not deleted: the same bytes under the trash, the path kept
        assert not os.path.exists(key)
        assert (root / key.lstrip("/")).read_bytes() == data
    for f in others:
        assert lib.index.get(f["id"]).doc["status"] == "deleted"
    assert get(server, "/api/duplicates").json()["groups"] == []
    assert get(server, "/api/search?q=" + quote("similar:" + report["groups"][0]["keep"])).status == 200
    assert [b["batch"] for b in get(server, "/api/duplicates/trash").json()["batches"]] == [batch]

    restored = post_json(server, "/api/duplicates/restore", {"batch": batch})
    assert restored.status == 200, restored.body
    assert restored.json()["restored"] == 3
    assert {f["action"] for f in restored.json()["files"]} <= {"indexed", "reused"}
    for key, data in before.items():
        assert Path(key).read_bytes() == data
    for f in others:
        assert lib.index.get(f["id"]).doc["status"] == "indexed"
    again = get(server, "/api/duplicates").json()
    assert {frozenset(names(g["files"])) for g in again["groups"]} == {
        frozenset(names(g["files"])) for g in report["groups"]}
    twice = post_json(server, "/api/duplicates/restore", {"batch": batch})
    assert twice.status == 409 and "restored already" in twice.json()["error"]
    assert post_json(server, "/api/duplicates/restore", {"batch": "../../etc"}).status == 404
    assert post_json(server, "/api/duplicates/restore", {"batch": "20991231-000000-abcdef"}).status == 404


def test_trash_refuses_s3_objects_and_paths_outside_the_folders(serve, copies_library, tmp_path):
    lib = copies_library
    server = serve(build_local_api(lib.settings, index=lib.index, writes=True))
    half = lib.doc("husky_half.jpg")
    s3 = {**half, "id": document_id("photos-bucket", "2024/husky_half.jpg"), "bucket": "photos-bucket",
          "key": "2024/husky_half.jpg"}
    link = tmp_path / "through-a-link"
    link.symlink_to(lib.folder)
    linked = {**half, "id": document_id("", str(link / "husky_half.jpg")), "key": str(link / "husky_half.jpg")}
    for doc in (s3, linked):
        lib.index.put(doc, None)
    lib.index.refresh()
    reply = post_json(server, "/api/duplicates/trash", {"ids": [half["id"], s3["id"]]})
    assert reply.status == 409 and "S3 object" in reply.json()["error"]
    reply = post_json(server, "/api/duplicates/trash", {"ids": [linked["id"]]})
    assert reply.status == 403 and "symlink" in reply.json()["error"]
    assert (lib.folder / "husky_half.jpg").is_file()  # nothing of a refused request was moved
    assert not (lib.home / "trash").exists() or not any((lib.home / "trash").iterdir())
    assert post_json(server, "/api/duplicates/trash", {"ids": []}).status == 400
    assert post_json(server, "/api/duplicates/trash", {"ids": ["x"]}).status == 400


def test_restore_refuses_when_the_place_is_taken(serve, copies_library):
    lib = copies_library
    server = serve(build_local_api(lib.settings, index=lib.index, writes=True))
    batch = post_json(server, "/api/duplicates/trash", {"ids": [lib.doc_id("orange_half.jpg")]}).json()["batch"]
    (lib.folder / "orange_half.jpg").write_bytes(b"another file since")
    reply = post_json(server, "/api/duplicates/restore", {"batch": batch})
    assert reply.status == 409 and "exists again" in reply.json()["error"]
    assert (lib.home / "trash" / batch / str(lib.folder / "orange_half.jpg").lstrip("/")).is_file()


# ---- the command line ----------------------------------------------------------------------------------------------
def mediaindex(library, *args: str) -> Any:
    return cli(*args, "--home", str(library.home), "--index", f"sqlite:///{library.home / 'index.db'}")


def test_cli_duplicates_json_text_trash_and_restore(copies_library):
    lib = copies_library
    done = mediaindex(lib, "duplicates", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    check_report(report, lib)
    text = mediaindex(lib, "duplicates")
    assert text.returncode == 0, text.stderr
    assert f"keep  {lib.folder / HUSKY}" in text.stdout and "edited copy" in text.stdout
    assert "2 groups of copies among 7 files" in text.stdout and "reclaimable" in text.stdout

    refused = mediaindex(lib, "duplicates", "--trash")  # not a terminal, no --yes: nothing moved
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert (lib.folder / "husky_half.jpg").is_file()
    moved = mediaindex(lib, "duplicates", "--trash", "--yes")
    assert moved.returncode == 0, moved.stderr
    assert "moved 3 files" in moved.stdout
    command = moved.stdout.rsplit("undo with: ", 1)[1].strip()
    assert command.startswith("mediaindex duplicates --restore ")
    assert not (lib.folder / "husky_half.jpg").exists() and (lib.folder / HUSKY).is_file()
    assert json.loads(mediaindex(lib, "duplicates", "--json").stdout)["groups"] == []
    back = mediaindex(lib, *command.split()[1:])
    assert back.returncode == 0, back.stderr
    assert "restored 3 files" in back.stdout
    assert (lib.folder / "husky_half.jpg").is_file()
    check_report(json.loads(mediaindex(lib, "duplicates", "--json").stdout), lib)


def test_cli_search_similar(copies_library):
    lib = copies_library
    done = mediaindex(lib, "search", "--similar", str(lib.folder / "orange_half.jpg"), "--json")
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)["hits"]
    assert Path(hits[0]["key"]).name == ORANGE and hits[0]["similarity"] > hits[-1]["similarity"]
    missing = mediaindex(lib, "search", "--similar", "/nowhere.jpg")
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "no indexed file" in missing.stderr
    helped = cli("search", "--help")
    assert "similar:" in helped.stdout and "--similar" in helped.stdout


def test_a_file_without_a_look_vector_has_no_look_alikes_and_says_why(serve, copies_library):
    lib = copies_library
    server = serve(build_local_api(lib.settings, index=lib.index, writes=False))
    blank = {**lib.doc("husky_half.jpg"), "id": document_id("", str(lib.folder / "blank.png")),
             "key": str(lib.folder / "blank.png"), "content_sha256": "0" * 64}
    lib.index.put(blank, None)
    lib.index.refresh()
    body = get(server, f"/api/documents/{blank['id']}/similar").json()
    assert body["hits"] == [] and "not analysed for look-alikes" in body["reason"]
    reply = get(server, "/api/search?q=" + quote(f"similar:{blank['key']}"))
    assert reply.status == 404 and "not analysed for look-alikes" in reply.json()["error"]
    assert get(server, "/api/duplicates").json()["files_without_vector"] == 1


def test_exact_copies_show_once_in_search_with_their_other_paths(tmp_path):
    """The same bytes under three names: one hit, the other keys in `copies` (the CLI and the API alike)."""
    import json as _json

    from mediaindex.adapters.index.sqlite import SqliteIndex
    from mediaindex.domain.query import Query
    from mediaindex.services.search import run_search

    index = SqliteIndex(str(tmp_path / "index.db"))
    base = {"status": "indexed", "error": None, "media_type": "image", "content_sha256": "a" * 64,
            "indexed_at": "2026-01-01T00:00:00Z", "bucket": "", "sequencer": None, "taken_at": "2020-01-01T00:00:00"}
    index.put_many([{**base, "id": f"{n:040x}", "key": f"/p/{name}"} for n, name in
                    enumerate(["a.jpg", "copy of a.jpg", "a (1).jpg"])]
                   + [{**base, "id": "f" * 40, "key": "/p/b.jpg", "content_sha256": "b" * 64}])
    answer = run_search(index, Query.coerce(""))
    assert answer.result.total == 4
    by_key = {h["key"]: h for h in answer.result.hits}
    assert len(answer.result.hits) == 2 and "/p/b.jpg" in by_key
    [first] = [h for h in answer.result.hits if h["key"] != "/p/b.jpg"]
    assert sorted([first["key"], *first["copies"]]) == ["/p/a (1).jpg", "/p/a.jpg", "/p/copy of a.jpg"]
    assert _json.dumps(answer.result.hits)  # plain data for the API and --json
