"""The use cases "a file was created or overwritten" and "a file was removed", written once for every deployment.

Events may arrive twice and out of order. Two rules keep the index equal to storage:
- with S3 sequencers, a document (or a tombstone) is only replaced by an event with a newer sequencer;
- without them, storage is asked what is true now: a creation whose file is gone writes nothing, a removal whose
  file is back removes nothing.
Every write is a compare-and-set against the version read, so concurrent workers cannot both win.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from mediaindex.domain import document as docs
from mediaindex.domain.document import MEANING, DocumentFields, PlaceDoc, SearchDocument
from mediaindex.domain.errors import BadMedia, ConfigurationError, LinkNotFollowed, ObjectNotFound, TransientError
from mediaindex.domain.file_dates import CONTAINER, EXIF, choose_taken_at, embedded_date
from mediaindex.domain.freshness import is_unchanged, unread_screenshot
from mediaindex.domain.messages import CREATED, REMOVED, Outcome, StorageEvent
from mediaindex.domain.model import Analysis, Box, Face, is_hidden
from mediaindex.domain.places import position_of
from mediaindex.domain.vocabulary import Action
from mediaindex.media import sniff
from mediaindex.media.picture import DEFAULT_MAX_PIXELS, Picture
from mediaindex.media.thumbnails import thumbnail_of
from mediaindex.domain.look_alikes import LOOK
from mediaindex.ports import (
    Analyzer, FaceCollection, Index, LibraryFaces, Metrics, ObjectRef, PictureVector, PictureVectors, PlaceFinder,
    RenderingCache, StoredObject, Storage, TextImageEmbedder, Versioned,
)
from mediaindex.services.index_io import compare_and_set

log = logging.getLogger(__name__)
LIBRARY_FACES = docs.LIBRARY_FACES

# What happened to one event; `Outcome.action` is one of these (domain/vocabulary.py says what each means).
INDEXED = Action.INDEXED
REUSED = Action.REUSED
FAILED = Action.FAILED
REMOVED_DOC = Action.REMOVED
STALE = Action.STALE
DUPLICATE = Action.DUPLICATE
GONE = Action.GONE
UNCHANGED = Action.UNCHANGED


@dataclass
class Draft:
    """The document made for a file that was read, before it is written."""

    doc: SearchDocument
    action: Action  # INDEXED, REUSED or FAILED
    api_calls: int = 0
    analysis: Analysis | None = None  # a picture newly analysed here: its faces are to be remembered
    looks: list[PictureVector] | None = None  # a video's frames' look vectors (its pictures' are in `analysis`)


class _NoPlaceField:
    """The geocoder failed: the document gets no `place` field (not even None)."""


NO_PLACE_FIELD: Any = _NoPlaceField()


def place_field(places: PlaceFinder, location: Any) -> PlaceDoc | None | _NoPlaceField:
    """The `place` field for a document's `location`: the place's document, None when there is no position or no
    place there, NO_PLACE_FIELD when the geocoder failed (its data missing or broken: logged, never raised)."""
    position = position_of(location)
    if position is None:
        return None
    try:
        place = places.place_at(*position)
    except Exception as e:  # noqa: BLE001 - a place is a nicety: the file is indexed without it
        log.warning("no place found for a position: %s", e)
        return NO_PLACE_FIELD
    return place.to_doc() if place is not None else None


class NullMetrics:
    def count(self, name: str, value: float = 1) -> None:
        pass


def name_faces(collection: FaceCollection, picture: Picture, faces: list[Face]) -> int:
    """Match the faces (all seen in `picture`) against the known people and name them in place; the paid calls."""
    matches, calls = collection.identify(picture, faces)
    for face, match in zip(faces, matches):
        if match is not None:
            face.person, face.face_id, face.similarity = match.person, match.face_id, match.similarity
    return calls


class VideoAnalysis(Protocol):
    """How the pipeline analyses a video file (services/video.py's VideoIndexer): its document fields and the paid
    API calls they took."""

    # seconds left in this invocation (Lambda sets it), so that a long video stops in time; None: no limit
    time_left: Callable[[], float] | None

    def __call__(self, obj: StoredObject) -> tuple[DocumentFields, int]: ...


@dataclass
class Pipeline:
    storage: Storage
    analyzer: Analyzer
    index: Index
    faces: FaceCollection | None = None
    metrics: Metrics = field(default_factory=NullMetrics)
    video: VideoAnalysis | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    reuse_analysis: bool = True
    # reverse geocoding of the GPS position into the document's `place` (None: not installed, no `place` field)
    places: PlaceFinder | None = None
    # look-alike vectors by content (domain/look_alikes.py); None: not kept (Rekognition makes none)
    vectors: PictureVectors | None = None
    # search by description: every indexed picture's meaning vector, kept in `vectors` (None: off)
    describer: TextImageEmbedder | None = None
    # where a picture's gallery thumbnail is left at index time (_keep_thumbnail); None: made when first asked for
    renderings: RenderingCache | None = None

    # ---- entry point ---------------------------------------------------------------------------------------------
    def handle(self, event: StorageEvent) -> Outcome:
        if event.kind == CREATED:
            return self.index_file(event)
        if event.kind == REMOVED:
            return self.remove_file(event)
        raise ValueError(f"unknown event kind {event.kind!r}")

    # ---- created / overwritten -----------------------------------------------------------------------------------
    def index_file(self, event: StorageEvent) -> Outcome:
        ref = event.ref
        doc_id = docs.document_id(ref.bucket, ref.key)
        current = self.index.get(doc_id)
        if current is not None:
            skip = self._skip_reason(event, current.doc)
            if skip:
                return Outcome(skip, ref, doc_id)
        try:
            obj = self.storage.read(ref)
        except ObjectNotFound:
            log.info("file gone before it was indexed", extra={"bucket": ref.bucket, "key": ref.key})
            return Outcome(GONE, ref, doc_id)
        except BadMedia as e:  # refused before reading (not a regular file, above the size limit, archived)
            return self._refused(event, current, e)
        sequencer = event.sequencer
        if sequencer is None and _restored(event) and current is not None:
            sequencer = current.doc.get("sequencer")  # a restore carries none: the object's order stays its put's
        with obj:  # a video kept in its file (or a temporary copy) is let go once analysed
            draft = self._document_for(obj, sequencer)
        doc, analysis = draft.doc, draft.analysis
        # The face vectors before the document: if they cannot be kept (faces.db locked, disk full, a kill), no
        # document says the file is done, so the next run indexes it again instead of counting it unchanged.
        # Remembering is keyed by content and idempotent, so a stale write below leaves nothing wrong behind.
        sha = doc.get("content_sha256")  # a file that was read has one
        if analysis is not None and analysis.faces and self.faces is not None and sha:
            self.faces.remember(sha, analysis.faces)
        if sha and self.vectors is not None:
            self._remember_look(sha, analysis, draft.looks)
        written = self._write(doc, current, same_write=_restored(event))
        if not written:
            return Outcome(STALE, ref, doc_id, api_calls=draft.api_calls)
        faces = doc.get("face_count") or 0
        self.metrics.count("files_failed" if draft.action == FAILED else "files_indexed")
        if draft.action == REUSED:
            self.metrics.count("analysis_reused")
        self.metrics.count("faces", faces)
        self.metrics.count("analyzer_calls", draft.api_calls)
        return Outcome(draft.action, ref, doc_id, reason=doc.get("error"), api_calls=draft.api_calls, faces=faces)

    def _refused(self, event: StorageEvent, current: Versioned | None, error: BadMedia) -> Outcome:
        """A `failed` document for a file storage would not read, with the listing's fingerprint, so the next run
        counts it unchanged instead of trying it again."""
        ref = event.ref
        log.warning("file not read: %s", error, extra={"bucket": ref.bucket, "key": ref.key})
        size, etag = event.size, event.etag
        if isinstance(error, LinkNotFollowed):  # nothing of the link's target: the link's own fingerprint
            size, etag = 0, error.etag
        doc: SearchDocument = {
            **docs.base_document(ref.bucket, ref.key, event.sequencer), "status": docs.FAILED,
            "error": f"{error.code}: {error}", "media_type": None, "content_type": None, "size": size,
            "etag": etag, "content_sha256": None, "last_modified": None, "face_count": 0,
        }
        if not self._write(doc, current):
            return Outcome(STALE, ref, doc["id"])
        self.metrics.count("files_failed")
        return Outcome(FAILED, ref, doc["id"], reason=doc["error"])

    def _reads_text(self) -> bool:
        settings = getattr(self.analyzer, "settings", None)
        return bool(settings is not None and settings.has("text"))

    def _skip_reason(self, event: StorageEvent, current: SearchDocument) -> Action | None:
        newer = docs.sequencer_newer(event.sequencer, current.get("sequencer"))
        if newer is False:
            same = (event.sequencer or "").upper().rstrip("0") == (current.get("sequencer") or "").upper().rstrip("0")
            return DUPLICATE if same else STALE
        # with a sequencer the event is newer than the document: the file was written again, whatever its etag;
        # a restore completed makes an archived file readable: the same etag, read now for the first time
        if event.sequencer is None and not _restored(event) and is_unchanged(current, etag=event.etag, size=event.size,
                                                    analyzer=self.analyzer.name, face_model=self.analyzer.face_model,
                                                    reads_text=self._reads_text(), meaning_model=self.meaning_model) \
                and not self.look_missing(current):
            return UNCHANGED
        return None

    def _document_for(self, obj: StoredObject, sequencer: str | None) -> Draft:
        ref = obj.ref
        sha = obj.sha256  # computed as the bytes were read: a video is never whole in memory
        media_type, fmt = sniff.sniff(obj.head)
        doc: SearchDocument = {
            **docs.base_document(ref.bucket, ref.key, sequencer),
            "status": docs.INDEXED,
            "error": None,
            "media_type": media_type,
            "content_type": sniff.content_type(fmt) if fmt else (obj.content_type or "application/octet-stream"),
            "size": obj.size,
            "etag": obj.etag,
            "content_sha256": sha,
            "last_modified": obj.last_modified,
        }
        if self.reuse_analysis and obj.size:
            prior = self.index.find_by_content(sha, self.analyzer.name)
            if (prior is not None and docs.analysed_alike(prior, None, self.analyzer.face_model)
                    and not self._vectors_missing(prior, sha)
                    and not self.look_missing(prior)
                    and not (self._reads_text() and unread_screenshot(prior))):
                doc.update(docs.analysis_of(prior))
                doc["face_count"] = len(prior.get("faces") or [])
                # the date the bytes carry is the copy's too; a date from a name or a file time is this file's own
                self._date(doc, obj, *embedded_date(prior))
                if "place" not in doc:  # analysed before places were found
                    self.add_place(doc)
                self._carry_meaning(prior, doc, obj)
                self._copy_thumbnail(prior, doc)
                return Draft(doc, REUSED)
        try:
            if media_type == sniff.VIDEO:
                if self.video is None:
                    raise BadMedia("video file, but video analysis is not enabled in this deployment")
                fields, calls = self.video(obj)
                looks = fields.pop("looks", None)  # type: ignore[typeddict-item]
                doc.update(fields)
                self._date(doc, obj, fields.get("taken_at"), CONTAINER)
                self.add_place(doc)
                frames = [PictureVector(sha, *look) for look in looks or []]
                if self.look_model is not None:
                    doc["look_model"] = frames[0].model if frames else None
                return Draft(doc, INDEXED, calls, looks=frames)
            # not an image: refused from its first bytes, without reading a large file whole
            picture = Picture.from_bytes(obj.data if media_type == sniff.IMAGE else obj.head, self.max_pixels)
            analysis = self.analyzer.analyze(picture)
            hidden = self.hidden_boxes(sha)
            if hidden:  # marked "not a face" before: never named, remembered or clustered again
                analysis.faces = [f for f in analysis.faces if not is_hidden(f.box, hidden)]
            self._match_faces(picture, analysis)
            self._keep_library_faces(sha, picture, analysis)
        except BadMedia as e:
            log.warning("file cannot be analysed: %s", e, extra={"bucket": ref.bucket, "key": ref.key})
            doc.update({"status": docs.FAILED, "error": f"{e.code}: {e}", "face_count": 0})
            return Draft(doc, FAILED)
        exif = picture.exif
        doc.update({
            "width": picture.width, "height": picture.height, "camera": exif.camera, "lens": exif.lens,
            "location": exif.location, **docs.analysis_fields(analysis),
        })
        if analysis.sharpness is not None:
            doc["sharpness"] = analysis.sharpness
        if self.look_model is not None:
            doc["look_model"] = analysis.look_model if analysis.look else None
        self._date(doc, obj, exif.taken_at, EXIF)
        self.add_place(doc)
        self.describe(picture, doc)
        self._keep_thumbnail(picture, doc)
        return Draft(doc, INDEXED, analysis.api_calls, analysis)

    def _keep_thumbnail(self, picture: Picture, doc: SearchDocument) -> None:
        """The gallery's thumbnail, made now from the pixels the analysis decoded (5-13 ms): made when the gallery
        first asks, it is a decode of the file again, and a 12 MP HEIC, PNG or TIFF has no reduced decoding (a
        12 MP HEIC's thumbnail took about 0.4 s). A thumbnail that cannot be made costs its speed only: it is made on demand.
        The viewer's preview stays on demand (one photo at a time, and 0.3 MB a photo to keep)."""
        image = picture.decoded()
        if self.renderings is None or image is None:
            return
        try:
            thumbnail = thumbnail_of(image)
        except (OSError, ValueError) as e:
            log.warning("no thumbnail made at index time: %s", e, extra={"key": doc.get("key")})
            return
        self.renderings.put(doc, "thumb", thumbnail)

    def _copy_thumbnail(self, prior: SearchDocument, doc: SearchDocument) -> None:
        """A copy's thumbnail is its original's (the same bytes): nothing is decoded for a copy, whose analysis is
        reused, so without this its thumbnail would be made from the file when the gallery first asks."""
        if self.renderings is None:
            return
        kept = self.renderings.get(prior, "thumb")
        if kept is not None:
            self.renderings.put(doc, "thumb", kept)

    @staticmethod
    def _date(doc: SearchDocument, obj: StoredObject, embedded: str | None, kind: str) -> None:
        """`taken_at` and `taken_at_source`: the date the bytes carry, else one in the file name, else the file
        time (domain/file_dates.py)."""
        doc["taken_at"], doc["taken_at_source"] = choose_taken_at(embedded, kind, obj.ref.key, obj.last_modified)

    def add_place(self, doc: SearchDocument) -> None:
        """Set the document's `place` from its `location` (None: no position, or nowhere near a town or country).
        Without a geocoder, or when it fails, the field is left out, for services/places.py to add later; a file
        is never refused for its place."""
        if self.places is None:
            return
        found = place_field(self.places, doc.get("location"))
        if not isinstance(found, _NoPlaceField):
            doc["place"] = found

    @property
    def meaning_model(self) -> str | None:
        """The image-text model of search by description; None when it is off (or there is no vector store)."""
        return self.describer.model if self.describer is not None and self.vectors is not None else None

    def describe(self, picture: Picture, doc: SearchDocument) -> None:
        """The picture's meaning vector, kept by content in the vector store (before the document is written, as
        faces and look vectors are), and the document's `meaning_model`. A picture too small or blank gets none, and
        a failure of the embedder on this one picture (a refused image) leaves the file indexed without it; both
        are recorded in `no_vectors` with the model, so the next run with that model does not ask again.
        Throttling (TransientError) and a configuration fault (no access, an altered model file) are raised: the
        file is tried again later."""
        if self.describer is None or self.vectors is None:
            return
        model, sha = self.describer.model, doc.get("content_sha256")
        if not sha:
            return
        try:
            vector = self.describer.embed_image(picture)
        except (TransientError, ConfigurationError):
            raise
        except Exception as e:  # noqa: BLE001 - one picture the embedder refuses never fails its file
            log.warning("no description vector: %s", e, extra={"key": doc.get("key"), "model": model})
            self.metrics.count("vectors_failed")
            self._no_meaning(doc, model, f"{type(e).__name__}: {e}"[:300])
            return
        if vector is None:
            self._no_meaning(doc, model, "too small or blank for a meaningful vector")
            return
        self.vectors.remember(MEANING, [PictureVector(sha, model, list(vector))])
        self._has_meaning(doc, model)
        self.metrics.count("vectors_made")

    @staticmethod
    def _has_meaning(doc: SearchDocument, model: str) -> None:
        doc["meaning_model"] = model
        no_vectors = {k: v for k, v in (doc.get("no_vectors") or {}).items() if k != MEANING}
        if no_vectors:
            doc["no_vectors"] = no_vectors
        else:
            doc.pop("no_vectors", None)

    @staticmethod
    def _no_meaning(doc: SearchDocument, model: str, reason: str) -> None:
        doc["meaning_model"] = None
        doc["no_vectors"] = {**(doc.get("no_vectors") or {}), MEANING: {"model": model, "reason": reason}}

    def _carry_meaning(self, prior: SearchDocument, doc: SearchDocument, obj: StoredObject) -> None:
        """A copy of bytes already indexed: their meaning vector is kept by content, so it is the copy's too (or
        the reason they have none, when it is of this model); otherwise the picture is embedded now (its analysis
        still reused)."""
        if self.describer is None or self.vectors is None or doc.get("media_type") != "image":
            return
        model, sha = self.describer.model, doc.get("content_sha256") or ""
        missing = (prior.get("no_vectors") or {}).get(MEANING)
        if self.vectors.has(MEANING, sha, model):
            self._has_meaning(doc, model)
        elif missing is not None and missing.get("model") == model:
            doc["meaning_model"] = None
            doc["no_vectors"] = {**(doc.get("no_vectors") or {}), MEANING: missing}
        else:
            try:
                picture = Picture.from_bytes(obj.data, self.max_pixels)
            except BadMedia as e:
                self._no_meaning(doc, model, f"{type(e).__name__}: {e}"[:300])
                return
            self.describe(picture, doc)

    def hidden_boxes(self, sha: str) -> list[Box]:
        """The boxes marked "not a face" in these bytes (only the local face collection keeps them)."""
        return self.faces.hidden_boxes(sha) if self.faces is not None else []

    def _vectors_missing(self, prior: SearchDocument, sha: str) -> bool:
        """Were the faces of an earlier document of these bytes never kept (written before vectors came first)?
        Then it is analysed again rather than copied, so its faces can be named."""
        faces = prior.get("faces") or []
        return (bool(faces) and prior.get("media_type") == "image" and self.faces is not None
                and not self.faces.has_remembered(sha, len(faces)))

    @property
    def look_model(self) -> str | None:
        """The model of the look vectors this analyzer makes with these settings; None when it makes none."""
        settings = getattr(self.analyzer, "settings", None)
        if self.vectors is None or settings is None or not settings.has("labels"):
            return None
        return getattr(self.analyzer, "look_model", None)

    def look_missing(self, doc: SearchDocument) -> bool:
        """An indexed document analysed before look-alikes (no `look_model` field), whose look vectors come from
        another classifier file, or whose vectors are not kept (any more): analysed again rather than counted
        unchanged or copied. (`look_model` None: the picture was too small or blank for a vector; that stays so.)"""
        model = self.look_model
        if model is None or doc.get("status") != docs.INDEXED or not doc.get("content_sha256"):
            return False
        if "look_model" not in doc:
            return True
        if doc["look_model"] is None:  # too small or blank: stays so
            return False
        # its vectors gone (a damaged vectors file started anew) or of another classifier: analysed again
        return doc["look_model"] != model or not self.vectors.has(LOOK, str(doc["content_sha256"]), model)  # type: ignore[union-attr]

    def _remember_look(self, sha: str, analysis: Analysis | None, looks: list[PictureVector] | None) -> None:
        """The look vectors of newly analysed bytes, before the document (as faces are): a picture's one, a
        video's frames'."""
        assert self.vectors is not None
        if analysis is not None and analysis.look and analysis.look_model:
            looks = [PictureVector(sha, analysis.look_model, analysis.look, 0, analysis.layout)]
        if looks:
            self.vectors.remember(LOOK, looks)

    def _keep_library_faces(self, sha: str | None, picture: Picture, analysis: Analysis) -> None:
        """With a library face collection: the picture's faces go into it, and the document says so
        (`model_versions.library_faces`), so an enrolment finds them with one search (services/rematch.py)."""
        faces = self.faces
        if not analysis.faces or not sha or not isinstance(faces, LibraryFaces) or not faces.keeps_library_faces:
            return
        kept, calls = faces.keep_library_faces(sha, picture)
        analysis.api_calls += calls
        if kept:
            analysis.model_versions[LIBRARY_FACES] = "1"

    def _match_faces(self, picture: Picture, analysis: Analysis) -> None:
        if not analysis.faces or self.faces is None or self.faces.is_empty():
            return
        analysis.api_calls += name_faces(self.faces, picture, analysis.faces)

    # ---- removed -------------------------------------------------------------------------------------------------
    def remove_file(self, event: StorageEvent) -> Outcome:
        ref = event.ref
        doc_id = docs.document_id(ref.bucket, ref.key)
        if event.sequencer is None and self.storage.exists(ref):
            # No order to go by, and the file is there again: a later creation wins (its event indexes it).
            return Outcome(STALE, ref, doc_id, reason="file exists again")
        current = self.index.get(doc_id)
        if current is None:
            # Never indexed: still leave a tombstone when we have a sequencer, so a late creation event stays dead.
            if event.sequencer is None:
                return Outcome(GONE, ref, doc_id)
        elif current.doc.get("status") == docs.DELETED and event.sequencer is None:
            return Outcome(DUPLICATE, ref, doc_id)
        else:
            skip = self._skip_reason(event, current.doc)
            if skip == STALE and current.doc.get("status") != docs.DELETED and not self.storage.exists(ref):
                # Older than the document by the sequencers, yet the file is gone: the document's sequencer claims
                # a later write that S3 does not have (forged, or from a message replayed out of thin air). S3 is
                # the truth: the tombstone keeps that sequencer, so the order of later events is unchanged.
                return self._remove_anyway(ref, doc_id, current)
            if skip in (STALE, DUPLICATE):
                return Outcome(skip, ref, doc_id)
        if not self._write(docs.tombstone(ref.bucket, ref.key, event.sequencer), current):
            return Outcome(STALE, ref, doc_id)
        return self._removed(ref, doc_id)

    def _removed(self, ref: ObjectRef, doc_id: str) -> Outcome:
        self.metrics.count("files_removed")
        if self.renderings is not None:  # its thumbnail and preview are never asked for again
            self.renderings.forget(doc_id)
        return Outcome(REMOVED_DOC, ref, doc_id)

    def _remove_anyway(self, ref: ObjectRef, doc_id: str, current: Versioned) -> Outcome:
        log.warning("delete older than the document by its sequencer, but the file is gone: removed",
                    extra={"bucket": ref.bucket, "key": ref.key})

        def attempt(stored: Versioned | None) -> bool:
            if stored is None or stored.doc.get("status") == docs.DELETED:
                return False
            self.index.put(docs.tombstone(ref.bucket, ref.key, stored.doc.get("sequencer")), stored.version)
            return True

        if not compare_and_set(self.index, doc_id, attempt, current=current):
            return Outcome(DUPLICATE, ref, doc_id)
        return self._removed(ref, doc_id)

    # ---- conditional write ---------------------------------------------------------------------------------------
    def _write(self, doc: SearchDocument, current: Versioned | None, same_write: bool = False) -> bool:
        """Write unless the stored state is newer; re-read and decide again when someone else wrote meanwhile.
        `same_write`: the document is of the very write the stored one is of (a restore completed): the same
        sequencer is not older."""

        def attempt(stored: Versioned | None) -> bool:
            old = stored.doc.get("sequencer") if stored is not None else None
            if stored is not None and docs.sequencer_newer(doc.get("sequencer"), old) is False \
                    and not (same_write and doc.get("sequencer") == old):
                return False
            self.index.put(doc, stored.version if stored else None)
            return True

        return compare_and_set(self.index, doc["id"], attempt, current=current)


def _restored(event: StorageEvent) -> bool:
    """A restore of an archived object completed (S3's ObjectRestore:Completed)."""
    return (event.event_name or "").removeprefix("s3:") == "ObjectRestore:Completed"
