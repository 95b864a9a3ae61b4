"""What both index backends derive from a document to search it, computed in one place so they agree exactly."""

from __future__ import annotations

import re
from typing import Any, Iterable

from mediaindex.domain import document as docs
from mediaindex.domain.document import FaceDoc, LabelDoc, SearchDocument
from mediaindex.domain.expressions import FACE_BOOLEANS, text_tokens
from mediaindex.domain.facts import document_facts, place_label

STATS_LIMIT = 20
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def check_name(name: str) -> str:
    """Index names become OpenSearch index names and SQLite table prefixes: keep them to a safe alphabet."""
    if not _NAME.match(name or ""):
        raise ValueError(f"index name {name!r}: use lower-case letters, digits and _, starting with a letter")
    return name


def label_entry_names(label: LabelDoc) -> list[str]:
    """The lower-case names one label entry answers to (document.py stores them as `names`)."""
    names = label.get("names")
    if names is None:
        names = [label.get("name") or "", *(label.get("aliases") or []), *(label.get("parents") or [])]
    return sorted({str(n).lower() for n in names if n})


def label_entry_tiers(label: LabelDoc) -> list[tuple[str, int]]:
    """Each lower-case name one label entry answers to, with how specific it is (expressions.TIER_WEIGHTS): 0 its
    own name or an alias, 1 a parent, 2 a broader term. A name in two tiers keeps the most specific."""
    tiers: dict[str, int] = {}
    for tier, names in enumerate(([label.get("name"), *(label.get("aliases") or [])], label.get("parents") or [],
                                  label.get("broader") or [])):
        for name in names:
            if name:
                tiers.setdefault(str(name).lower(), tier)
    for name in label_entry_names(label):  # anything else `names` holds (older documents): as a parent
        tiers.setdefault(name, 1)
    return sorted(tiers.items())


def label_tiers_doc(label: LabelDoc) -> dict[str, Any]:
    """A label entry as OpenSearch ranks it: its names by tier, and its confidence."""
    tiers = label_entry_tiers(label)
    return {"own": [n for n, t in tiers if t == 0], "parents": [n for n, t in tiers if t == 1],
            "broader": [n for n, t in tiers if t == 2], "confidence": label.get("confidence")}


def top_emotion(face: FaceDoc) -> tuple[str | None, float | None]:
    """The face's top emotion and its confidence."""
    emotion = face.get("emotion")
    if not emotion:
        return None, None
    confidences = [e.get("confidence") for e in face.get("emotions") or [] if e.get("type") == emotion]
    confidences = [c for c in confidences if c is not None]
    return emotion, (max(confidences) if confidences else None)


def people_lower(doc: SearchDocument) -> list[str]:
    return sorted({p.lower() for p in doc.get("people") or [] if p})


def searched_people_lower(doc: SearchDocument) -> list[str]:
    """The names `person:` and a bare word find a document by, lower case: the people enrolled here it shows, and
    the celebrities recognised in it (both backends index exactly these)."""
    return sorted({*people_lower(doc), *(n.lower() for n in docs.celebrity_names(doc))})


def face_emotions(doc: SearchDocument) -> list[str]:
    return sorted({emotion for f in doc.get("faces") or [] if (emotion := f.get("emotion"))})


def text_words(doc: SearchDocument) -> str:
    return " ".join(text_tokens(doc.get("text")))


def key_words(doc: SearchDocument) -> str:
    return " ".join(text_tokens(doc.get("key")))


def search_aids(doc: SearchDocument) -> dict[str, Any]:
    """Fields an index adds beside the document for searching (never returned to callers)."""
    text, key = text_words(doc), key_words(doc)
    return {
        "people": searched_people_lower(doc),  # celebrities too: `person:` finds both
        "emotions": face_emotions(doc),
        "text": text,
        "key_text": key,
        "words": sorted(set(text.split()) | set(key.split())),
        "labels": [label_tiers_doc(label) for label in doc.get("labels") or []],
        "facts": document_facts(doc),
        "place": place_label(doc),
    }


def face_flags(face: FaceDoc) -> dict[str, Any]:
    return {name: face.get(name) for name in FACE_BOOLEANS}


def top(pairs: Iterable[tuple[str, int]], limit: int = STATS_LIMIT) -> list[list[Any]]:
    ordered = sorted(pairs, key=lambda p: (-p[1], p[0]))
    return [[name, count] for name, count in ordered[:limit]]


def next_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (None: no upper bound)."""
    chars = list(prefix)
    while chars:
        last = ord(chars[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates are not characters
                nxt = 0xE000
            chars[-1] = chr(nxt)
            return "".join(chars)
        chars.pop()
    return None
