"""Amazon Rekognition emulated from the local models, for end-to-end tests.

Rekognition cannot run here. The Rekognition adapter's own tests script exact answers; an end-to-end run needs
answers that fit whatever picture is sent: this emulator looks at the bytes the real boto3 client sent, runs the
local models on them, and answers in Rekognition's response shapes (validated against botocore's service model
by FakeRekognition). A face collection keeps the embeddings of enrolled faces, so SearchFacesByImage on a face crop
really finds the right person. Throttling and outages can be injected per operation.
"""

from __future__ import annotations

import hashlib
import io
import random
import threading
import uuid
from typing import Any

import numpy as np

from mediaindex.adapters.analysis.local import LocalAnalyzer, embedding_similarity
from mediaindex.config import Settings
from mediaindex.media.picture import Picture
from tests.rekognition.fake_service import NO_FACE_IN_CROP, THROTTLED, Error, FakeRekognition

_analyzer_lock = threading.RLock()
_analyzer: LocalAnalyzer | None = None


def local_analyzer() -> LocalAnalyzer:
    global _analyzer
    with _analyzer_lock:
        if _analyzer is None:
            _analyzer = LocalAnalyzer(Settings(features=("labels", "faces")))
        return _analyzer


def _box(box: Any) -> dict[str, float]:
    return {"Width": box.width, "Height": box.height, "Left": box.left, "Top": box.top}


def _flag(value: bool | None) -> dict[str, Any]:
    return {"Value": bool(value), "Confidence": 90.0}


