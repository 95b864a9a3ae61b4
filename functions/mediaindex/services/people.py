"""Known people, written once for both face collections (Rekognition's, and the local one on dlib vectors).

- enrol a person from photos (`enroll`), or from files dropped under the people prefix (`handle_enrolment_event`);
- forget a person (`remove_person`) or one enrolment photo (`remove_source`);
- after every enrolment or removal, bring the files already indexed up to date (`rematch`) without analysing them
  again: the local collection matches the vectors it remembered for each picture (by content_sha256); with
  Rekognition, the file is read and each stored face box is searched in the collection. Documents are changed with
  a conditional partial update, so a concurrent write is never overwritten;
- compare two pictures' faces (`compare`), find the files a face appears in (`search_by_face`), and group the faces
  nobody has named (`clusters`, `name_cluster`, `split_cluster`); these need the local collection's remembered
  vectors;
- merge one person enrolled under two names (`merge_people`) and mark a face as not a face (`hide_face`, kept by
  content_sha256 and box so a re-index drops it again): the local collection only.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import unquote


from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain import face_vectors
from mediaindex.domain.errors import BadMedia, ConfigurationError, ObjectNotFound, TransientError, VersionConflict
from mediaindex.domain.model import Box, Face, FaceMatch
from mediaindex.domain.vocabulary import Action
from mediaindex.media.picture import Picture
from mediaindex.ports import FaceCollection, ObjectRef, Versioned
from mediaindex.services import indexing
from mediaindex.services.indexing import CREATED, REMOVED, Outcome, Pipeline, StorageEvent

log = logging.getLogger(__name__)

# `Outcome.action` of an enrolment event
ENROLLED = Action.ENROLLED
FORGOTTEN = Action.FORGOTTEN
IGNORED = Action.IGNORED

_UPDATE_ATTEMPTS = 8
# Naming a cluster enrols at most this many of its faces: enough variety to match the rest, a bounded collection.
MAX_FACES_PER_CLUSTER_NAME = 50


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


@dataclass
class Enrolment:
    name: str
    source: str
    face_ids: list[str]
    rematch: Rematch

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "face_ids": self.face_ids, **self.rematch.to_dict()}


MAX_NAME_CHARS = 100
# bidirectional overrides and isolates make a name display as another; control characters rewrite terminals
_BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


def check_person_name(name: Any) -> str:
    """A person's name as it is stored and searched: whitespace collapsed, 1-100 characters, no control
    characters, bidi overrides or line separators. The one rule for the CLI, the API and enrolment by S3 key."""
    if not isinstance(name, str):
        raise ConfigurationError("a person's name is text")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ConfigurationError("a person's name cannot be empty")
    if len(cleaned) > MAX_NAME_CHARS:
        raise ConfigurationError(f"a person's name has at most {MAX_NAME_CHARS} characters, not {len(cleaned)}")
    bad = next((c for c in cleaned if c in _BIDI or unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")), None)
    if bad is not None:
        raise ConfigurationError(f"a person's name cannot hold the control or direction character U+{ord(bad):04X}")
    return cleaned


def person_from_key(key: str, prefix: str) -> str | None:
    """`people/Barack Obama/1.jpg` -> "Barack Obama"; None for a key that is not `<prefix><name>/<file>`."""
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix):].split("/")
    if len(parts) < 2 or not parts[-1]:
        return None
    name = " ".join(unquote(parts[0]).split())
    return name or None


def _largest(faces: list[Face]) -> int:
    return max(range(len(faces)), key=lambda i: faces[i].box.width * faces[i].box.height)


def _box_dict(box: Box) -> dict[str, float]:
    return {"left": round(box.left, 4), "top": round(box.top, 4), "width": round(box.width, 4), "height": round(box.height, 4)}


@dataclass
class People:
    settings: Settings
    pipeline: Pipeline
    faces: FaceCollection | None = None  # default: the pipeline's collection
    # during a re-match with the local collection: every remembered picture's matches, by content_sha256
    _remembered_matches: dict[str, list[FaceMatch | None]] | None = field(default=None, init=False, repr=False)
    # during a re-match: the boxes marked "not a face", by content_sha256
    _hidden: dict[str, list[Box]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.faces is None:
            self.faces = self.pipeline.faces

    # ---- parts ---------------------------------------------------------------------------------------------------
    @property
    def collection(self) -> Any:
        if self.faces is None:
            raise ConfigurationError("known people are switched off: add 'people' to MEDIAINDEX_FEATURES")
        return self.faces

    @property
    def remembers(self) -> bool:
        """Does the collection keep every analysed face's vector (the local one does, Rekognition does not)?"""
        return hasattr(self.collection, "matches_for_content")

    @property
    def threshold(self) -> float:
        return float(self.settings.face_match_threshold)

    def _needs_memory(self, what: str) -> Any:
        if not self.remembers:
            raise ConfigurationError(
                f"{what} needs the vectors of every indexed face, which only the local face collection keeps "
                "(MEDIAINDEX_ANALYZER=local); Rekognition's collection holds enrolled faces only"
            )
        return self.collection

    # ---- enrol and forget ----------------------------------------------------------------------------------------
    def enroll(self, name: str, picture: Picture, source: str, rematch: bool = True) -> Enrolment:
        """Enrol the largest face of `picture` as `name`, then name that person in every indexed file. The photo's
        earlier faces (the same photo again, or overwritten) are replaced only once the new ones are known: an
        interruption leaves the person enrolled, by the old faces or the new. `rematch=False` leaves the re-match
        to the caller (enroll_many does one for all photos)."""
        name = check_person_name(name)
        collection = self.collection
        if hasattr(collection, "replace_source"):
            usable = [f for f in self._vectors(picture) if f.embedding is not None]
            embeddings = [usable[_largest(usable)].embedding] if usable else []
            replaced = collection.remove_source(source) if not usable else 0  # a photo with nobody in it: forgotten
            face_ids = collection.replace_source(name, source, embeddings) if usable else []
        else:
            try:  # Rekognition: the new face first, then the photo's older ones go
                face_ids = collection.enroll(name, picture, source)
            except BadMedia:
                if collection.remove_source(source) and rematch:
                    self.rematch(person=name)
                raise
            replaced = collection.remove_source(source, keep=face_ids)
        if not face_ids:
            if replaced and rematch:
                self.rematch(person=name)
            raise BadMedia(f"no face found in {source} to enrol as {name!r}")
        log.info("person enrolled", extra={"person": name, "source": source, "faces": len(face_ids)})
        return Enrolment(name, source, list(face_ids), self.rematch() if rematch else Rematch())

    def _vectors(self, picture: Picture) -> list[Face]:
        """The faces of an enrolment photo with their vectors, without attributes when the analyzer can skip them."""
        analyzer = self.pipeline.analyzer
        lean = getattr(analyzer, "face_vectors", None)
        return lean(picture) if callable(lean) else analyzer.analyze(picture).faces

    def enroll_many(self, photos: list[tuple[str, Any, str]]) -> dict[str, Any]:
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
        report = self.rematch() if enrolled else Rematch()
        return {"results": results, "enrolled": enrolled, "failed": len(photos) - enrolled, **report.to_dict()}

    def re_embed(self, read: Callable[[str], Picture]) -> dict[str, Any]:
        """Enrolment photos whose faces were enrolled by another face model: read each again (`read(source)`)
        and enrol its face with the model in use, replacing the old vectors. What cannot be read is listed with
        the reason and the command that fixes it; its old vectors stay (never compared, so never matched)."""
        stale = self.collection.stale()["enrolments"] if self.remembers else []
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
        left = self.collection.stale() if self.remembers else {"remembered_faces": 0}
        return {"face_model": self.collection.space.id, "re_embedded": done, "cannot": cannot,
                # faces of indexed files made by another model: `mediaindex index` analyses those files again
                "remembered_faces_of_other_models": left["remembered_faces"], **report.to_dict()}

    def remove_person(self, name: str) -> dict[str, Any]:
        """Forget `name`: its face vectors leave the collection and its name leaves every document. The name is
        matched as enrolled, or else case-insensitively when that names exactly one person."""
        name = " ".join(name.split())
        enrolled = self.collection.list_people()
        if name not in enrolled:
            same = [n for n in enrolled if n.casefold() == name.casefold()]
            if len(same) == 1:
                name = same[0]
        removed = self.collection.remove_person(name)
        report = self.rematch(person=name)
        return {"name": name, "faces_removed": removed, **report.to_dict()}

    def merge_people(self, source: str, target: str) -> dict[str, Any]:
        """`source` and `target` are one person: every face enrolled as `source` becomes `target`'s (in one
        transaction), then the documents follow. A name matches as enrolled, or case-insensitively when that names
        exactly one person; `target` need not be enrolled yet (then it is a rename)."""
        collection = self.collection
        if not hasattr(collection, "merge_people"):
            raise ConfigurationError(
                "merging people needs the local face collection (MEDIAINDEX_ANALYZER=local): Rekognition keeps each "
                "face's name in the collection, so remove one person and enrol their photos under the other name"
            )
        enrolled = collection.list_people()
        source, target = self._enrolled_name(source, enrolled), self._enrolled_name(check_person_name(target), enrolled)
        if source not in enrolled:
            raise ConfigurationError(f"nobody called {source!r} is enrolled: see `mediaindex people list`")
        if source == target:
            raise ConfigurationError(f"{source!r} cannot be merged into themselves")
        moved = collection.merge_people(source, target)
        report = self.rematch(person=source)
        log.info("people merged", extra={"person": source, "into": target, "faces": moved})
        return {"from": source, "into": target, "faces_moved": moved, **report.to_dict()}

    @staticmethod
    def _enrolled_name(name: str, enrolled: dict[str, int]) -> str:
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
        collection = self.collection
        if not hasattr(collection, "hide_face"):
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
        box = Box(**_box_fields(faces[face_index]["box"]))
        collection.hide_face(sha, face_index, box)
        report = self.rematch()  # every document of these bytes drops the face; the note is cleared at the end
        return {"id": doc["id"], "key": doc["key"], "face_index": face_index, "box": _box_dict(box),
                "person": faces[face_index].get("person"), **report.to_dict()}

    def unhide_faces(self, doc_id: str) -> dict[str, Any]:
        """Undo "not a face" for a file: its marks go and every file of the same bytes is analysed again (the
        hidden faces' vectors were forgotten), so all its faces come back, named as they are now."""
        collection = self.collection
        if not hasattr(collection, "unhide_faces"):
            raise ConfigurationError("faces are hidden only with the local face collection (MEDIAINDEX_ANALYZER=local)")
        found = self.pipeline.index.get(doc_id)
        if found is None or found.doc.get("status") != docs.INDEXED:
            raise ObjectNotFound("no such indexed file")
        sha = found.doc.get("content_sha256") or ""
        marks = collection.unhide_faces(sha)
        outcomes = []
        # also when an earlier unhide was interrupted after the marks went: its faces are then not all remembered
        if marks or collection.remembered_count(sha) < len(found.doc.get("faces") or []):
            reuse, self.pipeline.reuse_analysis = self.pipeline.reuse_analysis, False
            try:
                for doc in self._by_content().get(sha, []):
                    ref = ObjectRef(doc.get("bucket") or "", doc["key"])
                    outcomes.append(self.pipeline.handle(StorageEvent(CREATED, ref)).action)
            finally:
                self.pipeline.reuse_analysis = reuse
            self.pipeline.index.refresh()
        return {"id": found.doc["id"], "key": found.doc["key"], "faces_shown_again": marks,
                "files_analysed": outcomes.count(indexing.INDEXED)}

    def remove_source(self, source: str, person: str | None = None) -> dict[str, Any]:
        """Forget the faces enrolled from one photo; files named only through it lose the name."""
        removed = self.collection.remove_source(source)
        if removed or (person and not self.remembers):
            # nothing removed may be a redelivery after a kill between the removal and the re-match: with
            # Rekognition, which keeps no note of what is owed, the documents naming the person are checked again
            report = self.rematch(person=person)
        else:
            report = self.finish_pending() or Rematch()
        return {"source": source, "faces_removed": removed, **report.to_dict()}

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
        if event.kind == REMOVED:
            if event.sequencer is None and self.pipeline.storage.exists(ref):
                return Outcome(indexing.STALE, ref, doc_id, reason="file exists again")
            result = self.remove_source(source, person=name)
            return Outcome(FORGOTTEN, ref, doc_id, api_calls=result["api_calls"], faces=result["faces_removed"])
        if event.kind != CREATED:
            raise ValueError(f"unknown event kind {event.kind!r}")
        try:
            obj = self.pipeline.storage.read(ref)
        except ObjectNotFound:
            return Outcome(indexing.GONE, ref, doc_id)
        try:
            picture = Picture.from_bytes(obj.data, self.settings.max_pixels)
        except BadMedia as e:
            # overwritten with something unreadable: the faces the photo enrolled before go
            calls = self.remove_source(source, person=name)["api_calls"]
            return self._refused(ref, doc_id, e, calls)
        try:
            enrolment = self.enroll(name, picture, source)
        except BadMedia as e:
            return self._refused(ref, doc_id, e, 0)
        except ConfigurationError as e:  # the folder's name is not a name a person can have: say why, once
            return self._refused(ref, doc_id, BadMedia(str(e)), 0)
        calls = 1 + enrolment.rematch.api_calls if not self.remembers else 0
        return Outcome(ENROLLED, ref, doc_id, api_calls=calls, faces=len(enrolment.face_ids))

    @staticmethod
    def _refused(ref: ObjectRef, doc_id: str, error: BadMedia, calls: int) -> Outcome:
        log.warning("enrolment photo refused: %s", error, extra={"bucket": ref.bucket, "key": ref.key})
        return Outcome(indexing.FAILED, ref, doc_id, reason=f"{error.code}: {error}", api_calls=calls)

    # ---- bring indexed files up to date --------------------------------------------------------------------------
    def rematch(self, person: str | None = None) -> Rematch:
        """Match the faces of indexed files again against the collection as it is now, and update the documents
        that changed. With `person` (after a removal) only documents naming that person are visited when the
        collection cannot re-match cheaply (Rekognition); the name leaves them whatever happens."""
        report = Rematch()
        cheap = self.remembers
        # changes the collection noted but whose re-match never finished (a kill, Ctrl-C): finished now as well
        pending = self.collection.pending_rematch() if hasattr(self.collection, "pending_rematch") else None
        if pending is None and hasattr(self.collection, "note_rematch"):
            self.collection.note_rematch()  # so that this re-match, too, is finished by the next one if interrupted
            pending = self.collection.pending_rematch()
        removed = ({person} if person else set()) | (pending[1] if pending else set())
        # the local collection matches every remembered face in one pass; documents then only look theirs up
        self._remembered_matches = self.collection.all_matches() if hasattr(self.collection, "all_matches") else None
        self._hidden = self.collection.hidden_faces() if hasattr(self.collection, "hidden_faces") else {}
        for doc in list(self._documents()):
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
        if pending is not None:
            self.collection.rematch_done(pending[0])
        log.info("documents re-matched", extra=report.to_dict())
        return report

    def finish_pending(self) -> Rematch | None:
        """Finish a re-match an interrupted change left owed; None when the documents already follow."""
        if hasattr(self.collection, "pending_rematch") and self.collection.pending_rematch() is not None:
            return self.rematch()
        return None

    def _update_document(self, listed: dict[str, Any], removed: set[str]) -> tuple[int, int, int]:
        """(updated 0/1, skipped 0/1, api calls) for one document, written with compare-and-set. The listed copy
        decides whether anything changes; only then is the document read with its version and written."""
        matches_cache: dict[str, tuple[list[FaceMatch | None] | None, int]] = {}
        calls = 0
        doc, version = listed, None
        for _ in range(2 * _UPDATE_ATTEMPTS):  # each attempt: read the version, then write
            key = doc.get("content_sha256") or ""
            drop = docs.hidden_face_indexes(doc["faces"], self._hidden.get(key) or [])
            if key not in matches_cache:
                matches_cache[key] = self._matches_for(doc, len(doc["faces"]) - len(drop))
                calls += matches_cache[key][1]
            matches = matches_cache[key][0]
            fields = _rematched_fields(doc, matches, removed, drop)
            skipped = int(matches is None)
            if fields is None:
                return 0, skipped, calls
            if version is None:  # something changes: now read the version the write must present
                current = self.pipeline.index.get(doc["id"])
                if current is None or current.doc.get("status") != docs.INDEXED or not current.doc.get("faces"):
                    return 0, 0, calls
                doc, version = current.doc, current.version
                continue
            try:
                self.pipeline.index.update_fields(doc["id"], fields, version)
                return 1, skipped, calls
            except VersionConflict:
                version = None
        raise TransientError(f"document {listed['id']} kept changing during {_UPDATE_ATTEMPTS} conditional updates")

    def _matches_for(self, doc: dict[str, Any], shown: int) -> tuple[list[FaceMatch | None] | None, int]:
        """The faces of a document matched again, in order, and the paid calls that took; None when impossible.
        `shown`: how many of its faces are not marked "not a face" (the remembered vectors are those)."""
        stored = doc["faces"]
        if self.remembers:
            sha = doc.get("content_sha256") or ""
            table = self._remembered_matches
            matches = table.get(sha) if table is not None else self.collection.matches_for_content(sha)
            if matches is None or len(matches) < shown:
                return None, 0
            return matches[:shown], 0
        if doc.get("media_type") not in (None, "image"):
            return None, 0  # a video's faces come from frames we did not keep
        try:
            obj = self.pipeline.storage.read(ObjectRef(doc.get("bucket") or "", doc["key"]))
            picture = Picture.from_bytes(obj.data, self.settings.max_pixels)
            faces = [Face(box=Box(**_box_fields(f["box"])), confidence=f.get("confidence") or 0.0) for f in stored]
            matches, calls = self.collection.identify(picture, faces)
        except (ObjectNotFound, BadMedia) as e:
            log.info("cannot re-match a file: %s", e, extra={"key": doc.get("key")})
            return None, 0
        return list(matches), calls

    # ---- compare, search by face ---------------------------------------------------------------------------------
    def compare(self, a: Picture, b: Picture) -> dict[str, Any]:
        """Every face of `a` against every face of `b`: all pairs, best first, and the best pair."""
        api_calls = 0
        if self.settings.analyzer == "rekognition" and hasattr(self.faces, "client"):
            # Rekognition never gives out face vectors: it compares them itself (CompareFaces)
            from mediaindex.adapters.faces.rekognition_compare import RekognitionComparer

            comparer = RekognitionComparer(self.faces.client)  # type: ignore[union-attr]
            pairs, faces_a, faces_b = comparer.compare(a, b)
            api_calls = comparer.api_calls
        else:
            found_a, found_b = self._vectors(a), self._vectors(b)
            faces_a = [f for f in found_a if f.embedding is not None]
            faces_b = [f for f in found_b if f.embedding is not None]
            if (found_a or found_b) and not (faces_a or faces_b):
                raise ConfigurationError(
                    f"the {self.pipeline.analyzer.name} analyzer gives no face vectors and its face collection cannot "
                    "compare pictures: use the local analyzer (--analyzer local)"
                )
            # both pictures went through the same analyzer now, so their vectors share one space
            space = face_vectors.space_of(next((f.embedding_space for f in faces_a + faces_b), face_vectors.DEFAULT.id))
            pairs = [(i, j, space.compare(fa.embedding, fb.embedding))  # type: ignore[arg-type]
                     for i, fa in enumerate(faces_a) for j, fb in enumerate(faces_b)]
        ranked = sorted(
            ({"a": i, "b": j, "similarity": round(s, 2), "same_person": s >= self.threshold} for i, j, s in pairs),
            key=lambda p: -p["similarity"],
        )
        return {
            "threshold": self.threshold,
            "faces_a": [_box_dict(f.box) for f in faces_a],
            "faces_b": [_box_dict(f.box) for f in faces_b],
            "best": ranked[0] if ranked else None,
            "pairs": ranked,
            "api_calls": api_calls,
        }

    def search_by_face(self, picture: Picture, limit: int = 50, all_faces: bool = False) -> dict[str, Any]:
        """Files in which the face of `picture` (its largest, or each with `all_faces`) appears, best first."""
        collection = self._needs_memory("search by face")
        faces = [f for f in self._vectors(picture) if f.embedding is not None]
        if not faces:
            raise BadMedia("no face found in the picture to search with")
        chosen = list(range(len(faces))) if all_faces else [_largest(faces)]
        best: dict[str, dict[str, Any]] = {}
        by_content = self._by_content()
        for q in chosen:
            for ref, similarity in collection.nearest(faces[q].embedding, k=max(limit * 4, 100), min_similarity=self.threshold):
                for doc in by_content.get(ref.content_sha256, []):
                    stored = (doc.get("faces") or [])
                    face = stored[ref.face_index] if ref.face_index < len(stored) else {}
                    hit = {
                        "id": doc["id"], "bucket": doc.get("bucket"), "key": doc["key"], "similarity": similarity,
                        "face_index": ref.face_index, "query_face": q, "box": face.get("box"), "person": face.get("person"),
                    }
                    if doc["id"] not in best or best[doc["id"]]["similarity"] < similarity:
                        best[doc["id"]] = hit
        hits = sorted(best.values(), key=lambda h: (-h["similarity"], h["key"]))[:limit]
        return {"threshold": self.threshold, "query_faces": [_box_dict(faces[q].box) for q in chosen], "total": len(hits),
                "hits": hits}

    # ---- clusters of unnamed faces -------------------------------------------------------------------------------
    def clusters(self, min_size: int = 2) -> list[dict[str, Any]]:
        """Groups of faces that look alike and match nobody enrolled, biggest first, with the files they are in."""
        collection = self._needs_memory("clustering faces")
        by_content = self._by_content()
        result = []
        for cluster_id, members in collection.clusters(min_size=1).items():
            files = []
            for m in members:
                for doc in by_content.get(m.ref.content_sha256, []):
                    files.append({"id": doc["id"], "bucket": doc.get("bucket"), "key": doc["key"],
                                  "face_index": m.ref.face_index, "box": _box_dict(m.box)})
            if len(files) >= min_size:
                result.append({"cluster": cluster_id, "faces": len(members), "files": files})
        result.sort(key=lambda c: (-len(c["files"]), c["cluster"]))
        return result

    def name_cluster(self, cluster_id: str, name: str) -> dict[str, Any]:
        """Enrol the faces of an unnamed cluster as `name`; every file they are in follows."""
        collection = self._needs_memory("naming a cluster")
        name = check_person_name(name)
        from mediaindex.adapters.faces.local import cluster_name, parse_cluster

        wanted = cluster_name(parse_cluster(cluster_id))
        members = collection.clusters(min_size=1).get(wanted)
        if not members:
            raise ConfigurationError(
                f"no unnamed cluster {wanted}: list them with `mediaindex people clusters` (a named cluster is gone)"
            )
        face_ids = collection.enroll_embeddings(
            name, [m.embedding for m in members[:MAX_FACES_PER_CLUSTER_NAME]], source=f"cluster:{wanted}"
        )
        report = self.rematch()
        return {"cluster": wanted, "name": " ".join(name.split()), "faces_enrolled": len(face_ids), **report.to_dict()}

    def split_cluster(self, cluster_id: str, faces: list[tuple[str, int | None]]) -> dict[str, Any]:
        """Move faces out of a cluster that holds two people into a cluster of their own, kept apart from the rest
        when later faces are clustered. `faces`: (document id, face index from 0, or None for every face of that
        file in the cluster)."""
        collection = self._needs_memory("splitting a cluster")
        from mediaindex.adapters.faces.local import FaceRef, cluster_name, parse_cluster

        number = parse_cluster(cluster_id)
        members = collection.clusters(min_size=1, unnamed_only=False).get(cluster_name(number))
        if not members:
            raise ConfigurationError(f"no cluster {cluster_name(number)}: list them with `mediaindex people clusters`")
        in_cluster = {(m.ref.content_sha256, m.ref.face_index) for m in members}
        if not faces:
            raise ConfigurationError("name the faces to move out of the cluster")
        refs: list[FaceRef] = []
        for doc_id, face_index in faces:
            found = self.pipeline.index.get(doc_id)
            if found is None or found.doc.get("status") != docs.INDEXED:
                raise ObjectNotFound(f"no indexed file {doc_id}")
            sha = found.doc.get("content_sha256") or ""
            chosen = [(sha, face_index)] if face_index is not None else sorted(k for k in in_cluster if k[0] == sha)
            for key in chosen:
                if key not in in_cluster:
                    which = f"face {key[1] + 1} of " if face_index is not None else ""
                    raise ConfigurationError(f"{which}{found.doc['key']} is not in {cluster_name(number)}")
                refs.append(FaceRef(*key))
            if not chosen:
                raise ConfigurationError(f"no face of {found.doc['key']} is in {cluster_name(number)}")
        moved, rest = collection.split_cluster(number, refs)
        log.info("cluster split", extra={"cluster": cluster_name(number), "moved": len(refs), "new": moved})
        return {"cluster": cluster_name(number), "moved_to": moved, "rest": rest, "faces_moved": len(set(refs))}

    # ---- documents -----------------------------------------------------------------------------------------------
    def _documents(self) -> Iterator[dict[str, Any]]:
        iterate: Callable[..., Any] | None = getattr(self.pipeline.index, "iter_documents", None)
        if iterate is None:
            raise ConfigurationError("this index cannot list its documents, so known people cannot be re-matched")
        for item in iterate():
            yield item.doc if isinstance(item, Versioned) else item

    def _by_content(self) -> dict[str, list[dict[str, Any]]]:
        """Live, indexed documents by content_sha256 (several files may hold the same bytes)."""
        table: dict[str, list[dict[str, Any]]] = {}
        for doc in self._documents():
            if doc.get("status") == docs.INDEXED and doc.get("content_sha256"):
                table.setdefault(doc["content_sha256"], []).append(doc)
        return table


