"""Known people, written once for both face collections (Rekognition's, and the local one on face vectors).

- enrol a person from photos (`enroll`), or from files dropped under the people prefix (`handle_enrolment_event`);
- forget a person (`remove_person`) or one enrolment photo (`remove_source`);
- after every enrolment or removal, bring the files already indexed up to date (`rematch`, services/rematch.py)
  without analysing them again;
- compare two pictures' faces, find the files a face appears in, and group the faces nobody has named
  (services/face_search.py);
- merge one person enrolled under two names (`merge_people`) and mark a face as not a face (`hide_face`, kept by
  content_sha256 and box so a re-index drops it again): these need the face memory (the local collection).

`People` is the facade the entry points use. Its ports come from bootstrap.build_people: the face collection
(every one), and, only where they exist, the face memory, a face embedder and a face comparer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.errors import BadMedia, ConfigurationError, ObjectNotFound, TransientError
from mediaindex.domain.messages import CREATED, REMOVED, Outcome, RematchStep, StorageEvent
from mediaindex.domain.model import Box, Face
from mediaindex.domain.vocabulary import Action
from mediaindex.media.picture import Picture
from mediaindex.ports import FaceCollection, FaceComparer, FaceEmbedder, FaceMemory, ObjectRef, VersionedEnrolment
from mediaindex.services import indexing
from mediaindex.services.face_search import MAX_FACES_PER_CLUSTER_NAME, FaceSearch, faces_with_vectors
from mediaindex.services.indexing import Pipeline
from mediaindex.services.people_rules import (
    MAX_NAME_CHARS, box_dict, check_person_name, largest, person_from_key, require_collection,
)
from mediaindex.services.people_rules import enrolment_version
from mediaindex.services.rematch import Rematch, RematchContinued, Rematcher

log = logging.getLogger(__name__)

# the names the entry points and tests know People's module by
__all__ = ["ENROLLED", "FORGOTTEN", "IGNORED", "MAX_FACES_PER_CLUSTER_NAME", "MAX_NAME_CHARS", "Enrolment",
           "EnrolmentBatch", "People", "ReEmbedding", "Rematch", "RematchContinued", "SourceForgotten",
           "check_person_name", "person_from_key"]

# `Outcome.action` of an enrolment event
ENROLLED = Action.ENROLLED
FORGOTTEN = Action.FORGOTTEN
IGNORED = Action.IGNORED


@dataclass
class Enrolment:
    name: str
    source: str
    face_ids: list[str]
    rematch: Rematch

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "face_ids": self.face_ids, **self.rematch.to_dict()}


@dataclass
class EnrolmentBatch:
    """Several photos enrolled at once (`enroll_many`), then one re-match for all of them."""

    results: list[dict[str, Any]]  # per photo: {"name", "image", "face_ids"}, or {"name", "image", "error"}
    enrolled: int
    failed: int
    rematch: Rematch

    def to_dict(self) -> dict[str, Any]:
        return {"results": self.results, "enrolled": self.enrolled, "failed": self.failed, **self.rematch.to_dict()}


@dataclass
class ReEmbedding:
    """Enrolment photos enrolled again with the face model in use (`re_embed`)."""

    face_model: str | None
    re_embedded: list[dict[str, str]]  # {"name", "source"}
    cannot: list[dict[str, str]]  # {"name", "source", "reason"}: their old vectors stay, never compared
    # faces of indexed files made by another model: `mediaindex index` analyses those files again
    remembered_faces_of_other_models: int
    rematch: Rematch

    def to_dict(self) -> dict[str, Any]:
        return {"face_model": self.face_model, "re_embedded": self.re_embedded, "cannot": self.cannot,
                "remembered_faces_of_other_models": self.remembered_faces_of_other_models, **self.rematch.to_dict()}


@dataclass
class SourceForgotten:
    """The faces enrolled from one photo forgotten (`remove_source`), and the documents brought up to date."""

    source: str
    faces_removed: int
    rematch: Rematch

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "faces_removed": self.faces_removed, **self.rematch.to_dict()}


@dataclass
class People:
    settings: Settings
    pipeline: Pipeline
    faces: FaceCollection | None = None  # default: the pipeline's collection
    # the ports only some deployments have (bootstrap decides): None when absent
    memory: FaceMemory | None = None  # the local collection's remembered vectors
    embedder: FaceEmbedder | None = None  # faces with vectors and no attributes, for enrolment and search
    comparer: FaceComparer | None = None  # compares faces itself where they carry no vectors (Rekognition)
    # > 0 (Lambda with a queue, no face memory): a re-match makes at most this many paid calls, then raises
    # RematchContinued with where to carry on (`continue_rematch`); 0: the whole re-match at once
    step_calls: int = 0
    time_left: Callable[[], float] | None = None  # the invocation's clock, seconds (a step stops in time)
    _rematcher: Rematcher = field(init=False, repr=False)
    _source_in_hand: str = field(default="", init=False, repr=False)  # the enrolment photo being handled
    _search: FaceSearch = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.faces is None:
            self.faces = self.pipeline.faces
        self._rematcher = Rematcher(self.settings, self.pipeline, self.faces, self.memory)
        # through self.rematch, so that every change re-matches the documents by one path
        self._search = FaceSearch(self.settings, self.pipeline, self._rematcher, lambda: self.rematch(), self.memory,
                                  self.embedder, self.comparer)

    @property
    def collection(self) -> FaceCollection:
        return require_collection(self.faces)

    @property
    def threshold(self) -> float:
        return float(self.settings.face_match_threshold)

    # ---- re-match, compare, search, clusters: services/rematch.py and services/face_search.py --------------------
    def rematch(self, person: str | None = None, unkept: bool = False, spent: int = 0) -> Rematch:
        """Match the faces of indexed files again and update the documents that changed (Rematcher.rematch).
        `unkept` (with Rekognition's library face collection): only the documents naming `person` and those whose
        faces are not kept in the library collection."""
        require_collection(self.faces)  # known people switched off: say so before anything else
        if self.memory is None and (self.step_calls > 0 or unkept):
            if self.step_calls > 0:
                return self.continue_rematch(RematchStep("", person, self._source_in_hand, 0, unkept), spent)
            total, after = Rematch(), ""  # no queue to continue through: every step here, one after the other
            while True:
                report, next_after = self._rematcher.rematch_step(after, person, 1 << 30, None, unkept)
                total = _added(total, report)
                if next_after is None:
                    return total
                after = next_after
        return self._rematcher.rematch(person)

    def continue_rematch(self, step: RematchStep, spent: int = 0) -> Rematch:
        """One bounded step of a re-match (Rematcher.rematch_step) from where `step` says; raises RematchContinued
        with the next step when documents are left. `spent`: paid calls this invocation made for it already."""
        require_collection(self.faces)
        report, after = self._rematcher.rematch_step(step.after, step.person, max(1, (self.step_calls or 1) - spent),
                                                     self.time_left, step.unkept)
        if after is not None:
            raise RematchContinued(RematchStep(after, step.person, step.source, step.step + 1, step.unkept), report)
        return report

    def _rematch_enrolled(self, name: str, face_ids: list[str], picture: Picture, replaced: int) -> Rematch:
        """The library after `picture` was enrolled as `name`. With Rekognition's library face collection, one
        search of the new face names the indexed faces it matches (Rematcher.name_matching_faces); then only what
        that cannot reach is walked: the documents whose faces are not in that collection, and, when the photo
        replaced older faces of the same photo, the documents naming `name` (they may have been named by the old
        face alone). Otherwise every indexed face is searched again."""
        found = self._rematcher.name_matching_faces(name, face_ids[0], picture) if self.memory is None else None
        if found is None:
            return self.rematch()
        try:
            rest = self.rematch(person=name if replaced else None, unkept=True, spent=found.api_calls)
        except RematchContinued as more:
            more.report = _added(found, more.report)
            raise
        return _added(found, rest)

    def finish_pending(self) -> Rematch | None:
        """Finish a re-match an interrupted change left owed; None when the documents already follow."""
        require_collection(self.faces)
        return self._rematcher.finish_pending()

    def compare(self, a: Picture, b: Picture) -> dict[str, Any]:
        return self._search.compare(a, b)

    def search_by_face(self, picture: Picture, limit: int = 50, all_faces: bool = False) -> dict[str, Any]:
        require_collection(self.faces)
        return self._search.search_by_face(picture, limit=limit, all_faces=all_faces)

    def clusters(self, min_size: int = 2) -> list[dict[str, Any]]:
        require_collection(self.faces)
        return self._search.clusters(min_size=min_size)

    def name_cluster(self, cluster_id: str, name: str) -> dict[str, Any]:
        require_collection(self.faces)
        return self._search.name_cluster(cluster_id, name)

    def split_cluster(self, cluster_id: str, faces: list[tuple[str, int | None]]) -> dict[str, Any]:
        require_collection(self.faces)
        return self._search.split_cluster(cluster_id, faces)

    # ---- enrol and forget ----------------------------------------------------------------------------------------
    def enroll(self, name: str, picture: Picture, source: str, rematch: bool = True,
               version: str | None = None) -> Enrolment:
        """Enrol the largest face of `picture` as `name`, then name that person in every indexed file. The photo's
        earlier faces (the same photo again, or overwritten) are replaced only once the new ones are known: an
        interruption leaves the person enrolled, by the old faces or the new. `rematch=False` leaves the re-match
        to the caller (enroll_many does one for all photos)."""
        name = check_person_name(name)
        collection = self.collection
        if self.memory is not None:  # the new vectors replace the photo's old ones in one transaction
            usable = [f for f in self._vectors(picture) if f.embedding is not None]
            embeddings = [usable[largest(usable)].embedding] if usable else []
            replaced = collection.remove_source(source) if not usable else 0  # a photo with nobody in it: forgotten
            face_ids = self.memory.replace_source(name, source, embeddings) if usable else []  # type: ignore[arg-type]
        else:
            try:  # Rekognition: the new face first, then the photo's older ones go
                if version and isinstance(collection, VersionedEnrolment):
                    face_ids = collection.enroll_version(name, picture, source, version)
                else:
                    face_ids = collection.enroll(name, picture, source)
            except BadMedia as refused:
                if collection.remove_source(source) and rematch:
                    self._rematch_then_raise(name, refused)
                raise
            replaced = collection.remove_source(source, keep=face_ids)
        if not face_ids:
            nobody = BadMedia(f"no face found in {source} to enrol as {name!r}")
            if replaced and rematch:
                self._rematch_then_raise(name, nobody)
            raise nobody
        log.info("person enrolled", extra={"person": name, "source": source, "faces": len(face_ids)})
        if not rematch:
            return Enrolment(name, source, list(face_ids), Rematch())
        if self.memory is None:
            return Enrolment(name, source, list(face_ids), self._rematch_enrolled(name, list(face_ids), picture, replaced))
        return Enrolment(name, source, list(face_ids), self.rematch())

    def _rematch_then_raise(self, name: str, refused: BadMedia) -> None:
        """The documents naming `name` lose the faces a refused photo took away; a step that continues carries
        the refusal along."""
        try:
            self.rematch(person=name)
        except RematchContinued as more:
            more.refusal = f"{refused.code}: {refused}"
            raise

    def _vectors(self, picture: Picture) -> list[Face]:
        """The faces of an enrolment photo with their vectors, without attributes when the analyzer can skip them."""
        return faces_with_vectors(self.pipeline, self.embedder, picture)

    def enroll_many(self, photos: list[tuple[str, Any, str]]) -> EnrolmentBatch:
        """Enrol several (name, picture or a callable giving it, source) at once, then re-match the library once.
        A photo that fails is reported with its reason and does not stop the others."""
        results: list[dict[str, Any]] = []
        enrolled = 0
        for name, picture, source in photos:
            try:
                if callable(picture):
                    picture = picture()
                result = self.enroll(name, picture, source, rematch=False)
                results.append({"name": result.name, "image": source, "face_ids": result.face_ids})
                enrolled += 1
            except (BadMedia, ObjectNotFound, TransientError, ConfigurationError) as e:
                # one photo that cannot be read or enrolled (gone, a FIFO, no face, a bad name) stops no other
                results.append({"name": " ".join(name.split()), "image": source, "error": str(e)})
        return EnrolmentBatch(results, enrolled, len(photos) - enrolled, self.rematch() if enrolled else Rematch())

    def re_embed(self, read: Callable[[str], Picture]) -> ReEmbedding:
        """Enrolment photos whose faces were enrolled by another face model: read each again (`read(source)`)
        and enrol its face with the model in use, replacing the old vectors. What cannot be read is listed with
        the reason and the command that fixes it; its old vectors stay (never compared, so never matched)."""
        memory = self.memory
        stale = memory.stale()["enrolments"] if memory is not None else []
        done: list[dict[str, str]] = []
        cannot: list[dict[str, str]] = []
        for person, source in stale:
            if source.startswith("cluster:"):
                cannot.append({"name": person, "source": source, "reason": "named from a cluster: its faces are "
                               "matched again once their files are indexed again; name the cluster again then"})
                continue
            try:
                self.enroll(person, read(source), source, rematch=False)
                done.append({"name": person, "source": source})
            except (BadMedia, ObjectNotFound, OSError) as e:
                cannot.append({"name": person, "source": source,
                               "reason": f"{e}; enrol again: mediaindex people add {person!r} PHOTO"})
        report = self.rematch() if done else Rematch()
        left = memory.stale() if memory is not None else {"remembered_faces": 0}
        return ReEmbedding(memory.space.id if memory is not None else None, done, cannot, left["remembered_faces"],
                           report)

    def remove_person(self, name: str) -> dict[str, Any]:
        """Forget `name`: its face vectors leave the collection and its name leaves every document. The name is
        matched as enrolled, or else case-insensitively when that names exactly one person."""
        name = self._enrolled_name(name, self.collection.list_people())
        removed = self.collection.remove_person(name)
        report = self.rematch(person=name)
        return {"name": name, "faces_removed": removed, **report.to_dict()}

    def merge_people(self, source: str, target: str) -> dict[str, Any]:
        """`source` and `target` are one person: every face enrolled as `source` becomes `target`'s (in one
        transaction), then the documents follow. A name matches as enrolled, or case-insensitively when that names
        exactly one person; `target` need not be enrolled yet (then it is a rename)."""
        memory = self.memory
        if memory is None:
            raise ConfigurationError(
                "merging people needs the local face collection (MEDIAINDEX_ANALYZER=local): Rekognition keeps each "
                "face's name in the collection, so remove one person and enrol their photos under the other name"
            )
        enrolled = self.collection.list_people()
        source, target = self._enrolled_name(source, enrolled), self._enrolled_name(check_person_name(target), enrolled)
        if source not in enrolled:
            raise ConfigurationError(f"nobody called {source!r} is enrolled: see `mediaindex people list`")
        if source == target:
            raise ConfigurationError(f"{source!r} cannot be merged into themselves")
        moved = memory.merge_people(source, target)
        report = self.rematch(person=source)
        log.info("people merged", extra={"person": source, "into": target, "faces": moved})
        return {"from": source, "into": target, "faces_moved": moved, **report.to_dict()}

    @staticmethod
    def _enrolled_name(name: str, enrolled: dict[str, int]) -> str:
        """`name` as enrolled, or else the one enrolled name that matches it case-insensitively."""
        name = " ".join(name.split())
        if name not in enrolled:
            same = [n for n in enrolled if n.casefold() == name.casefold()]
            if len(same) == 1:
                return same[0]
        return name

    # ---- "not a face" --------------------------------------------------------------------------------------------
    def hide_face(self, doc_id: str, face_index: int) -> dict[str, Any]:
        """Mark face `face_index` (from 0) of an indexed file as not a face: it leaves the faces and people of every
        document of the same bytes and the clusters, and stays out when the file is indexed or re-matched again
        (kept by content_sha256 and box in the local face collection)."""
        memory = self.memory
        if memory is None:
            raise ConfigurationError(
                "marking \"not a face\" needs the local face collection (MEDIAINDEX_ANALYZER=local), which keeps the "
                "hidden boxes; Rekognition's collection holds enrolled faces only"
            )
        found = self.pipeline.index.get(doc_id)
        if found is None or found.doc.get("status") != docs.INDEXED:
            raise ObjectNotFound("no such indexed file")
        doc = found.doc
        faces = doc.get("faces") or []
        if not 0 <= face_index < len(faces) or not faces[face_index].get("box"):
            raise ConfigurationError(f"no face {face_index + 1} in {doc['key']}: it has {len(faces)} face(s)")
        sha = doc.get("content_sha256") or ""
        box = docs.box_of(faces[face_index]["box"])
        memory.hide_face(sha, face_index, box)
        report = self.rematch()  # every document of these bytes drops the face; the note is cleared at the end
        return {"id": doc["id"], "key": doc["key"], "face_index": face_index, "box": box_dict(box),
                "person": faces[face_index].get("person"), **report.to_dict()}

    def unhide_faces(self, doc_id: str) -> dict[str, Any]:
        """Undo "not a face" for a file: its marks go and every file of the same bytes is analysed again (the
        hidden faces' vectors were forgotten), so all its faces come back, named as they are now."""
        memory = self.memory
        if memory is None:
            raise ConfigurationError("faces are hidden only with the local face collection (MEDIAINDEX_ANALYZER=local)")
        found = self.pipeline.index.get(doc_id)
        if found is None or found.doc.get("status") != docs.INDEXED:
            raise ObjectNotFound("no such indexed file")
        sha = found.doc.get("content_sha256") or ""
        marks = memory.unhide_faces(sha)
        outcomes = []
        # also when an earlier unhide was interrupted after the marks went: its faces are then not all remembered
        if marks or memory.remembered_count(sha) < len(found.doc.get("faces") or []):
            reuse, self.pipeline.reuse_analysis = self.pipeline.reuse_analysis, False
            try:
                for doc in self._rematcher.by_content().get(sha, []):
                    ref = ObjectRef(doc.get("bucket") or "", doc["key"])
                    outcomes.append(self.pipeline.handle(StorageEvent(CREATED, ref)).action)
            finally:
                self.pipeline.reuse_analysis = reuse
            self.pipeline.index.refresh()
        return {"id": found.doc["id"], "key": found.doc["key"], "faces_shown_again": marks,
                "files_analysed": outcomes.count(indexing.INDEXED)}

    def remove_source(self, source: str, person: str | None = None) -> SourceForgotten:
        """Forget the faces enrolled from one photo; files named only through it lose the name."""
        removed = self.collection.remove_source(source)
        if removed or (person and not self.memory is not None):
            # nothing removed may be a redelivery after a kill between the removal and the re-match: with
            # Rekognition, which keeps no note of what is owed, the documents naming the person are checked again
            report = self.rematch(person=person)
        else:
            report = self.finish_pending() or Rematch()
        return SourceForgotten(source, removed, report)

    def list_people(self) -> dict[str, int]:
        return dict(self.collection.list_people())

    # ---- S3: files under the people prefix ------------------------------------------------------------------------
    def handle_enrolment_event(self, event: StorageEvent) -> Outcome:
        """A file created under `people/<name>/` enrols its face as <name>; a removed one takes its faces away."""
        ref = event.ref
        doc_id = docs.document_id(ref.bucket, ref.key)
        name = person_from_key(ref.key, self.settings.people_prefix)
        if name is None:
            return Outcome(IGNORED, ref, doc_id, reason=f"enrolment photos go under {self.settings.people_prefix}<name>/")
        source = str(ref)
        self._source_in_hand = source
        if event.kind == REMOVED:
            if event.sequencer is None and self.pipeline.storage.exists(ref):
                return Outcome(indexing.STALE, ref, doc_id, reason="file exists again")
            forgotten = self.remove_source(source, person=name)
            return Outcome(FORGOTTEN, ref, doc_id, api_calls=forgotten.rematch.api_calls, faces=forgotten.faces_removed)
        if event.kind != CREATED:
            raise ValueError(f"unknown event kind {event.kind!r}")
        collection = self.collection
        sent = enrolment_version(event.etag, event.size)
        if sent and self.memory is None and isinstance(collection, VersionedEnrolment) \
                and collection.enrolled_versions(source) == {sent}:
            # the same photo again (a backfill run, a redelivery): its face is enrolled and the library followed
            return Outcome(indexing.UNCHANGED, ref, doc_id, reason="this photo is enrolled already")
        try:
            obj = self.pipeline.storage.read(ref)
        except ObjectNotFound:
            return Outcome(indexing.GONE, ref, doc_id)
        try:
            with obj:
                picture = Picture.from_bytes(obj.data, self.settings.max_pixels)
        except BadMedia as e:
            # overwritten with something unreadable: the faces the photo enrolled before go
            calls = self.remove_source(source, person=name).rematch.api_calls
            return self._refused(ref, doc_id, e, calls)
        try:
            enrolment = self.enroll(name, picture, source, version=enrolment_version(obj.etag, obj.size))
        except BadMedia as e:
            return self._refused(ref, doc_id, e, 0)
        except ConfigurationError as e:  # the folder's name is not a name a person can have: say why, once
            return self._refused(ref, doc_id, BadMedia(str(e)), 0)
        calls = 1 + enrolment.rematch.api_calls if not self.memory is not None else 0
        return Outcome(ENROLLED, ref, doc_id, api_calls=calls, faces=len(enrolment.face_ids))

    @staticmethod
    def _refused(ref: ObjectRef, doc_id: str, error: BadMedia, calls: int) -> Outcome:
        log.warning("enrolment photo refused: %s", error, extra={"bucket": ref.bucket, "key": ref.key})
        return Outcome(indexing.FAILED, ref, doc_id, reason=f"{error.code}: {error}", api_calls=calls)


def _added(a: Rematch, b: Rematch) -> Rematch:
    return Rematch(**{k: getattr(a, k) + getattr(b, k) for k in a.to_dict()})
