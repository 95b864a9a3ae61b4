"""`faces compare` on Rekognition: every face of picture A against every face of picture B.

CompareFaces compares only the largest face of its source image, so A's faces are found first (DetectFaces) and each
is sent as its own crop, against the whole of B with SimilarityThreshold 0 so that every face of B comes back with a
similarity. Cost: 1 + (faces in A) calls.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mediaindex.adapters.analysis.rekognition import rekognition_errors
from mediaindex.domain.model import Box, Face
from mediaindex.media.encode import REKOGNITION, crop_face, encode_image, encode_picture
from mediaindex.media.picture import Picture

CROP_MARGIN = 0.4  # as the collection's face search: some head and background around the box


class RekognitionComparer:
    """The FaceComparer port on Rekognition's CompareFaces."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def compare(self, a: Picture, b: Picture) -> tuple[list[tuple[int, int, float]], list[Face], list[Face], int]:
        """(pairs (face of A, face of B, similarity), faces of A, faces of B, API calls)."""
        with rekognition_errors("DetectFaces"):
            detected = self.client.detect_faces(Image={"Bytes": encode_picture(a, REKOGNITION).data}, Attributes=["DEFAULT"])
        api_calls = 1
        faces_a = [Face(_box(d["BoundingBox"]), float(d.get("Confidence") or 0.0)) for d in detected.get("FaceDetails") or []]
        target = encode_picture(b, REKOGNITION).data
        faces_b: list[Face] = []
        where: dict[tuple[float, ...], int] = {}  # B's faces come back in every response: the same box, the same face

        def face_of_b(raw: dict[str, Any]) -> int:
            box = _box(raw["BoundingBox"])
            key = tuple(round(v, 4) for v in (box.left, box.top, box.width, box.height))
            if key not in where:
                where[key] = len(faces_b)
                faces_b.append(Face(box, float(raw.get("Confidence") or 0.0)))
            return where[key]

        pairs: list[tuple[int, int, float]] = []
        for i, face in enumerate(faces_a):
            crop, _ = crop_face(a.image, face.box, CROP_MARGIN, REKOGNITION.min_side)
            api_calls += 1
            with rekognition_errors("CompareFaces"):
                try:
                    response = self.client.compare_faces(
                        SourceImage={"Bytes": encode_image(crop, REKOGNITION).data}, TargetImage={"Bytes": target},
                        SimilarityThreshold=0.0,
                    )
                except ClientError as e:
                    if e.response.get("Error", {}).get("Code") != "InvalidParameterException":
                        raise
                    continue  # Rekognition sees no face in this crop (or none in B): no pairs for it
            for match in response.get("FaceMatches") or []:
                pairs.append((i, face_of_b(match["Face"]), float(match.get("Similarity") or 0.0)))
            for unmatched in response.get("UnmatchedFaces") or []:
                face_of_b(unmatched)
        return pairs, faces_a, faces_b, api_calls


def _box(raw: dict[str, Any]) -> Box:
    return Box(float(raw.get("Left", 0.0)), float(raw.get("Top", 0.0)), float(raw.get("Width", 0.0)),
               float(raw.get("Height", 0.0))).clamp()
