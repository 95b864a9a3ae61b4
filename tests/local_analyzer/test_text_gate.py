"""MEDIAINDEX_TEXT: its setting, the local analyzer's text gate (`auto`), and `mediaindex search receipt` finding a
receipt screenshot indexed with the default settings and the real models."""

from __future__ import annotations

import io
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediaindex.adapters.analysis.local import LocalAnalyzer, taxonomy, text_gate
from mediaindex.config import DEFAULT_FEATURES, Settings
from mediaindex.domain.errors import ConfigurationError
from mediaindex.media.picture import Picture
from mediaindex.media.video import frame_picture

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from text_library import RECEIPT, _lines_image, camera_exif  # noqa: E402

LAKESIDE = "n09332890_lakeside.JPEG"


def encoded(image: Image.Image, fmt: str, exif: bytes | None = None) -> Picture:
    buf = io.BytesIO()
    image.save(buf, fmt, **({"exif": exif} if exif else {}))
    return Picture.from_bytes(buf.getvalue())


def probabilities_for(**shares: float) -> np.ndarray:
    """Classifier output with these classes (by name) at these probabilities."""
    names = [c.name for c in taxonomy.load().imagenet]
    p = np.zeros(len(names), dtype=np.float32)
    for name, share in shares.items():
        p[names.index(name.replace("_", " "))] = share
    return p


# --- the setting ---

def test_text_is_a_default_feature_read_where_likely():
    settings = Settings.from_env({})
    assert "text" in DEFAULT_FEATURES and settings.features == DEFAULT_FEATURES
    assert settings.text == "auto" and settings.has("text")


@pytest.mark.parametrize("raw, mode", [("auto", "auto"), ("always", "always"), ("never", "never"),
                                       (" Always ", "always"), ("", "auto")])
def test_text_modes_parse(raw, mode):
    settings = Settings.from_env({"MEDIAINDEX_TEXT": raw})
    assert settings.text == mode
    assert settings.has("text") is (mode != "never")


def test_an_unknown_text_mode_says_what_is_allowed():
    with pytest.raises(ConfigurationError, match="MEDIAINDEX_TEXT='sometimes': use auto, always, never"):
        Settings.from_env({"MEDIAINDEX_TEXT": "sometimes"})


def test_text_not_listed_is_never_read_whatever_the_mode():
    settings = Settings.from_env({"MEDIAINDEX_FEATURES": "labels,faces", "MEDIAINDEX_TEXT": "always"})
    assert not settings.has("text")


def test_only_text_read_always_counts_as_a_call_on_every_picture():
    assert Settings().every_picture_features == ("labels", "faces", "people")
    assert Settings(text="always").every_picture_features == ("labels", "faces", "people", "text")


# --- the gate's rule, on synthetic pictures and classifier outputs ---

def test_a_screenshot_is_read_a_camera_photo_of_a_screen_size_is_not():
    screen = Image.new("RGB", (1170, 2532), "white")
    assert text_gate.reason_to_read(encoded(screen, "PNG"), None) == "screen"
    assert text_gate.reason_to_read(encoded(screen, "JPEG"), None) == "screen"  # a screen's size, no camera
    assert text_gate.reason_to_read(encoded(screen, "JPEG", camera_exif()), None) is None
    photo = Image.new("RGB", (640, 480), "white")  # a camera's 4:3, not a screen's size
    assert text_gate.reason_to_read(encoded(photo, "JPEG"), None) is None
    assert text_gate.reason_to_read(encoded(photo, "PNG"), None) == "screen"  # a saved image, no camera


def test_a_video_frame_is_never_a_screenshot():
    frame = frame_picture(Image.new("RGB", (1920, 1080), "white"))
    assert text_gate.reason_to_read(frame, None) is None
    assert text_gate.reason_to_read(frame, probabilities_for(street_sign=0.5)) == "labels"


def test_labels_of_things_that_carry_text_open_the_gate():
    photo = encoded(Image.new("RGB", (640, 480), "white"), "JPEG", camera_exif())
    assert text_gate.reason_to_read(photo, probabilities_for(envelope=0.6, lakeside=0.4)) == "labels"
    # shares add up over the text classes
    assert text_gate.reason_to_read(photo, probabilities_for(menu=0.05, web_site=0.03, binder=0.03)) == "labels"
    assert text_gate.reason_to_read(photo, probabilities_for(menu=0.05, lakeside=0.95)) is None
    assert text_gate.reason_to_read(photo, probabilities_for(lakeside=1.0)) is None


# --- the real models ---

@pytest.fixture(scope="module")
def analyzer() -> LocalAnalyzer:
    return LocalAnalyzer(Settings(features=("labels", "text"), text="auto"))


def receipt_screenshot() -> bytes:
    buf = io.BytesIO()
    _lines_image((1170, 2532), RECEIPT).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.models
def test_the_gate_reads_a_receipt_screenshot(analyzer):
    before = analyzer.text_reads
    analysis = analyzer.analyze(Picture.from_bytes(receipt_screenshot()))
    words = " ".join(line.text for line in analysis.text).lower()
    assert "receipt" in words and "total" in words
    assert analyzer.last_text_reason == "screen" and analyzer.text_reads == before + 1
    assert analysis.model_versions["text"].startswith("rapidocr==")


