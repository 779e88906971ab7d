"""Cost profiles: the predicted instruction count as knapsack terms, the fit, loading, and budgets in predicted
instructions through convert and the CLI."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

import models
from reds_tflm import tflite_io as tio
from reds_tflm.convert import convert_model
from reds_tflm.cost_profile import (KINDS, CostProfile, KindCost, bundled_profiles, fit_profile, layer_kind,
                                    load_profile, mac_profile, profile_from_json)
from reds_tflm.errors import RedsError
from reds_tflm.graph_tflite import graph_from_tflite

# Per-output and per-pixel prices far above the MACs', like the measured Cortex-M4 kernels (narrow slices of
# wide-output layers cost more than their MACs).
PROFILE = CostProfile("test", {"fc": KindCost(1.6, 2.0, 100.0), "conv1x1": KindCost(1.4, 12.0, 60.0),
                               "conv": KindCost(1.5, 20.0, 50.0), "conv_c1": KindCost(2.5, 9.0, 30.0),
                               "dwconv": KindCost(4.7, 3.0, 40.0)})


def _graph(name):
    return graph_from_tflite(tio.parse_model(models.tflite_model(name, "int8")), name)


def _random_widths(graph, rng):
    return [g.size if g.fixed else int(rng.integers(1, g.size + 1)) for g in graph.groups]


@pytest.mark.parametrize("name", ["ds_cnn", "cnn_flatten", "residual"])
def test_weighted_terms_are_the_profile_prediction(name):
    graph = _graph(name)
    rng = np.random.default_rng(1)
    const, unary, pair = graph.weighted_terms(PROFILE.weights(graph))
    assert mac_profile(0.0).terms(graph) == graph.mac_terms()
    for _ in range(5):
        w = _random_widths(graph, rng)
        value = const + sum(u * w[g] for g, u in unary.items()) + sum(p * w[a] * w[b] for (a, b), p in pair.items())
        assert value == pytest.approx(PROFILE.instructions(graph, w), rel=1e-12)
        kinds = [PROFILE.kinds[layer_kind(l, graph.sizes[l.in_group])] for l in graph.layers]
        by_hand = sum(k.per_mac * l.macs(w[l.out_group], w[l.in_group]) + k.per_output * l.positions * w[l.out_group]
                      + k.per_pixel * l.positions for l, k in zip(graph.layers, kinds))
        assert value == pytest.approx(by_hand, rel=1e-12)


def test_fit_recovers_known_coefficients():
    rng = np.random.default_rng(2)
    rows = []
    for k, kind in enumerate(KINDS):
        for _ in range(12):
            macs, outs, px = rng.integers(100, 100_000), rng.integers(10, 5_000), rng.integers(1, 800)
            rows.append((kind, macs, outs, px, (1.0 + k) * macs + (10.0 + k) * outs + (100.0 + k) * px))
    prof = fit_profile(rows, "synthetic")
    for k, kind in enumerate(KINDS):
        got = prof.kinds[kind]
        assert (got.per_mac, got.per_output, got.per_pixel) == pytest.approx((1.0 + k, 10.0 + k, 100.0 + k), rel=1e-6)
    with pytest.raises(RedsError, match="no measurements"):
        fit_profile([], "empty")
    with pytest.raises(RedsError, match="instructions > 0"):
        fit_profile([("conv", 10, 1, 1, 0)], "zero")


def test_bundled_profiles_load_and_bad_files_are_named(tmp_path):
    assert {"cortex-m4-dsp", "cortex-m4-portable"} <= set(bundled_profiles())
    dsp = load_profile("cortex-m4-dsp")
    assert set(dsp.kinds) == set(KINDS) and all(k.per_mac > 0 for k in dsp.kinds.values())
    assert "m4.py" in dsp.source
    with pytest.raises(RedsError, match="neither a bundled profile"):
        load_profile("no-such-target")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RedsError, match="bad.json: not valid JSON"):
        load_profile(str(bad))
    doc = dsp.to_json()
    doc["kinds"]["conv"]["per_mac"] = -1
    bad.write_text(json.dumps(doc))
    with pytest.raises(RedsError, match="kinds.conv"):
        load_profile(str(bad))
    del doc["kinds"]["fc"]
    bad.write_text(json.dumps(doc))
    with pytest.raises(RedsError, match="kinds.fc"):
        load_profile(str(bad))


def test_first_layer_kind_and_profiles_without_it():
    """A KxK conv on one input channel is kind conv_c1 (its own M4 loop); a profile written before that kind
    existed prices it as "conv"."""
    graph = _graph("ds_cnn")
    kinds = [layer_kind(l, graph.sizes[l.in_group]) for l in graph.layers]
    assert kinds[0] == "conv_c1" and kinds.count("conv_c1") == 1 and "conv1x1" in kinds
    old = {k: dataclasses.asdict(v) for k, v in PROFILE.kinds.items() if k != "conv_c1"}
    prof = profile_from_json({"name": "old", "kinds": old}, "an older profile")
    assert "conv_c1" not in prof.kinds and prof.kind_cost("conv_c1") == PROFILE.kinds["conv"]
    with pytest.raises(RedsError, match="cost profile partial: no entry for layer kind 'dwconv'"):
        CostProfile("partial", {"conv": PROFILE.kinds["conv"]}).instructions(graph)
    w = graph.sizes
    as_conv = CostProfile("c", {**PROFILE.kinds, "conv_c1": PROFILE.kinds["conv"]})
    assert prof.instructions(graph, w) == pytest.approx(as_conv.instructions(graph, w), rel=1e-12)
    assert PROFILE.instructions(graph, w) != pytest.approx(as_conv.instructions(graph, w), rel=1e-6)
    assert graph.layers[0].kernel == 9


@pytest.mark.parametrize("name", ["ds_cnn", "cnn_flatten"])
def test_profile_budgets_buy_predicted_time(name):
    """With a profile, budget f holds f of the predicted instructions, nested, MACs reported truthfully; the plain
    MAC budgets overspend the predicted time at the small budget (the hazard the profile prices)."""
    model = tio.parse_model(models.tflite_model(name, "int8"))
    fr = (1.0, 0.75, 0.5)
    plain = convert_model(model, budgets=fr, name=name)
    timed = convert_model(model, budgets=fr, name=name, cost_profile=PROFILE)
    g = timed.graph
    full = PROFILE.instructions(g)
    for k, (f, w, row) in enumerate(zip(fr, timed.widths, timed.table)):
        assert PROFILE.instructions(g, w) <= f * full * (1 + 1e-9)
        assert row["macs"] == pytest.approx(g.macs(w))
        if k:
            assert all(a >= b for a, b in zip(timed.widths[k - 1], w))
    assert PROFILE.instructions(g, plain.widths[-1]) > fr[-1] * full
    assert timed.widths != plain.widths
    with pytest.raises(RedsError, match="exclude each other"):
        convert_model(model, budgets=fr, name=name, cost_profile=PROFILE, output_cost=12.0)


def test_keras_widths_take_a_profile():
    """The Keras path's width selection prices the same profile (one cost concept for both front ends)."""
    keras = pytest.importorskip("keras")
    from reds_tflm.keras.graph import graph_from_keras
    from reds_tflm.keras.select import select_widths
    keras.utils.set_random_seed(0)
    m = models.ds_cnn()
    g = graph_from_keras(m)
    rng = np.random.default_rng(0)
    scores = [rng.gamma(2.0, 1.0, grp.size) for grp in g.groups]
    fr = (1.0, 0.5)
    plain = select_widths(g, scores, fr)
    timed = select_widths(g, scores, fr, cost_profile=PROFILE)
    assert PROFILE.instructions(g, timed[1]) <= 0.5 * PROFILE.instructions(g) * (1 + 1e-9)
    assert PROFILE.instructions(g, plain[1]) > 0.5 * PROFILE.instructions(g)


