"""Kinds of files (photo, video, screenshot, selfie) and the words a camera answers to (domain/kinds.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaindex.domain.kinds import camera_words, is_screenshot, kinds_of, screen_sized


@pytest.mark.parametrize("camera,words", [
    ("Apple iPhone 15 Pro", ["apple", "iphone", "15", "pro"]),
    ("iPhone 12", ["iphone", "12", "apple"]),
    ("NIKON D850", ["nikon", "d850"]),
    ("Canon EOS 5D Mark IV", ["canon", "eos", "5d", "mark", "iv"]),
    ("EOS R5", ["eos", "r5", "canon"]),
    ("samsung SM-G991B", ["samsung", "sm", "g991b", "galaxy"]),
    ("SM-G991B", ["sm", "g991b", "samsung", "galaxy"]),
    ("Google Pixel 7", ["google", "pixel", "7"]),
    ("Pixel 7", ["pixel", "7", "google"]),
    ("SONY ILCE-7M3", ["sony", "ilce", "7m3", "alpha"]),
    ("Panasonic DC-GH5", ["panasonic", "dc", "gh5", "lumix"]),
    ("OLYMPUS IMAGING CORP. E-M10", ["olympus", "e", "m10"]),
    ("FUJIFILM X-T5", ["fujifilm", "x", "t5"]),
    ("Café Cam", ["cafe", "cam"]),
    ("SM", ["sm"]),
    (None, []), ("", []),
])
def test_camera_words(camera, words):
    assert camera_words(camera) == words


@settings(deadline=None)  # a busy machine must not fail a property on time
@given(st.one_of(st.none(), st.text(max_size=40)))
def test_camera_words_are_folded_and_once(camera):
    words = camera_words(camera)
    # folded as every search word is (str.casefold: a Cherokee letter folds to its capital, which lower() undoes)
    assert len(words) == len(set(words)) and all(w == w.casefold() and w for w in words)


def image(**fields):
    return {"media_type": "image", "content_type": "image/jpeg", "key": "a/IMG_0001.jpg", "width": 4032,
            "height": 3024, "camera": None, "text": None, **fields}


@pytest.mark.parametrize("doc,kinds", [
    ({"media_type": "video", "key": "clip.mp4"}, ["video"]),
    (image(camera="Apple iPhone 12"), ["photo"]),
    (image(), ["photo"]),  # no camera, but a camera's 4:3 photo size
    ({"media_type": None, "status": "failed"}, []),
    ({}, []),
    # selfies: the front camera, as the lens model says
    (image(camera="Apple iPhone 12", lens="iPhone 12 front camera 2.71mm f/2.2"), ["photo", "selfie"]),
    (image(camera="Apple iPhone 12", lens="iPhone 12 back dual wide camera 4.2mm f/1.6"), ["photo"]),
    (image(camera="Google Pixel 7", lens="Front"), ["photo", "selfie"]),
    (image(camera="x", lens="frontier 50mm"), ["photo"]),
    ({"media_type": "video", "lens": "front camera"}, ["video"]),
    # screenshots: a PNG of a phone's screen, or any screen with text in it
    (image(content_type="image/png", key="IMG_0005.PNG", width=1170, height=2532), ["photo", "screenshot"]),
    (image(content_type="image/png", key="x.png", width=2532, height=1170), ["photo", "screenshot"]),
    (image(width=1920, height=1080, text="Inbox (3) Compose"), ["photo", "screenshot"]),
    (image(content_type="image/png", key="x.png", width=2940, height=1912), ["photo"]),  # no screen's size
    (image(content_type="image/png", key="x.png", width=1000, height=1000), ["photo"]),
    (image(width=1920, height=1080), ["photo"]),  # a screen's size, but a JPEG with no text: a photo
    (image(width=1920, height=1080, text="   "), ["photo"]),
    (image(width=1920, height=1080, text="EXIT", camera="Canon EOS R5"), ["photo"]),  # a camera took it
    (image(content_type="image/png", key="x.png", width=1080, height=2400, camera="samsung SM-G991B"), ["photo"]),
    # ratios: a 20:9 phone not in the list
    (image(content_type="image/png", key="x.png", width=1116, height=2480), ["photo", "screenshot"]),
    (image(content_type="image/png", key="x.png", width=360, height=800), ["photo"]),  # too small a screen
    # the key says so, whatever the size
    (image(key="Screenshot_20191002-082233_Chrome.jpg", width=500, height=700), ["photo", "screenshot"]),
    (image(key="Screen Shot 2019-10-02 at 8.22.33 AM.png", width=500, height=700), ["photo", "screenshot"]),
    (image(key="DCIM/Screenshots/IMG_0001.jpg"), ["photo", "screenshot"]),
    (image(key="Bildschirmfoto 2023-01-01 um 10.00.00.png"), ["photo", "screenshot"]),
    (image(key="Capture d'écran 2023-01-01 à 10.00.00.png"), ["photo", "screenshot"]),
    (image(key="Screenshot_1.jpg", camera="Apple iPhone 12"), ["photo"]),  # a photo of a screen, named so
    (image(key="screenplay/shot.jpg"), ["photo"]),
])
def test_kinds(doc, kinds):
    assert kinds_of(doc) == kinds


def test_screen_sizes_either_way_round_and_ratios():
    assert screen_sized(1170, 2532) and screen_sized(2532, 1170)
    assert screen_sized(768, 1024) and screen_sized(2048, 1536)  # iPads: 4:3 only as exact sizes
    assert not screen_sized(4032, 3024) and not screen_sized(6000, 4000)  # cameras' 4:3 and 3:2
    assert screen_sized(3200, 1800) and screen_sized(1000, 1600)  # 16:9, 16:10
    assert not screen_sized(0, 0) and not screen_sized(None, 10) and not screen_sized("1920", "1080")
    assert not screen_sized(True, True)


@settings(deadline=None)  # a busy machine must not fail a property on time
@given(st.dictionaries(st.sampled_from(["media_type", "camera", "lens", "key", "width", "height", "text",
                                        "content_type"]),
                       st.one_of(st.none(), st.text(max_size=20), st.integers(), st.booleans())))
def test_kinds_never_raise(doc):
    kinds = kinds_of(doc)
    assert set(kinds) <= {"photo", "video", "screenshot", "selfie"}
    assert is_screenshot(doc) == ("screenshot" in kinds)
