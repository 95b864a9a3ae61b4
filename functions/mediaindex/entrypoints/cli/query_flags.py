"""The search flags as query terms: `mediaindex search [QUERY] --label L --person P --min-confidence N --emotion E
--text T --type TYPE --path PREFIX --similar FILE`. Every flag narrows (AND); --min-confidence applies to every label without its
own threshold."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from mediaindex.domain.expressions import (
    FACETS, And, EmotionIs, Expr, KeyPrefix, LabelIs, MediaTypeIs, PersonIs, SimilarTo, TextHas, check_confidence, simplify,
    text_tokens, transform,
)
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import ParseError, emotion_name, media_type_name, parse_query
from mediaindex.domain.vocabulary import Status


def query_from_flags(
    query: str | None = None,
    labels: Iterable[str] = (),
    people: Iterable[str] = (),
    min_confidence: float | None = None,
    emotions: Iterable[str] = (),
    text: str | None = None,
    media_type: str | None = None,
    prefix: str | None = None,
    limit: int = 20,
    offset: int = 0,
    sort: str | Sort | None = None,
    include_failed: bool = False,
    facets: bool | Iterable[str] = False,
    similar: str | None = None,
) -> Query:
    """The query the flags ask for."""
    where = flag_terms(query, labels, people, emotions, text, media_type, prefix, similar)
    if min_confidence is not None:
        check_confidence(min_confidence)
        where = transform(
            where, lambda e: replace(e, min_confidence=min_confidence)
            if isinstance(e, LabelIs) and e.min_confidence is None else e,
        )
    return Query(
        where=where,
        sort=sort if isinstance(sort, Sort) else Sort.parse(sort),
        offset=offset,
        limit=limit,
        facets=_facet_names(facets),
        statuses=(Status.INDEXED, Status.FAILED) if include_failed else (Status.INDEXED,),
    )


def flag_terms(
    query: str | None, labels: Iterable[str], people: Iterable[str], emotions: Iterable[str], text: str | None,
    media_type: str | None, prefix: str | None, similar: str | None = None,
) -> Expr:
    """The AND of the query text and one term per flag."""
    parts: list[Expr] = []
    if query and query.strip():
        parts.append(parse_query(query))
    parts += [LabelIs(name) for name in labels]
    parts += [PersonIs(name, prefix=True) for name in people]  # any word of the name, or its start, as typed
    parts += [EmotionIs(emotion_name(e)) for e in emotions]
    if text:
        if not text_tokens(text):
            raise ParseError(f"--text {text!r} has no words to search for", text, 0)
        parts.append(TextHas(text))
    if media_type:
        parts.append(MediaTypeIs(media_type_name(media_type)))
    if prefix:
        parts.append(KeyPrefix(prefix))
    if similar is not None:
        if not similar.strip():
            raise ParseError("--similar needs a file, e.g. --similar holidays/beach.jpg", similar, 0)
        parts.append(SimilarTo(similar.strip()))
    return simplify(And(*parts))


def _facet_names(facets: bool | Iterable[str] | None) -> tuple[str, ...]:
    """--facets: all of them; or the facets named."""
    if facets is True:
        return FACETS
    if facets is False or facets is None:
        return ()
    return tuple(facets)
