"""The search use case: free text answered as people expect, and what a search says besides its hits.

`run_search` drops the concepts of a free-text query that no file has ("a horse *running* in a *field*" when the
index knows horses but no running and no field) and says which words it did not understand; when no file has every
remaining concept, it answers the files that have some of them, most first (relevance sums the concepts a file
has). Around that: the closest known labels and people when nothing matched, and, for a plain word, where each hit
matched it (a label, a person, a face, the picture's text, or only the file name), so that a facet that counts 4
dogs beside a search that finds 5 explains itself.

With search by description on (an image-text embedder: Titan on AWS, an installed CLIP model on one machine), the
words are also embedded, and the pictures nearest their meaning are blended with the keyword ranking (`_blend`), so
that "a red car at night" finds pictures no label names that way."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from mediaindex.domain import free_text
from mediaindex.domain.document import MEANING, FaceDoc, SearchDocument
from mediaindex.domain.errors import BadMedia, TransientError
from mediaindex.domain.expressions import (
    MAX_WINDOW, PEOPLE_WORDS, And, Concept, ContentIn, Expr, LabelIs, Or, PersonIs, TextHas, person_name_matches, simplify,
    text_tokens, walk,
)
from mediaindex.domain.facts import document_facts
from mediaindex.domain.fusion import reciprocal_rank_fusion
from mediaindex.domain.places import fold
from mediaindex.domain.query import Query
from mediaindex.domain.words import singulars
from mediaindex.ports import Index, PictureVectors, SearchResult, TextImageEmbedder
from mediaindex.services import look_alikes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A search's hits, the query that found them, and what it made of the words."""

    result: SearchResult
    query: Query  # as run: without the concepts nobody has, relaxed when nothing had them all
    not_understood: tuple[str, ...] = ()  # words no file answers to: left out, never emptying the answer
    relaxed: bool = False  # no file has every concept: these have some of them, the most first
    concepts: tuple[str, ...] = field(default=())  # the concepts searched for, as understood
    described: str | None = None  # the image-text model whose nearest pictures were blended in (None: keywords only)
    by_description: frozenset[str] = frozenset()  # the ids the description's nearest pictures brought


def _top_concepts(where: Expr) -> tuple[list[Concept], list[Expr]]:
    """The free-text concepts ANDed at the top of the query, and the rest of it."""
    parts = list(where.parts) if isinstance(where, And) else [where]
    concepts = [p for p in parts if isinstance(p, Concept)]
    return concepts, [p for p in parts if not isinstance(p, Concept)]


def _known(index: Index, query: Query, e: Expr) -> bool:
    return index.count(Query(where=e, statuses=query.statuses, limit=0)) > 0


def _names_together(index: Index, query: Query, concepts: list[Concept]) -> list[Concept]:
    """Words side by side that the index knows as one name ("new york", "san francisco", a person's full name, a
    two-word label the lexicon lacks) become one concept; the longest first."""
    out: list[Concept] = []
    i = 0
    while i < len(concepts):
        for size in (3, 2):
            group = concepts[i:i + size]
            if len(group) < size or any(" " in c.word for c in group):
                continue
            together = free_text.concept(" ".join(c.word for c in group), budget=0)
            exact = [o for o in together.options if not isinstance(o, TextHas)]  # a name, not two words anywhere
            if _known(index, query, Or(*exact)):
                out.append(together)
                i += size
                break
        else:
            out.append(concepts[i])
            i += 1
    return out


def run_search(index: Index, query: Query, describer: TextImageEmbedder | None = None,
               vectors: PictureVectors | None = None) -> Answer:
    """Search as a person means it (module docstring). A query without free text is searched as it is. A query
    with `similar:FILE` is ranked by likeness to that file (services/look_alikes.py, on `vectors`; its hits carry
    `similarity`); look_alikes.NotFound when the file is not indexed or has no look vector. With a `describer`
    (search by description is on), the `vectors` its pictures' meaning vectors are kept in, and free text ranked by
    relevance, the keyword ranking is blended with the pictures nearest the words' meaning (`_blend`). Exact copies
    (the same bytes) in a page show once, the first with the others' keys in `copies`."""
    answer = _answer(index, query, describer, vectors)
    return replace(answer, result=look_alikes.collapse_copies(answer.result))


