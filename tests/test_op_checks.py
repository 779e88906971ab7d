"""What op_checks and op_checks_shape refuse on every parse, one small model per check.

Each case builds a valid one-op model (it must parse: the check accepts the well-formed op) and the same op broken in
one way. Found by a structured fuzzer over options and constant tensors of the shape ops, the quantised kernels and the
REDS ops: the broken builtins killed `run` and `eval` inside the tflite-micro interpreter (SIGSEGV in CONCATENATION,
SLICE, SPLIT, TRANSPOSE, MIRROR_PAD, SHAPE and MEAN; SIGABRT in the multiplier set-up of int8 SOFTMAX, ADD, SUB and
SQUARED_DIFFERENCE) or ran on with a mistyped output; the broken REDS ops were accepted by inspect, materialize and
export-c although the C core refuses them when the op is prepared. Now each is a ModelFormatError or OptionsError
naming the file, op and tensor. The same round found the other cases below: two error messages that spanned
several lines, and materialize writing the sliced width into the axis of an EXPAND_DIMS (or failing with an
OverflowError on a shape tensor that cannot hold it) and keeping the -1 bias of a REDS_DWConv, which the builtin
depthwise conv dereferences.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from reds_tflm import core
from reds_tflm import onelayer as L
from reds_tflm import tflite_io as tio
from reds_tflm.convert import convert_model
from reds_tflm.errors import ModelFormatError, RedsError, UnsupportedModelError
from reds_tflm.hostrun import run_model
from reds_tflm.materialize import materialize
from reds_tflm.options import encode
from reds_tflm.rewrite import restore_builtin

F32, I8, I32 = schema.TensorType.FLOAT32, schema.TensorType.INT8, schema.TensorType.INT32
Spec = tuple  # (shape, type, constant data or None, (scale, zero point) or None)


def _options(kind: str, **fields):
    o = getattr(schema, kind + "T")()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


def _builtin(op: str, inputs: list[Spec], outputs: list[Spec], options=None) -> bytes:
    """One builtin op; inputs without data are the graph's inputs."""
    mb = L.ModelBuilder()

    def tensor(name: str, spec: Spec) -> int:
        shape, ttype, data, q = (*spec, None, None)[:4]
        quant = None
        if q is not None:
            quant = schema.QuantizationParametersT()
            quant.scale, quant.zeroPoint = [float(q[0])], [int(q[1])]
        data = None if data is None else np.asarray(data, tio.NUMPY_DTYPES[ttype])
        return mb.tensor(name, shape, ttype, data, quant)

    ins = [tensor(f"in{k}", s) for k, s in enumerate(inputs)]
    outs = [tensor(f"out{k}", s) for k, s in enumerate(outputs)]
    otype = getattr(schema.BuiltinOptions, type(options).__name__[:-1]) if options is not None else 0
    mb.op(mb.opcode(getattr(schema.BuiltinOperator, op)), ins, outs, otype, options)
    return mb.finish([j for j, s in zip(ins, inputs) if len(s) < 3 or s[2] is None], outs)


def _reds(kind: str, x_shape, w_shape, widths, in_widths=None, stride=(1, 1), truncate: int = 0,
          **options) -> bytes:
    """One REDS op with float32 weights; `options` override what the layer's geometry gives."""
    layer = L.Layer(kind=kind, x_shape=x_shape, weights=np.zeros(w_shape, np.float32), bias=None, stride=stride,
                    in_repeat=options.pop("layer_in_repeat", 1))
    o = layer.options(widths, in_widths or widths)
    for k, v in options.items():
        setattr(o, k, v)
    raw = encode(o)
    mb = L.ModelBuilder()
    x = L.input_tensor(mb, layer)
    y = L.add_layer(mb, layer, x, custom_options=raw[:len(raw) - truncate])
    return mb.finish([x], [y])


def _concat(axis: int, second=(1, 2, 4)) -> bytes:
    return _builtin("CONCATENATION", [((1, 2, 3), F32), (second, F32)], [((1, 2, 7), F32)],
                    _options("ConcatenationOptions", axis=axis))


def _slice(begin) -> bytes:
    return _builtin("SLICE", [((1, 4, 4), F32), ((3,), I32, begin), ((3,), I32, [1, 2, -1])], [((1, 2, 3), F32)])


def _split(first) -> bytes:
    return _builtin("SPLIT", [((1,), I32, [2]), ((1, 2, 6), F32)], [(first, F32), ((1, 2, 2), F32), ((1, 2, 2), F32)],
                    _options("SplitOptions", numSplits=3))


