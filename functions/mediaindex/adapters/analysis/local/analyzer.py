"""The local analyzer: the same `Analysis` as Rekognition's, from models that run on a laptop CPU, offline.

Models load lazily, once per process (LOADERS below; models.py keeps them), and only those the settings' features
need: a labels-only run never loads the face models. `last_timings` keeps how long each stage of the last picture
took.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from mediaindex.config import Settings
from mediaindex.domain import face_vectors
from mediaindex.domain.capabilities import Capabilities
from mediaindex.domain.model import Analysis, Box, Face, Instance, Label
from mediaindex.media.picture import Picture

from . import agreement, animal_faces, models, taxonomy, text_gate
from .extras import ModerationModel, TextReader
from .faces import (
    AgeGenderModel, DlibFaceEmbedder, EmotionModel, Expression, FaceLandmarker, SFaceEmbedder, YuNetFaceDetector,
    landmarks, points_of, pose, quality,
)
from .scene import CocoDetector, ImageNetClassifier

# How each model is loaded: name -> (its class, the files whose paths it is built from, in the order it takes them).
# The name is what the analyzer asks for (LocalAnalyzer.model); each loads once per process.
LOADERS: dict[str, tuple[type[Any], tuple[models.ModelFile, ...]]] = {
    "classifier": (ImageNetClassifier, (models.CLASSIFIER,)),
    "objects": (CocoDetector, (models.OBJECTS_GRAPH, models.OBJECTS_CONFIG)),
    "face_detector": (YuNetFaceDetector, (models.FACE_DETECTOR,)),
    "landmarks": (FaceLandmarker, (models.LANDMARKS,)),
    "sface_embedder": (SFaceEmbedder, (models.SFACE,)),
    "dlib_embedder": (DlibFaceEmbedder, (models.DLIB_EMBEDDING,)),  # its file is optional: only the user's copy
    "age_gender": (AgeGenderModel, (models.AGE, models.GENDER)),
    "emotion": (EmotionModel, (models.EMOTION,)),  # optional too: without it emotions come from the face's shape
    "moderation": (ModerationModel, (models.MODERATION,)),
    "text": (TextReader, ()),  # RapidOCR finds its own files
}

# features this analyzer computes ("people" is matching, done by the face collection from our embeddings)
FEATURES = ("labels", "faces", "text", "moderation")
# Pictures are analysed at most this large (long side): every model works on far fewer pixels, a face still has
# hundreds, and a 200-megapixel panorama does not need gigabytes of arrays. Boxes are ratios, so nothing changes.
MAX_SIDE = 4096
# What the analysis reads at most finely: the face and text detectors work at 1280 px on the long side
# (faces.py, extras.py), so a big JPEG is decoded at the smallest DCT scale that keeps that (12 MP: 2016 px), and
# scaled to 1280 px once for every model that reads the whole picture (WorkingCopy).
WORKING_SIDE = 1280
# a face smaller than this (pixels, either side) is too small for landmarks and attributes to mean anything
MIN_FACE_PIXELS = 20
# A face narrower than this gets no embedding, so it is never named or clustered: a tiny face's embedding drifts
# towards an average face. Measured on the test portraits shrunk (bench/face_accuracy.py; docs/local-models.md).
MIN_EMBEDDING_PIXELS = 20


@dataclass(frozen=True)
class WorkingCopy:
    """A picture as the models read it, decoded once. `image` (and its `pixels`, RGB uint8) is at most WORKING_SIDE
    on its long side: what every model that reads the whole picture gets (labels, objects, the face detector, the
    look, moderation). `fine` is the picture as decoded (a 12 MP JPEG at 2016 px, anything else up to MAX_SIDE):
    what reads a small part closely gets it (a face's landmarks, embedding and age; a box the classifier checks;
    text). Small pictures have one copy: `fine is image`."""

    fine: Any  # PIL image
    fine_pixels: np.ndarray
    image: Any
    pixels: np.ndarray

    @property
    def scale(self) -> float:
        """`image`'s pixels per pixel of `fine`."""
        return self.image.width / self.fine.width

    @classmethod
    def of(cls, decoded: Any) -> "WorkingCopy":
        import cv2
        from PIL import Image

        fine = working_copy(decoded)
        fine_pixels = np.ascontiguousarray(np.asarray(fine, dtype=np.uint8))
        scale = WORKING_SIDE / max(fine.size)
        if scale >= 1.0:
            return cls(fine, fine_pixels, fine, fine_pixels)
        size = (max(1, round(fine.width * scale)), max(1, round(fine.height * scale)))
        # Bilinear is 5-7x faster than area averaging here and finds the same faces (a JPEG's DCT scaling leaves
        # less than 2x to go, so no pixel is skipped over); a larger step averages areas.
        interpolation = cv2.INTER_LINEAR if scale >= 0.5 else cv2.INTER_AREA
        pixels = cv2.resize(fine_pixels, size, interpolation=interpolation)
        return cls(fine, fine_pixels, Image.fromarray(pixels), pixels)


