"""The exact facts of a document that free text can name beyond labels, people and words: where it was taken (its
place's names), what kind of file it is (photo, video, screenshot, selfie), the words its camera answers to, and
the month and day it was taken (for "december", "summer", "christmas" without a year). Both index backends store
these, computed here once, and `FactIs(field, value)` (domain/expressions.py) asks for one of them.

A date in the future or before photography (domain/file_dates.trusted_date) gives no month or day: shown as
given, never trusted for time words.
"""

from __future__ import annotations

from datetime import date

from mediaindex.domain.document import SearchDocument
from mediaindex.domain.file_dates import trusted_date
from mediaindex.domain.kinds import camera_words, kinds_of
from mediaindex.domain.places import fold

PLACE, KIND, CAMERA, MONTH, DAY = "place", "kind", "camera", "month", "day"
FACT_FIELDS = (PLACE, KIND, CAMERA, MONTH, DAY)


def place_names(doc: SearchDocument) -> list[str]:
    place = doc.get("place")
    if not isinstance(place, dict):
        return []
    # a place stored without its names (by hand, or older): its parts
    names: list[str | None] = list(place.get("names") or []) or [
        place.get("city"), place.get("metro"), place.get("region"), place.get("country"), place.get("country_code")]
    return sorted({fold(str(n)) for n in names if n and fold(str(n))})


def place_label(doc: SearchDocument) -> str | None:
    """The place a facet counts a file under: its city (or town), else its region, else its country."""
    place = doc.get("place")
    if not isinstance(place, dict):
        return None
    for field in ("city", "region", "country"):
        if place.get(field):
            return str(place[field])
    return None


def taken_parts(doc: SearchDocument, today: date | None = None) -> tuple[str | None, str | None]:
    """The month ("07") and day ("07-14") a trusted taken_at names."""
    taken = doc.get("taken_at")
    if not isinstance(taken, str) or len(taken) < 10 or not trusted_date(taken, today or date.today()):
        return None, None
    return taken[5:7], taken[5:10]


def document_facts(doc: SearchDocument, today: date | None = None) -> dict[str, list[str]]:
    """Every fact of a document, by field (none for a tombstone or a failed file)."""
    if doc.get("status") != "indexed":
        return {}
    month, day = taken_parts(doc, today)
    facts = {
        PLACE: place_names(doc),
        KIND: sorted(kinds_of(doc)),
        CAMERA: sorted(set(camera_words(doc.get("camera")))),
        MONTH: [month] if month else [],
        DAY: [day] if day else [],
    }
    return {field: values for field, values in facts.items() if values}
