"""Permutation preserves the function; sliced forward passes are exactly the sliced networks; Taylor scores;
joint loss weights; nested widths under MAC and memory budgets."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import models  # tests/models.py  # noqa: E402
from reds_tflm.errors import UnsupportedModelError  # noqa: E402
from reds_tflm.keras.graph import graph_from_keras  # noqa: E402
from reds_tflm.keras.importance import gradient_sums, taylor_scores  # noqa: E402
from reds_tflm.keras.loops import joint_weights  # noqa: E402
from reds_tflm.keras.permute import permute_keras  # noqa: E402
from reds_tflm.keras.select import peak_activation_bytes, select_widths  # noqa: E402
from reds_tflm.keras.slicing import SlicedNet, narrow_model  # noqa: E402

NAMES = ["mlp", "cnn_flatten", "ds_cnn", "residual"]


def _model(name: str, seed: int = 0):
    keras.utils.set_random_seed(seed)
    m = models.BUILDERS[name]()
    models._randomise(m, seed)
    return m


def _x(m, n: int = 3, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n,) + tuple(m.input_shape[1:])).astype(np.float32)


@pytest.mark.parametrize("name", NAMES)
def test_permutation_preserves_outputs(name: str) -> None:
    m = _model(name)
    g = graph_from_keras(m)
    x = _x(m)
    before = np.asarray(m(x, training=False))
    rng = np.random.default_rng(2)
    perms = {gr.id: rng.permutation(gr.size) for gr in g.groups if not gr.fixed}
    assert perms and all((p != np.arange(len(p))).any() for p in perms.values())
    weights_before = [w.numpy().copy() for w in m.weights]
    permute_keras(m, g, perms)
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(weights_before, m.weights))
    np.testing.assert_allclose(np.asarray(m(x, training=False)), before, rtol=1e-5, atol=1e-5)


def test_permuting_a_fixed_group_is_refused() -> None:
    m = _model("mlp")
    g = graph_from_keras(m)
    with pytest.raises(Exception, match="fixed"):
        permute_keras(m, g, {0: np.arange(g.groups[0].size)[::-1]})


@pytest.mark.parametrize("name", NAMES)
def test_sliced_forward_is_the_narrow_model(name: str) -> None:
    m = _model(name)
    g = graph_from_keras(m)
    net = SlicedNet(m, g)
    x = _x(m)
    np.testing.assert_allclose(np.asarray(net.forward(x, g.sizes)), np.asarray(m(x, training=False)),
                               rtol=1e-5, atol=1e-5)
    rng = np.random.default_rng(3)
    for _ in range(2):
        w = [gr.size if gr.fixed else int(rng.integers(1, gr.size + 1)) for gr in g.groups]
        sub = narrow_model(m, g, w)
        assert sub.count_params() < m.count_params() or w == g.sizes
        np.testing.assert_allclose(np.asarray(net.forward(x, w)), np.asarray(sub(x, training=False)),
                                   rtol=1e-5, atol=1e-5)


def test_sliced_mlp_equals_numpy_prefix_network() -> None:
    """Independent reference: the first w units of every hidden layer, computed by hand."""
    m = _model("mlp")
    g = graph_from_keras(m)
    (w1, b1), (w2, b2), (w3, b3) = [l.get_weights() for l in m.layers if l.weights]
    x = _x(m, 4)
    h1, h2 = 9, 5
    ref = np.maximum(x @ w1[:, :h1] + b1[:h1], 0)
    ref = np.maximum(ref @ w2[:h1, :h2] + b2[:h2], 0)
    ref = ref @ w3[:h2] + b3
    widths = [g.sizes[0], h1, h2, g.sizes[3]]
    np.testing.assert_allclose(np.asarray(SlicedNet(m, g).forward(x, widths)), ref, rtol=1e-5, atol=1e-5)


def test_sliced_flatten_keeps_the_prefix_of_every_block() -> None:
    m = _model("cnn_flatten")
    g = graph_from_keras(m)
    fc = [l for l in g.layers if l.kind == "fc"][0]
    w = list(g.sizes)
    w[fc.in_group] = 2  # of 6 channels, 25 positions
    sub = narrow_model(m, g, w)
    full_k = m.get_layer(fc.ref).get_weights()[0]
    sub_k = sub.get_layer(fc.ref).get_weights()[0]
    expect = full_k.reshape(25, 6, -1)[:, :2, :].reshape(50, -1)
    np.testing.assert_array_equal(sub_k, expect)


def test_joint_weights_follow_sqrt_of_parameter_fraction() -> None:
    m = _model("mlp")
    g = graph_from_keras(m)
    ws = [g.sizes, [20, 12, 8, 6], [20, 3, 2, 6]]
    a = joint_weights(g, ws)
    raw = [math.sqrt(g.params(w) / g.params()) for w in ws]
    np.testing.assert_allclose(a, np.array(raw) / sum(raw))
    assert math.isclose(a.sum(), 1.0) and a[0] > a[1] > a[2]
    assert g.params([20, 12, 8, 6]) == 20 * 12 + 12 + 12 * 8 + 8 + 8 * 6 + 6
    np.testing.assert_allclose(joint_weights(g, ws, "uniform"), [1 / 3] * 3)
    with pytest.raises(ValueError, match="weighting"):
        joint_weights(g, ws, "params")


def test_taylor_scores_match_a_hand_computation() -> None:
    m = _model("mlp")
    g = graph_from_keras(m)
    rng = np.random.default_rng(4)
    data = [(rng.normal(size=(8, 20)).astype(np.float32), rng.integers(0, 6, 8).astype(np.int32)) for _ in range(3)]
    sums = gradient_sums(m, iter(data), max_batches=3)
    import tensorflow as tf
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    d1, d2 = [l for l in m.layers if l.weights][:2]
    gk = np.zeros(d1.kernel.shape)
    gb = np.zeros(d1.bias.shape)
    gk2 = np.zeros(d2.kernel.shape)
    for x, y in data:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, m(x, training=False))
        a, b, c = tape.gradient(loss, [d1.kernel, d1.bias, d2.kernel])
        gk, gb, gk2 = gk + a.numpy(), gb + b.numpy(), gk2 + c.numpy()
    l1 = taylor_scores(m, g, sums, "l1")
    expect = (np.abs(d1.kernel.numpy() * gk).sum(0) + np.abs(d1.bias.numpy() * gb)
              + np.abs(d2.kernel.numpy() * gk2).sum(1))
    np.testing.assert_allclose(l1[1], expect, rtol=1e-4)
    l2 = taylor_scores(m, g, sums, "l2")
    expect2 = np.sqrt(np.square(d1.kernel.numpy() * gk).sum(0) + np.square(d1.bias.numpy() * gb)
                      + np.square(d2.kernel.numpy() * gk2).sum(1))
    np.testing.assert_allclose(l2[1], expect2, rtol=1e-4)


@pytest.mark.parametrize("mode", ["top-down", "bottom-up"])
def test_nested_widths_meet_mac_and_memory_budgets(mode: str) -> None:
    m = _model("cnn_flatten")
    g = graph_from_keras(m)
    rng = np.random.default_rng(5)
    scores = [np.sort(rng.random(s))[::-1] for s in g.sizes]
    fr = (1.0, 0.6, 0.3)
    ws = select_widths(g, scores, fr, mode=mode)
    assert ws[0] == g.sizes
    for k, w in enumerate(ws):
        assert g.macs(w) <= fr[k] * g.macs() + 1e-6
        if k:
            assert all(a >= b for a, b in zip(ws[k - 1], w))
    peak_full = peak_activation_bytes(g, g.sizes)
    limit = 0.5 * peak_full
    wm = select_widths(g, scores, fr, mode=mode, memory_limits=(None, limit, limit))
    for w in wm[1:]:
        assert peak_activation_bytes(g, w) <= limit
    assert peak_activation_bytes(g, ws[1]) > limit  # the constraint was binding


def test_sliced_net_refuses_unsupported_layers() -> None:
    with pytest.raises(UnsupportedModelError, match="Concatenate"):
        graph_from_keras(_model("concat"))


def test_bn_recalibration_sets_the_average_batch_statistics() -> None:
    from reds_tflm.keras.loops import recalibrate_bn
    keras.utils.set_random_seed(0)
    i = keras.Input((5, 5, 2))
    c = keras.layers.Conv2D(3, 3, name="c")(i)
    d = keras.layers.Dropout(0.5, name="d")(c)
    b = keras.layers.BatchNormalization(name="b")(d)
    m = keras.Model(i, keras.layers.GlobalAveragePooling2D()(b))
    bn = m.get_layer("b")
    bn.moving_mean.assign(np.full(3, 7.0, np.float32))
    bn.moving_variance.assign(np.full(3, 9.0, np.float32))
    x = np.random.default_rng(6).normal(1.0, 2.0, (40, 5, 5, 2)).astype(np.float32)
    assert recalibrate_bn(m, x, batch_size=10, max_batches=4)
    feats = np.asarray(keras.Model(i, c)(x)).reshape(4, -1, 3)  # four batches of 10 (order is irrelevant)
    np.testing.assert_allclose(bn.moving_mean.numpy(), feats.reshape(-1, 3).mean(0), rtol=1e-4, atol=1e-5)
    assert np.all(bn.moving_variance.numpy() < 9.0) and np.all(bn.moving_variance.numpy() > 0)
    assert m.get_layer("d").rate == 0.5 and bn.momentum == 0.99  # restored
    assert not recalibrate_bn(_model("mlp"), np.zeros((4, 20), np.float32))


def test_head_floor_keeps_the_classifier_input_wide() -> None:
    """head_fraction (the REDS authors' 60 of 64 before the classifier) floors only the group the classifier
    reads; without it the knapsack cuts that group, with it every budget keeps the floor and stays in budget."""
    from reds_tflm.keras.models import ds_cnn_s
    g = graph_from_keras(ds_cnn_s())
    fc = [l for l in g.layers if l.kind == "fc"][0]
    assert g.head_groups() == {fc.in_group}
    rng = np.random.default_rng(3)
    scores = [np.sort(rng.random(s))[::-1] for s in g.sizes]
    fr = (1.0, 0.75, 0.5, 0.25)
    plain = select_widths(g, scores, fr, min_fraction=0.25)
    floored = select_widths(g, scores, fr, min_fraction=0.25, head_fraction=60 / 64)
    assert min(w[fc.in_group] for w in plain) < 60
    for k, w in enumerate(floored):
        assert w[fc.in_group] >= 60 and g.macs(w) <= fr[k] * g.macs() + 1e-6
        assert all(w[i] >= 16 for i in range(len(w)) if not g.groups[i].fixed)
