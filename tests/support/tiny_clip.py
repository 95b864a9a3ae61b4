"""A tiny CLIP model with the inputs and outputs of a real one (OpenCLIP's ONNX export), built with the onnx
package's helper API, and a tokenizer.json built with the tokenizers package: loading, preprocessing, tokenising,
storing, k-NN and blending run for real on it.

The image encoder averages each normalised colour channel over the picture ([N, 3, 224, 224] -> [N, 3]); the text
encoder adds up one fixed vector a word ([N, 77] ids -> [N, 3]): "red" is (1, -1, -1), "green" (-1, 1, -1), "blue"
(-1, -1, 1), any other word nothing. So the text "red" lies nearest the reddest pictures, as a description would lie
nearest the pictures it describes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WORDS = ["[PAD]", "[UNK]", "<start>", "<end>", "a", "photo", "of", "red", "green", "blue", "car", "sky"]
DIMENSIONS = 3
COLOURS = {"red": (1.0, -1.0, -1.0), "green": (-1.0, 1.0, -1.0), "blue": (-1.0, -1.0, 1.0)}


def build_visual(path: Path, size: int = 224) -> None:
    import onnx
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size])
    out = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", DIMENSIONS])
    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3])
    mean = helper.make_node("ReduceMean", ["image", "axes"], ["embedding"], keepdims=0)
    graph = helper.make_graph([mean], "tiny_clip_visual", [image], [out], initializer=[axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def build_textual(path: Path, dtype: str = "int64", context: int = 77) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    table = np.zeros((len(WORDS), DIMENSIONS), dtype=np.float32)
    for word, vector in COLOURS.items():
        table[WORDS.index(word)] = vector
    elem = TensorProto.INT32 if dtype == "int32" else TensorProto.INT64
    text = helper.make_tensor_value_info("text", elem, ["N", context])
    out = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", DIMENSIONS])
    gather = helper.make_node("Gather", ["table", "text"], ["words"], axis=0)
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    total = helper.make_node("ReduceSum", ["words", "axes"], ["embedding"], keepdims=0)
    graph = helper.make_graph([gather, total], "tiny_clip_textual", [text], [out],
                              initializer=[numpy_helper.from_array(table, "table"), axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def build_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<start> $A <end>", special_tokens=[("<start>", WORDS.index("<start>")), ("<end>", WORDS.index("<end>"))])
    tokenizer.save(str(path))


def build(folder: Path, dtype: str = "int64") -> Path:
    """visual.onnx, textual.onnx and tokenizer.json in `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    build_visual(folder / "visual.onnx")
    build_textual(folder / "textual.onnx", dtype)
    build_tokenizer(folder / "tokenizer.json")
    return folder
