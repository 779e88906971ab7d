"""Keras front end of the width graph: same groups, fixed flags and MACs as the .tflite front end after int8
conversion; clear errors for what it cannot handle; group mapping for the converter."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import models  # tests/models.py  # noqa: E402
from reds_tflm import tflite_io as tio  # noqa: E402
from reds_tflm.errors import UnsupportedModelError, WidthsError  # noqa: E402
from reds_tflm.graph_tflite import graph_from_tflite  # noqa: E402
from reds_tflm.keras.export import group_map, int8_tflite, tflite_widths  # noqa: E402
from reds_tflm.keras.graph import graph_from_keras  # noqa: E402
from reds_tflm.keras.models import ds_cnn_s, ds_cnn_s_vision, mlp  # noqa: E402


def _same(kg, tg) -> None:
    assert kg.sizes == tg.sizes
    assert [g.fixed for g in kg.groups] == [g.fixed for g in tg.groups]
    assert kg.macs() == tg.macs() and kg.params() == tg.params()
    const_k, unary_k, pair_k = kg.mac_terms()
    const_t, unary_t, pair_t = tg.mac_terms()
    assert (const_k, unary_k, pair_k) == (const_t, unary_t, pair_t)
    assert [(l.kind, l.kernel, l.in_repeat, l.positions) for l in kg.layers] == \
        [(l.kind, l.kernel, l.in_repeat, l.positions) for l in tg.layers]


@pytest.mark.parametrize("name", ["mlp", "cnn_flatten", "ds_cnn", "residual"])
def test_keras_graph_matches_tflite_graph(name: str) -> None:
    keras.utils.set_random_seed(0)
    kg = graph_from_keras(models.BUILDERS[name]())
    tg = graph_from_tflite(tio.parse_model(models.tflite_model(name, "int8")))
    _same(kg, tg)
    touched = {l.out_group for l in tg.layers} | {l.in_group for l in tg.layers}
    assert group_map(kg, tg) == [g.id if g.id in touched else -1 for g in tg.groups]
    assert all(tg.groups[g].fixed for g in range(len(tg.groups)) if g not in touched)


def test_example_architectures_match_their_int8_conversion() -> None:
    """DS-CNN S (BN folded, dropout dropped, global pooling → MEAN) and a Sequential MLP over a Flatten."""
    rng = np.random.default_rng(0)
    rep = rng.random((8, 28, 28, 1)).astype(np.float32)
    for build in (ds_cnn_s, ds_cnn_s_vision, lambda: mlp(hidden=(12, 8))):
        keras.utils.set_random_seed(0)
        m = build()
        models._randomise(m, 0)  # zero biases would be dropped by the converter
        kg = graph_from_keras(m)
        tg = graph_from_tflite(tio.parse_model(int8_tflite(m, rep, samples=8)))
        _same(kg, tg)
        ws = [[g.size if g.fixed else max(1, g.size // 2) for g in kg.groups]]
        assert tflite_widths(kg, tg, ws) == ws


def test_published_vision_ds_cnn_counts_the_authors_macs() -> None:
    """The REDS authors' Fashion-MNIST DS-CNN S: their knapsack's 3,775,744 MACs (first conv, depthwise and
    pointwise layers) plus the classifier's 1,280 x 10; its last group reaches the classifier through average
    pooling to 2x10 and a flatten, 20 inputs per channel."""
    g = graph_from_keras(ds_cnn_s_vision())
    fc = [l for l in g.layers if l.kind == "fc"][0]
    assert fc.in_repeat == 20 and g.sizes == [1, 64, 64, 64, 64, 64, 10]
    assert g.macs() == 3_775_744 + 1_280 * 10
    narrow = list(g.sizes)
    narrow[fc.in_group] = 32  # the last pointwise layer's outputs and the classifier's inputs shrink together
    assert g.macs() - g.macs(narrow) == 14 * 14 * 64 * 32 + 32 * 20 * 10


def test_residual_add_merges_groups_and_bn_params_are_slices() -> None:
    keras.utils.set_random_seed(0)
    m = models.residual()
    g = graph_from_keras(m)
    convs = [l for l in g.layers if l.kind == "conv"]
    # the first and third conv feed the Add: one group; the middle conv is free
    assert convs[0].out_group == convs[2].out_group != convs[1].out_group
    m2 = ds_cnn_s()
    g2 = graph_from_keras(m2)
    bn = m2.get_layer("pw2_bn")
    pw2 = [l for l in g2.layers if l.ref == "pw2"][0]
    bn_slices = [s for s in g2.slices if s.kind == "weight" and s.ref[0] == "pw2_bn"]
    assert len(bn_slices) == len(bn.weights) == 4
    assert {s.group for s in bn_slices} == {pw2.out_group}


def test_flatten_gives_repeated_blocks() -> None:
    keras.utils.set_random_seed(0)
    g = graph_from_keras(models.cnn_flatten())
    fc = [l for l in g.layers if l.kind == "fc"][0]
    conv2 = [l for l in g.layers if l.kind == "conv"][1]
    assert fc.in_group == conv2.out_group and fc.in_repeat == 5 * 5


def test_unsupported_layers_and_models_are_named() -> None:
    keras.utils.set_random_seed(0)
    with pytest.raises(UnsupportedModelError, match=r"'concatenate(_\d+)?' \(Concatenate\)"):
        graph_from_keras(models.concat())

    class Sub(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.d = keras.layers.Dense(3)

        def call(self, x):
            return self.d(x)

    sub = Sub()
    sub(np.zeros((1, 4), np.float32))
    with pytest.raises(UnsupportedModelError, match="Sub.*subclassed"):
        graph_from_keras(sub)
    i = keras.Input((8, 3))
    with pytest.raises(UnsupportedModelError, match="'lstm'.*LSTM"):
        graph_from_keras(keras.Model(i, keras.layers.Dense(2)(keras.layers.LSTM(4, name="lstm")(i))))
    d = keras.layers.Dense(4)
    j = keras.Input((4,))
    with pytest.raises(UnsupportedModelError, match="called 2 times"):
        graph_from_keras(keras.Model(j, d(d(j))))


def test_softmax_pins_the_group_before_it() -> None:
    i = keras.Input((6,))
    x = keras.layers.Dense(5, name="a")(i)
    x = keras.layers.Softmax(name="sm")(x)
    m = keras.Model(i, keras.layers.Dense(3, name="b")(x))
    g = graph_from_keras(m)
    a = [l for l in g.layers if l.ref == "a"][0]
    b = [l for l in g.layers if l.ref == "b"][0]
    assert g.groups[a.out_group].fixed and "sm" in g.groups[a.out_group].reason
    assert a.out_group != b.in_group and g.groups[b.in_group].fixed


def test_group_map_refuses_mismatched_models() -> None:
    keras.utils.set_random_seed(0)
    kg = graph_from_keras(models.mlp())
    tg = graph_from_tflite(tio.parse_model(models.tflite_model("cnn_flatten", "int8")))
    with pytest.raises(WidthsError, match="3 Dense/Conv2D/DepthwiseConv2D layers but the .tflite has 4"):
        group_map(kg, tg)
    tg2 = graph_from_tflite(tio.parse_model(models.tflite_model("residual", "int8")))
    kg2 = graph_from_keras(models.ds_cnn())
    with pytest.raises(WidthsError):
        group_map(kg2, tg2)
