"""Checks of the shape ops, run on every parse through op_checks.check_op.

The broadcasting binary ops and the shape-keeping unary ops must declare the output shape their inputs give
(check_derived_shape: TFLM aborts on one it cannot reconcile). TFLM's CONCATENATION, SLICE, SPLIT, TRANSPOSE,
MIRROR_PAD and SHAPE kernels trust their tensors: an axis outside the rank, an input whose shape does not fit the
output, a slice or padding beyond the input or an output that cannot hold the result make them read or write out of
bounds (SIGSEGV, the whole process dies) instead of failing. Each check
states TFLite's rule for the op; the parameter tensors (begin, size, paddings, perm, axis) are checked when they are
constants, as the converter writes them (TFLM requires it of SPLIT's axis and TRANSPOSE's perm).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import tflite_io as tio
from .errors import ModelFormatError

Check = Callable[[str, schema.ModelT, schema.SubGraphT, schema.OperatorT, list[int], list[int]], None]
_t = tio.tensor_text


def _shape(sg: schema.SubGraphT, j: int) -> list[int]:
    return list(tio.tensor_shape(sg.tensors[j]))


def _one_output(where: str, outs: list[int]) -> int:
    if len(outs) != 1:
        raise ModelFormatError(f"{where}: has outputs {outs}, expected one")
    return outs[0]


def _const_vector(where: str, model: schema.ModelT, sg: schema.SubGraphT, j: int, what: str,
                  length: int) -> list[int] | None:
    """A constant 1-D parameter of `length` integers, None when it is computed at run time."""
    v = tio.buffer_of(model, sg.tensors[j])
    if v is None:
        return None
    if v.ndim != 1 or v.size != length or not np.issubdtype(v.dtype, np.integer):
        raise ModelFormatError(f"{where}: {what} {_t(sg, j)} of type {tio.TENSOR_TYPE_NAMES.get(sg.tensors[j].type)}, "
                               f"expected {length} integers (one per dimension of the input)")
    return [int(a) for a in v]


def check_concatenation(where: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT,
                        ins: list[int], outs: list[int]) -> None:
    y = _one_output(where, outs)
    ys = _shape(sg, y)
    rank = len(ys)
    axis = int(op.builtinOptions.axis) if op.builtinOptions is not None else 0
    if not ins or not -rank <= axis < rank:
        raise ModelFormatError(f"{where}: option axis = {axis} with inputs {ins}, expected an axis of the output "
                               f"{_t(sg, y)}")
    axis %= rank
    total = 0
    for j in ins:
        xs = _shape(sg, j)
        if len(xs) != rank or any(a != b for d, (a, b) in enumerate(zip(xs, ys)) if d != axis):
            raise ModelFormatError(f"{where}: input {_t(sg, j)} does not fit the output {_t(sg, y)}: expected its "
                                   f"rank and its dimensions except along axis {axis}")
        total += xs[axis]
    if total != ys[axis]:
        raise ModelFormatError(f"{where}: the inputs {ins} hold {total} along axis {axis}, the output {_t(sg, y)} "
                               f"{ys[axis]}")


def check_slice(where: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT, ins: list[int],
                outs: list[int]) -> None:
    xs, ys = _shape(sg, ins[0]), _shape(sg, outs[0])
    begin = _const_vector(where, model, sg, ins[1], "begin", len(xs))
    size = _const_vector(where, model, sg, ins[2], "size", len(xs))
    if begin is None or size is None:
        return
    want = []
    for d, (b, s, n) in enumerate(zip(begin, size, xs)):
        if not 0 <= b <= n or not (s == -1 or 0 <= s <= n - b):
            raise ModelFormatError(f"{where}: begin {begin} and size {size} (tensors {ins[1]}, {ins[2]}) reach "
                                   f"outside the input {_t(sg, ins[0])} in dimension {d}")
        want.append(n - b if s == -1 else s)
    if ys != want:
        raise ModelFormatError(f"{where}: output {_t(sg, outs[0])}, but begin {begin} and size {size} give {want}")


def check_split(where: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT, ins: list[int],
                outs: list[int]) -> None:
    if len(ins) != 2 or min(ins) < 0:
        raise ModelFormatError(f"{where}: expects inputs (axis, input), has {ins}")
    xs = _shape(sg, ins[1])
    n = int(op.builtinOptions.numSplits) if op.builtinOptions is not None else len(outs)
    if n != len(outs) or n < 1:
        raise ModelFormatError(f"{where}: option numSplits = {n}, but the op has {len(outs)} outputs")
    v = tio.buffer_of(model, sg.tensors[ins[0]])
    if v is None:  # TFLM refuses a computed axis itself
        return
    axis = int(np.ravel(v)[0]) if v.size else len(xs)
    if not -len(xs) <= axis < len(xs) or xs[axis] % n:
        raise ModelFormatError(f"{where}: axis {np.ravel(v).tolist()} (tensor {ins[0]}) of the input {_t(sg, ins[1])}, "
                               f"expected a dimension of it that {n} outputs divide")
    want = list(xs)
    want[axis] //= n
    for j in outs:
        if _shape(sg, j) != want:
            raise ModelFormatError(f"{where}: output {_t(sg, j)}, expected {want} (the input split {n} ways along "
                                   f"axis {axis % len(xs)})")


def check_transpose(where: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT, ins: list[int],
                    outs: list[int]) -> None:
    xs = _shape(sg, ins[0])
    perm = _const_vector(where, model, sg, ins[1], "perm", len(xs))
    if perm is None:
        return
    if sorted(perm) != list(range(len(xs))):
        raise ModelFormatError(f"{where}: perm {perm} (tensor {ins[1]}) is not a permutation of the input's "
                               f"{len(xs)} dimensions")
    want = [xs[p] for p in perm]
    if _shape(sg, outs[0]) != want:
        raise ModelFormatError(f"{where}: output {_t(sg, outs[0])}, but perm {perm} gives {want}")


def check_mirror_pad(where: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT, ins: list[int],
                     outs: list[int]) -> None:
    """REFLECT pads at most size - 1 on a side, SYMMETRIC at most size (TFLite's MirrorPad)."""
    xs = _shape(sg, ins[0])
    pads = tio.buffer_of(model, sg.tensors[ins[1]])
    if pads is None:
        return
    if pads.shape != (len(xs), 2) or not np.issubdtype(pads.dtype, np.integer):
        raise ModelFormatError(f"{where}: paddings {_t(sg, ins[1])}, expected [{len(xs)}, 2] integers")
    mode = int(op.builtinOptions.mode) if op.builtinOptions is not None else schema.MirrorPadMode.REFLECT
    reflect = mode == schema.MirrorPadMode.REFLECT  # TFLM pads every other mode as SYMMETRIC
    for d, (n, (lo, hi)) in enumerate(zip(xs, pads.tolist())):
        most = n - 1 if reflect else n
        if not (0 <= lo <= most and 0 <= hi <= most):
            raise ModelFormatError(f"{where}: paddings {pads.tolist()} (tensor {ins[1]}) pad dimension {d} of the "
                                   f"input {_t(sg, ins[0])} by {lo} and {hi}, expected 0 to {most} "
                                   f"({'REFLECT' if reflect else 'SYMMETRIC'})")
    want = [n + lo + hi for n, (lo, hi) in zip(xs, pads.tolist())]
    if _shape(sg, outs[0]) != want:
        raise ModelFormatError(f"{where}: output {_t(sg, outs[0])}, but padding the input gives {want}")


def check_shape(where: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT, ins: list[int],
                outs: list[int]) -> None:
    """TFLM writes one entry per input dimension whatever the output holds."""
    rank = len(_shape(sg, ins[0]))
    if _shape(sg, outs[0]) != [rank]:
        raise ModelFormatError(f"{where}: output {_t(sg, outs[0])}, expected [{rank}] (the rank of the input "
                               f"{_t(sg, ins[0])})")


# Builtin ops whose output shape follows from their inputs: checked on every parse, because the TFLM interpreter
# aborts the whole process (no exception) on a shape it cannot reconcile, e.g. a corrupt file's ADD output.
BROADCAST_OPS = {"ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"}
SAME_SHAPE_OPS = {"RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU", "QUANTIZE",
                  "DEQUANTIZE", "ELU", "PRELU", "ABS", "NEG"}


def check_derived_shape(where: str, kind: str, sg: schema.SubGraphT, ins: list[int], outs: list[int]) -> None:
    """The output shape of an op whose output follows from its inputs (broadcast, or the input's own)."""
    if not outs:
        return
    out = tio.tensor_shape(sg.tensors[outs[0]])
    shapes = [tio.tensor_shape(sg.tensors[j]) for j in ins if j >= 0]
    if kind in BROADCAST_OPS and len(shapes) == 2:
        try:
            want = tuple(np.broadcast_shapes(shapes[0], shapes[1]))
        except ValueError:
            raise ModelFormatError(f"{where}: input shapes {shapes[0]} and {shapes[1]} do not broadcast") from None
        if want != out:
            raise ModelFormatError(f"{where}: output shape {out}, but inputs {shapes[0]} and {shapes[1]} give {want}")
    elif kind in SAME_SHAPE_OPS and shapes and shapes[0] != out:
        raise ModelFormatError(f"{where}: output shape {out} differs from its input's {shapes[0]}")


CHECKS: dict[str, Check] = {"CONCATENATION": check_concatenation, "SLICE": check_slice, "SPLIT": check_split,
                            "TRANSPOSE": check_transpose, "MIRROR_PAD": check_mirror_pad, "SHAPE": check_shape}
