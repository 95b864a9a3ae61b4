"""A search for what the analyzer never reports says so (domain/capabilities.py), on the CLI and in the API."""

from __future__ import annotations

import json

from mediaindex.adapters.analysis.local import LocalAnalyzer
from mediaindex.config import Settings
from mediaindex.domain.capabilities import REKOGNITION, unsupported
from mediaindex.domain.query import Query
from mediaindex.entrypoints.cli import main


def test_the_local_analyzer_says_what_it_never_reports(tmp_path):
    local = LocalAnalyzer(Settings(models_dir=tmp_path)).capabilities
    notes = unsupported(Query.coerce("beard:true AND emotion:sad AND smile:true AND emotion:happy"), local)
    assert len(notes) == 2
    assert "does not detect beard" in notes[0] and "never reports the emotion sad" in notes[1]
    assert "calm, happy, surprised" in notes[1]
    assert unsupported(Query.coerce("NOT (glasses:true OR dog)"), local)[0].startswith("the local analyzer does not detect eyeglasses")
    assert unsupported(Query.coerce("smile:true age:20..40 gender:female"), local) == []
    assert unsupported(Query.coerce("beard:true emotion:sad"), REKOGNITION) == []
    # an emotion model in the models folder brings its seven emotions
    (tmp_path / "emotion.tflite").write_bytes(b"model")
    with_model = LocalAnalyzer(Settings(models_dir=tmp_path)).capabilities
    assert unsupported(Query.coerce("emotion:sad"), with_model) == []
    assert unsupported(Query.coerce("emotion:confused"), with_model)


def test_cli_search_prints_the_note_on_stderr_and_in_json(tmp_path, capsys, monkeypatch):
    from mediaindex.adapters.index.sqlite import SqliteIndex

    for name in ("INDEX", "ANALYZER", "FEATURES", "MODELS_DIR", "INDEX_NAME"):
        monkeypatch.delenv(f"MEDIAINDEX_{name}", raising=False)
    SqliteIndex(str(tmp_path / "index.db"), "media").ensure_ready()  # search never creates an index
    assert main(["search", "beard:true", "--home", str(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["total"] == 0 and "does not detect beard" in out["warnings"][0]
    assert "mediaindex: note: the local analyzer does not detect beard" in captured.err
    assert main(["search", "smile:true", "--home", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""
