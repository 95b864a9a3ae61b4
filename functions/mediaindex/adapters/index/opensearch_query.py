"""The query model (domain/query.py) as OpenSearch query DSL: a query per kind of expression, the sort, and the
facet aggregations. Labels and faces are nested documents, so each condition on one holds for one entry."""

from __future__ import annotations

from typing import Any, Callable

from mediaindex.domain.expressions import (
    FACE_BOOLEANS, TIER_WEIGHTS, All, And, Concept, ContentIn, DateRange, EmotionIs, Expr, FaceHas, FactIs, KeyPrefix, LabelIs,
    MediaTypeIs, Not, Or, PersonIs, StatusIs, TextHas, option_answer, scoring_concepts,
)
from mediaindex.domain.query import Query

AIDS = "search_aids"  # fields added beside the document for searching; stripped from everything returned



def compile_where(e: Expr) -> dict[str, Any]:
    """The expression as an OpenSearch query."""
    compile_one = _COMPILERS.get(type(e))
    if compile_one is None:
        raise TypeError(f"not a query expression: {e!r}")
    return compile_one(e)


# ---- logic ---------------------------------------------------------------------------------------------------------
def _and(e: And) -> dict[str, Any]:
    return {"bool": {"must": [compile_where(p) for p in e.parts]}} if e.parts else {"match_all": {}}


def _or(e: Or) -> dict[str, Any]:
    if not e.parts:
        return {"match_none": {}}
    return {"bool": {"should": [compile_where(p) for p in e.parts], "minimum_should_match": 1}}


def _not(e: Not) -> dict[str, Any]:
    return {"bool": {"must_not": [compile_where(e.part)]}}


# ---- labels, people, faces, words ----------------------------------------------------------------------------------
def _label(e: LabelIs) -> dict[str, Any]:
    forms = e.forms
    conditions: list[dict[str, Any]] = [
        {"term": {"labels.names": forms[0]}} if len(forms) == 1 else {"terms": {"labels.names": forms}}]
    if e.min_confidence is not None:
        conditions.append({"range": {"labels.confidence": {"gte": e.min_confidence}}})
    return {"nested": {"path": "labels", "score_mode": "max", "query": {"bool": {"must": conditions}}}}


def _person(e: PersonIs) -> dict[str, Any]:
    people = [e.name.lower()] if e.names is None else list(e.names)
    return {"terms": {f"{AIDS}.people": people}} if people else {"match_none": {}}


