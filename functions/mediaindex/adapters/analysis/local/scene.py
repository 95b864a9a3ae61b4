"""The two scene models: an ImageNet classifier (what the picture is of) and a COCO detector (where things are)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mediaindex.domain.model import Box

from .models import threads


def _interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter  # the TFLite runtime alone, without TensorFlow

    interpreter = Interpreter(model_path=str(path), num_threads=threads())
    interpreter.allocate_tensors()
    return interpreter


class ImageNetClassifier:
    """An ImageNet-1k `.tflite` classifier (default: EfficientNet-Lite3 int8). Any input size; uint8 inputs get
    pixels as they are, float inputs get them scaled to [-1, 1]; a 1,001st "background" output is dropped."""

    def __init__(self, path: Path) -> None:
        self.interpreter = _interpreter(path)
        self.lock = threading.Lock()  # one interpreter, shared by every thread of the process
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        _, self.height, self.width, _ = self.input["shape"]

    def probabilities(self, image: Image.Image) -> np.ndarray:
        """1,000 class probabilities for an RGB picture: centre crop of 87.5%, as these models were evaluated."""
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
        scale, zero = self.output["quantization"]
        scores = (raw.astype(np.float32) - zero) * scale if scale else raw.astype(np.float32)
        if scores.shape[0] == 1001:
            scores = scores[1:]
        if not scale and (scores.min() < 0 or abs(float(scores.sum()) - 1.0) > 0.05):
            scores = np.exp(scores - scores.max())  # a float model that outputs logits
        # quantized softmax outputs are probabilities already, up to rounding
        return scores / max(float(scores.sum()), 1e-9)


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
