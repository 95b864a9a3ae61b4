"""The pipeline gives a document its `place` from the GPS position of the picture (EXIF) or video (its location
tag), copies it with the analysis, and indexes a file whatever the geocoder does."""

from __future__ import annotations

import io
import logging
from fractions import Fraction

import pytest
from PIL import Image

from mediaindex.domain import document as docs
from mediaindex.domain.messages import CREATED, StorageEvent
from mediaindex.domain.places import Place
from mediaindex.ports import ObjectRef
from mediaindex.services import indexing
from mediaindex.services.indexing import Pipeline
from tests.fakes import FakeAnalyzer, FakeIndex, FakeStorage


def dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round(((value - degrees) * 60 - minutes) * 60 * 10_000), 10_000)
    return Fraction(degrees), Fraction(minutes), seconds


def jpeg_at(lat: float | None, lon: float | None, color=(30, 120, 200)) -> bytes:
    """A JPEG whose EXIF GPS block (IFD 0x8825) says where it was taken; no block when lat is None."""
    exif = Image.Exif()
    if lat is not None and lon is not None:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), dms(lat)
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), dms(lon)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


class FakePlaces:
    """A geocoder that knows one town, everywhere north of the equator, and counts its lookups."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls: list[tuple[float, float]] = []
        self.fail_with = fail_with

    def place_at(self, lat: float, lon: float) -> Place | None:
        self.calls.append((lat, lon))
        if self.fail_with is not None:
            raise self.fail_with
        if lat < 0:
            return None
        return Place(city="Boulogne-Billancourt", region="Île-de-France", country="France", country_code="FR",
                     metro="Paris")


def make(places=None, **kwargs) -> Pipeline:
    return Pipeline(storage=FakeStorage(), analyzer=FakeAnalyzer(), index=FakeIndex(), places=places, **kwargs)


def index(p: Pipeline, key: str, data: bytes) -> dict:
    p.storage.write(key, data)
    outcome = p.handle(StorageEvent(CREATED, ObjectRef("media", key), event_name="ObjectCreated:Put"))
    assert outcome.action in (indexing.INDEXED, indexing.REUSED), outcome
    return p.index.get(docs.document_id("media", key)).doc


def test_a_photo_with_gps_gets_its_place():
    p = make(FakePlaces())
    doc = index(p, "paris.jpg", jpeg_at(48.8397, 2.2399))
    assert doc["location"] == pytest.approx({"lat": 48.8397, "lon": 2.2399}, abs=1e-6)
    assert doc["place"]["city"] == "Boulogne-Billancourt" and doc["place"]["metro"] == "Paris"
    assert "paris" in doc["place"]["names"] and doc["place"]["label"] == "Boulogne-Billancourt, Paris, France"
    assert p.places.calls == [pytest.approx((48.8397, 2.2399), abs=1e-6)]


def test_the_real_geocoder_in_the_pipeline(geonames):
    p = make(geonames)
    doc = index(p, "reykjavik.jpg", jpeg_at(64.1466, -21.9426))
    assert doc["place"]["city"] == "Reykjavík" and "reykjavik" in doc["place"]["names"]
    assert doc["place"]["country_code"] == "IS"
    sea = index(p, "atlantic.jpg", jpeg_at(40.0, -35.0, color=(1, 2, 3)))
    assert sea["location"] and sea["place"] is None


def test_no_gps_or_no_fix_is_no_place_and_no_lookup():
    p = make(FakePlaces())
    assert index(p, "plain.jpg", jpeg_at(None, None))["place"] is None
    assert index(p, "nofix.jpg", jpeg_at(0.0, 0.0, color=(9, 9, 9)))["place"] is None
    assert p.places.calls == []


def test_far_from_any_place_is_none():
    p = make(FakePlaces())
    assert index(p, "south.jpg", jpeg_at(-40.0, -35.0))["place"] is None


def test_without_a_geocoder_the_field_is_left_out_for_later():
    doc = index(make(None), "paris.jpg", jpeg_at(48.8397, 2.2399))
    assert doc["location"] and "place" not in doc


def test_a_failing_geocoder_never_stops_the_file(caplog):
    p = make(FakePlaces(fail_with=RuntimeError("data file damaged")))
    with caplog.at_level(logging.WARNING, logger="mediaindex.services.indexing"):
        doc = index(p, "paris.jpg", jpeg_at(48.8397, 2.2399))
    assert doc["status"] == "indexed" and "place" not in doc
    assert "data file damaged" in caplog.text


def test_a_copy_reuses_the_place_and_an_old_analysis_gets_one():
    p = make(FakePlaces())
    data = jpeg_at(48.8397, 2.2399)
    first = index(p, "a.jpg", data)
    copy = index(p, "b.jpg", data)
    assert p.analyzer.calls == 1 and copy["place"] == first["place"]
    assert len(p.places.calls) == 1  # copied, not looked up again
    # a document analysed before places existed: its copy gets a place without a new analysis
    del p.index.docs[first["id"]][0]["place"]
    del p.index.docs[copy["id"]]
    again = index(p, "c.jpg", data)
    assert p.analyzer.calls == 1 and again["place"]["city"] == "Boulogne-Billancourt"


def test_a_video_gets_the_place_of_its_location_tag():
    def video(obj):
        return {"media_type": "video", "location": {"lat": 48.8397, "lon": 2.2399}, "video": {"duration": 1.0}}, 0

    p = make(FakePlaces(), video=video)
    doc = index(p, "clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    assert doc["media_type"] == "video" and doc["place"]["metro"] == "Paris"


def test_place_is_an_analysis_field():
    assert "place" in docs.ANALYSIS_FIELDS


def test_bootstrap_builds_the_geocoder_into_the_pipeline(tmp_path, geonames):
    from mediaindex.bootstrap import ABSENT, build_app
    from mediaindex.config import Settings

    app = build_app(Settings(home=tmp_path), index=FakeIndex(), storage=FakeStorage(), analyzer=FakeAnalyzer(),
                    faces=ABSENT)
    assert app.pipeline.places is app.places and app.places is not None


def test_bootstrap_without_the_data_warns_once_and_indexes_without_places(tmp_path, monkeypatch, caplog):
    from mediaindex import bootstrap
    from mediaindex.adapters.places import geonames as module
    from mediaindex.config import Settings

    monkeypatch.setattr(module, "data_path", lambda: None)
    with caplog.at_level(logging.WARNING, logger="mediaindex.bootstrap"):
        app = bootstrap.build_app(Settings(home=tmp_path), index=FakeIndex(), storage=FakeStorage(),
                                  analyzer=FakeAnalyzer(), faces=bootstrap.ABSENT)
        assert app.places is None and app.places is None
        doc = index(app.pipeline, "paris.jpg", jpeg_at(48.8397, 2.2399))
    assert "place" not in doc and doc["status"] == "indexed"
    assert caplog.text.count("reverse-geocode") == 1


def test_mediaindex_show_says_the_place():
    from mediaindex.entrypoints.cli.show import describe

    p = make(FakePlaces())
    doc = index(p, "paris.jpg", jpeg_at(48.8397, 2.2399))
    assert "  place: Boulogne-Billancourt, Paris, France" in describe(doc).splitlines()
    doc["place"] = None
    assert "place:" not in describe(doc)
