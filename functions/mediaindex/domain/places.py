"""Where a photo or video was taken, in words: the place its GPS position falls in (docs/places.md).

A `Place` is what reverse geocoding found (adapters/places/): the town or city, the large city whose area it lies in
(`metro`: a suburb of Paris is also found by "paris"), the region and the country. `names()` are the words a
search matches it by: lower-case, without accents, with the country's usual aliases ("usa", "uk") and the English
and native forms of the city's name the geocoder knew ("cologne" and "koln"). The rules that decide which town a
position belongs to are here too, so that every geocoder applies the same ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mediaindex.domain.expressions import text_tokens

if TYPE_CHECKING:
    from mediaindex.domain.document import PlaceDoc


def fold(name: str | None) -> str:
    """A name as search sees it: accents removed (NFKD, combining marks dropped), case-folded, its words (runs of
    letters and digits, as `mediaindex.domain.expressions.text_tokens` finds them) joined by single spaces.
    "Zürich" -> "zurich", "Boulogne-Billancourt" -> "boulogne billancourt", "St. John's" -> "st john s"."""
    return " ".join(text_tokens(name))


# The names people use for a country besides its common English name (which the geocoder gives): ISO codes are
# added separately, lower-case. Kept short: usual English aliases and a few native names.
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("usa", "united states of america", "america", "the states"),
    "GB": ("uk", "great britain", "britain"),
    "AE": ("uae", "emirates"),
    "NL": ("holland", "nederland", "the netherlands"),
    "DE": ("deutschland",),
    "AT": ("osterreich",),
    "CH": ("schweiz", "suisse", "svizzera"),
    "ES": ("espana",),
    "IT": ("italia",),
    "BE": ("belgie", "belgique"),
    "DK": ("danmark",),
    "SE": ("sverige",),
    "NO": ("norge",),
    "FI": ("suomi",),
    "PL": ("polska",),
    "CZ": ("czechia", "czech republic", "cesko"),
    "GR": ("hellas", "ellada"),
    "HR": ("hrvatska",),
    "HU": ("magyarorszag",),
    "JP": ("nippon", "nihon"),
    "KR": ("korea", "republic of korea"),
    "KP": ("north korea",),
    "CN": ("prc", "people s republic of china"),
    "TW": ("republic of china",),
    "RU": ("russian federation", "rossiya"),
    "BR": ("brasil",),
    "CI": ("ivory coast", "cote d ivoire"),
    "CV": ("cabo verde",),
    "MK": ("macedonia", "north macedonia"),
    "SZ": ("eswatini", "swaziland"),
    "TR": ("turkiye",),
    "VA": ("vatican", "vatican city", "holy see"),
    "VN": ("viet nam",),
    "MM": ("burma",),
    "CD": ("drc", "dr congo", "congo kinshasa"),
    "CG": ("congo brazzaville",),
    "PS": ("palestine",),
    "IE": ("eire",),
}


@dataclass(frozen=True)
class Place:
    """Where a position lies. Each part may be missing: at sea, only the country or nothing at all is known
    (and then there is no Place); in the countryside, the region and country without a town."""

    city: str | None = None
    region: str | None = None
    country: str | None = None
    country_code: str | None = None
    # the large city whose area the position lies in, when it is not `city` itself ("Paris" for Boulogne-Billancourt)
    metro: str | None = None
    # other names it is found by, as the geocoder knew them: the English and native forms of the city's and the
    # metro's names ("Cologne" for Köln), and a still larger city around the metro (New York City for Manhattan)
    aliases: tuple[str, ...] = field(default=())

    def names(self) -> list[str]:
        """Every name a search may find this place by, folded (see `fold`), without duplicates, most specific
        first: city, metro, their other names, region, country, ISO code, country aliases. A name of several words
        stays one string ("new york", "united states")."""
        code = (self.country_code or "").upper()
        found = [self.city, self.metro, *self.aliases, self.region, self.country, code.lower(),
                 *COUNTRY_ALIASES.get(code, ())]
        return list(dict.fromkeys(n for n in (fold(name) for name in found) if n))

    def label(self) -> str:
        """For display: "Boulogne-Billancourt, Paris, France"; a part that repeats another (the region "Tokyo"
        of the city Tokyo) is left out, the region too when there is a city."""
        parts = [self.city, self.metro] if self.city else [self.metro, self.region]
        parts.append(self.country)
        shown: list[str] = []
        seen: set[str] = set()
        for part in parts:
            key = fold(part)
            if part and key and key not in seen:
                seen.add(key)
                shown.append(part)
        return ", ".join(shown)

    def to_doc(self) -> PlaceDoc:
        """The document's `place` field."""
        return {
            "city": self.city, "region": self.region, "country": self.country, "country_code": self.country_code,
            "metro": self.metro, "names": self.names(), "label": self.label(),
        }

    @classmethod
    def from_doc(cls, doc: PlaceDoc | None) -> "Place | None":
        """The Place of a document's `place` field (its names beyond the parts are not kept: aliases are lost)."""
        if not isinstance(doc, dict):
            return None
        return cls(city=doc.get("city"), region=doc.get("region"), country=doc.get("country"),
                   country_code=doc.get("country_code"), metro=doc.get("metro"))


