"""The index contract: the same documents, operations and queries on OpenSearch (osmem-server through
opensearch-py) and on SQLite give the same results, and those results are the query model's semantics (checked
against hand-derived expectations and against the plain-Python oracle in reference.py)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from mediaindex.domain.errors import VersionConflict
from mediaindex.domain.expressions import And, ContentIn, FaceHas, LabelIs, PersonIs, StatusIs, TextHas
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import ParseError, parse_query
from mediaindex.entrypoints.cli.query_flags import query_from_flags
from tests.index.corpus import corpus, tombstone_with_dog
from tests.index.reference import ranked_ids, search_ids

BACKENDS = ("sqlite", "opensearch")

DOCS = corpus()
KEY_OF = {d["id"]: d["key"] for d in DOCS}
IMG1, IMG2, BEACH, BARACK, MICHELLE, ELODIE, KITTEN, CAR, VIDEO, EMPTY, BROKEN = (d["key"] for d in DOCS[:11])
INDEXED = {IMG1, IMG2, BEACH, BARACK, MICHELLE, ELODIE, KITTEN, CAR, VIDEO}

CASES = [
    ("dog", {IMG1, BEACH}),
    ("label:dog>=90", {IMG1}),  # the beach party has a dog (55) and a 95.5 label, but not on the same entry
    ("label:dog>=90 OR label:cat", {IMG1, ELODIE, KITTEN}),
    ("label:HUSKY", {IMG2}),  # an alias
    ("label:canine", {IMG1, IMG2, BEACH}),  # a parent
    ('label:"siberian husky">=70', {IMG2}),
    ("label:animal>=95", {IMG1}),
    ("label:pet>=90", {IMG1, ELODIE}),
    ('person:"Barack Obama"', {BEACH, BARACK, VIDEO}),
    ('person:"barack obama"', {BEACH, BARACK, VIDEO}),
    ('dog AND person:"Barack Obama"', {BEACH}),
    ("NOT emotion:happy", {IMG2, BARACK, ELODIE, KITTEN, CAR}),
    ("emotion:happy>=90", {IMG1, BEACH}),
    ("emotion:surprised", {BEACH}),
    ("smile:true", {IMG1, BEACH, MICHELLE, VIDEO}),
    ("smile:false", {BEACH, BARACK, CAR}),
    ("beard:true", {BEACH}),
    ("eyeglasses:true", {BEACH}),
    ("sunglasses:yes", {BEACH, CAR}),
    ("gender:female", {IMG1, BEACH, MICHELLE}),
    ("age:8..10", {BEACH}),
    ("age:60..", {BEACH, BARACK, VIDEO}),
    ("age:30", {IMG1, CAR}),
    ("smile:true gender:female age:..40", {IMG1, BEACH}),  # each condition on some face, not one face
    ("type:video", {VIDEO}),
    ("NOT type:video", INDEXED - {VIDEO}),
    ("path:holidays/", {IMG1, IMG2, BEACH}),
    ("path:holidays/2024/", {IMG1, IMG2}),
    ("path:Holidays/", set()),
    ("taken:2020-01-01..2021-12-31", {KITTEN, CAR}),
    ("taken:2024", {IMG1, IMG2}),
    ("taken:..2013", {BARACK, MICHELLE}),
    ("NOT taken:2000..2030", {ELODIE}),
    ("indexed:2024-07-16", {ELODIE, KITTEN, CAR, VIDEO}),
    ('text:"happy birthday"', {IMG1}),
    ("text:birthday", {IMG1, BEACH}),
    ("text:happy text:party", {BEACH}),
    ("text:cafe", {ELODIE}),
    ("text:ÉLODIE", {ELODIE}),
    ("text:img", {IMG1, IMG2}),
    ("stop", {CAR}),
    ('"main street"', {CAR}),
    ('"street main"', set()),
    ("status:failed", {EMPTY, BROKEN}),
    ("status:any type:image", (INDEXED - {VIDEO}) | {EMPTY, BROKEN}),
    ("(dog OR cat) NOT label:animal>=95", {BEACH, ELODIE, KITTEN}),
    ("label:person smile:true", {BEACH, MICHELLE, VIDEO}),
    ("label:animal -label:cat", {IMG1, IMG2, BEACH}),
    ("cat or smile:true", {ELODIE, KITTEN, IMG1, BEACH, MICHELLE, VIDEO}),
    ("-(dog OR cat) not type:video", {IMG2, BARACK, MICHELLE, CAR}),
    ("", INDEXED),
]


def keys(result) -> set[str]:
    return {h["key"] for h in result.hits}


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0] or "<all>" for c in CASES])
def test_query_gives_the_same_documents_on_both_backends(loaded_pair, text, expected):
    query = Query(where=parse_query(text), limit=100)
    oracle = {KEY_OF[i] for i in search_ids(query, DOCS)}
    assert oracle == expected, "the hand-derived expectation and the reference semantics disagree"
    for backend in BACKENDS:
        result = loaded_pair[backend].search(query)
        assert keys(result) == expected, backend
        assert result.total == len(expected), backend
        assert loaded_pair[backend].count(query) == len(expected), backend


@pytest.mark.parametrize("query,expected", [
    (query_from_flags(None, labels=["dog"], min_confidence=90), {IMG1}),
    (query_from_flags("dog", min_confidence=90), {IMG1}),
    (query_from_flags('person:"Barack Obama"', media_type="video"), {VIDEO}),
    (query_from_flags(None, people=["Barack Obama"], emotions=["happy"]), {BEACH, VIDEO}),
    (query_from_flags(None, text="birthday happy"), {IMG1, BEACH}),
    (query_from_flags(None, prefix="people/", labels=["person"]), {BARACK, MICHELLE}),
    (query_from_flags(None, include_failed=True), INDEXED | {EMPTY, BROKEN}),
    (Query(where=And(LabelIs("dog"), FaceHas("smile", True))), {IMG1, BEACH}),
    (Query(where=TextHas("happy birthday", phrase=True)), {IMG1}),
    (Query(where=StatusIs("deleted")), set()),  # tombstones are never shown, even when asked for
    # what similar:FILE becomes once the vectors named the nearest contents (services/look_alikes.py)
    (Query(where=ContentIn(tuple(d["content_sha256"] for d in DOCS[:3]))), {IMG1, IMG2, BEACH}),
    (Query(where=And(ContentIn(tuple(d["content_sha256"] for d in DOCS[:3])), LabelIs("dog"))), {IMG1, BEACH}),
    (Query(where=ContentIn(("0" * 64,))), set()),
])
def test_cli_options_and_built_trees(loaded_pair, query, expected):
    for backend in BACKENDS:
        assert keys(loaded_pair[backend].search(query)) == expected, backend


def test_hits_are_the_documents_as_stored(loaded_pair):
    by_id = {d["id"]: d for d in DOCS}
    for backend in BACKENDS:
        for hit in loaded_pair[backend].search(Query(limit=50)).hits:
            assert hit == by_id[hit["id"]], backend  # no adapter-internal fields, nothing lost


@pytest.mark.parametrize("sort", ["key", "-key", "taken_at", "-taken_at", "indexed_at", "indexed_at:asc"])
def test_sorting_is_identical_and_breaks_ties_by_id(loaded_pair, sort):
    query = Query(sort=Sort.parse(sort), limit=50, statuses=("indexed", "failed"))
    orders = {b: [h["id"] for h in loaded_pair[b].search(query).hits] for b in BACKENDS}
    assert orders["sqlite"] == orders["opensearch"]
    field, descending = query.sort.field, query.sort.descending
    live = [d for d in DOCS if d["status"] != "deleted"]
    # missing values count as smallest; ties are broken by id in the sort's direction
    expected = sorted(live, key=lambda d: (d.get(field) is not None, d.get(field) or "", d["id"]), reverse=descending)
    assert orders["sqlite"] == [d["id"] for d in expected]
    if field == "taken_at":  # three documents without the field: their place and their tie-break are exercised
        assert sum(d.get(field) is None for d in live) == 3


def test_paging_walks_the_sorted_results_without_gaps(loaded_pair):
    for backend in BACKENDS:
        index = loaded_pair[backend]
        whole = [h["id"] for h in index.search(Query(sort=Sort("key", False), limit=50)).hits]
        pages = []
        for offset in range(0, 12, 4):
            page = index.search(Query(sort=Sort("key", False), offset=offset, limit=4))
            assert page.total == len(INDEXED)
            pages += [h["id"] for h in page.hits]
        assert pages == whole
        assert index.search(Query(offset=40, limit=5)).hits == []
        assert index.search(Query(limit=0)).total == len(INDEXED)


def test_relevance_sort_returns_the_same_set(loaded_pair):
    query = Query(where=parse_query("dog OR cat OR person:\"Barack Obama\""), sort=Sort("relevance"), limit=50)
    results = [keys(loaded_pair[b].search(query)) for b in BACKENDS]
    assert results[0] == results[1] == {IMG1, BEACH, ELODIE, KITTEN, BARACK, VIDEO}


# Free text, ranked: sentences, plurals, related words, people and words found only in text or path.
RANKED = ["dog", "dogs on the beach", "a dog at a birthday party", "cat", "pets", "animal", "barack", "obama dog",
          "happy birthday", "outdoors", "husky in the snow", "a car on main street", "woman", "person", "canine",
          "pictures of my cat", "beach OR cat", "dog -person:obama"]


@pytest.mark.parametrize("text", RANKED)
def test_free_text_is_ranked_the_same_on_both_backends(loaded_pair, text):
    """Same hits in the same order: by relevance (the reference's score), ties newest indexed first, then id."""
    query = Query(where=parse_query(text), limit=20)
    expected = ranked_ids(query, DOCS)
    assert expected, f"{text!r} should find something in the corpus"
    for backend in BACKENDS:
        found = [h["id"] for h in loaded_pair[backend].search(query).hits]
        assert set(found) == {i for i, _ in expected}, backend
        position = {doc_id: n for n, doc_id in enumerate(found)}
        for (a, score_a), (b, score_b) in zip(expected, expected[1:]):
            if score_a > score_b + 1e-4:  # a clearly better document comes first on every backend
                assert position[a] < position[b], (backend, KEY_OF[a], score_a, KEY_OF[b], score_b)
        assert found == [i for i, _ in expected], backend  # and where scores tie, the same tie order


def test_the_best_match_comes_first(loaded_pair):
    """The labelled dog at 97 % before the dog at 55 % in a crowd; a canine named by its parent (the husky at 71.5 x
    0.8) after a canine named by its own name at 97; the cat of 92.5 before the kitten of 60."""
    for backend in BACKENDS:
        index = loaded_pair[backend]
        dogs = [KEY_OF[h["id"]] for h in index.search(Query(where=parse_query("dog"), limit=5)).hits]
        assert dogs == [IMG1, BEACH], backend  # 97.2, then 55
        canines = [KEY_OF[h["id"]] for h in index.search(Query(where=parse_query("canine"), limit=5)).hits]
        assert canines == [IMG1, IMG2, BEACH], backend  # all by a parent: 97.2, 71.5, 55 (x 0.8)
        cats = [KEY_OF[h["id"]] for h in index.search(Query(where=parse_query("cats"), limit=5)).hits]
        assert cats == [ELODIE, KITTEN], backend
        party = [KEY_OF[h["id"]] for h in index.search(Query(where=parse_query("birthday party dog"), limit=5)).hits]
        assert party[0] == BEACH, backend  # the only file with all three: a dog, "birthday" and "party"


def expected_facets(query: Query) -> dict[str, dict[str, int]]:
    ids = search_ids(query, DOCS)
    chosen = [d for d in DOCS if d["id"] in ids]
    counters = {
        "labels": Counter(n for d in chosen for n in set(d.get("label_names") or [])),
        "people": Counter(p for d in chosen for p in set(d.get("people") or [])),
        "emotions": Counter(e for d in chosen for e in {f["emotion"] for f in d.get("faces") or [] if f.get("emotion")}),
        "media_type": Counter(d["media_type"] for d in chosen if d.get("media_type")),
    }
    return {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:query.facet_size]) for name, c in counters.items()}


