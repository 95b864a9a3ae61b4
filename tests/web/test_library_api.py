"""The library's routes (timeline, places, map, country outlines) and the search's kind=, taken= and `things`, on a
phone's library indexed by the real pipeline (conftest.phone_library): 17 photos with dates taken, 14 of them with
GPS positions in Paris, Lyon, Tokyo, Kyoto and New York, a screenshot and the video."""

from __future__ import annotations

import gzip
import json
from typing import Any, Iterator

import pytest

from mediaindex.api.routes.search import useful_labels
from mediaindex.entrypoints.cli.serve import build_local_api
from tests.web.helpers import RunningServer, get


@pytest.fixture(scope="module")
def server(phone_library) -> Iterator[Any]:
    running = RunningServer(build_local_api(phone_library.settings, index=phone_library.index, writes=False))
    yield running
    running.close()


def test_the_timeline_counts_each_month_newest_first(server):
    body = get(server, "/api/timeline").json()
    assert body["total"] == 19 and body["undated"] == 0
    assert body["months"] == [{"month": "2026-12", "count": 1}, {"month": "2025-06", "count": 7},
                              {"month": "2025-03", "count": 4}, {"month": "2024-12", "count": 3},
                              {"month": "2024-08", "count": 2}, {"month": "2023-07", "count": 2}]
    assert body["kinds"] == {"photo": 18, "video": 1, "screenshot": 1}
    paris = get(server, "/api/timeline?place=paris").json()
    assert paris["months"] == [{"month": "2025-06", "count": 3}, {"month": "2023-07", "count": 1}]


def test_search_by_month_and_kind(server):
    june = get(server, "/api/search?taken=2025-06&sort=-taken_at&limit=200").json()
    assert june["total"] == 7
    taken = [h["taken_at"] for h in june["hits"]]
    assert taken == sorted(taken, reverse=True) and all(t.startswith("2025-06") for t in taken)
    assert get(server, "/api/search?taken=2025-06-14").json()["total"] == 3
    assert get(server, "/api/search?taken=2024").json()["total"] == 5
    assert get(server, "/api/search?taken=none").json()["total"] == 0
    shots = get(server, "/api/search?kind=screenshot").json()
    assert [h["name"] for h in shots["hits"]] == ["Screenshot 2025-06-03 at 10.00.00.png"]
    for bad in ("taken=2025-13", "taken=june", "kind=panorama"):
        reply = get(server, "/api/search?" + bad)
        assert reply.status == 400 and reply.json()["error"].startswith(bad.split("=")[0]), bad


def test_things_list_each_concept_once(server):
    body = get(server, "/api/search?limit=0").json()
    counted = {v["value"] for v in body["facets"]["labels"]}
    things = [v["value"] for v in body["things"]]
    assert {"animal", "mammal", "vertebrate", "canine"} <= counted  # the facet counts the parents, as before
    assert "dog" in things and not {"animal", "mammal", "vertebrate", "canine", "carnivore"} & set(things)
    assert "bird" not in things and "black swan" in things  # a parent with no more files than its child
    assert get(server, "/api/search?q=mammal").json()["total"] >= 5  # still searchable


def test_useful_labels_rules():
    counts = [{"value": "animal", "count": 3}, {"value": "dog", "count": 2}, {"value": "husky", "count": 1},
              {"value": "bird", "count": 1}, {"value": "swan", "count": 1}, {"value": "unseen", "count": 1}]
    hits = [{"labels": [{"name": "Dog", "parents": ["Canine", "Animal"]}, {"name": "Husky", "parents": ["Dog", "Animal"]}]},
            {"labels": [{"name": "Swan", "parents": ["Bird", "Animal"]}]}]
    assert [c["value"] for c in useful_labels(counts, hits)] == ["dog", "husky", "swan", "unseen"]
    assert useful_labels(counts, [], size=2) == counts[:2]  # nothing to tell parents by: the counts as they are


def test_places_are_countries_then_cities(server):
    body = get(server, "/api/places").json()
    summary = [(c["name"], c["code"], c["count"], [(p["name"], p["count"]) for p in c["places"]])
               for c in body["countries"]]
    assert summary == [("France", "FR", 7, [("Paris", 4), ("Lyon", 3)]),
                       ("Japan", "JP", 4, [("Tokyo", 3), ("Kyoto", 1)]),
                       ("United States", "US", 3, [("New York City", 3)])]
    covers = [p["cover"] for c in body["countries"] for p in c["places"]]
    assert all(covers) and all(get(server, f"/api/documents/{c}/thumbnail").status == 200 for c in covers)
    husky = get(server, f"/api/documents/{body['countries'][0]['places'][0]['cover']}").json()
    assert husky["name"] == "n02110185_Siberian_husky.jpg"  # the newest photo taken in Paris
    assert get(server, "/api/places?kind=video").json() == {"countries": []}


def test_the_map_has_every_photo_with_a_place(server):
    body = get(server, "/api/map").json()
    assert body["total"] == body["shown"] == 14
    tokyo = [p for p in body["points"] if p["place"] and "Tokyo" in p["place"]]
    assert len(tokyo) == 3 and all(abs(p["lat"] - 35.6762) < 1e-3 and abs(p["lon"] - 139.6503) < 1e-3 for p in tokyo)
    assert {"id", "name", "lat", "lon", "taken_at", "media_type", "place"} == set(body["points"][0])
    assert get(server, "/api/map?place=kyoto").json()["shown"] == 1
    assert get(server, "/api/map?limit=0").status == 400


def test_country_outlines_are_served_simplified_and_gzipped(server):
    plain = get(server, "/api/map/countries")
    assert plain.status == 200 and plain.headers["content-type"] == "application/geo+json"
    world = json.loads(plain.body)
    assert world["type"] == "FeatureCollection" and len(world["features"]) == 209
    assert "Natural Earth" in world["attribution"]
    names = {f["properties"]["name"] for f in world["features"]}
    assert {"France", "Japan", "United States", "Brazil", "Australia", "Norway"} <= names
    assert {f["properties"]["iso"] for f in world["features"]} >= {"FR", "JP", "US", "BR", "AU", "NO"}
    for feature in world["features"]:
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for rings in polygons:
            for ring in rings:
                assert len(ring) >= 4 and ring[0] == ring[-1]
                assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring)
    assert len(plain.body) < 600_000
    zipped = get(server, "/api/map/countries", Accept_Encoding="gzip")
    assert zipped.headers["content-encoding"] == "gzip" and gzip.decompress(zipped.body) == plain.body
    assert len(zipped.body) < 200_000
    assert "max-age" in plain.headers["cache-control"]
