"""`mediaindex models install`: a model fetched over HTTP (a server on this machine serving the tiny model), each
file checked against its pinned SHA-256, nothing kept of a wrong download, and the installed model loading."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest

from mediaindex.adapters.embeddings import registry
from mediaindex.adapters.embeddings.clip_onnx import ClipEmbedder
from mediaindex.adapters.embeddings.registry import Installable, RemoteFile
from mediaindex.domain.errors import ConfigurationError
from mediaindex.entrypoints.cli import main
from tests.descriptions.conftest import NAME

FILES = ("visual.onnx", "textual.onnx", "tokenizer.json")


@pytest.fixture
def served(models_dir):
    """The tiny model's folder over HTTP on 127.0.0.1; yields (base URL, request log)."""
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    handler = functools.partial(Handler, directory=str(models_dir / "clip" / NAME))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entry(models_dir, base: str, pinned: bool = True, wrong: str | None = None) -> dict[str, Installable]:
    folder = models_dir / "clip" / NAME
    files = tuple(RemoteFile(f, f"{base}/{f}", ("f" * 64 if f == wrong else sha(folder / f)) if pinned else None)
                  for f in FILES)
    return {"tiny-clip": Installable("tiny-clip", "the tests' tiny CLIP", "none", files)}


def test_install_fetches_checks_and_records_every_file_then_the_model_loads(models_dir, served, tmp_path):
    base, requests = served
    known = entry(models_dir, base)
    result = registry.install("tiny-clip", tmp_path, registry=known)
    folder = tmp_path / "clip" / "tiny-clip"
    assert result["already"] is False and result["path"] == str(folder)
    for f in FILES:
        assert sha(folder / f) == sha(models_dir / "clip" / NAME / f) == result["files"][f]
    config = json.loads((folder / "clip.json").read_text())
    assert config["sha256"] == result["files"] and config["preprocessing"]["size"] == 224
    assert sorted(requests) == sorted(f"/{f}" for f in FILES)
    assert not list(folder.glob("*.part"))
    clip = ClipEmbedder(tmp_path, "tiny-clip")
    assert clip.model == ClipEmbedder(models_dir, NAME).model  # the same files: the same vector space
    # installed already: nothing fetched again
    again = registry.install("tiny-clip", tmp_path, registry=known)
    assert again["already"] is True and len(requests) == 3


def test_a_download_with_the_wrong_sha256_is_refused_and_nothing_of_it_is_kept(models_dir, served, tmp_path):
    base, _ = served
    with pytest.raises(ConfigurationError, match=r"textual.onnx is not the pinned file .*models install tiny-clip"):
        registry.install("tiny-clip", tmp_path, registry=entry(models_dir, base, wrong="textual.onnx"))
    folder = tmp_path / "clip" / "tiny-clip"
    assert not (folder / "textual.onnx").exists() and not list(folder.glob("*.part"))
    assert not (folder / "clip.json").exists()


def test_unpinned_files_need_accept_unpinned_and_their_sha256_is_then_recorded_and_checked(models_dir, served, tmp_path):
    base, requests = served
    known = entry(models_dir, base, pinned=False)
    with pytest.raises(ConfigurationError, match="--accept-unpinned"):
        registry.install("tiny-clip", tmp_path, registry=known)
    assert requests == []  # refused before anything was fetched
    result = registry.install("tiny-clip", tmp_path, registry=known, accept_unpinned=True)
    assert result["unpinned"] == list(FILES)
    folder = tmp_path / "clip" / "tiny-clip"
    # the file changes on disk afterwards: refused, with the command that puts it right
    (folder / "tokenizer.json").write_text((folder / "tokenizer.json").read_text().replace("red", "rot"))
    with pytest.raises(ConfigurationError, match="mediaindex models install tiny-clip --force"):
        ClipEmbedder(tmp_path, "tiny-clip")
    registry.install("tiny-clip", tmp_path, registry=known, accept_unpinned=True, force=True)
    assert ClipEmbedder(tmp_path, "tiny-clip").embed_text("red")[0] > 0.5


def test_an_unreachable_address_installs_nothing(tmp_path):
    known = {"gone": Installable("gone", "", "", (RemoteFile("visual.onnx", "http://127.0.0.1:9/visual.onnx", "0" * 64),))}
    with pytest.raises(ConfigurationError, match="could not fetch .*nothing was installed"):
        registry.install("gone", tmp_path, registry=known)
    with pytest.raises(ConfigurationError, match="known: gone"):
        registry.install("other", tmp_path, registry=known)


def test_the_models_command_lists_installs_and_removes(models_dir, served, tmp_path, monkeypatch, capsys):
    base, _ = served
    monkeypatch.setattr(registry, "REGISTRY", entry(models_dir, base))
    monkeypatch.setenv("MEDIAINDEX_MODELS_DIR", str(tmp_path))
    assert main(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(m["name"], m["installed"], m["pinned"]) for m in listed["models"]] == [("tiny-clip", False, True)]
    assert main(["models", "install", "tiny-clip"]) == 0
    out = capsys.readouterr().out
    assert "tiny-clip installed in" in out and "MEDIAINDEX_DESCRIPTIONS=clip:tiny-clip" in out
    assert main(["models", "list"]) == 0
    assert "tiny-clip: the tests' tiny CLIP; installed in" in capsys.readouterr().out
    assert main(["models", "install", "nonesuch"]) == 2
    assert "known: tiny-clip" in capsys.readouterr().err
    assert main(["models", "remove", "tiny-clip"]) == 0
    assert not (tmp_path / "clip" / "tiny-clip").exists()
