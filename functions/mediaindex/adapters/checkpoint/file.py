"""The checkpoint of a backfill in a small JSON file (the CheckpointStore port)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from mediaindex.domain.errors import ConfigurationError


class StateFile:
    """The checkpoint of one source in a small JSON file, replaced atomically (a crash mid-write keeps the old)."""

    def __init__(self, path: Path, source: str) -> None:
        self.path, self.source = Path(path), source

    def load(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise ConfigurationError(f"state file {self.path} is not JSON ({e}): delete it or pass --restart") from None
        if state.get("source") != self.source:
            raise ConfigurationError(
                f"state file {self.path} belongs to {state.get('source')!r}, not {self.source!r}: "
                "pass another --state file or --restart")
        return state

    def save(self, checkpoint: str | None, done: bool, totals: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps({"source": self.source, "checkpoint": checkpoint, "done": done, "totals": totals},
                                  ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def default_state_path(home: Path, source: str) -> Path:
    """$MEDIAINDEX_HOME/backfill/<hash of the source>.json: one checkpoint per source."""
    return Path(home) / "backfill" / f"{hashlib.sha256(source.encode()).hexdigest()[:16]}.json"
