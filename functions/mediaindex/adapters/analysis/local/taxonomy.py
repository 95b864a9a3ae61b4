"""Broader names for the models' labels, from the WordNet table in data/taxonomy.json (see build_taxonomy.py).

A classifier says "Siberian husky"; people search "dog". Each label carries its WordNet hypernyms as parents
(nearest first), so the document answers to both; hypernyms too general to be a facet of their own ("covering",
"article") are `broader`: searchable, never a parent, and the classifier's probabilities can be summed up the tree:
when no single breed is sure but together they are, the picture is still confidently a dog.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).with_name("data") / "taxonomy.json"


@dataclass(frozen=True)
class Concept:
    wnid: str
    name: str
    aliases: tuple[str, ...]
    parents: tuple[str, ...]
    categories: tuple[str, ...]
    broader: tuple[str, ...] = ()  # too general to be a facet ("covering"), still searchable


@dataclass(frozen=True)
class Taxonomy:
    imagenet: tuple[Concept, ...]  # in the classifier's output order
    coco: dict[int, Concept]  # by the detector's COCO class id
    version: str


def _concept(entry: dict) -> Concept:
    return Concept(entry["wnid"], entry["name"], tuple(entry["aliases"]), tuple(entry["parents"]),
                   tuple(entry["categories"]), tuple(entry.get("broader") or ()))


@lru_cache(maxsize=1)
def load() -> Taxonomy:
    raw = TABLE.read_bytes()
    table = json.loads(raw)
    return Taxonomy(
        imagenet=tuple(_concept(e) for e in table["imagenet"]),
        coco={int(k): _concept(v) for k, v in table["coco"].items()},
        version=f"{TABLE.name}@sha256:{hashlib.sha256(raw).hexdigest()[:16]}",
    )


def display(name: str) -> str:
    """Rekognition's style ("Siberian Husky"), leaving words with capitals of their own alone ("iPod")."""
    return " ".join(w[:1].upper() + w[1:] if w.islower() else w for w in name.split(" "))
