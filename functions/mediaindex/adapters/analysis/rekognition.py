"""The Analyzer port on Amazon Rekognition Image: DetectLabels, DetectFaces (all attributes) and, when configured,
DetectText, DetectModerationLabels and RecognizeCelebrities (the `celebrities` feature), on the bytes of one picture.

The picture is sent as bytes (`Image={"Bytes": ...}`), re-encoded when Rekognition would refuse it (a format other
than JPEG/PNG, over 5 MB or 10,000 pixels a side, under 80 pixels) or when its EXIF orientation is not 1, so that the
boxes that come back match the upright picture users see. Throttling is retried by botocore's adaptive mode; what
survives the retries becomes a TransientError, a refused picture a BadMedia subclass.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import Any, Iterator

from mediaindex.config import Settings
from mediaindex.domain.errors import (
    BadMedia,
    ConfigurationError,
    MediaTooLarge,
    TransientError,
    UnsupportedMedia,
)
from mediaindex.domain.model import (
    Analysis, Box, Celebrity, Emotion, Face, Instance, Label, Landmark, Pose, Quality, TextLine,
)
from mediaindex.media.encode import REKOGNITION, encode_image, encode_picture
from mediaindex.media.picture import Picture

log = logging.getLogger(__name__)

# Adaptive mode: retries with backoff and slows the client's own send rate while Rekognition throttles.
RETRIES = {"mode": "adaptive", "max_attempts": 10}

_TRANSIENT_CODES = frozenset({
    "ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError", "ServiceUnavailable",
    "ServiceUnavailableException", "LimitExceededException", "RequestTimeout", "RequestTimeoutException",
    "SlowDown",
})
_CREDENTIAL_CODES = frozenset({
    "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "InvalidClientTokenId",
    "MissingAuthenticationToken",
})
# Rekognition labels (or their parents) that say a picture holds text: with MEDIAINDEX_TEXT=auto, DetectText is
# called only on pictures with one of them among DetectLabels' labels
TEXT_LABELS = frozenset({
    "text", "document", "page", "receipt", "invoice", "menu", "word", "letter", "paper", "sign", "road sign",
    "poster", "advertisement", "book", "publication", "newspaper", "magazine", "handwriting", "calligraphy",
    "id cards", "license plate", "credit card", "business card", "brochure", "flyer", "label", "screenshot",
    "web site", "scoreboard", "computer screen", "screen",
})

# DetectFaces attribute -> Face field, for the yes/no attributes ({"Value": bool, "Confidence": float})
_BOOLEAN_ATTRIBUTES = {
    "Smile": "smile", "Eyeglasses": "eyeglasses", "Sunglasses": "sunglasses", "Beard": "beard",
    "Mustache": "mustache", "EyesOpen": "eyes_open", "MouthOpen": "mouth_open",
}
_FACE_FIELDS = frozenset(f.name for f in dataclasses.fields(Face))


def make_client(settings: Settings) -> Any:
    """A boto3 Rekognition client with adaptive retries (throttling is expected under load)."""
    import boto3
    from botocore.config import Config

    config = Config(retries=dict(RETRIES), connect_timeout=10, read_timeout=60, user_agent_extra="mediaindex")
    return boto3.client("rekognition", region_name=settings.aws_region, config=config)


@contextlib.contextmanager
def rekognition_errors(operation: str, collection_id: str | None = None, image: bool = True) -> Iterator[None]:
    """Turn what boto3 raises into the errors the use cases tell apart. `image`: the call sends a picture, so an
    invalid parameter is the picture's fault rather than the configuration's."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError as BotoConnectionError,
        HTTPClientError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
    )

    try:
        yield
    except ClientError as e:
        raise translate_client_error(e, operation, collection_id, image) from e
    except ParamValidationError as e:  # refused by botocore before sending: a setting out of range
        raise ConfigurationError(f"Rekognition {operation}: {e}") from e
    except (NoCredentialsError, PartialCredentialsError) as e:
        raise ConfigurationError(f"no AWS credentials for Rekognition {operation}: {e}") from e
    except NoRegionError as e:
        raise ConfigurationError(f"no AWS region for Rekognition: set AWS_REGION ({e})") from e
    except (BotoConnectionError, HTTPClientError) as e:  # endpoint unreachable, timeouts, connection reset
        raise TransientError(f"Rekognition {operation} unreachable after retries: {e}") from e
    except BotoCoreError as e:
        raise TransientError(f"Rekognition {operation} failed: {e}") from e


