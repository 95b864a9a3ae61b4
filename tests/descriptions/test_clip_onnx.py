"""The installed-CLIP adapter on the tiny model: files checked and loaded, OpenCLIP's preprocessing, tokenising with
the tokenizers package, vectors of unit length, and the pictures that get none."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediaindex.adapters.embeddings.clip_onnx import CLIP_MEAN, CLIP_STD, ClipEmbedder
from mediaindex.bootstrap import build_describer, meaning_model
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError
from mediaindex.media.picture import Picture
from tests.descriptions.conftest import NAME, coloured, cosine
from tests.support import tiny_clip


def picture(data: bytes) -> Picture:
    return Picture.from_bytes(data)


def test_the_text_red_lies_nearest_the_red_picture(models_dir):
    clip = ClipEmbedder(models_dir, NAME)
    pictures = {name: clip.embed_image(picture(coloured(colour, seed=i))) for i, (name, colour) in enumerate(
        {"red": (220, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 220)}.items())}
    for word in ("red", "green", "blue"):
        text = clip.embed_text(f"a photo of a {word} car")
        assert math.isclose(sum(v * v for v in text), 1.0, rel_tol=1e-6)
        best = max(pictures, key=lambda name: cosine(text, pictures[name]))
        assert best == word
    assert clip.dimensions == tiny_clip.DIMENSIONS
    assert clip.model.startswith("clip-onnx:") and len(clip.model) == len("clip-onnx:") + 16


def test_preprocessing_is_openclips_bicubic_resize_centre_crop_and_normalisation(models_dir):
    clip = ClipEmbedder(models_dir, NAME)
    # 448x224: left half black, right half white; the centre crop of the 448x224 -> 448x224 resize is the middle
    image = Image.new("RGB", (448, 224), (0, 0, 0))
    image.paste((255, 255, 255), (224, 0, 448, 224))
    out = io.BytesIO()
    image.save(out, "PNG")
    pixels = clip.pixels(picture(out.getvalue()))
    assert pixels.shape == (1, 3, 224, 224) and pixels.dtype == np.float32
    for channel in range(3):
        black = (0.0 - CLIP_MEAN[channel]) / CLIP_STD[channel]
        white = (1.0 - CLIP_MEAN[channel]) / CLIP_STD[channel]
        assert pixels[0, channel, 100, 10] == pytest.approx(black, abs=1e-5)  # left of the centre: black
        assert pixels[0, channel, 100, 210] == pytest.approx(white, abs=1e-5)  # right of the centre: white
    # a tall picture is cut to its middle too: 224x672 with a red middle third
    tall = Image.new("RGB", (224, 672), (0, 0, 255))
    tall.paste((255, 0, 0), (0, 224, 224, 448))
    out = io.BytesIO()
    tall.save(out, "PNG")
    middle = clip.pixels(picture(out.getvalue()))
    assert middle[0, 0].min() == pytest.approx((1.0 - CLIP_MEAN[0]) / CLIP_STD[0], abs=1e-5)  # all red


def test_tokens_have_start_and_end_padding_and_keep_the_end_token_when_cut(models_dir):
    clip = ClipEmbedder(models_dir, NAME)
    ids = clip.tokens("A Red car")[0].tolist()
    start, end = tiny_clip.WORDS.index("<start>"), tiny_clip.WORDS.index("<end>")
    assert ids[:5] == [start, tiny_clip.WORDS.index("a"), tiny_clip.WORDS.index("red"), tiny_clip.WORDS.index("car"), end]
    assert ids[5:] == [0] * 72 and len(ids) == 77
    long = clip.tokens(" ".join(["red"] * 200))[0].tolist()
    assert len(long) == 77 and long[0] == start and long[-1] == end


def test_a_text_encoder_taking_int32_is_fed_int32(tmp_path):
    tiny_clip.build(tmp_path / "clip" / "small32", dtype="int32")
    clip = ClipEmbedder(tmp_path, "small32")
    assert clip.tokens("red").dtype == np.int32
    assert clip.embed_text("red") == pytest.approx([1 / math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3)])


def test_pictures_too_small_or_blank_get_no_vector(models_dir):
    clip = ClipEmbedder(models_dir, NAME)
    black = io.BytesIO()
    Image.new("RGB", (640, 360), (0, 0, 0)).save(black, "PNG")
    dot = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 10, 10)).save(dot, "PNG")
    assert clip.embed_image(picture(black.getvalue())) is None
    assert clip.embed_image(picture(dot.getvalue())) is None
    assert clip.embed_image(picture(coloured((120, 120, 120), seed=3))) is not None


def test_a_model_not_installed_names_the_install_command(tmp_path):
    with pytest.raises(ConfigurationError, match="mediaindex models install nothing-here"):
        ClipEmbedder(tmp_path, "nothing-here")
    with pytest.raises(ConfigurationError, match="MEDIAINDEX_MODELS_DIR"):
        ClipEmbedder(None, "tiny")


def test_a_file_that_is_not_the_recorded_one_is_refused_with_the_command_that_fixes_it(models_dir, tmp_path):
    folder = tmp_path / "clip" / "copy"
    shutil.copytree(models_dir / "clip" / NAME, folder)
    recorded = {name: "0" * 64 for name in ("visual.onnx", "textual.onnx", "tokenizer.json")}
    (folder / "clip.json").write_text(json.dumps({"sha256": recorded}))
    with pytest.raises(ConfigurationError, match=r"not the one installed .*mediaindex models install copy --force"):
        ClipEmbedder(tmp_path, "copy")


def test_a_file_that_does_not_load_is_refused_in_one_line(models_dir, tmp_path):
    folder = tmp_path / "clip" / "broken"
    shutil.copytree(models_dir / "clip" / NAME, folder)
    (folder / "visual.onnx").write_bytes(b"not a model")
    clip = ClipEmbedder(tmp_path, "broken")
    with pytest.raises(ConfigurationError, match=r"does not load .*mediaindex models install broken --force"):
        clip.embed_text("red")


def test_the_model_id_follows_the_files_not_the_name(models_dir, tmp_path):
    shutil.copytree(models_dir / "clip" / NAME, tmp_path / "clip" / "same-files")
    assert ClipEmbedder(tmp_path, "same-files").model == ClipEmbedder(models_dir, NAME).model
    tiny_clip.build_textual(tmp_path / "clip" / "same-files" / "textual.onnx", dtype="int32")
    assert ClipEmbedder(tmp_path, "same-files").model != ClipEmbedder(models_dir, NAME).model


def test_settings_pick_the_clip_adapter(models_dir):
    settings = Settings.from_env({"MEDIAINDEX_DESCRIPTIONS": f"clip:{NAME}", "MEDIAINDEX_MODELS_DIR": str(models_dir)})
    describer = build_describer(settings)
    assert isinstance(describer, ClipEmbedder)
    assert meaning_model(settings) == describer.model
    assert build_describer(Settings.from_env({})) is None and meaning_model(Settings.from_env({})) is None
