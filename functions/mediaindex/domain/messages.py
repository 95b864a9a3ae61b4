"""The messages the use cases pass around, on the ground floor so that every layer may name them: a storage event
(a file created or removed), what handling one did (`Outcome`), and the tally of a bulk run (`OutcomeTally`).
Adapters make events (S3 notifications, queue messages, listings, the folder watcher), the use cases handle them, and
the ports carry them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mediaindex.domain import document as docs
from mediaindex.domain.objects import ObjectInfo, ObjectRef
from mediaindex.domain.vocabulary import Action, EventKind

CREATED = EventKind.CREATED
REMOVED = EventKind.REMOVED

MAX_FAILURES_KEPT = 1000  # failures listed in a summary (the counts are always exact)


@dataclass(frozen=True)
class StorageEvent:
    kind: EventKind  # CREATED or REMOVED
    ref: ObjectRef
    sequencer: str | None = None
    etag: str | None = None
    size: int | None = None
    event_name: str = ""
    event_time: str | None = None

    @classmethod
    def created(cls, ref: ObjectRef, etag: str | None = None, size: int | None = None) -> "StorageEvent":
        """A file found (listed, watched) rather than notified: as S3 would send it, without a sequencer, so the
        pipeline asks storage what is true now. With no ETag the pipeline cannot take the file for unchanged."""
        return cls(kind=CREATED, ref=ref, etag=etag, size=size, event_name="ObjectCreated:Put",
                   event_time=docs.now_iso())

    @classmethod
    def listed(cls, info: ObjectInfo, force: bool = False) -> "StorageEvent":
        """A listing entry to index; `force` leaves out the ETag and size so an unchanged file is analysed again."""
        return cls.created(info.ref, None if force else info.etag, None if force else info.size)

    @classmethod
    def removed(cls, ref: ObjectRef) -> "StorageEvent":
        """A file found gone (reconcile, prune, watch): its document becomes a tombstone."""
        return cls(kind=REMOVED, ref=ref, event_name="ObjectRemoved:Delete", event_time=docs.now_iso())


@dataclass
class Outcome:
    """What handling one event did: `action` says what (domain/vocabulary.py says what each means)."""

    action: Action
    ref: ObjectRef
    doc_id: str
    reason: str | None = None
    api_calls: int = 0
    faces: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action, "bucket": self.ref.bucket, "key": self.ref.key, "id": self.doc_id,
            "reason": self.reason, "api_calls": self.api_calls, "faces": self.faces,
        }


@dataclass
class OutcomeTally:
    """What came of the files handled: Outcome.action -> count ("error" for an exception), the paid API calls,
    and the first MAX_FAILURES_KEPT failures (each as its use case describes it)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    api_calls: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def add(self, action: str, api_calls: int = 0, failure: dict[str, Any] | None = None) -> None:
        self.outcomes[action] += 1
        self.api_calls += api_calls
        if failure is not None and len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append(failure)


# ---- a re-match of the library continued through the queue ---------------------------------------------------------
REMATCH_MESSAGE = "mediaindex.rematch"


@dataclass(frozen=True)
class RematchStep:
    """Where a re-match of the library after a change of known people (an enrolment, a removal) carries on: after
    the document `after` (documents are walked in id order), for the documents naming `person` only when set (a
    removal: the name leaves them whatever happens) and, with `unkept`, those whose faces are not in the library
    face collection (otherwise every document with faces), for the change `source` made. `step` counts the steps so far.
    Sent as an SQS message of its own (`to_body`), so the next invocation resumes without redoing anything."""

    after: str
    person: str | None = None
    source: str = ""
    step: int = 1
    # also the documents whose faces are not in the library face collection (indexed before it was kept)
    unkept: bool = False

    def to_body(self) -> str:
        import json

        return json.dumps({"type": REMATCH_MESSAGE, "after": self.after, "person": self.person,
                           "source": self.source, "step": self.step, "unkept": self.unkept}, ensure_ascii=False)

    @classmethod
    def from_body(cls, body: Any) -> "RematchStep | None":
        """The step a message body carries; None for any other message (an S3 notification)."""
        import json

        if not isinstance(body, str) or REMATCH_MESSAGE not in body:
            return None
        try:
            document = json.loads(body)
        except (TypeError, ValueError, RecursionError):
            return None
        if not isinstance(document, dict) or document.get("type") != REMATCH_MESSAGE:
            return None
        after, person, source, step = (document.get(k) for k in ("after", "person", "source", "step"))
        if not isinstance(after, str) or not (person is None or isinstance(person, str)):
            return None
        return cls(after, person, source if isinstance(source, str) else "",
                   step if isinstance(step, int) and not isinstance(step, bool) else 1,
                   document.get("unkept") is True)