# ---- the position ---------------------------------------------------------------------------------------------------
def valid_position(lat: Any, lon: Any) -> tuple[float, float] | None:
    """(lat, lon) as floats when they can be a GPS fix, else None: missing, not numbers, NaN or infinite, out of
    range, or (0, 0) exactly - the "no fix" value cameras and phones write - are no position."""
    if isinstance(lat, bool) or isinstance(lon, bool):
        return None
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError, OverflowError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    if lat == 0.0 and lon == 0.0:
        return None
    return lat, lon


def position_of(location: Any) -> tuple[float, float] | None:
    """The position of a document's `location` ({"lat", "lon"}, as EXIF and video tags give it), or None."""
    if not isinstance(location, dict):
        return None
    return valid_position(location.get("lat"), location.get("lon"))


# ---- the rule: how far from its centre a town still names a position ----------------------------------------------
EARTH_RADIUS_KM = 6371.0088
# A town of 1,000 people names positions within 2.5 km of its centre; the reach grows with the cube root of the
# population (a town of 100,000: 11.6 km; a city of a million: 25 km; ten million: 54 km), within these bounds.
REACH_AT_1000_KM = 2.5
MIN_REACH_KM = 2.0  # places with no population figure (city districts, hamlets)
MAX_REACH_KM = 60.0
# Which town names a position: the covering place nearest for its size (distance over reach), a big city's reach
# counted at most this far, so that beyond its core its suburbs and neighbour towns (Jersey City beside New York,
# Boulogne-Billancourt beside Paris) name their own streets; the big city is then their metro.
CORE_REACH_KM = 15.0
# A locality in the reach of a city of at least this many people is also found by that city's name (`metro`).
METRO_MIN_POPULATION = 500_000
# No town in reach: the region and country of the nearest place within this distance...
REGION_REACH_KM = 30.0
# ...or else the country alone, when the places nearest within this distance all lie in one country. Beyond it
# (the open sea, a desert, the poles) the position has no place at all, never a far town.
COUNTRY_REACH_KM = 150.0
COUNTRY_NEIGHBOURS = 5


def reach_km(population: int | None) -> float:
    """How far from its centre a place of this population still names a position."""
    if not population or population <= 0:
        return MIN_REACH_KM
    return min(MAX_REACH_KM, max(MIN_REACH_KM, REACH_AT_1000_KM * math.pow(population / 1000.0, 1.0 / 3.0)))


def town_score(distance: float, population: int | None) -> float:
    """How well a place names a position it covers: lower is better (its distance over its reach, a big city's
    reach counted up to CORE_REACH_KM)."""
    return distance / min(reach_km(population), CORE_REACH_KM)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
