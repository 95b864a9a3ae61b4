"""Keep the index in step with a folder while it changes: created, modified, moved and deleted files.

File-system events (watchdog) only say *that* a path changed; what to do is decided when the path has been quiet
for `debounce` seconds and its size and modification time held still over that time, so a file being copied or
written is indexed once, when it is complete. A path's latest event wins (created then deleted within the quiet
time: nothing is indexed). A move is "remove the old key, index the new one" (the new key reuses the analysis of
the same bytes, so a rename costs no analyzer call). A folder moved or deleted removes every document under it.
Each change goes through `Pipeline.handle` like any other event, so the index rules (unchanged skips, tombstones,
compare-and-set) are the same as everywhere else.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from mediaindex.domain import document as docs
from mediaindex.domain.errors import MediaIndexError
from mediaindex.domain.local_files import LOCAL_BUCKET, fingerprint, hidden, ignored
from mediaindex.domain.messages import CREATED, REMOVED, Outcome, StorageEvent
from mediaindex.domain.vocabulary import Action
from mediaindex.ports import Index, ObjectRef
from mediaindex.services.runner import Handle

log = logging.getLogger(__name__)

DEFAULT_DEBOUNCE = 1.0


@dataclass
class _Pending:
    kind: str  # CREATED or REMOVED
    due: float
    stamp: str | None  # size/mtime fingerprint when scheduled: indexed only once it holds still


class FolderWatcher:
    """Watches `root` recursively and feeds `handle` one event per settled change. `start()` returns at once;
    `stop()` ends the watching (pending changes that are not yet settled are dropped: the next sync finds them)."""

    def __init__(self, root: str, handle: Handle, index: Index | None = None, debounce: float = DEFAULT_DEBOUNCE,
                 on_outcome: Callable[[Outcome | None, str, Exception | None], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))
        self.handle, self.index, self.debounce = handle, index, debounce
        self.on_outcome, self.clock = on_outcome, clock
        self.counts: Counter = Counter()
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._observer: Any = None
        self._worker: threading.Thread | None = None

    # ---- scheduling (called from watchdog's thread) --------------------------------------------------------------
    def schedule(self, kind: str, path: str) -> None:
        if ignored(path, self.root):
            return
        stamp = self._stamp(path) if kind == CREATED else None
        with self._lock:
            self._pending[path] = _Pending(kind, self.clock() + self.debounce, stamp)
        self._wake.set()

    def schedule_tree(self, kind: str, folder: str) -> None:
        """Every file under a folder that appeared (walk it) or vanished (ask the index what it held there)."""
        if kind == CREATED:
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames[:] = [d for d in dirnames if not hidden(d)]
                for name in filenames:
                    self.schedule(CREATED, os.path.join(dirpath, name))
            return
        for key in self.indexed_under(folder):
            self.schedule(REMOVED, key)

    def indexed_under(self, folder: str) -> Iterator[str]:
        if self.index is None:  # watching without an index: nothing to ask
            return
        prefix = folder.rstrip(os.sep) + os.sep
        for doc in self.index.iter_documents():
            key = str(doc.get("key") or "")
            if not doc.get("bucket") and key.startswith(prefix) and doc.get("status") != docs.DELETED:
                yield key

    @staticmethod
    def _stamp(path: str) -> str | None:
        try:
            return fingerprint(os.stat(path))
        except OSError:
            return None

    # ---- handling (our own thread) -------------------------------------------------------------------------------
    def _due(self) -> list[tuple[str, _Pending]]:
        now = self.clock()
        ready = []
        with self._lock:
            for path, pending in list(self._pending.items()):
                if pending.due > now:
                    continue
                if pending.kind == CREATED:
                    stamp = self._stamp(path)
                    if stamp != pending.stamp and stamp is not None:  # still being written: wait another round
                        pending.stamp, pending.due = stamp, now + self.debounce
                        continue
                ready.append((path, self._pending.pop(path)))
        # creations first: a moved file's new key then finds the old key's analysis (before it is tombstoned)
        ready.sort(key=lambda item: item[1].kind != CREATED)
        return ready

    def process_due(self) -> int:
        """Handle every settled change; returns how many. Called by the watcher's thread (and by tests)."""
        ready = self._due()
        for path, pending in ready:
            kind = pending.kind
            if kind == CREATED and not os.path.isfile(path):
                kind = REMOVED  # gone (or turned into a folder) before it settled
            ref = ObjectRef(LOCAL_BUCKET, path)
            event = (StorageEvent.created(ref, pending.stamp, _size(path)) if kind == CREATED
                     else StorageEvent.removed(ref))
            try:
                outcome = self.handle(event)
            except MediaIndexError as e:  # a passing fault: the next sync (or the next change) picks it up
                self.counts[Action.ERROR] += 1
                log.warning("%s: %s", path, e)
                if self.on_outcome:
                    self.on_outcome(None, path, e)
                continue
            self.counts[outcome.action] += 1
            if self.on_outcome:
                self.on_outcome(outcome, path, None)
        return len(ready)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(timeout=min(0.25, self.debounce / 2 or 0.05))
            self._wake.clear()
            try:
                self.process_due()
            except Exception:  # noqa: BLE001 - keep watching; say what went wrong
                log.exception("watching %s: a change could not be handled", self.root)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # ---- life cycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        from watchdog.observers import Observer

        self._observer = Observer()
        self._observer.schedule(_Forwarder(self), self.root, recursive=True)
        self._observer.start()
        self._worker = threading.Thread(target=self._loop, name="watch-handle", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._worker is not None:
            self._worker.join(timeout=60)  # let the file being analysed finish its write

    def __enter__(self) -> "FolderWatcher":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _forwarder_base() -> type:
    from watchdog.events import FileSystemEventHandler

    return FileSystemEventHandler


class _Forwarder(_forwarder_base()):  # type: ignore[misc]
    """Translates watchdog's events into the watcher's schedule."""

    def __init__(self, watcher: FolderWatcher) -> None:
        super().__init__()
        self.w = watcher

    def on_created(self, event: Any) -> None:
        if event.is_directory:
            self.w.schedule_tree(CREATED, event.src_path)
        else:
            self.w.schedule(CREATED, event.src_path)

    def on_modified(self, event: Any) -> None:
        if not event.is_directory:
            self.w.schedule(CREATED, event.src_path)

    def on_closed(self, event: Any) -> None:  # a writer closed the file: it may be complete now
        if not event.is_directory:
            self.w.schedule(CREATED, event.src_path)

    def on_deleted(self, event: Any) -> None:
        if event.is_directory:
            self.w.schedule_tree(REMOVED, event.src_path)
        else:
            self.w.schedule(REMOVED, event.src_path)

    def on_moved(self, event: Any) -> None:
        if event.is_directory:
            self.w.schedule_tree(REMOVED, event.src_path)
            if event.dest_path.startswith(self.w.root):
                self.w.schedule_tree(CREATED, event.dest_path)
            return
        self.w.schedule(REMOVED, event.src_path)
        if event.dest_path.startswith(self.w.root):
            self.w.schedule(CREATED, event.dest_path)
