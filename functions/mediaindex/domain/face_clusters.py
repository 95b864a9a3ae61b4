"""Remembered faces and their clusters, as the face memory (ports.FaceMemory) hands them to the use cases.

A cluster's id is `c<row id of its oldest face>`: people type it back (`mediaindex people name-cluster c12 ...`),
so the id is parsed here, once, for the CLI, the API and the collection alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.model import Box


@dataclass(frozen=True)
class FaceRef:
    """One remembered face: the picture's content hash and the face's position in its analysis."""

    content_sha256: str
    face_index: int


@dataclass
class ClusterMember:
    ref: FaceRef
    box: Box
    embedding: Any  # the face's vector (a NumPy array in the local collection)


def cluster_name(number: int) -> str:
    return f"c{number}"


def parse_cluster(name: str) -> int:
    text = name.strip().lower()
    if text.startswith("c"):
        text = text[1:]
    if not text.isdigit():
        raise ConfigurationError(f"{name!r} is not a cluster id: use one that `mediaindex people clusters` lists, e.g. c12")
    return int(text)
