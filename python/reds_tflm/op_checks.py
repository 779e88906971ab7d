"""Consistency checks of single tensors and operators, run on every parse (tflite_io.check_structure).

A structurally valid flatbuffer can still describe an impossible graph: a conv whose weights are 5-D, a bias with
fewer entries than the layer has outputs, per-channel scales along an axis of another length, a stride of 0. The
width graph, the importance scores and the permutation index such tensors by the layer's geometry (IndexError,
ValueError at exit 3), and the TFLM interpreter divides by zero or reads out of bounds on them (the whole process
dies). Each defect is a ModelFormatError naming the op, the tensor and what the geometry asks for. The shape ops'
checks (CONCATENATION, SLICE, SPLIT, TRANSPOSE, MIRROR_PAD, SHAPE) live in op_checks_shape, the quantisation rules of
TFLM's kernels (pools, CONCATENATION, PAD, LOGISTIC, SOFTMAX, the multipliers of ADD and SUB, ...) in op_checks_quant.
"""

from __future__ import annotations

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import graph_tflite as gt  # the op vocabulary the width graph reads
from . import op_checks_quant
from . import op_checks_shape
from . import tflite_io as tio
from .errors import ModelFormatError, OptionsError
from .graph import CONV, FC
from .options import decode

COMPUTE_OPS = gt.COMPUTE_OPS  # builtin and REDS names -> FC / CONV / DWCONV
POOL_OPS = gt.POOLS
REDUCE_OPS = gt.REDUCES
# (least, most) inputs of the builtins whose inputs the width graph and the host runner read by position
ARITY = {**{k: (1, 1) for k in (gt.CHANNELWISE_UNARY - {"PRELU"}) | {"SOFTMAX", "SQUEEZE"} | POOL_OPS},
         **{k: (2, 2) for k in {"PRELU", "EXPAND_DIMS"} | (gt.PADS - {"PADV2"}) | REDUCE_OPS | gt.BINARY},
         "PADV2": (2, 3), "RESHAPE": (1, 2), "SLICE": (3, 3), "TRANSPOSE": (2, 2), "SHAPE": (1, 1)}
# options tables named otherwise than the op (the rest: CONV_2D carries Conv2DOptions, and so on)
OPTIONS_OF = {**{k: "Pool2DOptions" for k in POOL_OPS},
              **{k: "ReducerOptions" for k in REDUCE_OPS | {"REDUCE_ANY", "REDUCE_ALL"}}}
_OPTION_NAMES = {k.lower(): (k, v) for k, v in vars(schema.BuiltinOptions).items()
                 if not k.startswith("_") and isinstance(v, int)}
# builtins with inputs that may be left out (index -1): biases, the recurrent ops' optional gates and states
OPTIONAL_INPUT_OPS = {"FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "CONV_3D",
                      "CONV_3D_TRANSPOSE", "RESHAPE", "PADV2", "LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM",
                      "BIDIRECTIONAL_SEQUENCE_LSTM", "RNN", "UNIDIRECTIONAL_SEQUENCE_RNN",
                      "BIDIRECTIONAL_SEQUENCE_RNN", "SVDF", "BATCH_MATMUL"}
# refused by every reader with a message of their own (graph_tflite.validate_model: control flow, resources)
REFUSED_OPS = gt.REFUSED_CONTROL_FLOW | gt.REFUSED_RESOURCES
NO_OUTPUT_OPS = {"ASSIGN_VARIABLE", "CALL_ONCE", "CALL", "IF", "WHILE"}  # builtins that may write nothing
PADDING_NAMES = {schema.Padding.SAME: "SAME", schema.Padding.VALID: "VALID"}
# Builtins whose outputs have the type of their data inputs (given by position, None: all inputs). TFLM's MAX_POOL_2D,
# MEAN or STRIDED_SLICE write an int8 result into a float32 output (or the reverse, past its end) without a word.
SAME_TYPE_INPUTS: dict[str, tuple[int, ...] | None] = {
    **{k: (0,) for k in (gt.CHANNELWISE_UNARY - {"QUANTIZE", "DEQUANTIZE", "PRELU"}) | POOL_OPS | gt.PADS
       | gt.RESHAPES | REDUCE_OPS | {"STRIDED_SLICE", "SLICE", "TRANSPOSE"}},
    **{k: None for k in gt.BINARY | {"PRELU", "CONCATENATION", "PACK"}},
    "SPLIT": (1,)}


