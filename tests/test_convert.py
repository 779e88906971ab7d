"""Converter on one small real model per topology hazard, int8 (per-channel and per-tensor) and float32."""

import itertools

import numpy as np
import pytest

import models
from reds_tflm import tflite_io as tio
from reds_tflm.convert import convert_model
from reds_tflm.cost_profile import mac_profile
from reds_tflm.graph_tflite import graph_from_tflite
from reds_tflm.materialize import materialize
from reds_tflm.permute import permute_tflite

BUDGETS = {"concat": (1.0, 0.8, 0.65)}  # concatenated groups stay full width: less room to shrink
CASES = list(itertools.product(models.BUILDERS, models.MODES))


def _equal(mode, a, b):
    if mode == "float32":
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def converted():
    cache = {}

    def get(name, mode):
        if (name, mode) not in cache:
            data = models.tflite_model(name, mode)
            res = convert_model(tio.parse_model(data), budgets=BUDGETS.get(name), name=name)
            cache[name, mode] = data, res, tio.serialize_model(res.model)
        return cache[name, mode]
    return get


@pytest.mark.parametrize("name,mode", CASES)
def test_full_network_is_the_original(converted, name, mode):
    original, res, reds = converted(name, mode)
    full = tio.serialize_model(materialize(tio.parse_model(reds), 0))
    for x in models.random_input(original, seed=3, n=4):
        _equal(mode, models.run_tflm(original, x), models.run_tflm(full, x))


@pytest.mark.parametrize("name,mode", CASES)
def test_every_budget_runs_within_its_macs(converted, name, mode):
    original, res, reds = converted(name, mode)
    full_macs = graph_from_tflite(tio.parse_model(original)).macs()
    x = models.random_input(original, seed=5)[0]
    fractions = BUDGETS.get(name, (1.0, 0.75, 0.5, 0.25))
    assert len(res.widths) == len(fractions)
    for k, frac in enumerate(fractions):
        sub = materialize(tio.parse_model(reds), k)
        sub_bytes = tio.serialize_model(sub)
        assert all(not tio.op_name(sub, op).startswith("CUSTOM") for op in sub.subgraphs[0].operators)
        macs = graph_from_tflite(tio.parse_model(sub_bytes)).macs()  # counted on the sliced model itself
        assert macs <= frac * full_macs + 1e-6
        assert macs == res.table[k]["macs"]
        y = models.run_tflm(sub_bytes, x)
        assert y.shape == models.run_tflm(original, x).shape
    if k:
        assert res.table[-1]["macs"] < res.table[0]["macs"]


@pytest.mark.parametrize("name,mode", CASES)
def test_widths_nested_and_fixed_groups_full(converted, name, mode):
    _, res, _ = converted(name, mode)
    for a, b in zip(res.widths, res.widths[1:]):
        assert all(wb <= wa for wa, wb in zip(a, b))
    for g in res.graph.groups:
        if g.fixed:
            assert all(w[g.id] == g.size for w in res.widths), g


def test_fixed_groups_where_channels_mix():
    g = graph_from_tflite(tio.parse_model(models.tflite_model("concat", "int8")))
    reasons = {grp.reason for grp in g.groups if grp.fixed}
    assert any("CONCATENATION" in r for r in reasons)
    assert any(r == "model output" for r in reasons)
    g = graph_from_tflite(tio.parse_model(models.tflite_model("cnn_flatten", "int8")))
    assert any("SOFTMAX" in (grp.reason or "") for grp in g.groups)
    # residual ADD ties the producers of both branches into one group
    g = graph_from_tflite(tio.parse_model(models.tflite_model("residual", "int8")))
    tied = [grp for grp in g.groups if len([l for l in g.layers if l.out_group == grp.id and l.kind == "conv"]) == 2]
    assert tied and not tied[0].fixed


@pytest.mark.parametrize("name", list(models.BUILDERS))
def test_random_permutation_preserves_int8_bit_exact(name):
    data = models.tflite_model(name, "int8")
    model = tio.parse_model(data)
    graph = graph_from_tflite(model)
    rng = np.random.default_rng(7)
    perms = {g.id: rng.permutation(g.size) for g in graph.groups if not g.fixed}
    permute_tflite(model, graph, perms)
    permuted = tio.serialize_model(model)
    assert permuted != data
    for x in models.random_input(data, seed=11, n=3):
        np.testing.assert_array_equal(models.run_tflm(data, x), models.run_tflm(permuted, x))


def test_flattened_fc_columns_follow_the_channel_blocks():
    g = graph_from_tflite(tio.parse_model(models.tflite_model("cnn_flatten", "int8")))
    fc = [l for l in g.layers if l.kind == "fc"][0]
    assert fc.in_repeat == 25  # 5x5 positions of 6 channels flattened into one FC row
    assert g.groups[fc.in_group].size == 6