@pytest.mark.parametrize("text", ["", "label:animal", "NOT smile:true", "path:holidays/"])
def test_facets_count_documents_per_label_person_emotion_and_type(loaded_pair, text):
    query = Query(where=parse_query(text), facets=("labels", "people", "emotions", "media_type"), limit=1)
    expected = expected_facets(query)
    for backend in BACKENDS:
        facets = loaded_pair[backend].search(query).facets
        assert facets == expected, backend
        assert list(facets["labels"]) == list(expected["labels"]), backend  # same order: count, then name
    if text == "":
        assert expected["people"] == {"Barack Obama": 3, "Ada Lovelace": 1, "Michelle Obama": 1}
        assert expected["media_type"] == {"image": 8, "video": 1}


def test_facet_count_equals_the_count_of_that_query(loaded_pair):
    for backend in BACKENDS:
        index = loaded_pair[backend]
        facets = index.search(Query(facets=("labels", "people"))).facets
        for name, count in facets["labels"].items():
            assert index.count(Query(where=LabelIs(name))) == count, (backend, name)
        for name, count in facets["people"].items():
            assert index.count(Query(where=PersonIs(name))) == count, (backend, name)


def test_stats_agree(loaded_pair):
    stats = {b: loaded_pair[b].stats() for b in BACKENDS}
    assert stats["sqlite"] == stats["opensearch"]
    s = stats["sqlite"]
    assert (s["documents"], s["indexed"], s["failed"], s["deleted"]) == (11, 9, 2, 1)
    assert s["media_types"] == {"image": 10, "video": 1}
    assert s["people"][0] == ["Barack Obama", 3]
    assert ["animal", 5] in s["top_labels"] and len(s["top_labels"]) <= 20
    assert s["failures"] == [
        {"key": BROKEN, "error": "corrupt: cannot decode HEIC"}, {"key": EMPTY, "error": "empty_file: the file is empty"},
    ]


