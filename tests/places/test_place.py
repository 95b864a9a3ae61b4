"""The Place of the domain: its search names, label and document field, and what counts as a position."""

from __future__ import annotations

import math

import pytest

from mediaindex.domain.places import (
    CORE_REACH_KM, MAX_REACH_KM, Place, distance_km, fold, position_of, reach_km, town_score, valid_position,
)


def test_fold_drops_accents_and_case_and_keeps_words():
    assert fold("Zürich") == "zurich"
    assert fold("Reykjavík") == "reykjavik"
    assert fold("Boulogne-Billancourt") == "boulogne billancourt"
    assert fold("  New   York City ") == "new york city"
    assert fold("Île-de-France") == "ile de france"
    assert fold(None) == "" and fold("") == ""


def test_names_are_folded_with_metro_region_country_code_and_aliases():
    place = Place(city="Boulogne-Billancourt", region="Île-de-France", country="France", country_code="FR",
                  metro="Paris", aliases=("Lutèce",))
    assert place.names() == ["boulogne billancourt", "paris", "lutece", "ile de france", "france", "fr"]


def test_country_aliases():
    us = Place(city="Brooklyn", region="New York", country="United States", country_code="US",
               metro="New York City").names()
    assert {"usa", "us", "united states", "america", "new york", "new york city", "brooklyn"} <= set(us)
    uk = Place(city="London", region="England", country="United Kingdom", country_code="GB").names()
    assert {"uk", "gb", "great britain", "britain", "united kingdom", "england", "london"} <= set(uk)


def test_names_have_no_duplicates_and_no_empty_names():
    place = Place(city="Tokyo", region="Tokyo", country="Japan", country_code="JP", aliases=("Tōkyō", ""))
    assert place.names() == ["tokyo", "japan", "jp", "nippon", "nihon"]


def test_label_leaves_out_repeats_and_the_region_beside_a_city():
    assert Place(city="Boulogne-Billancourt", region="Île-de-France", country="France", country_code="FR",
                 metro="Paris").label() == "Boulogne-Billancourt, Paris, France"
    assert Place(city="Tokyo", region="Tokyo", country="Japan", country_code="JP").label() == "Tokyo, Japan"
    assert Place(region="Bern", country="Switzerland", country_code="CH").label() == "Bern, Switzerland"
    assert Place(country="Portugal", country_code="PT").label() == "Portugal"


def test_document_field_and_back():
    place = Place(city="Köln", region="North Rhine-Westphalia", country="Germany", country_code="DE",
                  aliases=("Cologne",))
    doc = place.to_doc()
    assert doc == {
        "city": "Köln", "region": "North Rhine-Westphalia", "country": "Germany", "country_code": "DE", "metro": None,
        "names": ["koln", "cologne", "north rhine westphalia", "germany", "de", "deutschland"],
        "label": "Köln, Germany",
    }
    assert Place.from_doc(doc) == Place(city="Köln", region="North Rhine-Westphalia", country="Germany",
                                        country_code="DE")
    assert Place.from_doc(None) is None and Place.from_doc("Köln") is None


@pytest.mark.parametrize("lat, lon", [
    (None, None), (None, 2.0), (0, 0), (0.0, 0.0), (math.nan, 2.0), (48.0, math.inf), (91.0, 2.0), (-90.5, 2.0),
    (48.0, 180.5), ("north", 2.0), ([], {}), (True, False),
])
def test_what_is_no_position(lat, lon):
    assert valid_position(lat, lon) is None


def test_positions():
    assert valid_position(48.85, 2.35) == (48.85, 2.35)
    assert valid_position("48.85", 2) == (48.85, 2.0)
    assert valid_position(0.0, 10.0) == (0.0, 10.0)  # on the equator is a position; only (0, 0) is "no fix"
    assert valid_position(-90, 180) == (-90.0, 180.0)
    assert position_of({"lat": 64.1, "lon": -21.9}) == (64.1, -21.9)
    assert position_of({"lat": 0, "lon": 0}) is None
    assert position_of(None) is None and position_of("64.1,-21.9") is None and position_of({"lat": 1}) is None


def test_reach_grows_with_population_within_bounds():
    assert reach_km(None) == reach_km(0) == 2.0
    assert reach_km(1_000) == pytest.approx(2.5)
    assert 11 < reach_km(100_000) < 12
    assert reach_km(1_000_000) == pytest.approx(25.0)
    assert reach_km(10**9) == MAX_REACH_KM
    # a big city's reach counts only up to its core when choosing the town
    assert town_score(7.5, 8_000_000) == pytest.approx(7.5 / CORE_REACH_KM)
    assert town_score(1.0, 1_000) == pytest.approx(0.4)


def test_distance():
    assert distance_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343.5, abs=1.0)  # Paris - London
    assert distance_km(10, 179.9, 10, -179.9) == pytest.approx(21.9, abs=0.2)  # across the date line
