"""The CLI's direct mode on the real photos with the real local models (labels only, to stay quick): the whole
path from listing to searchable documents, then a rerun that skips everything and a reconcile that finds nothing."""

from __future__ import annotations

import json

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.entrypoints.cli import main

pytestmark = pytest.mark.models


def test_backfill_a_folder_of_real_photos_with_the_local_models(images_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDIAINDEX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDIAINDEX_FEATURES", "labels")
    monkeypatch.delenv("MEDIAINDEX_QUEUE_URL", raising=False)
    index_url = f"sqlite:///{tmp_path / 'index.db'}"
    photos = sorted(p for p in images_dir.iterdir() if p.is_file() and not p.name.startswith("."))

    assert main(["backfill", str(images_dir), "--json", "--no-progress", "--index", index_url,
                 "--analyzer", "local", "--workers", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["done"] and result["outcomes"] == {"indexed": len(photos)} and result["api_calls"] == 0

    index = SqliteIndex(str(tmp_path / "index.db"))
    documents = {d["key"].rsplit("/", 1)[-1]: d for d in index.iter_documents()}
    assert set(documents) == {p.name for p in photos}
    assert "dog" in documents["n02110185_Siberian_husky.JPEG"]["label_names"]  # searchable by a broader word
    assert index.count("label:dog") >= 1

    assert main(["backfill", str(images_dir), "--json", "--no-progress", "--index", index_url]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["sent"] == 0 and again["skipped_unchanged"] == len(photos)
    assert main(["reconcile", str(images_dir), "--json", "--dry-run", "--index", index_url, "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["in_sync"] == len(photos)
