"""What the known-people modules (people, rematch, face_search) share: a person's name as it is stored, the name an
enrolment key gives, the face an enrolment photo stands for, boxes as documents hold them, and the errors for a
port that is not there."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import unquote

from mediaindex.domain.document import BoxDoc
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.model import Box, Face
from mediaindex.ports import FaceCollection, FaceMemory

MAX_NAME_CHARS = 100
VERSION_CHARS = 12
# bidirectional overrides and isolates make a name display as another; control characters rewrite terminals
_BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


def check_person_name(name: Any) -> str:
    """A person's name as it is stored and searched: whitespace collapsed, 1-100 characters, no control
    characters, bidi overrides or line separators. The one rule for the CLI, the API and enrolment by S3 key."""
    if not isinstance(name, str):
        raise ConfigurationError("a person's name is text")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ConfigurationError("a person's name cannot be empty")
    if len(cleaned) > MAX_NAME_CHARS:
        raise ConfigurationError(f"a person's name has at most {MAX_NAME_CHARS} characters, not {len(cleaned)}")
    bad = next((c for c in cleaned if c in _BIDI or unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")), None)
    if bad is not None:
        raise ConfigurationError(f"a person's name cannot hold the control or direction character U+{ord(bad):04X}")
    return cleaned


def person_from_key(key: str, prefix: str) -> str | None:
    """`people/Barack Obama/1.jpg` -> "Barack Obama"; None for a key that is not `<prefix><name>/<file>`."""
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix):].split("/")
    if len(parts) < 2 or not parts[-1]:
        return None
    name = " ".join(unquote(parts[0]).split())
    return name or None


def largest(faces: list[Face]) -> int:
    """The index of the largest face: the one an enrolment photo or a search picture stands for."""
    return max(range(len(faces)), key=lambda i: faces[i].box.width * faces[i].box.height)


def box_dict(box: Box) -> BoxDoc:
    return {"left": round(box.left, 4), "top": round(box.top, 4), "width": round(box.width, 4), "height": round(box.height, 4)}


def require_collection(faces: FaceCollection | None) -> FaceCollection:
    if faces is None:
        raise ConfigurationError("known people are switched off: add 'people' to MEDIAINDEX_FEATURES")
    return faces


def require_memory(memory: FaceMemory | None, what: str) -> FaceMemory:
    if memory is None:
        raise ConfigurationError(
            f"{what} needs the vectors of every indexed face, which only the local face collection keeps "
            "(MEDIAINDEX_ANALYZER=local); Rekognition's collection holds enrolled faces only"
        )
    return memory


def enrolment_version(etag: str | None, size: int | None) -> str | None:
    """A short fingerprint of one version of an enrolment photo (S3's ETag, quotes or not, and its size); None
    when either is unknown (then the photo is never taken for unchanged)."""
    import hashlib

    tag = (etag or "").strip('"')
    if not tag or size is None:
        return None
    return hashlib.sha256(f"{tag}:{int(size)}".encode()).hexdigest()[:VERSION_CHARS]