class LocalAnalyzer:
    name = "local"
    # check the detector's labels against the classifier (agreement.py); off only to measure what it changes
    labels_agree = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models_dir: Path | None = settings.models_dir
        self.last_timings: dict[str, float] = {}
        # the text gate's answer for the last picture ("always", "screen", "labels"; None: not read), and how many
        # pictures this analyzer has read text on
        self.last_text_reason: str | None = None
        self.text_reads = 0
        self._located: dict[models.ModelFile, Path | None] = {}
        self._described: dict[tuple[models.ModelFile, Path], str] = {}

    # --- models, each loaded on first use and shared by every analyzer in the process ---

    def _path(self, model: models.ModelFile) -> Path | None:
        # found once per analyzer: every picture records the same files, and looking costs milliseconds
        if model not in self._located:
            self._located[model] = models.locate(model, self.models_dir)
        return self._located[model]

    def _describe(self, model: models.ModelFile, path: Path) -> str:
        if (model, path) not in self._described:
            self._described[(model, path)] = models.describe(model, path)
        return self._described[(model, path)]

    def _versions(self, *files: models.ModelFile) -> dict[str, str]:
        out = {}
        for f in files:
            path = self._path(f)
            if path is not None:
                out[f.role] = self._describe(f, path)
        return out

    def model(self, name: str) -> Any:
        """The model `name` of LOADERS, loaded from its files on first use and shared by every analyzer in the
        process (models.shared: once, under a lock); None when one of its files is optional and not supplied."""
        build, files = LOADERS[name]
        paths = [self._path(f) for f in files]
        if None in paths:
            return None
        key = "|".join(str(p) for p in paths) or name
        return models.shared(build, key, lambda: build(*paths), files[0] if files else None)

    def _embedding_file(self) -> tuple[models.ModelFile, Path]:
        """dlib's ResNet when the user put its file in the models folder, else SFace (theirs or the packaged one)."""
        dlib_file = self._path(models.DLIB_EMBEDDING)
        if dlib_file is not None:
            return models.DLIB_EMBEDDING, dlib_file
        return models.SFACE, self._path(models.SFACE)  # type: ignore[return-value]

    def embedder(self) -> SFaceEmbedder | DlibFaceEmbedder:
        model, _ = self._embedding_file()
        return self.model("dlib_embedder" if model is models.DLIB_EMBEDDING else "sface_embedder")

    @property
    def capabilities(self) -> Capabilities:
        """What these models report (found from the files, nothing loaded): no beards, glasses or sunglasses (no
        packaged model for them exists); emotions from the face's geometry unless an emotion model is supplied."""
        if self._path(models.EMOTION) is not None:
            emotions, note = frozenset(EmotionModel.names), "no model for them ships in a package"
        else:
            emotions = frozenset({"HAPPY", "SURPRISED", "CALM"})
            note = ("no model for them ships in a package; emotions are read from the face's shape unless an "
                    "emotion model is put in MEDIAINDEX_MODELS_DIR")
        return Capabilities("local", frozenset({"smile", "eyes_open", "mouth_open", "gender", "age"}), emotions, note,
                            celebrities=False)  # no celebrities: domain/capabilities.py NO_LOCAL_CELEBRITIES

    @property
    def face_model(self) -> str | None:
        """The Analyzer port's face model: our vector space's id when faces are analysed."""
        return self.face_space.id if self._wants_faces() else None

    @property
    def face_space(self) -> face_vectors.VectorSpace:
        """The space of the face vectors this analyzer makes (found from the files, nothing loaded)."""
        return space_for(*self._embedding_file())

    def load(self) -> None:
        """Load every model the settings ask for now, instead of on the first picture (servers, benchmarks)."""
        if self.settings.has("labels"):
            self.model("classifier")
            self.model("objects")
        if self._wants_faces():
            self.model("face_detector")
            self.embedder()
        if self._wants_attributes():
            for name in ("landmarks", "age_gender", "emotion"):
                self.model(name)
        if self.settings.has("moderation"):
            self.model("moderation")
        if self.settings.has("text"):
            self.model("text")
            if self.settings.text == "auto":
                self.model("classifier")

    # --- analysis ---

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.last_timings[name] = self.last_timings.get(name, 0.0) + time.perf_counter() - started

    def _wants_faces(self) -> bool:
        # "people" matches faces by their embeddings, so it needs the faces even when "faces" is switched off
        return self.settings.has("faces") or self.settings.has("people")

    def _wants_attributes(self) -> bool:
        """Age, gender, emotions, pose, landmarks and quality are the `faces` feature: `people` alone needs boxes
        and embeddings only, so it never loads the 68-point landmark model (0.55 s a process) nor the age and
        gender networks."""
        return self.settings.has("faces")

    def _decode(self, picture: Picture) -> WorkingCopy:
        """The picture as the models read it; BadMedia for a file that does not decode."""
        with self._stage("decode"):
            return WorkingCopy.of(picture.working_image(WORKING_SIDE))

    def analyze(self, picture: Picture) -> Analysis:
        self.last_timings = {}
        self.last_text_reason = None
        settings = self.settings
        copy = self._decode(picture)
        image = copy.image
        analysis = Analysis(analyzer=self.name)
        probabilities = None
        if settings.has("labels"):
            with self._stage("classifier"):
                probabilities, feature = self.model("classifier").classify(image)
            analysis.labels = self._labels(copy, probabilities)
            with self._stage("look"):
                self._look(analysis, image, feature)
            analysis.model_versions.update(self._versions(models.CLASSIFIER, models.OBJECTS_GRAPH))
            analysis.model_versions["taxonomy"] = taxonomy.load().version
        if self._wants_faces():
            analysis.faces = self._human_faces(copy, self._faces(copy), analysis.labels)
            analysis.model_versions.update(self._face_versions())
            analysis.face_model = self.face_space.id
            person = animal_faces.person_label(analysis.labels, analysis.faces) if settings.has("labels") else None
            if person is not None:
                analysis.labels = sorted([*analysis.labels, person], key=lambda l: -l.confidence)[:settings.max_labels]
        if settings.has("moderation"):
            with self._stage("moderation"):
                analysis.moderation = round(self.model("moderation").score(image), 4)
            analysis.model_versions.update(self._versions(models.MODERATION))
        if settings.has("text"):
            self.last_text_reason = "always" if settings.text == "always" else self._text_gate(picture, image,
                                                                                           probabilities)
            # the gate decided, read or not: a screenshot indexed before text was read by default has neither this
            # nor "text", and is analysed again once (domain/freshness.py)
            analysis.model_versions["text_gate"] = settings.text
            if self.last_text_reason is not None:
                with self._stage("text"):  # lines of text are read closely: from the finer copy
                    analysis.text = self.model("text").read(copy.fine, settings.min_confidence)
                analysis.model_versions["text"] = f"rapidocr=={models.package_version('rapidocr')}"
                self.text_reads += 1
        return analysis

    def _look(self, analysis: Analysis, image, feature) -> None:
        """The look-alike vector (the classifier's pooled feature, read during the labels' run), the layout and the
        sharpness; a picture too small or blank for a layout gets no vector either (never grouped with others)."""
        from mediaindex.media import layout

        analysis.sharpness = layout.sharpness(image)
        analysis.layout = layout.signature(image)
        if feature is None or analysis.layout is None or not np.any(feature):
            return
        analysis.look = [round(float(x), 5) for x in feature]
        analysis.look_model = self.look_model

    @property
    def look_model(self) -> str:
        """The look vectors' model: the classifier file that makes them (packaged: its package's version; a
        user's own: its hash), so that vectors of another file are never compared with these."""
        return "pool:" + self._describe(models.CLASSIFIER, self._path(models.CLASSIFIER))  # type: ignore[arg-type]

    def _text_gate(self, picture: Picture, image, probabilities) -> str | None:
        """MEDIAINDEX_TEXT=auto: why this picture is worth reading (text_gate.py), or None. Without the labels
        feature the classifier runs for the gate alone (10 ms)."""
        with self._stage("text_gate"):
            if probabilities is None and not text_gate.looks_like_screen(picture):
                probabilities = self.model("classifier").probabilities(image)
            return text_gate.reason_to_read(picture, probabilities)

    def _face_versions(self) -> dict[str, str]:
        if not self._wants_attributes():
            versions = self._versions(models.FACE_DETECTOR)
        else:
            versions = self._versions(models.FACE_DETECTOR, models.LANDMARKS, models.AGE, models.GENDER,
                                      models.EMOTION)
            versions.setdefault("emotion", "landmark-geometry")
        model, path = self._embedding_file()
        versions["face_embedding"] = self._describe(model, path)
        return versions

    def _labels(self, copy: WorkingCopy, probabilities: np.ndarray) -> list[Label]:
        """The classifier's labels and the detector's objects, made to agree: a detector label that the classifier
        contradicts (agreement.py: by WordNet, the two cannot be one object) is checked on its own box, which the
        classifier then names; the COCO detector forces anything outside its 80 classes into the nearest one."""
        table = taxonomy.load()
        threshold = self.settings.min_confidence
        with self._stage("objects"):
            detections = self.model("objects").detect(copy.image, threshold / 100.0)
        labels: dict[str, Label] = {}
        for label in classifier_labels(probabilities, table, threshold):
            labels[label.name.lower()] = label
        whole = list(labels.values())
        grouped: dict[int, list] = defaultdict(list)
        for d in detections:
            grouped[d.class_id].append(d)
        for class_id, found in grouped.items():
            concept = table.coco.get(class_id)
            if concept is None:
                continue
            detected = _label(concept.name, 0.0, concept)
            for d in sorted(found, key=lambda d: -d.score):
                instance = Instance(d.box, round(d.score * 100, 2))
                owner = detected
                if self.labels_agree and agreement.contradicted(detected, whole):
                    boxed = self._label_for_box(copy.fine, d.box, detected, table, threshold)
                    if boxed is None:
                        continue  # neither the picture nor the box says it is what the detector says
                    owner = boxed
                same = agreement.same_concept(owner, labels.values()) if self.labels_agree else labels.get(owner.name.lower())
                target = labels.setdefault(owner.name.lower(), owner) if same is None else same
                target.confidence = max(target.confidence, instance.confidence if owner is detected
                                        else owner.confidence)
                target.instances.append(instance)
        ordered = sorted(labels.values(), key=lambda l: -l.confidence)
        return ordered[: self.settings.max_labels]

    def _label_for_box(self, image, box: Box, detected: Label, table: taxonomy.Taxonomy,
                       threshold: float) -> Label | None:
        """What the classifier says the detector's box holds: the detector's label when the box's classes agree with
        it, else the box's own most confident class (or broader term), else None."""
        with self._stage("objects_checked"):
            crop = _crop_box(image, box)
            box_labels = (classifier_labels(self.model("classifier").probabilities(crop), table, threshold)
                          if crop else [])
        if any(agreement.agree(detected, label) for label in box_labels):
            return detected
        judged = [label for label in box_labels if agreement.kind(label) is not None]
        return max(judged, key=lambda l: l.confidence) if judged else None

    def analyze_faces(self, picture: Picture, seen: Analysis | None = None) -> list[Face]:
        """The faces alone (FaceAnalyzer): what the video indexer runs on the frames that follow a sample; `seen`,
        the sample's analysis, tells what else is in the shot (an animal's face is no person's there either)."""
        self.last_timings = {}
        if not self._wants_faces():
            return []
        copy = self._decode(picture)
        return self._human_faces(copy, self._faces(copy), seen.labels if seen is not None else [])

    def _human_faces(self, copy: WorkingCopy, faces: list[Face], labels: list[Label]) -> list[Face]:
        """The faces less those on an animal (animal_faces.py): checked only in a picture that shows one."""
        suspects = animal_faces.suspects(faces, labels)
        if not suspects:
            return faces
        dropped = set()
        with self._stage("faces_on_animals"):
            for face, on_animal_box in suspects:
                crop = _crop_box(copy.fine, face.box, animal_faces.CROP_MARGIN)
                probabilities = self.model("classifier").probabilities(crop) if crop is not None else None
                if animal_faces.is_animal(probabilities, on_animal_box):
                    dropped.add(id(face))
        return [face for face in faces if id(face) not in dropped]

    def face_vectors(self, picture: Picture) -> list[Face]:
        """Boxes and vectors only, no attributes: enough to enrol a person, and it loads two models, not five."""
        self.last_timings = {}
        copy = self._decode(picture)
        pixels = copy.fine_pixels
        height, width = pixels.shape[:2]
        faces = []
        for f in self._detect(copy):
            if f.right - f.left < MIN_EMBEDDING_PIXELS:
                continue
            with self._stage("face_embedding"):
                embedding = self.embedder().embed(pixels, f, None)
            faces.append(Face(box=_box(f, width, height), confidence=round(f.score * 100, 2), embedding=embedding,
                              embedding_space=self.face_space.id))
        return faces

    def _bare_faces(self, copy: WorkingCopy) -> list[Face]:
        """`people` without `faces`: every face found, with its box and (from MIN_EMBEDDING_PIXELS wide) its
        embedding; no attributes, so no landmark or age and gender model loads."""
        pixels = copy.fine_pixels
        height, width = pixels.shape[:2]
        faces = []
        space = self.face_space.id
        dlib_embedding = self._embedding_file()[0] is models.DLIB_EMBEDDING  # dlib's ResNet aligns on landmarks
        for f in self._detect(copy):
            embedding = None
            if f.right - f.left >= MIN_EMBEDDING_PIXELS:
                with self._stage("face_embedding"):
                    shape = self.model("landmarks").landmarks(pixels, f) if dlib_embedding else None
                    embedding = self.embedder().embed(pixels, f, shape)
            faces.append(Face(box=_box(f, width, height), confidence=round(f.score * 100, 2), embedding=embedding,
                              embedding_space=space if embedding is not None else None))
        return faces

    def _detect(self, copy: WorkingCopy) -> list:
        """The faces the detector finds in the whole picture (`copy.pixels`), in `fine`'s pixels: the faces' own
        models read them there, and a face's size is judged there (MIN_FACE_PIXELS) as it always was."""
        if min(copy.fine_pixels.shape[:2]) < MIN_FACE_PIXELS:
            return []
        with self._stage("face_detect"):
            found = self.model("face_detector").detect(copy.pixels)
        if copy.fine is not copy.image:
            found = [f.scaled(1 / copy.scale) for f in found]
        return [f for f in sorted(found, key=lambda f: f.left) if min(f.right - f.left, f.bottom - f.top) >= MIN_FACE_PIXELS]

    def _faces(self, copy: WorkingCopy) -> list[Face]:
        if not self._wants_attributes():
            return self._bare_faces(copy)
        pixels = copy.fine_pixels
        height, width = pixels.shape[:2]
        faces = []
        emotion_model = self.model("emotion")
        space = self.face_space.id
        for f in self._detect(copy):
            with self._stage("face_landmarks"):
                shape = self.model("landmarks").landmarks(pixels, f)
                points = points_of(shape)
                expression = Expression.of(points)
            embedding = None
            if f.right - f.left >= MIN_EMBEDDING_PIXELS:
                with self._stage("face_embedding"):
                    embedding = self.embedder().embed(pixels, f, shape)
            with self._stage("face_age_gender"):
                age_low, age_high, gender, _ = self.model("age_gender").predict(pixels, shape)
            with self._stage("face_emotion"):
                emotions = emotion_model.emotions(pixels, f) if emotion_model else expression.emotions()
            faces.append(Face(
                box=_box(f, width, height),
                confidence=round(f.score * 100, 2),
                age_low=age_low,
                age_high=age_high,
                gender=gender,
                emotions=emotions,
                smile=expression.smile_score >= 0.5,
                eyes_open=expression.eyes_open,
                mouth_open=expression.mouth_open,
                pose=pose(points, width, height),
                quality=quality(pixels, f),
                landmarks=landmarks(points, width, height),
                embedding=embedding,
                embedding_space=space if embedding is not None else None,
            ))
        return faces


