"""How well search answers what a new user types: words, sentences, places and times, on the real local models.

    python bench/bench_search_quality.py [--quick] [--workers N] [--today YYYY-MM-DD] [--json FILE]

Not a timing: the figures are how right the answers are.

Part A, words and sentences. The 40 labelled photos (../shared/data/images, one ImageNet class each) are re-encoded
(JPEG quality 90) under neutral names (photo_001.jpg..., in a shuffled order), so neither a file name nor identical
bytes can answer; `mediaindex index` indexes them with the local analyzer (the default features) into a fresh
MEDIAINDEX_HOME. Each query has the photos that answer it, by class (WORDS, SENTENCES below). Per query and averaged
for words and for sentences apart:
- precision@10: relevant photos among the first 10 hits, over 10 (at most 0.1 x the relevant photos: 1-4 here);
- R-precision: relevant photos among the first R hits, over R = the number of relevant photos;
- success@1: the first hit is relevant; MRR: 1 / the rank of the first relevant hit (0 when none);
- queries answered with nothing.
A sentence about something no photo shows (NEGATIVES) is scored apart: the hits it returns anyway.

Part B, places and times. Copies of the same photos (JPEG quality 85) with an EXIF GPS position and
DateTimeOriginal, at 50 places on six continents (several photos in Paris, Munich, Rome, San Francisco, Tokyo; a
suburb of Paris; Brooklyn) and 5 at sea, each on a chosen date from 2018 to 2026, indexed in another fresh home.
Place queries (cities in English and native forms, countries), time queries (years, months, seasons, Christmas,
"last year", "last summer" from --today) and a few of both: precision (relevant hits / hits; 0 for no hits) and
recall (relevant hits / relevant photos) of each, averaged per group. The truth is where and when the script put
each photo. Photos at sea must get no city and be found by no place.

Runs against an older checkout too (PYTHONPATH=/path/to/old/functions): without services.search.run_search the
query goes to index.search as it is; without parse_query's `today` argument, the parser's own clock is used.
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):  # an explicit PYTHONPATH (an older checkout) wins
    sys.path.insert(0, str(ROOT / "functions"))
DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data"))

# --- Part A: the truth -----------------------------------------------------------------------------------------
# A photo answers a word when its class is what the word names or a kind of it in WordNet (its hyponym): "dog" is
# Canis familiaris, so the otterhound, Tibetan terrier, malinois and Siberian husky, not the African hunting dog
# (Lycaon pictus, a wild canine); "goat" takes the ibex (a wild goat), "truck" the moving van (a van, a truck),
# "vehicle" the golf cart, moving van, bobsled (a sled) and lifeboat (a boat, a craft). "lake" is the lakeside (the
# shore of a lake); "coffee" is the espresso maker, the one photo with coffee in it (two full cups); "crab" takes
# the hermit crab, whose name says crab though WordNet files it under decapod crustaceans, not crabs. A sentence
# answers to the photos that show its subject as the sentence says (looked at: the husky lies in the snow, the
# malinois on grass); the rest of a sentence never widens it to other classes.
DOGS = {"otterhound", "Tibetan_terrier", "malinois", "Siberian_husky"}
ANIMALS = DOGS | {"tench", "European_fire_salamander", "American_alligator", "black_widow", "black_swan",
                  "hermit_crab", "sea_lion", "African_hunting_dog", "tiger_beetle", "sulphur_butterfly", "ibex",
                  "colobus"}

WORDS: dict[str, set[str]] = {
    "lake": {"lakeside"}, "dog": DOGS, "dogs": DOGS, "fish": {"tench"}, "bird": {"black_swan"},
    "monkey": {"colobus"}, "goat": {"ibex"}, "spider": {"black_widow"}, "boat": {"lifeboat"},
    "coffee": {"espresso_maker"}, "soup": {"consomme"}, "truck": {"moving_van"}, "butterfly": {"sulphur_butterfly"},
    "beetle": {"tiger_beetle"}, "insect": {"tiger_beetle", "sulphur_butterfly"}, "crab": {"hermit_crab"},
    "salamander": {"European_fire_salamander"}, "alligator": {"American_alligator"}, "barn": {"barn"},
    "trombone": {"trombone"}, "quilt": {"quilt"}, "animal": ANIMALS,
    "vehicle": {"golfcart", "moving_van", "bobsled", "lifeboat"},
    "golf cart": {"golfcart"}, "water tower": {"water_tower"}, "stone wall": {"stone_wall"},
    "paper towel": {"paper_towel"}, "moving van": {"moving_van"}, "sea lion": {"sea_lion"},
    "hermit crab": {"hermit_crab"}, "black swan": {"black_swan"}, "espresso machine": {"espresso_maker"},
    "teddy bear": {"teddy"},
}
SENTENCES: dict[str, set[str]] = {
    "a dog in the snow": {"Siberian_husky"},
    "someone playing the trombone": {"trombone"},
    "a boat on the water": {"lifeboat"},
    "a soup in a bowl": {"consomme"},
    "a truck on the road": {"moving_van"},
    "a teddy bear": {"teddy"},
    "an orange on the table": {"orange"},
    "a graduation gown": {"academic_gown"},
    "pictures of my dog": DOGS,
    "an alligator in the water": {"American_alligator"},
    "a dog lying on the grass": {"malinois"},
    "a butterfly on a yellow flower": {"sulphur_butterfly"},
    "a monkey in a tree": {"colobus"},
    "a goat on the rocks": {"ibex"},
    "a cup of coffee": {"espresso_maker"},
    "a black swan standing in the sun": {"black_swan"},
    "a spider on the wall": {"black_widow"},
    "an old barn": {"barn"},
    "a sea lion on the beach": {"sea_lion"},
    "a golf cart under the trees": {"golfcart"},
    # typed as people type: a question mark, a comma, a possessive
    "where is my dog?": DOGS,
    "a boat, on the water": {"lifeboat"},
    "my dog's favourite spot": DOGS,
}
# about something none of the photos shows: the best answer is none (an alligator is a crocodilian, not a lizard)
NEGATIVES = ["a lizard by the water", "a cat on the sofa", "a horse running in a field"]

QUICK_PHOTOS = ["Siberian_husky", "malinois", "lifeboat", "consomme", "orange", "lakeside", "black_swan", "trombone"]
QUICK_QUERIES = ["dog", "boat", "soup", "a dog in the snow", "an orange on the table", "someone playing the trombone"]

# --- Part B: where and when each copy was taken ----------------------------------------------------------------
# (where, latitude, longitude, the names that must find it, date, photo class or None for the next in turn)
# A place's names: its city, the big city it belongs to (Boulogne-Billancourt is Paris, Brooklyn is New York), the
# city's English and native forms, and its country. At sea: no name at all.
SEA = "at sea"
PLACES: list[tuple[str, float, float, set[str], str, str | None]] = [
    ("Paris, Louvre", 48.8606, 2.3376, {"paris", "france"}, "2019-06-15", None),
    ("Paris, Notre-Dame", 48.8530, 2.3499, {"paris", "france"}, "2019-12-25", None),
    ("Paris, Montmartre", 48.8867, 2.3431, {"paris", "france"}, "2022-04-10", None),
    ("Boulogne-Billancourt", 48.8397, 2.2399, {"paris", "boulogne", "boulogne-billancourt", "france"}, "2019-12-05",
     None),
    ("Munich, Marienplatz", 48.1374, 11.5755, {"munich", "munchen", "germany"}, "2018-10-01", None),
    ("Munich, Englischer Garten", 48.1642, 11.6056, {"munich", "munchen", "germany"}, "2025-12-25", None),
    ("Cologne", 50.9384, 6.9599, {"cologne", "koln", "germany"}, "2020-07-20", None),
    ("Geneva", 46.2044, 6.1432, {"geneva", "geneve", "switzerland"}, "2021-02-14", None),
    ("Zurich", 47.3769, 8.5417, {"zurich", "switzerland"}, "2023-08-05", None),
    ("Reykjavik", 64.1466, -21.9426, {"reykjavik", "iceland"}, "2019-12-31", None),
    ("Lisbon", 38.7223, -9.1393, {"lisbon", "lisboa", "portugal"}, "2020-08-28", None),
    ("Rome, Colosseum", 41.8902, 12.4922, {"rome", "roma", "italy"}, "2024-12-25", None),
    ("Rome, Trastevere", 41.8897, 12.4700, {"rome", "roma", "italy"}, "2026-07-12", None),
    ("Vienna", 48.2082, 16.3738, {"vienna", "wien", "austria"}, "2022-12-24", None),
    ("Prague", 50.0755, 14.4378, {"prague", "praha", "czechia"}, "2018-12-25", None),
    ("New York, Central Park", 40.7812, -73.9665, {"new york", "new york city", "usa", "united states"}, "2020-12-25",
     None),
    ("Brooklyn", 40.6782, -73.9442, {"new york", "new york city", "brooklyn", "usa", "united states"}, "2025-05-03",
     None),
    ("San Francisco, Mission", 37.7599, -122.4148, {"san francisco", "usa", "united states"}, "2026-08-20", None),
    ("San Francisco, Embarcadero", 37.7955, -122.3937, {"san francisco", "usa", "united states"}, "2019-03-03", None),
    ("Rio de Janeiro", -22.9068, -43.1729, {"rio de janeiro", "brazil"}, "2020-06-01", None),
    ("Buenos Aires", -34.6037, -58.3816, {"buenos aires", "argentina"}, "2021-01-15", None),
    ("Cape Town", -33.9249, 18.4241, {"cape town", "south africa"}, "2025-09-09", None),
    ("Nairobi", -1.2921, 36.8219, {"nairobi", "kenya"}, "2024-03-30", None),
    ("Cairo", 30.0444, 31.2357, {"cairo", "egypt"}, "2018-05-05", None),
    ("Tokyo, Shibuya", 35.6595, 139.7005, {"tokyo", "japan"}, "2023-07-07", "Siberian_husky"),
    ("Tokyo, Asakusa", 35.7148, 139.7967, {"tokyo", "japan"}, "2026-06-21", None),
    ("Tokyo, Shinjuku", 35.6938, 139.7034, {"tokyo", "japan"}, "2019-11-11", None),
    ("Kyoto", 35.0116, 135.7681, {"kyoto", "japan"}, "2020-04-04", "malinois"),
    ("Osaka", 34.6937, 135.5023, {"osaka", "japan"}, "2025-12-24", None),
    ("Sydney", -33.8688, 151.2093, {"sydney", "australia"}, "2019-12-20", None),
    ("Auckland", -36.8485, 174.7633, {"auckland", "new zealand"}, "2022-01-01", None),
    ("Mumbai", 19.0760, 72.8777, {"mumbai", "india"}, "2020-08-31", None),
    ("Beijing", 39.9042, 116.4074, {"beijing", "china"}, "2021-10-10", None),
    ("London", 51.5074, -0.1278, {"london", "uk"}, "2023-12-25", None),
    ("Madrid", 40.4168, -3.7038, {"madrid", "spain"}, "2024-07-15", None),
    ("Barcelona", 41.3851, 2.1734, {"barcelona", "spain"}, "2020-09-01", None),
    ("Amsterdam", 52.3676, 4.9041, {"amsterdam", "netherlands"}, "2026-03-03", None),
    ("Berlin", 52.5200, 13.4050, {"berlin", "germany"}, "2019-07-04", None),
    ("Stockholm", 59.3293, 18.0686, {"stockholm", "sweden"}, "2025-06-21", None),
    ("Istanbul", 41.0082, 28.9784, {"istanbul", "turkey"}, "2022-09-15", None),
    ("Mexico City", 19.4326, -99.1332, {"mexico city", "mexico"}, "2021-12-25", None),
    ("Chicago", 41.8781, -87.6298, {"chicago", "usa", "united states"}, "2018-01-20", None),
    ("Los Angeles", 34.0522, -118.2437, {"los angeles", "usa", "united states"}, "2026-10-31", None),
    ("Toronto", 43.6532, -79.3832, {"toronto", "canada"}, "2023-02-02", None),
    ("Seoul", 37.5665, 126.9780, {"seoul", "south korea"}, "2024-05-05", None),
    ("Singapore", 1.2903, 103.8520, {"singapore"}, "2019-08-08", None),
    ("Marseille", 43.2965, 5.3698, {"marseille", "france"}, "2020-07-14", None),
    ("Lyon", 45.7640, 4.8357, {"lyon", "france"}, "2025-12-31", None),
    ("Bangkok", 13.7563, 100.5018, {"bangkok", "thailand"}, "2021-04-13", None),
    ("Lima", -12.0464, -77.0428, {"lima", "peru"}, "2022-07-28", None),
    (SEA + ", mid-Atlantic", 40.0, -35.0, set(), "2019-12-10", None),
    (SEA + ", Atlantic, Sargasso Sea", 30.0, -45.0, set(), "2021-06-06", None),
    (SEA + ", mid-Pacific, equator", 0.0001, -140.0, set(), "2026-07-30", None),
    (SEA + ", North Pacific", 30.0, -150.0, set(), "2024-12-25", None),
    (SEA + ", Indian Ocean", -30.0, 80.0, set(), "2023-03-03", None),
]
PLACE_QUERIES = ["paris", "munich", "munchen", "cologne", "koln", "geneva", "zurich", "reykjavik", "lisbon", "rome",
                 "vienna", "prague", "new york", "brooklyn", "san francisco", "rio de janeiro", "buenos aires",
                 "cape town", "nairobi", "cairo", "tokyo", "kyoto", "osaka", "sydney", "auckland", "mumbai",
                 "beijing", "london", "berlin", "boulogne", "boulogne-billancourt", "new york city", "france", "japan",
                 "usa", "united states", "germany", "switzerland", "italy", "australia", "brazil", "spain"]
TIME_QUERIES = ["2019", "2018", "december 2019", "summer 2020", "christmas", "christmas 2019", "last year",
                "last summer", "this year"]
BOTH_QUERIES = ["paris 2019", "tokyo summer", "new york christmas", "dog japan", "germany christmas"]

QUICK_PLACES = ["Paris, Notre-Dame", "Boulogne-Billancourt", "Tokyo, Shibuya", "Munich, Englischer Garten",
                SEA + ", mid-Atlantic", SEA + ", mid-Pacific, equator"]
QUICK_PLACE_QUERIES = ["paris", "tokyo", "munich", "france"]
QUICK_TIME_QUERIES = ["2019", "christmas"]


def in_time(query: str, day: date, today: date) -> bool:
    """When a date answers a time query, by this benchmark's own reading of docs/dates.md."""
    summer = day.month in (6, 7, 8)
    last_summer = today.year if today >= date(today.year, 9, 1) else today.year - 1
    return {
        "2019": day.year == 2019, "2018": day.year == 2018,
        "december 2019": (day.year, day.month) == (2019, 12), "summer 2020": day.year == 2020 and summer,
        "christmas": (day.month, day.day) == (12, 25), "christmas 2019": day == date(2019, 12, 25),
        "last year": day.year == today.year - 1, "last summer": day.year == last_summer and summer,
        "this year": day.year == today.year and day <= today,
        "summer": summer,
    }[query]


