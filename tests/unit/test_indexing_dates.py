"""Where the indexing use case takes a file's date from (`taken_at_source`), copies of the same bytes under other
names, and the EXIF lens model that tells a selfie."""

from __future__ import annotations

import io

from PIL import Image

from mediaindex.domain import document as docs
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.ports import ObjectRef
from mediaindex.services import indexing
from mediaindex.services.indexing import Pipeline
from tests.fakes import FakeAnalyzer, FakeIndex, FakeStorage

MODIFIED = "2024-01-02T03:04:05+00:00"


def jpeg(taken: str | None = None, lens: str | None = None, color=(10, 20, 30)) -> bytes:
    exif = Image.Exif()
    if taken or lens:
        exif[0x010F], exif[0x0110] = "Apple", "iPhone 12"
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    if lens:
        exif.get_ifd(0x8769)[0xA434] = lens
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def make(video=None) -> Pipeline:
    return Pipeline(storage=FakeStorage(), analyzer=FakeAnalyzer(), index=FakeIndex(), video=video)


def index(p: Pipeline, key: str, seq: str) -> dict:
    outcome = p.handle(StorageEvent(CREATED, ObjectRef("media", key), sequencer=seq, event_name="ObjectCreated:Put"))
    assert outcome.action in (indexing.INDEXED, indexing.REUSED), outcome
    return p.index.get(docs.document_id("media", key)).doc


def test_the_exif_date_first_then_the_file_name_then_the_file_time():
    p = make()
    p.storage.write("IMG_20210811_142233.jpg", jpeg("2019:05:06 07:08:09"), MODIFIED)
    p.storage.write("IMG_20210811_142234.jpg", jpeg(color=(1, 2, 3)), MODIFIED)
    p.storage.write("IMG_1234.jpg", jpeg(color=(4, 5, 6)), MODIFIED)
    p.storage.write("IMG_1235.jpg", jpeg(color=(7, 8, 9)))
    exif = index(p, "IMG_20210811_142233.jpg", "01")
    assert (exif["taken_at"], exif["taken_at_source"]) == ("2019-05-06T07:08:09", "exif")
    named = index(p, "IMG_20210811_142234.jpg", "02")
    assert (named["taken_at"], named["taken_at_source"]) == ("2021-08-11T14:22:34", "file name")
    timed = index(p, "IMG_1234.jpg", "03")
    assert (timed["taken_at"], timed["taken_at_source"]) == ("2024-01-02T03:04:05", "file time")
    assert timed["last_modified"] == MODIFIED
    none = index(p, "IMG_1235.jpg", "04")
    assert (none["taken_at"], none["taken_at_source"]) == (None, None)


def test_a_copy_keeps_the_exif_date_but_takes_its_own_name_or_file_time():
    p = make()
    with_exif, without = jpeg("2019:05:06 07:08:09"), jpeg(color=(99, 0, 0))
    p.storage.write("a/IMG_20210811_142233.jpg", with_exif, MODIFIED)
    p.storage.write("b/copy.jpg", with_exif, "2025-05-05T05:05:05Z")
    p.storage.write("a/IMG_20210811_142234.jpg", without, MODIFIED)
    p.storage.write("b/IMG_20220101_000000.jpg", without, MODIFIED)
    p.storage.write("c/copy.jpg", without, "2025-05-05T05:05:05Z")
    index(p, "a/IMG_20210811_142233.jpg", "01")
    copy = index(p, "b/copy.jpg", "02")
    assert (copy["taken_at"], copy["taken_at_source"]) == ("2019-05-06T07:08:09", "exif")
    original = index(p, "a/IMG_20210811_142234.jpg", "03")
    assert original["taken_at_source"] == "file name"
    renamed = index(p, "b/IMG_20220101_000000.jpg", "04")
    assert (renamed["taken_at"], renamed["taken_at_source"]) == ("2022-01-01T00:00:00", "file name")
    copied = index(p, "c/copy.jpg", "05")
    assert (copied["taken_at"], copied["taken_at_source"]) == ("2025-05-05T05:05:05", "file time")
    assert p.analyzer.calls == 2  # the copies were not analysed again


def test_a_copy_of_a_document_written_before_taken_at_source_keeps_its_date():
    p = make()
    data = jpeg("2019:05:06 07:08:09")
    p.storage.write("a.jpg", data)
    p.storage.write("b.jpg", data, MODIFIED)
    old = index(p, "a.jpg", "01")
    old.pop("taken_at_source")
    p.index.put(old, p.index.get(old["id"]).version)
    copy = index(p, "b.jpg", "02")
    assert (copy["taken_at"], copy["taken_at_source"]) == ("2019-05-06T07:08:09", "exif")


VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


def test_a_video_takes_its_container_date_or_else_its_name():
    dates = {"VID_20200101_101010.mp4": "2018-03-04T05:06:07.000000Z", "VID_20200101_101011.mp4": None}

    def video(obj):
        return {"taken_at": dates[obj.ref.key], "camera": None, "labels": [], "faces": []}, 0

    p = make(video=video)
    p.storage.write("VID_20200101_101010.mp4", VIDEO, MODIFIED)
    p.storage.write("VID_20200101_101011.mp4", VIDEO + b"\x01", MODIFIED)
    dated = index(p, "VID_20200101_101010.mp4", "01")
    assert (dated["taken_at"], dated["taken_at_source"]) == ("2018-03-04T05:06:07.000000Z", "container")
    named = index(p, "VID_20200101_101011.mp4", "02")
    assert (named["taken_at"], named["taken_at_source"]) == ("2020-01-01T10:10:11", "file name")


def test_the_exif_lens_model_reaches_the_document_and_its_copies():
    p = make()
    data = jpeg("2021:01:02 03:04:05", lens="iPhone 12 front camera 2.71mm f/2.2")
    p.storage.write("selfie.jpg", data)
    p.storage.write("again.jpg", data)
    assert index(p, "selfie.jpg", "01")["lens"] == "iPhone 12 front camera 2.71mm f/2.2"
    assert index(p, "again.jpg", "02")["lens"] == "iPhone 12 front camera 2.71mm f/2.2"
    p.storage.write("plain.jpg", jpeg(color=(3, 3, 3)))
    assert index(p, "plain.jpg", "03")["lens"] is None
