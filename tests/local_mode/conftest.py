from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE = "tests.local_mode.factory:fake_app"
# the `mediaindex` command, with this interpreter, Ctrl-C reaching it as in a terminal: a shell without job control
# starts background jobs with SIGINT ignored, and a test run started that way would pass that on to the program
MEDIAINDEX = [sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
              "from mediaindex.entrypoints.cli import run; run()"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh MEDIAINDEX_HOME (the embedded index lives there) and no index URL from the environment."""
    home = tmp_path / "home"
    monkeypatch.setenv("MEDIAINDEX_HOME", str(home))
    for name in ("MEDIAINDEX_INDEX", "MEDIAINDEX_ANALYZER", "MEDIAINDEX_QUEUE_URL", "FAKE_ANALYZER_DELAY"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def photos(tmp_path, images_dir):
    """A writable copy of ../shared/data/images (the originals are read-only)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in sorted(images_dir.iterdir()):
        target = folder / path.name
        shutil.copyfile(path, target)
    return folder


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """`mediaindex ARGS` in a subprocess (as a user runs it), from the repository root."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "functions")]), **(env or {})}
    return subprocess.run(
        [*MEDIAINDEX, *args], cwd=ROOT, env=full_env, capture_output=True,
        text=True, timeout=timeout, **kwargs,
    )
