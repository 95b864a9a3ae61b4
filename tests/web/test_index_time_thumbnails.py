"""Every photo gets its gallery thumbnail when it is indexed, from the pixels the analysis decoded anyway: the gallery's
first visit then decodes nothing (a 12 MP HEIC's thumbnail made on demand is a whole decode, about a third of a
second; a 12 MP JPEG's 60 ms). The viewer's preview is still made when first asked for. Made from a real portrait of
../shared/data."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediaindex.adapters.media.thumbnail_cache import ThumbnailCache
from mediaindex.adapters.storage.folder import ref_for
from mediaindex.bootstrap import ABSENT, build_app
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.messages import CREATED, REMOVED, StorageEvent
from mediaindex.entrypoints.cli.serve import build_local_api
from mediaindex.entrypoints.workers import WorkerSpec, bulk_indexer
from mediaindex.media.thumbnails import THUMB_SIDE, render_thumbnail
from mediaindex.services.bulk import IndexRoot
from tests.fakes import FakeAnalyzer
from tests.web.helpers import get


class DecodingAnalyzer(FakeAnalyzer):
    """The fake analyzer, decoding the picture as the local analyzer does (a file not decoded has no pixels to
    render from)."""

    def analyze(self, picture):
        picture.working_image(1280)
        return super().analyze(picture)


@pytest.fixture
def library(tmp_path: Path, faces_dir: Path):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    source = Image.open(faces_dir / "two_people_obama_biden.jpg").convert("RGB")
    big = source.resize((3000, round(3000 * source.height / source.width)), Image.LANCZOS)
    folder = tmp_path / "photos"
    folder.mkdir()
    big.save(folder / "phone.heic", "HEIF", quality=80, enc_params={"preset": "ultrafast"})
    big.save(folder / "screen.png", "PNG")
    big.save(folder / "camera.jpg", "JPEG", quality=90)
    settings = Settings(home=tmp_path / "home")
    app = build_app(settings, analyzer=DecodingAnalyzer(), faces=ABSENT)
    app.index.ensure_ready()
    summary = bulk_indexer(index=app.index, spec=WorkerSpec(settings), handle=app.pipeline.handle,
                           analyzer_name="fake").run([IndexRoot.parse(str(folder))]).to_dict()
    assert summary["indexed"] == 3, summary
    return settings, app, folder


def doc_of(app, path: Path):
    return app.index.get(docs.document_id("", str(path))).doc


def test_every_photo_gets_its_thumbnail_when_indexed(library):
    settings, app, folder = library
    cache = ThumbnailCache(settings.home / "thumbnails")
    for name in ("phone.heic", "screen.png", "camera.jpg"):
        doc = doc_of(app, folder / name)
        kept = cache.get(doc, "thumb")
        assert kept is not None, name
        # what rendering the file on demand makes, to within resampling noise
        a, b = Image.open(io.BytesIO(kept)), Image.open(io.BytesIO(render_thumbnail((folder / name).read_bytes())))
        assert a.format == "JPEG" and a.size == b.size and max(a.size) == THUMB_SIDE, name
        assert np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).mean() < 5, name  # of 255
        assert cache.get(doc, "preview") is None  # made when the viewer asks


def test_a_copy_gets_its_originals_thumbnail(library):
    """A copy's analysis is reused (nothing is decoded): its thumbnail is the original's, copied in the cache."""
    settings, app, folder = library
    copies = folder.parent / "copies"
    copies.mkdir()
    (copies / "phone copy.heic").write_bytes((folder / "phone.heic").read_bytes())
    summary = bulk_indexer(index=app.index, spec=WorkerSpec(settings), handle=app.pipeline.handle,
                           analyzer_name="fake").run([IndexRoot.parse(str(copies))]).to_dict()
    assert summary["reused"] == 1, summary
    cache = ThumbnailCache(settings.home / "thumbnails")
    copy, original = doc_of(app, copies / "phone copy.heic"), doc_of(app, folder / "phone.heic")
    assert cache.path(copy, "thumb") != cache.path(original, "thumb")
    assert cache.get(copy, "thumb") == cache.get(original, "thumb") is not None


def test_a_file_that_changes_or_leaves_takes_its_renderings_along(library):
    """Every indexed photo leaves a thumbnail (and the viewer a preview): the cache must not keep those of files
    that changed or went. A new version drops the old one's renderings; a removed file drops its folder."""
    settings, app, folder = library
    cache = ThumbnailCache(settings.home / "thumbnails")
    camera = folder / "camera.jpg"
    before = doc_of(app, camera)
    cache.put(before, "preview", b"the viewer's")  # as the API leaves it
    old_thumb, old_preview = cache.path(before, "thumb"), cache.path(before, "preview")
    assert old_thumb.is_file() and old_preview.is_file() and old_thumb.parent == old_preview.parent
    Image.open(camera).rotate(90, expand=True).save(camera, "JPEG", quality=85)  # edited in place
    assert app.pipeline.handle(StorageEvent(CREATED, ref_for(camera))).action == "indexed"
    after = doc_of(app, camera)
    assert after["content_sha256"] != before["content_sha256"]
    assert cache.get(after, "thumb") is not None
    assert not old_thumb.exists() and not old_preview.exists()  # what the file held before
    other = doc_of(app, folder / "phone.heic")
    camera.unlink()
    assert app.pipeline.handle(StorageEvent(REMOVED, ref_for(camera))).action == "removed"
    assert not cache.path(after, "thumb").parent.exists()
    assert cache.get(other, "thumb") is not None  # the others' stay


def test_the_gallery_shows_them_without_reading_the_file(library, serve, monkeypatch):
    from mediaindex.adapters.media.folder import FolderMedia

    settings, app, folder = library
    heic = doc_of(app, folder / "phone.heic")
    kept = ThumbnailCache(settings.home / "thumbnails").get(heic, "thumb")
    reads = []
    monkeypatch.setattr(FolderMedia, "read", lambda self, ref, max_bytes: reads.append(ref.key) or b"")
    server = serve(build_local_api(settings, index=app.index, people_factory=None, roots=[folder]))
    reply = get(server, f"/api/documents/{heic['id']}/thumbnail")
    assert reply.status == 200 and reply.headers["content-type"] == "image/jpeg"
    assert reply.body == kept and reads == []  # the file was not read to render it
