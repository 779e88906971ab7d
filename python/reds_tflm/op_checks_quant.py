"""Quantisation rules of TFLM's int8 kernels, run on every parse through op_checks.check_op.

TFLM's int8 kernels of a few builtins accept only certain scales and zero points: MAX_POOL_2D and AVERAGE_POOL_2D
keep their input's, CONCATENATION needs its inputs quantised as its output, PADV2 its padding value, REDUCE_MAX and
REDUCE_MIN their input's; LOGISTIC and SOFTMAX write a fixed output quantisation, HARD_SWISH needs an output scale above
input scale / 128, PAD and SQUARED_DIFFERENCE zero points inside int8. The interpreter refuses anything else when it
prepares the model (AllocateTensors fails; REDUCE_MAX and REDUCE_MIN at their first run), so a model that breaks one
would be exported to C and refused by the device at start-up. Each rule was confirmed on the interpreter this package
runs (a converted int8 model runs, the same model with the one scale or zero point changed is refused); the scales are
compared as TFLM compares them: float32 values, exactly, or within its tolerance where it has one (pools). TANH, RELU,
LEAKY_RELU, MUL, MAXIMUM, MINIMUM, MEAN, SUM, the reshape and slicing ops and PAD's input accept any quantisation.
Besides these rules, the quantised ADD, SUB, SQUARED_DIFFERENCE and int8 SOFTMAX turn their scales (and SOFTMAX's
beta) into fixed-point multipliers behind assertions: out of range, the process aborts (_requantisation).
"""

from __future__ import annotations

import math

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import tflite_io as tio
from .errors import ModelFormatError

INT8 = schema.TensorType.INT8
POOL_SCALE_TOLERANCE = 1.0e-6  # pooling_common.cc: |input scale - output scale| (in float32) <= 1e-6
SOFTMAX_OUTPUT = (np.float32(1.0 / 256), -128)  # softmax_common.cc: output scale == 1.f / 256, zero point -128
LOGISTIC_OUTPUT_ZERO_POINT = -128  # logistic_common.cc: std::numeric_limits<int8_t>::min(); its scale is free
HARD_SWISH_INPUT_SHIFT = np.float32(1.0 / 128)  # hard_swish_common.cc: the "hires" input scale
# Left shift of TFLM's quantised ADD and SUB (add_common.cc, sub_common.cc) by output type: their output multiplier
# 2 * max(input scales) / (2^shift * output scale) must lie in (0, 1), or QuantizeMultiplierSmallerThanOneExp aborts.
ADD_LEFT_SHIFT = {schema.TensorType.INT8: 20, schema.TensorType.INT16: 15}
# int8 SOFTMAX: PreprocessSoftmaxScaling turns beta * input scale * 2^(31 - kScaledDiffIntegerBits = 5) into a
# multiplier that QuantizeMultiplierGreaterThanOne asserts to be above 1.
SOFTMAX_BETA_SHIFT = 31 - 5
_t = tio.tensor_text


def _q(sg: schema.SubGraphT, j: int) -> tuple[np.float32, int]:
    """The scale and zero point TFLM's kernels read (the first of each; 0 and 0 when the tensor has none)."""
    q = tio.quant_params(sg.tensors[j])
    return (np.float32(q[0][0]), int(q[1][0])) if q is not None else (np.float32(0.0), 0)


def _text(sg: schema.SubGraphT, j: int) -> str:
    s, z = _q(sg, j)
    return f"{_t(sg, j)} has scale {s!s} zero point {z}"  # float32's shortest repr: unequal scales print unequal