def _box(f, width: int, height: int) -> Box:
    return Box(f.left / width, f.top / height, (f.right - f.left) / width, (f.bottom - f.top) / height).clamp()


def space_for(model: models.ModelFile, path: Path) -> face_vectors.VectorSpace:
    """The packaged SFace file is the known SFace space; dlib's file is dlib's; a user's own SFace-format file is a
    space of its own (its hash), so its vectors are never compared with the packaged model's."""
    if model is models.DLIB_EMBEDDING:
        return face_vectors.DLIB
    if models.is_packaged(model, path):
        return face_vectors.SFACE
    return face_vectors.space_of(f"sface:{models.describe(model, path).split('sha256:')[-1]}")


def _crop_box(image, box: Box, margin: float = 0.1):
    """The box's pixels with a margin, as a picture of its own; None when it is too small to classify."""
    w, h = image.size
    left, top = (box.left - margin * box.width) * w, (box.top - margin * box.height) * h
    right, bottom = (box.left + box.width * (1 + margin)) * w, (box.top + box.height * (1 + margin)) * h
    left, top, right, bottom = max(0, int(left)), max(0, int(top)), min(w, int(right)), min(h, int(bottom))
    if right - left < 32 or bottom - top < 32:
        return None
    return image.crop((left, top, right, bottom))


