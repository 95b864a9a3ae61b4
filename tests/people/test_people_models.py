"""Known people end to end with the real local models on the real photos, the real SQLite index (and OpenSearch
through osmem-server for the enrol/forget flow)."""

from __future__ import annotations

import pytest

from mediaindex.config import Settings
from mediaindex.domain.expressions import PersonIs
from mediaindex.domain.query import Query
from tests.people.library import OBAMA_FILES, CountingAnalyzer, make_library, picture, sha_of

pytestmark = pytest.mark.models

OBAMA, BIDEN = "Barack Obama", "Joe Biden"


@pytest.fixture(scope="module")
def analyzer():
    from mediaindex.adapters.analysis.local import LocalAnalyzer

    return CountingAnalyzer(LocalAnalyzer(Settings(features=("faces",))))


@pytest.fixture
def library(tmp_path, faces_dir, analyzer):
    lib = make_library(tmp_path, faces_dir, analyzer)
    lib.index_all()
    analyzer.analysed.clear()
    yield lib
    lib.collection.close()


def left_and_right(doc):
    return sorted(doc["faces"], key=lambda f: f["box"]["left"])


def test_enrolling_names_every_indexed_photo_of_the_person_and_only_them(library, faces_dir, analyzer):
    enrolment = library.people.enroll(OBAMA, picture(faces_dir / "obama_1.jpg"), str(faces_dir / "obama_1.jpg"))
    assert len(enrolment.face_ids) == 1 and enrolment.rematch.documents_updated == len(OBAMA_FILES)
    by_file = library.people_by_file()
    assert {name for name, people in by_file.items() if people} == set(OBAMA_FILES)
    assert all(by_file[name] == [OBAMA] for name in OBAMA_FILES)
    left, right = left_and_right(library.doc("two_people_obama_biden.jpg"))
    assert left["person"] == OBAMA and left["similarity"] >= 80 and left["face_id"] == enrolment.face_ids[0]
    assert right["person"] is None
    assert library.people_of("biden_1.jpg") == []
    assert library.index.search(Query(PersonIs(OBAMA.lower()))).total == len(OBAMA_FILES)
    assert analyzer.analysed == [sha_of(faces_dir / "obama_1.jpg")]  # the enrolment photo, nothing indexed


def test_a_second_person_joins_files_already_indexed_without_analysing_them(library, faces_dir, analyzer):
    library.people.enroll(OBAMA, picture(faces_dir / "obama_1.jpg"), "obama_1")
    library.people.enroll(BIDEN, picture(faces_dir / "biden_1.jpg"), "biden_1")
    assert library.people_of("biden_1.jpg") == [BIDEN]
    assert library.people_of("two_people_obama_biden.jpg") == [OBAMA, BIDEN]
    left, right = left_and_right(library.doc("two_people_obama_biden.jpg"))
    assert (left["person"], right["person"]) == (OBAMA, BIDEN)
    assert library.people_of("obama_2.jpg") == [OBAMA]
    assert analyzer.analysed == [sha_of(faces_dir / "obama_1.jpg"), sha_of(faces_dir / "biden_1.jpg")]


def test_removing_a_person_takes_the_name_out_of_every_document_and_the_collection(library, faces_dir):
    library.people.enroll(OBAMA, picture(faces_dir / "obama_1.jpg"), "obama_1")
    library.people.enroll(BIDEN, picture(faces_dir / "biden_1.jpg"), "biden_1")
    result = library.people.remove_person("  barack   OBAMA ")
    assert result["name"] == OBAMA and result["faces_removed"] == 1 and result["documents_updated"] == len(OBAMA_FILES)
    assert library.people.list_people() == {BIDEN: 1}
    for name, people in library.people_by_file().items():
        assert OBAMA not in people
        assert all(f["person"] != OBAMA for f in library.doc(name)["faces"])
    assert library.people_of("two_people_obama_biden.jpg") == [BIDEN]
    assert library.index.search(Query(PersonIs(OBAMA))).total == 0


