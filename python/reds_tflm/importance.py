"""Per-unit importance, reduced over a group.

Data-free scores for a .tflite: the L1 (or L2) norm of every weight slice that belongs to a channel, in real units
(int8 weights are dequantised with their per-channel or per-tensor scale first, so per-channel quantisation does not
distort the ranking). A group's score adds the normalised scores of all its weight slices: the producer's outputs,
depthwise kernels and the consumer's input columns (flattened inputs summed over their blocks).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import tflite_io as tio
from .errors import RedsError
from .graph import ChannelSlice, WidthGraph

NORMS: dict[str, Callable[[np.ndarray, tuple[int, ...]], np.ndarray]] = {
    "l1": lambda a, axes: np.abs(a).sum(axis=axes),
    "l2": lambda a, axes: np.sqrt(np.square(a).sum(axis=axes)),
}


def slice_scores(values: np.ndarray, s: ChannelSlice, size: int, norm: str = "l1") -> np.ndarray:
    """Per-channel norm of `values` along slice `s` (blocks of a flattened axis are folded together)."""
    if norm not in NORMS:
        raise RedsError(f"unknown importance norm {norm!r}; choose one of {sorted(NORMS)}")
    moved = np.moveaxis(values.astype(np.float64), s.axis, -1)
    moved = moved.reshape(moved.shape[:-1] + (s.repeat, size))
    other = tuple(range(moved.ndim - 1))
    return NORMS[norm](moved, other)


def reduce_group(parts: Sequence[np.ndarray], size: int) -> np.ndarray:
    """Sum of each part normalised to mean 1, so layers with large weights do not dominate a group."""
    total = np.zeros(size)
    for p in parts:
        m = float(np.mean(p))
        if m > 0:
            total += p / m
    return total


def normalise(scores: np.ndarray) -> np.ndarray:
    """Scale a group's scores to mean 1: uniform scores make the width search count kept units per MAC."""
    m = float(np.mean(scores)) if scores.size else 0.0
    return scores / m if m > 0 else np.ones_like(scores)


def dequantised(model: schema.ModelT, tensor_index: int) -> np.ndarray:
    t = model.subgraphs[0].tensors[tensor_index]
    raw = tio.buffer_of(model, t)
    if raw is None:
        raise RedsError(f"tensor {tensor_index} '{tio.tensor_name(t)}' has no constant data")
    q = tio.quant_params(t)
    if q is None or raw.dtype == np.float32:
        return raw.astype(np.float64)
    scales, zps, qdim = q
    shape = [1] * raw.ndim
    if scales.size > 1:
        shape[qdim] = scales.size
    return (raw.astype(np.float64) - zps.reshape(shape)) * scales.astype(np.float64).reshape(shape)


def tflite_scores(model: schema.ModelT, graph: WidthGraph, norm: str = "l1") -> list[np.ndarray]:
    """Raw per-unit scores for every group (fixed groups included: their order never changes)."""
    parts: list[list[np.ndarray]] = [[] for _ in graph.groups]
    tensors = model.subgraphs[0].tensors
    for s in graph.slices:
        if s.kind != "weight" or len(tio.tensor_shape(tensors[s.ref])) < 2:
            continue  # biases and per-channel vectors follow their unit; the kernels carry the evidence
        size = graph.groups[s.group].size
        parts[s.group].append(slice_scores(dequantised(model, s.ref), s, size, norm))
    return [reduce_group(p, g.size) if p else np.ones(g.size) for p, g in zip(parts, graph.groups)]