def _answer(index: Index, query: Query, describer: TextImageEmbedder | None,
            vectors: PictureVectors | None) -> Answer:
    if look_alikes.has_similar(query.where):
        result, resolved = look_alikes.search_similar(index, vectors, query)
        return Answer(result, resolved)
    concepts, rest = _top_concepts(simplify(query.where))
    if not concepts:
        return Answer(index.search(query), query)
    answer = _by_keywords(index, query, concepts, rest)
    if describer is None or vectors is None or query.sort.field != "relevance":
        return answer
    return _blend(index, vectors, query, concepts, rest, answer, describer)


def _by_keywords(index: Index, query: Query, concepts: list[Concept], rest: list[Expr]) -> Answer:
    if len(concepts) > 1:
        concepts = _names_together(index, query, concepts)
    known = [c for c in concepts if _known(index, query, c)]
    unknown = tuple(c.word for c in concepts if c not in known)
    if not known:  # nothing understood: search it as written (nothing), and say so
        return Answer(index.search(query), query, unknown, False, tuple(c.word for c in concepts))
    understood = tuple(c.word for c in known)
    narrowed = replace(query, where=simplify(And(*rest, *known)))
    result = index.search(narrowed)
    if result.total or len(known) < 2:
        return Answer(result, narrowed, unknown, False, understood)
    relaxed = replace(query, where=simplify(And(*rest, Or(*known))))
    return Answer(index.search(relaxed), relaxed, unknown, True, understood)


# How many documents of each ranking are blended (more when a page asks further): the answer's total is the number of
# documents in either list, so a description always answers with up to this many pictures, the closest first.
POOL = 100


def _blend(index: Index, vectors: PictureVectors, query: Query, concepts: list[Concept], rest: list[Expr],
           keywords: Answer, describer: TextImageEmbedder) -> Answer:
    """The keyword ranking's first POOL documents and the documents of the POOL pictures whose meaning vector is
    nearest the words' (those of them the query's other filters allow: the filters apply after the nearest are
    found), blended by reciprocal rank fusion (domain/fusion.py: ranks, because keyword scores and cosine
    similarities do not compare), then paged. Words the keywords did not understand are not left out: the
    description searches them. When the words cannot be embedded (the embedder throttled or down), the keyword
    answer stands."""
    text = " ".join(c.word for c in concepts)
    try:
        vector = describer.embed_text(text)
    except (TransientError, BadMedia) as e:
        log.warning("search by description unavailable, keywords only: %s", e)
        return keywords
    pool = min(max(POOL, query.offset + query.limit), MAX_WINDOW)
    closeness = dict(vectors.nearest(MEANING, describer.model, vector, pool))
    described: list[SearchDocument] = []
    if closeness:
        near = Query(where=simplify(And(*rest, ContentIn(tuple(closeness)))), statuses=query.statuses,
                     limit=min(MAX_WINDOW, pool * 4))  # copies of one picture: several documents a content
        described = sorted(index.search(near).hits,
                           key=lambda d: (-closeness.get(d.get("content_sha256") or "", -2.0), d.get("key", "")))
    by_keywords: dict[str, SearchDocument] = {}
    if keywords.result.total:
        ranked = replace(keywords.query, offset=0, limit=pool, facets=())
        by_keywords = {doc["id"]: doc for doc in index.search(ranked).hits}
    by_id = {**{doc["id"]: doc for doc in described}, **by_keywords}
    fused = reciprocal_rank_fusion(list(by_keywords), [doc["id"] for doc in described])
    hits = [by_id[doc_id] for doc_id, _ in fused[query.offset:query.offset + query.limit]]
    result = SearchResult(total=len(fused), hits=hits, facets=keywords.result.facets)
    return Answer(result, replace(keywords.query, offset=query.offset, limit=query.limit), (), False,
                  keywords.concepts or tuple(c.word for c in concepts), described=describer.model,
                  by_description=frozenset(doc["id"] for doc in described))


VOCABULARY = 2000  # labels and people looked at for a suggestion


