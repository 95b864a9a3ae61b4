"""What a command imports: `mediaindex search` (and its --help) never loads the model runtimes, whose imports alone
take a good part of a second (cv2, onnxruntime, TFLite, dlib, RapidOCR, PyAV); checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex

HEAVY = ("cv2", "onnxruntime", "ai_edge_litert", "dlib", "rapidocr", "av", "tokenizers")
PROBE = """\
import contextlib, io, json, sys
from mediaindex.entrypoints.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        status = main(sys.argv[1:])
    except SystemExit as e:  # --help
        status = e.code
print(json.dumps({"status": status, "out": out.getvalue(),
                  "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def imported_by(*argv: str, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [("search", "--help"), ("search", "--json", "dog"), ("search", "--json")])
def test_search_imports_no_model_runtime(tmp_path, monkeypatch, argv):
    import os

    home = tmp_path / "home"
    home.mkdir()
    index = SqliteIndex(str(home / "index.db"))
    index.ensure_ready()
    index.close()
    env = {**os.environ, "MEDIAINDEX_HOME": str(home), "MEDIAINDEX_INDEX": "", "MEDIAINDEX_ANALYZER": "local"}
    found = imported_by(*argv, env=env)
    assert found["status"] == 0, found
    if "--json" in argv:
        assert json.loads(found["out"])["hits"] == []
    assert set(HEAVY).isdisjoint(found["modules"]), sorted(set(HEAVY) & set(found["modules"]))
