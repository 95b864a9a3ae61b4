"""The search document: one per file, snake_case, the same whichever analyzer and index produced it.

Status is one of `indexed` (searchable), `failed` (the file could not be analysed; `error` says why; kept out of
normal search results) or `deleted` (a tombstone: the file is gone, and the tombstone's sequencer stops an older,
late event from bringing it back; never shown in search).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any, Iterable

from mediaindex.domain.face_vectors import document_space
from mediaindex.domain.model import Analysis, Box, Face, Label, is_hidden
from mediaindex.domain.vocabulary import Status

INDEXED = Status.INDEXED
FAILED = Status.FAILED
DELETED = Status.DELETED

# Fields copied from a document whose bytes were already analysed (a copy or a rename), instead of analysing again.
ANALYSIS_FIELDS = (
    "media_type", "content_type", "width", "height", "taken_at", "taken_at_source", "camera", "lens", "location",
    "labels", "label_names", "faces", "people", "text", "moderation", "analyzer", "model_versions", "face_model",
    "video", "place",
)


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


def analysed_alike(doc: dict[str, Any], analyzer: str | None, face_model: str | None) -> bool:
    """Was `doc` analysed by this analyzer, with face vectors of this face model? A document whose vectors came
    from another model must be analysed again: vectors of two models are never compared. `analyzer` None: any."""
    if analyzer is not None and doc.get("analyzer") not in (None, analyzer):
        return False
    return face_model is None or document_space(doc) in (None, face_model)


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


def face_to_doc(face: Face) -> dict[str, Any]:
    d = asdict(face)
    d.pop("embedding", None)  # vectors live with the face collection, not in every search hit
    d.pop("embedding_space", None)  # the document's face_model says it once
    d.pop("landmarks", None)
    d["emotion"] = face.top_emotion()
    return d


def label_to_doc(label: Label) -> dict[str, Any]:
    d = asdict(label)
    # every lower-case name this label answers to, so "dog" finds a Siberian husky at the husky's confidence
    d["names"] = entry_names(label)
    return d


def analysis_fields(analysis: Analysis) -> dict[str, Any]:
    people = sorted({f.person for f in analysis.faces if f.person})
    return {
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


def hidden_face_indexes(faces: list[dict[str, Any]], hidden: "list[Box] | tuple[Box, ...]") -> set[int]:
    """The positions of the document faces that overlap a box marked "not a face"."""
    if not hidden:
        return set()
    return {i for i, f in enumerate(faces)
            if isinstance(f.get("box"), dict) and is_hidden(Box(**{k: float(f["box"][k]) for k in ("left", "top", "width", "height")}), hidden)}


def without_faces(fields: dict[str, Any], drop: set[int]) -> dict[str, Any]:
    """`faces`, `face_count`, `people` (and a video's timeline) of a document without the faces at `drop`: the
    faces after them move down, so do their `segments.faces` rows, and the spans of people no longer named go."""
    faces = [f for i, f in enumerate(fields.get("faces") or []) if i not in drop]
    people = sorted({f["person"] for f in faces if f.get("person")})
    result: dict[str, Any] = {"faces": faces, "face_count": len(faces), "people": people}
    video = fields.get("video")
    if isinstance(video, dict):
        segments = dict(video.get("segments") or {})
        moved = {old: new for new, old in enumerate(i for i in range(len(fields.get("faces") or [])) if i not in drop)}
        if segments.get("faces") is not None:
            segments["faces"] = [{**row, "face": moved[row["face"]]} for row in segments["faces"]
                                 if row.get("face") in moved]
        if segments.get("people") is not None:
            segments["people"] = [span for span in segments["people"] if span.get("name") in people]
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


def base_document(bucket: str, key: str, sequencer: str | None) -> dict[str, Any]:
    # the id comes from the real key (so a file keeps its document); the key as stored is always valid text, so a
    # file whose name is not UTF-8 is indexed under that name with \xNN for the odd bytes
    return {
        "id": document_id(bucket, key),
        "bucket": bucket,
        "key": storable_text(key),
        "sequencer": sequencer,
        "indexed_at": now_iso(),
    }


def tombstone(bucket: str, key: str, sequencer: str | None) -> dict[str, Any]:
    return {**base_document(bucket, key, sequencer), "status": DELETED, "error": None}
