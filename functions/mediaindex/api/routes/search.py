"""Search: the query syntax (or plain sentences) and the page's facet filters, ranked, with facets counted."""

from __future__ import annotations

from typing import Annotated, Any, Mapping

from fastapi import APIRouter, Query as Param

from mediaindex.api.errors import ApiError
from mediaindex.api.parts import Api
from mediaindex.api.routes.page import MAX_LIMIT
from mediaindex.domain.capabilities import unsupported
from mediaindex.domain.expressions import (
    FACETS, MAX_WINDOW, And, EmotionIs, Expr, FactIs, LabelIs, MediaTypeIs, PersonIs, simplify,
)
from mediaindex.domain.places import fold
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import emotion_name, media_type_name, parse_query
from mediaindex.domain.vocabulary import Status
from mediaindex.services import search as searching

router = APIRouter(tags=["search"])

EMOTIONS = ["happy", "sad", "angry", "confused", "disgusted", "surprised", "calm", "fear"]
SEARCH_HELP = (
    "Every filter narrows (AND). Free text is understood and ranked: `a dog on the beach`, `paris 2019`, "
    "`christmas`, `screenshots` (stop words left out, related labels, places, dates in words; `not_understood` "
    "names words no file answers to; `relaxed` says no file had every concept). The query syntax: "
    "`dog AND person:\"Ada Lovelace\"`, `label:dog>=90 OR label:cat`, `NOT emotion:happy`, "
    "`smile:true gender:female age:20..35`, `type:video`, `path:holidays/2024/`, `taken:2020..2021`, "
    "`text:\"happy birthday\"`, `place:paris`, `camera:iphone`, `kind:screenshot`, `-cat`."
)


def file_name(key: str) -> str:
    return key.rstrip("/").rsplit("/", 1)[-1] or key


def hit_summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a grid tile needs: small, so a page of 60 hits stays a few kilobytes."""
    labels = sorted(doc.get("labels") or [], key=lambda label: -(label.get("confidence") or 0))
    return {
        "id": doc["id"],
        "key": doc.get("key"),
        "name": file_name(doc.get("key") or ""),
        "status": doc.get("status"),
        "error": doc.get("error"),
        "media_type": doc.get("media_type"),
        "width": doc.get("width"),
        "height": doc.get("height"),
        "taken_at": doc.get("taken_at"),
        "place": (doc.get("place") or {}).get("label") if isinstance(doc.get("place"), dict) else None,
        "labels": [label.get("name") for label in labels[:6]],
        "people": doc.get("people") or [],
        "face_count": doc.get("face_count", len(doc.get("faces") or [])),
        "duration": (doc.get("video") or {}).get("duration"),
    }


def search_query(q: str | None = None, label: list[str] | None = None, person: list[str] | None = None,
                 emotion: list[str] | None = None, place: list[str] | None = None, type: str | None = None,
                 sort: str | None = None, failed: bool = False, offset: int = 0, limit: int = 60) -> Query:
    """The page's search: `q` in the query syntax, and the facets ticked (label=, person=, emotion=, place=,
    type=), each narrowing it; every facet counted. A person= is a facet's value: exactly that name, as the facet
    counted it."""
    if offset > MAX_WINDOW - limit:
        raise ApiError(400, f"offset must be between 0 and {MAX_WINDOW - limit}, not {offset}")
    parts: list[Expr] = [parse_query(q)] if q and q.strip() else []
    parts += [LabelIs(name) for name in label or () if name.strip()]
    parts += [PersonIs(name, names=(name.strip().lower(),)) for name in person or () if name.strip()]
    parts += [EmotionIs(emotion_name(e)) for e in emotion or () if e.strip()]
    parts += [FactIs("place", fold(name)) for name in place or () if fold(name)]
    if type:
        parts.append(MediaTypeIs(media_type_name(type)))
    return Query(where=simplify(And(*parts)), sort=Sort.parse(sort or None), offset=offset, limit=limit,
                 facets=FACETS, statuses=(Status.INDEXED, Status.FAILED) if failed else (Status.INDEXED,))


@router.get("/api/search", summary="Search with the query syntax and facet filters", description=SEARCH_HELP)
def search(
    api: Api,
    q: Annotated[str | None, Param(description="A query in the search syntax, or plain words",
                                   examples=["dog OR cat", "a dog on the beach"])] = None,
    label: Annotated[list[str] | None, Param(description="Has this label (repeatable)")] = None,
    person: Annotated[list[str] | None, Param(description="Shows this person (repeatable)")] = None,
    emotion: Annotated[list[str] | None, Param(description="A face shows this emotion (repeatable)",
                                               json_schema_extra={"items": {"enum": EMOTIONS}})] = None,
    place: Annotated[list[str] | None, Param(description="Taken at this place (a name of its town, city, region "
                                                         "or country; repeatable)")] = None,
    type: Annotated[str | None, Param(description="image or video", json_schema_extra={"enum": ["image", "video"]})] = None,
    sort: Annotated[str | None, Param(description="relevance (the default: best match first; without search words, "
                                                  "newest taken first), date, taken_at, indexed_at or key; -field or "
                                                  "field:desc for descending")] = None,
    failed: Annotated[bool, Param(description="Include files that could not be analysed")] = False,
    offset: Annotated[int, Param(ge=0, le=MAX_WINDOW)] = 0,
    limit: Annotated[int, Param(ge=0, le=MAX_LIMIT)] = 60,
) -> dict[str, Any]:
    query = search_query(q, label, person, emotion, place, type, sort, failed, offset, limit)
    answer = searching.run_search(api.index, query)
    result, query = answer.result, answer.query
    facets = {name: [{"value": v, "count": c} for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
              for name, counts in result.facets.items()}
    reasons = searching.explain_hits(query, result.hits)
    hits = []
    for doc in result.hits:
        hit = hit_summary(doc)
        if doc["id"] in reasons:  # where a plain word matched: the page says "file name only" beside facets
            hit["matched"] = reasons[doc["id"]]
        hits.append(hit)
    body: dict[str, Any] = {"total": result.total, "offset": query.offset, "limit": query.limit, "hits": hits,
                            "facets": facets}
    if not result.total and query.where != Query().where:
        body["suggestions"] = searching.suggestions(api.index, query)  # the closest labels and people
    if answer.not_understood:
        body["not_understood"] = list(answer.not_understood)
    if answer.relaxed:
        body["relaxed"] = True
    warnings = unsupported(query, api.capabilities)
    if warnings:
        body["warnings"] = warnings
    return body


@router.get("/api/stats", summary="Counts of the index: files by status and kind")
def stats(api: Api) -> dict[str, Any]:
    return api.index.stats()
