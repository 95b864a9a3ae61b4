"""Faces followed over a few frames of a video: which faces are one face seen again, and one face per track.

One look at a face is a noisy measurement. A detector that finds a small face in one frame often misses it in the
next, and one embedding of a small or turned face may land just either side of the matching threshold. So the
video indexer looks at each sampled frame and a few frames after it (media/video.py, `follow`), and:

- links each face to the track whose last face sits at the same place (boxes overlapping by IOU_TO_LINK or
  more; frames are a tenth of a second apart, so a face moves little), at most one face per track and frame;
- gives each track one face: the sampled frame's face when it has one (its box matches the thumbnail and the
  time), else the largest, with the mean of the track's embeddings, which is steadier than any single one. That
  face is what is matched against known people and kept in the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

from mediaindex.domain.model import Box, Face

IOU_TO_LINK = 0.3


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (any common unit)."""
    return a.overlap(b)


@dataclass
class FaceTrack:
    seen: list[tuple[int, Face]] = field(default_factory=list)  # (frame: 0 the sample, 1.. the following), face

    @property
    def last(self) -> Face:
        return self.seen[-1][1]

    def embedding(self) -> list[float] | None:
        """The mean of the embeddings the track's faces have (None when none has one)."""
        vectors = [face.embedding for _, face in self.seen if face.embedding is not None]
        if not vectors:
            return None
        return [sum(values) / len(vectors) for values in zip(*vectors)]

    def face(self) -> tuple[int, Face]:
        """(frame, the face standing for the track): the sample's face if seen there, else the largest, with the
        track's mean embedding."""
        frame, chosen = min(self.seen, key=lambda s: (s[0] != 0, -(s[1].box.width * s[1].box.height)))
        return frame, replace(chosen, embedding=self.embedding())


def link_faces(frames: Sequence[Sequence[Face]], min_overlap: float = IOU_TO_LINK) -> list[FaceTrack]:
    """Tracks over `frames` (the faces of each frame, in time order; frame 0 is the sample). A face that overlaps
    no track's last face starts a new track; the closest overlaps are linked first."""
    tracks: list[FaceTrack] = []
    for number, faces in enumerate(frames):
        pairs = sorted(
            ((iou(track.last.box, face.box), t, f) for t, track in enumerate(tracks) for f, face in enumerate(faces)),
            reverse=True,
        )
        linked_tracks: set[int] = set()
        linked_faces: set[int] = set()
        for overlap, t, f in pairs:
            if overlap < min_overlap:
                break
            if t in linked_tracks or f in linked_faces:
                continue
            tracks[t].seen.append((number, faces[f]))
            linked_tracks.add(t)
            linked_faces.add(f)
        tracks.extend(FaceTrack([(number, face)]) for f, face in enumerate(faces) if f not in linked_faces)
    return tracks
