"""One-layer .tflite models built directly with the schema object API (far faster than the TensorFlow converter):
the references that the C kernels are checked against, on the host (tests/) and on the Cortex-M4 target
(boards/mps2_an386/).

A `Layer` holds a FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D with its tensors and quantisation; it can be
emitted as a builtin one-op model, as the same layer SLICED to active widths (what TFLM must compute for a
subnetwork) or as a one-op REDS model (custom op with options from reds_tflm.options.encode). `run_tflm` runs a
model in the real tflite-micro interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from tflite_micro.python.tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import tflite_io as tio
from .core import Quant
from .options import REDS_CONV, REDS_DWCONV, REDS_FC, RedsOptions, encode

FC, CONV, DW = "FC", "CONV", "DW"
CUSTOM_CODE = {FC: REDS_FC, CONV: REDS_CONV, DW: REDS_DWCONV}
BUILTIN = {FC: schema.BuiltinOperator.FULLY_CONNECTED, CONV: schema.BuiltinOperator.CONV_2D,
           DW: schema.BuiltinOperator.DEPTHWISE_CONV_2D}


@dataclass
class Layer:
    kind: str                    # FC / CONV / DW
    x_shape: tuple[int, ...]     # FC: (batches, in_repeat * in_channels); conv: NHWC
    weights: np.ndarray          # FC [O, I]; conv [O, KH, KW, I]; DW [1, KH, KW, C]
    bias: np.ndarray | None
    activation: int = 0
    in_repeat: int = 1           # FC only
    padding: int = 0
    stride: tuple[int, int] = (1, 1)      # (h, w)
    dilation: tuple[int, int] = (1, 1)    # (h, w)
    quant: Quant | None = None   # None = float32

    @property
    def is_int8(self) -> bool:
        return self.quant is not None

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[3] if self.kind == DW else self.weights.shape[0])

    @property
    def in_channels(self) -> int:
        """Channels per input block (the REDS in_channels)."""
        if self.kind == FC:
            return int(self.weights.shape[1]) // self.in_repeat
        return int(self.weights.shape[3])

    def out_shape(self) -> tuple[int, ...]:
        if self.kind == FC:
            return (self.x_shape[0], self.out_channels)
        n, h, w, _ = self.x_shape
        kh, kw = self.weights.shape[1], self.weights.shape[2]
        return (n, tio.conv_out_size(self.padding, h, kh, self.stride[0], self.dilation[0]),
                tio.conv_out_size(self.padding, w, kw, self.stride[1], self.dilation[1]), self.out_channels)

    def options(self, out_widths: list[int], in_widths: list[int]) -> RedsOptions:
        o = RedsOptions(op=CUSTOM_CODE[self.kind], out_widths=list(out_widths), in_widths=list(in_widths),
                        in_channels=self.in_channels, activation=self.activation)
        if self.kind == FC:
            o.in_repeat = self.in_repeat
        else:
            o.padding = self.padding
            o.stride_h, o.stride_w = self.stride
            o.dilation_h, o.dilation_w = self.dilation
        return o


# ------------------------------------------------------------------------------------------------ slicing

def slice_input(layer: Layer, x: np.ndarray, in_w: int) -> np.ndarray:
    """The active part of an input: channels < in_w of every block."""
    if layer.kind == FC:
        b = x.shape[0]
        return np.ascontiguousarray(x.reshape(b, layer.in_repeat, layer.in_channels)[:, :, :in_w].reshape(b, -1))
    return np.ascontiguousarray(x[..., :in_w])


def sliced(layer: Layer, out_w: int, in_w: int) -> Layer:
    """The builtin layer a subnetwork with these widths contains."""
    if layer.kind == DW:
        assert out_w == in_w
        w = layer.weights[..., :in_w]
        bias = None if layer.bias is None else layer.bias[:in_w]
        x_shape = layer.x_shape[:3] + (in_w,)
    elif layer.kind == CONV:
        w = layer.weights[:out_w, :, :, :in_w]
        bias = None if layer.bias is None else layer.bias[:out_w]
        x_shape = layer.x_shape[:3] + (in_w,)
    else:
        o, _ = layer.weights.shape
        w = layer.weights.reshape(o, layer.in_repeat, layer.in_channels)[:out_w, :, :in_w].reshape(out_w, -1)
        bias = None if layer.bias is None else layer.bias[:out_w]
        x_shape = (layer.x_shape[0], layer.in_repeat * in_w)
    q = layer.quant
    if q is not None and np.asarray(q.weight_scales).size > 1:
        q = replace(q, weight_scales=np.asarray(q.weight_scales)[:out_w])
    return replace(layer, weights=np.ascontiguousarray(w), bias=None if bias is None else np.ascontiguousarray(bias),
                   x_shape=x_shape, quant=q)


# ------------------------------------------------------------------------------------------------ model building

def _quant(scale, zero_point, dim: int = 0) -> schema.QuantizationParametersT:
    q = schema.QuantizationParametersT()
    q.scale = [float(s) for s in np.atleast_1d(np.asarray(scale, dtype=np.float32))]
    q.zeroPoint = [int(z) for z in np.atleast_1d(zero_point)] * (1 if np.ndim(zero_point) else len(q.scale))
    q.quantizedDimension = dim
    return q


class ModelBuilder:
    """Accumulates tensors, buffers and operators of a one-subgraph model."""

    def __init__(self) -> None:
        self.model = schema.ModelT()
        self.model.version = 3
        self.model.description = "reds-tflm test layer"
        self.model.operatorCodes = []
        self.model.buffers = [schema.BufferT()]
        self.sub = schema.SubGraphT()
        self.sub.tensors, self.sub.operators, self.sub.inputs, self.sub.outputs = [], [], [], []
        self.model.subgraphs = [self.sub]

    def tensor(self, name: str, shape, ttype: int, data: np.ndarray | None = None,
               quant: schema.QuantizationParametersT | None = None) -> int:
        t = schema.TensorT()
        t.name = name
        t.shape = np.asarray(shape, dtype=np.int32)
        t.type = ttype
        t.quantization = quant
        t.buffer = 0
        if data is not None:
            b = schema.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8).copy()
            self.model.buffers.append(b)
            t.buffer = len(self.model.buffers) - 1
        else:
            self.model.buffers.append(schema.BufferT())
            t.buffer = len(self.model.buffers) - 1
        self.sub.tensors.append(t)
        return len(self.sub.tensors) - 1

    def opcode(self, builtin: int, custom: str | None = None, version: int = 1) -> int:
        for i, c in enumerate(self.model.operatorCodes):
            cc = c.customCode.decode() if isinstance(c.customCode, bytes) else c.customCode
            if c.builtinCode == builtin and cc == custom:
                return i
        c = schema.OperatorCodeT()
        c.builtinCode = builtin
        c.deprecatedBuiltinCode = min(builtin, 127)
        c.customCode = custom
        c.version = version
        self.model.operatorCodes.append(c)
        return len(self.model.operatorCodes) - 1

    def op(self, opcode: int, inputs: list[int], outputs: list[int], options_type: int = 0, options=None,
           custom_options: bytes | None = None) -> None:
        op = schema.OperatorT()
        op.opcodeIndex = opcode
        op.inputs = list(inputs)
        op.outputs = list(outputs)
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        if custom_options is not None:
            op.customOptions = list(custom_options)
            op.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
        self.sub.operators.append(op)

    def finish(self, inputs: list[int], outputs: list[int]) -> bytes:
        self.sub.inputs = list(inputs)
        self.sub.outputs = list(outputs)
        return tio.serialize_model(self.model)


def add_layer(mb: ModelBuilder, layer: Layer, x_index: int, custom_options: bytes | None = None,
              prefix: str = "") -> int:
    """Append the layer's operator reading tensor x_index; returns the output tensor index."""
    q = layer.quant
    ttype = schema.TensorType.INT8 if q is not None else schema.TensorType.FLOAT32
    wq = bq = oq = None
    w_scales = None
    if q is not None:
        w_scales = np.broadcast_to(np.asarray(q.weight_scales, dtype=np.float32), (layer.out_channels,)) \
            if np.asarray(q.weight_scales).size > 1 else np.asarray(q.weight_scales, dtype=np.float32).reshape(1)
        wq = _quant(w_scales, 0, dim=3 if layer.kind == DW else 0)
        # TFLM checks the bias scale against input_scale * weight_scale: give exactly that.
        bq = _quant(np.float32(q.input_scale) * w_scales, 0, dim=0)
        oq = _quant(q.output_scale, q.output_zero_point)
    w_idx = mb.tensor(prefix + "weights", layer.weights.shape, ttype, layer.weights, wq)
    inputs = [x_index, w_idx]
    if layer.bias is not None:
        btype = schema.TensorType.INT32 if q is not None else schema.TensorType.FLOAT32
        inputs.append(mb.tensor(prefix + "bias", layer.bias.shape, btype, layer.bias, bq))
    elif custom_options is not None:
        inputs.append(-1)  # REDS ops: optional bias as -1 (docs/format.md)
    # Builtin without bias: two inputs. TFLM's DEPTHWISE_CONV_2D Prepare counts a -1 third input as a bias and
    # crashes dereferencing it.
    y_idx = mb.tensor(prefix + "y", layer.out_shape(), ttype, None, oq)
    if custom_options is not None:
        mb.op(mb.opcode(schema.BuiltinOperator.CUSTOM, CUSTOM_CODE[layer.kind]), inputs, [y_idx],
              custom_options=custom_options)
        return y_idx
    if layer.kind == FC:
        opts = schema.FullyConnectedOptionsT()
        opts.fusedActivationFunction = layer.activation
        otype = schema.BuiltinOptions.FullyConnectedOptions
    elif layer.kind == CONV:
        opts = schema.Conv2DOptionsT()
        otype = schema.BuiltinOptions.Conv2DOptions
    else:
        opts = schema.DepthwiseConv2DOptionsT()
        opts.depthMultiplier = 1
        otype = schema.BuiltinOptions.DepthwiseConv2DOptions
    if layer.kind != FC:
        opts.fusedActivationFunction = layer.activation
        opts.padding = layer.padding
        opts.strideH, opts.strideW = layer.stride
        opts.dilationHFactor, opts.dilationWFactor = layer.dilation
    version = 3 if (layer.kind == FC and q is not None) else (2 if layer.kind == DW else 1)
    mb.op(mb.opcode(BUILTIN[layer.kind], None, version), inputs, [y_idx], otype, opts)
    return y_idx


