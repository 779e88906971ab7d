"""The C core's REDS ops against the real tflite-micro interpreter running the same layer SLICED to the active
widths: bit for bit (int8 and float32), for random layers, every budget, random nested widths; inactive output
channels hold the output zero point (0.0 for float)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reds_tflm import onelayer as L
from reds_tflm import core
from reds_tflm.errors import BudgetError, ModelFormatError, OptionsError, UnsupportedModelError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_layer_all_budgets(layer: L.Layer, rng: np.random.Generator, n_budgets: int) -> None:
    x = L.random_input(rng, layer)
    in_w = L.random_widths(rng, layer.in_channels, n_budgets)
    out_w = in_w if layer.kind == L.DW else L.random_widths(rng, layer.out_channels, n_budgets)
    opts = L.encode(layer.options(out_w, in_w))
    zero = layer.quant.output_zero_point if layer.quant is not None else 0.0
    for k in range(n_budgets):
        got = core.run_op(L.CUSTOM_CODE[layer.kind], opts, x, layer.weights, layer.bias, k, layer.quant,
                          out_shape=layer.out_shape())
        assert got.shape == layer.out_shape()
        ref = L.run_tflm(L.builtin_model(L.sliced(layer, out_w[k], in_w[k])), [L.slice_input(layer, x, in_w[k])])[0]
        active = got[..., :out_w[k]]
        assert active.dtype == ref.dtype and active.shape == ref.shape
        if layer.is_int8:
            np.testing.assert_array_equal(active, ref, err_msg=f"budget {k} widths out {out_w[k]} in {in_w[k]}")
        else:
            # Same products summed in the same order: identical bits, not merely close.
            np.testing.assert_array_equal(active.view(np.uint32), ref.view(np.uint32),
                                          err_msg=f"budget {k} widths out {out_w[k]} in {in_w[k]}")
        assert np.all(got[..., out_w[k]:] == zero)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from([L.FC, L.CONV, L.DW]), per_channel=st.booleans(),
       with_bias=st.booleans(), n_budgets=st.integers(1, 5))
def test_int8_ops_match_sliced_tflm(seed: int, kind: str, per_channel: bool, with_bias: bool, n_budgets: int) -> None:
    rng = np.random.default_rng(seed)
    check_layer_all_budgets(L.random_layer(rng, kind, True, per_channel, with_bias), rng, n_budgets)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from([L.FC, L.CONV, L.DW]), with_bias=st.booleans(),
       n_budgets=st.integers(1, 5))
def test_float_ops_match_sliced_tflm(seed: int, kind: str, with_bias: bool, n_budgets: int) -> None:
    rng = np.random.default_rng(seed)
    check_layer_all_budgets(L.random_layer(rng, kind, False, with_bias=with_bias), rng, n_budgets)


@pytest.mark.parametrize("kind", [L.FC, L.CONV, L.DW])
def test_wide_layers_match_sliced_tflm(kind: str) -> None:
    # More channels than the depthwise block (32) and long dot products.
    rng = np.random.default_rng(7)
    for int8 in (True, False):
        check_layer_all_budgets(L.random_layer(rng, kind, int8, max_c=70), rng, 4)


def test_saturating_requantisation_matches_tflm() -> None:
    # Extreme accumulators (large weights, bias and a tiny output scale) clamp at -128/127 in both.
    rng = np.random.default_rng(3)
    layer = L.random_layer(rng, L.CONV, True)
    layer.weights[...] = 127
    layer.quant = core.Quant(0.05, -128, np.full(layer.out_channels, 0.02, np.float32), 0.0005, 5)
    check_layer_all_budgets(layer, rng, 3)


def check_rounding_layer() -> None:
    # Thousands of distinct accumulators through one requantisation: TFLM's default double rounding
    # (SaturatingRoundingDoublingHighMul then RoundingDivideByPOT) and TFLITE_SINGLE_ROUNDING disagree on a few of
    # them, so this pins which one the interpreter uses (random layers hit such ties only rarely).
    rng = np.random.default_rng(2024)
    batches, in_c = 4096, 4
    layer = L.Layer(kind=L.FC, x_shape=(batches, in_c),
                    weights=rng.integers(-127, 128, (2, in_c)).astype(np.int8),
                    bias=rng.integers(-3000, 3000, 2).astype(np.int32),
                    quant=core.Quant(0.0123, 3, np.array([0.00731, 0.0191], np.float32), 0.0377, -7))
    x = rng.integers(-128, 128, layer.x_shape).astype(np.int8)
    opts = L.encode(layer.options([2, 1], [in_c, 2]))
    for k, (ow, iw) in enumerate([(2, in_c), (1, 2)]):
        got = core.run_op(L.REDS_FC, opts, x, layer.weights, layer.bias, k, layer.quant)
        ref = L.run_tflm(L.builtin_model(L.sliced(layer, ow, iw)), [L.slice_input(layer, x, iw)])[0]
        np.testing.assert_array_equal(got[:, :ow], ref)


def test_requantisation_rounding_matches_tflm() -> None:
    check_rounding_layer()


def test_full_budget_equals_builtin_layer() -> None:
    rng = np.random.default_rng(11)
    layer = L.random_layer(rng, L.CONV, True)
    x = L.random_input(rng, layer)
    opts = L.encode(layer.options([layer.out_channels], [layer.in_channels]))
    got = core.run_op(L.REDS_CONV, opts, x, layer.weights, layer.bias, 0, layer.quant)
    np.testing.assert_array_equal(got, L.run_tflm(L.builtin_model(layer), [x])[0])


def test_run_op_errors_name_the_culprit() -> None:
    rng = np.random.default_rng(5)
    layer = L.random_layer(rng, L.FC, True)
    x = L.random_input(rng, layer)
    opts = L.encode(layer.options([layer.out_channels, 1], [layer.in_channels, 1]))
    with pytest.raises(BudgetError, match="budget 2 out of range"):
        core.run_op(L.REDS_FC, opts, x, layer.weights, layer.bias, 2, layer.quant)
    with pytest.raises(UnsupportedModelError, match="quantisation"):
        core.run_op(L.REDS_FC, opts, x, layer.weights, layer.bias, 0, None)
    bad_q = core.Quant(layer.quant.input_scale, 0, layer.quant.weight_scales, 0.1, 0, weight_zero_point=3)
    with pytest.raises(UnsupportedModelError, match="weight zero point 0"):
        core.run_op(L.REDS_FC, opts, x, layer.weights, layer.bias, 0, bad_q)
    with pytest.raises(ModelFormatError, match="bias has"):
        core.run_op(L.REDS_FC, opts, x, layer.weights, layer.bias[:-1] if layer.out_channels > 1
                    else np.zeros(2, np.int32), 0, layer.quant)
    with pytest.raises(OptionsError, match="REDS_ERR_FLEX"):
        core.run_op(L.REDS_FC, opts[:-4], x, layer.weights, layer.bias, 0, layer.quant, where="m.tflite op 3")
    with pytest.raises(UnsupportedModelError, match="int16"):
        core.run_op(L.REDS_FC, opts, x.astype(np.int16), layer.weights, layer.bias, 0, layer.quant)
    conv = L.random_layer(rng, L.CONV, False)
    copts = L.encode(conv.options([conv.out_channels], [conv.in_channels]))
    with pytest.raises(ModelFormatError, match="output shape"):
        core.run_op(L.REDS_CONV, copts, L.random_input(rng, conv), conv.weights, conv.bias, 0,
                    out_shape=(9, 9, 9, 9))
