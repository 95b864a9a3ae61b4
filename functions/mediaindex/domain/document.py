"""The search document: one per file, snake_case, the same whichever analyzer and index produced it.

Status is one of `indexed` (searchable), `failed` (the file could not be analysed; `error` says why; kept out of
normal search results) or `deleted` (a tombstone: the file is gone, and the tombstone's sequencer stops an older,
late event from bringing it back; never shown in search).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Iterable, Mapping, Required, TypedDict, cast

from mediaindex.domain.face_vectors import document_space
from mediaindex.domain.model import Analysis, Box, Celebrity, Face, Label, is_hidden
from mediaindex.domain.vocabulary import Status

INDEXED = Status.INDEXED
FAILED = Status.FAILED
DELETED = Status.DELETED


# ---- the document's shape --------------------------------------------------------------------------------------------
# Every nested part is total=False where a document written by an older version may lack a field, or where a part
# is left out for a reason (a face without attributes, a video without shots); readers use .get() for those.
class BoxDoc(TypedDict):
    """A box as ratios of the picture's width and height (model.Box)."""

    left: float
    top: float
    width: float
    height: float


class InstanceDoc(TypedDict):
    box: BoxDoc
    confidence: float


class LabelDoc(TypedDict, total=False):
    """One label entry (`label_to_doc`): model.Label's fields and every name it answers to."""

    name: Required[str]
    confidence: Required[float]
    parents: list[str]
    categories: list[str]
    aliases: list[str]
    instances: list[InstanceDoc]
    broader: list[str]
    names: list[str]


class EmotionDoc(TypedDict):
    type: str  # upper case, as Rekognition: HAPPY, SAD, ...
    confidence: float


class PoseDoc(TypedDict):
    roll: float
    yaw: float
    pitch: float


class QualityDoc(TypedDict):
    brightness: float
    sharpness: float


class FaceDoc(TypedDict, total=False):
    """One face (`face_to_doc`): model.Face's fields without its vectors and landmarks, plus its top `emotion`."""

    box: Required[BoxDoc]
    confidence: Required[float]
    age_low: int | None
    age_high: int | None
    gender: str | None
    emotions: list[EmotionDoc]
    smile: bool | None
    eyeglasses: bool | None
    sunglasses: bool | None
    beard: bool | None
    mustache: bool | None
    eyes_open: bool | None
    mouth_open: bool | None
    pose: PoseDoc | None
    quality: QualityDoc | None
    face_occluded: bool | None
    eye_direction: dict[str, float] | None
    person: str | None
    face_id: str | None
    similarity: float | None
    emotion: str | None
    at: float  # a video's face: the time (s) of the frame it was kept from


class GeoPoint(TypedDict):
    """A GPS position, as EXIF and video tags give it and OpenSearch's geo_point takes it."""

    lat: float
    lon: float


class PlaceDoc(TypedDict):
    """Where a position lies, in words (places.Place.to_doc)."""

    city: str | None
    region: str | None
    country: str | None
    country_code: str | None
    metro: str | None
    names: list[str]  # every name a search finds it by, folded
    label: str  # for display: "Boulogne-Billancourt, Paris, France"


class SpanDoc(TypedDict):
    """When a person or a label was on screen: [start, end) seconds."""

    name: str
    start: float
    end: float


class FaceSpanDoc(TypedDict):
    """When the document's face number `face` was seen, so that a face named later gets its spans."""

    face: int
    start: float
    end: float


class SegmentsDoc(TypedDict, total=False):
    people: list[SpanDoc]
    labels: list[SpanDoc]
    faces: list[FaceSpanDoc]


class VideoDoc(TypedDict, total=False):
    """A video's `video` field (domain/video_timeline.py)."""

    duration: float
    width: int | None
    height: int | None
    fps: float | None
    codec: str | None
    frames_sampled: int
    frames_skipped: int
    frames_analysed: int
    frames_followed: int
    frames_at_shots: int
    segments: SegmentsDoc