def _rematched_fields(
    doc: dict[str, Any], matches: list[FaceMatch | None] | None, removed: set[str], drop: set[int] | None = None,
) -> dict[str, Any] | None:
    """The faces, people (and video timeline) of `doc` after matching again, without the faces at `drop` (marked
    "not a face"); None when nothing changes."""
    base = docs.without_faces(doc, drop) if drop else doc
    faces = [dict(f) for f in base["faces"]]
    if matches is None:
        if not removed and not drop:
            return None
        for face in faces:  # cannot match again: at least take the forgotten names out
            if face.get("person") in removed:
                face.update(person=None, face_id=None, similarity=None)
    else:
        for face, match in zip(faces, matches):
            face.update(
                person=match.person if match else None,
                face_id=match.face_id if match else None,
                similarity=match.similarity if match else None,
            )
    people = sorted({f["person"] for f in faces if f.get("person")})
    fields: dict[str, Any] = {"faces": faces, "people": people}
    video = _video_for_people(base.get("video"), faces, people)
    if video is not None:
        fields["video"] = video
    elif drop and base.get("video") is not None:
        fields["video"] = base["video"]
    if drop:
        fields["face_count"] = len(faces)
    elif faces == doc["faces"] and people == sorted(doc.get("people") or []) and video is None:
        return None
    return fields


def _video_for_people(video: Any, faces: list[dict[str, Any]], people: list[str]) -> dict[str, Any] | None:
    """A video's timeline for the people now named in it (None when nothing changes): the spans of people no
    longer named go; a person named afterwards gets the spans their faces were seen in (`segments.faces`, kept
    at indexing time; a video indexed before it existed has none, so only the whole video shows them)."""
    if not isinstance(video, dict):
        return None
    segments = video.get("segments") or {}
    spans = segments.get("people") or []
    kept = [span for span in spans if span.get("name") in people]
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


def _box_fields(box: dict[str, Any]) -> dict[str, float]:
    return {k: float(box[k]) for k in ("left", "top", "width", "height")}
