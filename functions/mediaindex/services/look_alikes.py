"""The look-alike use cases: "more like this" (`similar:FILE`) and finding copies to clean up (`duplicates`).

Both start from the look vectors kept by content (ports.PictureVectors) and answer with documents from the index;
the rules of what makes a copy are domain/look_alikes.py's, the pixels' check media/layout.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from mediaindex.domain import look_alikes as rules
from mediaindex.domain.document import SearchDocument
from mediaindex.domain.errors import MediaIndexError
from mediaindex.domain.expressions import MAX_WINDOW, ContentIn, Expr, SimilarTo, transform, walk
from mediaindex.domain.look_alikes import LOOK, Group, Member
from mediaindex.domain.query import Query
from mediaindex.domain.vocabulary import Status
from mediaindex.media import layout as layouts
from mediaindex.ports import Index, PictureVector, PictureVectors, SearchResult
from mediaindex.services.index_io import find_document

# how many look-alikes a `similar:` search ranks at most (its pages are cut from these)
SIMILAR_LIMIT = 500
NEIGHBOURS = 12  # look-alikes looked at per picture when finding copies


class NotFound(MediaIndexError):
    """`similar:` names a file the index does not hold, or one without a look vector."""

    code = "NotFound"


# ---- more like this ------------------------------------------------------------------------------------------------
def similar_contents(index: Index, vectors: PictureVectors | None, target: str,
                     k: int = SIMILAR_LIMIT) -> list[tuple[str, float]]:
    """The contents that look most like the file `target`, best first, with their cosine; the file's own bytes
    left out. NotFound when the index has no such file or it has no look vector."""
    doc = find_document(index, target)
    if doc is None:
        raise NotFound(f"similar:{target}: no indexed file has that path, key or id")
    sha = doc.get("content_sha256")
    found = vectors.vectors_of(LOOK, sha) if vectors is not None and sha else []
    if not found:
        why = ("look-alikes need the local analyzer" if vectors is None else
               "it was not analysed for look-alikes (too small or blank, or indexed before: run index again)")
        raise NotFound(f"similar:{target}: {why}")
    best: dict[str, float] = {}
    for vector in found:  # a video: its frames, each content by its best
        for other, cosine in vectors.nearest(LOOK, vector.model, vector.values, k + 1):  # type: ignore[union-attr]
            if other != sha and cosine > best.get(other, -2.0):
                best[other] = cosine
    return sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))[:k]


def has_similar(where: Expr) -> bool:
    return any(isinstance(e, SimilarTo) for e in walk(where))


def search_similar(index: Index, vectors: PictureVectors | None, query: Query) -> tuple[SearchResult, Query]:
    """A query with `similar:FILE`: the files that look like it and match the rest of the query, most alike first
    (whatever the sort asked: the likeness is the order), each hit with its `similarity` (cosine, 0-1)."""
    scores: dict[str, float] = {}

    def resolve(e: Expr) -> Expr:
        if isinstance(e, SimilarTo):
            found = similar_contents(index, vectors, e.target)
            for sha, cosine in found:
                scores[sha] = max(scores.get(sha, -2.0), cosine)
            return ContentIn(tuple(sha for sha, _ in found))
        return e

    where = transform(query.where, resolve)
    resolved = replace(query, where=where, offset=0, limit=min(MAX_WINDOW, SIMILAR_LIMIT * 4))
    everything = index.search(resolved)
    ranked = sorted(everything.hits, key=lambda d: (-scores.get(d.get("content_sha256") or "", -2.0), d.get("key", "")))
    page = ranked[query.offset:query.offset + query.limit]
    for doc in page:
        doc["similarity"] = round(scores.get(doc.get("content_sha256") or "", 0.0), 4)  # type: ignore[typeddict-unknown-key]
    return SearchResult(total=everything.total, hits=page, facets=everything.facets), replace(query, where=where)


# ---- copies shown once ---------------------------------------------------------------------------------------------
def collapse_copies(result: SearchResult) -> SearchResult:
    """A page of hits with each exact copy (the same bytes) shown once: the first hit of those bytes stays, with
    the other files' keys in `copies`. The total still counts files."""
    first: dict[str, SearchDocument] = {}
    hits: list[SearchDocument] = []
    for doc in result.hits:
        sha = doc.get("content_sha256")
        if sha and doc.get("status") == Status.INDEXED and sha in first:
            first[sha].setdefault("copies", []).append(doc.get("key"))  # type: ignore[typeddict-item]
            continue
        if sha:
            first[sha] = doc
        hits.append(doc)
    return SearchResult(total=result.total, hits=hits, facets=result.facets)


# ---- duplicates ----------------------------------------------------------------------------------------------------
@dataclass
class DuplicateReport:
    """Groups of copies (ordered by what removing all but the keeper frees) and, apart, groups of similar shots."""

    groups: list[Group]
    similar: list[Group] = field(default_factory=list)
    pictures: int = 0  # documents looked at
    without_vector: int = 0  # of them, without a look vector (too small, blank, not analysed for it)

    def to_dict(self, with_similar: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "groups": [group_dict(g) for g in self.groups],
            "files": self.pictures, "files_without_vector": self.without_vector,
            "reclaimable_bytes": sum(g.reclaimable for g in self.groups),
        }
        if with_similar:
            out["similar"] = [group_dict(g) for g in self.similar]
        return out


