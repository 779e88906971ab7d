"""Nested subnetworks of one Keras model: sliced forward passes and materialised narrow models.

`SlicedNet.forward(x, widths)` runs the traced graph on prefix slices of the shared weights (channel c of group g is
used iff c < widths[g]), so every subnetwork costs only its own MACs; training all of them in one step just sums their
losses. BatchNormalization always uses its moving statistics here: the REDS recipe freezes the shared BN during joint
fine-tuning (and the int8 converter folds BN into the preceding layer anyway).

`narrow_model(model, graph, widths)` builds the standalone Keras model of one subnetwork (same layers, fewer units,
sliced weights): the reference the sliced forward pass is tested against, the baseline architecture trained from
scratch, and a builtin-only subnetwork for int8 conversion.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import UnsupportedModelError
from ..graph import WidthGraph, slice_index
from .graph import kind_of


def _take(v: Any, axis: int, size: int, repeat: int, w: int) -> Any:
    """Prefix `w` of every block of `size` channels along `axis` of tensor `v` (a no-op at full width)."""
    import tensorflow as tf
    if w == size:
        return v
    rank = len(v.shape)
    axis %= rank
    if repeat == 1:
        begin = [0] * rank
        sz = [-1] * rank
        sz[axis] = w
        return tf.slice(v, begin, sz)
    shape = list(v.shape)
    blocks = tf.reshape(v, shape[:axis] + [repeat, size] + shape[axis + 1:])
    begin = [0] * (rank + 1)
    sz = [-1] * (rank + 1)
    sz[axis + 1] = w
    return tf.reshape(tf.slice(blocks, begin, sz), shape[:axis] + [repeat * w] + shape[axis + 1:])


def materialised_steps(graph: WidthGraph) -> list[int]:
    """Indices of the steps whose output the int8 model holds as a tensor of its own (with its own 8-bit scale): not
    a Dense/Conv/Depthwise/BN/Add output that the converter fuses with the BN or activation reading it, and not a
    shape-only step (flatten, dropout) or a max pooling, which keep their input's scale."""
    steps = graph.meta["steps"]
    readers: dict[int, list[str]] = {}
    for st in steps:
        for t in st.inputs:
            readers.setdefault(t, []).append(kind_of(st.layer))
    out = []
    for i, st in enumerate(steps):
        kind = kind_of(st.layer)
        if kind in ("flatten", "pass") or (kind == "pool" and "max" in type(st.layer).__name__.lower()):
            continue
        r = readers.get(st.output, [])
        if kind in ("dense", "conv", "dwconv", "bn", "add") and r and all(k in ("bn", "act") for k in r):
            continue
        out.append(i)
    return out


def _round_per_channel(v: Any, kind: str) -> Any:
    """A kernel rounded to symmetric int8 per output channel, as the converter stores it; straight-through gradient."""
    import tensorflow as tf
    axes = [0, 1, 3] if kind == "dwconv" else list(range(len(v.shape) - 1))
    scale = tf.maximum(tf.reduce_max(tf.abs(v), axis=axes, keepdims=True), 1e-12) / 127.0
    return v + tf.stop_gradient(tf.round(v / scale) * scale - v)