def translate_client_error(error: Any, operation: str, collection_id: str | None = None, image: bool = True) -> Exception:
    info = error.response.get("Error", {})
    code = info.get("Code", "")
    message = info.get("Message") or str(error)
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if code == "InvalidImageFormatException":
        return UnsupportedMedia(f"Rekognition cannot read this image ({message})")
    if code == "ImageTooLargeException":
        return MediaTooLarge(f"Rekognition says the image is too large ({message})")
    if code in ("InvalidParameterException", "ValidationException") and not image:
        return ConfigurationError(
            f"Rekognition {operation} refused its parameters ({message})"
            + (f": check MEDIAINDEX_COLLECTION={collection_id!r}" if collection_id else "")
        )
    if code == "InvalidParameterException":
        # for an image call, what is left to be invalid is the image (its size or contents)
        return UnsupportedMedia(f"Rekognition refused the image ({operation}: {message})")
    if code == "ServiceQuotaExceededException":
        return ConfigurationError(f"Rekognition quota reached ({operation}: {message}): raise it in Service Quotas")
    if code == "InvalidS3ObjectException":
        return BadMedia(f"Rekognition cannot read the S3 object ({message})")
    if code in _TRANSIENT_CODES or status >= 500:
        return TransientError(f"Rekognition {operation} still failing after retries: {code or status}: {message}")
    if code in ("AccessDeniedException", "AccessDenied"):
        return ConfigurationError(
            f"access denied to Rekognition {operation}"
            + (f" on collection {collection_id!r}" if collection_id else "")
            + f": allow rekognition:{operation} to this role or user ({message})"
        )
    if code == "ResourceNotFoundException":
        return ConfigurationError(
            f"Rekognition face collection {collection_id!r} does not exist: create it (the CDK stack does, or "
            "`mediaindex people add` creates it on first use), or set MEDIAINDEX_COLLECTION to an existing one"
            if collection_id else f"Rekognition {operation}: resource not found ({message})"
        )
    if code in _CREDENTIAL_CODES:
        return ConfigurationError(f"AWS credentials refused by Rekognition ({code}): {message}")
    return TransientError(f"Rekognition {operation} failed: {code or status}: {message}")


def to_box(raw: dict[str, Any] | None) -> Box | None:
    if not raw:
        return None
    return Box(
        float(raw.get("Left", 0.0)), float(raw.get("Top", 0.0)), float(raw.get("Width", 0.0)), float(raw.get("Height", 0.0))
    ).clamp()


def to_label(raw: dict[str, Any]) -> Label:
    instances = []
    for inst in raw.get("Instances") or []:
        box = to_box(inst.get("BoundingBox"))
        if box is not None:
            instances.append(Instance(box, float(inst.get("Confidence", raw.get("Confidence", 0.0)))))
    return Label(
        name=raw["Name"],
        confidence=float(raw.get("Confidence", 0.0)),
        parents=[p["Name"] for p in raw.get("Parents") or [] if p.get("Name")],
        categories=[c["Name"] for c in raw.get("Categories") or [] if c.get("Name")],
        aliases=[a["Name"] for a in raw.get("Aliases") or [] if a.get("Name")],
        instances=instances,
    )


