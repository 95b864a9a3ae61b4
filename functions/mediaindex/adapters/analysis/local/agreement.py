"""When two labels cannot both be true of one object, by WordNet.

The COCO detector knows 80 classes, so anything outside them is forced into the nearest: a sea lion becomes a bird,
an ibex a horse, a tench held in a hand a banana. The ImageNet classifier knows 1,000 classes and usually knows
better. Two labels *agree* when they are one concept (a shared name or synonym) or one is a broader term of the
other (WordNet hypernyms: a Siberian husky is a dog). They *exclude* each other when both are of a kind whose members
are disjoint (an animal is one species; nothing is both an animal and a fruit, or a person and an animal) and they
do not agree. Labels of other kinds (a cup and an espresso, a bowl and a consomme) are never judged: one picture
often shows both, and WordNet does not say they exclude each other.
"""

from __future__ import annotations

from typing import Iterable

from mediaindex.domain.model import Label

# kind -> the WordNet terms (a label's own name or one of its parents) that put a label in it. A label in none of
# them is not judged.
KINDS = (
    ("person", ("person",)),
    ("animal", ("animal",)),
    ("plant", ("plant", "fruit", "edible fruit", "vegetable", "produce", "flower", "fungus")),
)


def _names(label: Label) -> set[str]:
    return {label.name.lower(), *(a.lower() for a in label.aliases)}


def _chain(label: Label) -> set[str]:
    # broader terms too general to be facets ("organism") still say what kind a label is
    return _names(label) | {p.lower() for p in (*label.parents, *label.broader)}


def kind(label: Label) -> str | None:
    chain = _chain(label)
    for name, terms in KINDS:
        if any(term in chain for term in terms):
            return name
    return None


def agree(a: Label, b: Label) -> bool:
    """One concept, or one is a broader term of the other."""
    return bool(_names(a) & _chain(b)) or bool(_names(b) & _chain(a))


def exclude(a: Label, b: Label) -> bool:
    """Both judged, and they cannot be one object."""
    kind_a, kind_b = kind(a), kind(b)
    return kind_a is not None and kind_b is not None and not agree(a, b)


def contradicted(detected: Label, classified: Iterable[Label]) -> bool:
    """The classifier (its confident labels for the whole picture) says something the detector's label excludes,
    and nothing that agrees with it."""
    classified = list(classified)
    return any(exclude(detected, c) for c in classified) and not any(agree(detected, c) for c in classified)


def same_concept(label: Label, others: Iterable[Label]) -> Label | None:
    """The label among `others` that is the same concept (a shared name or synonym), if any: one label for the
    classifier's "Teddy" and the detector's "Teddy Bear"."""
    names = _names(label)
    return next((o for o in others if names & _names(o)), None)