def relevant_places(query: str, places: list[tuple], classes: list[str], today: date) -> set[int]:
    """The placements (by their number) a place, time or combined query is about."""
    words = query.split()
    out = set()
    for i, (_, _, _, names, day, _) in enumerate(places):
        day = date.fromisoformat(day)
        if query in names or query in TIME_QUERIES:
            if query in names or in_time(query, day, today):
                out.add(i)
            continue
        # a combination: a place (one or two words) before or after a time word or a class
        ok = False
        for n in range(1, len(words)):
            head, tail = " ".join(words[:n]), " ".join(words[n:])
            for place, rest in ((head, tail), (tail, head)):
                if place in names:
                    ok = ok or (classes[i] in DOGS if rest == "dog" else in_time(rest, day, today))
        if ok:
            out.add(i)
    return out


# --- making the photos -----------------------------------------------------------------------------------------
def sources(only: list[str] | None = None) -> dict[str, Path]:
    """class name -> the labelled photo."""
    found = {p.stem.split("_", 1)[1]: p for p in sorted((DATA / "images").iterdir()) if "_" in p.stem}
    return {c: found[c] for c in only} if only else found


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round(((value - degrees) * 60 - minutes) * 60 * 10_000), 10_000)
    return Fraction(degrees), Fraction(minutes), seconds


