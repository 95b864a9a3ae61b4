"""Only indexed files are served, by document id: path traversal in every spelling, absolute paths, NUL bytes,
symlinks out of the indexed folder and non-media files all fail. Documents are written with `put` (realistic
documents as the pipeline writes them) so each case is set up exactly."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.config import Settings
from mediaindex.domain.document import base_document, document_id, tombstone
from mediaindex.entrypoints.cli.serve import build_local_api
from tests.web.helpers import get

SECRET = b"top secret: never served\n"


def image_doc(path: Path, **extra: Any) -> dict[str, Any]:
    doc = base_document("", str(path), None)
    doc.update(status="indexed", media_type="image", content_type="image/jpeg", width=500, height=374, labels=[],
               label_names=[], faces=[], face_count=0, people=[], content_sha256=path.name, **extra)
    return doc


@pytest.fixture
def world(tmp_path: Path, images_dir: Path, serve) -> dict[str, Any]:
    indexed = tmp_path / "photos"
    indexed.mkdir()
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(SECRET)  # named like a photo, but outside the indexed folder
    (outside / "real.jpg").write_bytes((images_dir / "n07747607_orange.JPEG").read_bytes())
    shutil.copyfile(outside / "real.jpg", tmp_path / "real.jpg")
    shutil.copyfile(images_dir / "n02110185_Siberian_husky.JPEG", indexed / "husky.jpg")
    (indexed / "link-out.jpg").symlink_to(outside / "real.jpg")
    (indexed / "linked-dir").symlink_to(outside, target_is_directory=True)
    (indexed / "notes.jpg").write_text("not an image at all")
    index = SqliteIndex(str(tmp_path / "index.db"))
    index.ensure_ready()
    docs = {
        "husky": image_doc(indexed / "husky.jpg"),
        "link_out": image_doc(indexed / "link-out.jpg"),
        "through_dir": image_doc(indexed / "linked-dir" / "real.jpg"),
        # the kernel resolves .. after the symlinked folder, so this is tmp/real.jpg, not photos/real.jpg
        "dotdot": image_doc(Path(f"{indexed}/linked-dir/../real.jpg")),
        # `mediaindex index ../photos` writes keys like this one: plain .. without a symlink is the same file
        "plain_dotdot": image_doc(Path(f"{indexed}/../photos/husky.jpg")),
        "relative": {**image_doc(indexed / "x.jpg"), "id": document_id("", "private/real.jpg"), "key": "private/real.jpg"},
        "nul": {**image_doc(indexed / "y.jpg"), "id": document_id("", f"{indexed}/husky.jpg\x00.txt"),
                "key": f"{indexed}/husky.jpg\x00.txt"},
        "not_media": image_doc(indexed / "notes.jpg"),
        "gone": image_doc(indexed / "deleted-since.jpg"),
    }
    for doc in docs.values():
        index.put(doc, None)
    index.put(tombstone("", str(outside / "secret.jpg"), None), None)
    settings = Settings(home=tmp_path / "home")
    server = serve(build_local_api(settings, index=index, people_factory=None))
    return {"server": server, "docs": docs, "indexed": indexed, "outside": outside, "index": index,
            "settings": settings, "serve": serve}


def media(world: dict[str, Any], name: str) -> Any:
    return get(world["server"], f"/api/documents/{world['docs'][name]['id']}/media")


def test_the_indexed_file_is_served(world):
    for name in ("husky", "plain_dotdot"):
        reply = media(world, name)
        assert reply.status == 200 and reply.body == (world["indexed"] / "husky.jpg").read_bytes()
        assert reply.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize("path", [
    "/api/documents/../../../../etc/passwd",
    "/api/documents/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/api/documents/%2e%2e%2f%2e%2e%2fetc%2fpasswd/media",
    "/api/documents/..%2f..%2f..%2fetc%2fpasswd/media",
    "/api/documents/%252e%252e%252fetc%252fpasswd/media",
    "/assets/../../../../etc/passwd",
    "/assets/..%2f..%2f..%2fentrypoints%2fcli%2fserve.py",
    "/assets/%2e%2e/openapi.json",
    "/assets/..",
    "//etc/passwd",
    "/etc/passwd",
    "/api/documents//etc/passwd/media",
    "/api/documents/%2fetc%2fpasswd/media",
    "/api/documents/" + "0" * 40 + "%00/media",
    "/api/documents/%00/media",
    "/assets/app.js%00.png",
    "/api/documents/" + "0" * 40 + "/media/../../../../etc/passwd",
    "/api/documents/" + "0" * 40 + "/faces/../../thumbnail",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/api/../../etc/passwd",
])
def test_traversal_spellings_reach_no_file(world, path):
    reply = get(world["server"], path)
    assert reply.status in (400, 404, 405)
    assert b"root:" not in reply.body and SECRET not in reply.body
    assert reply.headers["content-type"].startswith("application/json")


def test_the_secret_file_cannot_be_named_even_by_its_own_id(world):
    # a tombstone's id is known to nobody outside, but even then: deleted documents serve nothing
    secret_id = document_id("", str(world["outside"] / "secret.jpg"))
    assert get(world["server"], f"/api/documents/{secret_id}/media").status == 404
    assert get(world["server"], f"/api/documents/{secret_id}").status == 404


@pytest.mark.parametrize("name", ["link_out", "through_dir", "dotdot"])
def test_paths_leading_out_of_the_indexed_folder_are_refused(world, name):
    reply = media(world, name)
    assert reply.status == 403 and "outside the served folders" in reply.json()["error"]
    thumb = get(world["server"], f"/api/documents/{world['docs'][name]['id']}/thumbnail")
    assert thumb.status == 403


def test_roots_allow_a_symlink_that_stays_inside_them(world, tmp_path):
    server = world["serve"](build_local_api(world["settings"], roots=[tmp_path], index=world["index"],
                                            people_factory=None))
    reply = get(server, f"/api/documents/{world['docs']['link_out']['id']}/media")
    assert reply.status == 200 and reply.body == (world["outside"] / "real.jpg").read_bytes()
    narrow = world["serve"](build_local_api(world["settings"], roots=[world["outside"]], index=world["index"],
                                            people_factory=None))
    assert get(narrow, f"/api/documents/{world['docs']['husky']['id']}/media").status == 403


@pytest.mark.parametrize("name, status", [("relative", 404), ("nul", 404), ("gone", 404), ("not_media", 415)])
def test_odd_documents_are_not_served(world, name, status):
    reply = media(world, name)
    assert reply.status == status, reply.body
    assert SECRET not in reply.body


def test_people_page_without_a_face_collection_says_why(world):
    body = get(world["server"], "/api/people").json()
    assert body["available"] is False and body["reason"]
