"""Look-alike pictures: what makes two files copies of one shot, what makes them only similar, and which copy to keep.

Every analysed picture gets a *look vector* (the label model's pooled feature, adapters/analysis/local/scene.py) and
a *layout* (its grey thumbnail, media/layout.py), kept by content (domain objects below; ports.PictureVectors). Two
stages decide about a pair, measured by bench/bench_duplicates.py on edited copies, bursts (frames a third of a
second apart) and different shots of one person:

1. The vectors propose: a pair whose cosine is at least CANDIDATE_COSINE is looked at (every edited copy measured
   was above it; so are many bursts and portraits of one person, which is why a second stage decides).
2. The layouts decide: the share of the picture's cells that agree after the best flip, small rotation and crop
   (media/layout.py). A copy keeps its pixels' arrangement; a burst or another shot of a scene moves things.
   At COPY_LAYOUT or more the pair is an *edited copy*; at NEAR_LAYOUT with no crop, flip or rotation and a
   cosine of NEAR_COSINE, *near-identical* (resized, re-encoded).

Two photos whose capture times are both known and differ are different shots whatever their pixels (a burst, an
exposure bracket): at most *similar*. Same bytes are always a copy.

A group's suggested keeper is the largest (pixels, then bytes), then the sharpest, then the oldest; groups are
ordered by the bytes a clean-up frees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

LOOK = "look"  # the kind of vector that finds look-alikes (ports.PictureVectors keeps several kinds)

# Measured by bench/bench_duplicates.py (docs/look-alikes.md has the figures): every edited copy of the tuning set
# had a cosine of at least 0.60 (greyscale is the weakest edit) and a layout agreement of at least 0.75 (a caption
# bar covering 15 % of the picture is the weakest); bursts without capture times reached 0.61 in the median.
CANDIDATE_COSINE = 0.58
COPY_LAYOUT = 0.74
NEAR_COSINE = 0.95
NEAR_LAYOUT = 0.97
# "similar" (a burst, the same scene again) is shown apart from copies: a cosine of at least this
SIMILAR_COSINE = 0.75
# a video pair is a copy when this share of the shorter one's frames has a copy among the other's frames
VIDEO_FRAMES_AGREE = 0.6

SAME_BYTES = "same bytes"
NEAR_IDENTICAL = "near-identical"
EDITED_COPY = "edited copy"
SIMILAR = "similar"
COPY_REASONS = (SAME_BYTES, NEAR_IDENTICAL, EDITED_COPY)  # strongest first


@dataclass(frozen=True)
class LayoutMatch:
    """How two layouts agree: the share of agreeing cells (0-1) under the best transform, and whether that
    transform was the identity (no flip, rotation or crop)."""

    agreement: float
    plain: bool


def pair_reason(cosine: float, layout: LayoutMatch | None, same_bytes: bool = False,
                taken_apart: bool = False) -> str | None:
    """Why two pictures belong together: one of COPY_REASONS, SIMILAR, or None (unrelated)."""
    if same_bytes:
        return SAME_BYTES
    if cosine < CANDIDATE_COSINE:
        return None
    if not taken_apart and layout is not None and layout.agreement >= COPY_LAYOUT:
        if layout.plain and layout.agreement >= NEAR_LAYOUT and cosine >= NEAR_COSINE:
            return NEAR_IDENTICAL
        return EDITED_COPY
    return SIMILAR if cosine >= SIMILAR_COSINE else None


def taken_apart(a: str | None, b: str | None) -> bool:
    """Were two photos taken at different moments? Only when both carry a capture time (to the second, or finer
    where the camera writes it) and the times differ: copies keep the original's time or lose it."""
    return bool(a) and bool(b) and a != b


@dataclass
class Member:
    """A file in a group, with what choosing the keeper needs."""

    id: str
    key: str
    content_sha256: str
    size: int = 0
    pixels: int = 0
    sharpness: float = 0.0
    taken_at: str | None = None
    indexed_at: str | None = None


@dataclass
class Group:
    members: list[Member]
    reasons: dict[str, str] = field(default_factory=dict)  # member id -> why it is in the group (not the keeper)
    similarity: dict[str, float] = field(default_factory=dict)  # member id -> cosine with the keeper

    @property
    def keeper(self) -> Member:
        return suggested_keeper(self.members)

    @property
    def reclaimable(self) -> int:
        """Bytes freed by removing every member but the keeper (copies of the same bytes count too)."""
        keep = self.keeper
        return sum(m.size for m in self.members if m.id != keep.id)


def suggested_keeper(members: Sequence[Member]) -> Member:
    """Largest (pixels, then bytes), then sharpest, then oldest (taken, else indexed), then by path."""
    def rank(m: Member) -> tuple[int, int, float, str, str]:
        oldest = m.taken_at or m.indexed_at or "9999"
        return (-m.pixels, -m.size, -m.sharpness, oldest, m.key)

    return min(members, key=rank)


def group_pairs(members: dict[str, Member], pairs: Iterable[tuple[str, str, str, float]]) -> list[Group]:
    """Groups of copies from pairs (id a, id b, reason, cosine) whose reason is one of COPY_REASONS: the connected
    ones, joined (union-find). Each member's reason is the strongest of its pairs; groups are ordered by the bytes
    a clean-up frees, then by their keeper's path."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    best: dict[str, tuple[int, float]] = {}
    for a, b, reason, cosine in pairs:
        if reason not in COPY_REASONS or a not in members or b not in members or a == b:
            continue
        parent[find(a)] = find(b)
        strength = COPY_REASONS.index(reason)
        for x in (a, b):
            if x not in best or (strength, -cosine) < (best[x][0], -best[x][1]):
                best[x] = (strength, cosine)
    clusters: dict[str, list[Member]] = {}
    for x in parent:
        clusters.setdefault(find(x), []).append(members[x])
    groups = []
    for found in clusters.values():
        if len(found) < 2:
            continue
        group = Group(sorted(found, key=lambda m: m.key))
        keep = group.keeper
        for m in group.members:
            if m.id != keep.id and m.id in best:
                group.reasons[m.id] = COPY_REASONS[best[m.id][0]]
                group.similarity[m.id] = round(best[m.id][1], 4)
        groups.append(group)
    groups.sort(key=lambda g: (-g.reclaimable, g.keeper.key))
    return groups
