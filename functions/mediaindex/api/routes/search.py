"""Search: the query syntax (or plain sentences) and the page's facet filters, ranked, with facets counted."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from typing import Annotated, Any, Mapping

from fastapi import APIRouter, Query as Param

from mediaindex.api.errors import ApiError
from mediaindex.api.parts import Api
from mediaindex.api.routes.page import MAX_LIMIT
from mediaindex.domain.capabilities import unsupported
from mediaindex.domain.expressions import (
    FACETS, MAX_WINDOW, And, DateRange, EmotionIs, Expr, FactIs, LabelIs, MediaTypeIs, Not, PersonIs, simplify,
)
from mediaindex.domain.places import fold
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import emotion_name, media_type_name, parse_query
from mediaindex.domain.vocabulary import Status
from mediaindex.services import search as searching
from mediaindex.services.look_alikes import has_similar

router = APIRouter(tags=["search"])

EMOTIONS = ["happy", "sad", "angry", "confused", "disgusted", "surprised", "calm", "fear"]
SEARCH_HELP = (
    "Every filter narrows (AND). Free text is understood and ranked: `a dog on the beach`, `paris 2019`, "
    "`christmas`, `screenshots` (stop words left out, related labels, places, dates in words; `not_understood` "
    "names words no file answers to; `relaxed` says no file had every concept). The query syntax: "
    "`dog AND person:\"Ada Lovelace\"`, `label:dog>=90 OR label:cat`, `NOT emotion:happy`, "
    "`smile:true gender:female age:20..35`, `type:video`, `path:holidays/2024/`, `taken:2020..2021`, "
    "`text:\"happy birthday\"`, `similar:holidays/beach.jpg` (look-alikes of an indexed file, most alike first; 404 when it is not indexed or has no look vector), `place:paris`, `camera:iphone`, `kind:screenshot`, `-cat`."
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
        **({"similarity": doc.get("similarity")} if doc.get("similarity") is not None else {}),
        **({"copies": doc.get("copies")} if doc.get("copies") else {}),  # the same bytes under other paths
    }


FACET_SIZE = 40  # values counted per facet: the labels' parents take many of them (`useful_labels`)
KINDS = ["photo", "video", "screenshot", "selfie"]
TAKEN = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


def taken_range(taken: str) -> Expr:
    """`taken=`: a year (2024), a month (2024-07) or a day (2024-07-14) the file was taken in, or `none` for the
    files without a date taken."""
    text = taken.strip().lower()
    if text == "none":
        return Not(DateRange("taken_at"))
    m = TAKEN.match(text)
    if not m:
        raise ApiError(400, f"taken: a year, a month or a day (2024, 2024-07, 2024-07-14) or none, not {taken[:40]!r}")
    year, month, day = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    try:
        if day:
            since = date(year, month, day)
            before = since + timedelta(days=1)
        elif month:
            since = date(year, month, 1)
            before = date(year + (month == 12), month % 12 + 1, 1)
        else:
            since, before = date(year, 1, 1), date(year + 1, 1, 1)
    except ValueError:
        raise ApiError(400, f"taken: no such date {taken[:40]!r}") from None
    return DateRange("taken_at", since.isoformat(), before.isoformat())


def filters(q: str | None = None, label: list[str] | None = None, person: list[str] | None = None,
            emotion: list[str] | None = None, place: list[str] | None = None, type: str | None = None,
            kind: list[str] | None = None, taken: str | None = None) -> Expr:
    """What the page's search and facets ask for, as one expression: `q` in the query syntax, and each facet
    ticked narrowing it (label=, person=, emotion=, place=, type=, kind=, taken=). A person= is a facet's value:
    exactly that name, as the facet counted it."""
    parts: list[Expr] = [parse_query(q)] if q and q.strip() else []
    parts += [LabelIs(name) for name in label or () if name.strip()]
    parts += [PersonIs(name, names=(name.strip().lower(),)) for name in person or () if name.strip()]
    parts += [EmotionIs(emotion_name(e)) for e in emotion or () if e.strip()]
    parts += [FactIs("place", fold(name)) for name in place or () if fold(name)]
    for k in kind or ():
        if k.strip().lower() not in KINDS:
            raise ApiError(400, f"kind: one of {', '.join(KINDS)}, not {k[:40]!r}")
        parts.append(FactIs("kind", k.strip().lower()))
    if type:
        parts.append(MediaTypeIs(media_type_name(type)))
    if taken:
        parts.append(taken_range(taken))
    return simplify(And(*parts))


def search_query(q: str | None = None, label: list[str] | None = None, person: list[str] | None = None,
                 emotion: list[str] | None = None, place: list[str] | None = None, type: str | None = None,
                 sort: str | None = None, failed: bool = False, offset: int = 0, limit: int = 60,
                 kind: list[str] | None = None, taken: str | None = None) -> Query:
    """The page's search (see `filters`); every facet counted."""
    if offset > MAX_WINDOW - limit:
        raise ApiError(400, f"offset must be between 0 and {MAX_WINDOW - limit}, not {offset}")
    where = filters(q, label, person, emotion, place, type, kind, taken)
    return Query(where=where, sort=Sort.parse(sort or None), offset=offset, limit=limit,
                 facets=FACETS, statuses=(Status.INDEXED, Status.FAILED) if failed else (Status.INDEXED,))


