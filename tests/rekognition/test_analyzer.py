"""RekognitionAnalyzer on real photos and synthesised files, against a faked Rekognition behind a real boto3 client."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from PIL import Image

from mediaindex.adapters.analysis.rekognition import RETRIES, RekognitionAnalyzer
from mediaindex.config import Settings
from mediaindex.domain.errors import BadMedia, ConfigurationError, MediaTooLarge, TransientError, UnsupportedMedia
from mediaindex.domain.model import Box
from mediaindex.media import sniff
from mediaindex.media.encode import REKOGNITION
from mediaindex.media.picture import Picture
from tests.rekognition import responses as R
from tests.rekognition.conftest import mean_difference, picture_of
from tests.rekognition.fake_service import THROTTLED, Error, FakeRekognition

HUSKY = "n02110185_Siberian_husky.JPEG"


def analyzer(settings: Settings, fake: FakeRekognition) -> RekognitionAnalyzer:
    return RekognitionAnalyzer(settings, client=fake.client)


def sent_image(fake: FakeRekognition, operation: str = "DetectLabels", index: int = -1) -> bytes:
    return fake.sent(operation)[index]["Image"]["Bytes"]


def assert_acceptable(data: bytes) -> Image.Image:
    """Bytes Rekognition takes: JPEG or PNG, at most 5 MB, 80 to 10,000 pixels a side, no EXIF turn left."""
    _, fmt = sniff.sniff(data[:32])
    assert fmt in ("jpeg", "png")
    assert len(data) <= REKOGNITION.max_bytes
    image = Image.open(io.BytesIO(data))
    assert REKOGNITION.min_side <= min(image.size) and max(image.size) <= REKOGNITION.max_side
    assert image.getexif().get(0x0112, 1) == 1
    return image


def test_client_retries_throttling_adaptively(settings: Settings, fake: FakeRekognition) -> None:
    assert RETRIES == {"mode": "adaptive", "max_attempts": 10}
    # botocore reads max_attempts as retries: 11 attempts in all
    assert fake.client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 11}


def test_labels_and_faces_of_a_real_photo(settings: Settings, fake: FakeRekognition, images_dir: Path) -> None:
    picture = picture_of(images_dir / HUSKY)
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.NO_FACES)

    analysis = analyzer(settings, fake).analyze(picture)

    assert fake.operations() == ["DetectLabels", "DetectFaces"]
    labels_call = fake.sent("DetectLabels")[0]
    assert labels_call["MaxLabels"] == 50 and labels_call["MinConfidence"] == 55.0
    assert fake.sent("DetectFaces")[0]["Attributes"] == ["ALL"]
    # an upright JPEG within every limit goes as it is, and both calls get the same bytes
    assert sent_image(fake, "DetectLabels") == picture.data == sent_image(fake, "DetectFaces")
    assert analysis.analyzer == "rekognition" and analysis.api_calls == 2
    assert analysis.model_versions == {"labels": "3.0"}
    husky = analysis.labels[0]
    assert (husky.name, husky.confidence) == ("Husky", 96.31)
    assert husky.parents == ["Animal", "Canine", "Dog", "Mammal", "Pet"]
    assert husky.aliases == ["Siberian Husky"] and husky.categories == ["Animals and Pets"]
    dog = analysis.labels[1]
    assert len(dog.instances) == 1 and dog.instances[0].confidence == 97.55
    assert dog.instances[0].box == Box(0.1493, 0.0917, 0.7012, 0.8854)
    assert [label.name for label in analysis.labels][-1] == "Snow"
    assert analysis.faces == [] and analysis.text == [] and analysis.moderation is None


def test_every_face_attribute_is_mapped(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    detail = R.face_detail(R.OBAMA_1_BOX, age=(47, 55), beard=True, boundary_spill=True)
    fake.script("DetectLabels", {"Labels": [], "LabelModelVersion": "3.0"})
    fake.script("DetectFaces", {"FaceDetails": [detail]})

    face = analyzer(settings, fake).analyze(picture_of(faces_dir / "obama_1.jpg")).faces[0]

    assert face.box.left == 0.0  # Rekognition's slightly negative left is clamped into the picture
    assert (face.box.top, face.box.width, face.box.height) == (0.125, 0.296, 0.236)
    assert face.confidence == 99.99
    assert (face.age_low, face.age_high, face.gender) == (47, 55, "Male")
    assert (face.smile, face.eyeglasses, face.sunglasses, face.beard, face.mustache, face.eyes_open, face.mouth_open) == (
        True, False, False, True, False, True, False)
    assert [e.type for e in face.emotions][:2] == ["HAPPY", "CALM"] and face.top_emotion() == "HAPPY"
    assert all(e.type == e.type.upper() for e in face.emotions) and len(face.emotions) == 8
    assert (face.pose.roll, face.pose.yaw, face.pose.pitch) == (-2.13, 4.87, 8.51)
    assert (face.quality.brightness, face.quality.sharpness) == (78.9, 89.9)
    assert {m.type for m in face.landmarks} >= {"eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"}
    eye = next(m for m in face.landmarks if m.type == "eyeLeft")
    assert eye.x == pytest.approx(0.384 + 0.33 * 0.296) and eye.y == pytest.approx(0.125 + 0.4 * 0.236)
    assert face.embedding is None and face.person is None
    fields = {f.name for f in dataclasses.fields(face)}
    if "face_occluded" in fields:  # newer attributes, where the domain model has a place for them
        assert face.face_occluded is False  # type: ignore[attr-defined]
    if "eye_direction" in fields:
        assert face.eye_direction == {"yaw": 1.8, "pitch": -6.2}  # type: ignore[attr-defined]


def test_text_and_moderation_when_configured(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    settings = dataclasses.replace(settings, features=("labels", "faces", "text", "moderation"), text="always")
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.OBAMA_1_FACES)
    fake.script("DetectText", R.TEXT)
    fake.script("DetectModerationLabels", R.MODERATION)

    analysis = analyzer(settings, fake).analyze(picture_of(faces_dir / "obama_1.jpg"))

    assert fake.operations() == ["DetectLabels", "DetectFaces", "DetectText", "DetectModerationLabels"]
    assert analysis.api_calls == 4
    assert [line.text for line in analysis.text] == ["THE WHITE HOUSE"]  # lines only; words repeat them
    assert analysis.text[0].box == Box(0.34, 0.9, 0.31, 0.05)
    assert analysis.moderation == pytest.approx(0.873)  # the top-level category, not its more confident child
    assert analysis.model_versions == {"labels": "3.0", "text_gate": "always", "text": "3.0", "moderation": "7.0"}


def test_text_auto_calls_detect_text_only_when_the_labels_say_text(settings: Settings, fake: FakeRekognition,
                                                                    images_dir: Path) -> None:
    settings = dataclasses.replace(settings, features=("labels", "text"), text="auto")
    husky = picture_of(images_dir / HUSKY)
    fake.script("DetectLabels", R.HUSKY_LABELS)
    plain = analyzer(settings, fake).analyze(husky)
    assert fake.operations() == ["DetectLabels"] and plain.text == [] and plain.api_calls == 1

    fake.script("DetectLabels", {"Labels": [{"Name": "Receipt", "Confidence": 91.0, "Parents": [{"Name": "Text"}],
                                             "Instances": [], "Aliases": [], "Categories": []}],
                                 "LabelModelVersion": "3.0"})
    fake.script("DetectText", R.TEXT)
    read = analyzer(settings, fake).analyze(husky)
    assert fake.operations() == ["DetectLabels", "DetectLabels", "DetectText"]
    assert [line.text for line in read.text] == ["THE WHITE HOUSE"] and read.api_calls == 2

    never = dataclasses.replace(settings, text="never")
    assert "DetectText" not in analyzer(never, fake).operations()
    without_labels = dataclasses.replace(settings, features=("faces", "text"))
    assert analyzer(without_labels, fake).reads_text(plain)  # no labels: nothing to go by, every picture


def test_moderation_without_labels_is_zero(settings: Settings, fake: FakeRekognition, images_dir: Path) -> None:
    settings = dataclasses.replace(settings, features=("moderation",))
    fake.script("DetectModerationLabels", R.MODERATION_SAFE)
    analysis = analyzer(settings, fake).analyze(picture_of(images_dir / HUSKY))
    assert fake.operations() == ["DetectModerationLabels"]
    assert analysis.moderation == 0.0 and analysis.api_calls == 1


@pytest.mark.parametrize("kind", ["webp", "tiff", "bmp", "gif", "heic", "cmyk_jpeg"])
def test_formats_rekognition_refuses_are_sent_as_jpeg_or_png(
    kind: str, settings: Settings, fake: FakeRekognition, synthetic: dict
) -> None:
    picture = Picture.from_bytes(synthetic[kind]())
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.OBAMA_1_FACES)

    analysis = analyzer(settings, fake).analyze(picture)

    data = sent_image(fake)
    assert data != picture.data and data == sent_image(fake, "DetectFaces")
    sent = assert_acceptable(data)
    assert sent.size == picture.image.size
    # the first frame (a GIF's second frame is upside down), the same picture
    assert mean_difference(sent, picture.image) < 6
    assert analysis.labels[0].name == "Husky" and len(analysis.faces) == 1


def test_rgba_png_goes_as_it_is(settings: Settings, fake: FakeRekognition, faces_dir: Path) -> None:
    picture = picture_of(faces_dir / "rgba_32bit.png")
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.OBAMA_1_FACES)
    analyzer(settings, fake).analyze(picture)
    assert sent_image(fake) == picture.data  # PNG with alpha is accepted by Rekognition: nothing to change


def test_exif_rotated_photo_is_sent_upright(settings: Settings, fake: FakeRekognition, synthetic: dict, faces_dir: Path) -> None:
    picture = Picture.from_bytes(synthetic["exif_rotated"]())
    stored = Image.open(io.BytesIO(picture.data))
    assert stored.width > stored.height  # stored on its side
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.OBAMA_1_FACES)

    analysis = analyzer(settings, fake).analyze(picture)

    sent = assert_acceptable(sent_image(fake))
    upright = Image.open(faces_dir / "obama_1.jpg").convert("RGB")
    assert sent.size == upright.size  # portrait again
    assert mean_difference(sent, upright) < 6
    # so the face box Rekognition returns is where the face is in the upright photo users see
    assert analysis.faces[0].box == Box(0.384, 0.125, 0.296, 0.236)


def test_huge_jpeg_is_shrunk_within_the_pixel_limit(settings: Settings, fake: FakeRekognition, synthetic: dict) -> None:
    picture = Picture.from_bytes(synthetic["huge_jpeg"]())
    assert picture.image.size == (12000, 9000)
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.NO_FACES)

    analyzer(settings, fake).analyze(picture)

    sent = assert_acceptable(sent_image(fake))
    assert max(sent.size) <= 10_000
    assert sent.width / sent.height == pytest.approx(12000 / 9000, rel=1e-3)  # ratios, hence boxes, unchanged
    assert mean_difference(sent, picture.image) < 6


def test_png_over_five_megabytes_is_made_to_fit(settings: Settings, fake: FakeRekognition, synthetic: dict) -> None:
    picture = Picture.from_bytes(synthetic["big_png"]())
    assert len(picture.data) > 5 * 1024 * 1024
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.NO_FACES)

    analyzer(settings, fake).analyze(picture)

    sent = assert_acceptable(sent_image(fake))
    assert sent.width / sent.height == pytest.approx(1.0, rel=1e-2)
    assert sent.width >= 1000  # fitted by quality and a modest shrink, not made a thumbnail


def test_tiny_picture_is_enlarged_to_the_minimum(settings: Settings, fake: FakeRekognition, synthetic: dict) -> None:
    picture = Picture.from_bytes(synthetic["tiny_png"]())
    fake.script("DetectLabels", R.HUSKY_LABELS)
    fake.script("DetectFaces", R.NO_FACES)
    analyzer(settings, fake).analyze(picture)
    sent = assert_acceptable(sent_image(fake))
    assert min(sent.size) == 80 and sent.width / sent.height == pytest.approx(60 / 75, rel=0.02)


# ---- errors ------------------------------------------------------------------------------------------------------
def test_throttling_survives_the_retries(settings: Settings, fake: FakeRekognition, retry_sleeps: list, images_dir: Path) -> None:
    fake.script("DetectLabels", THROTTLED, THROTTLED, R.HUSKY_LABELS)
    fake.script("DetectFaces", Error("ProvisionedThroughputExceededException", "Provisioned rate exceeded"), R.NO_FACES)

    analysis = analyzer(settings, fake).analyze(picture_of(images_dir / HUSKY))

    assert fake.operations() == ["DetectLabels"] * 3 + ["DetectFaces"] * 2
    assert len(retry_sleeps) == 3  # botocore backed off before each retry
    assert analysis.labels[0].name == "Husky" and analysis.api_calls == 2  # retries are not extra calls of ours


def test_throttling_that_persists_is_transient(settings: Settings, fake: FakeRekognition, images_dir: Path) -> None:
    fake.script("DetectLabels", *[THROTTLED] * 11)
    with pytest.raises(TransientError, match="ThrottlingException"):
        analyzer(settings, fake).analyze(picture_of(images_dir / HUSKY))
    assert fake.operations() == ["DetectLabels"] * 11  # the first attempt and max_attempts=10 retries


def test_internal_error_that_persists_is_transient(settings: Settings, fake: FakeRekognition, images_dir: Path) -> None:
    fake.script("DetectLabels", *[Error("InternalServerError", "Internal server error", 500)] * 11)
    with pytest.raises(TransientError):
        analyzer(settings, fake).analyze(picture_of(images_dir / HUSKY))


def test_unreachable_endpoint_is_transient(settings: Settings, fake: FakeRekognition, images_dir: Path) -> None:
    from botocore.exceptions import EndpointConnectionError

    fake.script("DetectLabels", *[EndpointConnectionError(endpoint_url="https://rekognition.us-east-1.amazonaws.com/")] * 11)
    with pytest.raises(TransientError, match="unreachable"):
        analyzer(settings, fake).analyze(picture_of(images_dir / HUSKY))


@pytest.mark.parametrize(
    "error, expected",
    [
        (Error("ImageTooLargeException", "Image size is too large."), MediaTooLarge),
        (Error("InvalidParameterException", "Request has invalid parameters"), UnsupportedMedia),
        (Error("InvalidImageFormatException", "Request has invalid image format"), UnsupportedMedia),
    ],
)
def test_refused_pictures_are_bad_media(
    error: Error, expected: type, settings: Settings, fake: FakeRekognition, synthetic: dict
) -> None:
    picture = Picture.from_bytes(synthetic["webp"]())  # re-encoded already: nothing else to try
    fake.script("DetectLabels", error)
    with pytest.raises(expected) as caught:
        analyzer(settings, fake).analyze(picture)
    assert isinstance(caught.value, BadMedia) and error.message in str(caught.value)


def test_original_bytes_refused_are_sent_again_re_encoded(settings: Settings, fake: FakeRekognition, images_dir: Path) -> None:
    picture = picture_of(images_dir / HUSKY)
    fake.script("DetectLabels", Error("InvalidImageFormatException", "Request has invalid image format"), R.HUSKY_LABELS)
    fake.script("DetectFaces", R.NO_FACES)

    analysis = analyzer(settings, fake).analyze(picture)

    first, second = (call["Image"]["Bytes"] for call in fake.sent("DetectLabels"))
    assert first == picture.data and second != picture.data
    assert_acceptable(second)
    assert sent_image(fake, "DetectFaces") == second
    assert analysis.labels[0].name == "Husky" and analysis.api_calls == 3


def test_access_denied_says_what_to_do(settings: Settings, fake: FakeRekognition, images_dir: Path) -> None:
    fake.script("DetectLabels", Error("AccessDeniedException", "User is not authorized to perform: rekognition:DetectLabels"))
    with pytest.raises(ConfigurationError, match="allow rekognition:DetectLabels"):
        analyzer(settings, fake).analyze(picture_of(images_dir / HUSKY))


def test_truncated_file_fails_before_any_paid_call(settings: Settings, fake: FakeRekognition, images_dir: Path) -> None:
    data = (images_dir / HUSKY).read_bytes()
    picture = Picture.from_bytes(data[: len(data) // 2])  # the header is intact, half the pixels are missing
    with pytest.raises(BadMedia):
        analyzer(settings, fake).analyze(picture)
    assert fake.operations() == []
