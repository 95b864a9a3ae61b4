"""Reverse geocoding (adapters/places/geonames.py): the load time of the GeoNames places, in a new process, and
the time of one lookup after it, for positions in towns (Europe's dense places), anywhere on land or sea, and far
out at sea (where the fallback searches wider).

    python bench/bench_places.py [--lookups 20000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from mediaindex.adapters.places.geonames import GeoNamesPlaces

    finder = GeoNamesPlaces()
    started = time.perf_counter()
    finder.place_at(48.8566, 2.3522)
    first = time.perf_counter() - started
    rng = random.Random(args.seed)
    sets = {
        "europe": [(rng.uniform(36, 60), rng.uniform(-9, 30)) for _ in range(args.lookups)],
        "world": [(rng.uniform(-60, 72), rng.uniform(-180, 180)) for _ in range(args.lookups)],
        "open sea": [(rng.uniform(-50, 50), rng.uniform(-40, -20)) for _ in range(args.lookups // 10)],
    }
    result = {"load_s": round(finder.load_seconds or 0.0, 3), "first_lookup_s": round(first, 3),
              "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    for name, positions in sets.items():
        times = []
        found = 0
        for lat, lon in positions:
            t = time.perf_counter()
            place = finder.place_at(lat, lon)
            times.append(time.perf_counter() - t)
            found += place is not None and place.city is not None
        times.sort()
        result[name] = {
            "lookups": len(times), "with_a_town": found,
            "mean_ms": round(statistics.fmean(times) * 1000, 3),
            "p95_ms": round(times[int(len(times) * 0.95)] * 1000, 3),
            "max_ms": round(times[-1] * 1000, 3),
        }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