def _keeps(where: str, kind: str, sg: schema.SubGraphT, x: int, y: int, tolerance: float | None = None,
           role: str = "input") -> None:
    """Output y quantised as x: the scales equal as float32 (within `tolerance` if given), the zero points equal."""
    (sx, zx), (sy, zy) = _q(sg, x), _q(sg, y)
    same = (sx == sy) if tolerance is None else float(np.abs(sx - sy)) <= tolerance
    if not same or zx != zy:
        within = "" if tolerance is None else f" (scales within {tolerance:g})"
        raise ModelFormatError(f"{where}: int8 {kind} keeps its {role}'s scale and zero point{within}: output "
                               f"{_text(sg, y)}, {role} {_text(sg, x)}")


def _pool(where: str, kind: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT,
          ins: list[int], outs: list[int]) -> None:
    _keeps(where, kind, sg, ins[0], outs[0], POOL_SCALE_TOLERANCE)


def _reduce_extremum(where: str, kind: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT,
                     ins: list[int], outs: list[int]) -> None:
    _keeps(where, kind, sg, ins[0], outs[0])


def _concatenation(where: str, kind: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT,
                   ins: list[int], outs: list[int]) -> None:
    for j in ins:
        (sx, zx), (sy, zy) = _q(sg, j), _q(sg, outs[0])
        if sx != sy or zx != zy:
            raise ModelFormatError(f"{where}: int8 CONCATENATION does not rescale: each input has the output's scale "
                                   f"and zero point, but input {_text(sg, j)}, output {_text(sg, outs[0])}")


def _pad(where: str, kind: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT,
         ins: list[int], outs: list[int]) -> None:
    if len(ins) > 2 and ins[2] >= 0:  # PADV2's padding value, quantised as the output
        _keeps(where, kind, sg, ins[2], outs[0], role="padding value")
        return
    z = _q(sg, outs[0])[1]
    if not -128 <= z <= 127:
        raise ModelFormatError(f"{where}: int8 {kind} pads with its output's zero point, expected one in -128..127: "
                               f"output {_text(sg, outs[0])}")


def _squared_difference(where: str, kind: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT,
                        ins: list[int], outs: list[int]) -> None:
    for j, what in ((ins[0], "input"), (ins[1], "input"), (outs[0], "output")):
        if not -128 <= _q(sg, j)[1] <= 127:
            raise ModelFormatError(f"{where}: int8 SQUARED_DIFFERENCE needs zero points in -128..127: {what} "
                                   f"{_text(sg, j)}")


def _logistic(where: str, kind: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT,
              ins: list[int], outs: list[int]) -> None:
    z = _q(sg, outs[0])[1]
    if z != LOGISTIC_OUTPUT_ZERO_POINT:
        raise ModelFormatError(f"{where}: int8 LOGISTIC writes zero point {LOGISTIC_OUTPUT_ZERO_POINT}: output "
                               f"{_text(sg, outs[0])}")


def _softmax(where: str, kind: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT,
             ins: list[int], outs: list[int]) -> None:
    if sg.tensors[outs[0]].type != INT8:
        return
    s, z = _q(sg, outs[0])
    if s != SOFTMAX_OUTPUT[0] or z != SOFTMAX_OUTPUT[1]:
        raise ModelFormatError(f"{where}: int8 SOFTMAX writes scale 1/256 = {float(SOFTMAX_OUTPUT[0]):g} zero point "
                               f"{SOFTMAX_OUTPUT[1]}: output {_text(sg, outs[0])}")


def _hard_swish(where: str, kind: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT,
                ins: list[int], outs: list[int]) -> None:
    """TFLM turns input scale / 128 / output scale (in float32) into a multiplier whose exponent must not be
    positive: a multiplier below 1, once QuantizeMultiplier has rounded it to 31 bits."""
    sx, sy = _q(sg, ins[0])[0], _q(sg, outs[0])[0]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        m = float(np.float32(sx * HARD_SWISH_INPUT_SHIFT) / sy)
    if m == 0.0:
        return
    if math.isfinite(m):
        q, shift = math.frexp(m)
        if math.floor(abs(q) * (1 << 31) + 0.5) == 1 << 31:  # TfLiteRound (halves away from zero) to 2^31
            shift += 1
        if shift <= 0:
            return
    raise ModelFormatError(f"{where}: int8 HARD_SWISH needs an output scale above input scale / 128 = "
                           f"{sx * HARD_SWISH_INPUT_SHIFT!s}: output {_text(sg, outs[0])}, input "
                           f"{_text(sg, ins[0])}")