class RekognitionEmulator(FakeRekognition):
    def __init__(self, client: Any, seed: int = 3) -> None:
        super().__init__(client)
        self.cache: dict[str, Any] = {}
        self.embeddings: dict[str, np.ndarray] = {}  # FaceId -> vector
        self.throttle_rate: dict[str, float] = {}  # operation -> probability of ThrottlingException
        self.always_throttle_sha: set[str] = set()  # images whose every call is throttled (a persistent fault)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}

    # ---- faults --------------------------------------------------------------------------------------------------
    def _on_send(self, request: Any, **kwargs: Any) -> Any:
        import json

        target = request.headers["X-Amz-Target"]
        operation = (target.decode() if isinstance(target, bytes) else target).split(".", 1)[1]
        with self.lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            rate = self.throttle_rate.get(operation, 0.0)
            throttle = rate and self.rng.random() < rate
        if not throttle and self.always_throttle_sha:
            import base64

            image = json.loads(request.body or b"{}").get("Image") or {}
            if "Bytes" in image and hashlib.sha256(base64.b64decode(image["Bytes"])).hexdigest() in self.always_throttle_sha:
                throttle = True
        if throttle:
            self.scripted[operation].appendleft(THROTTLED)
        return super()._on_send(request, **kwargs)

    # ---- analysis ------------------------------------------------------------------------------------------------
    def _analysis(self, data: bytes) -> Any:
        key = hashlib.sha256(data).hexdigest()
        with self.lock:
            if key in self.cache:
                return self.cache[key]
        try:
            picture = Picture.from_bytes(data)
            with _analyzer_lock:
                analysis = local_analyzer().analyze(picture)
        except Exception as e:  # what Rekognition says of bytes it cannot read
            return Error("InvalidImageFormatException", f"Request has invalid image format ({e})")
        with self.lock:
            self.cache[key] = analysis
        return analysis

    def _DetectLabels(self, params: dict[str, Any]) -> Any:
        analysis = self._analysis(params["Image"]["Bytes"])
        if isinstance(analysis, Error):
            return analysis
        minimum = float(params.get("MinConfidence") or 55)
        labels = [
            {
                "Name": label.name,
                "Confidence": label.confidence,
                "Instances": [{"BoundingBox": _box(i.box), "Confidence": i.confidence} for i in label.instances],
                "Parents": [{"Name": p} for p in label.parents],
                "Aliases": [{"Name": a} for a in label.aliases],
                "Categories": [{"Name": c} for c in label.categories],
            }
            for label in analysis.labels
            if label.confidence >= minimum
        ][: int(params.get("MaxLabels") or 1000)]
        return {"Labels": labels, "LabelModelVersion": "3.0"}

    def _face_detail(self, face: Any) -> dict[str, Any]:
        detail: dict[str, Any] = {"BoundingBox": _box(face.box), "Confidence": face.confidence}
        if face.age_low is not None:
            detail["AgeRange"] = {"Low": face.age_low, "High": face.age_high}
        if face.gender:
            detail["Gender"] = {"Value": face.gender, "Confidence": 90.0}
        for attr, name in (("smile", "Smile"), ("eyeglasses", "Eyeglasses"), ("sunglasses", "Sunglasses"),
                           ("beard", "Beard"), ("mustache", "Mustache"), ("eyes_open", "EyesOpen"),
                           ("mouth_open", "MouthOpen")):
            detail[name] = _flag(getattr(face, attr))
        detail["Emotions"] = [{"Type": e.type, "Confidence": e.confidence} for e in face.emotions]
        if face.pose:
            detail["Pose"] = {"Roll": face.pose.roll, "Yaw": face.pose.yaw, "Pitch": face.pose.pitch}
        if face.quality:
            detail["Quality"] = {"Brightness": face.quality.brightness, "Sharpness": face.quality.sharpness}
        return detail

    def _DetectFaces(self, params: dict[str, Any]) -> Any:
        analysis = self._analysis(params["Image"]["Bytes"])
        if isinstance(analysis, Error):
            return analysis
        return {"FaceDetails": [self._face_detail(f) for f in analysis.faces]}

    # ---- the collection, with real matching ----------------------------------------------------------------------
    def _largest_face(self, data: bytes) -> Any:
        analysis = self._analysis(data)
        if isinstance(analysis, Error):
            return analysis
        faces = [f for f in analysis.faces if f.embedding is not None]
        if not faces:
            return NO_FACE_IN_CROP
        return max(faces, key=lambda f: f.box.width * f.box.height)

    def _IndexFaces(self, params: dict[str, Any]) -> Any:
        collection = self._faces_of(params["CollectionId"])
        if isinstance(collection, Error):
            return collection
        face = self._largest_face(params["Image"]["Bytes"])
        if isinstance(face, Error):
            return {"FaceRecords": [], "FaceModelVersion": "7.0", "UnindexedFaces": []}
        face_id = str(uuid.uuid4())
        record = {
            "FaceId": face_id, "ImageId": str(uuid.uuid4()), "ExternalImageId": params.get("ExternalImageId"),
            "BoundingBox": _box(face.box), "Confidence": face.confidence, "IndexFacesModelVersion": "7.0",
        }
        collection[face_id] = record
        self.embeddings[face_id] = np.asarray(face.embedding, dtype=np.float32)
        return {"FaceRecords": [{"Face": dict(record), "FaceDetail": self._face_detail(face)}],
                "FaceModelVersion": "7.0", "UnindexedFaces": []}

    def _SearchFacesByImage(self, params: dict[str, Any]) -> Any:
        collection = self._faces_of(params["CollectionId"])
        if isinstance(collection, Error):
            return collection
        face = self._largest_face(params["Image"]["Bytes"])
        if isinstance(face, Error):
            return face
        threshold = float(params.get("FaceMatchThreshold") or 80)
        scored = sorted(
            ((embedding_similarity(face.embedding, self.embeddings[fid]), fid) for fid in collection if fid in self.embeddings),
            reverse=True,
        )
        matches = [
            {"Similarity": sim, "Face": dict(collection[fid])}
            for sim, fid in scored[: int(params.get("MaxFaces") or 1)]
            if sim >= threshold
        ]
        return {"SearchedFaceBoundingBox": _box(face.box), "SearchedFaceConfidence": face.confidence,
                "FaceMatches": matches, "FaceModelVersion": "7.0"}
