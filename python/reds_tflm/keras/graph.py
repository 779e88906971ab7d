"""Keras front end of the width graph: `graph_from_keras(model) -> WidthGraph`.

Mirrors `graph_tflite` on the Keras side so that the same architecture yields the same groups, fixed flags and MACs
before and after int8 conversion: BN/activations/pooling/padding/dropout carry a group, Flatten turns it into
`repeat` blocks, Add merges groups, the model input and output stay at full width, softmax mixes channels.
Weight handles (`ChannelSlice.ref`) are `(layer name, weight index)` into `layer.weights`; activation handles are
the tensor keys of `trace`. `meta["tensors"]` keeps each activation's group, repeat and positions (for memory
constraints) and `meta["steps"]` the traced steps (for the sliced forward pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UnsupportedModelError
from ..graph import CONV, DWCONV, FC, ChannelSlice, Group, Layer, UnionFind, WidthGraph
from .trace import Step, trace

MIXING_ACTIVATIONS = {"softmax", "log_softmax"}


@dataclass
class TensorInfo:
    group: int
    repeat: int
    positions: int  # elements per channel (batch excluded): H*W for feature maps, 1 for vectors


def layer_kinds() -> dict[str, tuple[type, ...]]:
    from keras import layers as L
    return {
        "input": (L.InputLayer,),
        "dense": (L.Dense,),
        "conv": (L.Conv2D,),
        "dwconv": (L.DepthwiseConv2D,),
        "bn": (L.BatchNormalization,),
        "act": (L.Activation, L.ReLU, L.LeakyReLU, L.ELU),
        "softmax": (L.Softmax,),
        "prelu": (L.PReLU,),
        "pool": (L.MaxPooling2D, L.AveragePooling2D),
        "gpool": (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D),
        "flatten": (L.Flatten,),
        "pass": (L.Dropout, L.ZeroPadding2D),
        "add": (L.Add,),
    }


def kind_of(layer: Any) -> str:
    # Conv2D and DepthwiseConv2D are siblings in Keras 3, but check the specific classes first anyway.
    for kind in ("dwconv", "conv", "input", "dense", "bn", "softmax", "prelu", "act", "pool", "gpool", "flatten",
                 "pass", "add"):
        if isinstance(layer, layer_kinds()[kind]):
            return kind
    raise UnsupportedModelError(
        f"layer '{layer.name}' ({type(layer).__name__}) is not supported by the REDS Keras front end; supported: "
        "Dense, Conv2D, DepthwiseConv2D, BatchNormalization, Activation/ReLU/LeakyReLU/ELU/PReLU/Softmax, "
        "MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D/GlobalMaxPooling2D, Flatten, Add, Dropout, "
        "ZeroPadding2D, InputLayer")


def _act_name(layer: Any) -> str:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", str(act)) if act is not None else "linear"


def _positions(shape: tuple[int | None, ...]) -> int:
    return int(np.prod([d for d in shape[1:-1]])) if len(shape) > 2 else 1


class _Builder:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.steps, self.inputs, self.outputs = trace(model)
        self.uf = UnionFind()
        self.sizes: list[int] = []
        self.reasons: dict[int, str] = {}
        self.tensors: dict[int, TensorInfo] = {}
        self.layers: list[Layer] = []
        self.slices: list[tuple[Any, int, int, int, str]] = []
        self.producer: dict[int, Layer] = {}  # tensor key -> the Dense/Conv layer that wrote it

    def new_group(self, size: int, reason: str | None = None) -> int:
        g = self.uf.add()
        self.sizes.append(int(size))
        if reason:
            self.reasons[g] = reason
        return g

    def fix(self, g: int, reason: str) -> None:
        self.reasons.setdefault(g, reason)

    def put(self, key: int, shape: tuple[int | None, ...], g: int, repeat: int = 1) -> None:
        self.tensors[key] = TensorInfo(g, repeat, _positions(shape))
        self.slices.append((key, len(shape) - 1, g, repeat, "activation"))

    def weight_index(self, layer: Any, var: Any) -> int:
        for i, w in enumerate(layer.weights):
            if w is var:
                return i
        raise UnsupportedModelError(f"layer '{layer.name}': weight {getattr(var, 'path', var)} not found")

    def wslice(self, layer: Any, var: Any, axis: int, g: int, repeat: int = 1) -> None:
        self.slices.append(((layer.name, self.weight_index(layer, var)), axis, g, repeat, "weight"))

    def mix(self, st: Step, why: str) -> None:
        for k in st.inputs:
            self.fix(self.tensors[k].group, why)
        self.put(st.output, st.out_shape, self.new_group(st.out_shape[-1], why))

    def build(self) -> WidthGraph:
        for st in self.steps:
            layer, kind = st.layer, kind_of(st.layer)
            if kind == "input":
                self.put(st.output, st.out_shape, self.new_group(st.out_shape[-1], "model input"))
                continue
            ins = [self.tensors[k] for k in st.inputs]
            if kind in ("dense", "conv", "dwconv"):
                self.compute(st, kind, ins[0])
            elif kind == "bn":
                axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
                if axis not in (-1, len(st.in_shapes[0]) - 1):
                    raise UnsupportedModelError(f"layer '{layer.name}': BatchNormalization over axis {axis}; only "
                                                "the last (channel) axis is supported")
                for var in layer.weights:
                    self.wslice(layer, var, 0, ins[0].group, ins[0].repeat)
                prod = self.producer.get(st.inputs[0])
                if prod is not None:  # TFLite folds a BN that directly follows a layer into its weights and bias
                    prod.has_bias = True
                self.put(st.output, st.out_shape, ins[0].group, ins[0].repeat)
            elif kind == "softmax" or (kind == "act" and _act_name(layer) in MIXING_ACTIVATIONS):
                self.mix(st, f"reaches layer '{layer.name}' (softmax mixes channels)")
            elif kind == "prelu":
                alpha = layer.weights[0]
                if alpha.shape[-1] != st.in_shapes[0][-1]:
                    self.mix(st, f"layer '{layer.name}' (PReLU) alpha is not per-channel")
                    continue
                if alpha.shape[-1] != 1:
                    self.wslice(layer, alpha, len(alpha.shape) - 1, ins[0].group, ins[0].repeat)
                self.put(st.output, st.out_shape, ins[0].group, ins[0].repeat)
            elif kind in ("act", "pass"):
                self.put(st.output, st.out_shape, ins[0].group, ins[0].repeat)
            elif kind in ("pool", "gpool"):
                if ins[0].repeat != 1 or len(st.in_shapes[0]) != 4:
                    raise UnsupportedModelError(f"layer '{layer.name}': pooling needs an NHWC input")
                if getattr(layer, "data_format", "channels_last") != "channels_last":
                    raise UnsupportedModelError(f"layer '{layer.name}': only channels_last is supported")
                self.put(st.output, st.out_shape, ins[0].group, 1)
            elif kind == "flatten":
                c = self.sizes[ins[0].group]
                self.put(st.output, st.out_shape, ins[0].group, int(st.out_shape[-1]) // c)
            elif kind == "add":
                a = ins[0]
                if any(st.in_shapes[i] != st.in_shapes[0] or t.repeat != a.repeat for i, t in enumerate(ins)):
                    raise UnsupportedModelError(f"layer '{layer.name}' (Add) broadcasts between its inputs")
                g = a.group
                for t in ins[1:]:
                    g = self.uf.union(g, t.group)
                self.put(st.output, st.out_shape, g, a.repeat)
        for k in self.outputs:
            self.fix(self.tensors[k].group, "model output")
        return self.finish()

    def compute(self, st: Step, kind: str, x: TensorInfo) -> None:
        layer = st.layer
        c_in = self.sizes[x.group]
        bias = getattr(layer, "bias", None) if getattr(layer, "use_bias", False) else None
        if kind != "dense" and getattr(layer, "data_format", "channels_last") != "channels_last":
            raise UnsupportedModelError(f"layer '{layer.name}': only channels_last is supported")
        if kind == "dense":
            n_in, units = layer.kernel.shape
            if n_in % c_in:
                raise UnsupportedModelError(f"layer '{layer.name}' reads rows of {n_in}, not whole channel blocks")
            gout = self.new_group(units)
            positions = _positions(st.in_shapes[0])
            self.layers.append(Layer(layer.name, FC, gout, x.group, n_in // c_in, 1, positions, bias is not None,
                                     layer.name))
            self.wslice(layer, layer.kernel, 1, gout)
            self.wslice(layer, layer.kernel, 0, x.group, n_in // c_in)
        else:
            if x.repeat != 1 or len(st.in_shapes[0]) != 4:
                raise UnsupportedModelError(f"layer '{layer.name}' input is not an NHWC tensor of whole channels")
            kh, kw, _, last = layer.kernel.shape
            positions = _positions(st.out_shape)
            if kind == "conv":
                if getattr(layer, "groups", 1) != 1:
                    raise UnsupportedModelError(f"layer '{layer.name}': grouped Conv2D (groups={layer.groups}) "
                                                "is not supported")
                gout = self.new_group(last)
                self.wslice(layer, layer.kernel, 3, gout)
                self.wslice(layer, layer.kernel, 2, x.group)
                self.layers.append(Layer(layer.name, CONV, gout, x.group, 1, kh * kw, positions, bias is not None,
                                         layer.name))
            elif last != 1:  # depth multiplier: every input channel feeds `last` outputs; keep both whole
                why = f"layer '{layer.name}' (DepthwiseConv2D) has depth multiplier {last}"
                self.fix(x.group, why)
                gout = self.new_group(c_in * last, why)
                self.layers.append(Layer(layer.name, DWCONV, gout, gout, 1, kh * kw, positions, bias is not None,
                                         layer.name))
            else:
                gout = x.group
                self.wslice(layer, layer.kernel, 2, gout)
                self.layers.append(Layer(layer.name, DWCONV, gout, gout, 1, kh * kw, positions, bias is not None,
                                         layer.name))
        if bias is not None:
            self.wslice(layer, bias, 0, gout)
        if _act_name(layer) in MIXING_ACTIVATIONS:
            # TFLite splits this into the op and a SOFTMAX: the pre-activation group is pinned, the output is new.
            why = f"reaches the {_act_name(layer)} of layer '{layer.name}' (mixes channels)"
            self.fix(gout, why)
            self.put(st.output, st.out_shape, self.new_group(st.out_shape[-1], why))
        else:
            self.put(st.output, st.out_shape, gout, 1)
            self.producer[st.output] = self.layers[-1]

    def finish(self) -> WidthGraph:
        roots: dict[int, int] = {}
        for g in range(len(self.sizes)):
            roots.setdefault(self.uf.find(g), len(roots))
        remap = {g: roots[self.uf.find(g)] for g in range(len(self.sizes))}
        groups = [Group(gid, 0) for gid in range(len(roots))]
        for g in range(len(self.sizes)):
            groups[remap[g]].size = self.sizes[g]
            if g in self.reasons:
                groups[remap[g]].fix(self.reasons[g])
        for l in self.layers:
            l.out_group, l.in_group = remap[l.out_group], remap[l.in_group]
        slices, seen = [], set()
        for ref, axis, g, rep, kind in self.slices:
            if (ref, axis) not in seen:
                seen.add((ref, axis))
                slices.append(ChannelSlice(ref, axis, remap[g], rep, kind))
        tensors = {k: TensorInfo(remap[t.group], t.repeat, t.positions) for k, t in self.tensors.items()}
        return WidthGraph(groups, self.layers, slices, {"steps": self.steps, "tensors": tensors,
                                                        "inputs": self.inputs, "outputs": self.outputs})


def graph_from_keras(model: Any) -> WidthGraph:
    """The width graph of an unmodified Keras 3 Sequential/Functional model (raises UnsupportedModelError)."""
    return _Builder(model).build()
