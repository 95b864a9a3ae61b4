"""Face models: YuNet (detector with 5 points) and SFace (128-d embedding) from OpenCV's model zoo, dlib's 68
landmarks, the Cydral age and gender networks, an optional emotion model; and what the landmarks alone tell (pose,
open eyes and mouth, smile), measured the same way for every face."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mediaindex.domain.model import Emotion, Landmark, Pose, Quality

from .models import threads


@dataclass
class FoundFace:
    left: float  # pixels of the analysed image
    top: float
    right: float
    bottom: float
    score: float  # 0-1
    points: np.ndarray | None = None  # YuNet's 5 landmarks (x, y) in pixels, when the detector gives them

    def scaled(self, factor: float) -> "FoundFace":
        """The same face in a copy of the picture `factor` times as large."""
        return FoundFace(self.left * factor, self.top * factor, self.right * factor, self.bottom * factor, self.score,
                         None if self.points is None else self.points * factor)


def _fit(image: np.ndarray, longest: int) -> tuple[np.ndarray, float]:
    """A copy no longer than `longest` pixels on its long side (detectors do not need more), and the scale used."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, longest / max(h, w))
    if scale == 1.0:
        return image, 1.0
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA), scale


class YuNetFaceDetector:
    """YuNet (OpenCV's model zoo, 2023mar): a box, 5 landmarks (eyes, nose tip, mouth corners) and a score for each
    face. It finds faces from about 10 pixels wide without upsampling, so small pictures are analysed as they are;
    large ones are scaled to `longest` first.

    The network runs on onnxruntime (onnx_float.py: 2.4x faster than OpenCV's DNN here); what it outputs is
    turned into faces as OpenCV's `FaceDetectorYN` does (`_faces`): the same faces, scores and points.

    `min_score` is chosen by measurement (bench/face_detectors.py): the highest score of a false face on the
    labelled photos is 0.79 (a dog's face), the lowest of the 24-pixel pianist in the clip's first frames 0.87;
    0.83 sits between them. At 0.75 a false face comes in, at 0.9 the pianist is lost.
    """

    longest = 1280
    min_score = 0.83
    nms_threshold = 0.3
    # scores below this are not even kept for measurement (OpenCV's score threshold as this detector was created)
    raw_floor = 0.5
    strides = (8, 16, 32)
    top_k = 5000

    def __init__(self, path: Path, min_score: float | None = None) -> None:
        from .onnx_float import load

        self.min_score = self.min_score if min_score is None else min_score
        # A file that does not load is told by models.shared, which builds every model.
        self.session = load(path, threads(), free_input_size=True)
        self.input = self.session.get_inputs()[0].name
        self.outputs = [f"{kind}_{stride}" for kind in ("cls", "obj", "bbox", "kps") for stride in self.strides]

    def detect(self, image: np.ndarray, min_score: float | None = None) -> list[FoundFace]:
        """Faces in an RGB array, their boxes and points in the array's pixels."""
        floor = self.min_score if min_score is None else min_score
        small, scale = _fit(image, self.longest)
        rows = self._faces(small)
        found = []
        for row in rows:
            score = float(row[14])
            if score < floor:
                continue
            x, y, w, h = (float(v) / scale for v in row[:4])
            points = (np.asarray(row[4:14], dtype=np.float64) / scale).reshape(5, 2)
            found.append(FoundFace(max(0.0, x), max(0.0, y), min(float(image.shape[1]), x + w),
                                   min(float(image.shape[0]), y + h), score, points))
        return found

    def _faces(self, rgb: np.ndarray) -> np.ndarray:
        """Rows of (x, y, w, h, 5 points x y, score), as FaceDetectorYN.detect gives them: the picture in BGR,
        padded with black to a multiple of 32 on the right and bottom; per stride, each cell's score is
        sqrt(cls * obj), its box and points offsets from the cell in strides; then non-maximum suppression."""
        import cv2

        height, width = rgb.shape[:2]
        pad_h, pad_w = -(-height // 32) * 32, -(-width // 32) * 32
        blob = np.empty((1, 3, pad_h, pad_w), dtype=np.float32)
        blob[0, :, height:, :] = 0
        blob[0, :, :height, width:] = 0
        for channel in range(3):  # one plane at a time: 1.4x faster than copying the transposed whole
            blob[0, channel, :height, :width] = rgb[:, :, 2 - channel]
        out = dict(zip(self.outputs, self.session.run(self.outputs, {self.input: blob})))
        rows = []
        for stride in self.strides:
            cols = pad_w // stride
            score = np.sqrt(np.clip(out[f"cls_{stride}"].reshape(-1), 0, 1)
                            * np.clip(out[f"obj_{stride}"].reshape(-1), 0, 1))
            cells = np.flatnonzero(score >= self.raw_floor)
            if not cells.size:
                continue
            c, r = (cells % cols).astype(np.float32), (cells // cols).astype(np.float32)
            box = out[f"bbox_{stride}"].reshape(-1, 4)[cells]
            kps = out[f"kps_{stride}"].reshape(-1, 10)[cells]
            w, h = np.exp(box[:, 2]) * stride, np.exp(box[:, 3]) * stride
            x, y = (c + box[:, 0]) * stride - w / 2, (r + box[:, 1]) * stride - h / 2
            points = np.empty_like(kps)
            points[:, 0::2] = (kps[:, 0::2] + c[:, None]) * stride
            points[:, 1::2] = (kps[:, 1::2] + r[:, None]) * stride
            rows.append(np.column_stack([x, y, w, h, points, score[cells]]))
        if not rows:
            return np.zeros((0, 15), dtype=np.float32)
        faces = np.concatenate(rows).astype(np.float32)
        if len(faces) > 1:  # OpenCV suppresses on the boxes cut to whole pixels
            boxes = [[int(v) for v in row[:4]] for row in faces]
            keep = cv2.dnn.NMSBoxes(boxes, [float(v) for v in faces[:, 14]], self.raw_floor, self.nms_threshold,
                                    1.0, self.top_k)
            faces = faces[np.asarray(keep, dtype=int).reshape(-1)]
        return faces


class SFaceEmbedder:
    """SFace (OpenCV's model zoo, 2021dec): a 128-d vector from the face aligned on YuNet's five points, scaled to
    unit length so that cosine similarity is a dot product. About 30 ms a face on one core.

    As OpenCV's `FaceRecognizerSF` computes it (alignCrop, then feature), on onnxruntime (onnx_float.py): 1.3x
    faster a face, and a third of the loading time; the vectors are the same (cosine 0.99999 or more), so those
    an index already holds still match."""

    # where the five points go in the 112x112 crop (ArcFace's template, as OpenCV's alignCrop has it)
    template = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                         [70.7299, 92.2041]])
    side = 112

    def __init__(self, path: Path) -> None:
        from .onnx_float import load

        self.session = load(path, threads())
        self.input = self.session.get_inputs()[0].name

    def embed(self, image: np.ndarray, face: "FoundFace", shape=None) -> list[float]:
        """`image` is RGB. Aligned on the detector's five points, or on five taken from the 68 landmarks."""
        points = face.points if face.points is not None else five_points(points_of(shape))
        aligned = self.align(image, points)  # RGB, as OpenCV's blob of the BGR crop with swapRB
        blob = aligned.transpose(2, 0, 1)[np.newaxis].astype(np.float32)
        vector = self.session.run(None, {self.input: blob})[0].reshape(-1).astype(np.float64)
        vector /= max(float(np.linalg.norm(vector)), 1e-12)
        return [float(x) for x in vector]

    def align(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The 112x112 crop with the five points moved onto the template by the closest similarity transform
        (Umeyama's least squares, as OpenCV's alignCrop), bilinear."""
        import cv2

        matrix = similarity_transform(np.asarray(points, dtype=np.float64).reshape(5, 2), self.template)
        return cv2.warpAffine(np.ascontiguousarray(image), matrix, (self.side, self.side), flags=cv2.INTER_LINEAR)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 matrix of rotation, uniform scale and shift taking `source` points closest to `target` (Umeyama
    1991, without reflection)."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - source_mean, target - target_mean
    covariance = dst.T @ src / len(source)
    d = np.ones(2)
    if np.linalg.det(covariance) < 0:
        d[1] = -1
    u, singular, vt = np.linalg.svd(covariance)
    rotation = u @ np.diag(d) @ vt
    scale = float(singular @ d) / float(src.var(axis=0).sum())
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = target_mean - scale * rotation @ source_mean
    return matrix


def five_points(points: np.ndarray) -> np.ndarray:
    """YuNet's five points (right eye, left eye, nose tip, right and left mouth corner, as the camera sees the
    face: the first eye is on the picture's left) from the 68 iBUG landmarks."""
    return np.array([points[36:42].mean(axis=0), points[42:48].mean(axis=0), points[30], points[48], points[54]])


class FaceLandmarker:
    """dlib's 68-point shape predictor (iBUG 300-W layout)."""

    def __init__(self, path: Path) -> None:
        import dlib

        self.predictor = dlib.shape_predictor(str(path))
        self.lock = threading.Lock()

    def landmarks(self, image: np.ndarray, face: FoundFace):
        import dlib

        rect = dlib.rectangle(int(face.left), int(face.top), int(face.right) - 1, int(face.bottom) - 1)
        with self.lock:
            return self.predictor(image, rect)


class DlibFaceEmbedder:
    """dlib's ResNet face recognition model: a 128-d vector; L2 < 0.6 is usually the same person. The default
    before SFace; used when its file is put in MEDIAINDEX_MODELS_DIR."""

    def __init__(self, path: Path) -> None:
        import dlib

        self.model = dlib.face_recognition_model_v1(str(path))
        self.lock = threading.Lock()  # the network's layers hold their outputs between calls

    def embed(self, image: np.ndarray, face: "FoundFace", shape) -> list[float]:
        with self.lock:
            descriptor = self.model.compute_face_descriptor(image, shape)
        return [float(x) for x in descriptor]


class AgeGenderModel:
    """dlib's Cydral age (0-80 years, 81 classes) and gender networks as ONNX, on dlib-aligned face chips."""

    means = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
    padding = 0.2

    def __init__(self, age_path: Path, gender_path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads()
        options.inter_op_num_threads = 1
        self.age = ort.InferenceSession(str(age_path), options, providers=["CPUExecutionProvider"])
        self.gender = ort.InferenceSession(str(gender_path), options, providers=["CPUExecutionProvider"])

    def _chip(self, image: np.ndarray, shape, size: int) -> np.ndarray:
        import dlib

        chip = np.asarray(dlib.extract_image_chip(image, dlib.get_face_chip_details(shape, size, self.padding)))
        return ((chip.astype(np.float32) - self.means) / 256.0).transpose(2, 0, 1)[np.newaxis]

    def predict(self, image: np.ndarray, shape) -> tuple[int, int, str, float]:
        """(age_low, age_high, gender, gender confidence 0-100). The range spans the middle 60% of the age
        distribution, widened to at least 5 years, as Rekognition gives a range rather than a number."""
        ages = self.age.run(None, {self.age.get_inputs()[0].name: self._chip(image, shape, 64)})[0][0]
        cumulative = np.cumsum(ages / ages.sum())
        low, high = int(np.searchsorted(cumulative, 0.2)), int(np.searchsorted(cumulative, 0.8))
        if high - low < 5:
            middle = (low + high) / 2
            low, high = max(0, math.floor(middle - 2.5)), math.ceil(middle + 2.5)
        female, male = self.gender.run(None, {self.gender.get_inputs()[0].name: self._chip(image, shape, 32)})[0][0]
        gender = "Male" if male >= female else "Female"
        return low, min(high, 80), gender, float(max(male, female)) * 100.0


def _crop(image: np.ndarray, face: FoundFace) -> np.ndarray:
    """The face's pixels; a face cut by the picture's edge keeps the part inside."""
    h, w = image.shape[:2]
    return image[max(0, int(face.top)):min(h, int(face.bottom)), max(0, int(face.left)):min(w, int(face.right))]


class EmotionModel:
    """A user-supplied 7-emotion `.tflite` in facex's format: a 200x200 face crop, grey in 3 channels, 0-1;
    outputs anger, disgust, fear, happy, neutral, sadness, surprise."""

    names = ("ANGRY", "DISGUSTED", "FEAR", "HAPPY", "CALM", "SAD", "SURPRISED")

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=threads())
        self.interpreter.allocate_tensors()
        self.lock = threading.Lock()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def emotions(self, image: np.ndarray, face: FoundFace) -> list[Emotion]:
        import cv2

        crop = _crop(image, face)
        if crop.size == 0:
            return []
        grey = cv2.cvtColor(cv2.resize(crop, (200, 200)), cv2.COLOR_RGB2GRAY)
        tensor = np.repeat(grey[:, :, None], 3, axis=2).astype(np.float32)[np.newaxis] / 255.0
        with self.lock:
            self.interpreter.set_tensor(self.input["index"], tensor)
            self.interpreter.invoke()
            scores = self.interpreter.get_tensor(self.output["index"])[0].astype(np.float64)
        if scores.min() < 0 or abs(scores.sum() - 1.0) > 0.05:
            scores = np.exp(scores - scores.max())
        scores = scores / scores.sum()
        return sorted((Emotion(n, round(float(s) * 100, 2)) for n, s in zip(self.names, scores)),
                      key=lambda e: -e.confidence)


# --- what the 68 landmarks tell -------------------------------------------------------------------------------

# Rekognition's landmark names -> iBUG 68 point indices (averaged when several). "Left" is the viewer's left.
LANDMARK_POINTS = {
    "eyeLeft": (36, 37, 38, 39, 40, 41), "eyeRight": (42, 43, 44, 45, 46, 47), "nose": (30,),
    "mouthLeft": (48,), "mouthRight": (54,), "mouthUp": (51,), "mouthDown": (57,), "chinBottom": (8,),
    "leftEyeBrowLeft": (17,), "leftEyeBrowUp": (19,), "leftEyeBrowRight": (21,),
    "rightEyeBrowLeft": (22,), "rightEyeBrowUp": (24,), "rightEyeBrowRight": (26,),
    "leftEyeLeft": (36,), "leftEyeRight": (39,), "leftEyeUp": (37, 38), "leftEyeDown": (40, 41),
    "rightEyeLeft": (42,), "rightEyeRight": (45,), "rightEyeUp": (43, 44), "rightEyeDown": (46, 47),
    "noseLeft": (31,), "noseRight": (35,), "upperJawlineLeft": (0,), "midJawlineLeft": (4,),
    "upperJawlineRight": (16,), "midJawlineRight": (12,),
}

# A generic head in millimetres, camera axes (x right, y down, z away from the camera), nose tip at the origin:
# nose tip, chin, outer eye corners, mouth corners (points 30, 8, 36, 45, 48, 54).
_HEAD_POINTS = (30, 8, 36, 45, 48, 54)
_HEAD_MODEL = np.array([
    (0.0, 0.0, 0.0), (0.0, 63.6, 12.5), (-43.3, -32.7, 26.0), (43.3, -32.7, 26.0), (-28.9, 28.9, 24.1),
    (28.9, 28.9, 24.1),
], dtype=np.float64)


def points_of(shape) -> np.ndarray:
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def landmarks(points: np.ndarray, width: int, height: int) -> list[Landmark]:
    return [
        Landmark(name, round(float(points[list(idx), 0].mean()) / width, 5), round(float(points[list(idx), 1].mean()) / height, 5))
        for name, idx in LANDMARK_POINTS.items()
    ]


def pose(points: np.ndarray, width: int, height: int) -> Pose:
    """Head pose in degrees from the landmarks (solvePnP on a generic head, focal length = image width)."""
    import cv2

    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=np.float64)
    ok, rvec, _ = cv2.solvePnP(_HEAD_MODEL, points[list(_HEAD_POINTS)], camera, np.zeros(4),
                               flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return Pose(0.0, 0.0, 0.0)
    r, _ = cv2.Rodrigues(rvec)
    pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -r[2, 0]))))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return Pose(round(roll, 2), round(yaw, 2), round(pitch, 2))