def test_cli_cost_profile(tmp_path):
    src = tmp_path / "m.tflite"
    src.write_bytes(models.tflite_model("ds_cnn", "int8"))
    run = [sys.executable, "-m", "reds_tflm", "convert", str(src)]
    ok = subprocess.run(run + ["-o", str(tmp_path / "a.tflite"), "--cost-profile", "cortex-m4-dsp",
                               "--budgets", "1,0.75,0.5"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "a.tflite").stat().st_size > 0
    # The test model is tiny: per-pixel work no width removes is more than a tenth of its predicted time.
    tight = subprocess.run(run + ["-o", str(tmp_path / "t.tflite"), "--cost-profile", "cortex-m4-dsp",
                                  "--budgets", "1,0.1"], capture_output=True, text=True)
    assert tight.returncode != 0 and "cortex-m4-dsp" in tight.stderr and "Traceback" not in tight.stderr
    assert not (tmp_path / "t.tflite").exists()
    bad = subprocess.run(run + ["-o", str(tmp_path / "b.tflite"), "--cost-profile", "nope"], capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "nope" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "b.tflite").exists()
    both = subprocess.run(run + ["-o", str(tmp_path / "c.tflite"), "--cost-profile", "cortex-m4-dsp",
                                 "--output-cost", "12"], capture_output=True, text=True)
    assert both.returncode != 0 and "exclude each other" in both.stderr
