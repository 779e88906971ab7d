"""benchmarks/int8_calibration.py --weights-only rounds a float model's kernels the way the TFLite converter
quantises them; checked against the weights of a real int8 conversion."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from reds_tflm import tflite_io as tio  # noqa: E402
from reds_tflm.keras.export import int8_tflite  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _bench(monkeypatch):
    spec = importlib.util.spec_from_file_location("int8_calibration_bench", ROOT / "benchmarks" /
                                                  "int8_calibration.py")
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "int8_calibration_bench", mod)
    spec.loader.exec_module(mod)
    return mod


def test_kernels_rounded_as_the_converter_stores_them(monkeypatch) -> None:
    from keras import layers as L
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((8, 8, 2)), L.Conv2D(6, 3, activation="relu"),
                              L.DepthwiseConv2D(3, activation="relu"), L.Flatten(), L.Dense(5)])
    x = np.random.default_rng(0).normal(size=(64, 8, 8, 2)).astype(np.float32)
    tfl = tio.parse_model(int8_tflite(model, x, samples=64), "m")
    sg = tfl.subgraphs[0]
    stored = []
    for op in sg.operators:
        if tio.op_name(tfl, op) in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            t = sg.tensors[op.inputs[1]]
            scales, _, axis = tio.quant_params(t)
            q = tio.buffer_of(tfl, t).astype(np.float64)
            shape = [1] * q.ndim
            shape[axis] = -1
            stored.append(q * np.asarray(scales).reshape(shape))
    assert len(stored) == 3
    before = [layer.get_weights()[0] for layer in model.layers if layer.get_weights()]
    _bench(monkeypatch).round_kernels_per_channel(model)
    after = [layer.get_weights()[0] for layer in model.layers if layer.get_weights()]
    ours = [after[0].transpose(3, 0, 1, 2), after[1].transpose(3, 0, 1, 2), after[2].T]  # to TFLite's layouts
    for got, want, orig in zip(ours, stored, before):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        assert np.max(np.abs(got - (orig.transpose(3, 0, 1, 2) if orig.ndim == 4 else orig.T))) > 0  # it rounded
