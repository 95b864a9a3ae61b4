"""Documents indexed before places were found get theirs from their `location`, without analysing the files again:
on the fake index and on SQLite, with compare-and-set, once per index and place data."""

from __future__ import annotations

import json

import pytest

from mediaindex.domain import document as docs
from mediaindex.domain.errors import VersionConflict
from mediaindex.services import places as upgrade
from tests.fakes import FakeIndex
from tests.places.test_indexing import FakePlaces


def old_doc(key: str, location=None, **fields) -> dict:
    doc = {**docs.base_document("media", key, None), "status": docs.INDEXED, "media_type": "image",
           "location": location, "labels": [], "label_names": []}
    doc.update(fields)
    return doc


PARIS = {"lat": 48.8397, "lon": 2.2399}


def load(index, *documents) -> None:
    index.ensure_ready()
    index.put_many(list(documents))
    index.refresh()


@pytest.fixture(params=["fake", "sqlite"])
def index(request, tmp_path):
    if request.param == "fake":
        return FakeIndex()
    from mediaindex.adapters.index.sqlite import SqliteIndex

    return SqliteIndex(str(tmp_path / "index.db"))


def test_documents_with_a_location_and_no_place_get_one(index):
    load(index,
         old_doc("paris.jpg", PARIS),
         old_doc("south.jpg", {"lat": -40.0, "lon": -35.0}),        # far from any place: None
         old_doc("nofix.jpg", {"lat": 0, "lon": 0}),                 # "no fix": None, no lookup
         old_doc("plain.jpg", None),                                 # no location: left alone
         old_doc("done.jpg", PARIS, place={"city": "Elsewhere"}),    # has its place: left alone
         old_doc("failed.jpg", PARIS, status=docs.FAILED))           # not indexed: left alone
    finder = FakePlaces()
    report = upgrade.add_missing_places(index, finder)
    assert report.to_dict() == {"documents_checked": 3, "documents_updated": 3, "with_place": 1, "failed": 0}
    get = lambda key: index.get(docs.document_id("media", key)).doc  # noqa: E731
    assert get("paris.jpg")["place"]["metro"] == "Paris" and "paris" in get("paris.jpg")["place"]["names"]
    assert get("south.jpg")["place"] is None and get("nofix.jpg")["place"] is None
    assert "place" not in get("plain.jpg") and get("done.jpg")["place"] == {"city": "Elsewhere"}
    assert "place" not in get("failed.jpg")
    assert get("paris.jpg")["labels"] == [] and get("paris.jpg")["location"] == PARIS  # the rest is untouched
    assert len(finder.calls) == 2
    # nothing left to do
    again = upgrade.add_missing_places(index, finder)
    assert again.documents_checked == 0 and len(finder.calls) == 2


def test_the_real_geocoder_on_sqlite(tmp_path, geonames):
    from mediaindex.adapters.index.sqlite import SqliteIndex

    index = SqliteIndex(str(tmp_path / "index.db"))
    load(index, old_doc("koln.jpg", {"lat": 50.9413, "lon": 6.9583}))
    assert upgrade.add_missing_places(index, geonames).with_place == 1
    place = index.get(docs.document_id("media", "koln.jpg")).doc["place"]
    assert {"koln", "cologne", "germany"} <= set(place["names"])


def test_a_failing_geocoder_writes_nothing_and_is_counted(index):
    load(index, old_doc("paris.jpg", PARIS))
    report = upgrade.add_missing_places(index, FakePlaces(fail_with=RuntimeError("broken")))
    assert report.failed == 1 and report.documents_updated == 0
    assert "place" not in index.get(docs.document_id("media", "paris.jpg")).doc


def test_a_document_changed_meanwhile_is_read_again():
    index = FakeIndex()
    load(index, old_doc("paris.jpg", PARIS))
    doc_id = docs.document_id("media", "paris.jpg")
    real_update = index.update_fields
    conflicts = []

    def update_once_late(doc_id_, fields, expected_version):
        if not conflicts:  # someone else writes the document (a new location) just before us
            conflicts.append(1)
            current = index.get(doc_id_)
            real_update(doc_id_, {"location": {"lat": -41.0, "lon": -35.0}}, current.version)
            raise VersionConflict("changed")
        real_update(doc_id_, fields, expected_version)

    index.update_fields = update_once_late
    finder = FakePlaces()
    assert upgrade.add_missing_places(index, finder).documents_updated == 1
    assert index.get(doc_id).doc["place"] is None  # the place of the location written meanwhile
    assert finder.calls[-1] == (-41.0, -35.0)


def test_once_per_index_and_data_version(tmp_path):
    index = FakeIndex()
    load(index, old_doc("paris.jpg", PARIS))
    note = upgrade.note_path(tmp_path, "sqlite:///x.db", "media")
    finder = FakePlaces()
    first = upgrade.add_missing_places_once(index, finder, note, "reverse-geocode 1.6.6", "x")
    assert first.with_place == 1 and json.loads(note.read_text())["data"] == "reverse-geocode 1.6.6"
    load(index, old_doc("later.jpg", PARIS))
    assert upgrade.add_missing_places_once(index, finder, note, "reverse-geocode 1.6.6", "x") is None  # note read
    assert upgrade.add_missing_places_once(index, finder, note, "reverse-geocode 1.7.0", "x").with_place == 1
    assert upgrade.note_path(tmp_path, "sqlite:///x.db", "other") != note


def test_a_failure_leaves_no_note(tmp_path):
    index = FakeIndex()
    load(index, old_doc("paris.jpg", PARIS))
    note = upgrade.note_path(tmp_path, "sqlite:///x.db", "media")
    report = upgrade.add_missing_places_once(index, FakePlaces(fail_with=OSError("gone")), note, "v", "x")
    assert report.failed == 1 and not note.exists()


def test_mediaindex_index_adds_the_missing_places_first(tmp_path, capsys):
    """The command gives old documents their places before indexing, says how many, and only once."""
    from mediaindex.adapters.index.sqlite import SqliteIndex
    from mediaindex.bootstrap import build_app
    from mediaindex.config import Settings
    from mediaindex.entrypoints.cli import index as cli_index

    db = tmp_path / "index.db"
    index = SqliteIndex(str(db))
    load(index, old_doc("paris.jpg", PARIS))
    settings = Settings(home=tmp_path, index_url=f"sqlite:///{db}")
    app = build_app(settings, index=index, places=FakePlaces())
    added = cli_index.add_missing_places(app)
    assert added == {"documents_checked": 1, "documents_updated": 1, "with_place": 1, "failed": 0}
    assert index.get(docs.document_id("media", "paris.jpg")).doc["place"]["city"] == "Boulogne-Billancourt"
    assert cli_index.add_missing_places(app) is None  # done: the note says so
    cli_index.print_summary({
        "indexed": 0, "reused": 0, "unchanged": 0, "failed": 0, "errors": 0, "removed": 0, "listed": 0,
        "elapsed_s": 0.0, "files_per_s": 0, "workers": 1, "mode": "inline", "failures": [], "interrupted": False,
        "index": "x", "places_added": added,
    })
    assert "1 of 1 files indexed before with a GPS position now have a place" in capsys.readouterr().out
