"""The duplicates' clean-up, reversible: files moved into a trash folder (never deleted), their documents removed
through the pipeline, and a restore that moves them back and indexes them again.

A batch is one move: MEDIAINDEX_HOME/trash/<batch>/ holds the files under their full original path (so two files of
one name never meet) and a manifest.json that says where each came from. Only files on this machine, at the path
their document was indexed under, are moved (the `path_of` rule is the gallery's: no symlink on the indexed path,
or inside the served roots); S3 objects are refused (the bucket is the store of record there).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from mediaindex.domain import document as docs
from mediaindex.domain.errors import MediaIndexError, ObjectNotFound
from mediaindex.domain.messages import StorageEvent
from mediaindex.domain.objects import ObjectRef
from mediaindex.domain.vocabulary import Status
from mediaindex.ports import Index

MANIFEST = "manifest.json"
BATCH = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
MAX_FILES = 1000  # files moved in one batch


class TrashRefused(MediaIndexError):
    """A file that cannot go to the trash (not on this machine, not where it was indexed) or come back (its place is
    taken): nothing of the request was moved."""

    code = "TrashRefused"


class BatchNotFound(ObjectNotFound):
    """No trash batch of that name."""


@dataclass(frozen=True)
class Moved:
    id: str
    original: str
    trashed: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "original": self.original, "trashed": self.trashed, "size": self.size}


class Trash:
    """Move indexed files to MEDIAINDEX_HOME/trash and back (module docstring). `handle` is the pipeline's
    (services/indexing.Pipeline.handle): REMOVED events take the documents out, CREATED events index them again."""

    def __init__(self, index: Index, handle: Callable[[StorageEvent], Any], folder: Path,
                 path_of: Callable[[ObjectRef], Path]) -> None:
        self.index, self.handle, self.folder, self.path_of = index, handle, Path(folder), path_of

    # ---- to the trash --------------------------------------------------------------------------------------------
    def move(self, doc_ids: Iterable[str]) -> dict[str, Any]:
        """Move these documents' files into a new batch and remove their documents. Every file is checked before
        any is moved: one refused refuses the request."""
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            raise ValueError("ids: name at least one document to move")
        if len(ids) > MAX_FILES:
            raise ValueError(f"ids: at most {MAX_FILES} documents in one batch")
        plan = [self._checked(doc_id) for doc_id in ids]
        batch = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        root = self.folder / batch
        root.mkdir(parents=True)
        moved: list[Moved] = []
        manifest: dict[str, Any] = {"batch": batch, "created_at": docs.now_iso(), "restored_at": None, "files": []}
        try:
            for doc_id, path, size in plan:
                target = root / str(path).lstrip(os.sep)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), str(target))  # a rename on one file system; else copied, then the source removed
                moved.append(Moved(doc_id, str(path), str(target), size))
                manifest["files"] = [m.to_dict() for m in moved]
                self._write_manifest(root, manifest)  # after each file: a crash leaves what was moved listed
        finally:  # what was moved leaves the index, also when a later file could not be moved
            for m in moved:
                self.handle(StorageEvent.removed(ObjectRef("", m.original)))
            self.index.refresh()
        return {**manifest, "moved": len(moved), "bytes": sum(m.size for m in moved)}

    def _checked(self, doc_id: str) -> tuple[str, Path, int]:
        found = self.index.get(doc_id)
        if found is None or found.doc.get("status") != Status.INDEXED:
            raise ObjectNotFound(f"{doc_id}: no such indexed file")
        doc = found.doc
        if doc.get("bucket"):
            raise TrashRefused(f"{doc['bucket']}/{doc['key']} is an S3 object: the trash moves only files on this "
                               "machine (delete or move it in the bucket; the index follows its events)")
        path = self.path_of(ObjectRef("", doc["key"]))  # AccessRefused / ObjectNotFound as the gallery's rule says
        if Path(os.path.normpath(doc["key"])) != path or not path.is_file():
            raise TrashRefused(f"{doc['key']}: not a regular file at its indexed path: not moved")
        trash = self.folder.resolve()
        if trash == path or trash in path.parents:
            raise TrashRefused(f"{doc['key']} is in the trash folder already")
        return doc["id"], path, path.stat().st_size

    # ---- back ----------------------------------------------------------------------------------------------------
    def restore(self, batch: str) -> dict[str, Any]:
        """Move a batch's files back to where they were and index them again. Refused (nothing moved) when a file
        of the same name is there now."""
        root, manifest = self._batch(batch)
        if manifest.get("restored_at"):
            raise TrashRefused(f"trash batch {batch} was restored already ({manifest['restored_at']})")
        files = [Moved(**f) for f in manifest.get("files") or []]
        for m in files:
            trashed = Path(m.trashed)
            if root.resolve() not in trashed.resolve().parents or not trashed.is_file():
                raise TrashRefused(f"{m.trashed}: not in trash batch {batch} any more: nothing restored")
            if os.path.lexists(m.original):
                raise TrashRefused(f"{m.original} exists again: move it away first; nothing restored")
        outcomes = []
        for m in files:
            Path(m.original).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(m.trashed, m.original)
            outcome = self.handle(StorageEvent.created(ObjectRef("", m.original)))
            outcomes.append({"id": m.id, "key": m.original, "action": str(getattr(outcome, "action", ""))})
        self.index.refresh()
        manifest["restored_at"] = docs.now_iso()
        self._write_manifest(root, manifest)
        return {"batch": batch, "restored": len(files), "files": outcomes}

    def batches(self) -> list[dict[str, Any]]:
        """The batches in the trash, newest first, each with its manifest."""
        if not self.folder.is_dir():
            return []
        out = []
        for root in sorted(self.folder.iterdir(), reverse=True):
            if BATCH.match(root.name) and (root / MANIFEST).is_file():
                out.append(json.loads((root / MANIFEST).read_text("utf-8")))
        return out

    def _batch(self, batch: str) -> tuple[Path, dict[str, Any]]:
        if not BATCH.match(batch or ""):
            raise BatchNotFound(f"{batch[:40]!r} is not a trash batch (they look like 20261207-121500-3fa9c1)")
        root = self.folder / batch
        try:
            manifest: dict[str, Any] = json.loads((root / MANIFEST).read_text("utf-8"))
        except FileNotFoundError:
            raise BatchNotFound(f"no trash batch {batch} in {self.folder}") from None
        return root, manifest

    @staticmethod
    def _write_manifest(root: Path, manifest: dict[str, Any]) -> None:
        part = root / (MANIFEST + ".part")
        part.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), "utf-8")
        os.replace(part, root / MANIFEST)