def working_copy(image):
    scale = MAX_SIDE / max(image.size)
    if scale >= 1.0:
        return image
    from PIL import Image

    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR,
                        reducing_gap=2.0)


def _label(name: str, confidence: float, concept: taxonomy.Concept) -> Label:
    return Label(
        name=taxonomy.display(name),
        confidence=round(float(confidence), 2),
        parents=[taxonomy.display(p) for p in concept.parents],
        categories=list(concept.categories),
        aliases=list(concept.aliases),
        broader=[taxonomy.display(b) for b in concept.broader],
    )


def classifier_labels(probabilities: np.ndarray, table: taxonomy.Taxonomy, threshold: float) -> list[Label]:
    """Classes at or above `threshold` (0-100), and broader terms whose classes together reach it.

    Probabilities add up the WordNet tree: husky 40% + malamute 30% + Eskimo dog 20% is a dog at 90% although
    no breed reaches the threshold. A broader term is reported only when no reported label already has it as a
    parent, and only the most specific such terms (not "animal" beside "dog").
    """
    percent = probabilities.astype(np.float64) * 100.0
    labels = [_label(c.name, float(percent[i]), c) for i, c in enumerate(table.imagenet) if percent[i] >= threshold]
    covered = {label.name.lower() for label in labels} | {p.lower() for label in labels for p in label.parents}
    sums: dict[str, float] = defaultdict(float)
    best: dict[str, tuple[float, taxonomy.Concept]] = {}
    for i in np.flatnonzero(percent >= 0.5):  # the long tail cannot lift a parent to any useful threshold
        concept = table.imagenet[i]
        for parent in concept.parents:
            sums[parent.lower()] += percent[i]
            if parent.lower() not in best or best[parent.lower()][0] < percent[i]:
                best[parent.lower()] = (percent[i], concept)
    candidates = {p for p, total in sums.items() if total >= threshold and p not in covered}

    def broader_than(term: str) -> list[str]:
        concept = best[term][1]
        names = [p.lower() for p in concept.parents]
        return names[names.index(term) + 1:]

    for parent in sorted(candidates):
        if any(parent in broader_than(other) for other in candidates if other != parent):
            continue  # a more specific candidate already says this ("dog" rather than "animal")
        concept = best[parent][1]
        names = [p.lower() for p in concept.parents]
        original = concept.parents[names.index(parent)]
        broader = taxonomy.Concept("", original, (), concept.parents[names.index(parent) + 1:], concept.categories,
                                   concept.broader)
        labels.append(_label(original, min(sums[parent], 100.0), broader))
    return labels
