"""Blending two rankings of one search: the keyword ranking (concepts, labels, people, text) and the nearest pictures
to a description's vector.

Reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009): a document's blended score is the sum, over the
rankings it is in, of 1 / (K + its rank). Ranks rather than scores because the two scores live on scales that do not
compare: the keyword score adds up confidences of concepts (tens to hundreds), a cosine similarity between a picture
and a sentence is a few tenths whose spread depends on the model (CLIP and Titan differ), and neither has been
calibrated on real photos here. K = 60 is the paper's value: it keeps one list's first place from outweighing a
document that both lists rank well."""

from __future__ import annotations

from typing import Sequence

K = 60


def reciprocal_rank_fusion(*rankings: Sequence[str], k: int = K) -> list[tuple[str, float]]:
    """(id, blended score) of every id of the rankings (each best first), best first; ties keep the order in which
    the ids were first met (the first ranking first)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, doc_id in enumerate(ranking, start=1):
            if doc_id in seen:  # an id twice in one ranking counts at its best place
                continue
            seen.add(doc_id)
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    order = {doc_id: i for i, doc_id in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))
