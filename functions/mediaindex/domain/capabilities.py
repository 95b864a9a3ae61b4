"""What an analyzer can see, so that a search for what it never reports says so instead of answering "nothing".

The local models find no beards, glasses or sunglasses (no packaged model for them exists), so those attributes
are null in their documents, and without an emotion model they read only HAPPY, SURPRISED and CALM from the face's
geometry. A search for `beard:true` or `emotion:sad` then finds nothing, which looks like an answer ("nobody has a
beard") but is not. `unsupported(query, capabilities)` names each such term; the CLI prints it on stderr and the
API returns it under `warnings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediaindex.domain.expressions import EmotionIs, FaceHas, walk
from mediaindex.domain.query import Query

ALL_EMOTIONS = frozenset({"HAPPY", "SAD", "ANGRY", "CONFUSED", "DISGUSTED", "SURPRISED", "CALM", "FEAR"})
ALL_FACE_ATTRIBUTES = frozenset({"smile", "eyeglasses", "sunglasses", "beard", "mustache", "eyes_open", "mouth_open",
                                 "gender", "age"})


@dataclass(frozen=True)
class Capabilities:
    analyzer: str  # as documents name it ("local", "rekognition")
    face_attributes: frozenset[str] = ALL_FACE_ATTRIBUTES
    emotions: frozenset[str] = ALL_EMOTIONS
    # why the missing ones are missing, for the message
    note: str = ""
    celebrities: bool = True  # recognises celebrities (the `celebrities` feature): Rekognition's RecognizeCelebrities


# What the local analyzer answers when the `celebrities` feature is asked of it.
NO_LOCAL_CELEBRITIES = (
    "the local analyzer recognises no celebrities: no packaged model knows famous faces (Rekognition's "
    "RecognizeCelebrities does). Use MEDIAINDEX_ANALYZER=rekognition, or leave `celebrities` out of "
    "MEDIAINDEX_FEATURES; to name people yourself, enrol them (`mediaindex people add NAME PHOTO`)"
)


REKOGNITION = Capabilities("rekognition")


def unsupported(query: Query | Any, capabilities: Capabilities | None) -> list[str]:
    """One sentence for each term of `query` that the analyzer in use never reports."""
    if capabilities is None:
        return []
    expr = query.effective_where() if isinstance(query, Query) else query
    said: dict[str, str] = {}
    why = f" ({capabilities.note})" if capabilities.note else ""
    for node in walk(expr):
        if isinstance(node, FaceHas) and node.attr not in capabilities.face_attributes:
            said.setdefault(node.attr, f"the {capabilities.analyzer} analyzer does not detect {node.attr.replace('_', ' ')}"
                            f"{why}: `{node.attr}:` can match no file it analysed")
        elif isinstance(node, EmotionIs) and node.type.upper() not in capabilities.emotions:
            known = ", ".join(sorted(e.lower() for e in capabilities.emotions))
            said.setdefault(f"emotion {node.type}", f"the {capabilities.analyzer} analyzer never reports the emotion "
                            f"{node.type.lower()} (it reports {known}){why}: `emotion:{node.type.lower()}` can "
                            "match no file it analysed")
    return list(said.values())