def _transpose(out) -> bytes:
    return _builtin("TRANSPOSE", [((1, 2, 3), F32), ((3,), I32, [0, 2, 1])], [(out, F32)], _options("TransposeOptions"))


def _mirror_pad(before: int) -> bytes:
    pads = [[0, 0], [before, 1], [1, 1], [0, 0]]
    return _builtin("MIRROR_PAD", [((1, 3, 3, 2), F32), ((4, 2), I32, pads)], [((1, 5, 5, 2), F32)],
                    _options("MirrorPadOptions", mode=schema.MirrorPadMode.REFLECT))


def _mean(rows: int) -> bytes:
    return _builtin("MEAN", [((rows, 4), F32), ((1,), I32, [0])], [((1, 4), F32)],
                    _options("ReducerOptions", keepDims=True))


def _softmax(beta: float) -> bytes:
    return _builtin("SOFTMAX", [((1, 5), I8, None, (0.1, 0))], [((1, 5), I8, None, (1 / 256, -128))],
                    _options("SoftmaxOptions", beta=beta))


def _arith(op: str, in_scale: float, out_scale: float) -> bytes:
    return _builtin(op, [((1, 4), I8, None, (in_scale, 0)), ((1, 4), I8, None, (0.1, 0))],
                    [((1, 4), I8, None, (out_scale, 0))],
                    _options(op.title().replace("_", "") + "Options") if op != "SQUARED_DIFFERENCE" else None)


def _max_pool(out_type: int) -> bytes:
    return _builtin("MAX_POOL_2D", [((1, 4, 4, 2), F32)], [((1, 2, 2, 2), out_type)],
                    _options("Pool2DOptions", padding=schema.Padding.VALID, strideH=2, strideW=2, filterHeight=2,
                             filterWidth=2))


def _depthwise(bias_index: int | None) -> bytes:
    layer = L.Layer(kind=L.DW, x_shape=(1, 4, 4, 2), weights=np.zeros((1, 3, 3, 2), np.float32), bias=None)
    m = tio.parse_model(L.builtin_model(layer))
    if bias_index is not None:
        op = m.subgraphs[0].operators[0]
        op.inputs = np.asarray([*op.inputs, bias_index], np.int32)
    return tio.serialize_model(m)


def _q8(shape, q) -> Spec:
    return (shape, I8, None, q)


def _pool8(kind: str, out_q) -> bytes:
    return _builtin(kind, [_q8((1, 4, 4, 2), (0.05, 3))], [_q8((1, 2, 2, 2), out_q)],
                    _options("Pool2DOptions", padding=schema.Padding.VALID, strideH=2, strideW=2, filterHeight=2,
                             filterWidth=2))


def _concat8(second_scale: float) -> bytes:
    return _builtin("CONCATENATION", [_q8((1, 2, 3), (0.1, 0)), _q8((1, 2, 4), (second_scale, 0))],
                    [_q8((1, 2, 7), (0.1, 0))], _options("ConcatenationOptions", axis=2))


def _pad8(kind: str, out_zero_point: int, value_zero_point: int | None = None) -> bytes:
    pads = ((4, 2), I32, [[0, 0], [1, 1], [1, 1], [0, 0]])
    value = [((1,), I8, [3], (0.1, value_zero_point))] if value_zero_point is not None else []
    return _builtin(kind, [_q8((1, 2, 2, 1), (0.1, out_zero_point)), pads, *value],
                    [_q8((1, 4, 4, 1), (0.1, out_zero_point))],
                    _options("PadV2Options" if value else "PadOptions"))


def _reduce8(kind: str, out_zero_point: int) -> bytes:
    return _builtin(kind, [_q8((2, 4), (0.1, 0)), ((1,), I32, [0])], [_q8((1, 4), (0.1, out_zero_point))],
                    _options("ReducerOptions", keepDims=True))


def _unary8(kind: str, in_q, out_q, options=None) -> bytes:
    return _builtin(kind, [_q8((1, 5), in_q)], [_q8((1, 5), out_q)], options)


def _squared_difference8(out_zero_point: int) -> bytes:
    return _builtin("SQUARED_DIFFERENCE", [_q8((1, 4), (0.1, 0)), _q8((1, 4), (0.1, 0))],
                    [_q8((1, 4), (0.2, out_zero_point))])