def test_iter_documents(loaded_pair):
    for backend in BACKENDS:
        index = loaded_pair[backend]
        live = list(index.iter_documents())
        assert sorted(d["id"] for d in live) == sorted(d["id"] for d in DOCS if d["status"] != "deleted"), backend
        everything = list(index.iter_documents(include_deleted=True))
        assert len(everything) == len(DOCS)
        assert all("search_aids" not in d for d in everything)


def test_get_many_returns_the_held_documents_with_their_versions(loaded_pair):
    wanted = [d["id"] for d in DOCS] + ["never-there", DOCS[0]["id"]]  # a missing id and a repeated one
    for backend in BACKENDS:
        index = loaded_pair[backend]
        found = index.get_many(wanted)
        assert sorted(found) == sorted(d["id"] for d in DOCS), backend  # tombstones too; missing ids absent
        for doc_id, versioned in found.items():
            single = index.get(doc_id)
            assert versioned.doc == single.doc and versioned.version == single.version, backend
        assert index.get_many([]) == {} and index.get_many(["never-there"]) == {}


def test_get_many_asks_in_chunks(empty_index, monkeypatch):
    from mediaindex.adapters.index import opensearch, sqlite

    monkeypatch.setattr(sqlite, "_VARIABLES", 3)
    monkeypatch.setattr(opensearch, "_PAGE", 3)
    for doc in DOCS:
        empty_index.put(doc, None)
    empty_index.refresh()
    found = empty_index.get_many([d["id"] for d in reversed(DOCS)])
    assert {i: v.doc for i, v in found.items()} == {d["id"]: d for d in DOCS}
    written = empty_index.get(DOCS[0]["id"])
    empty_index.put({**DOCS[0], "error": "changed"}, written.version)  # the version get_many gives is the one to present
    assert empty_index.get_many([DOCS[0]["id"]])[DOCS[0]["id"]].version == empty_index.get(DOCS[0]["id"]).version


