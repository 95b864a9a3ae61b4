"""YuNet and SFace run on onnxruntime from their float-converted files (adapters/analysis/local/onnx_float.py): the
faces, points, scores and vectors must be OpenCV's own, on the real photos, so nothing an index holds changes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

cv2 = pytest.importorskip("cv2")

from mediaindex.adapters.analysis.local import models, onnx_float  # noqa: E402
from mediaindex.adapters.analysis.local.faces import SFaceEmbedder, YuNetFaceDetector  # noqa: E402


def _photos() -> list[Path]:
    found = sorted(p for d in ("faces", "images") for p in (SHARED_DATA / d).rglob("*")
                   if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    assert found, "the test photos are missing"
    return found


@pytest.fixture(scope="module")
def detector_file() -> Path:
    path = models.locate(models.FACE_DETECTOR, None)
    assert path is not None
    return path


@pytest.fixture(scope="module")
def ours(detector_file: Path) -> YuNetFaceDetector:
    return YuNetFaceDetector(detector_file)


def test_yunet_on_onnxruntime_finds_what_opencv_finds(ours: YuNetFaceDetector, detector_file: Path) -> None:
    theirs = cv2.FaceDetectorYN.create(str(detector_file), "", (320, 320), ours.raw_floor, ours.nms_threshold,
                                       ours.top_k)
    pictures = faces = 0
    for photo in _photos():
        bgr = cv2.imread(str(photo))
        # as it is, and at the detector's working size (every large photo is scaled to it), which is not a
        # multiple of 32 in height: the padding is exercised
        for image in (bgr, cv2.resize(bgr, (1280, round(bgr.shape[0] * 1280 / bgr.shape[1])))):
            theirs.setInputSize((image.shape[1], image.shape[0]))
            _, expected = theirs.detect(image)
            expected = np.zeros((0, 15), np.float32) if expected is None else expected
            got = ours._faces(np.ascontiguousarray(image[:, :, ::-1]))
            assert got.shape == expected.shape, photo.name
            order_got, order_expected = np.argsort(-got[:, 14]), np.argsort(-expected[:, 14])
            np.testing.assert_allclose(got[order_got], expected[order_expected], atol=1e-2, err_msg=photo.name)
            pictures += 1
            faces += len(got)
    assert faces >= 20, f"only {faces} faces over {pictures} pictures: the comparison would say little"


def test_sface_on_onnxruntime_gives_opencv_vectors(ours: YuNetFaceDetector) -> None:
    path = models.locate(models.SFACE, None)
    assert path is not None
    embedder = SFaceEmbedder(path)
    theirs = cv2.FaceRecognizerSF.create(str(path), "")
    compared = 0
    for photo in _photos():
        bgr = cv2.imread(str(photo))
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        for face in ours.detect(rgb, min_score=0.5):
            row = np.array([[face.left, face.top, face.right - face.left, face.bottom - face.top,
                             *face.points.reshape(-1), face.score]], dtype=np.float32)
            expected = theirs.feature(theirs.alignCrop(bgr, row)).reshape(-1)
            got = np.array(embedder.embed(rgb, face))
            cosine = float(got @ expected / np.linalg.norm(expected))
            assert cosine > 0.9999, (photo.name, cosine)
            compared += 1
    assert compared >= 20


def test_dequantize_per_tensor_per_axis_and_per_block() -> None:
    q = np.arange(12, dtype=np.int8).reshape(2, 6)
    assert np.allclose(onnx_float._dequantize(q, np.array([0.5]), np.array([2]), axis=1, block=64),
                       (q - 2) * 0.5)
    per_row = onnx_float._dequantize(q, np.array([1.0, 2.0]), np.array([0, 1]), axis=0, block=0)
    assert np.allclose(per_row, [[0, 1, 2, 3, 4, 5], [10, 12, 14, 16, 18, 20]])
    # blocks of 4 along the columns: the second block is cut short at the end of the row
    blocked = onnx_float._dequantize(q, np.array([[1.0, 10.0], [2.0, 20.0]]), np.zeros((2, 2), np.int8), axis=1,
                                     block=4)
    assert np.allclose(blocked, [[0, 1, 2, 3, 40, 50], [12, 14, 16, 18, 200, 220]])


def test_the_float_file_is_made_once_and_memory_serves_when_the_cache_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, detector_file: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = onnx_float.cached_float_model(detector_file, free_input_size=True)
    assert isinstance(first, Path) and first.parent == tmp_path / "cache" / "mediaindex" / "models"
    made = first.stat().st_mtime_ns
    assert onnx_float.cached_float_model(detector_file, free_input_size=True) == first
    assert first.stat().st_mtime_ns == made  # read, not written again
    assert not list(first.parent.glob("*.part"))

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    in_memory = onnx_float.cached_float_model(detector_file, free_input_size=True)
    assert isinstance(in_memory, bytes) and in_memory == first.read_bytes()
    session = onnx_float.session(in_memory, 1)
    out = session.run(["cls_8"], {"input": np.zeros((1, 3, 64, 96), np.float32)})[0]
    assert out.shape == (1, (64 // 8) * (96 // 8), 1)
    assert sorted(os.listdir(tmp_path)) == ["cache", "not-a-folder"]  # nothing left beside the blocker


def test_a_damaged_cached_file_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             detector_file: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = onnx_float.cached_float_model(detector_file, free_input_size=True)
    assert isinstance(cached, Path)
    good = cached.read_bytes()
    cached.write_bytes(good[: len(good) // 3])  # cut short, as by a full disk
    detector = YuNetFaceDetector(detector_file)
    photo = next(p for p in _photos() if p.name.startswith("obama"))
    assert len(detector.detect(np.asarray(cv2.imread(str(photo))[:, :, ::-1]))) == 1
    assert cached.read_bytes() == good


def test_a_model_file_that_is_not_one_is_told_as_the_models_fault(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from mediaindex.adapters.analysis.local import LocalAnalyzer
    from mediaindex.config import Settings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / models.FACE_DETECTOR.filename).write_bytes(b"not an onnx file at all")
    analyzer = LocalAnalyzer(Settings(models_dir=models_dir))
    with pytest.raises(models.ModelFileError, match=models.FACE_DETECTOR.filename):
        analyzer.model("face_detector")