class CelebrityDoc(TypedDict, total=False):
    """A celebrity recognised in the file (model.Celebrity): searched by `person:` and bare words as a known
    person's name is, yet kept apart from `people` (the people enrolled here), which it never changes."""

    name: str
    confidence: float  # how sure the match is, 0-100
    box: BoxDoc | None
    id: str | None  # Rekognition's celebrity id
    urls: list[str]  # Wikidata, IMDb, ... as Rekognition gives them
    known_gender: str | None


class NoVectorDoc(TypedDict):
    """Why a document has no vector of a kind from that model: the picture was too small or blank, or the
    embedder failed on it (the file is indexed all the same; the next run with another model tries again)."""

    model: str
    reason: str


MEANING = "meaning"  # the kind of vector of search by description: an image-text space (CLIP, Titan)


class DocumentFields(TypedDict, total=False):
    """The fields a document has beyond its identity and status: what reading the file and analysing it found
    (ANALYSIS_FIELDS among them), as a partial update or a video's analysis hands them over."""

    media_type: str | None  # "image" or "video" (media/sniff.py); None for a file that was not read
    content_type: str | None
    size: int | None
    etag: str | None
    content_sha256: str | None
    last_modified: str | None  # ISO 8601
    width: int | None
    height: int | None
    taken_at: str | None  # ISO 8601: the date it was taken (domain/file_dates.py), or None
    taken_at_source: str | None  # where that date comes from: exif, container, name, file_time
    camera: str | None
    lens: str | None
    location: GeoPoint | None
    labels: list[LabelDoc]
    label_names: list[str]
    faces: list[FaceDoc]
    face_count: int
    people: list[str]
    celebrities: list[CelebrityDoc]  # absent: none recognised, or the feature is off
    text: str | None
    moderation: float | None
    analyzer: str | None
    model_versions: dict[str, str]
    face_model: str | None
    video: VideoDoc
    place: PlaceDoc | None  # absent: never looked up (services/places.py adds it); None: no place there
    sharpness: float | None  # of the picture (media/layout.py): which copy to keep
    look_model: str | None  # the model of its look vectors (domain/look_alikes.py); None: too small or blank
    # the image-text model of its meaning vector, kept by content with the look vectors (search by description)
    meaning_model: str | None
    no_vectors: dict[str, NoVectorDoc]  # kind -> why the picture has none from that model


class DocumentIdentity(TypedDict):
    """Which file a document is of, and which write (`base_document`)."""

    id: str  # document_id(bucket, key)
    bucket: str  # "" for a folder's file, whose key is then its absolute path
    key: str
    sequencer: str | None  # S3's order of events on the key; None for found files
    indexed_at: str  # ISO 8601, when it was written


class SearchDocument(DocumentIdentity, DocumentFields, total=False):
    """The search document: one per file, in every index, in search hits and in the API's answers. Identity and
    status are always there (a tombstone has nothing else); the rest as DocumentFields."""

    status: Required[str]  # vocabulary.Status: indexed, failed or deleted
    error: Required[str | None]  # why a failed file failed

# Fields copied from a document whose bytes were already analysed (a copy or a rename), instead of analysing again.
ANALYSIS_FIELDS = (
    "media_type", "content_type", "width", "height", "taken_at", "taken_at_source", "camera", "lens", "location",
    "labels", "label_names", "faces", "people", "text", "moderation", "analyzer", "model_versions", "face_model",
    "video", "place", "sharpness", "look_model", "celebrities",
)


def analysis_of(doc: SearchDocument) -> DocumentFields:
    """The ANALYSIS_FIELDS a document has, to copy into another document of the same bytes."""
    fields = cast(Mapping[str, object], doc)
    return cast(DocumentFields, {k: fields[k] for k in ANALYSIS_FIELDS if k in fields})


def document_id(bucket: str, key: str) -> str:
    """A stable id from bucket and key. Hashed because keys may be 1,024 bytes of anything, and ids may not."""
    return hashlib.sha256(f"{bucket}\x00{key}".encode("utf-8", "surrogatepass")).hexdigest()[:40]