def test_find_by_content(loaded_pair):
    img1 = DOCS[0]
    for backend in BACKENDS:
        index = loaded_pair[backend]
        found = index.find_by_content(img1["content_sha256"], "rekognition")
        assert found == img1, backend
        assert index.find_by_content(img1["content_sha256"], "local") is None  # another analyzer: no reuse
        assert index.find_by_content(DOCS[9]["content_sha256"], "rekognition") is None  # failed: never reused
        assert index.find_by_content("0" * 64, "rekognition") is None


# ---- writes: one fresh index per backend per test --------------------------------------------------------------------
def test_compare_and_set(empty_index):
    doc = DOCS[0]
    assert empty_index.get(doc["id"]) is None
    empty_index.put(doc, None)
    with pytest.raises(VersionConflict):
        empty_index.put(doc, None)  # must not exist yet
    first = empty_index.get(doc["id"])
    assert first.doc == doc
    changed = {**doc, "people": ["Grace Hopper"]}
    empty_index.put(changed, first.version)
    second = empty_index.get(doc["id"])
    assert second.doc == changed and second.version != first.version
    with pytest.raises(VersionConflict):
        empty_index.put(doc, first.version)  # a lost race
    with pytest.raises(VersionConflict):
        empty_index.put(DOCS[1], second.version)  # a version for a document that does not exist
    assert empty_index.get(doc["id"]).doc == changed


def test_only_one_of_concurrent_creators_wins(empty_index):
    doc = DOCS[2]
    outcomes: list[str] = []

    def create(n: int) -> None:
        try:
            empty_index.put({**doc, "camera": f"camera {n}"}, None)
            outcomes.append("won")
        except VersionConflict:
            outcomes.append("lost")

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]


def test_update_fields_is_conditional_and_searchable(empty_index):
    doc = DOCS[1]  # the husky, no faces
    empty_index.put(doc, None)
    current = empty_index.get(doc["id"])
    faces = DOCS[0]["faces"]
    empty_index.update_fields(doc["id"], {"faces": faces, "people": ["Ada Lovelace"], "face_count": 1}, current.version)
    empty_index.refresh()
    updated = empty_index.get(doc["id"])
    assert updated.doc["people"] == ["Ada Lovelace"] and updated.doc["labels"] == doc["labels"]
    assert [h["id"] for h in empty_index.search(parse_query('person:"ada lovelace" smile:true')).hits] == [doc["id"]]
    with pytest.raises(VersionConflict):
        empty_index.update_fields(doc["id"], {"people": []}, current.version)
    with pytest.raises(VersionConflict):
        empty_index.update_fields("no-such-document", {"people": []}, current.version)


