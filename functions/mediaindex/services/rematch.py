"""Bringing indexed files up to date after known people change (an enrolment, a removal, a merge, "not a face"),
without analysing them again.

The local collection (a FaceMemory) matches the vectors it remembered for each picture (by content_sha256), all in
one pass; with Rekognition, the file is read and each stored face box is searched in the collection. Documents are
changed with a conditional partial update, so a concurrent write is never overwritten. The face memory notes every
change whose re-match is owed, so one a kill interrupted is finished by the next command.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterator

from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.document import DocumentFields, FaceDoc, SearchDocument, SegmentsDoc, SpanDoc, VideoDoc
from mediaindex.domain.errors import BadMedia, MediaIndexError, ObjectNotFound
from mediaindex.domain.messages import RematchStep
from mediaindex.domain.model import Box, Face, FaceMatch
from mediaindex.media.picture import Picture
from mediaindex.ports import FaceCollection, FaceMemory, LibraryFaces, LibraryMatch, ObjectRef, Versioned
from mediaindex.services.index_io import compare_and_set
from mediaindex.services.indexing import Pipeline
from mediaindex.services.people_rules import require_collection

log = logging.getLogger(__name__)

# One step of a re-match continued through the queue (`rematch_step`) looks at no more documents than this (those
# without faces cost no call but take reading), and stops with this many seconds of its invocation left.
MAX_STEP_DOCUMENTS = 20_000
STEP_TIME_MARGIN = 60.0

@dataclass
class Rematch:
    """What bringing the index up to date did."""

    documents_checked: int = 0
    documents_updated: int = 0
    api_calls: int = 0
    # documents whose faces could not be matched again (nothing remembered, a video, a file gone)
    documents_skipped: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)




class RematchContinued(MediaIndexError):
    """Not an error: one step of a re-match is done (`report`) and the rest must continue from `step`, in a new
    invocation: the Lambda handler sends `step` to the queue (as a long video continues)."""

    def __init__(self, step: RematchStep, report: Rematch, refusal: str | None = None) -> None:
        super().__init__(f"re-match step {step.step} done ({report.api_calls} calls); continues after {step.after}")
        self.step, self.report, self.refusal = step, report, refusal


@dataclass
class Rematcher:
    """Re-matches the documents against the collection as it is now (`faces`), from the remembered vectors when
    there is a face memory, else by reading each file again."""

    settings: Settings
    pipeline: Pipeline
    faces: FaceCollection | None
    memory: FaceMemory | None = None
    # during a re-match with the face memory: every remembered picture's matches, by content_sha256
    _remembered_matches: dict[str, list[FaceMatch | None]] | None = field(default=None, init=False, repr=False)
    # during a re-match: the boxes marked "not a face", by content_sha256
    _hidden: dict[str, list[Box]] = field(default_factory=dict, init=False, repr=False)

    def rematch(self, person: str | None = None) -> Rematch:
        """Match the faces of indexed files again against the collection as it is now, and update the documents
        that changed. With `person` (after a removal) only documents naming that person are visited when the
        collection cannot re-match cheaply (Rekognition); the name leaves them whatever happens."""
        report = Rematch()
        memory = self.memory
        cheap = memory is not None
        # changes the memory noted but whose re-match never finished (a kill, Ctrl-C): finished now as well
        pending = memory.pending_rematch() if memory is not None else None
        if memory is not None and pending is None:
            memory.note_rematch()  # so that this re-match, too, is finished by the next one if interrupted
            pending = memory.pending_rematch()
        removed = ({person} if person else set()) | (pending[1] if pending else set())
        # the local collection matches every remembered face in one pass; documents then only look theirs up
        self._remembered_matches = memory.all_matches() if memory is not None else None
        self._hidden = memory.hidden_faces() if memory is not None else {}
        for doc in list(self.documents()):
            if doc.get("status") != docs.INDEXED or not doc.get("faces"):
                continue
            if person is not None and not cheap and person not in (doc.get("people") or []):
                continue
            report.documents_checked += 1
            changed, skipped, calls = self._update_document(doc, removed)
            report.documents_updated += changed
            report.documents_skipped += skipped
            report.api_calls += calls
        self._remembered_matches = None
        self._hidden = {}
        if report.documents_updated:
            self.pipeline.index.refresh()
        if memory is not None and pending is not None:
            memory.rematch_done(pending[0])
        log.info("documents re-matched", extra=report.to_dict())
        return report

    def finish_pending(self) -> Rematch | None:
        """Finish a re-match an interrupted change left owed; None when the documents already follow."""
        if self.memory is not None and self.memory.pending_rematch() is not None:
            return self.rematch()
        return None

    def rematch_step(
        self, after: str = "", person: str | None = None, budget: int = 200,
        time_left: Callable[[], float] | None = None, unkept: bool = False,
    ) -> tuple[Rematch, str | None]:
        """One bounded step of `rematch` on a collection without a face memory (Rekognition, one paid call per
        face): the documents after id `after`, in id order, until the next one would take the step past `budget`
        calls (the first always goes), MAX_STEP_DOCUMENTS documents have been looked at, or `time_left()` falls
        under STEP_TIME_MARGIN seconds. Which documents: those naming `person` and, with `unkept`, those whose
        faces are not in the library face collection; neither given, all. Returns the step's report and the id to
        carry on after (None: done)."""
        report = Rematch()
        removed = {person} if person else set()
        looked = 0
        last = after

        def wanted(doc: SearchDocument) -> bool:
            if person is None and not unkept:
                return True
            return ((person is not None and person in (doc.get("people") or []))
                    or (unkept and not docs.in_library(doc)))

        for doc in self.pipeline.index.iter_documents(after=after):
            looked += 1
            if doc.get("status") == docs.INDEXED and doc.get("faces") and wanted(doc):
                cost = len(doc.get("faces") or []) if doc.get("media_type") in (None, "image") else 0
                if report.documents_checked and (
                        report.api_calls + cost > budget
                        or (time_left is not None and time_left() < STEP_TIME_MARGIN)):
                    return self._step_done(report), last
                report.documents_checked += 1
                changed, skipped, calls = self._update_document(doc, removed)
                report.documents_updated += changed
                report.documents_skipped += skipped
                report.api_calls += calls
            last = doc["id"]
            if looked >= MAX_STEP_DOCUMENTS:
                return self._step_done(report), last
        return self._step_done(report), None

    def name_matching_faces(self, name: str, face_id: str, picture: Picture) -> Rematch | None:
        """After enrolling `picture` as `name` (its new face `face_id`): one search of it in the library face
        collection finds the indexed faces it matches; each such face is named `name` unless it already names
        someone at least as similar. Only documents whose faces were kept there are reached (`in_library`); the
        others are the walk's (`rematch_step(unkept=True)`). None when the collection cannot answer it all (no
        library collection, or the search filled its limit): then the whole library is re-matched."""
        faces = self.faces
        if not isinstance(faces, LibraryFaces) or not faces.keeps_library_faces or not face_id:
            return None
        found, truncated, calls = faces.library_matches(picture)
        if truncated:
            log.info("library search filled its limit: re-matching every face", extra={"person": name})
            return None
        report = Rematch(api_calls=calls)
        by_content: dict[str, list[LibraryMatch]] = {}
        for match in found:
            by_content.setdefault(match.content_sha256, []).append(match)
        documents = self.pipeline.index.documents_with_content(sorted(by_content)) if by_content else []
        live = {d.get("content_sha256") for d in documents}
        gone = [m.face_id for sha, matches in by_content.items() if sha not in live for m in matches if m.face_id]
        if gone:  # faces of pictures no longer indexed (deleted, changed): the collection forgets them
            faces.forget_library_faces(gone)

        def attempt(current: Versioned | None) -> tuple[int, int]:
            doc = current.doc if current is not None else None
            if doc is None or doc.get("status") != docs.INDEXED or not docs.in_library(doc):
                return 0, 0
            fields = _named_where_matched(doc, by_content.get(doc.get("content_sha256") or "", []), name, face_id)
            if fields is None:
                return 0, 0
            self.pipeline.index.update_fields(doc["id"], fields, current.version)
            return 1, 0

        for doc in documents:
            if not docs.in_library(doc) or doc.get("media_type") not in (None, "image"):
                continue
            report.documents_checked += 1
            if _named_where_matched(doc, by_content.get(doc.get("content_sha256") or "", []), name, face_id):
                updated, _ = compare_and_set(self.pipeline.index, doc["id"], attempt)
                report.documents_updated += updated
        if report.documents_updated:
            self.pipeline.index.refresh()
        log.info("library faces matched to the new person", extra={"person": name, **report.to_dict()})
        return report

    def _step_done(self, report: Rematch) -> Rematch:
        if report.documents_updated:
            self.pipeline.index.refresh()
        log.info("documents re-matched (one step)", extra=report.to_dict())
        return report

    def _update_document(self, listed: SearchDocument, removed: set[str]) -> tuple[int, int, int]:
        """(updated 0/1, skipped 0/1, api calls) for one document, written with compare-and-set. The listed copy
        decides whether anything changes; only then is the document read with its version and written."""
        matches_cache: dict[str, tuple[list[FaceMatch | None] | None, int]] = {}

        def new_fields(doc: SearchDocument) -> tuple[DocumentFields | None, int]:
            key = doc.get("content_sha256") or ""
            drop = docs.hidden_face_indexes(doc.get("faces") or [], self._hidden.get(key) or [])
            if key not in matches_cache:  # a retry after a conflict asks the collection nothing again
                matches_cache[key] = self._matches_for(doc, len(doc.get("faces") or []) - len(drop))
            matches = matches_cache[key][0]
            return _rematched_fields(doc, matches, removed, drop), int(matches is None)

        def attempt(current: Versioned | None) -> tuple[int, int]:
            if current is None or current.doc.get("status") != docs.INDEXED or not current.doc.get("faces"):
                return 0, 0
            fields, skipped = new_fields(current.doc)
            if fields is None:
                return 0, skipped
            self.pipeline.index.update_fields(current.doc["id"], fields, current.version)
            return 1, skipped

        fields, skipped = new_fields(listed)
        if fields is not None:
            updated, skipped = compare_and_set(self.pipeline.index, listed["id"], attempt)
        else:
            updated = 0
        return updated, skipped, sum(calls for _, calls in matches_cache.values())

    def _matches_for(self, doc: SearchDocument, shown: int) -> tuple[list[FaceMatch | None] | None, int]:
        """The faces of a document matched again, in order, and the paid calls that took; None when impossible.
        `shown`: how many of its faces are not marked "not a face" (the remembered vectors are those)."""
        stored = doc.get("faces") or []
        if self.memory is not None:
            sha = doc.get("content_sha256") or ""
            table = self._remembered_matches
            matches = table.get(sha) if table is not None else self.memory.matches_for_content(sha)
            if matches is None or len(matches) < shown:
                return None, 0
            return matches[:shown], 0
        if doc.get("media_type") not in (None, "image"):
            return None, 0  # a video's faces come from frames we did not keep
        try:
            with self.pipeline.storage.read(ObjectRef(doc.get("bucket") or "", doc["key"])) as obj:
                picture = Picture.from_bytes(obj.data, self.settings.max_pixels)
            faces = [Face(box=docs.box_of(f["box"]), confidence=f.get("confidence") or 0.0) for f in stored]
            matches, calls = require_collection(self.faces).identify(picture, faces)
        except (ObjectNotFound, BadMedia) as e:
            log.info("cannot re-match a file: %s", e, extra={"key": doc.get("key")})
            return None, 0
        return list(matches), calls

    # ---- documents -----------------------------------------------------------------------------------------------
    def documents(self) -> Iterator[SearchDocument]:
        return self.pipeline.index.iter_documents()

    def by_content(self) -> dict[str, list[SearchDocument]]:
        """Live, indexed documents by content_sha256 (several files may hold the same bytes)."""
        table: dict[str, list[SearchDocument]] = {}
        for doc in self.documents():
            sha = doc.get("content_sha256")
            if doc.get("status") == docs.INDEXED and sha:
                table.setdefault(sha, []).append(doc)
        return table


def _rematched_fields(
    doc: SearchDocument, matches: list[FaceMatch | None] | None, removed: set[str], drop: set[int] | None = None,
) -> DocumentFields | None:
    """The faces, people (and video timeline) of `doc` after matching again, without the faces at `drop` (marked
    "not a face"); None when nothing changes."""
    base: DocumentFields = docs.without_faces(doc, drop) if drop else doc
    faces: list[FaceDoc] = [{**f} for f in base.get("faces") or []]
    if matches is None:
        if not removed and not drop:
            return None
        for face in faces:  # cannot match again: at least take the forgotten names out
            if face.get("person") in removed:
                face.update({"person": None, "face_id": None, "similarity": None})
    else:
        for face, match in zip(faces, matches):
            face.update({
                "person": match.person if match else None,
                "face_id": match.face_id if match else None,
                "similarity": match.similarity if match else None,
            })
    people = sorted({person for f in faces if (person := f.get("person"))})
    fields: DocumentFields = {"faces": faces, "people": people}
    video = _video_for_people(base.get("video"), faces, people)
    if video is not None:
        fields["video"] = video
    elif drop and base.get("video") is not None:
        fields["video"] = base["video"]
    if drop:
        fields["face_count"] = len(faces)
    elif faces == doc.get("faces") and people == sorted(doc.get("people") or []) and video is None:
        return None
    return fields


def _named_where_matched(
    doc: SearchDocument, matches: list[LibraryMatch], name: str, face_id: str,
) -> DocumentFields | None:
    """The faces and people of `doc` with `name` on each face a library match covers (the stored box it overlaps
    most, at least half), unless the face already names someone as similar or more; None when nothing changes."""
    faces: list[FaceDoc] = [{**f} for f in doc.get("faces") or []]
    changed = False
    for match in matches:
        best, overlap = None, 0.5
        for i, face in enumerate(faces):
            if face.get("box"):
                share = _iou(docs.box_of(face["box"]), match.box)
                if share >= overlap:
                    best, overlap = i, share
        if best is None:
            continue
        face = faces[best]
        if face.get("person") == name and (face.get("similarity") or 0.0) >= match.similarity:
            continue
        if face.get("person") not in (None, name) and (face.get("similarity") or 0.0) >= match.similarity:
            continue  # a better match already names this face
        face.update({"person": name, "face_id": face_id, "similarity": match.similarity})
        changed = True
    if not changed:
        return None
    return {"faces": faces, "people": sorted({p for f in faces if (p := f.get("person"))})}


def _iou(a: Box, b: Box) -> float:
    left, top = max(a.left, b.left), max(a.top, b.top)
    right, bottom = min(a.left + a.width, b.left + b.width), min(a.top + a.height, b.top + b.height)
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def _video_for_people(video: VideoDoc | None, faces: list[FaceDoc], people: list[str]) -> VideoDoc | None:
    """A video's timeline for the people now named in it (None when nothing changes): the spans of people no
    longer named go; a person named afterwards gets the spans their faces were seen in (`segments.faces`, kept
    at indexing time; a video indexed before it existed has none, so only the whole video shows them)."""
    if not isinstance(video, dict):
        return None
    segments: SegmentsDoc = video.get("segments") or {}
    spans = segments.get("people") or []
    kept: list[SpanDoc] = [span for span in spans if span.get("name") in people]
    timed = {span.get("name") for span in kept}
    added: dict[str, list[list[float]]] = {}
    for row in segments.get("faces") or []:
        i = row.get("face")
        person = faces[i].get("person") if isinstance(i, int) and 0 <= i < len(faces) else None
        if person and person not in timed:
            added.setdefault(person, []).append([row["start"], row["end"]])
    for person, found in added.items():
        merged: list[list[float]] = []
        for start, end in sorted(found):
            if merged and start <= merged[-1][1] + 1e-6:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        kept += [{"name": person, "start": start, "end": end} for start, end in merged]
    if len(kept) == len(spans) and not added:
        return None
    kept.sort(key=lambda span: (span["start"], span["name"]))
    return {**video, "segments": {**segments, "people": kept}}

