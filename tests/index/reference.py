"""The query model's semantics as plain Python over document dicts: the oracle both backends are compared to."""

from __future__ import annotations

from typing import Any

from mediaindex.domain.expressions import (
    FACE_BOOLEANS, All, And, DateRange, EmotionIs, Expr, FaceHas, KeyPrefix, LabelIs, MediaTypeIs, Not, Or,
    OnlyPeople, PersonIs, StatusIs, TextHas, resolve_people, text_tokens,
)
from mediaindex.domain.query import Query


def matches(e: Expr, doc: dict[str, Any]) -> bool:
    if isinstance(e, All):
        return True
    if isinstance(e, And):
        return all(matches(p, doc) for p in e.parts)
    if isinstance(e, Or):
        return any(matches(p, doc) for p in e.parts)
    if isinstance(e, Not):
        return not matches(e.part, doc)
    if isinstance(e, LabelIs):
        return any(
            any(form in label["names"] for form in e.forms) and (e.min_confidence is None or label["confidence"] >= e.min_confidence)
            for label in doc.get("labels") or []
        )
    if isinstance(e, PersonIs):
        return any(e.matches(p) for p in doc.get("people") or [])
    if isinstance(e, OnlyPeople):
        raise TypeError("resolve_people first: only:people depends on who else is known")
    faces = doc.get("faces") or []
    if isinstance(e, EmotionIs):
        return any(
            f.get("emotion") == e.type and (e.min_confidence is None or max(
                x["confidence"] for x in f["emotions"] if x["type"] == e.type) >= e.min_confidence)
            for f in faces
        )
    if isinstance(e, FaceHas):
        if e.attr in FACE_BOOLEANS:
            return any(f.get(e.attr) is e.value for f in faces)
        if e.attr == "gender":
            return any((f.get("gender") or "").lower() == e.value for f in faces)
        low, high = e.value
        return any(
            (high is None or (f.get("age_low") is not None and f["age_low"] <= high))
            and (low is None or (f.get("age_high") is not None and f["age_high"] >= low))
            for f in faces
        )
    if isinstance(e, TextHas):
        text, key = text_tokens(doc.get("text")), text_tokens(doc.get("key"))
        tokens = e.tokens
        if not tokens:
            return False
        if e.phrase:
            n = len(tokens)
            return any(words[i:i + n] == tokens for words in (text, key) for i in range(len(words) - n + 1))
        return set(tokens) <= set(text) | set(key)
    if isinstance(e, MediaTypeIs):
        return doc.get("media_type") == e.media_type
    if isinstance(e, StatusIs):
        return doc.get("status") == e.status
    if isinstance(e, KeyPrefix):
        return (doc.get("key") or "").startswith(e.prefix) and doc.get("key") is not None
    if isinstance(e, DateRange):
        value = doc.get(e.field)
        if value is None:
            return False
        return (e.since is None or value >= e.since) and (e.before is None or value < e.before)
    raise TypeError(e)


def search_ids(query: Query, documents: list[dict[str, Any]]) -> set[str]:
    where = resolve_people(query.effective_where(), lambda: [p for d in documents for p in d.get("people") or []])
    return {d["id"] for d in documents if matches(where, d)}
