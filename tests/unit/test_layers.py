"""The layer rules: the import contracts declared in pyproject.toml ([tool.importlinter]) hold, and the use cases
(services/) depend on their ports: no AWS client code and no process plumbing in them; those live in adapters/ and
entrypoints/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "functions" / "mediaindex" / "services"


def test_the_import_contracts_hold():
    """`lint-imports` (import-linter, from the dev extra) beside this Python, on this checkout's code, without
    leaving a cache in the checkout."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([str(lint_imports), "--no-cache", "--no-logo"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout

FORBIDDEN = {
    "boto3 or botocore": r"^\s*(import|from)\s+(boto3|botocore)\b",
    "a botocore error code": r"\bClientError\b|\.response\.get\(\"Error\"",
    "prctl": r"\bprctl\b",
    "os.dup2": r"\bos\.dup2\b",
    "thread variables": r"OMP_NUM_THREADS|OPENBLAS_NUM_THREADS|MKL_NUM_THREADS",
    "cv2.setNumThreads": r"setNumThreads",
    "signal handling": r"^\s*import\s+signal\b|\bsignal\.signal\(",
    "multiprocessing": r"^\s*(import|from)\s+multiprocessing\b",
    "bootstrap": r"^\s*from\s+mediaindex\s+import\s+bootstrap\b|mediaindex\.bootstrap\b",
}


@pytest.mark.parametrize("path", sorted(SERVICES.glob("*.py")), ids=lambda p: p.name)
def test_a_use_case_module_has_no_aws_or_process_plumbing(path):
    text = path.read_text(encoding="utf-8")
    found = [what for what, pattern in FORBIDDEN.items() if re.search(pattern, text, re.MULTILINE)]
    assert not found, f"{path.name}: {', '.join(found)}"


@pytest.mark.parametrize("name", ["backfill.py", "bulk.py", "video.py", "runner.py", "estimate.py", "throttle.py"])
def test_the_bulk_use_cases_stay_under_500_lines(name):
    assert len((SERVICES / name).read_text(encoding="utf-8").splitlines()) < 500