def encode(source: Path, quality: int, lat: float | None = None, lon: float | None = None,
           taken: str | None = None) -> bytes:
    """The photo re-encoded, with an EXIF GPS position (IFD 0x8825, rationals) and DateTimeOriginal (0x9003 in the
    Exif IFD 0x8769) when given."""
    from PIL import Image

    image = Image.open(source).convert("RGB")
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken.replace("-", ":") + " 12:00:00"
    if lat is not None and lon is not None:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def make_word_photos(folder: Path, classes: list[str]) -> dict[str, str]:
    """photo_NNN.jpg for each class, in a shuffled order; file name -> class."""
    found = sources(classes)
    order = list(found)
    random.Random(7).shuffle(order)
    names = {}
    for n, cls in enumerate(order, 1):
        name = f"photo_{n:03d}.jpg"
        (folder / name).write_bytes(encode(found[cls], 90))
        names[name] = cls
    return names


def make_geo_photos(folder: Path, places: list[tuple]) -> tuple[dict[str, int], list[str]]:
    """geo_NNN.jpg for each placement; file name -> placement number, and each placement's class."""
    found = sources()
    cycle = list(found)
    names, classes = {}, []
    for i, (_, lat, lon, _, day, cls) in enumerate(places):
        cls = cls or cycle[(i * 7) % len(cycle)]
        name = f"geo_{i + 1:03d}.jpg"
        (folder / name).write_bytes(encode(found[cls], 85, lat, lon, day))
        names[name] = i
        classes.append(cls)
    return names, classes


