"""Free text as people type it: stop words, multi-word names, lemmas, related labels, time words, places, kinds."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaindex.domain import free_text
from mediaindex.domain.expressions import (
    MAX_CONDITIONS, MAX_TERMS, And, Concept, DateRange, FactIs, LabelIs, Or, PersonIs, TextHas, check_limits,
    scoring_concepts, walk,
)
from mediaindex.domain.query_syntax import ParseError, parse_query

TODAY = date(2026, 12, 7)


def concepts(text: str) -> list[Concept]:
    return scoring_concepts(parse_query(text, TODAY))


def words(text: str) -> list[str]:
    return [c.word for c in concepts(text)]


def labels(c: Concept) -> dict[str, float]:
    return {o.name: w for o, w in zip(c.options, c.weights) if isinstance(o, LabelIs)}


@pytest.mark.parametrize("text,expected", [
    ("a horse running in a field", ["horse", "running", "field"]),
    ("pictures of my car", ["car"]),
    ("a lizard on a rock", ["lizard", "rock"]),
    ("people riding bicycles", ["people", "riding", "bicycles"]),
    ("a pizza on the table", ["pizza", "table"]),
    ("a train at the station", ["train", "station"]),
    ("someone playing the guitar", ["someone", "guitar"]),
    ("ice cream", ["ice cream"]),
    ("a fire engine and a sports car", ["fire engine", "sports car"]),
    ("my golden retriever", ["golden retriever"]),
    ("the", ["the"]),  # nothing but stop words: searched as written
    ("where is my dog?", ["dog"]),  # punctuation around a word, a possessive
    ("a boat, on the water", ["boat", "water"]),
    ("my dog's favourite spot", ["dog", "favourite", "spot"]),
    ("a t-shirt", ["t-shirt"]),
])
def test_sentences_become_concepts(text, expected):
    assert words(text) == expected


def test_a_word_brings_its_forms_and_the_labels_wordnet_relates_to_it():
    lake = labels(concepts("lake")[0])
    assert lake["lake"] == 1.0 and lake["lakeside"] >= 0.5  # "the shore of a lake"
    beach = labels(concepts("beach")[0])
    assert beach["seashore"] >= 0.5 and beach["sandbar"] >= 0.5
    assert labels(concepts("puppy")[0])["dog"] >= 0.5  # its broader term
    assert labels(concepts("drink")[0])["beverage"] > 0
    assert "ride" in labels(concepts("riding")[0])  # a verb's lemma
    assert "dog" in labels(concepts("pets")[0]) and "domestic cat" in labels(concepts("kittens")[0])
    assert "hermit crab" in labels(concepts("crab")[0])  # a word of a label's name, of the same kind of thing
    assert not any("hot dog" in labels(c) for c in concepts("dog"))  # but a dog is no hot dog
    assert "espresso maker" in labels(concepts("coffee")[0])
    assert labels(concepts("sea-lion")[0])["sea lion"] == 1.0
    dogs = concepts("dogs")[0]
    assert dogs.options[0] == LabelIs("dogs") and "dog" in dogs.options[0].forms  # plurals as before


def test_every_concept_is_also_a_person_text_place_and_camera_word():
    c = concepts("obama")[0]
    kinds = {type(o) for o in c.options}
    assert {LabelIs, PersonIs, TextHas, FactIs} <= kinds
    assert FactIs("place", "obama") in c.options and FactIs("camera", "obama") in c.options
    assert FactIs("place", "zurich") in concepts("Zürich")[0].options  # accents folded
    assert FactIs("kind", "screenshot") in concepts("screenshots")[0].options
    assert FactIs("kind", "video") in concepts("videos")[0].options


def test_quoted_text_is_one_concept_without_related_labels():
    c = concepts('"golden retriever"')[0]
    assert labels(c) == {"golden retriever": 1.0}
    assert TextHas("golden retriever", phrase=True) in c.options


def test_time_words_filter_and_leave_the_rest_to_rank():
    tree = parse_query("beach 2019", TODAY)
    assert isinstance(tree, And) and DateRange("taken_at", "2019-01-01", "2020-01-01") in tree.parts
    assert words("beach 2019") == ["beach"]
    assert parse_query("last summer", TODAY) == DateRange("taken_at", "2026-06-01", "2026-09-01")
    assert parse_query("december", TODAY) == FactIs("month", "12")
    christmas = parse_query("christmas", TODAY)  # taken at Christmas, or showing a Christmas stocking
    assert isinstance(christmas, Concept) and christmas.options[0] == FactIs("day", "12-25")
    assert LabelIs("christmas stocking") in christmas.options
    assert parse_query("christmas 2019", TODAY) == DateRange("taken_at", "2019-12-25", "2019-12-26")
    summer = parse_query("summer", TODAY)
    assert isinstance(summer, Or) and set(summer.parts) == {FactIs("month", m) for m in ("06", "07", "08")}
    assert parse_query("photos from december 2019 in paris", TODAY).parts[0] == DateRange(
        "taken_at", "2019-12-01", "2020-01-01")


def test_field_syntax_keeps_its_meaning():
    assert parse_query("label:dog>=90", TODAY) == LabelIs("dog", 90.0)
    tree = parse_query("dog AND NOT person:obama", TODAY)
    assert isinstance(tree, And) and isinstance(tree.parts[0], Concept)
    assert not any(isinstance(e, Concept) for e in walk(tree.parts[1]))
    assert scoring_concepts(parse_query("NOT dog", TODAY)) == []  # a concept under NOT never ranks


def test_the_longest_sentences_stay_within_the_limits():
    text = " ".join(f"word{i}" for i in range(MAX_TERMS))
    check_limits(parse_query(text, TODAY))  # lean concepts: label, person, text
    with pytest.raises(ParseError):
        parse_query(text + " more", TODAY)
    medium = " ".join(["lake", "beach", "dog", "cat", "snow"] * 8)
    check_limits(parse_query(medium, TODAY))
    assert free_text.budget_for(1, MAX_CONDITIONS) == free_text.MAX_RELATED
    assert free_text.budget_for(MAX_TERMS, MAX_CONDITIONS) == -1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12).filter(lambda w: w.strip() and '"' not in w), max_size=30))
def test_any_words_parse_or_give_a_clear_error(typed):
    text = " ".join(w.replace("(", "").replace(")", "") for w in typed)
    try:
        tree = parse_query(text, TODAY)
    except ParseError:
        return
    check_limits(tree)