# name: (valid model, broken model, words of the error); the old symptom in the comment
CASES: dict[str, tuple[Callable[[], bytes], Callable[[], bytes], str]] = {
    "CONCATENATION axis": (lambda: _concat(2), lambda: _concat(3),  # SIGSEGV
                           r"op 0 \(CONCATENATION\): option axis = 3 with inputs \[0, 1\], expected an axis of the "
                           r"output tensor 2 \(out0\) of shape \[1, 2, 7\]"),
    "CONCATENATION operand": (lambda: _concat(-1), lambda: _concat(-1, (1, 4)),  # SIGSEGV
                              r"input tensor 1 \(in1\) of shape \[1, 4\] does not fit the output tensor 2 .* its rank"),
    "SLICE beyond the input": (lambda: _slice([0, 1, 1]), lambda: _slice([0, 1 << 20, 1]),  # SIGSEGV
                               r"op 0 \(SLICE\): begin \[0, 1048576, 1\] and size \[1, 2, -1\] \(tensors 1, 2\) "
                               r"reach "
                               r"outside the input tensor 0 \(in0\) of shape \[1, 4, 4\] in dimension 1"),
    "SPLIT output": (lambda: _split((1, 2, 2)), lambda: _split((1, 2)),  # SIGSEGV
                     r"op 0 \(SPLIT\): output tensor 2 \(out0\) of shape \[1, 2\], expected \[1, 2, 2\]"),
    "TRANSPOSE output": (lambda: _transpose((1, 3, 2)), lambda: _transpose((1, 3)),  # SIGSEGV
                         r"op 0 \(TRANSPOSE\): output tensor 2 \(out0\) of shape \[1, 3\], but perm \[0, 2, 1\] "
                         r"gives \[1, 3, 2\]"),
    "MIRROR_PAD beyond the input": (lambda: _mirror_pad(1), lambda: _mirror_pad(1 << 20),  # SIGSEGV
                                    r"op 0 \(MIRROR_PAD\): paddings .* pad dimension 1 of the input tensor 0 \(in0\) "
                                    r"of shape \[1, 3, 3, 2\] by 1048576 and 1, expected 0 to 2 \(REFLECT\)"),
    "SHAPE output": (lambda: _builtin("SHAPE", [((1, 2, 3), F32)], [((3,), I32)]),  # SIGSEGV (it writes 3 entries)
                     lambda: _builtin("SHAPE", [((1, 2, 3), F32)], [((0,), I32)]),
                     r"op 0 \(SHAPE\): output tensor 1 \(out0\) of shape \[0\], expected \[3\]"),
    "MEAN of an empty input": (lambda: _mean(2), lambda: _mean(0),  # SIGSEGV
                               r"op 0 \(MEAN\): input tensor 0 \(in0\) of shape \[0, 4\] has a dimension of size 0"),
    "int8 SOFTMAX beta": (lambda: _softmax(1.0), lambda: _softmax(0.0),  # SIGABRT
                          r"op 0 \(SOFTMAX\): option beta = 0 with input tensor 0 .* int8 SOFTMAX needs beta x input "
                          r"scale x 2\^26 above 1"),
    "int8 ADD output scale": (lambda: _arith("ADD", 0.1, 0.2), lambda: _arith("ADD", 0.1, 1e-12),  # SIGABRT
                              r"op 0 \(ADD\): output tensor 2 \(out0\) .* has quantisation scale 1e-12, expected one "
                              r"above 2 x the larger input scale / 2\^20 = 1\.9\d*e-07"),
    "int8 SUB input scale": (lambda: _arith("SUB", 0.1, 0.2), lambda: _arith("SUB", 0.0, 0.2),  # SIGABRT
                             r"op 0 \(SUB\): input tensor 0 \(in0\) .* has quantisation scale 0, expected a positive"),
    "int8 SQUARED_DIFFERENCE input scale": (lambda: _arith("SQUARED_DIFFERENCE", 0.1, 0.2),  # SIGABRT
                                            lambda: _arith("SQUARED_DIFFERENCE", -0.5, 0.2),
                                            r"op 0 \(SQUARED_DIFFERENCE\): input tensor 0 .* scale -0\.5"),
    "output type": (lambda: _max_pool(F32), lambda: _max_pool(I8),  # ran on, float32 results in an int8 tensor
                    r"op 0 \(MAX_POOL_2D\): output tensor 1 \(out0\) of shape \[1, 2, 2, 2\] is INT8, but input "
                    r"tensor 0 \(in0\) of shape \[1, 4, 4, 2\] is FLOAT32: MAX_POOL_2D keeps its input's type"),
    "DEPTHWISE_CONV_2D bias -1": (lambda: _depthwise(None), lambda: _depthwise(-1),  # SIGSEGV
                                  r"op 0 \(DEPTHWISE_CONV_2D\): bias input index -1: TFLM's DEPTHWISE_CONV_2D reads a "
                                  r"third input as its bias"),
    # int8 quantisation TFLM refuses when it prepares the model: accepted by inspect, materialize and export-c
    "int8 MAX_POOL_2D scale": (lambda: _pool8("MAX_POOL_2D", (0.0500009, 3)),  # within TFLM's 1e-6
                               lambda: _pool8("MAX_POOL_2D", (0.0500011, 3)),
                               r"op 0 \(MAX_POOL_2D\): int8 MAX_POOL_2D keeps its input's scale and zero point "
                               r"\(scales within 1e-06\): output tensor 1 \(out0\) of shape \[1, 2, 2, 2\] has "
                               r"scale 0\.0500011\d* zero point 3, input tensor 0 \(in0\) .* has scale 0\.05\d* "
                               r"zero point 3"),
    "int8 AVERAGE_POOL_2D zero point": (lambda: _pool8("AVERAGE_POOL_2D", (0.05, 3)),
                                        lambda: _pool8("AVERAGE_POOL_2D", (0.05, 4)),
                                        r"int8 AVERAGE_POOL_2D keeps its input's scale and zero point .* zero point 4,"
                                        r" input .* zero point 3"),
    "int8 CONCATENATION scale": (lambda: _concat8(0.1), lambda: _concat8(float(np.float32(0.1) * (1 + 1e-6))),
                                 r"op 0 \(CONCATENATION\): int8 CONCATENATION does not rescale: each input has the "
                                 r"output's scale and zero point, but input tensor 1 \(in1\) of shape \[1, 2, 4\] "
                                 r"has scale 0\.100000\d* zero point 0, output tensor 2 \(out0\)"),
    "int8 PADV2 padding value": (lambda: _pad8("PADV2", 3, 3), lambda: _pad8("PADV2", 3, 4),
                                 r"op 0 \(PADV2\): int8 PADV2 keeps its padding value's scale and zero point: output "
                                 r"tensor 3 \(out0\) .* zero point 3, padding value tensor 2 \(in2\) .* zero "
                                 r"point 4"),
    "int8 PAD zero point": (lambda: _pad8("PAD", 127), lambda: _pad8("PAD", 128),
                            r"op 0 \(PAD\): int8 PAD pads with its output's zero point, expected one in -128\.\.127:"
                            r" output tensor 2 \(out0\) .* zero point 128"),
    "int8 REDUCE_MAX zero point": (lambda: _reduce8("REDUCE_MAX", 0), lambda: _reduce8("REDUCE_MAX", 1),
                                   r"op 0 \(REDUCE_MAX\): int8 REDUCE_MAX keeps its input's scale and zero point: "
                                   r"output tensor 2 \(out0\) .* zero point 1, input tensor 0 \(in0\)"),
    "int8 LOGISTIC output": (lambda: _unary8("LOGISTIC", (0.1, 0), (0.5, -128)),  # its output scale is free
                             lambda: _unary8("LOGISTIC", (0.1, 0), (1 / 256, 0)),
                             r"op 0 \(LOGISTIC\): int8 LOGISTIC writes zero point -128: output tensor 1 \(out0\) "
                             r".* has scale 0\.00390625 zero point 0"),
    "int8 SOFTMAX output": (lambda: _softmax(1.0), lambda: _builtin(
        "SOFTMAX", [_q8((1, 5), (0.1, 0))], [_q8((1, 5), (1 / 128, -128))], _options("SoftmaxOptions", beta=1.0)),
                            r"op 0 \(SOFTMAX\): int8 SOFTMAX writes scale 1/256 = 0\.00390625 zero point -128: "
                            r"output tensor 1 \(out0\) .* has scale 0\.0078125 zero point -128"),
    "int8 HARD_SWISH output scale": (lambda: _unary8("HARD_SWISH", (0.1, 0), (0.1 / 128 * 1.01, 0)),
                                     lambda: _unary8("HARD_SWISH", (0.1, 0), (0.1 / 128, 0)),
                                     r"op 0 \(HARD_SWISH\): int8 HARD_SWISH needs an output scale above input scale "
                                     r"/ 128 = 0\.00078125\d*: output tensor 1 \(out0\) .* input tensor 0"),
    "int8 SQUARED_DIFFERENCE zero point": (lambda: _squared_difference8(127), lambda: _squared_difference8(128),
                                           r"op 0 \(SQUARED_DIFFERENCE\): int8 SQUARED_DIFFERENCE needs zero points "
                                           r"in -128\.\.127: output tensor 2 \(out0\) .* zero point 128"),
    # REDS ops: each accepted by inspect, materialize and export-c, refused by the C core when prepared
    "REDS options unreadable": (lambda: _reds(L.FC, (1, 6), (4, 6), [4, 2]),
                                lambda: _reds(L.FC, (1, 6), (4, 6), [4, 2], truncate=3),
                                r"op 0 \(CUSTOM:REDS_FC\): custom options root is not a FlexBuffer map"),
    "REDS out_widths": (lambda: _reds(L.FC, (1, 6), (4, 6), [4, 2]),
                        lambda: _reds(L.FC, (1, 6), (4, 6), [4, 2], out_widths=[5, 2]),
                        r"op 0 \(CUSTOM:REDS_FC\): custom option out_widths\[0\] = 5, but the weights tensor 1 "
                        r"\(weights\) of shape \[4, 6\] have 4 output channels"),
    "REDS_FC in_repeat x in_channels": (lambda: _reds(L.FC, (1, 6), (4, 6), [3, 1], layer_in_repeat=2),
                                        lambda: _reds(L.FC, (1, 6), (4, 6), [2, 1], layer_in_repeat=2,
                                                      in_channels=2),
                                        r"custom options in_repeat 2 x in_channels 2 = 4 inputs, but the weights "
                                        r"tensor 1 \(weights\) of shape \[4, 6\] read 6"),
    "REDS_Conv in_channels": (lambda: _reds(L.CONV, (1, 5, 5, 3), (4, 3, 3, 3), [3, 2]),
                              lambda: _reds(L.CONV, (1, 5, 5, 3), (4, 3, 3, 3), [3, 2], in_channels=4),
                              r"op 0 \(CUSTOM:REDS_Conv\): custom option in_channels = 4, but the input tensor 0 "
                              r"\(x\) of shape \[1, 5, 5, 3\] has 3 channels"),
    "REDS_DWConv depth multiplier": (lambda: _reds(L.DW, (1, 5, 5, 4), (1, 3, 3, 4), [4, 2]),
                                     lambda: _reds(L.DW, (1, 5, 5, 2), (1, 3, 3, 4), [2, 1], in_channels=2),
                                     r"op 0 \(CUSTOM:REDS_DWConv\): weights tensor 1 \(weights\) of shape \[1, 3, 3, "
                                     r"4\] have 4 channels, expected the input's 2 \(depth multiplier 1\)"),
    "REDS_Conv stride": (lambda: _reds(L.CONV, (1, 6, 6, 2), (3, 3, 3, 2), [3, 1], [2, 1], stride=(2, 2)),
                         lambda: _reds(L.CONV, (1, 6, 6, 2), (3, 3, 3, 2), [3, 1], [2, 1], stride=(2, 2),
                                       stride_w=1),
                         r"op 0 \(CUSTOM:REDS_Conv\): output width 3 \(shape \[1, 3, 3, 3\]\) differs from the 6 "
                         r"given by the input \[1, 6, 6, 2\], the 3x3 window, stride 1"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_op_is_refused_on_parse(case: str) -> None:
    valid, broken, words = CASES[case]
    tio.parse_model(valid(), "m.tflite")
    with pytest.raises(RedsError) as err:
        tio.parse_model(broken(), "m.tflite")
    assert re.search(r"^m\.tflite: subgraph 0: op 0 \(", str(err.value)) and re.search(words, str(err.value)), \
        str(err.value)


def test_reds_kernel_quantisation_error_is_one_line() -> None:
    """numpy printed the weight scales of the refused quantisation over several lines."""
    layer = L.Layer(kind=L.FC, x_shape=(1, 12), weights=np.ones((12, 12), np.int8), bias=np.zeros(12, np.int32),
                    quant=core.Quant(0.0, 0, np.full(12, 0.01, np.float32), 0.1, 0))
    with pytest.raises(UnsupportedModelError) as err:
        core.run_op(L.REDS_FC, encode(layer.options([12], [12])), np.zeros((1, 12), np.int8), layer.weights,
                    layer.bias, 0, layer.quant)
    assert "\n" not in str(err.value) and "input scale 0 zero point 0, weight scales [0.01, 0.01, 0.01, 0.01, " \
        "... (12 in all)]" in str(err.value)


def test_materialized_depthwise_without_bias_has_two_inputs() -> None:
    """A REDS_DWConv says 'no bias' with -1 (docs/format.md); its builtin must not (see the bias -1 case above)."""
    m = tio.parse_model(_reds(L.DW, (1, 5, 5, 4), (1, 3, 3, 4), [4, 2]), "m.tflite")
    assert list(m.subgraphs[0].operators[0].inputs)[2:] == [-1]
    restore_builtin(m, 0)
    assert len(m.subgraphs[0].operators[0].inputs) == 2
    tio.parse_model(tio.serialize_model(m), "restored.tflite")


def test_no_narrowable_group_is_one_line() -> None:
    """convert listed the groups one per line."""
    layer = L.Layer(kind=L.FC, x_shape=(1, 6), weights=np.zeros((4, 6), np.float32), bias=None)
    with pytest.raises(UnsupportedModelError, match=r"no channel group can be narrowed: group 0: 6 channels, fixed "
                                                    r"\(model input\); layers: op0:FULLY_CONNECTED; group 1") as err:
        convert_model(tio.parse_model(L.builtin_model(layer)), name="m.tflite")
    assert "\n" not in str(err.value)


def _fc_reshape_fc(kind: str, second: np.ndarray, mid_shape: tuple[int, ...]) -> bytes:
    """FC 6 -> 8, then RESHAPE or EXPAND_DIMS with a constant second input, then FC 8 -> 4 (float32)."""
    rng = np.random.default_rng(0)
    mb = L.ModelBuilder()
    x, y, z, o = (mb.tensor(n, s, F32) for n, s in (("x", (1, 6)), ("y", (1, 8)), ("z", mid_shape), ("o", (1, 4))))
    fc = mb.opcode(schema.BuiltinOperator.FULLY_CONNECTED)
    w1, w2 = (mb.tensor(n, s, F32, rng.normal(size=s).astype(np.float32)) for n, s in (("w1", (8, 6)), ("w2", (4, 8))))
    mb.op(fc, [x, w1], [y], schema.BuiltinOptions.FullyConnectedOptions, schema.FullyConnectedOptionsT())
    c = mb.tensor("second", second.shape, {np.dtype(np.int32): I32, np.dtype(np.int8): I8}[second.dtype], second)
    mb.op(mb.opcode(getattr(schema.BuiltinOperator, kind)), [y, c], [z])
    mb.op(fc, [z, w2], [o], schema.BuiltinOptions.FullyConnectedOptions, schema.FullyConnectedOptionsT())
    return mb.finish([x], [o])


def test_materialize_leaves_the_axis_of_expand_dims_alone() -> None:
    """It wrote the sliced width into EXPAND_DIMS' axis (the subnetwork then failed in TFLM: axis 4 of a 2-D input)."""
    reds = convert_model(tio.parse_model(_fc_reshape_fc("EXPAND_DIMS", np.array([1], np.int32), (1, 1, 8))),
                         budgets=[1.0, 0.5]).model
    sub = tio.parse_model(tio.serialize_model(materialize(reds, 1, "m.tflite")))
    op = next(op for op in sub.subgraphs[0].operators if tio.op_name(sub, op) == "EXPAND_DIMS")
    assert tio.buffer_of(sub, sub.subgraphs[0].tensors[op.inputs[1]]).tolist() == [1]
    assert run_model(sub, [np.ones((1, 6), np.float32)], 0)[0].shape == (1, 4)


def test_materialize_refuses_a_shape_tensor_it_cannot_write() -> None:
    """An int8 shape vector: an OverflowError at exit 3 when the sliced width did not fit."""
    reds = convert_model(tio.parse_model(_fc_reshape_fc("RESHAPE", np.array([1, 1, 8], np.int8), (1, 1, 8))),
                         budgets=[1.0, 0.5]).model
    with pytest.raises(ModelFormatError, match=r"m\.tflite: op 1 \(RESHAPE\): shape tensor \d+ \(second\) of shape "
                                               r"\[3\] of type INT8, expected a vector of int32 or int64"):
        materialize(reds, 1, "m.tflite")
