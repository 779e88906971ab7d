"""One-op int8 layers for the on-target checks: random layer parameters, the builtin one-op .tflite of the layer
sliced to a budget's widths, and the reference output of the tflite-micro interpreter on it.

A REDS op at budget k must equal, on its active channels, the builtin op on the layer sliced to those widths, and
hold the output zero point elsewhere (docs/format.md). `reference_outputs` produces exactly that full-width
expectation from TFLM itself, so the firmware's comparison is against the interpreter, not against our own maths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from reds_tflm import tflite_io as tio
from reds_tflm.options import REDS_CONV, REDS_DWCONV, REDS_FC, RedsOptions


@dataclass
class Layer:
    """A full-width int8 layer and its nested budgets. Shapes: FC input [repeat * in_c], weights [O, repeat * in_c];
    Conv input [H, W, in_c], weights [O, KH, KW, in_c]; DW input [H, W, C], weights [1, KH, KW, C]."""

    op: str
    name: str
    input: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    in_scale: float
    in_zp: int
    w_scales: np.ndarray       # per channel, or one entry (per tensor)
    out_scale: float
    out_zp: int
    out_widths: list[int]
    in_widths: list[int]
    activation: int = 0
    in_repeat: int = 1
    padding: int = 0           # 0 SAME, 1 VALID
    stride: tuple[int, int] = (1, 1)        # (h, w)
    dilation: tuple[int, int] = (1, 1)
    extra: dict = field(default_factory=dict)

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[-1] if self.op == REDS_DWCONV else self.weights.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.input.shape[-1] if self.op != REDS_FC else self.input.size // self.in_repeat)

    def options(self) -> RedsOptions:
        return RedsOptions(op=self.op, out_widths=list(self.out_widths), in_widths=list(self.in_widths),
                           in_channels=self.in_channels, activation=self.activation, in_repeat=self.in_repeat,
                           padding=self.padding, stride_h=self.stride[0], stride_w=self.stride[1],
                           dilation_h=self.dilation[0], dilation_w=self.dilation[1])


def _out_size(padding: int, n: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    return (n + stride - 1) // stride if padding == 0 else (n + stride - eff) // stride


def output_shape(layer: Layer) -> tuple[int, ...]:
    if layer.op == REDS_FC:
        return (layer.out_channels,)
    h, w = layer.input.shape[:2]
    kh, kw = layer.weights.shape[1:3]
    return (_out_size(layer.padding, h, kh, layer.stride[0], layer.dilation[0]),
            _out_size(layer.padding, w, kw, layer.stride[1], layer.dilation[1]), layer.out_channels)


def sliced(layer: Layer, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Input, weights, bias and filter scales of the layer narrowed to budget k's widths."""
    ow, iw = layer.out_widths[k], layer.in_widths[k]
    scales = layer.w_scales if layer.w_scales.size == 1 else layer.w_scales[:ow]
    if layer.op == REDS_FC:
        c = layer.in_channels
        x = layer.input.reshape(layer.in_repeat, c)[:, :iw].reshape(-1)
        w = layer.weights.reshape(layer.out_channels, layer.in_repeat, c)[:ow, :, :iw].reshape(ow, -1)
        return x, w, layer.bias[:ow], scales
    if layer.op == REDS_CONV:
        return layer.input[..., :iw], layer.weights[:ow, ..., :iw], layer.bias[:ow], scales
    return layer.input[..., :ow], layer.weights[..., :ow], layer.bias[:ow], scales


def _tensor(tensors: list, buffers: list, shape, ttype: int, scales, zps, qdim: int = 0,
            data: np.ndarray | None = None) -> int:
    t = schema.TensorT()
    t.shape = np.array(shape, dtype=np.int32)
    t.type = ttype
    q = schema.QuantizationParametersT()
    q.scale = np.asarray(scales, dtype=np.float32).reshape(-1)
    q.zeroPoint = np.asarray(zps, dtype=np.int64).reshape(-1)
    q.quantizedDimension = qdim
    t.quantization = q
    b = schema.BufferT()
    if data is not None:
        b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
    buffers.append(b)
    t.buffer = len(buffers) - 1
    tensors.append(t)
    return len(tensors) - 1


