"""What a backfill costs and how fast Rekognition lets it go: the Rekognition price table, the calls each file
makes, the default rate under the TPS quotas, and the dry-run estimate of a listing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Iterable, Sequence

from mediaindex.ports import ObjectInfo

# Amazon Rekognition Image list prices in USD per 1,000 images, us-east-1, first tier (the first 1 million images a
# month; larger volumes are cheaper), from https://aws.amazon.com/rekognition/pricing/ as read in November 2024.
# Keep every price here; `estimate()` and the docs read this table.
PRICES_AS_OF = "2024-11"
PRICES_REGION = "us-east-1"
PRICE_PER_1000_USD = {
    "DetectLabels": 1.00,  # group 2 API
    "DetectFaces": 1.00,  # group 2 API
    "DetectText": 1.00,  # group 2 API
    "DetectModerationLabels": 1.00,  # group 2 API
    "RecognizeCelebrities": 1.00,  # group 2 API
    "SearchFacesByImage": 1.00,  # group 1 API
    "IndexFaces": 1.00,  # group 1 API
}

# Rekognition's default transactions-per-second quota per API and account in us-east-1, us-west-2 and eu-west-1
# (Service Quotas, "Transactions per second per account for ..."); smaller regions start lower (5): pass --rate.
DEFAULT_TPS = {
    "DetectLabels": 50.0,
    "DetectFaces": 50.0,
    "DetectText": 50.0,
    "DetectModerationLabels": 50.0,
    # not read from Service Quotas for this API: the lowest regional default, so the rate errs slow (pass --rate)
    "RecognizeCelebrities": 5.0,
    "SearchFacesByImage": 50.0,
    "IndexFaces": 50.0,
}
# Leave a fifth of the quota for everything else that calls Rekognition (fresh uploads, people enrolment, retries).
RATE_HEADROOM = 0.8
# The assumption behind SearchFacesByImage counts: one face per picture on average, unless told otherwise.
DEFAULT_FACES_PER_IMAGE = 1.0
# Videos: a frame is analysed every MEDIAINDEX_VIDEO_INTERVAL seconds; the listing does not say how long a video is.
DEFAULT_VIDEO_SECONDS = 60.0

IMAGE_EXTENSIONS = frozenset(
    "jpg jpeg jpe jfif png gif webp bmp tif tiff heic heif avif".split()
)
VIDEO_EXTENSIONS = frozenset("mp4 m4v mov qt mkv webm avi mts m2ts ts 3gp mpg mpeg".split())


def media_kind(key: str) -> str:
    """"image", "video" or "other", by the key's extension (an estimate: the pipeline sniffs the bytes)."""
    ext = PurePosixPath(key).suffix.lower().lstrip(".")
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return "other"


def calls_per_image(features: Sequence[str], faces_per_image: float = DEFAULT_FACES_PER_IMAGE) -> dict[str, float]:
    """Rekognition calls the pipeline makes for one picture with these features (as the Rekognition analyzer does:
    DetectFaces for faces or people, SearchFacesByImage once per detected face when people are matched)."""
    calls: dict[str, float] = {}
    if "labels" in features:
        calls["DetectLabels"] = 1.0
    if "faces" in features or "people" in features:
        calls["DetectFaces"] = 1.0
    if "text" in features:
        calls["DetectText"] = 1.0
    if "moderation" in features:
        calls["DetectModerationLabels"] = 1.0
    if "celebrities" in features:
        calls["RecognizeCelebrities"] = 1.0
    if "people" in features and faces_per_image > 0:
        calls["SearchFacesByImage"] = faces_per_image
    if "library_faces" in features and faces_per_image > 0:  # every picture with a face: counted as every one
        calls["IndexFaces"] = 1.0
    return calls


def default_rate(
    features: Sequence[str], faces_per_image: float = DEFAULT_FACES_PER_IMAGE,
    tps: dict[str, float] | None = None, headroom: float = RATE_HEADROOM,
) -> float:
    """Files per second that keep every API under its TPS quota: each API has its own quota, so the API with the
    most calls per file relative to its quota decides."""
    tps = tps or DEFAULT_TPS
    per_file = calls_per_image(features, faces_per_image)
    limits = [tps[api] / n for api, n in per_file.items() if n > 0]
    return round(headroom * min(limits), 3) if limits else 10.0


@dataclass
class Estimate:
    features: Sequence[str]
    faces_per_image: float = DEFAULT_FACES_PER_IMAGE
    video_seconds: float = DEFAULT_VIDEO_SECONDS
    video_interval: float = 6.0
    files: int = 0
    bytes: int = 0
    by_kind: Counter = field(default_factory=Counter)
    bytes_by_kind: Counter = field(default_factory=Counter)

    def add(self, infos: Iterable[ObjectInfo]) -> None:
        for info in infos:
            kind = media_kind(info.ref.key)
            self.files += 1
            self.bytes += info.size
            self.by_kind[kind] += 1
            self.bytes_by_kind[kind] += info.size

    @property
    def frames_per_video(self) -> float:
        return max(1.0, self.video_seconds / self.video_interval)

    def calls(self) -> dict[str, float]:
        """Rekognition calls by API: every picture, and every sampled video frame, is one picture's calls."""
        pictures = self.by_kind["image"] + self.by_kind["video"] * self.frames_per_video
        return {api: round(n * pictures, 1) for api, n in calls_per_image(self.features, self.faces_per_image).items()}

    def cost_usd(self) -> dict[str, float]:
        return {api: round(n / 1000 * PRICE_PER_1000_USD[api], 2) for api, n in self.calls().items()}

    def to_dict(self, rate: float | None = None) -> dict[str, Any]:
        calls = self.calls()
        cost = self.cost_usd()
        total_calls = sum(calls.values())
        return {
            "files": self.files,
            "bytes": self.bytes,
            "images": self.by_kind["image"],
            "videos": self.by_kind["video"],
            "other": self.by_kind["other"],
            "bytes_by_kind": dict(self.bytes_by_kind),
            "rekognition_calls": calls,
            "rekognition_calls_total": round(total_calls, 1),
            "list_price_usd": cost,
            "list_price_usd_total": round(sum(cost.values()), 2),
            "hours_at_rate": round(self.files / rate / 3600, 2) if rate else None,
            "assumptions": {
                "kind_by_extension": "images and videos are told apart by extension; 'other' files cost nothing "
                                     "(the pipeline marks what it cannot read as failed)",
                "faces_per_image": self.faces_per_image,
                "search_faces": "one SearchFacesByImage per detected face, when people are matched",
                "video_seconds": self.video_seconds,
                "video_frames_each": round(self.frames_per_video, 1),
                "features": list(self.features),
                "prices": f"USD per 1,000 calls, {PRICES_REGION}, first tier, as of {PRICES_AS_OF}: "
                          + ", ".join(f"{api} {p:.2f}" for api, p in PRICE_PER_1000_USD.items()),
            },
        }