def test_given_widths_keep_channel_order():
    data = models.tflite_model("mlp", "int8")
    model = tio.parse_model(data)
    graph = graph_from_tflite(model)
    widths = [graph.sizes, [20, 12, 8, 6], [20, 6, 4, 6]]
    res = convert_model(model, widths=widths)
    assert res.widths == widths
    reds = tio.serialize_model(res.model)
    sub = tio.serialize_model(materialize(tio.parse_model(reds), 2))
    # with the order kept, subnetwork 2 is the prefix slice of the original weights
    w_orig = tio.buffer_of(model, model.subgraphs[0].tensors[model.subgraphs[0].operators[0].inputs[1]])
    subm = tio.parse_model(sub)
    w_sub = tio.buffer_of(subm, subm.subgraphs[0].tensors[subm.subgraphs[0].operators[0].inputs[1]])
    np.testing.assert_array_equal(w_sub, w_orig[:6])


def test_minimum_fraction_keeps_a_share_of_every_group():
    model = tio.parse_model(models.tflite_model("ds_cnn", "int8"))
    res = convert_model(model, budgets=(1.0, 0.6, 0.4), min_fraction=0.5)
    for g in res.graph.groups:
        if not g.fixed:
            assert all(w[g.id] >= -(-g.size // 2) for w in res.widths), (g, res.widths)
    with pytest.raises(Exception, match="minimum"):
        convert_model(model, budgets=(1.0, 0.1), min_fraction=0.9)


@pytest.mark.parametrize("name", ["ds_cnn", "cnn_flatten", "residual"])
def test_output_cost_terms_are_the_graph_cost(name):
    """The knapsack's separable terms reproduce MACs + c * outputs at random widths."""
    graph = graph_from_tflite(tio.parse_model(models.tflite_model(name, "int8")))
    rng = np.random.default_rng(0)
    for c in (0.0, 12.0):
        const, unary, pair = mac_profile(c).terms(graph)
        for _ in range(5):
            w = [g.size if g.fixed else int(rng.integers(1, g.size + 1)) for g in graph.groups]
            value = const + sum(u * w[g] for g, u in unary.items()) + sum(p * w[a] * w[b] for (a, b), p in pair.items())
            outputs = sum(l.positions * w[l.out_group] for l in graph.layers)
            assert value == pytest.approx(graph.macs(w) + c * outputs, rel=1e-12)
            assert mac_profile(c).instructions(graph, w) == pytest.approx(value, rel=1e-12)


def test_output_cost_budgets_the_cost_not_the_macs():
    """With an output cost, every budget holds in cost units, MACs are reported truthfully, and the search trades
    differently: at a small budget it keeps more input channels of wide-output layers than the MAC search does."""
    model = tio.parse_model(models.tflite_model("ds_cnn", "int8"))
    fr = (1.0, 0.5, 0.25)
    plain = convert_model(model, budgets=fr)
    costed = convert_model(model, budgets=fr, output_cost=12.0)
    g = costed.graph
    cost = mac_profile(12.0)
    for f, w, row in zip(fr, costed.widths, costed.table):
        assert cost.instructions(g, w) <= f * cost.instructions(g) + 1e-6
        assert row["macs"] == pytest.approx(g.macs(w))
    assert costed.widths != plain.widths
    assert cost.instructions(g, plain.widths[-1]) > 0.25 * cost.instructions(g)  # MAC budgets overspend the cost
    with pytest.raises(Exception, match="output cost"):
        convert_model(model, budgets=fr, output_cost=-1.0)
    with pytest.raises(Exception, match="exclude each other"):
        convert_model(model, macs=(g.macs(), g.macs() / 2), output_cost=12.0)


def test_width_multiple_takes_whole_words_where_groups_allow(tmp_path):
    """width_multiple=4: every free group whose size is a multiple of 4 gets multiples of 4, within the budgets; the
    CLI takes --width-multiple and rejects 0 cleanly, writing nothing."""
    import subprocess
    import sys
    model = tio.parse_model(models.tflite_model("ds_cnn", "int8"))
    res = convert_model(model, budgets=(1.0, 0.75, 0.5), width_multiple=4)
    stepped = [g for g in res.graph.groups if not g.fixed and g.size % 4 == 0]
    assert stepped
    for k, w in enumerate(res.widths):
        assert all(w[g.id] % 4 == 0 for g in stepped), (k, w)
        assert res.graph.macs(w) <= (1.0, 0.75, 0.5)[k] * res.graph.macs() * (1 + 1e-9)
    assert res.widths != convert_model(model, budgets=(1.0, 0.75, 0.5)).widths  # the option did something
    with pytest.raises(Exception, match="steps of 4"):  # the tiny model's 25 % needs groups below 4 channels
        convert_model(model, budgets=(1.0, 0.25), width_multiple=4)
    src = tmp_path / "m.tflite"
    src.write_bytes(models.tflite_model("ds_cnn", "int8"))
    run = [sys.executable, "-m", "reds_tflm", "convert", str(src)]
    ok = subprocess.run(run + ["-o", str(tmp_path / "a.tflite"), "--width-multiple", "4", "--budgets", "1,0.5"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(run + ["-o", str(tmp_path / "b.tflite"), "--width-multiple", "0"], capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "width multiple 0" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "b.tflite").exists()