def input_tensor(mb: ModelBuilder, layer: Layer, name: str = "x") -> int:
    q = layer.quant
    if q is None:
        return mb.tensor(name, layer.x_shape, schema.TensorType.FLOAT32)
    return mb.tensor(name, layer.x_shape, schema.TensorType.INT8, None, _quant(q.input_scale, q.input_zero_point))


def builtin_model(layer: Layer) -> bytes:
    mb = ModelBuilder()
    x = input_tensor(mb, layer)
    y = add_layer(mb, layer, x)
    return mb.finish([x], [y])


def reds_model(layer: Layer, out_widths: list[int], in_widths: list[int]) -> bytes:
    mb = ModelBuilder()
    x = input_tensor(mb, layer)
    y = add_layer(mb, layer, x, custom_options=encode(layer.options(out_widths, in_widths)))
    return mb.finish([x], [y])


# ------------------------------------------------------------------------------------------------ running

def run_tflm(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run a model in the real tflite-micro interpreter (reference kernels)."""
    m = tio.parse_model(model)
    act_bytes = sum(int(np.prod(t.shape if t.shape is not None else [1])) * 4 for t in m.subgraphs[0].tensors)
    interp = runtime.Interpreter.from_bytes(model, arena_size=max(len(model) * 10, 4 * act_bytes + 65536))
    for i, x in enumerate(inputs):
        interp.set_input(x, i)
    interp.invoke()
    return [interp.get_output(i).copy() for i in range(len(m.subgraphs[0].outputs))]


# ------------------------------------------------------------------------------------------------ random layers

def random_layer(rng: np.random.Generator, kind: str, int8: bool, per_channel: bool = True, with_bias: bool = True,
                 max_c: int = 12) -> Layer:
    """A random layer of the given kind (shapes, strides, padding, dilation, activation, quantisation)."""
    act = int(rng.integers(0, 4))
    if kind == FC:
        in_repeat = int(rng.integers(1, 5))
        in_c = int(rng.integers(1, max_c + 1))
        out_c = int(rng.integers(1, max_c + 1))
        x_shape: tuple[int, ...] = (int(rng.integers(1, 3)), in_repeat * in_c)
        w_shape: tuple[int, ...] = (out_c, in_repeat * in_c)
        extra: dict = {"in_repeat": in_repeat}
    else:
        c = int(rng.integers(1, max_c + 1))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        padding = int(rng.integers(0, 2))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        # Stride and dilation both > 1 are combined on purpose: TF's converter never emits it, but TFLM's
        # reference kernels and ours both define it, and it exercises the index arithmetic.
        while True:
            h, w = int(rng.integers(1, 8)), int(rng.integers(1, 8))
            if tio.conv_out_size(padding, h, kh, stride[0], dilation[0]) >= 1 and \
                    tio.conv_out_size(padding, w, kw, stride[1], dilation[1]) >= 1:
                break
        x_shape = (int(rng.integers(1, 3)), h, w, c)
        out_c = c if kind == DW else int(rng.integers(1, max_c + 1))
        w_shape = (1, kh, kw, c) if kind == DW else (out_c, kh, kw, c)
        extra = {"padding": padding, "stride": stride, "dilation": dilation}
    if int8:
        weights = rng.integers(-127, 128, size=w_shape, dtype=np.int64).astype(np.int8)
        bias = rng.integers(-30000, 30000, size=(out_c,), dtype=np.int64).astype(np.int32) if with_bias else None
        n_scales = out_c if per_channel else 1
        quant = Quant(input_scale=float(np.float32(rng.uniform(0.002, 0.05))),
                      input_zero_point=int(rng.integers(-128, 128)),
                      weight_scales=rng.uniform(0.0005, 0.02, size=n_scales).astype(np.float32),
                      output_scale=float(np.float32(rng.uniform(0.01, 0.3))),
                      output_zero_point=int(rng.integers(-128, 128)))
    else:
        weights = rng.standard_normal(w_shape).astype(np.float32)
        bias = rng.standard_normal(out_c).astype(np.float32) if with_bias else None
        quant = None
    return Layer(kind=kind, x_shape=x_shape, weights=weights, bias=bias, activation=act, quant=quant, **extra)


def random_input(rng: np.random.Generator, layer: Layer) -> np.ndarray:
    if layer.is_int8:
        return rng.integers(-128, 128, size=layer.x_shape, dtype=np.int64).astype(np.int8)
    return (rng.standard_normal(layer.x_shape) * 2).astype(np.float32)


def random_widths(rng: np.random.Generator, full: int, n: int) -> list[int]:
    """n nested widths, budget 0 = full."""
    ws = [full] + sorted((int(v) for v in rng.integers(1, full + 1, size=n - 1)), reverse=True)
    return ws