@pytest.mark.models
def test_the_gate_leaves_a_plain_photo_unread(analyzer, images_dir):
    before = analyzer.text_reads
    analysis = analyzer.analyze(Picture.from_bytes((images_dir / LAKESIDE).read_bytes()))
    assert analyzer.last_text_reason is None and analyzer.text_reads == before
    assert analysis.text == [] and "text" not in analysis.model_versions
    assert analysis.model_versions["text_gate"] == "auto"  # decided: not analysed again for text
    assert "text" not in analyzer.last_timings and analyzer.last_timings["text_gate"] < 0.05
    assert analysis.labels  # the labels are there as before


@pytest.mark.models
def test_the_gate_without_the_labels_feature_runs_the_classifier_itself(images_dir):
    analyzer = LocalAnalyzer(Settings(features=("text",), text="auto"))
    analysis = analyzer.analyze(Picture.from_bytes((images_dir / LAKESIDE).read_bytes()))
    assert analysis.labels == [] and analyzer.last_text_reason is None and analyzer.text_reads == 0


@pytest.mark.models
def test_always_reads_the_plain_photo_and_never_reads_nothing(analyzer, images_dir):
    lakeside = (images_dir / LAKESIDE).read_bytes()
    always = LocalAnalyzer(replace(analyzer.settings, text="always"))
    always.analyze(Picture.from_bytes(lakeside))
    assert always.last_text_reason == "always" and always.text_reads == 1
    never = LocalAnalyzer(replace(analyzer.settings, text="never"))
    analysis = never.analyze(Picture.from_bytes(receipt_screenshot()))
    assert analysis.text == [] and never.text_reads == 0 and "text" not in analysis.model_versions


@pytest.mark.models
@pytest.mark.slow
def test_search_receipt_finds_the_receipt_screenshot_with_the_default_settings(tmp_path_factory, images_dir):
    from tests.local_mode.conftest import cli

    tmp_path = tmp_path_factory.mktemp("library")  # not tmp_path: its name (this test's) holds the word "receipt"
    folder = tmp_path / "phone"
    folder.mkdir()
    (folder / "IMG_0412.PNG").write_bytes(receipt_screenshot())
    shutil.copyfile(images_dir / LAKESIDE, folder / LAKESIDE)
    # first indexed as before text was read by default: the receipt is not found
    before = {"MEDIAINDEX_HOME": str(tmp_path / "home"), "MEDIAINDEX_INDEX": "", "MEDIAINDEX_TEXT": "",
              "MEDIAINDEX_FEATURES": "labels,faces,people"}
    done = cli("index", str(folder), "--workers", "1", "--json", env=before, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["indexed"] == 2
    assert json.loads(cli("search", "receipt", "--json", env=before).stdout)["hits"] == []
    # then with the default settings: the screenshot alone is analysed again (it looks like one and was never
    # through the gate), the photo is unchanged
    env = {**before, "MEDIAINDEX_FEATURES": ""}
    done = cli("index", str(folder), "--workers", "1", "--json", env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (json.loads(done.stdout)["indexed"], json.loads(done.stdout)["unchanged"]) == (1, 1)
    for word in ("receipt", "total"):
        found = json.loads(cli("search", word, "--json", env=env).stdout)
        assert [h["key"].rsplit("/", 1)[-1] for h in found["hits"]] == ["IMG_0412.PNG"], word
    lake = json.loads(cli("show", str(folder / LAKESIDE), "--json", env=env).stdout)
    assert not lake.get("text") and "text" not in (lake.get("model_versions") or {})
    screenshot = json.loads(cli("show", str(folder / "IMG_0412.PNG"), "--json", env=env).stdout)
    assert screenshot["model_versions"]["text_gate"] == "auto"
    again = json.loads(cli("index", str(folder), "--workers", "1", "--json", env=env, timeout=600).stdout)
    assert (again["indexed"], again["unchanged"]) == (0, 2)  # once only


# --- a library indexed before text was read by default ---

def screenshot_doc(**changes) -> dict:
    doc = {"status": "indexed", "media_type": "image", "camera": None, "key": "/p/IMG_0412.PNG",
           "content_type": "image/png", "width": 1170, "height": 2532, "etag": "e", "size": 10,
           "analyzer": "local", "model_versions": {"classifier": "x"}}
    return {**doc, **changes}


def test_a_screenshot_indexed_before_text_was_read_is_analysed_again_once():
    from mediaindex.domain.freshness import is_unchanged

    def unchanged(doc, reads_text=True):
        return is_unchanged(doc, etag="e", size=10, analyzer="local", face_model=None, reads_text=reads_text)

    assert not unchanged(screenshot_doc())  # before: no text, no gate
    assert unchanged(screenshot_doc(), reads_text=False)  # text not read now: nothing to catch up
    assert unchanged(screenshot_doc(model_versions={"text_gate": "auto"}))  # the gate decided
    assert unchanged(screenshot_doc(model_versions={"text": "rapidocr==3.10.0"}))  # read (always, before)
    assert unchanged(screenshot_doc(camera="Apple iPhone 13"))  # a photo
    jpeg = dict(key="/p/a.jpg", content_type="image/jpeg")
    assert not unchanged(screenshot_doc(**jpeg))  # a screen's size
    assert unchanged(screenshot_doc(**jpeg, width=4032, height=3024))  # a camera's size
    assert unchanged(screenshot_doc(status="failed"))