def index_folder(folder: Path, home: Path, workers: int | None) -> dict[str, Any]:
    """`mediaindex index FOLDER` in a new process, the local analyzer and default features, a fresh home."""
    import mediaindex

    code = str(Path(mediaindex.__file__).resolve().parents[1])  # the checkout this process measures
    env = {**os.environ, "MEDIAINDEX_HOME": str(home), "MEDIAINDEX_ANALYZER": "local", "PYTHONPATH": code}
    for name in ("MEDIAINDEX_INDEX", "MEDIAINDEX_FEATURES", "MEDIAINDEX_INDEX_NAME"):
        env.pop(name, None)
    command = [sys.executable, "-m", "mediaindex", "index", str(folder), "--json", "--no-progress"]
    if workers:
        command += ["--workers", str(workers)]
    run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if run.returncode not in (0, 1):
        raise SystemExit(f"mediaindex index failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return json.loads(run.stdout)


# --- searching -------------------------------------------------------------------------------------------------
class Searcher:
    """Searches one home's index in this process, as `mediaindex search` does; on older code as it could."""

    def __init__(self, home: Path, today: date) -> None:
        from mediaindex.bootstrap import build_app
        from mediaindex.config import Settings
        from mediaindex.domain import query_syntax
        from mediaindex.domain.query import Query
        from mediaindex.services import search as searching

        self.Query = Query
        self.run_search = getattr(searching, "run_search", None)
        parse = query_syntax.parse_query
        takes_today = "today" in inspect.signature(parse).parameters
        self.parse: Callable[[str], Any] = (lambda text: parse(text, today=today)) if takes_today else parse
        self.code = ("run_search" if self.run_search else "index.search") + (
            ", parse_query(today)" if takes_today else ", parse_query")
        self.app = build_app(Settings.from_env({"MEDIAINDEX_HOME": str(home)}), read_only=True)
        self.index = self.app.index
        self.index.ensure_ready()

    def search(self, text: str, limit: int = 50) -> dict[str, Any]:
        """The hits' file names in order, the words left out, whether relaxed; an error as no hits."""
        try:
            query = self.Query(where=self.parse(text), limit=limit)
            if self.run_search is not None:
                answer = self.run_search(self.index, query)
                result, left_out, relaxed = answer.result, list(answer.not_understood), bool(answer.relaxed)
            else:
                result, left_out, relaxed = self.index.search(query), [], False
        except ValueError as e:  # ParseError included
            return {"hits": [], "not_understood": [], "relaxed": False, "error": str(e)}
        return {"hits": [Path(h["key"]).name for h in result.hits], "not_understood": left_out, "relaxed": relaxed}

    def documents(self) -> list[dict[str, Any]]:
        return self.index.search(self.Query(limit=1000)).hits


# --- scoring ---------------------------------------------------------------------------------------------------
def rank_scores(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    first = next((n for n, c in enumerate(ranked, 1) if c in relevant), None)
    r = len(relevant)
    return {
        "p@10": len(relevant & set(ranked[:10])) / 10,
        "r_precision": len(relevant & set(ranked[:r])) / r,
        "success@1": float(bool(ranked) and ranked[0] in relevant),
        "mrr": 1 / first if first else 0.0,
    }


def mean(rows: list[dict], key: str) -> float:
    return round(sum(r[key] for r in rows) / len(rows), 3) if rows else 0.0


def part_a(searcher: Searcher, names: dict[str, str], queries: dict[str, tuple[str, set[str]]]) -> dict[str, Any]:
    rows = []
    for text, (kind, relevant) in queries.items():
        found = searcher.search(text)
        ranked = [names.get(n, n) for n in found["hits"]]
        row = {"query": text, "kind": kind, "relevant": sorted(relevant), "hits": len(ranked),
               "top": ranked[:5], "not_understood": found["not_understood"], "relaxed": found["relaxed"]}
        if "error" in found:
            row["error"] = found["error"]
        if relevant:
            row.update(rank_scores(ranked, relevant))
        rows.append(row)
    out: dict[str, Any] = {"queries": rows}
    for kind in ("word", "sentence"):
        of = [r for r in rows if r["kind"] == kind]
        out[kind + "s"] = {"queries": len(of), **{k: mean(of, k) for k in ("p@10", "r_precision", "success@1", "mrr")},
                           "no_answer": sum(not r["hits"] for r in of)}
    negatives = [r for r in rows if r["kind"] == "negative"]
    out["negatives"] = {"queries": len(negatives), "answered_with_hits": sum(bool(r["hits"]) for r in negatives)}
    return out


def part_b(searcher: Searcher, names: dict[str, int], classes: list[str], places: list[tuple],
           groups: dict[str, list[str]], today: date) -> dict[str, Any]:
    rows = []
    sea = {i for i, p in enumerate(places) if p[0].startswith(SEA)}
    for group, queries in groups.items():
        for text in queries:
            relevant = relevant_places(text, places, classes, today)
            found = searcher.search(text, limit=100)
            hits = [names[n] for n in found["hits"] if n in names]
            right = len(relevant & set(hits))
            row = {"query": text, "group": group, "relevant": len(relevant), "hits": len(hits), "right": right,
                   "precision": right / len(hits) if hits else 0.0,
                   "recall": right / len(relevant) if relevant else float(not hits),
                   "missed": [places[i][0] for i in sorted(relevant - set(hits))],
                   "wrong": [places[i][0] for i in hits if i not in relevant][:8],
                   "not_understood": found["not_understood"], "relaxed": found["relaxed"]}
            if group == "places":
                row["sea_found"] = len(sea & set(hits))
            if "error" in found:
                row["error"] = found["error"]
            rows.append(row)
    out: dict[str, Any] = {"queries": rows}
    for group in groups:
        of = [r for r in rows if r["group"] == group]
        out[group] = {"queries": len(of), "precision": mean(of, "precision"), "recall": mean(of, "recall"),
                      "no_answer": sum(not r["hits"] for r in of)}
    by_name = {Path(d["key"]).name: d for d in searcher.documents()}
    at_sea = []
    for name, i in names.items():
        if i in sea:
            place = (by_name.get(name) or {}).get("place")
            at_sea.append({"where": places[i][0], "place": place.get("label") if isinstance(place, dict) else None,
                           "city": place.get("city") if isinstance(place, dict) else None})
    out["at_sea"] = at_sea
    out["at_sea_with_a_city"] = sum(bool(s["city"]) for s in at_sea)
    out["at_sea_found_by_a_place"] = sum(r.get("sea_found", 0) for r in rows)
    out["with_a_place"] = sum(isinstance(d.get("place"), dict) for d in by_name.values())
    return out


# --- the run ---------------------------------------------------------------------------------------------------
def measure(work: Path, quick: bool, workers: int | None, today: date) -> dict[str, Any]:
    words_dir, geo_dir = work / "words", work / "geo"
    words_dir.mkdir()
    geo_dir.mkdir()
    queries = {q: ("word", r) for q, r in WORDS.items()} | {q: ("sentence", r) for q, r in SENTENCES.items()}
    queries |= {q: ("negative", set()) for q in NEGATIVES}
    places, groups = PLACES, {"places": PLACE_QUERIES, "times": TIME_QUERIES, "both": BOTH_QUERIES}
    classes = None
    if quick:
        classes = QUICK_PHOTOS
        queries = {q: queries[q] for q in QUICK_QUERIES}
        places = [p for p in PLACES if p[0] in QUICK_PLACES]
        groups = {"places": QUICK_PLACE_QUERIES, "times": QUICK_TIME_QUERIES}
    names = make_word_photos(words_dir, classes or list(sources()))
    geo_names, geo_classes = make_geo_photos(geo_dir, places)
    indexed = {"words": index_folder(words_dir, work / "home-words", workers),
               "geo": index_folder(geo_dir, work / "home-geo", workers)}
    searcher = Searcher(work / "home-words", today)
    a = part_a(searcher, names, queries)
    b = part_b(Searcher(work / "home-geo", today), geo_names, geo_classes, places, groups, today)
    return {
        "today": today.isoformat(), "quick": quick, "code": searcher.code, "photos": len(names),
        "geotagged": len(geo_names), "at_sea": sum(p[0].startswith(SEA) for p in places),
        "indexed": {k: {"indexed": v.get("indexed"), "failed": v.get("failed")} for k, v in indexed.items()},
        "words": a["words"], "sentences": a["sentences"], "negatives": a["negatives"],
        **{g: b[g] for g in groups},
        "no_answer": sum(not r["hits"] for r in a["queries"] if r["kind"] != "negative")
        + sum(not r["hits"] for r in b["queries"]),
        "queries_asked": sum(r["kind"] != "negative" for r in a["queries"]) + len(b["queries"]),
        "at_sea_with_a_city": b["at_sea_with_a_city"], "at_sea_found_by_a_place": b["at_sea_found_by_a_place"],
        "geotagged_with_a_place": b["with_a_place"], "at_sea_places": b["at_sea"],
        "word_queries": a["queries"], "place_queries": b["queries"],
    }


def report(r: dict[str, Any]) -> None:
    print(f"search quality ({r['code']}; today {r['today']}): {r['photos']} photos, {r['geotagged']} geotagged "
          f"({r['at_sea']} at sea)")
    print(f"{'query':<36}{'P@10':>6}{'R-prec':>8}{'@1':>5}{'RR':>6}{'hits':>6}  first hits")
    for q in r["word_queries"]:
        if q["kind"] == "negative":
            print(f"{q['query']:<36}{'(nothing relevant)':>31}{q['hits']:>6}  {', '.join(q['top'][:3])}")
            continue
        mark = "" if q["success@1"] else "  <-"
        print(f"{q['query']:<36}{q['p@10']:>6.2f}{q['r_precision']:>8.2f}{q['success@1']:>5.0f}{q['mrr']:>6.2f}"
              f"{q['hits']:>6}  {', '.join(q['top'][:3])}{mark}")
    for kind in ("words", "sentences"):
        s = r[kind]
        print(f"{kind} ({s['queries']}): P@10 {s['p@10']:.3f}, R-precision {s['r_precision']:.3f}, "
              f"success@1 {s['success@1']:.3f}, MRR {s['mrr']:.3f}, no answer {s['no_answer']}")
    n = r["negatives"]
    if n["queries"]:
        print(f"about nothing shown ({n['queries']}): {n['answered_with_hits']} answered with hits")
    print(f"\n{'query':<28}{'rel':>5}{'hits':>6}{'right':>7}{'prec':>7}{'recall':>8}  missed / wrong")
    for q in r["place_queries"]:
        print(f"{q['query']:<28}{q['relevant']:>5}{q['hits']:>6}{q['right']:>7}{q['precision']:>7.2f}"
              f"{q['recall']:>8.2f}  {'; '.join(q['missed'][:3])}{' / ' if q['wrong'] else ''}"
              f"{'; '.join(q['wrong'][:3])}")
    for group in ("places", "times", "both"):
        if group in r:
            s = r[group]
            print(f"{group} ({s['queries']}): precision {s['precision']:.3f}, recall {s['recall']:.3f}, "
                  f"no answer {s['no_answer']}")
    print(f"queries with no answer: {r['no_answer']} of the {r['queries_asked']} with something to find; "
          f"geotagged with a place: {r['geotagged_with_a_place']}; at sea with a city: {r['at_sea_with_a_city']}, "
          f"found by a place: {r['at_sea_found_by_a_place']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="8 photos, 6 queries, 6 places (for the smoke test)")
    parser.add_argument("--workers", type=int, help="worker processes of mediaindex index (its default: the cores)")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(),
                        help="the day 'last year' and 'last summer' count from (only where the parser takes it)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mediaindex-search-quality-"))
    try:
        result = measure(work, args.quick, args.workers, args.today)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
