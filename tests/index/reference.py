"""The query model's semantics as plain Python over document dicts: the oracle both backends are compared to."""

from __future__ import annotations

from typing import Any

import numpy as np

from mediaindex.domain.expressions import (
    FACE_BOOLEANS, TIER_WEIGHTS, All, And, Concept, ContentIn, DateRange, EmotionIs, Expr, FaceHas, FactIs, KeyPrefix,
    LabelIs, MediaTypeIs, Not, Or, OnlyPeople, PersonIs, StatusIs, TextHas, option_answer, resolve_people,
    scoring_concepts,
    text_tokens,
)
from mediaindex.domain.facts import document_facts
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
    if isinstance(e, Concept):
        return any(matches(p, doc) for p in e.options)
    if isinstance(e, FactIs):
        return e.value in document_facts(doc).get(e.field, [])
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
    if isinstance(e, ContentIn):
        return doc.get("content_sha256") in e.hashes
    if isinstance(e, DateRange):
        value = doc.get(e.field)
        if value is None:
            return False
        return (e.since is None or value >= e.since) and (e.before is None or value < e.before)
    raise TypeError(e)


def _tier(label: dict[str, Any], form: str) -> int | None:
    """How specifically a label entry names `form`: 0 its name or an alias, 1 a parent, 2 a broader term."""
    for tier, names in enumerate(([label.get("name"), *(label.get("aliases") or [])], label.get("parents") or [],
                                  label.get("broader") or [])):
        if form in {str(n).lower() for n in names if n}:
            return tier
    return 1 if form in (label.get("names") or []) else None


def relevance(where: Expr, doc: dict[str, Any]) -> float:
    """The score both backends rank by (domain/expressions.py), in the plainest Python."""
    total = 0.0
    for concept in scoring_concepts(where):
        best = 0.0
        for option, weight in zip(concept.options, concept.weights):
            if isinstance(option, LabelIs) and option.min_confidence is None:
                for label in doc.get("labels") or []:
                    tiers = [t for t in (_tier(label, f) for f in option.forms) if t is not None]
                    if tiers:
                        answer = (label.get("confidence") or 0.0) / 100.0 * TIER_WEIGHTS[min(tiers)]
                        best = max(best, weight * answer)
            elif matches(option, doc):
                best = max(best, weight * option_answer(option))
        total += best
    return total


def ranked_ids(query: Query, documents: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """The matching documents by relevance (ties: newest taken, a file without a date last, then id, descending),
    with their scores (as float32, as the backends keep them)."""
    where = resolve_people(query.effective_where(), lambda: [p for d in documents for p in d.get("people") or []])
    found = [(float(np.float32(relevance(where, d))), d.get("taken_at") is not None, d.get("taken_at") or "", d["id"])
             for d in documents if matches(where, d)]
    found.sort(reverse=True)
    return [(doc_id, score) for score, _, _, doc_id in found]


def search_ids(query: Query, documents: list[dict[str, Any]]) -> set[str]:
    where = resolve_people(query.effective_where(), lambda: [p for d in documents for p in d.get("people") or []])
    return {d["id"] for d in documents if matches(where, d)}