def to_face(raw: dict[str, Any]) -> Face:
    age = raw.get("AgeRange") or {}
    fields: dict[str, Any] = {
        "box": to_box(raw.get("BoundingBox")) or Box(0.0, 0.0, 0.0, 0.0),
        "confidence": float(raw.get("Confidence", 0.0)),
        "age_low": int(age["Low"]) if "Low" in age else None,
        "age_high": int(age["High"]) if "High" in age else None,
        "gender": (raw.get("Gender") or {}).get("Value"),
        "emotions": sorted(
            (Emotion(str(e["Type"]).upper(), float(e.get("Confidence", 0.0))) for e in raw.get("Emotions") or [] if e.get("Type")),
            key=lambda e: -e.confidence,
        ),
        "landmarks": [Landmark(str(m["Type"]), float(m["X"]), float(m["Y"])) for m in raw.get("Landmarks") or []
                      if "X" in m and "Y" in m and m.get("Type")],
    }
    for attribute, name in _BOOLEAN_ATTRIBUTES.items():
        value = (raw.get(attribute) or {}).get("Value")
        fields[name] = bool(value) if value is not None else None
    if raw.get("Pose"):
        p = raw["Pose"]
        fields["pose"] = Pose(float(p.get("Roll", 0.0)), float(p.get("Yaw", 0.0)), float(p.get("Pitch", 0.0)))
    if raw.get("Quality"):
        q = raw["Quality"]
        fields["quality"] = Quality(float(q.get("Brightness", 0.0)), float(q.get("Sharpness", 0.0)))
    # Newer attributes, kept when the domain model has a place for them.
    occluded = (raw.get("FaceOccluded") or {}).get("Value")
    if "face_occluded" in _FACE_FIELDS and occluded is not None:
        fields["face_occluded"] = bool(occluded)
    direction = raw.get("EyeDirection")
    if "eye_direction" in _FACE_FIELDS and direction:
        fields["eye_direction"] = {"yaw": float(direction.get("Yaw", 0.0)), "pitch": float(direction.get("Pitch", 0.0))}
    return Face(**fields)


def to_celebrity(raw: dict[str, Any]) -> Celebrity:
    """One of RecognizeCelebrities' CelebrityFaces: Name, Id, Urls, MatchConfidence, Face{BoundingBox, ...},
    KnownGender{Type}. Urls come without a scheme ("www.wikidata.org/wiki/Q..."): https is added."""
    face = raw.get("Face") or {}
    urls = tuple(u if "://" in u else f"https://{u}" for u in raw.get("Urls") or [] if isinstance(u, str) and u)
    return Celebrity(
        name=str(raw["Name"]), confidence=float(raw.get("MatchConfidence") or 0.0),
        box=to_box(face.get("BoundingBox")), celebrity_id=raw.get("Id"), urls=urls,
        known_gender=(raw.get("KnownGender") or {}).get("Type"),
    )


def moderation_score(labels: list[dict[str, Any]]) -> float:
    """0-1: the highest confidence among top-level moderation categories (those without a parent); 0 when none."""
    top = [float(m.get("Confidence", 0.0)) for m in labels if not m.get("ParentName")]
    if not top:
        top = [float(m.get("Confidence", 0.0)) for m in labels]  # only children came back: they count too
    return round(max(top, default=0.0) / 100.0, 4)