def sequencer_newer(candidate: str | None, current: str | None) -> bool | None:
    """Is `candidate` later than `current`? S3's rule: right-pad the shorter hex string with zeros, then compare.

    None when either is missing (some emulators, and our folder storage on deletes, send none): the caller then
    asks storage what is true now instead.
    """
    if not candidate or not current:
        return None
    width = max(len(candidate), len(current))
    a, b = candidate.upper().ljust(width, "0"), current.upper().ljust(width, "0")
    if a == b:
        return False
    return a > b


def analysed_alike(doc: SearchDocument, analyzer: str | None, face_model: str | None) -> bool:
    """Was `doc` analysed by this analyzer, with face vectors of this face model? A document whose vectors came
    from another model must be analysed again: vectors of two models are never compared. `analyzer` None: any."""
    if analyzer is not None and doc.get("analyzer") not in (None, analyzer):
        return False
    return face_model is None or document_space(doc) in (None, face_model)


def needs_meaning(doc: SearchDocument, model: str) -> bool:
    """Is `doc` an indexed picture without a meaning vector of `model`, and not known to get none from it? Such a
    document is embedded again (and only that: its analysis is reused)."""
    if doc.get("status") != INDEXED or doc.get("media_type") != "image":
        return False
    if doc.get("meaning_model") == model:
        return False
    missing = (doc.get("no_vectors") or {}).get(MEANING)
    return missing is None or missing.get("model") != model


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def label_names(labels: Iterable[Label]) -> list[str]:
    """The concepts a file is counted under in facets and stats: each label and its parents, lower case, once.
    Aliases ("human" for a person, "Canis familiaris") and over-general `broader` terms are searchable (each
    label entry's `names`) but are not counted: one facet per concept."""
    seen: dict[str, None] = {}
    for label in labels:
        for name in (label.name, *label.parents):
            seen.setdefault(name.lower(), None)
    return list(seen)


def entry_names(label: Label) -> list[str]:
    """Every lower-case name one label entry answers to in a search: its name, aliases, parents and broader terms."""
    seen: dict[str, None] = {}
    for name in (label.name, *label.aliases, *label.parents, *label.broader):
        seen.setdefault(name.lower(), None)
    return list(seen)


def face_to_doc(face: Face) -> FaceDoc:
    d = cast(FaceDoc, asdict(face))  # model.Face's fields: the vectors and landmarks go below
    raw = cast(dict[str, object], d)
    raw.pop("embedding", None)  # vectors live with the face collection, not in every search hit
    raw.pop("embedding_space", None)  # the document's face_model says it once
    raw.pop("landmarks", None)
    d["emotion"] = face.top_emotion()
    return d


def label_to_doc(label: Label) -> LabelDoc:
    d = cast(LabelDoc, asdict(label))  # model.Label's fields
    # every lower-case name this label answers to, so "dog" finds a Siberian husky at the husky's confidence
    d["names"] = entry_names(label)
    return d


# `model_versions` key of a picture whose faces were indexed into the library face collection (Rekognition,
# MEDIAINDEX_LIBRARY_COLLECTION): an enrolment finds them with one search instead of searching each face
LIBRARY_FACES = "library_faces"


def in_library(doc: DocumentFields) -> bool:
    return bool((doc.get("model_versions") or {}).get(LIBRARY_FACES))


def celebrity_to_doc(celebrity: Celebrity) -> CelebrityDoc:
    box = celebrity.box
    return {
        "name": celebrity.name, "confidence": round(float(celebrity.confidence), 2),
        "box": {"left": box.left, "top": box.top, "width": box.width, "height": box.height} if box else None,
        "id": celebrity.celebrity_id, "urls": list(celebrity.urls), "known_gender": celebrity.known_gender,
    }


def best_celebrities(found: Iterable[CelebrityDoc]) -> list[CelebrityDoc]:
    """One entry a name, the surest, surest first (a name twice in a picture, or in many frames of a video)."""
    best: dict[str, CelebrityDoc] = {}
    for entry in found:
        name = entry.get("name")
        if name and (name not in best or (entry.get("confidence") or 0.0) > (best[name].get("confidence") or 0.0)):
            best[name] = entry
    return sorted(best.values(), key=lambda c: (-(c.get("confidence") or 0.0), c.get("name") or ""))


