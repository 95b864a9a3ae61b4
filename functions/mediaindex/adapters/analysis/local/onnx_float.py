"""Run OpenCV's model-zoo ONNX files (YuNet, SFace: `int8bq`, weights block-quantized, opset 21) on onnxruntime.

Why: OpenCV's DNN module runs YuNet 2.4x slower than onnxruntime on this kind of CPU (84 against 29 ms for a
1280x960 picture on one core, over the test photos; bench/bench_throughput.py's face_detect stage on 12 MP photos
146 -> 69 ms), and the face detector is what large photos spend most on.
onnxruntime cannot run the files as they are: their biases are `DequantizeLinear` nodes with a `block_size` and a
single scale, which it refuses, and YuNet's input is fixed at 640x640. The weights are therefore dequantized once
when the model loads (what OpenCV does too: it computes in float), and the input's height and width made free.
The faces found are OpenCV's within 0.01 pixel and score, the vectors within cosine 0.9999
(tests/local_analyzer/test_onnx_float.py).

Reading and rewriting the file needs the `onnx` package, whose import alone takes 0.9 s here: the float model is
therefore written once to the user's cache folder (`$XDG_CACHE_HOME/mediaindex/models`, else
~/.cache/mediaindex/models), keyed on the file's SHA-256, and later processes load that. Where the folder cannot be
written it is made in memory; a kept file that does not load is made again (`load`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from mediaindex.adapters.own_files import write_whole

# part of the cached file's name: a change to what float_model writes makes new files
FORMAT = 1


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mediaindex" / "models"


def load(path: Path, threads: int, free_input_size: bool = False) -> Any:
    """An onnxruntime session for the float model of `path`, from the cache when it holds it. A cached file that
    does not load (cut short by a full disk, or damaged) is made again: the cache never stops a model loading."""
    model = cached_float_model(path, free_input_size)
    try:
        return session(model, threads)
    except Exception:  # noqa: BLE001 - onnxruntime's complaint about the file, whatever it is
        if isinstance(model, bytes):
            raise  # made just now from the model's own file: that file is what is wrong
    return session(cached_float_model(path, free_input_size, again=True), threads)


def cached_float_model(path: Path, free_input_size: bool = False, again: bool = False) -> Path | bytes:
    """The float model of `path` (float_model): a file in the cache folder, made on first use (or `again`); its
    bytes when the folder cannot be written."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    target = cache_dir() / f"{Path(path).stem}.{digest}.float{FORMAT}{'-free' if free_input_size else ''}.onnx"
    if target.is_file() and not again:
        return target
    model = float_model(path, free_input_size)
    try:
        # a process that loads it at the same time reads all of it or nothing
        write_whole(target, model)
        return target
    except OSError:  # a read-only or full disk: this process uses it from memory
        return model


def float_model(path: Path, free_input_size: bool = False) -> bytes:
    """The ONNX model at `path` with every constant `DequantizeLinear` folded into a float32 weight; with
    `free_input_size`, the first input's height and width (and every output's shape) left to the caller."""
    import onnx  # noqa: PLC0415 - the local extra
    from onnx import helper, numpy_helper  # noqa: PLC0415

    model = onnx.load(str(path))
    graph = model.graph
    constants = {init.name: init for init in graph.initializer}
    kept: list[Any] = []
    folded: list[Any] = []
    used: set[str] = set()
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(name in constants for name in node.input if name):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            arrays = [numpy_helper.to_array(constants[name]) for name in node.input if name]
            folded.append(numpy_helper.from_array(_dequantize(*arrays, axis=attrs.get("axis", 1),
                                                              block=attrs.get("block_size", 0)), node.output[0]))
            used.update(name for name in node.input if name)
        else:
            kept.append(node)
    # the quantized tensors go (a folded weight replaces them); anything else a kept node reads stays
    needed = {name for node in kept for name in node.input}
    survivors = [init for init in graph.initializer if init.name not in used or init.name in needed]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(survivors + folded)
    # SFace's file also lists its weights as inputs, the quantized ones under names nothing reads any more: the
    # caller feeds only what is neither a weight nor unused
    weights = {init.name for init in graph.initializer}
    read = {name for node in graph.node for name in node.input}
    inputs = [value for value in graph.input if value.name not in weights and value.name in read]
    del graph.input[:]
    graph.input.extend(inputs)
    if free_input_size:
        dims = graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        for output in graph.output:
            output.type.tensor_type.ClearField("shape")
    return bytes(model.SerializeToString())


def _dequantize(quantized: np.ndarray, scale: np.ndarray, zero: np.ndarray | None = None, *, axis: int,
                block: int) -> np.ndarray:
    """ONNX DequantizeLinear: (q - zero) * scale, per tensor, per axis, or per block of `block` along `axis`."""
    q = quantized.astype(np.float32)
    s = scale.astype(np.float32)
    z = np.zeros_like(s) if zero is None else zero.astype(np.float32)
    if s.size == 1:  # per tensor (the biases: a block size is written, and one scale)
        return ((q - z.reshape(())) * s.reshape(())).astype(np.float32)
    axis = axis % q.ndim
    if block:  # each scale covers `block` elements along `axis`
        s, z = (np.repeat(a, block, axis=axis).take(range(q.shape[axis]), axis=axis) for a in (s, z))
    else:
        shape = [1] * q.ndim
        shape[axis] = -1
        s, z = s.reshape(shape), z.reshape(shape)
    return ((q - z) * s).astype(np.float32)


def session(model: Path | bytes, threads: int) -> Any:
    """An onnxruntime session on the CPU for a model (its file or its bytes), using `threads` threads for one run."""
    import onnxruntime as ort  # noqa: PLC0415

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the folded file leaves unused shape constants, which it would warn about
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                providers=["CPUExecutionProvider"])