def test_files_indexed_after_an_enrolment_are_named_as_they_are_indexed(tmp_path, faces_dir, analyzer):
    lib = make_library(tmp_path, faces_dir, analyzer)
    lib.people.enroll(BIDEN, picture(faces_dir / "biden_1.jpg"), "biden_1")
    lib.index_all()
    assert {n for n, p in lib.people_by_file().items() if p} == {"biden_1.jpg", "two_people_obama_biden.jpg"}
    assert lib.people_of("two_people_obama_biden.jpg") == [BIDEN]


def test_compare_scores_the_same_person_high_and_strangers_low(library, faces_dir):
    same = library.people.compare(picture(faces_dir / "guido_van_rossum_1.jpg"), picture(faces_dir / "guido_van_rossum_2.jpg"))
    other = library.people.compare(picture(faces_dir / "guido_van_rossum_1.jpg"), picture(faces_dir / "steve_wozniak_1.jpg"))
    assert same["best"]["same_person"] and same["best"]["similarity"] >= 85
    assert not other["best"]["same_person"] and other["best"]["similarity"] < 80
    assert same["best"]["similarity"] - other["best"]["similarity"] > 10
    group = library.people.compare(picture(faces_dir / "two_people_obama_biden.jpg"), picture(faces_dir / "obama_2.jpg"))
    assert len(group["faces_a"]) == 2 and len(group["pairs"]) == 2
    best_face = group["faces_a"][group["best"]["a"]]
    assert best_face["left"] == min(f["left"] for f in group["faces_a"])  # the left face is Obama
    assert [p["same_person"] for p in group["pairs"]] == [True, False]


def test_search_by_face_finds_every_file_of_that_person_without_enrolment(library, faces_dir):
    result = library.people.search_by_face(picture(faces_dir / "obama_2.jpg"))
    found = {hit["key"].rsplit("/", 1)[-1] for hit in result["hits"]}
    assert found == set(OBAMA_FILES)
    group_hit = next(h for h in result["hits"] if h["key"].endswith("two_people_obama_biden.jpg"))
    assert group_hit["box"]["left"] < 0.5 and group_hit["similarity"] >= 80
    assert library.people.list_people() == {}


def test_unnamed_faces_form_clusters_and_naming_one_names_its_files(library, faces_dir, analyzer):
    clusters = library.people.clusters()
    files = [sorted(f["key"].rsplit("/", 1)[-1] for f in c["files"]) for c in clusters]
    assert ["steve_wozniak_1.jpg", "steve_wozniak_2.jpg"] in files
    assert ["guido_van_rossum_1.jpg", "guido_van_rossum_2.jpg"] in files
    obama = next(f for f in files if "obama_1.jpg" in f)
    assert set(obama) == set(OBAMA_FILES)
    wozniak = clusters[files.index(["steve_wozniak_1.jpg", "steve_wozniak_2.jpg"])]["cluster"]
    result = library.people.name_cluster(wozniak, "Steve Wozniak")
    assert result["faces_enrolled"] == 2 and result["documents_updated"] == 2
    assert library.people_of("steve_wozniak_1.jpg") == library.people_of("steve_wozniak_2.jpg") == ["Steve Wozniak"]
    assert all(c["cluster"] != wozniak for c in library.people.clusters())
    assert library.people.list_people() == {"Steve Wozniak": 2}
    assert analyzer.analysed == []


def test_the_same_flow_on_opensearch(tmp_path, faces_dir, analyzer, osmem_clone):
    from mediaindex.adapters.index.opensearch import OpenSearchIndex

    settings = Settings(home=tmp_path, index_url=osmem_clone.url, index_name="people_flow")
    lib = make_library(tmp_path, faces_dir, analyzer, index=OpenSearchIndex.connect(osmem_clone.url, settings))
    lib.index_all()
    lib.people.enroll(OBAMA, picture(faces_dir / "obama_1.jpg"), "obama_1")
    assert lib.index.search(Query(PersonIs(OBAMA))).total == len(OBAMA_FILES)
    assert lib.people_of("two_people_obama_biden.jpg") == [OBAMA]
    lib.people.remove_person(OBAMA)
    assert lib.index.search(Query(PersonIs(OBAMA))).total == 0
    assert all(OBAMA not in people for people in lib.people_by_file().values())
