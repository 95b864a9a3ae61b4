"""The viewer's picture: every photo at display size as a JPEG, whatever its format (a HEIC photo's own bytes show in
no browser but Safari) and however big (a 12 MP photo is megabytes). Made from real photos of ../shared/data."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.config import Settings
from mediaindex.domain.document import base_document
from mediaindex.entrypoints.cli.serve import build_local_api
from mediaindex.media.thumbnails import PREVIEW_SIDE
from tests.web.helpers import get


def photo_doc(path: Path, content_type: str, **extra: Any) -> dict[str, Any]:
    doc = base_document("", str(path), None)
    doc.update(status="indexed", media_type="image", content_type=content_type, labels=[], label_names=[], faces=[],
               face_count=0, people=[], content_sha256=path.name, **extra)
    return doc


@pytest.fixture
def server(tmp_path: Path, faces_dir: Path, serve) -> Any:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    source = Image.open(faces_dir / "two_people_obama_biden.jpg").convert("RGB")
    big = source.resize((4032, round(4032 * source.height / source.width)), Image.LANCZOS)
    big.save(tmp_path / "phone.heic", "HEIF", quality=80)
    big.save(tmp_path / "phone.jpg", "JPEG", quality=90)
    index = SqliteIndex(str(tmp_path / "index.db"))
    index.ensure_ready()
    docs = {"heic": photo_doc(tmp_path / "phone.heic", "image/heif"),
            "jpeg": photo_doc(tmp_path / "phone.jpg", "image/jpeg")}
    for doc in docs.values():
        index.put(doc, None)
    running = serve(build_local_api(Settings(home=tmp_path / "home"), index=index, people_factory=None))
    running.docs = docs
    return running


@pytest.mark.parametrize("kind", ["heic", "jpeg"])
def test_every_photo_has_a_display_size_jpeg(server, kind):
    doc = server.docs[kind]
    reply = get(server, f"/api/documents/{doc['id']}/preview")
    assert reply.status == 200 and reply.headers["content-type"] == "image/jpeg"
    image = reply.image()
    assert image.format == "JPEG" and max(image.size) == PREVIEW_SIDE
    original = Path(doc["key"]).stat().st_size
    assert len(reply.body) < original  # smaller than what it stands for
    assert get(server, f"/api/documents/{doc['id']}/preview").body == reply.body  # cached
    thumb = get(server, f"/api/documents/{doc['id']}/thumbnail")
    assert thumb.status == 200 and max(thumb.image().size) == 360