def useful_labels(counts: list[dict[str, Any]], hits: list[dict[str, Any]], size: int = 12) -> list[dict[str, Any]]:
    """The labels facet as a person wants it: one concept once. The facet counts every label with its parents
    (a husky is also a dog, a canine, a carnivore, a mammal, a vertebrate, an animal); listed here are the names
    the analyzer gave (a term seen in these hits only as another label's parent is left out), and of those, none
    that a more specific listed label already covers (a parent with no more files than its child). Every term
    stays searchable."""
    own: set[str] = set()
    ancestors: dict[str, set[str]] = {}
    for doc in hits:
        for label in doc.get("labels") or []:
            name = str(label.get("name") or "").lower()
            own.add(name)
            ancestors.setdefault(name, set()).update(str(p).lower() for p in label.get("parents") or [])
    parent_only = set().union(*ancestors.values()) - own if ancestors else set()
    kept = [c for c in counts if c["value"].lower() not in parent_only]
    count_of = {c["value"].lower(): c["count"] for c in kept}
    covered = {parent for child, parents in ancestors.items() if child in count_of
               for parent in parents if parent in count_of and count_of[parent] <= count_of[child]}
    return [c for c in kept if c["value"].lower() not in covered][:size]


THINGS_SAMPLE = 100


def _sample(api: Any, query: Query, result: Any) -> list[dict[str, Any]]:
    """Files whose labels tell which facet terms are only parents of others: the page's hits, or (a page of few or
    none, as the timeline asks for) the first files of the search."""
    if len(result.hits) >= min(result.total, THINGS_SAMPLE // 2) or not facets_has_labels(result):
        return list(result.hits)
    return list(api.index.search(Query(where=query.where, limit=THINGS_SAMPLE, statuses=query.statuses)).hits)


def facets_has_labels(result: Any) -> bool:
    return bool(result.facets.get("labels"))


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
    kind: Annotated[list[str] | None, Param(description="Is this kind of file (repeatable)",
                                            json_schema_extra={"items": {"enum": KINDS}})] = None,
    taken: Annotated[str | None, Param(description="Taken in this year, month or day (2024, 2024-07, 2024-07-14); "
                                                   "none: files without a date taken", max_length=40)] = None,
) -> dict[str, Any]:
    query = replace(search_query(q, label, person, emotion, place, type, sort, failed, offset, limit, kind, taken),
                    facet_size=FACET_SIZE)
    similar = has_similar(query.where)  # look-alikes (their vectors), else the description's blend when asked
    answer = searching.run_search(api.index, query, describer=api.describer() if q and not similar else None,
                                  vectors=api.vectors if similar else (api.meaning_vectors() if q else None))
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
                            "facets": facets, "things": useful_labels(facets.get("labels", []), _sample(api, query, result))}
    if not result.total and query.where != Query().where:
        body["suggestions"] = searching.suggestions(api.index, query)  # the closest labels and people
    if answer.not_understood:
        body["not_understood"] = list(answer.not_understood)
    if answer.relaxed:
        body["relaxed"] = True
    if answer.described:
        body["described"] = answer.described
    warnings = unsupported(query, api.capabilities)
    if warnings:
        body["warnings"] = warnings
    return body


@router.get("/api/stats", summary="Counts of the index: files by status and kind")
def stats(api: Api) -> dict[str, Any]:
    return api.index.stats()
