"""The words the index and its reports are written in, each defined once.

Every enum is a `StrEnum`: a member equals (and serialises as) the plain string stored in documents, JSON output
and API responses, so `Status.INDEXED == "indexed"` and `json.dumps(Status.INDEXED) == '"indexed"'`.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """What happened to a file in storage (`StorageEvent.kind`)."""

    CREATED = "created"  # created or overwritten
    REMOVED = "removed"


class Status(StrEnum):
    """A document's `status`."""

    INDEXED = "indexed"  # analysed: searchable
    FAILED = "failed"  # could not be analysed: `error` says why; kept out of normal search results
    DELETED = "deleted"  # a tombstone: the file is gone; never shown in search


class Action(StrEnum):
    """What handling one event did to the index (`Outcome.action`, and the counts of a bulk run)."""

    INDEXED = "indexed"  # analysed and written
    REUSED = "reused"  # same bytes were analysed before: analysis copied, no analyzer call
    FAILED = "failed"  # the file is bad: a `failed` document says why
    REMOVED = "removed"  # tombstone written
    STALE = "stale"  # an older event than what the index holds: ignored
    DUPLICATE = "duplicate"  # the same event again: ignored
    GONE = "gone"  # the file was deleted before we read it: nothing to index, not an error
    UNCHANGED = "unchanged"  # same size and etag as already indexed: skipped without reading
    ERROR = "error"  # handling raised: not recorded, so the next run tries the file again
    # of an event for a known person's enrolment photo
    ENROLLED = "enrolled"
    FORGOTTEN = "forgotten"
    IGNORED = "ignored"


class Difference(StrEnum):
    """How the index and storage disagree about one file (reconcile)."""

    MISSING = "missing"  # in storage, not in the index
    CHANGED = "changed"  # in both, but the index holds other bytes (ETag or size differ)
    ORPHANED = "orphaned"  # in the index, no longer in storage