def celebrity_names(doc: DocumentFields) -> list[str]:
    return [name for c in doc.get("celebrities") or [] if (name := c.get("name"))]


def analysis_fields(analysis: Analysis) -> DocumentFields:
    people = sorted({f.person for f in analysis.faces if f.person})
    celebrities = best_celebrities(celebrity_to_doc(c) for c in analysis.celebrities)
    return {
        **({"celebrities": celebrities} if celebrities else {}),
        "labels": [label_to_doc(label) for label in analysis.labels],
        "label_names": label_names(analysis.labels),
        "faces": [face_to_doc(f) for f in analysis.faces],
        "face_count": len(analysis.faces),
        "people": people,
        "text": " ".join(line.text for line in analysis.text) or None,
        "moderation": analysis.moderation,
        "analyzer": analysis.analyzer,
        "model_versions": analysis.model_versions,
        "face_model": analysis.face_model,
    }


def hidden_face_indexes(faces: list[FaceDoc], hidden: "list[Box] | tuple[Box, ...]") -> set[int]:
    """The positions of the document faces that overlap a box marked "not a face"."""
    if not hidden:
        return set()
    return {i for i, f in enumerate(faces) if isinstance(f.get("box"), dict) and is_hidden(box_of(f["box"]), hidden)}


def box_of(box: BoxDoc) -> Box:
    return Box(float(box["left"]), float(box["top"]), float(box["width"]), float(box["height"]))


def without_faces(fields: DocumentFields, drop: set[int]) -> DocumentFields:
    """`faces`, `face_count`, `people` (and a video's timeline) of a document without the faces at `drop`: the
    faces after them move down, so do their `segments.faces` rows, and the spans of people no longer named go."""
    faces = [f for i, f in enumerate(fields.get("faces") or []) if i not in drop]
    people = sorted({person for f in faces if (person := f.get("person"))})
    result: DocumentFields = {"faces": faces, "face_count": len(faces), "people": people}
    video = fields.get("video")
    if isinstance(video, dict):
        segments: SegmentsDoc = {**(video.get("segments") or {})}
        moved = {old: new for new, old in enumerate(i for i in range(len(fields.get("faces") or [])) if i not in drop)}
        face_spans = segments.get("faces")
        if face_spans is not None:
            segments["faces"] = [{**row, "face": moved[row["face"]]} for row in face_spans if row.get("face") in moved]
        people_spans = segments.get("people")
        if people_spans is not None:
            segments["people"] = [span for span in people_spans if span.get("name") in people]
        result["video"] = {**video, "segments": segments}
    return result


def storable_text(text: str) -> str:
    """`text` as every index, JSON reader and terminal accepts it: a file name's bytes that are not UTF-8 (which
    Python carries as lone surrogates, U+DC80-U+DCFF) become the text \\xNN, any other lone surrogate \\uNNNN.
    Valid text is returned as it is."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for c in text:
        o = ord(c)
        out.append(f"\\x{o - 0xDC00:02x}" if 0xDC80 <= o <= 0xDCFF else f"\\u{o:04x}" if 0xD800 <= o <= 0xDFFF else c)
    return "".join(out)


def base_document(bucket: str, key: str, sequencer: str | None) -> DocumentIdentity:
    # the id comes from the real key (so a file keeps its document); the key as stored is always valid text, so a
    # file whose name is not UTF-8 is indexed under that name with \xNN for the odd bytes
    return {
        "id": document_id(bucket, key),
        "bucket": bucket,
        "key": storable_text(key),
        "sequencer": sequencer,
        "indexed_at": now_iso(),
    }


def tombstone(bucket: str, key: str, sequencer: str | None) -> SearchDocument:
    identity = base_document(bucket, key, sequencer)
    # spelt out: `**identity` would not tell the checker that no analysis field rides along with it
    return {"id": identity["id"], "bucket": identity["bucket"], "key": identity["key"],
            "sequencer": identity["sequencer"], "indexed_at": identity["indexed_at"], "status": DELETED, "error": None}
