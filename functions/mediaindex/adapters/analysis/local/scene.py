"""The two scene models: an ImageNet classifier (what the picture is of) and a COCO detector (where things are)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mediaindex.domain.model import Box

from .models import threads


def _interpreter(path: Path, keep_tensors: bool = False):
    from ai_edge_litert.interpreter import Interpreter  # the TFLite runtime alone, without TensorFlow

    if keep_tensors:  # the runtime warns that this is meant for debugging: here it is how the feature is read
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            interpreter = Interpreter(model_path=str(path), num_threads=threads(),
                                      experimental_preserve_all_tensors=True)
    else:
        interpreter = Interpreter(model_path=str(path), num_threads=threads())
    interpreter.allocate_tensors()
    return interpreter


def _feature_tensor(interpreter, output_index: int) -> dict | None:
    """The pooled feature the classifier's last layer reads (EfficientNet-Lite3: `head/Squeeze1`, 1,280 numbers):
    walking back from the output through the ops that keep its shape (softmax, dequantize), the [1, K] activation
    that the fully connected layer turns into the class scores. None for a model without one."""
    by_index = {d["index"]: d for d in interpreter.get_tensor_details()}
    writers = {int(o): op for op in interpreter._get_ops_details() for o in op["outputs"]}  # noqa: SLF001
    current = output_index
    for _ in range(8):
        op = writers.get(current)
        if op is None:
            return None
        shape = list(by_index[current]["shape"])
        activations = [by_index[int(i)] for i in op["inputs"] if int(i) in by_index and int(i) in writers]
        if len(activations) != 1:
            return None
        found = activations[0]
        if list(found["shape"]) == shape:
            current = int(found["index"])
            continue
        return found if len(found["shape"]) == 2 and found["shape"][0] == 1 and found["shape"][1] >= 64 else None
    return None


class ImageNetClassifier:
    """An ImageNet-1k `.tflite` classifier (default: EfficientNet-Lite3 int8). Any input size; uint8 inputs get
    pixels as they are, float inputs get them scaled to [-1, 1]; a 1,001st "background" output is dropped."""

    def __init__(self, path: Path) -> None:
        # every tensor is kept so that the pooled feature before the last layer can be read: the look-alike
        # vector at no extra model run (bench/bench_duplicates.py measured the same speed either way)
        self.interpreter = _interpreter(path, keep_tensors=True)
        self.lock = threading.Lock()  # one interpreter, shared by every thread of the process
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.feature = _feature_tensor(self.interpreter, self.output["index"])
        _, self.height, self.width, _ = self.input["shape"]

    def probabilities(self, image: Image.Image) -> np.ndarray:
        """1,000 class probabilities for an RGB picture: centre crop of 87.5%, as these models were evaluated."""
        return self.classify(image)[0]

    def classify(self, image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
        """(the class probabilities, the pooled feature as float32 or None when the model has none)."""
        w, h = image.size
        side = min(w, h) * 0.875
        left, top = (w - side) / 2, (h - side) / 2
        crop = image.resize((self.width, self.height), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))
        pixels: np.ndarray = np.asarray(crop, dtype=np.uint8)[np.newaxis]
        if self.input["dtype"] != np.uint8:
            pixels = pixels.astype(np.float32) / 127.5 - 1.0
        with self.lock:
            self.interpreter.set_tensor(self.input["index"], pixels)
            self.interpreter.invoke()
            raw = self.interpreter.get_tensor(self.output["index"])[0].copy()
            feature = self.interpreter.get_tensor(self.feature["index"])[0].copy() if self.feature else None
        scale, zero = self.output["quantization"]
        scores = (raw.astype(np.float32) - zero) * scale if scale else raw.astype(np.float32)
        if scores.shape[0] == 1001:
            scores = scores[1:]
        if not scale and (scores.min() < 0 or abs(float(scores.sum()) - 1.0) > 0.05):
            scores = np.exp(scores - scores.max())  # a float model that outputs logits
        # quantized softmax outputs are probabilities already, up to rounding
        probabilities = scores / max(float(scores.sum()), 1e-9)
        if feature is not None and self.feature is not None:
            f_scale, f_zero = self.feature["quantization"]
            feature = (feature.astype(np.float32) - f_zero) * f_scale if f_scale else feature.astype(np.float32)
        return probabilities, feature


@dataclass
class Detection:
    class_id: int
    score: float  # 0-1
    box: Box


class CocoDetector:
    """A TensorFlow Object Detection API SSD graph (default: SSD-MobileNetV2 COCO) run by OpenCV's dnn module;
    boxes come back as ratios of the picture."""

    input_size = 300

    def __init__(self, graph: Path, config: Path) -> None:
        import cv2

        self.net = cv2.dnn.readNetFromTensorflow(str(graph), str(config))
        self.lock = threading.Lock()

    def detect(self, image: Image.Image, min_score: float) -> list[Detection]:
        import cv2

        rgb = np.asarray(image, dtype=np.uint8)
        # the graph was trained on RGB: OpenCV's usual BGR swap is not wanted here
        blob = cv2.dnn.blobFromImage(rgb, size=(self.input_size, self.input_size), swapRB=False, crop=False)
        with self.lock:
            self.net.setInput(blob)
            out = self.net.forward()  # [1, 1, N, 7]: image id, class id, score, x1, y1, x2, y2
        found = []
        for _, class_id, score, x1, y1, x2, y2 in out.reshape(-1, 7):
            if score < min_score or x2 <= x1 or y2 <= y1:
                continue
            found.append(Detection(int(class_id), float(score), Box(float(x1), float(y1), float(x2 - x1), float(y2 - y1)).clamp()))
        return found