def _some_face(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """Documents with one face meeting every condition."""
    return {"nested": {"path": "faces", "score_mode": "max", "query": {"bool": {"filter": conditions}}}}


def _emotion(e: EmotionIs) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = [{"term": {"faces.emotion": e.type}}]
    if e.min_confidence is not None:
        conditions.append({"nested": {"path": "faces.emotions", "query": {"bool": {"filter": [
            {"term": {"faces.emotions.type": e.type}},
            {"range": {"faces.emotions.confidence": {"gte": e.min_confidence}}},
        ]}}}})
    return _some_face(conditions)


def _face(e: FaceHas) -> dict[str, Any]:
    if e.attr in FACE_BOOLEANS:
        return _some_face([{"term": {f"faces.{e.attr}": e.value}}])
    if e.attr == "gender":  # stored as the analyzer wrote it ("Female"); compare case-insensitively
        return _some_face([{"terms": {"faces.gender": sorted({e.value, e.value.capitalize(), e.value.upper()})}}])
    low, high = e.value  # an age range: some face's estimated range overlaps it
    conditions = []
    if high is not None:
        conditions.append({"range": {"faces.age_low": {"lte": high}}})
    if low is not None:
        conditions.append({"range": {"faces.age_high": {"gte": low}}})
    return _some_face(conditions)


def _text(e: TextHas) -> dict[str, Any]:
    tokens = e.tokens
    if not tokens:
        return {"match_none": {}}
    if e.phrase:
        phrase = " ".join(tokens)
        return {"bool": {"should": [
            {"match_phrase": {f"{AIDS}.text": phrase}}, {"match_phrase": {f"{AIDS}.key_text": phrase}},
        ], "minimum_should_match": 1}}
    return {"bool": {"must": [{"term": {f"{AIDS}.words": t}} for t in tokens]}}


# ---- relevance -----------------------------------------------------------------------------------------------------
def ranked_query(where: Expr) -> dict[str, Any]:
    """The query with its relevance (domain/expressions.py): `where` decides what matches, unscored (a filter); each
    concept not under a NOT adds its best option's weight x answer, as the embedded index computes it."""
    concepts = scoring_concepts(where)
    if not concepts:  # nothing scores: every match ties, and the date taken orders them
        return {"constant_score": {"filter": compile_where(where)}}
    return {"bool": {"filter": [compile_where(where)], "should": [_concept_score(c) for c in concepts]}}


def _concept_score(c: Concept) -> dict[str, Any]:
    scored: list[dict[str, Any]] = []
    for option, weight in zip(c.options, c.weights):
        if isinstance(option, LabelIs) and option.min_confidence is None:
            for tier, field in enumerate(("own", "parents", "broader")):
                scored.append({"nested": {"path": f"{AIDS}.labels", "score_mode": "max", "query": {"function_score": {
                    "query": {"terms": {f"{AIDS}.labels.{field}": option.forms}},
                    "field_value_factor": {"field": f"{AIDS}.labels.confidence", "missing": 0,
                                           "factor": weight * TIER_WEIGHTS[tier] / 100.0},
                    "boost_mode": "replace"}}}})
            continue
        scored.append({"constant_score": {"filter": compile_where(option), "boost": weight * option_answer(option)}})
    return {"dis_max": {"queries": scored, "tie_breaker": 0}}


# ---- document fields -----------------------------------------------------------------------------------------------
def _date_range(e: DateRange) -> dict[str, Any]:
    bounds: dict[str, str] = {}
    if e.since is not None:
        bounds["gte"] = e.since
    if e.before is not None:
        bounds["lt"] = e.before
    return {"range": {e.field: bounds}} if bounds else {"exists": {"field": e.field}}


# each kind of expression and the function that compiles it
_COMPILERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    All: lambda e: {"match_all": {}}, And: _and, Or: _or, Not: _not, LabelIs: _label, PersonIs: _person,
    Concept: lambda e: _or(Or(*e.options)),
    FactIs: lambda e: {"term": {f"{AIDS}.facts.{e.field}": e.value}},
    EmotionIs: _emotion, FaceHas: _face, TextHas: _text,
    MediaTypeIs: lambda e: {"term": {"media_type": e.media_type}},
    StatusIs: lambda e: {"term": {"status": e.status}},
    KeyPrefix: lambda e: {"prefix": {"key": e.prefix}},
    ContentIn: lambda e: {"terms": {"content_sha256": list(e.hashes)}},
    DateRange: _date_range,
}


# ---- order and facets ----------------------------------------------------------------------------------------------
def sort_for(query: Query) -> list[Any]:
    sort = query.sort
    if sort.field == "relevance":  # ties (and a query without concepts): newest taken first
        return ["_score", {"taken_at": {"order": "desc", "missing": "_last"}}, {"id": "desc"}]
    # missing values count as smallest and ties follow the sort's direction: what SQLite does natively
    order, missing = ("desc", "_last") if sort.descending else ("asc", "_first")
    return [{sort.field: {"order": order, "missing": missing}}, {"id": order}]


def facet_agg(name: str, size: int) -> dict[str, Any]:
    field = {"labels": "label_names", "people": "people", "emotions": f"{AIDS}.emotions", "media_type": "media_type",
             "places": f"{AIDS}.place"}[name]
    return {"terms": {"field": field, "size": size, "order": [{"_count": "desc"}, {"_key": "asc"}]}}


# ---- face vectors (adapters/index/opensearch_faces.py) --------------------------------------------------------------
KNN_CANDIDATES = 100  # neighbours the HNSW search gathers before the best k are kept: recall for a little time


def knn_body(field: str, vector: list[float], k: int, terms: dict[str, str]) -> dict[str, Any]:
    """An approximate k-NN search (the k-NN plugin's `knn` query) for the k nearest vectors in `field`, filtered by
    exact `terms` inside the graph search (Lucene engine), without the vectors in the answer."""
    knn: dict[str, Any] = {"vector": vector, "k": max(k, KNN_CANDIDATES)}
    if terms:
        knn["filter"] = {"bool": {"filter": [{"term": {name: value}} for name, value in sorted(terms.items())]}}
    return {"size": k, "query": {"knn": {field: knn}}, "_source": {"excludes": ["embedding_*"]}}