class RekognitionAnalyzer:
    """The Analyzer port on Rekognition. One instance per process; the boto3 client is thread-safe."""

    name = "rekognition"
    face_model = None  # Rekognition's vectors stay inside its collection

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self.client = client if client is not None else make_client(settings)

    def operations(self) -> list[str]:
        """The calls one picture costs with these settings."""
        ops = []
        if self.settings.has("labels"):
            ops.append("DetectLabels")
        if self.settings.has("faces") or self.settings.has("people"):
            ops.append("DetectFaces")
        if self.settings.has("text"):
            ops.append("DetectText")  # in `auto`, only on pictures whose labels say text (reads_text)
        if self.settings.has("moderation"):
            ops.append("DetectModerationLabels")
        if self.settings.has("celebrities"):
            ops.append("RecognizeCelebrities")
        return ops

    def reads_text(self, analysis: Analysis) -> bool:
        """DetectText for this picture? Always with MEDIAINDEX_TEXT=always, and when labels are not asked for (no
        cue to go by); in `auto`, when DetectLabels found a label (or a parent of one) that says text is there."""
        if self.settings.text == "always" or not self.settings.has("labels"):
            return True
        return any(name.lower() in TEXT_LABELS for label in analysis.labels for name in (label.name, *label.parents))

    def analyze(self, picture: Picture) -> Analysis:
        # Decode first (the pipeline needs the pixels anyway): a truncated file fails here, before any paid call.
        picture.image
        encoded = encode_picture(picture, REKOGNITION)
        image = {"Bytes": encoded.data}
        # A JPEG or PNG that Pillow reads may still use a feature Rekognition refuses (12-bit samples, arithmetic
        # coding): when the original bytes are refused, the decoded picture is sent re-encoded instead.
        may_reencode = not encoded.reencoded
        analysis = Analysis(analyzer=self.name)
        for operation in self.operations():
            if operation == "DetectText":
                analysis.model_versions["text_gate"] = self.settings.text  # decided (domain/freshness.py)
                if not self.reads_text(analysis):
                    continue
            try:
                response = self._call(analysis, operation, image)
            except UnsupportedMedia as e:
                if not may_reencode:
                    raise
                log.info("Rekognition refused the original bytes, sending them re-encoded: %s", e)
                image = {"Bytes": encode_image(picture.image, REKOGNITION, lossless=picture.format == "png").data}
                response = self._call(analysis, operation, image)
            may_reencode = False
            self._read(analysis, operation, response)
        return analysis

    @staticmethod
    def _read(analysis: Analysis, operation: str, response: dict[str, Any]) -> None:
        if operation == "DetectLabels":
            analysis.labels = [to_label(raw) for raw in response.get("Labels") or [] if raw.get("Name")]
            version = response.get("LabelModelVersion")
            key = "labels"
        elif operation == "DetectFaces":
            analysis.faces = [to_face(raw) for raw in response.get("FaceDetails") or []]
            version, key = None, "faces"  # DetectFaces reports no model version
        elif operation == "DetectText":
            analysis.text = [
                TextLine(t["DetectedText"], float(t.get("Confidence", 0.0)), to_box((t.get("Geometry") or {}).get("BoundingBox")))
                for t in response.get("TextDetections") or [] if t.get("Type") == "LINE" and t.get("DetectedText")
            ]
            version, key = response.get("TextModelVersion"), "text"
        elif operation == "RecognizeCelebrities":
            analysis.celebrities = [to_celebrity(raw) for raw in response.get("CelebrityFaces") or [] if raw.get("Name")]
            version, key = "recognize-celebrities", "celebrities"  # RecognizeCelebrities reports no model version
        else:
            analysis.moderation = moderation_score(response.get("ModerationLabels") or [])
            version, key = response.get("ModerationModelVersion"), "moderation"
        if version:
            analysis.model_versions[key] = str(version)

    def _call(self, analysis: Analysis, operation: str, image: dict[str, bytes]) -> dict[str, Any]:
        if operation == "DetectLabels":
            kwargs: dict[str, Any] = {
                "MaxLabels": int(self.settings.max_labels), "MinConfidence": float(self.settings.min_confidence),
            }
        elif operation == "DetectFaces":
            kwargs = {"Attributes": ["ALL"]}
        else:
            kwargs = {}
        method = getattr(self.client, _SNAKE[operation])
        analysis.api_calls += 1  # a refused call is still a call made
        with rekognition_errors(operation):
            return method(Image=image, **kwargs)


_SNAKE = {
    "DetectLabels": "detect_labels", "DetectFaces": "detect_faces", "DetectText": "detect_text",
    "DetectModerationLabels": "detect_moderation_labels", "RecognizeCelebrities": "recognize_celebrities",
}