_t = tio.tensor_text


def check_quantization(where: str, ti: int, t: schema.TensorT) -> None:
    """Zero points match the scales one for one (TFLite's own rule), and per-channel scales run along an axis of
    the tensor that has as many entries as there are scales."""
    q = t.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return
    n = len(q.scale)
    what = f"{where}: tensor {ti} ({tio.tensor_name(t)})"
    if q.zeroPoint is not None and len(q.zeroPoint) != n:
        raise ModelFormatError(f"{what} has {n} quantisation scale(s) but {len(q.zeroPoint)} zero point(s)")
    if not np.all(np.isfinite(np.asarray(q.scale, dtype=np.float64))):
        raise ModelFormatError(f"{what} has a quantisation scale that is not finite")
    if n > 1:
        shape = tio.tensor_shape(t)
        qd = int(q.quantizedDimension)
        if not 0 <= qd < len(shape) or shape[qd] != n:
            raise ModelFormatError(f"{what} of shape {list(shape)} has {n} per-channel scales along dimension {qd}")


def check_op(where: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT) -> None:
    """`where` names the file, subgraph, op index and kind; indices are already known to be in range."""
    outs = [int(j) for j in (op.outputs if op.outputs is not None else [])]
    if any(j < 0 for j in outs):
        raise ModelFormatError(f"{where}: output tensor index -1 (only inputs may be omitted)")
    kind = tio.op_name(model, op)
    if not outs and not kind.startswith("CUSTOM:") and kind not in NO_OUTPUT_OPS:
        raise ModelFormatError(f"{where}: has no output tensor")
    _check_options_type(where, kind, op)
    ins = [int(j) for j in (op.inputs if op.inputs is not None else [])]
    if kind in ARITY:
        least, most = ARITY[kind]
        if not least <= len(ins) <= most or any(j < 0 for j in ins[:least]) or len(outs) != 1:
            want = f"{least}" if least == most else f"{least} to {most}"
            raise ModelFormatError(f"{where}: expects {want} input(s) and one output, has inputs {ins} and outputs "
                                   f"{outs}")
    if not kind.startswith("CUSTOM:") and kind not in OPTIONAL_INPUT_OPS and any(j < 0 for j in ins):
        raise ModelFormatError(f"{where}: input tensor index -1 in {ins}, but no input of {kind} is optional")
    if kind in SAME_TYPE_INPUTS:
        _check_same_type(where, kind, sg, ins, outs)
    if kind in COMPUTE_OPS:
        _check_compute(where, kind, model, sg, op, outs)
    elif kind in POOL_OPS:
        _check_pool(where, kind, sg, op, ins[0], outs[0])
    elif kind in REDUCE_OPS:
        _check_reduce(where, model, sg, op, ins, outs[0])
    elif kind == "PACK":
        _check_pack(where, sg, op, ins, outs)
    elif kind in op_checks_shape.CHECKS:
        op_checks_shape.CHECKS[kind](where, model, sg, op, ins, outs)
    if kind in op_checks_quant.KINDS:
        op_checks_quant.check(where, kind, model, sg, op, ins, outs)
    op_checks_shape.check_derived_shape(where, kind, sg, ins, outs)


def _check_same_type(where: str, kind: str, sg: schema.SubGraphT, ins: list[int], outs: list[int]) -> None:
    data = [j for k, j in enumerate(ins) if j >= 0 and (SAME_TYPE_INPUTS[kind] is None or k in SAME_TYPE_INPUTS[kind])]
    if not data:
        return
    want = sg.tensors[data[0]].type
    for j, what in [*((j, "input") for j in data[1:]), *((j, "output") for j in outs)]:
        if sg.tensors[j].type != want:
            raise ModelFormatError(f"{where}: {what} {_t(sg, j)} is {_type(sg, j)}, but input {_t(sg, data[0])} is "
                                   f"{_type(sg, data[0])}: {kind} keeps its input's type")


def _type(sg: schema.SubGraphT, j: int) -> str:
    return tio.TENSOR_TYPE_NAMES.get(sg.tensors[j].type, str(sg.tensors[j].type))


