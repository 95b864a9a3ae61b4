"""No human face on an animal, and a person wherever there is a face.

YuNet finds faces by their shape, and a dog's or a monkey's face has that shape too: at its default threshold it
puts a face on an African hunting dog (bench/faces_on_animals.py), and in a phone library a collie's nose became
"face 1, 60-69, male, happy", so `woman` and `smile:true` found dog photos. The labels know better. A face is
*suspect* when the picture shows an animal (a label of that kind, or a detector box of one around the face) and no
person box holds the face; the classifier then looks at the face's own crop, and when most of what it sees there is
animal (the summed probability of its 398 animal classes), the face is dropped. A face in a person's box, or in a
picture without animals, is never judged, so a person holding a dog keeps their face.

The crop test alone is not enough: the classifier has no "human face" class, and a tiny real face (20-45 pixels,
the golf cart photo) can read as a platypus. That is why it runs only where the picture shows an animal.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mediaindex.domain.model import Box, Face, Instance, Label

from . import agreement, taxonomy

# A suspect face whose crop the classifier reads as animal at least this much is not a person. Human faces in animal
# pictures read 0.00-0.15 (the paper-towel photo at most); the animal faces found read 0.99-1.00.
ANIMAL_SHARE = 0.5
# the crop around a face: its box and a quarter of its size on each side, enough of the head to tell what it is
CROP_MARGIN = 0.25


def _centre_in(face: Box, box: Box) -> bool:
    x, y = face.left + face.width / 2, face.top + face.height / 2
    return box.left <= x <= box.left + box.width and box.top <= y <= box.top + box.height


def _boxes(labels: list[Label], kind: str) -> list[Box]:
    return [i.box for label in labels if agreement.kind(label) == kind for i in label.instances]


@lru_cache(maxsize=1)
def animal_classes() -> np.ndarray:
    """Which of the classifier's classes are animals (by WordNet), as a mask over its output."""
    table = taxonomy.load()
    return np.array([agreement.kind(Label(c.name, 0.0, parents=list(c.parents), aliases=list(c.aliases),
                                          broader=list(c.broader))) == "animal" for c in table.imagenet])


def suspects(faces: list[Face], labels: list[Label]) -> list[tuple[Face, bool]]:
    """(face, lies in an animal's box) for each face to check: the picture shows an animal and no person box holds
    the face."""
    if not any(agreement.kind(label) == "animal" for label in labels):
        return []
    animals, people = _boxes(labels, "animal"), _boxes(labels, "person")
    return [(face, any(_centre_in(face.box, box) for box in animals)) for face in faces
            if not any(_centre_in(face.box, box) for box in people)]


def is_animal(crop_probabilities: np.ndarray | None, on_animal_box: bool) -> bool:
    """The verdict on one suspect: its crop reads as animal; a crop too small to classify (None) is an animal's
    when it lies in an animal's box."""
    if crop_probabilities is None:
        return on_animal_box
    return float(crop_probabilities[animal_classes()].sum()) >= ANIMAL_SHARE


def person_label(labels: list[Label], faces: list[Face]) -> Label | None:
    """A "Person" label for a picture with faces whose labels name no person (the detector missed the bodies), its
    instances the faces' boxes; None when it needs none."""
    if not faces or any(agreement.kind(label) == "person" for label in labels):
        return None
    concept = taxonomy.load().coco[1]  # COCO's "person", the same label the detector gives
    return Label(name=taxonomy.display(concept.name), confidence=max(f.confidence for f in faces),
                 parents=[taxonomy.display(p) for p in concept.parents], categories=list(concept.categories),
                 aliases=list(concept.aliases), instances=[Instance(f.box, f.confidence) for f in faces])