def _words(expr: Expr) -> list[str]:
    """The names a query asks for: its concepts, labels, people and text words, each once (a concept's related
    labels are not what was asked)."""
    seen: dict[str, None] = {}
    inside = {id(p) for e in walk(expr) if isinstance(e, Concept) for p in e.options}
    for e in walk(expr):
        if isinstance(e, Concept):
            seen.setdefault(e.word, None)
        elif id(e) in inside:
            continue
        elif isinstance(e, LabelIs):
            seen.setdefault(e.name, None)
        elif isinstance(e, PersonIs) and e.name:
            seen.setdefault(e.name.lower(), None)
        elif isinstance(e, TextHas):
            seen.setdefault(e.text.lower(), None)
    return list(seen)


def suggestions(index: Index, query: Query) -> dict[str, list[str]]:
    """For a search that found nothing: the known labels and people closest to what it asked for."""
    words = _words(query.where)
    if not words:
        return {"labels": [], "people": []}
    vocabulary = index.search(Query(limit=0, facets=("labels", "people"), facet_size=VOCABULARY)).facets
    labels, people = list(vocabulary.get("labels") or {}), list(vocabulary.get("people") or {})
    # a person is close when the whole name or one word of it is
    by_word: dict[str, list[str]] = {}
    for name in people:
        for token in {name.lower(), *text_tokens(name)}:
            by_word.setdefault(token, []).append(name)
    found_labels: dict[str, None] = {}
    found_people: dict[str, None] = {}
    for word in words:
        for close in difflib.get_close_matches(word, labels, n=3, cutoff=0.75):
            found_labels.setdefault(close, None)
        for close in difflib.get_close_matches(word, list(by_word), n=3, cutoff=0.75):
            for name in by_word[close]:
                found_people.setdefault(name, None)
    return {"labels": list(found_labels)[:5], "people": list(found_people)[:5]}


def _bare_words(expr: Expr) -> list[str]:
    """The plain words of a query (`dog`, `obama`): its free-text concepts, as written."""
    found = []
    for e in walk(expr):
        if isinstance(e, Concept):
            text = next((p.text for p in e.options if isinstance(p, TextHas)), None)
            if text:
                found.append(text)
    return found


def _face_has(face: FaceDoc, attr: str, value: Any) -> bool:
    if attr == "gender":
        return (face.get("gender") or "").lower() == value
    low, high = value
    return (high is None or (face.get("age_low") is not None and face["age_low"] <= high)) and (
        low is None or (face.get("age_high") is not None and face["age_high"] >= low))


def matched_by(doc: SearchDocument, word: str) -> list[str]:
    """Where a document answers to a plain word: label, person, face, place, camera, kind, text, file name (in that
    order)."""
    reasons = []
    forms = singulars(word)
    if any(form in (label.get("names") or []) for label in doc.get("labels") or [] for form in forms):
        reasons.append("label")
    if any(person_name_matches(word, p) for p in doc.get("people") or []):
        reasons.append("person")
    for form in forms:
        if form in PEOPLE_WORDS:
            if all(any(_face_has(f, attr, value) for f in doc.get("faces") or []) for attr, value in PEOPLE_WORDS[form]):
                reasons.append("face")
            break
    facts = document_facts(doc)
    folded = fold(word)
    for field in ("place", "camera", "kind"):
        if folded in facts.get(field, []) or (field == "kind" and free_text.KIND_WORDS.get(folded) in facts.get(field, [])):
            reasons.append(field)
    tokens = text_tokens(word)
    if tokens and set(tokens) <= set(text_tokens(doc.get("text"))):
        reasons.append("text")
    if tokens and set(tokens) <= set(text_tokens(doc.get("key"))):
        reasons.append("file name")
    return reasons


def explain_hits(query: Query, hits: list[SearchDocument]) -> dict[str, list[str]]:
    """For each hit (by id), where it matched the query's plain words; empty when the query has none."""
    words = _bare_words(query.where)
    if not words:
        return {}
    out = {}
    for doc in hits:
        reasons: dict[str, None] = {}
        for word in words:
            for reason in matched_by(doc, word):
                reasons.setdefault(reason, None)
        out[doc["id"]] = list(reasons)
    return out

