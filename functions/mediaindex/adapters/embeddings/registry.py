"""The CLIP models `mediaindex models install NAME` can fetch: each file with its address and, where it could be
checked, its SHA-256. Nothing is downloaded unless asked; files land in MEDIAINDEX_MODELS_DIR/clip/NAME/ in the layout
clip_onnx.py reads, with `clip.json` recording the preprocessing and each file's SHA-256.

A download is written beside its final name and renamed only once its SHA-256 is right, so an interrupted or altered
download never becomes the model. The registry's SHA-256 of a file that could not be fetched when this version was
made is None: such a file is installed only with `--accept-unpinned`, and its SHA-256 as downloaded is recorded
(then checked on every load) and printed, for the user to compare with the publisher's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mediaindex.adapters.embeddings.clip_onnx import CONFIG, FILES, TEXTUAL, TOKENIZER, VISUAL, Preprocessing
from mediaindex.domain.errors import ConfigurationError


@dataclass(frozen=True)
class RemoteFile:
    name: str  # its name in the model's folder: visual.onnx, textual.onnx, tokenizer.json
    url: str
    sha256: str | None  # None: not verified when this registry was written (see the module docstring)
    size: int | None = None  # bytes, as published, for the listing


@dataclass(frozen=True)
class Installable:
    name: str
    description: str
    licence: str
    files: tuple[RemoteFile, ...]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)


# Immich's ONNX export of OpenAI CLIP ViT-B-32 (weights MIT, OpenAI), pinned to one commit of its repository. The
# addresses were found in the repository's listing; this machine cannot reach them, so their SHA-256 were not
# verified here: None (install with --accept-unpinned, and compare the printed SHA-256 with the hub's "LFS" details).
_IMMICH = "https://huggingface.co/immich-app/ViT-B-32__openai/resolve/72bcf10e34be254fe85541967ebdf9dfb51ebdb0"
REGISTRY: dict[str, Installable] = {
    "openclip-vit-b-32": Installable(
        name="openclip-vit-b-32",
        description="OpenAI CLIP ViT-B-32 (OpenCLIP export, 512 numbers a vector), about 350 MB",
        licence="MIT (OpenAI CLIP weights)",
        files=(
            RemoteFile(VISUAL, f"{_IMMICH}/visual/model.onnx", None),
            RemoteFile(TEXTUAL, f"{_IMMICH}/textual/model.onnx", None, 254_000_000),
            RemoteFile(TOKENIZER, f"{_IMMICH}/textual/tokenizer.json", None, 2_220_000),
        ),
    ),
}

Opener = Callable[[str], Any]  # url -> a readable response (urllib.request.urlopen)
Progress = Callable[[str, int], None]  # (file name, bytes so far)


def model_folder(models_dir: Path, name: str) -> Path:
    return Path(models_dir).expanduser() / "clip" / name


def _open(url: str) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": "mediaindex"})
    return urllib.request.urlopen(request, timeout=60)  # noqa: S310 - the registry's https (or a test's) address


def install(name: str, models_dir: Path | None, *, registry: dict[str, Installable] | None = None,
            force: bool = False, accept_unpinned: bool = False, opener: Opener = _open,
            progress: Progress | None = None) -> dict[str, Any]:
    """Fetch model `name` into MODELS_DIR/clip/NAME; {"name", "path", "files": {name: sha256}, "unpinned": [...],
    "already": bool}. Raises ConfigurationError for an unknown name, a missing folder setting, an unpinned file
    without `accept_unpinned`, and a download whose SHA-256 is not the pinned one (nothing is kept of it)."""
    known = REGISTRY if registry is None else registry
    if name not in known:
        raise ConfigurationError(f"no model {name!r} to install; known: {', '.join(sorted(known))} "
                                 "(mediaindex models list)")
    if models_dir is None:
        raise ConfigurationError("set MEDIAINDEX_MODELS_DIR (or --models-dir) to the folder models go in")
    entry = known[name]
    unpinned = [f.name for f in entry.files if f.sha256 is None]
    if unpinned and not accept_unpinned:
        raise ConfigurationError(
            f"this version pins no SHA-256 for {', '.join(unpinned)} of {name} (they could not be checked when it "
            f"was made): to fetch them anyway and record what was fetched, run mediaindex models install {name} "
            "--accept-unpinned, then compare the printed SHA-256 with the publisher's")
    folder = model_folder(models_dir, name)
    recorded = _recorded(folder)
    if not force and all((folder / f.name).is_file() and f.name in recorded
                         and (f.sha256 is None or recorded[f.name] == f.sha256) for f in entry.files):
        return {"name": name, "path": str(folder), "files": recorded, "unpinned": unpinned, "already": True}
    folder.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    for remote in entry.files:
        digests[remote.name] = _fetch(remote, folder, opener, progress, name)
    config = {"name": name, "preprocessing": entry.preprocessing.to_json(), "sha256": digests,
              "unpinned": unpinned, "source": {f.name: f.url for f in entry.files}}
    tmp = folder / (CONFIG + ".part")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(tmp, folder / CONFIG)
    return {"name": name, "path": str(folder), "files": digests, "unpinned": unpinned, "already": False}


def _fetch(remote: RemoteFile, folder: Path, opener: Opener, progress: Progress | None, name: str) -> str:
    part = folder / (remote.name + ".part")
    digest = hashlib.sha256()
    done = 0
    try:
        with opener(remote.url) as response, part.open("wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
                done += len(block)
                if progress is not None:
                    progress(remote.name, done)
    except OSError as e:  # urllib's URLError and HTTPError are OSErrors
        part.unlink(missing_ok=True)
        raise ConfigurationError(f"could not fetch {remote.url} ({e}): nothing was installed; try again later: "
                                 f"mediaindex models install {name}") from None
    found = digest.hexdigest()
    if remote.sha256 is not None and found != remote.sha256:
        part.unlink(missing_ok=True)
        raise ConfigurationError(
            f"the download of {remote.url} is not the pinned file (SHA-256 {found}, expected {remote.sha256}): "
            f"nothing was installed; try again (mediaindex models install {name} --force), and if it differs "
            "again the publisher changed the file")
    os.replace(part, folder / remote.name)
    return found


def _recorded(folder: Path) -> dict[str, str]:
    try:
        raw = json.loads((folder / CONFIG).read_text())
    except (OSError, ValueError):
        return {}
    sha = raw.get("sha256") if isinstance(raw, dict) else None
    return {k: str(v) for k, v in sha.items()} if isinstance(sha, dict) else {}


def listing(models_dir: Path | None, registry: dict[str, Installable] | None = None) -> list[dict[str, Any]]:
    """Every model of the registry and every model folder found under MODELS_DIR/clip: name, installed, path,
    description, and whether its files are pinned."""
    known = REGISTRY if registry is None else registry
    rows: dict[str, dict[str, Any]] = {}
    for entry in known.values():
        rows[entry.name] = {"name": entry.name, "description": entry.description, "licence": entry.licence,
                            "pinned": all(f.sha256 for f in entry.files), "installed": False, "path": None}
    if models_dir is not None:
        base = Path(models_dir).expanduser() / "clip"
        for folder in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
            row = rows.setdefault(folder.name, {"name": folder.name, "description": "placed by hand",
                                                "licence": None, "pinned": False, "installed": False, "path": None})
            row["installed"] = all((folder / f).is_file() for f in FILES)
            row["path"] = str(folder)
    return list(rows.values())


def remove(name: str, models_dir: Path | None) -> bool:
    """Delete an installed model's folder; False when there was none."""
    if models_dir is None:
        return False
    folder = model_folder(models_dir, name)
    if not folder.is_dir():
        return False
    shutil.rmtree(folder)
    return True