def test_tombstones_stay_out_of_search_and_can_be_purged(empty_index):
    for doc in DOCS + [tombstone_with_dog()]:
        empty_index.put(doc, None)
    empty_index.refresh()
    assert {h["key"] for h in empty_index.search(parse_query("label:dog")).hits} == {IMG1, BEACH}
    assert empty_index.count(parse_query("path:holidays/2024/")) == 2
    assert empty_index.count(parse_query("status:any")) == 11
    assert empty_index.purge_tombstones("2024-07-16T23:00:00Z") == 1  # only the older tombstone
    empty_index.refresh()
    assert len(list(empty_index.iter_documents(include_deleted=True))) == 12
    assert empty_index.purge_tombstones("2025-01-01") == 1
    empty_index.refresh()
    assert len(list(empty_index.iter_documents(include_deleted=True))) == 11


def test_a_document_replaced_by_its_tombstone_leaves_search(empty_index):
    doc = DOCS[0]
    empty_index.put(doc, None)
    empty_index.refresh()
    assert empty_index.count(parse_query("dog")) == 1
    from mediaindex.domain.document import tombstone

    empty_index.put(tombstone(doc["bucket"], doc["key"], "01"), empty_index.get(doc["id"]).version)
    empty_index.refresh()
    assert empty_index.count(parse_query("dog")) == 0
    assert empty_index.search(Query(facets=("labels",))).facets == {"labels": {}}
    assert empty_index.get(doc["id"]).doc["status"] == "deleted"


def test_delete_document_removes_it_physically(empty_index):
    empty_index.put(DOCS[0], None)
    empty_index.delete_document(DOCS[0]["id"])
    empty_index.delete_document("never-there")  # no error
    empty_index.refresh()
    assert empty_index.get(DOCS[0]["id"]) is None
    assert empty_index.count(Query()) == 0
    empty_index.put(DOCS[0], None)  # and it can be created again


def test_ensure_ready_is_idempotent(empty_index):
    empty_index.put(DOCS[0], None)
    empty_index.ensure_ready()
    empty_index.ensure_ready()
    assert empty_index.get(DOCS[0]["id"]).doc == DOCS[0]


# ---- the query language's errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,message,position", [
    ("dog AND", "expected a search term", 7),
    ("(dog", "missing ')'", 0),
    ("dog)", "unbalanced ')'", 3),
    ("colour:red", "unknown field 'colour'", 0),
    ("smile:maybe", "smile takes true or false", 6),
    ("label:dog>=abc", "a threshold is >=", 6),
    ("label:dog>=150", "outside 0-100", 6),
    ("taken:2020-13-01", "not a valid date", 6),
    ("taken:2021..2020", "empty", 6),
    ('person:"Ada', "unterminated quote", 7),
    ("type:audio", "type takes image or video", 5),
    ("label: dog", "needs a value", 0),
    ("OR dog", "OR needs a search term on both sides", 0),
    ("emotion:bored", "unknown emotion", 8),
    ("age:40..20", "empty", 4),
    ("text:!!!", "no words", 5),
    ("dog - cat", "'-' must be followed by a term", 4),
    ("label:dog>90", "a threshold is written >=N", 6),
    ("cat and", "expected a search term", 7),
])
def test_parse_errors_say_what_and_where(text, message, position):
    with pytest.raises(ParseError) as caught:
        parse_query(text)
    assert message in str(caught.value)
    assert caught.value.position == position
    assert f"at position {position}" in str(caught.value)


def test_backends_accept_query_strings_and_trees(loaded_pair):
    for backend in BACKENDS:
        index = loaded_pair[backend]
        assert index.count("dog") == index.count(parse_query("dog")) == index.count(Query(where=parse_query("dog"))) == 2


def test_put_many_loads_documents_unconditionally(empty_index):
    docs = corpus()
    assert empty_index.put_many(docs, chunk_size=5) == len(docs)
    assert empty_index.put_many(docs[:2]) == 2  # replacing is allowed: no compare-and-set here
    empty_index.refresh()
    assert empty_index.count(parse_query("dog")) == 2
    version = empty_index.get(docs[0]["id"]).version
    empty_index.put({**docs[0], "camera": "x"}, version)  # versions stay usable for conditional writes
    assert empty_index.get(docs[0]["id"]).doc["camera"] == "x"
