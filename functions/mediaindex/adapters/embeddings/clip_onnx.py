"""The TextImageEmbedder port on a CLIP model the user installs: an image encoder and a text encoder as ONNX files,
and the text encoder's `tokenizer.json`, run by onnxruntime and read by the `tokenizers` package.

A model is a folder `MEDIAINDEX_MODELS_DIR/clip/NAME/` holding `visual.onnx`, `textual.onnx`, `tokenizer.json` and
`clip.json` (what `mediaindex models install NAME` writes: the preprocessing and the SHA-256 of each file; a folder
put there by hand may leave it out and gets OpenCLIP ViT-B-32's preprocessing). Every file is checked against its
recorded SHA-256 once a process; a file that differs is refused with the command that fixes it.

Preprocessing as OpenCLIP's ViT-B-32: the shorter side scaled to 224 pixels (bicubic), the centre 224x224 cut out,
RGB scaled to 0-1, then (x - mean) / std per channel, as [1, 3, 224, 224] float32. Text: the tokenizer's ids (its
post-processor adds the start and end tokens), cut to 77 tokens (the last one kept the end token) and padded with 0
to [1, 77], as the text encoder's input type (int64 or int32). The first output of each encoder is the vector.

Loaded once a process, as the local analyzer's models (adapters/analysis/local/models.py `shared`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediaindex.adapters.analysis.local.models import quiet_native_stderr, sha256_of, threads
from mediaindex.adapters.embeddings.common import meaningless, unit
from mediaindex.domain.errors import ConfigurationError
from mediaindex.media.picture import Picture

VISUAL, TEXTUAL, TOKENIZER, CONFIG = "visual.onnx", "textual.onnx", "tokenizer.json", "clip.json"
FILES = (VISUAL, TEXTUAL, TOKENIZER)
# OpenAI CLIP's (and OpenCLIP ViT-B-32's) normalisation
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class Preprocessing:
    size: int = 224
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    context_length: int = 77
    pad_id: int = 0

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Preprocessing":
        default = cls()
        return cls(size=int(raw.get("size", default.size)),
                   mean=tuple(float(v) for v in raw.get("mean", default.mean)),  # type: ignore[arg-type]
                   std=tuple(float(v) for v in raw.get("std", default.std)),  # type: ignore[arg-type]
                   context_length=int(raw.get("context_length", default.context_length)),
                   pad_id=int(raw.get("pad_id", default.pad_id)))

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "mean": list(self.mean), "std": list(self.std),
                "context_length": self.context_length, "pad_id": self.pad_id}


@dataclass(frozen=True)
class ClipFolder:
    """One installed CLIP model: where its files are, how to feed it, and the SHA-256 recorded for each file."""

    name: str
    path: Path
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    sha256: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, models_dir: Path | None, name: str) -> "ClipFolder":
        if models_dir is None:
            raise ConfigurationError(f"MEDIAINDEX_DESCRIPTIONS=clip:{name} needs MEDIAINDEX_MODELS_DIR, the folder "
                                     f"the model is installed in: mediaindex models install {name}")
        path = Path(models_dir).expanduser() / "clip" / name
        missing = [f for f in FILES if not (path / f).is_file()]
        if missing:
            raise ConfigurationError(f"the CLIP model {name!r} is not installed in {path} (missing "
                                     f"{', '.join(missing)}): mediaindex models install {name}")
        raw: dict[str, Any] = {}
        if (path / CONFIG).is_file():
            try:
                raw = json.loads((path / CONFIG).read_text())
            except (OSError, ValueError) as e:
                raise ConfigurationError(f"{path / CONFIG} is not readable JSON ({e}): mediaindex models install "
                                         f"{name} --force") from None
        return cls(name, path, Preprocessing.from_json(raw.get("preprocessing") or {}),
                   {k: str(v) for k, v in (raw.get("sha256") or {}).items()})

    def checked(self) -> dict[str, str]:
        """Each file's SHA-256, checked against the recorded one (a file without a record is taken as it is)."""
        found = {}
        for name in FILES:
            path = self.path / name
            digest = _digest(path)
            expected = self.sha256.get(name)
            if expected is not None and digest != expected:
                raise ConfigurationError(
                    f"the model file {path} is not the one installed (its SHA-256 is {digest}, not {expected}): "
                    f"mediaindex models install {self.name} --force")
            found[name] = digest
        return found


_digests: dict[tuple[Path, int, float], str] = {}


def _digest(path: Path) -> str:
    """The file's SHA-256, computed once a process for a given size and modification time."""
    stat = path.stat()
    key = (path, stat.st_size, stat.st_mtime)
    if key not in _digests:
        _digests[key] = sha256_of(path)
    return _digests[key]