def builtin_model(layer: Layer, k: int) -> bytes:
    """The one-op builtin .tflite of the layer at budget k (batch 1)."""
    x, w, bias, scales = sliced(layer, k)
    ow = layer.out_widths[k]
    tensors: list = []
    buffers: list = [schema.BufferT()]
    per_tensor = scales.size == 1
    bias_scales = layer.in_scale * scales.astype(np.float64)
    if layer.op == REDS_FC:
        in_shape, out_shape = (1, x.size), (1, ow)
    else:
        oh, owd, _ = output_shape(layer)
        in_shape, out_shape = (1,) + x.shape, (1, oh, owd, ow)
    qdim = 3 if layer.op == REDS_DWCONV else 0
    ti = _tensor(tensors, buffers, in_shape, tio.TensorType.INT8, [layer.in_scale], [layer.in_zp])
    tw = _tensor(tensors, buffers, w.shape, tio.TensorType.INT8, scales, np.zeros(scales.size), qdim,
                 w.astype(np.int8))
    tb = _tensor(tensors, buffers, bias.shape, tio.TensorType.INT32, bias_scales, np.zeros(bias_scales.size), 0,
                 bias.astype(np.int32))
    to = _tensor(tensors, buffers, out_shape, tio.TensorType.INT8, [layer.out_scale], [layer.out_zp])
    op = schema.OperatorT()
    op.opcodeIndex = 0
    op.inputs = np.array([ti, tw, tb], dtype=np.int32)
    op.outputs = np.array([to], dtype=np.int32)
    code = schema.OperatorCodeT()
    if layer.op == REDS_FC:
        code.builtinCode = tio.BuiltinOperator.FULLY_CONNECTED
        opts = schema.FullyConnectedOptionsT()
        opts.fusedActivationFunction = layer.activation
        op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    else:
        dw = layer.op == REDS_DWCONV
        code.builtinCode = tio.BuiltinOperator.DEPTHWISE_CONV_2D if dw else tio.BuiltinOperator.CONV_2D
        opts = schema.DepthwiseConv2DOptionsT() if dw else schema.Conv2DOptionsT()
        if dw:
            opts.depthMultiplier = 1
        opts.padding = layer.padding
        opts.strideH, opts.strideW = layer.stride
        opts.dilationHFactor, opts.dilationWFactor = layer.dilation
        opts.fusedActivationFunction = layer.activation
        op.builtinOptionsType = (schema.BuiltinOptions.DepthwiseConv2DOptions if dw
                                 else schema.BuiltinOptions.Conv2DOptions)
    code.deprecatedBuiltinCode = code.builtinCode
    code.version = 1
    op.builtinOptions = opts
    sg = schema.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = tensors, np.array([ti]), np.array([to]), [op]
    model = schema.ModelT()
    model.version = 3
    model.operatorCodes, model.subgraphs, model.buffers = [code], [sg], buffers
    model.description = f"{layer.name} budget {k} ({'per-tensor' if per_tensor else 'per-channel'})"
    return tio.serialize_model(model)


def reference_outputs(layer: Layer) -> np.ndarray:
    """[budgets, *output_shape] int8: TFLM's output of the sliced builtin layer, output zero point elsewhere."""
    from tflite_micro.python.tflite_micro import runtime
    shape = output_shape(layer)
    out = np.full((len(layer.out_widths),) + shape, layer.out_zp, dtype=np.int8)
    for k in range(len(layer.out_widths)):
        x = sliced(layer, k)[0]
        it = runtime.Interpreter.from_bytes(builtin_model(layer, k))
        it.set_input(x.reshape((1,) + x.shape).astype(np.int8), 0)
        it.invoke()
        y = np.array(it.get_output(0)).reshape(shape[:-1] + (layer.out_widths[k],))
        out[k, ..., :layer.out_widths[k]] = y
    return out


def random_layer(op: str, name: str, rng: np.random.Generator, *, in_c: int, out_c: int, out_widths: list[int],
                 in_widths: list[int], hw: tuple[int, int] = (1, 1), kernel: tuple[int, int] = (1, 1),
                 in_repeat: int = 1, per_tensor: bool = False, activation: int = 0, padding: int = 0,
                 stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1)) -> Layer:
    """Random int8 layer whose output scale is fitted to its full-width accumulators, so the outputs spread over
    the int8 range instead of saturating (a saturated test would hide arithmetic errors)."""
    if op == REDS_FC:
        x = rng.integers(-128, 128, in_repeat * in_c, dtype=np.int8)
        w = rng.integers(-127, 128, (out_c, in_repeat * in_c), dtype=np.int8)
    elif op == REDS_CONV:
        x = rng.integers(-128, 128, hw + (in_c,), dtype=np.int8)
        w = rng.integers(-127, 128, (out_c,) + kernel + (in_c,), dtype=np.int8)
    else:
        x = rng.integers(-128, 128, hw + (in_c,), dtype=np.int8)
        w = rng.integers(-127, 128, (1,) + kernel + (in_c,), dtype=np.int8)
    n_scales = 1 if per_tensor else out_c
    w_scales = rng.uniform(0.002, 0.02, n_scales).astype(np.float32)
    in_scale = float(np.float32(rng.uniform(0.01, 0.1)))
    in_zp = int(rng.integers(-128, 128))
    fan_in = w.size // out_c if op != REDS_DWCONV else kernel[0] * kernel[1]
    bias = rng.integers(-40 * fan_in, 40 * fan_in + 1, out_c).astype(np.int32)
    layer = Layer(op, name, x, w, bias, in_scale, in_zp, w_scales, 1.0, 0, out_widths, in_widths, activation,
                  in_repeat, padding, stride, dilation)
    # Typical real output magnitude: |acc| ~ 128 * 64 * sqrt(fan_in) in int units.
    typical = float(np.median(w_scales)) * in_scale * 128 * 64 * np.sqrt(fan_in)
    layer.out_scale = float(np.float32(3 * typical / 127))
    layer.out_zp = int(rng.integers(-20, 21))
    return layer
