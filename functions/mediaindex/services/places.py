"""Places for documents indexed before places were found: their `location` is geocoded and their `place` field
added, without reading or analysing the files again. `mediaindex index` runs it first (entrypoints/cli/index.py);
a note under MEDIAINDEX_HOME/places says it went over an index with this place data, so the next run costs a file
read, not a walk over the index.

Each document is changed with a conditional partial update (compare-and-set), so a concurrent write is never
overwritten: a document written meanwhile by the pipeline has its place already, or a new location to geocode.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediaindex.domain import document as docs
from mediaindex.domain.document import DocumentFields, SearchDocument
from mediaindex.ports import Index, PlaceFinder, Versioned
from mediaindex.services.index_io import compare_and_set
from mediaindex.services.indexing import NO_PLACE_FIELD, place_field

log = logging.getLogger(__name__)


@dataclass
class PlacesAdded:
    """What adding the missing places did."""

    documents_checked: int = 0  # documents with a location and no place field
    documents_updated: int = 0  # of which a place field was written (None for a position far from any place)
    with_place: int = 0  # of those, documents that got a place (not None)
    failed: int = 0  # the geocoder failed for these: they are tried again next time

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def needs_place(doc: SearchDocument) -> bool:
    """An indexed document with a location and no `place` field (None counts as a place field: nowhere)."""
    return doc.get("status") == docs.INDEXED and bool(doc.get("location")) and "place" not in doc


def add_missing_places(index: Index, places: PlaceFinder) -> PlacesAdded:
    """Give every document that `needs_place` its place."""
    report = PlacesAdded()
    for doc in index.iter_documents():
        if not needs_place(doc):
            continue
        report.documents_checked += 1
        outcome = _add_place(index, places, doc)
        if outcome is NO_PLACE_FIELD:
            report.failed += 1
        elif outcome is not None:
            report.documents_updated += 1
            report.with_place += int(outcome["place"] is not None)
    if report.documents_updated:
        index.refresh()
    log.info("places added", extra=report.to_dict())
    return report


def _add_place(index: Index, places: PlaceFinder, listed: SearchDocument) -> Any:
    """The fields written to one document ({"place": ...}), None when nothing was written, NO_PLACE_FIELD when
    the geocoder failed."""
    found: dict[str, Any] = {}

    def place_for(location: Any) -> Any:
        key = json.dumps(location, sort_keys=True, default=str)
        if key not in found:  # a retry after a conflict geocodes nothing again
            found[key] = place_field(places, location)
        return found[key]

    def attempt(current: Versioned | None) -> Any:
        if current is None or not needs_place(current.doc):
            return None
        value = place_for(current.doc.get("location"))
        if value is NO_PLACE_FIELD:
            return NO_PLACE_FIELD
        fields: DocumentFields = {"place": value}
        index.update_fields(current.doc["id"], fields, current.version)
        return fields

    if place_for(listed.get("location")) is NO_PLACE_FIELD:
        return NO_PLACE_FIELD
    return compare_and_set(index, listed["id"], attempt)


# ---- once per index and place data ----------------------------------------------------------------------------------
def note_path(home: Path, index_url: str, index_name: str) -> Path:
    digest = hashlib.sha256(f"{index_url}\0{index_name}".encode()).hexdigest()[:16]
    return Path(home) / "places" / f"{digest}.json"


def add_missing_places_once(index: Index, places: PlaceFinder, note: Path, data_version: str | None,
                            described: str = "") -> PlacesAdded | None:
    """`add_missing_places` unless the note says it was done for this index with this place data (None then).
    The note is written only when every document got its place field (a failure is tried again next time)."""
    wanted = {"index": described, "data": data_version}
    try:
        if json.loads(note.read_text(encoding="utf-8")) == wanted:
            return None
    except (OSError, ValueError):
        pass
    report = add_missing_places(index, places)
    if not report.failed:
        try:
            note.parent.mkdir(parents=True, exist_ok=True)
            note.write_text(json.dumps(wanted) + "\n", encoding="utf-8")
        except OSError as e:  # the next run walks the index again: slower, not wrong
            log.warning("cannot write %s: %s", note, e)
    return report