class ClipModel:
    """The two ONNX sessions and the tokenizer of one installed model, loaded together."""

    def __init__(self, folder: ClipFolder) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads()
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        with quiet_native_stderr():
            self.visual = ort.InferenceSession(str(folder.path / VISUAL), options, providers=providers)
            self.textual = ort.InferenceSession(str(folder.path / TEXTUAL), options, providers=providers)
        self.tokenizer = Tokenizer.from_file(str(folder.path / TOKENIZER))
        self.preprocessing = folder.preprocessing
        self.lock = threading.Lock()
        visual_out = self.visual.get_outputs()[0].shape
        text_in = self.textual.get_inputs()[0]
        self.text_dtype = "int32" if "int32" in text_in.type else "int64"
        self.dimensions = int(visual_out[-1]) if isinstance(visual_out[-1], int) else 0


_models: dict[tuple[str, str], ClipModel] = {}
_models_lock = threading.Lock()


class ClipEmbedder:
    """A CLIP model installed under MEDIAINDEX_MODELS_DIR/clip/NAME; its files are checked and loaded on first use
    (a search that embeds no text, an index run without pictures, loads nothing)."""

    def __init__(self, models_dir: Path | None, name: str) -> None:
        self.folder = ClipFolder.open(models_dir, name)
        digests = self.folder.checked()
        both = hashlib.sha256((digests[VISUAL] + digests[TEXTUAL]).encode()).hexdigest()
        # the space's id: which files, not which name, so that two names of one model share their vectors
        self.model = f"clip-onnx:{both[:16]}"
        self._digests = digests
        self._dimensions: int | None = None

    def _loaded(self) -> ClipModel:
        key = (str(self.folder.path), self.model)
        with _models_lock:
            found = _models.get(key)
            if found is None:
                try:
                    found = ClipModel(self.folder)
                except Exception as e:  # noqa: BLE001 - a file that does not load, told in one line
                    reason = (str(e).strip().splitlines() or [type(e).__name__])[-1][:160]
                    raise ConfigurationError(f"the CLIP model in {self.folder.path} does not load ({reason}): "
                                             f"mediaindex models install {self.folder.name} --force") from None
                _models[key] = found
        return found

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            loaded = self._loaded()
            self._dimensions = loaded.dimensions or len(self.embed_text("a photo"))
        return self._dimensions

    def pixels(self, picture: Picture) -> Any:
        """The picture as the image encoder takes it: [1, 3, size, size] float32 (module docstring)."""
        import numpy as np
        from PIL import Image

        p = self.folder.preprocessing
        image = picture.working_image(p.size)
        scale = p.size / min(image.size)
        resized = image.resize((max(p.size, round(image.width * scale)), max(p.size, round(image.height * scale))),
                               Image.Resampling.BICUBIC)
        left, top = (resized.width - p.size) // 2, (resized.height - p.size) // 2
        crop = resized.crop((left, top, left + p.size, top + p.size))
        scaled = np.asarray(crop, dtype=np.float32) / np.float32(255.0)
        normalised = (scaled - np.asarray(p.mean, dtype=np.float32)) / np.asarray(p.std, dtype=np.float32)
        return normalised.transpose(2, 0, 1)[None, ...].astype(np.float32)

    def tokens(self, text: str) -> Any:
        """The text as the text encoder takes it: [1, context_length] ids (module docstring)."""
        import numpy as np

        model = self._loaded()
        p = self.folder.preprocessing
        ids = list(model.tokenizer.encode(text).ids)
        if len(ids) > p.context_length:
            ids = ids[:p.context_length - 1] + ids[-1:]  # keep the end token, which the encoder reads the text at
        ids += [p.pad_id] * (p.context_length - len(ids))
        return np.asarray([ids], dtype=np.int32 if model.text_dtype == "int32" else np.int64)

    def embed_image(self, picture: Picture) -> list[float] | None:
        if meaningless(picture.working_image(self.folder.preprocessing.size)) is not None:
            return None
        model = self._loaded()
        pixels = self.pixels(picture)
        with model.lock:
            out = model.visual.run(None, {model.visual.get_inputs()[0].name: pixels})[0]
        return unit(out[0].tolist())

    def embed_text(self, text: str) -> list[float]:
        model = self._loaded()
        ids = self.tokens(text.strip())
        with model.lock:
            out = model.textual.run(None, {model.textual.get_inputs()[0].name: ids})[0]
        return unit(out[0].tolist())