def _check_reduce(where: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT, ins: list[int],
                  y: int) -> None:
    """Constant axes inside the input's rank, and the output shape they give (TFLM trusts the declared one)."""
    xs, ys = tio.tensor_shape(sg.tensors[ins[0]]), tio.tensor_shape(sg.tensors[y])
    if 0 in xs:  # TFLM reads past the empty input (SIGSEGV)
        raise ModelFormatError(f"{where}: input {_t(sg, ins[0])} has a dimension of size 0")
    axes = tio.buffer_of(model, sg.tensors[ins[1]])
    if axes is None:
        return
    rank = len(xs)
    if any(not -rank <= int(a) < rank for a in np.ravel(axes)):
        raise ModelFormatError(f"{where}: axes {np.ravel(axes).tolist()} (tensor {ins[1]}) outside the input's "
                               f"rank {rank} ({_t(sg, ins[0])})")
    red = {int(a) % rank for a in np.ravel(axes)}
    keep = bool(getattr(op.builtinOptions, "keepDims", False))
    want = [1 if d in red else v for d, v in enumerate(xs)] if keep else [v for d, v in enumerate(xs) if d not in red]
    if list(ys) != want:
        raise ModelFormatError(f"{where}: output {_t(sg, y)}, but reducing {_t(sg, ins[0])} over axes "
                               f"{sorted(red)}{' keeping dimensions' if keep else ''} gives {want}")


def _check_pack(where: str, sg: schema.SubGraphT, op: schema.OperatorT, ins: list[int], outs: list[int]) -> None:
    shapes = [tio.tensor_shape(sg.tensors[j]) for j in ins]
    o = op.builtinOptions
    axis, count = (int(o.axis), int(o.valuesCount)) if o is not None else (0, len(ins))
    if not ins or count != len(ins) or len(outs) != 1 or any(s != shapes[0] for s in shapes):
        raise ModelFormatError(f"{where}: packs inputs {ins} of shapes {[list(s) for s in shapes]} (valuesCount "
                               f"{count}) into outputs {outs}: expected valuesCount inputs of one shape, one output")
    rank = len(shapes[0]) + 1
    if not -rank <= axis < rank:
        raise ModelFormatError(f"{where}: option axis = {axis} outside the output's rank {rank}")
    want = list(shapes[0])
    want.insert(axis % rank, len(ins))
    if list(tio.tensor_shape(sg.tensors[outs[0]])) != want:
        raise ModelFormatError(f"{where}: output {_t(sg, outs[0])}, expected {want}")


def _check_options_type(where: str, kind: str, op: schema.OperatorT) -> None:
    """An options table of another op (TFLM would read its fields as this op's: strides of 0, garbage sizes)."""
    if kind.startswith("CUSTOM:") or kind in REFUSED_OPS:
        return
    want = _OPTION_NAMES.get(OPTIONS_OF.get(kind, kind.replace("_", "") + "Options").lower())
    o = op.builtinOptions
    if want is not None and o is not None and type(o).__name__ != want[0] + "T":
        raise ModelFormatError(f"{where}: carries {type(o).__name__.removesuffix('T')} options, expected {want[0]}")
    if want is not None and o is None and (kind in POOL_OPS or kind in ("CONV_2D", "DEPTHWISE_CONV_2D")):
        raise ModelFormatError(f"{where}: has no {want[0]} (strides, padding)")


def _check_pool(where: str, kind: str, sg: schema.SubGraphT, op: schema.OperatorT, x: int, y: int) -> None:
    xs, ys = tio.tensor_shape(sg.tensors[x]), tio.tensor_shape(sg.tensors[y])
    for j, s, what in ((x, xs, "input"), (y, ys, "output")):
        if len(s) != 4 or 0 in s:
            raise ModelFormatError(f"{where}: {what} {_t(sg, j)}, expected 4-D NHWC without empty dimensions")
    if ys[0] != xs[0] or ys[3] != xs[3]:
        raise ModelFormatError(f"{where}: output {_t(sg, y)}, expected the input's batch {xs[0]} and {xs[3]} "
                               "channels")
    o = op.builtinOptions
    for key in ("strideH", "strideW", "filterHeight", "filterWidth"):
        if not 1 <= int(getattr(o, key)) <= 2 ** 31 - 1:
            raise ModelFormatError(f"{where}: option {key} = {getattr(o, key)}, expected a positive integer")
    _check_spatial(where, o.padding, (o.strideH, o.strideW), xs, (o.filterHeight, o.filterWidth), ys, (1, 1))


