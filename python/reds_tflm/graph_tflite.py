"""Build the width graph from a .tflite model (standard or already converted to REDS ops).

Walks the operators in execution order and gives every activation tensor a layout: which group its last axis carries
and in how many blocks (flattening makes an FC input `repeat` blocks of a group's channels). Ops that mix channels
in any other way, graph inputs and graph outputs pin their groups to full width, with the reason kept for `inspect`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import tflite_io as tio
from .errors import UnsupportedModelError
from .graph import CONV, DWCONV, FC, ChannelSlice, Group, Layer, UnionFind, WidthGraph

COMPUTE_OPS = {"FULLY_CONNECTED": FC, "CONV_2D": CONV, "DEPTHWISE_CONV_2D": DWCONV,
               "CUSTOM:REDS_FC": FC, "CUSTOM:REDS_Conv": CONV, "CUSTOM:REDS_DWConv": DWCONV}
# Ops whose output channel c depends only on input channel c (same shape up to spatial dims).
CHANNELWISE_UNARY = {"RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU",
                     "ELU", "PRELU", "QUANTIZE", "DEQUANTIZE", "ABS", "NEG", "SQUARE", "SQRT", "RSQRT", "EXP", "LOG"}
POOLS = {"MAX_POOL_2D", "AVERAGE_POOL_2D", "L2_POOL_2D"}
PADS = {"PAD", "PADV2", "MIRROR_PAD"}
REDUCES = {"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"}
RESHAPES = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}
BINARY = {"ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "DIV"}
REFUSED_CONTROL_FLOW = {"WHILE", "IF", "CALL_ONCE", "CALL"}
REFUSED_RESOURCES = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"}
ALLOWED_TYPES = {tio.TensorType.FLOAT32, tio.TensorType.INT8, tio.TensorType.INT32, tio.TensorType.INT64,
                 tio.TensorType.BOOL}


def validate_model(model: schema.ModelT, name: str = "model") -> None:
    """Refuse what reds_tflm cannot handle, naming the op and the tensor."""
    if len(model.subgraphs) != 1:
        raise UnsupportedModelError(f"{name}: {len(model.subgraphs)} subgraphs; models with control flow "
                                    "(several subgraphs) are not supported")
    sg = model.subgraphs[0]
    for i, op in enumerate(sg.operators or []):
        oname = tio.op_name(model, op)
        if oname in REFUSED_CONTROL_FLOW:
            raise UnsupportedModelError(f"{name}: op {i} is {oname}: control flow is not supported")
        if oname in REFUSED_RESOURCES:
            raise UnsupportedModelError(f"{name}: op {i} is {oname}: resource variables are not supported")
        for t_idx in list(op.inputs) + list(op.outputs):
            if t_idx < 0:
                continue
            t = sg.tensors[t_idx]
            if t.type not in ALLOWED_TYPES:
                tname = tio.TENSOR_TYPE_NAMES.get(t.type, str(t.type))
                what = "weights" if tio.buffer_of(model, t) is not None else "activations"
                raise UnsupportedModelError(
                    f"{name}: op {i} ({oname}) tensor {t_idx} '{tio.tensor_name(t)}' has {tname} {what}; "
                    "supported are int8 and float32 models (int32 bias)")
        if oname in COMPUTE_OPS:
            x, w = sg.tensors[op.inputs[0]], sg.tensors[op.inputs[1]]
            if tio.buffer_of(model, w) is None:
                raise UnsupportedModelError(f"{name}: op {i} ({oname}) has non-constant weights "
                                            f"(tensor {op.inputs[1]} '{tio.tensor_name(w)}')")
            if COMPUTE_OPS[oname] == CONV and tio.tensor_shape(x)[3] != tio.tensor_shape(w)[3]:
                raise UnsupportedModelError(f"{name}: op {i} ({oname}) is a grouped convolution (input "
                                            f"{tio.tensor_shape(x)}, weights {tio.tensor_shape(w)}): not supported")
            if x.type != w.type:
                raise UnsupportedModelError(
                    f"{name}: op {i} ({oname}) mixes {tio.TENSOR_TYPE_NAMES[x.type]} activations with "
                    f"{tio.TENSOR_TYPE_NAMES[w.type]} weights (hybrid quantisation is not supported)")


@dataclass
class _Layout:
    group: int
    repeat: int


class _Builder:
    def __init__(self, model: schema.ModelT) -> None:
        self.model = model
        self.sg = model.subgraphs[0]
        self.uf = UnionFind()
        self.sizes: list[int] = []
        self.reasons: dict[int, str] = {}
        self.layout: dict[int, _Layout] = {}
        self.layers: list[Layer] = []
        self.slices: list[tuple[int, int, int, int, str]] = []  # (tensor, axis, provisional group, repeat, kind)
        self.reshapes: list[int] = []

    # -- helpers
    def shape(self, t: int) -> tuple[int, ...]:
        return tio.tensor_shape(self.sg.tensors[t])

    def const(self, t: int) -> np.ndarray | None:
        return None if t < 0 else tio.buffer_of(self.model, self.sg.tensors[t])

    def new_group(self, size: int, reason: str | None = None) -> int:
        g = self.uf.add()
        self.sizes.append(size)
        if reason:
            self.reasons[g] = reason
        return g

    def fix(self, g: int, reason: str) -> None:
        self.reasons.setdefault(g, reason)

    def set_layout(self, t: int, g: int, repeat: int = 1) -> None:
        self.layout[t] = _Layout(g, repeat)
        shape = self.shape(t)
        if shape:
            self.slices.append((t, len(shape) - 1, g, repeat, "activation"))

    def layout_of(self, t: int) -> _Layout:
        if t not in self.layout:  # a tensor nobody produced that is not a constant: treat as its own fixed group
            shape = self.shape(t)
            self.set_layout(t, self.new_group(shape[-1] if shape else 1, f"tensor {t} has no known producer"))
        return self.layout[t]

    def fix_inputs_new_outputs(self, i: int, op: schema.OperatorT, why: str) -> None:
        for t in op.inputs:
            if t >= 0 and self.const(t) is None:
                self.fix(self.layout_of(t).group, why)
        for t in op.outputs:
            shape = self.shape(t)
            self.set_layout(t, self.new_group(shape[-1] if shape else 1, why))

    # -- the walk
    def build(self) -> WidthGraph:
        for t in self.sg.inputs:
            shape = self.shape(t)
            self.set_layout(t, self.new_group(shape[-1] if shape else 1, "model input"))
        for i, op in enumerate(self.sg.operators or []):
            name = tio.op_name(self.model, op)
            if name in COMPUTE_OPS:
                self.compute(i, op, COMPUTE_OPS[name], name)
            elif name in CHANNELWISE_UNARY:
                self.carry(i, op, name)
            elif name in POOLS:
                self.carry(i, op, name, need_rank4=True)
            elif name in PADS:
                pads = self.const(op.inputs[1])
                if pads is not None and pads.ndim == 2 and pads.shape[1] == 2 and not pads[-1].any():
                    self.carry(i, op, name)
                else:
                    self.fix_inputs_new_outputs(i, op, f"op {i} ({name}) pads the channel axis")
            elif name in REDUCES:
                self.reduce(i, op, name)
            elif name in RESHAPES:
                self.reshape(i, op, name)
            elif name in BINARY:
                self.binary(i, op, name)
            else:
                self.fix_inputs_new_outputs(i, op, f"reaches op {i} ({name}) which mixes channels")
        for t in self.sg.outputs:
            self.fix(self.layout_of(t).group, "model output")
        return self.finish()

    def compute(self, i: int, op: schema.OperatorT, kind: str, name: str) -> None:
        x, w_t = op.inputs[0], op.inputs[1]
        b_t = op.inputs[2] if len(op.inputs) > 2 else -1
        y = op.outputs[0]
        w_shape, x_shape, y_shape = self.shape(w_t), self.shape(x), self.shape(y)
        lay = self.layout_of(x)
        c_in = self.sizes[lay.group]
        if kind == FC:
            n_in = w_shape[1]
            if n_in % c_in:
                self.fix(lay.group, f"op {i} ({name}) reads its input in rows of {n_in}, not whole channel blocks")
                gin, rep = self.new_group(n_in, f"op {i} input rows"), 1
            else:
                gin, rep = lay.group, n_in // c_in
            gout = self.new_group(w_shape[0])
            positions = int(np.prod(x_shape)) // n_in if x_shape else 1
            self.layers.append(Layer(i, FC, gout, gin, rep, 1, positions, bool(b_t >= 0), f"op{i}:{name}"))
            self.slices += [(w_t, 0, gout, 1, "weight"), (w_t, 1, gin, rep, "weight")]
        else:
            if lay.repeat != 1 or len(x_shape) != 4:
                self.fix(lay.group, f"op {i} ({name}) input is not an NHWC tensor of whole channels")
            kernel = int(w_shape[1] * w_shape[2])
            positions = int(np.prod(y_shape[:-1]))
            if kind == CONV:
                gout = self.new_group(w_shape[0])
                self.slices += [(w_t, 0, gout, 1, "weight"), (w_t, 3, lay.group, 1, "weight")]
                self.layers.append(Layer(i, CONV, gout, lay.group, 1, kernel, positions, bool(b_t >= 0), f"op{i}:{name}"))
            else:
                mult = w_shape[3] // x_shape[-1] if x_shape[-1] else 0
                if mult != 1 or lay.repeat != 1:
                    self.fix(lay.group, f"op {i} ({name}) has depth multiplier {mult}")
                    gout = self.new_group(w_shape[3], f"op {i} ({name}) has depth multiplier {mult}")
                    # each output channel reads one input channel: cost is kernel*positions per output channel
                    self.layers.append(Layer(i, DWCONV, gout, gout, 1, kernel, positions, bool(b_t >= 0), f"op{i}:{name}"))
                else:
                    gout = lay.group
                    self.slices.append((w_t, 3, gout, 1, "weight"))
                    self.layers.append(Layer(i, DWCONV, gout, gout, 1, kernel, positions, bool(b_t >= 0), f"op{i}:{name}"))
        if b_t >= 0:
            self.slices.append((b_t, 0, gout, 1, "weight"))
        self.set_layout(y, gout, 1)

    def carry(self, i: int, op: schema.OperatorT, name: str, need_rank4: bool = False) -> None:
        x = op.inputs[0]
        lay = self.layout_of(x)
        y = op.outputs[0]
        if (need_rank4 and (lay.repeat != 1 or len(self.shape(x)) != 4)) or \
                self.shape(y)[-1:] != self.shape(x)[-1:]:
            self.fix_inputs_new_outputs(i, op, f"op {i} ({name}) changes the channel axis")
            return
        if name == "PRELU":
            alpha = op.inputs[1]
            if self.const(alpha) is None or self.shape(alpha)[-1:] not in ((1,), self.shape(x)[-1:]):
                self.fix_inputs_new_outputs(i, op, f"op {i} (PRELU) alpha is not per-channel")
                return
            if self.shape(alpha)[-1] != 1:
                self.slices.append((alpha, len(self.shape(alpha)) - 1, lay.group, lay.repeat, "weight"))
        self.set_layout(y, lay.group, lay.repeat)

    def reduce(self, i: int, op: schema.OperatorT, name: str) -> None:
        x, y = op.inputs[0], op.outputs[0]
        axes = self.const(op.inputs[1])
        lay = self.layout_of(x)
        rank = len(self.shape(x))
        if axes is None or lay.repeat != 1 or any(int(a) % rank == rank - 1 for a in np.ravel(axes)) or \
                self.shape(y)[-1:] != self.shape(x)[-1:]:
            self.fix_inputs_new_outputs(i, op, f"op {i} ({name}) reduces over channels")
            return
        self.set_layout(y, lay.group, 1)

    def reshape(self, i: int, op: schema.OperatorT, name: str) -> None:
        x, y = op.inputs[0], op.outputs[0]
        lay = self.layout_of(x)
        c = self.sizes[lay.group]
        y_shape = self.shape(y)
        if not y_shape or y_shape[-1] % c:
            self.fix_inputs_new_outputs(i, op, f"op {i} ({name}) splits the channel axis")
            return
        self.reshapes.append(i)
        self.set_layout(y, lay.group, y_shape[-1] // c)

    def binary(self, i: int, op: schema.OperatorT, name: str) -> None:
        a, b = op.inputs[0], op.inputs[1]
        y = op.outputs[0]
        ca, cb = self.const(a), self.const(b)
        if ca is None and cb is None:
            la, lb = self.layout_of(a), self.layout_of(b)
            if self.shape(a) != self.shape(b) or la.repeat != lb.repeat or \
                    self.sizes[la.group] != self.sizes[lb.group]:
                self.fix_inputs_new_outputs(i, op, f"op {i} ({name}) broadcasts between activations")
                return
            g = self.uf.union(la.group, lb.group)
            self.set_layout(y, g, la.repeat)
            return
        act, cst, cval = (a, b, cb) if cb is not None else (b, a, ca)
        lay = self.layout_of(act)
        if cval.size == 1:
            self.set_layout(y, lay.group, lay.repeat)
        elif cval.shape[-1] == self.shape(act)[-1] and cval.size == cval.shape[-1]:
            self.slices.append((cst, cval.ndim - 1, lay.group, lay.repeat, "weight"))
            self.set_layout(y, lay.group, lay.repeat)
        else:
            self.fix_inputs_new_outputs(i, op, f"op {i} ({name}) broadcasts a constant over non-channel axes")

    def finish(self) -> WidthGraph:
        roots: dict[int, int] = {}
        for g in range(len(self.sizes)):
            r = self.uf.find(g)
            if r not in roots:
                roots[r] = len(roots)
        groups = [Group(gid, 0) for gid in range(len(roots))]
        for g in range(len(self.sizes)):
            final = groups[roots[self.uf.find(g)]]
            final.size = self.sizes[g]
            if g in self.reasons:
                final.fix(self.reasons[g])
        remap = {g: roots[self.uf.find(g)] for g in range(len(self.sizes))}
        for l in self.layers:
            l.out_group, l.in_group = remap[l.out_group], remap[l.in_group]
        seen = set()
        slices = []
        for t, axis, g, rep, kind in self.slices:
            key = (t, axis)
            if key in seen:
                continue
            seen.add(key)
            slices.append(ChannelSlice(t, axis, remap[g], rep, kind))
        return WidthGraph(groups, self.layers, slices, {"reshape_ops": self.reshapes})


def graph_from_tflite(model: schema.ModelT, name: str = "model") -> WidthGraph:
    validate_model(model, name)
    return _Builder(model).build()
