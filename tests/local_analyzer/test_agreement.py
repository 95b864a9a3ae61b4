"""Labels that agree (adapters/analysis/local/agreement.py), on the real taxonomy table: no model runs here."""

from __future__ import annotations

import pytest

from mediaindex.adapters.analysis.local import agreement, taxonomy
from mediaindex.adapters.analysis.local.analyzer import _label


def label(name: str):
    table = taxonomy.load()
    for concept in (*table.imagenet, *table.coco.values()):
        if concept.name.lower() == name.lower():
            return _label(concept.name, 90.0, concept)
    raise LookupError(name)


@pytest.mark.parametrize("detected, classified", [
    ("bird", "sea lion"), ("horse", "ibex"), ("bear", "skunk"), ("cow", "water buffalo"), ("cat", "colobus"),
    ("banana", "tench"), ("person", "hermit crab"), ("bird", "tiger beetle"),
])
def test_the_coco_detectors_confident_mistakes_are_contradicted(detected, classified):
    assert agreement.exclude(label(detected), label(classified))
    assert agreement.contradicted(label(detected), [label(classified)])


@pytest.mark.parametrize("detected, classified", [
    ("dog", "Siberian husky"), ("bird", "black swan"), ("person", "groom"), ("cat", "tabby"),
])
def test_a_broader_term_agrees(detected, classified):
    assert agreement.agree(label(detected), label(classified)) and not agreement.exclude(label(detected), label(classified))


def test_labels_of_kinds_wordnet_does_not_separate_are_never_judged():
    # a cup and an espresso are often in one picture; a bowl and a consomme too
    assert agreement.kind(label("cup")) is None and not agreement.exclude(label("cup"), label("espresso"))
    assert not agreement.contradicted(label("bowl"), [label("consomme")])
    assert not agreement.contradicted(label("bird"), [])  # no confident class: nothing to contradict


def test_one_thing_agreeing_is_enough():
    # the picture shows a dog and a cat: the detector's dog is not contradicted by the classifier's tabby
    assert not agreement.contradicted(label("dog"), [label("tabby"), label("malinois")])


def test_the_same_concept_from_both_models_is_one_label():
    table = taxonomy.load()
    # the classifier's class and the detector's class for one synset, whatever names the table gives them
    detected = next(_label(c.name, 90.0, c) for c in table.coco.values() if c.wnid == "n04399382")
    classified = next(_label(c.name, 90.0, c) for c in table.imagenet if c.wnid == "n04399382")
    assert agreement.same_concept(detected, [label("dog"), classified]) is classified
    assert agreement.same_concept(label("cat"), [classified]) is None
    # a shared synonym is enough, when the names differ
    renamed = _label("Teddy", 90.0, taxonomy.Concept("", "Teddy", (), (), ()))
    assert agreement.same_concept(renamed, [classified]) is classified