def _requantisation(where: str, kind: str, sg: schema.SubGraphT, op: schema.OperatorT, ins: list[int],
                    y: int) -> None:
    """Scales that TFLM's quantised kernels turn into fixed-point multipliers behind assertions (TFLITE_CHECK): an
    abort of the whole process, no message, instead of an error."""
    if kind == "SOFTMAX":
        if sg.tensors[ins[0]].type != schema.TensorType.INT8:
            return
        o = op.builtinOptions  # of the right type (_check_options_type); none: TFLM reads beta 0
        beta, scale = float(o.beta) if o is not None else 0.0, float(_q(sg, ins[0])[0])
        if not beta * scale * (1 << SOFTMAX_BETA_SHIFT) > 1.0:
            raise ModelFormatError(f"{where}: option beta = {beta:g} with input {_t(sg, ins[0])} of scale "
                                   f"{scale:g}: int8 SOFTMAX needs beta x input scale x 2^{SOFTMAX_BETA_SHIFT} above 1 "
                                   "(TFLM aborts the process otherwise)")
        return
    quantised = (sg.tensors[ins[0]].type == schema.TensorType.INT8 if kind == "SQUARED_DIFFERENCE"
                 else sg.tensors[y].type in ADD_LEFT_SHIFT)
    if not quantised:
        return
    scales = [float(_q(sg, j)[0]) for j in ins[:2]]
    for j, s in zip(ins, scales):
        if not s > 0:
            raise ModelFormatError(f"{where}: input {_t(sg, j)} has quantisation scale {s:g}, expected a positive "
                                   f"one (TFLM's quantised {kind} aborts the process otherwise)")
    if kind == "SQUARED_DIFFERENCE":  # its output multiplier has no such bound
        return
    twice, shift, out = 2.0 * max(scales), ADD_LEFT_SHIFT[sg.tensors[y].type], float(_q(sg, y)[0])
    if not (out > 0 and twice / ((1 << shift) * out) < 1.0):
        raise ModelFormatError(f"{where}: output {_t(sg, y)} has quantisation scale {out:g}, expected one above "
                               f"2 x the larger input scale / 2^{shift} = {twice / (1 << shift):g} (TFLM's quantised "
                               f"{kind} aborts the process otherwise)")


CHECKS = {"MAX_POOL_2D": _pool, "AVERAGE_POOL_2D": _pool, "REDUCE_MAX": _reduce_extremum,
          "REDUCE_MIN": _reduce_extremum, "CONCATENATION": _concatenation, "PAD": _pad, "PADV2": _pad,
          "LOGISTIC": _logistic, "SOFTMAX": _softmax, "HARD_SWISH": _hard_swish,
          "SQUARED_DIFFERENCE": _squared_difference}


# ops whose scales TFLM turns into fixed-point multipliers behind assertions (_requantisation, any quantised type)
REQUANTISED = {"ADD", "SUB", "SQUARED_DIFFERENCE", "SOFTMAX"}
KINDS = REQUANTISED | set(CHECKS)


def check(where: str, kind: str, model: schema.ModelT, sg: schema.SubGraphT, op: schema.OperatorT, ins: list[int],
          outs: list[int]) -> None:
    """The multiplier bounds of `kind`, then its int8 rule when its (first) input is int8; the types, arity and
    shapes are checked already."""
    if kind in REQUANTISED:
        _requantisation(where, kind, sg, op, ins, outs[0])
    if kind in CHECKS and ins and ins[0] >= 0 and len(outs) == 1 and sg.tensors[ins[0]].type == INT8:
        CHECKS[kind](where, kind, model, sg, op, ins, outs)
