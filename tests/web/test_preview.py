"""The viewer's picture: every photo at display size as a JPEG, whatever its format (a HEIC photo's own bytes show in
no browser but Safari) and however big (a 12 MP photo is megabytes). Made from real photos of ../shared/data."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.config import Settings
from mediaindex.domain.document import base_document
from mediaindex.entrypoints.cli.serve import build_local_api
from mediaindex.media.thumbnails import PREVIEW_MIN_SIDE, PREVIEW_SIDE
from tests.web.helpers import get
from tests.web.test_browser import SCREENSHOTS, browser, watched_page  # noqa: F401 - the module's Chromium, shared


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
    docs = {"heic": photo_doc(tmp_path / "phone.heic", "image/heif", width=big.width, height=big.height),
            "jpeg": photo_doc(tmp_path / "phone.jpg", "image/jpeg", width=big.width, height=big.height)}
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
    # 4032 px: decoded at half scale (a JPEG) or averaged over 2x2 pixels (a HEIC), not resampled to PREVIEW_SIDE
    assert image.format == "JPEG" and max(image.size) == 2016 and PREVIEW_MIN_SIDE <= 2016 <= PREVIEW_SIDE
    original = Path(doc["key"]).stat().st_size
    assert len(reply.body) < original  # smaller than what it stands for
    assert get(server, f"/api/documents/{doc['id']}/preview").body == reply.body  # cached
    thumb = get(server, f"/api/documents/{doc['id']}/thumbnail")
    assert thumb.status == 200 and max(thumb.image().size) == 360


@pytest.mark.parametrize(("size", "expected"), [
    ((4032, 3024), (2016, 1512)),  # a 12 MP JPEG: decoded at half scale, nothing resampled
    ((3024, 4032), (1512, 2016)),  # upright: the long side counts
    ((8064, 6048), (2016, 1512)),  # 48 MP: a quarter
    ((3000, 2000), (2048, 1365)),  # half would be 1,500, below a full-HD screen: resampled to PREVIEW_SIDE
    ((20000, 5000), (2048, 512)),  # a panorama
    ((1000, 800), (1000, 800)),  # smaller than a screen: its own size
])
def test_a_preview_is_as_large_as_a_screen_at_the_size_the_decoder_reaches_cheaply(size, expected):
    from mediaindex.media.thumbnails import render_preview

    data = io.BytesIO()
    Image.new("RGB", size, (90, 120, 200)).save(data, "JPEG", quality=80)
    preview = Image.open(io.BytesIO(render_preview(data.getvalue())))
    assert preview.size == expected
    assert min(PREVIEW_MIN_SIDE, max(size)) <= max(preview.size) <= PREVIEW_SIDE


def test_the_viewer_shows_the_preview_of_a_heic_photo(server, browser):
    """Chromium cannot show HEIC: the viewer loads the photo's JPEG preview, and it renders."""
    doc = server.docs["heic"]
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.port}/#/doc/{doc['id']}")
        page.wait_for_function(
            "() => { const i = document.querySelector('#photo'); return i && i.complete && i.naturalWidth > 0 }")
        assert page.get_attribute("#photo", "src").endswith(f"/api/documents/{doc['id']}/preview")
    finally:
        page.close()


def test_the_thumbnail_stands_in_until_the_preview_comes(server, browser):
    """A 12 MP photo's preview takes a moment to make the first time: the viewer shows the gallery's thumbnail at once,
    stretched over the photo's place, and the preview takes over when it has loaded. The test holds the preview's
    answer back (an intercepted request, released by the test) to see the first state."""
    doc = server.docs["jpeg"]
    held: list[Any] = []
    with watched_page(browser, (1440, 900)) as page:  # no failed loads, no script errors
        page.route(f"**/api/documents/{doc['id']}/preview", lambda route: held.append(route))
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url))
        with page.expect_request(lambda r: r.url.endswith(f"/api/documents/{doc['id']}/preview")):
            page.goto(f"http://127.0.0.1:{server.port}/#/doc/{doc['id']}")
        stand_in, photo = page.locator("#photo-stand-in"), page.locator("#photo")
        stand_in.evaluate("img => img.decode()")
        assert max(stand_in.evaluate("i => [i.naturalWidth, i.naturalHeight]")) == 360  # the gallery's thumbnail
        assert photo.evaluate("i => i.naturalWidth") == 0  # the preview has not come
        shown, place = stand_in.bounding_box(), photo.bounding_box()
        assert shown == place and shown["width"] > 360  # over the photo's place, as large as the photo will show
        width, height = Image.open(doc["key"]).size
        assert abs(shown["width"] / shown["height"] - width / height) < 0.01
        page.screenshot(path=str(SCREENSHOTS / "mediaindex-viewer-stand-in.png"))
        while not held:  # the request was seen; its route event reaches the test on its next call to the page
            page.evaluate("0")
        assert not any("/similar" in url for url in asked)  # the look-alikes wait for the photo
        with page.expect_request(lambda r: "/similar" in r.url):
            held[0].continue_()
            photo.evaluate("img => img.decode()")
        assert photo.evaluate("i => i.naturalWidth") == 2016  # the preview (PREVIEW_MIN_SIDE..PREVIEW_SIDE)
        expect(stand_in).to_have_count(0)
        landed = photo.bounding_box()  # where the stand-in was, to a pixel's rounding: nothing jumps
        assert all(abs(landed[k] - place[k]) <= 1 for k in place), (landed, place)


def test_without_a_thumbnail_the_viewer_waits_for_the_preview(server, browser):
    """A photo whose thumbnail cannot be had (the server answers 404) gets no broken stand-in: it goes before the
    preview comes (held back by the test), and the preview shows when it does."""
    doc = server.docs["jpeg"]
    held: list[Any] = []
    with watched_page(browser, (1440, 900)) as page:
        page.route(f"**/api/documents/{doc['id']}/thumbnail", lambda route: route.fulfill(status=404, body="{}"))
        page.route(f"**/api/documents/{doc['id']}/preview", lambda route: held.append(route))
        with page.expect_request(lambda r: r.url.endswith(f"/api/documents/{doc['id']}/preview")):
            page.goto(f"http://127.0.0.1:{server.port}/#/doc/{doc['id']}")
        page.wait_for_selector("#photo")
        expect(page.locator("#photo-stand-in")).to_have_count(0)
        while not held:  # the preview was asked for (seen above); its route event comes on a call to the page
            page.evaluate("0")
        assert page.locator("#photo").evaluate("i => i.naturalWidth") == 0  # gone before the preview came
        held[0].continue_()
        page.locator("#photo").evaluate("img => img.decode()")
        assert page.locator("#photo").evaluate("i => i.naturalWidth") == 2016
        page.console_errors[:] = [e for e in page.console_errors if "404" not in e]  # the refused thumbnail
