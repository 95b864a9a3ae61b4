"""The type check is part of the test command: mypy on functions/mediaindex with pyproject.toml's [tool.mypy]
(strict on domain/ and ports.py, the usual checks elsewhere, bodies of unannotated functions included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mypy_finds_no_type_errors():
    # the cache beside the checkout (.gitignore'd) makes a second run take seconds instead of most of a minute
    stdout, stderr, status = api.run([
        "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(ROOT / ".mypy_cache"),
        str(ROOT / "functions" / "mediaindex"),
    ])
    assert status == 0, f"mypy found type errors:\n{stdout}{stderr}"