def _eye_aspect(points: np.ndarray, first: int) -> float:
    p = points[first:first + 6]
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2.0 * np.linalg.norm(p[0] - p[3]) + 1e-9))


@dataclass
class Expression:
    eye_aspect: float  # about 0.3 open, below 0.2 closed
    mouth_aspect: float  # inner lip gap / inner mouth width: 0 closed, above about 0.3 open
    mouth_width: float  # mouth width / jaw width: about 0.4 at rest, wider in a smile
    corner_lift: float  # how far the mouth corners sit above the lips' centre, per mouth width

    @classmethod
    def of(cls, points: np.ndarray) -> "Expression":
        # measure in the face's own frame, so a tilted head reads the same
        eye_l, eye_r = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
        angle = math.atan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0])
        c, s = math.cos(-angle), math.sin(-angle)
        p = points @ np.array([[c, s], [-s, c]])
        mouth = np.linalg.norm(p[54] - p[48]) + 1e-9
        inner = np.linalg.norm(p[64] - p[60]) + 1e-9
        gap = np.mean([np.linalg.norm(p[61] - p[67]), np.linalg.norm(p[62] - p[66]), np.linalg.norm(p[63] - p[65])])
        centre_y = (p[62, 1] + p[66, 1]) / 2
        corners_y = (p[48, 1] + p[54, 1]) / 2
        return cls(
            eye_aspect=float((_eye_aspect(p, 36) + _eye_aspect(p, 42)) / 2),
            mouth_aspect=float(gap / inner),
            mouth_width=float(mouth / (np.linalg.norm(p[16] - p[0]) + 1e-9)),
            corner_lift=float((centre_y - corners_y) / mouth),
        )

    @property
    def eyes_open(self) -> bool:
        return self.eye_aspect >= 0.2

    @property
    def mouth_open(self) -> bool:
        return self.mouth_aspect >= 0.3

    @property
    def smile_score(self) -> float:
        """0-1: corners lifted and mouth stretched."""
        z = 25.0 * self.corner_lift + 20.0 * (self.mouth_width - 0.42)
        return 1.0 / (1.0 + math.exp(-z))

    def emotions(self) -> list[Emotion]:
        """A coarse reading from geometry alone (no emotion model supplied): HAPPY, SURPRISED or CALM."""
        happy = self.smile_score
        surprised = (1.0 - happy) * (1.0 / (1.0 + math.exp(-12.0 * (self.mouth_aspect - 0.45))))
        calm = max(0.0, 1.0 - happy - surprised)
        return sorted((Emotion(n, round(v * 100, 2)) for n, v in (("HAPPY", happy), ("SURPRISED", surprised), ("CALM", calm))),
                      key=lambda e: -e.confidence)


def quality(image: np.ndarray, face: FoundFace) -> Quality:
    """Brightness: mean grey level of the face, 0-100. Sharpness: variance of the Laplacian of the face scaled to
    128 pixels wide, mapped to 0-100 (a variance of 100 gives 63)."""
    import cv2

    crop = _crop(image, face)
    if crop.size == 0:
        return Quality(0.0, 0.0)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (128, max(1, round(128 * grey.shape[0] / grey.shape[1]))), interpolation=cv2.INTER_AREA)
    variance = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    return Quality(round(float(grey.mean()) / 2.55, 2), round(100.0 * (1.0 - math.exp(-variance / 100.0)), 2))
