"""One-op int8 layers for the on-target checks: random layer parameters with their data and nested widths, and the
reference output of the tflite-micro interpreter on the builtin layer sliced to each budget's widths (the models
themselves come from reds_tflm.onelayer, as for the host tests).

A REDS op at budget k must equal, on its active channels, the builtin op on the layer sliced to those widths, and
hold the output zero point elsewhere (docs/format.md). `reference_outputs` produces exactly that full-width
expectation from TFLM itself, so the firmware's comparison is against the interpreter, not against our own maths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reds_tflm import onelayer
from reds_tflm.core import Quant
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


def as_onelayer(layer: Layer) -> onelayer.Layer:
    """The same layer (batch 1) as reds_tflm.onelayer describes it, whose builtin models are the references."""
    kind = {REDS_FC: onelayer.FC, REDS_CONV: onelayer.CONV, REDS_DWCONV: onelayer.DW}[layer.op]
    x_shape = (1, layer.input.size) if layer.op == REDS_FC else (1,) + tuple(layer.input.shape)
    quant = Quant(layer.in_scale, layer.in_zp, np.asarray(layer.w_scales, np.float32), layer.out_scale, layer.out_zp)
    return onelayer.Layer(kind, x_shape, layer.weights, layer.bias, layer.activation, layer.in_repeat,
                          layer.padding, tuple(layer.stride), tuple(layer.dilation), quant)


def output_shape(layer: Layer) -> tuple[int, ...]:
    return tuple(int(v) for v in as_onelayer(layer).out_shape()[1:])


def reference_outputs(layer: Layer) -> np.ndarray:
    """[budgets, *output_shape] int8: TFLM's output of the sliced builtin layer, output zero point elsewhere."""
    full = as_onelayer(layer)
    shape = output_shape(layer)
    x = layer.input.reshape(full.x_shape)
    out = np.full((len(layer.out_widths),) + shape, layer.out_zp, dtype=np.int8)
    for k, (ow, iw) in enumerate(zip(layer.out_widths, layer.in_widths)):
        sub = onelayer.sliced(full, ow, iw)
        y = onelayer.run_tflm(onelayer.builtin_model(sub), [onelayer.slice_input(full, x, iw)])[0]
        out[k, ..., :ow] = np.asarray(y).reshape(shape[:-1] + (ow,))
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