class SlicedNet:
    """Forward passes of the nested subnetworks of `model`, sharing its variables.

    With `fake_quant` (step index -> (min, max), `activation_ranges`) the pass simulates the int8 model for
    conversion-aware training: every Dense/Conv/Depthwise kernel rounded per output channel and every materialised
    activation rounded to 8 bits on its fixed range, both with straight-through gradients (an empty dict: the
    kernels alone)."""

    def __init__(self, model: Any, graph: WidthGraph,
                 fake_quant: dict[int, tuple[float, float]] | None = None) -> None:
        self.model, self.graph = model, graph
        self.steps = graph.meta["steps"]
        self.tensors = graph.meta["tensors"]
        self.fake_quant = fake_quant
        self.by_weight = {}
        for s in graph.slices:
            if s.kind == "weight":
                self.by_weight.setdefault(s.ref, []).append(s)

    def weight(self, layer: Any, index: int, widths: Sequence[int]) -> Any:
        v = layer.weights[index].value
        if self.fake_quant is not None and index == 0 and kind_of(layer) in ("dense", "conv", "dwconv"):
            v = _round_per_channel(v, kind_of(layer))  # the full kernel's scales: the REDS model keeps them
        for s in self.by_weight.get((layer.name, index), []):
            v = _take(v, s.axis, self.graph.groups[s.group].size, s.repeat, int(widths[s.group]))
        return v

    def forward(self, x: Any, widths: Sequence[int], training: bool = False) -> Any:
        return self._run(x, widths, training)

    def _run(self, x: Any, widths: Sequence[int], training: bool, record: dict | None = None) -> Any:
        import tensorflow as tf
        vals: dict[int, Any] = {}
        for index, st in enumerate(self.steps):
            layer, kind = st.layer, kind_of(st.layer)
            a = vals[st.inputs[0]] if st.inputs else None
            if kind == "input":
                y = x
            elif kind == "dense":
                y = tf.matmul(a, self.weight(layer, 0, widths)) if len(a.shape) == 2 else \
                    tf.tensordot(a, self.weight(layer, 0, widths), 1)
                if layer.use_bias:
                    y = y + self.weight(layer, 1, widths)
                y = layer.activation(y)
            elif kind in ("conv", "dwconv"):
                k = self.weight(layer, 0, widths)
                pad = layer.padding.upper()
                if kind == "conv":
                    y = tf.nn.convolution(a, k, strides=layer.strides, padding=pad, dilations=layer.dilation_rate)
                else:
                    s = layer.strides
                    y = tf.nn.depthwise_conv2d(a, k, strides=[1, s[0], s[1], 1], padding=pad,
                                               dilations=layer.dilation_rate)
                if layer.use_bias:
                    y = y + self.weight(layer, 1, widths)
                y = layer.activation(y)
            elif kind == "bn":
                names = [w.path.rsplit("/", 1)[-1] for w in layer.weights]
                p = {n: self.weight(layer, i, widths) for i, n in enumerate(names)}
                inv = tf.math.rsqrt(p["moving_variance"] + layer.epsilon)
                if "gamma" in p:
                    inv = inv * p["gamma"]
                y = (a - p["moving_mean"]) * inv
                if "beta" in p:
                    y = y + p["beta"]
            elif kind == "prelu":
                alpha = self.weight(layer, 0, widths)
                y = tf.nn.relu(a) - alpha * tf.nn.relu(-a)
            elif kind == "add":
                y = tf.add_n([vals[k] for k in st.inputs])
            elif kind == "pass" and hasattr(layer, "rate"):
                y = layer.call(a, training=training)
            else:  # activations, pooling, flatten, padding: channel-count agnostic
                y = layer.call(a)
            if record is not None and index in record:
                record[index].append((float(tf.reduce_min(y)), float(tf.reduce_max(y))))
            if self.fake_quant is not None and index in self.fake_quant:
                lo, hi = self.fake_quant[index]
                y = tf.quantization.fake_quant_with_min_max_args(y, min=lo, max=hi, num_bits=8)
            vals[st.output] = y
        return vals[self.graph.meta["outputs"][0]]


def activation_ranges(model: Any, graph: WidthGraph, x: np.ndarray, widths: Sequence[int],
                      batch_size: int = 50) -> dict[int, tuple[float, float]]:
    """(min, max) of every materialised activation over the images `x` at `widths` (the full network: the REDS model
    shares one scale per tensor across budgets), as the converter's calibration sees them."""
    import tensorflow as tf
    record: dict[int, list[tuple[float, float]]] = {i: [] for i in materialised_steps(graph)}
    net = SlicedNet(model, graph)
    for s in range(0, len(x), batch_size):
        net._run(tf.constant(x[s:s + batch_size]), widths, False, record)
    return {i: (min(0.0, min(a for a, _ in r)), max(0.0, max(b for _, b in r))) for i, r in record.items() if r}


def slice_weights(model: Any, graph: WidthGraph, widths: Sequence[int]) -> dict[str, list[np.ndarray]]:
    """Per layer name, its weights cut to `widths` (numpy)."""
    out: dict[str, list[np.ndarray]] = {}
    by_ref: dict[tuple[str, int], list] = {}
    for s in graph.slices:
        if s.kind == "weight":
            by_ref.setdefault(s.ref, []).append(s)
    for layer in model.layers:
        ws = []
        for i, v in enumerate(layer.weights):
            arr = np.asarray(v.numpy())
            for s in by_ref.get((layer.name, i), []):
                size = graph.groups[s.group].size
                arr = np.take(arr, slice_index(size, s.repeat, int(widths[s.group])), axis=s.axis)
            ws.append(arr)
        out[layer.name] = ws
    return out


def narrow_config(model: Any, graph: WidthGraph, widths: Sequence[int]) -> dict:
    """The model's config with every Dense/Conv2D narrowed to its output group's width."""
    import copy
    widths = graph.check_widths(widths)
    cfg = copy.deepcopy(model.get_config())
    outs = {l.ref: widths[l.out_group] for l in graph.layers}
    seen = set()
    for item in cfg["layers"]:
        item.pop("build_config", None)  # recorded input shapes would pin the old widths
        c = item.get("config", {})
        name = c.get("name")
        if name in outs and item["class_name"] in ("Dense", "Conv2D"):
            c["units" if item["class_name"] == "Dense" else "filters"] = int(outs[name])
            seen.add(name)
    missing = [n for n, _ in outs.items() if n not in seen and
               kind_of(model.get_layer(n)) in ("dense", "conv")]
    if missing:
        raise UnsupportedModelError(f"could not find layers {missing} in the model config")
    return cfg


def narrow_model(model: Any, graph: WidthGraph, widths: Sequence[int], copy_weights: bool = True) -> Any:
    """A standalone Keras model of the subnetwork at `widths` (weights sliced, or freshly initialised)."""
    cfg = narrow_config(model, graph, widths)
    sub = type(model).from_config(cfg)
    if copy_weights:
        ws = slice_weights(model, graph, widths)
        for layer in sub.layers:
            if layer.weights:
                layer.set_weights(ws[layer.name])
    return sub
