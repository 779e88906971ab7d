"""Apply one permutation per group everywhere the group appears in a .tflite (function-preserving).

Networks are invariant to the order of their units: reordering a producer's outputs together with every tensor that
carries those channels (biases, per-channel scales and zero points, depthwise kernels, consumer input columns,
flattened blocks, per-channel constants) leaves the outputs unchanged. Integer accumulation is exact, so int8 models
stay bit-identical.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import tflite_io as tio
from .errors import RedsError
from .graph import WidthGraph, permute_index, slice_index


def order_by_score(scores: np.ndarray) -> np.ndarray:
    """Descending, ties kept in original order (so equal scores never reorder units needlessly)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def _take_tensor(model: schema.ModelT, tensor_index: int, axis: int, idx: np.ndarray, repeat: int) -> None:
    t = model.subgraphs[0].tensors[tensor_index]
    data = tio.buffer_of(model, t)
    if data is None:
        raise RedsError(f"tensor {tensor_index} '{tio.tensor_name(t)}' should be constant but has no data")
    tio.set_buffer(model, tensor_index, np.take(data, idx, axis=axis))
    q = t.quantization
    if q is not None and q.scale is not None and len(q.scale) > 1 and q.quantizedDimension == axis:
        if repeat != 1:
            raise RedsError(f"tensor {tensor_index}: per-channel quantisation along a flattened axis")
        if q.zeroPoint is not None and len(q.zeroPoint) == len(q.scale):
            q.zeroPoint = np.asarray(q.zeroPoint, dtype=np.int64)[idx]
        q.scale = np.asarray(q.scale, dtype=np.float32)[idx]

def permute_tflite(model: schema.ModelT, graph: WidthGraph, perms: Mapping[int, np.ndarray]) -> None:
    """In place: new channel i of group g is old channel perms[g][i]. Fixed groups must not be permuted."""
    for gid, perm in perms.items():
        g = graph.groups[gid]
        perm = np.asarray(perm)
        if sorted(perm.tolist()) != list(range(g.size)):
            raise RedsError(f"group {gid}: not a permutation of {g.size} channels")
        if g.fixed and not np.array_equal(perm, np.arange(g.size)):
            raise RedsError(f"group {gid} is fixed ({g.reason}) and cannot be permuted")
    for s in graph.slices:
        if s.kind != "weight" or s.group not in perms:
            continue
        size = graph.groups[s.group].size
        _take_tensor(model, s.ref, s.axis, permute_index(size, s.repeat, perms[s.group]), s.repeat)
    tio.compact_buffers(model)


def slice_tflite(model: schema.ModelT, graph: WidthGraph, widths: list[int]) -> None:
    """In place: keep the first widths[g] channels of every group (weights, quantisation and tensor shapes)."""
    tensors = model.subgraphs[0].tensors
    for s in graph.slices:
        size = graph.groups[s.group].size
        w = widths[s.group]
        if w == size:
            continue
        if s.kind == "weight":
            _take_tensor(model, s.ref, s.axis, slice_index(size, s.repeat, w), s.repeat)
        else:
            t = tensors[s.ref]
            shape = np.array(tio.tensor_shape(t), dtype=np.int32)
            shape[s.axis] = s.repeat * w
            t.shape = shape
            if t.shapeSignature is not None and len(t.shapeSignature) == len(shape):
                sig = np.array(t.shapeSignature, dtype=np.int32)
                sig[s.axis] = s.repeat * w
                t.shapeSignature = sig
    tio.compact_buffers(model)
