"""The local analyzer: the same `Analysis` as Rekognition's, from models that run on a laptop CPU, offline.

Models load lazily, once per process (see models.py), and only those the settings' features need: a labels-only
run never loads the face models. `last_timings` keeps how long each stage of the last picture took.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from mediaindex.config import Settings
from mediaindex.domain.model import Analysis, Box, Face, Instance, Label
from mediaindex.media.picture import Picture

from . import models, taxonomy
from .extras import ModerationModel, TextReader
from .faces import (
    AgeGenderModel, BlazeFaceDetector, EmotionModel, Expression, FaceEmbedder, FaceLandmarker,
    HogFaceDetector, landmarks, points_of, pose, quality,
)
from .scene import CocoDetector, ImageNetClassifier

# features this analyzer computes ("people" is matching, done by the face collection from our embeddings)
FEATURES = ("labels", "faces", "text", "moderation")
# Pictures are analysed at most this large (long side): every model works on far fewer pixels, a face still has
# hundreds, and a 200-megapixel panorama does not need gigabytes of arrays. Boxes are ratios, so nothing changes.
MAX_SIDE = 4096
# a face smaller than this (pixels, either side) is too small for landmarks and attributes to mean anything
MIN_FACE_PIXELS = 20
# A face narrower than this gets no embedding, so it is never named or clustered: a tiny face's embedding drifts
# towards an average face. Measured on the test portraits shrunk (bench/face_accuracy.py): at 20 pixels a stranger
# reaches similarity 80.6 (the threshold is 80) and a same-person pair falls to 79.8; at 24 pixels the highest
# stranger is 78.5 and the lowest same-person pair 80.8.
MIN_EMBEDDING_PIXELS = 24


class LocalAnalyzer:
    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models_dir: Path | None = settings.models_dir
        self.last_timings: dict[str, float] = {}

    # --- models, each loaded on first use and shared by every analyzer in the process ---

    def _path(self, model: models.ModelFile) -> Path | None:
        return models.locate(model, self.models_dir)

    def _versions(self, *files: models.ModelFile) -> dict[str, str]:
        out = {}
        for f in files:
            path = self._path(f)
            if path is not None:
                out[f.role] = models.describe(f, path)
        return out

    def classifier(self) -> ImageNetClassifier:
        path = self._path(models.CLASSIFIER)
        return models.shared(ImageNetClassifier, str(path), lambda: ImageNetClassifier(path))

    def detector(self) -> CocoDetector:
        graph, config = self._path(models.OBJECTS_GRAPH), self._path(models.OBJECTS_CONFIG)
        return models.shared(CocoDetector, f"{graph}|{config}", lambda: CocoDetector(graph, config))

    def face_detector(self) -> HogFaceDetector | BlazeFaceDetector:
        blazeface = self._path(models.BLAZEFACE)
        if blazeface is not None:
            return models.shared(BlazeFaceDetector, str(blazeface), lambda: BlazeFaceDetector(blazeface))
        return models.shared(HogFaceDetector, "dlib", HogFaceDetector)

    def landmarker(self) -> FaceLandmarker:
        path = self._path(models.LANDMARKS)
        return models.shared(FaceLandmarker, str(path), lambda: FaceLandmarker(path))

    def embedder(self) -> FaceEmbedder:
        path = self._path(models.FACE_EMBEDDING)
        return models.shared(FaceEmbedder, str(path), lambda: FaceEmbedder(path))

    def age_gender(self) -> AgeGenderModel:
        age, gender = self._path(models.AGE), self._path(models.GENDER)
        return models.shared(AgeGenderModel, f"{age}|{gender}", lambda: AgeGenderModel(age, gender))

    def emotion_model(self) -> EmotionModel | None:
        path = self._path(models.EMOTION)
        if path is None:
            return None
        return models.shared(EmotionModel, str(path), lambda: EmotionModel(path))

    def moderation_model(self) -> ModerationModel:
        path = self._path(models.MODERATION)
        return models.shared(ModerationModel, str(path), lambda: ModerationModel(path))

    def text_reader(self) -> TextReader:
        return models.shared(TextReader, "rapidocr", TextReader)

    def load(self) -> None:
        """Load every model the settings ask for now, instead of on the first picture (servers, benchmarks)."""
        if self.settings.has("labels"):
            self.classifier()
            self.detector()
        if self._wants_faces():
            self.face_detector()
            self.landmarker()
            self.embedder()
            self.age_gender()
            self.emotion_model()
        if self.settings.has("moderation"):
            self.moderation_model()
        if self.settings.has("text"):
            self.text_reader()

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

    def _decode(self, picture: Picture):
        """(the working copy, its pixels as a contiguous uint8 array); BadMedia for a file that does not decode."""
        with self._stage("decode"):
            image = working_copy(picture.image)
            return image, np.ascontiguousarray(np.asarray(image, dtype=np.uint8))

    def analyze(self, picture: Picture) -> Analysis:
        self.last_timings = {}
        settings = self.settings
        image, pixels = self._decode(picture)
        analysis = Analysis(analyzer=self.name)
        if settings.has("labels"):
            analysis.labels = self._labels(image)
            analysis.model_versions.update(self._versions(models.CLASSIFIER, models.OBJECTS_GRAPH))
            analysis.model_versions["taxonomy"] = taxonomy.load().version
        if self._wants_faces():
            analysis.faces = self._faces(pixels)
            analysis.model_versions.update(self._face_versions())
        if settings.has("moderation"):
            with self._stage("moderation"):
                analysis.moderation = round(self.moderation_model().score(image), 4)
            analysis.model_versions.update(self._versions(models.MODERATION))
        if settings.has("text"):
            with self._stage("text"):
                analysis.text = self.text_reader().read(image, settings.min_confidence)
            analysis.model_versions["text"] = f"rapidocr=={models.package_version('rapidocr')}"
        return analysis

    def _face_versions(self) -> dict[str, str]:
        versions = self._versions(models.LANDMARKS, models.FACE_EMBEDDING, models.AGE, models.GENDER)
        versions.update(self._versions(models.BLAZEFACE, models.EMOTION))
        versions.setdefault("face_detector", f"dlib-hog@dlib-bin=={models.package_version('dlib')}")
        versions.setdefault("emotion", "landmark-geometry")
        return versions

    def _labels(self, image) -> list[Label]:
        table = taxonomy.load()
        threshold = self.settings.min_confidence
        with self._stage("classifier"):
            probabilities = self.classifier().probabilities(image)
        with self._stage("objects"):
            detections = self.detector().detect(image, threshold / 100.0)
        labels: dict[str, Label] = {}
        for label in classifier_labels(probabilities, table, threshold):
            labels[label.name.lower()] = label
        grouped: dict[int, list] = defaultdict(list)
        for d in detections:
            grouped[d.class_id].append(d)
        for class_id, found in grouped.items():
            concept = table.coco.get(class_id)
            if concept is None:
                continue
            instances = [Instance(d.box, round(d.score * 100, 2)) for d in sorted(found, key=lambda d: -d.score)]
            label = labels.setdefault(concept.name.lower(), _label(concept.name, 0.0, concept))
            label.confidence = max(label.confidence, instances[0].confidence)
            label.instances.extend(instances)
        ordered = sorted(labels.values(), key=lambda l: -l.confidence)
        return ordered[: self.settings.max_labels]

    def analyze_faces(self, picture: Picture) -> list[Face]:
        """The faces alone (FaceAnalyzer): what the video indexer runs on the frames that follow a sample."""
        self.last_timings = {}
        if not self._wants_faces():
            return []
        return self._faces(self._decode(picture)[1])

    def _faces(self, pixels: np.ndarray) -> list[Face]:
        height, width = pixels.shape[:2]
        if min(height, width) < MIN_FACE_PIXELS:
            return []
        with self._stage("face_detect"):
            found = self.face_detector().detect(pixels)
        faces = []
        emotion_model = self.emotion_model()
        for f in sorted(found, key=lambda f: f.left):
            if min(f.right - f.left, f.bottom - f.top) < MIN_FACE_PIXELS:
                continue
            with self._stage("face_landmarks"):
                shape = self.landmarker().landmarks(pixels, f)
                points = points_of(shape)
                expression = Expression.of(points)
            embedding = None
            if f.right - f.left >= MIN_EMBEDDING_PIXELS:
                with self._stage("face_embedding"):
                    embedding = self.embedder().embed(pixels, shape)
            with self._stage("face_age_gender"):
                age_low, age_high, gender, _ = self.age_gender().predict(pixels, shape)
            with self._stage("face_emotion"):
                emotions = emotion_model.emotions(pixels, f) if emotion_model else expression.emotions()
            faces.append(Face(
                box=Box(f.left / width, f.top / height, (f.right - f.left) / width, (f.bottom - f.top) / height).clamp(),
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
            ))
        return faces


def working_copy(image):
    scale = MAX_SIDE / max(image.size)
    if scale >= 1.0:
        return image
    from PIL import Image

    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR,
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