def _check_compute(where: str, kind: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT,
                   outs: list[int]) -> None:
    ins = [int(j) for j in (op.inputs if op.inputs is not None else [])]
    if len(ins) not in (2, 3) or ins[0] < 0 or ins[1] < 0 or len(outs) != 1:
        raise ModelFormatError(f"{where}: expects inputs (input, weights[, bias]) and one output, has inputs {ins} "
                               f"and outputs {outs}")
    x, w, y = ins[0], ins[1], outs[0]
    xs, ws, ys = (tio.tensor_shape(sg.tensors[j]) for j in (x, w, y))
    for j, s in ((x, xs), (w, ws), (y, ys)):
        if 0 in s:
            raise ModelFormatError(f"{where}: {_t(sg, j)} has a dimension of size 0")
    if COMPUTE_OPS[kind] == FC:
        if len(ws) != 2:
            raise ModelFormatError(f"{where}: weights {_t(sg, w)}, expected [outputs, inputs]")
        o_ch, row = ws
        size = int(np.prod(xs, dtype=np.int64))
        if size % row:
            raise ModelFormatError(f"{where}: input {_t(sg, x)} does not hold whole rows of the weights' {row} "
                                   "inputs")
        if not ys or ys[-1] != o_ch or int(np.prod(ys, dtype=np.int64)) != size // row * o_ch:
            raise ModelFormatError(f"{where}: output {_t(sg, y)}, expected {size // row} row(s) of the weights' "
                                   f"{o_ch} outputs")
        w_axis = 0
    else:
        for j, s, what in ((x, xs, "input"), (w, ws, "weights"), (y, ys, "output")):
            if len(s) != 4:
                raise ModelFormatError(f"{where}: {what} {_t(sg, j)}, expected 4-D")
        if COMPUTE_OPS[kind] == CONV:
            o_ch, w_axis = ws[0], 0
            if xs[3] % ws[3] or o_ch % (xs[3] // ws[3]):  # several groups: each reads ws[3], writes o_ch/groups
                raise ModelFormatError(f"{where}: input {_t(sg, x)} has {xs[3]} channels, the weights {_t(sg, w)} "
                                       f"read {ws[3]}")
        else:
            o_ch, w_axis = ws[3], 3
            if ws[0] != 1 or o_ch % xs[3]:
                raise ModelFormatError(f"{where}: weights {_t(sg, w)}, expected [1, H, W, a multiple of the "
                                       f"input's {xs[3]} channels]")
        if ys[3] != o_ch or ys[0] != xs[0]:
            raise ModelFormatError(f"{where}: output {_t(sg, y)}, expected batch {xs[0]} and the weights' {o_ch} "
                                   "output channels")
        if not kind.startswith("CUSTOM:"):  # REDS ops carry their geometry in custom options (options.decode)
            _check_conv_options(where, kind, op, xs, ws, ys)
    if kind.startswith("CUSTOM:"):
        _check_reds_options(where, kind, sg, op, x, w, xs, ws, ys, o_ch)
    if kind == "DEPTHWISE_CONV_2D" and len(ins) == 3 and ins[2] < 0:  # TFLM dereferences it (SIGSEGV)
        raise ModelFormatError(f"{where}: bias input index -1: TFLM's DEPTHWISE_CONV_2D reads a third input as its "
                               "bias; a depthwise conv without bias has two inputs")
    if len(ins) == 3 and ins[2] >= 0:
        b = ins[2]
        if int(np.prod(tio.tensor_shape(sg.tensors[b]), dtype=np.int64)) != o_ch or \
                len(tio.tensor_shape(sg.tensors[b])) != 1:
            raise ModelFormatError(f"{where}: bias {_t(sg, b)}, expected [{o_ch}] (one per output channel)")
    q = sg.tensors[w].quantization
    if q is not None and q.scale is not None and len(q.scale) > 1 and \
            (len(q.scale) != o_ch or int(q.quantizedDimension) != w_axis):
        raise ModelFormatError(f"{where}: weights {_t(sg, w)} have {len(q.scale)} per-channel scales along "
                               f"dimension {q.quantizedDimension}, expected {o_ch} along dimension {w_axis} (the "
                               "output channels)")


def _check_conv_options(where: str, kind: str, op: schema.OperatorT, xs: tuple[int, ...], ws: tuple[int, ...],
                        ys: tuple[int, ...]) -> None:
    o = op.builtinOptions  # of the right type (_check_options_type)
    for key in ("strideH", "strideW", "dilationHFactor", "dilationWFactor"):
        if not 1 <= int(getattr(o, key)) <= 2 ** 31 - 1:
            raise ModelFormatError(f"{where}: option {key} = {getattr(o, key)}, expected a positive integer")
    if kind == "DEPTHWISE_CONV_2D" and int(o.depthMultiplier) * xs[3] != ws[3]:
        raise ModelFormatError(f"{where}: option depthMultiplier = {o.depthMultiplier}, but the weights' {ws[3]} "
                               f"output channels over the input's {xs[3]} channels give {ws[3] // xs[3]}")
    _check_spatial(where, o.padding, (o.strideH, o.strideW), xs, ws[1:3], ys, (o.dilationHFactor, o.dilationWFactor))


def _check_reds_options(where: str, kind: str, sg: schema.SubGraphT, op: schema.OperatorT, x: int, w: int,
                        xs: tuple[int, ...], ws: tuple[int, ...], ys: tuple[int, ...], o_ch: int) -> None:
    """A REDS op's custom options against its tensors, as the C core checks them when the op is prepared (the TFLM
    adapter's PrepareShapes: reds_options_parse, reds_options_check_fc/conv, reds_conv_geometry) and no stricter:
    a file the device would refuse at start-up is refused by every command, materialize and export-c included."""
    code = kind.removeprefix("CUSTOM:")
    raw = bytes(np.asarray(op.customOptions if op.customOptions is not None else [], dtype=np.uint8))
    try:  # the format: version, 1..16 budgets, widths >= 1 and nested, in_widths <= in_channels, strides >= 1
        o = decode(code, raw)
    except OptionsError as exc:
        msg = str(exc).removeprefix(code + ": ")
        raise OptionsError(f"{where}: {msg if msg.startswith('custom options') else 'custom options: ' + msg}") \
            from None
    for k, width in enumerate(o.out_widths):
        if width > o_ch:
            raise OptionsError(f"{where}: custom option out_widths[{k}] = {width}, but the weights {_t(sg, w)} have "
                               f"{o_ch} output channels")
    if COMPUTE_OPS[kind] == FC:
        if o.in_repeat * o.in_channels != ws[1]:
            raise OptionsError(f"{where}: custom options in_repeat {o.in_repeat} x in_channels {o.in_channels} = "
                               f"{o.in_repeat * o.in_channels} inputs, but the weights {_t(sg, w)} read {ws[1]}")
        return
    if o.in_channels != xs[3]:
        raise OptionsError(f"{where}: custom option in_channels = {o.in_channels}, but the input {_t(sg, x)} has "
                           f"{xs[3]} channels")
    if (ws[3] if COMPUTE_OPS[kind] == CONV else o_ch) != xs[3]:  # REDS ops are never grouped nor multiplied
        what = "read" if COMPUTE_OPS[kind] == CONV else "have"
        raise ModelFormatError(f"{where}: weights {_t(sg, w)} {what} {ws[3]} channels, expected the input's {xs[3]} "
                               f"({'no groups' if COMPUTE_OPS[kind] == CONV else 'depth multiplier 1'})")
    _check_spatial(where, o.padding, (o.stride_h, o.stride_w), xs, ws[1:3], ys, (o.dilation_h, o.dilation_w),
                   "custom option")


def _check_spatial(where: str, padding: int, strides, xs: tuple[int, ...], kernel, ys: tuple[int, ...], dilation,
                   what: str = "option") -> None:
    """Output height and width as TFLite computes them from the padding, kernel, stride and dilation."""
    if int(padding) not in PADDING_NAMES:
        raise ModelFormatError(f"{where}: {what} padding = {padding}, expected SAME (0) or VALID (1)")
    for axis, k, stride, dil in ((1, kernel[0], strides[0], dilation[0]), (2, kernel[1], strides[1], dilation[1])):
        size, k, stride, dil = xs[axis], int(k), int(stride), int(dil)
        out = tio.conv_out_size(int(padding), size, k, stride, dil)
        if out != ys[axis]:
            raise ModelFormatError(f"{where}: output {'height' if axis == 1 else 'width'} {ys[axis]} (shape "
                                   f"{list(ys)}) differs from the {out} given by the input {list(xs)}, the "
                                   f"{int(kernel[0])}x{int(kernel[1])} window, stride {stride}, dilation {dil} and "
                                   f"{PADDING_NAMES[int(padding)]} padding")
