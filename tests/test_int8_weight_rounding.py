"""The simulated int8 pass (SlicedNet with fake_quant: conversion-aware training, and
benchmarks/int8_calibration.py --weights-only) rounds a float model's kernels the way the TFLite converter quantises
them; checked against the weights of a real int8 conversion."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from reds_tflm import tflite_io as tio  # noqa: E402
from reds_tflm.keras.export import int8_tflite  # noqa: E402
from reds_tflm.keras.graph import graph_from_keras  # noqa: E402
from reds_tflm.keras.slicing import SlicedNet  # noqa: E402


def test_kernels_rounded_as_the_converter_stores_them() -> None:
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
    graph = graph_from_keras(model)
    net = SlicedNet(model, graph, fake_quant={})  # kernels only
    layers = [layer for layer in model.layers if layer.get_weights()]
    before = [layer.get_weights()[0] for layer in layers]
    after = [np.asarray(net.weight(layer, 0, graph.sizes)) for layer in layers]
    ours = [after[0].transpose(3, 0, 1, 2), after[1].transpose(3, 0, 1, 2), after[2].T]  # to TFLite's layouts
    for got, want, orig in zip(ours, stored, before):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        assert np.max(np.abs(got - (orig.transpose(3, 0, 1, 2) if orig.ndim == 4 else orig.T))) > 0  # it rounded