def group_dict(group: Group) -> dict[str, Any]:
    keep = group.keeper
    return {
        "keep": keep.key,
        "reclaimable_bytes": group.reclaimable,
        "files": [{
            "key": m.key, "id": m.id, "size": m.size, "pixels": m.pixels, "sharpness": m.sharpness,
            "taken_at": m.taken_at, "keep": m.id == keep.id,
            **({"reason": group.reasons[m.id]} if m.id in group.reasons else {}),
            **({"similarity": group.similarity[m.id]} if m.id in group.similarity else {}),
        } for m in group.members],
    }


def _member(doc: SearchDocument) -> Member:
    return Member(
        id=doc["id"], key=doc.get("key") or "", content_sha256=doc.get("content_sha256") or "",
        size=int(doc.get("size") or 0), pixels=int(doc.get("width") or 0) * int(doc.get("height") or 0),
        sharpness=float(doc.get("sharpness") or 0.0),
        taken_at=doc.get("taken_at") if doc.get("taken_at_source") == "exif" else None,
        indexed_at=doc.get("indexed_at"),
    )


def _documents(index: Index) -> Iterator[SearchDocument]:
    for doc in index.iter_documents():
        if doc.get("status") == Status.INDEXED and doc.get("content_sha256") and \
                doc.get("media_type") in ("image", "video"):
            yield doc


def find_duplicates(index: Index, vectors: PictureVectors | None, with_similar: bool = False) -> DuplicateReport:
    """Every group of copies in the index (module docstring of domain/look_alikes.py), and similar shots when asked."""
    by_content: dict[str, list[Member]] = {}
    media: dict[str, str] = {}
    for doc in _documents(index):
        member = _member(doc)
        by_content.setdefault(member.content_sha256, []).append(member)
        media[member.content_sha256] = str(doc.get("media_type"))
    members = {m.id: m for found in by_content.values() for m in found}
    pairs: list[tuple[str, str, str, float]] = []
    for found in by_content.values():  # the same bytes under several names
        for copy in found[1:]:
            pairs.append((found[0].id, copy.id, rules.SAME_BYTES, 1.0))
    without = 0
    if vectors is not None:
        looks: dict[str, list[PictureVector]] = {}
        for sha in by_content:
            found_vectors = vectors.vectors_of(LOOK, sha)
            if found_vectors:
                looks[sha] = found_vectors
            else:
                without += len(by_content[sha])
        judged: set[tuple[str, str]] = set()
        for sha, own in looks.items():
            for other, cosine in _neighbours(vectors, own):
                pair = (min(sha, other), max(sha, other))
                if other == sha or other not in looks or pair in judged or media[sha] != media[other]:
                    continue
                judged.add(pair)
                reason = _judge(own, looks[other], cosine, by_content[sha][0], by_content[other][0], media[sha])
                if reason is not None:
                    pairs.append((by_content[sha][0].id, by_content[other][0].id, reason, cosine))
    else:
        without = len(members)
    copies = rules.group_pairs(members, pairs)
    similar: list[Group] = []
    if with_similar:
        in_copies = {m.id for g in copies for m in g.members}
        similar_pairs = [(a, b, rules.EDITED_COPY, c) for a, b, reason, c in pairs
                         if reason == rules.SIMILAR and a not in in_copies and b not in in_copies]
        similar = rules.group_pairs(members, similar_pairs)
        for group in similar:
            group.reasons = {k: rules.SIMILAR for k in group.reasons}
    return DuplicateReport(copies, similar, len(members), without)


def _neighbours(vectors: PictureVectors, own: list[PictureVector]) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for vector in own:
        for other, cosine in vectors.nearest(LOOK, vector.model, vector.values, NEIGHBOURS,
                                             min_cosine=rules.CANDIDATE_COSINE):
            best[other] = max(best.get(other, -2.0), cosine)
    return list(best.items())


def _judge(a: list[PictureVector], b: list[PictureVector], cosine: float, member_a: Member, member_b: Member,
           media_type: str) -> str | None:
    """Why two contents belong together (domain/look_alikes.py): pictures by their one vector and layout, videos by
    their frames (a share of the shorter one's frames must have a copy among the other's)."""
    if media_type != "video":
        match = _layout_match(a[0], b[0])
        return rules.pair_reason(cosine, match, taken_apart=rules.taken_apart(member_a.taken_at, member_b.taken_at))
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    agreeing = 0
    for frame in shorter:
        for other in longer:
            c = _cosine(frame, other)
            reason = rules.pair_reason(c, _layout_match(frame, other)) if c >= rules.CANDIDATE_COSINE else None
            if reason in rules.COPY_REASONS:
                agreeing += 1
                break
    if shorter and agreeing / len(shorter) >= rules.VIDEO_FRAMES_AGREE:
        return rules.EDITED_COPY
    return rules.SIMILAR if cosine >= rules.SIMILAR_COSINE else None


def _cosine(a: PictureVector, b: PictureVector) -> float:
    if a.model != b.model or len(a.values) != len(b.values):
        return -1.0
    return float(sum(x * y for x, y in zip(a.values, b.values)))


def _layout_match(a: PictureVector, b: PictureVector) -> rules.LayoutMatch | None:
    if not a.layout or not b.layout:
        return None
    try:
        return layouts.match(a.layout, b.layout)
    except ValueError:  # a damaged layout: judged by its vector alone
        return None
