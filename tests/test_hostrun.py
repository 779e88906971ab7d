"""Host runner: a REDS model at budget k (REDS ops in the C core, builtin ops in tflite-micro) equals the
materialized subnetwork k run entirely in the tflite-micro interpreter, bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reds_tflm import onelayer as L
import models
from reds_tflm import tflite_io as tio
from reds_tflm.convert import convert_model
from reds_tflm.core import Quant
from reds_tflm.errors import BudgetError, ModelFormatError, OptionsError, UnsupportedModelError
from reds_tflm.hostrun import HostRunner, evaluate, run_model
from reds_tflm.materialize import materialize
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

BUDGETS = {"concat": (1.0, 0.8, 0.65)}
CASES = list(itertools.product(models.BUILDERS, models.MODES))


@pytest.fixture(scope="module")
def converted():
    cache: dict = {}

    def get(name: str, mode: str):
        if (name, mode) not in cache:
            data = models.tflite_model(name, mode)
            res = convert_model(tio.parse_model(data), budgets=BUDGETS.get(name), name=name)
            reds = tio.serialize_model(res.model)
            subs = [tio.serialize_model(materialize(tio.parse_model(reds), k)) for k in range(len(res.widths))]
            cache[name, mode] = data, reds, subs
        return cache[name, mode]
    return get


@pytest.mark.parametrize("name,mode", CASES)
def test_every_budget_equals_materialized_model(converted, name: str, mode: str) -> None:
    original, reds, subs = converted(name, mode)
    runner = HostRunner(reds, name)
    assert runner.budgets == len(subs)
    for k, sub in enumerate(subs):
        for x in models.random_input(original, seed=10 + k, n=2):
            got = runner.run([x], k)[0]
            want = models.run_tflm(sub, x)
            assert got.dtype == want.dtype and got.shape == want.shape
            # float32 too: the C kernels sum in TFLM's order, so even float results are identical.
            np.testing.assert_array_equal(got, want, err_msg=f"{name}/{mode} budget {k}")


def test_evaluate_matches_materialized_argmax(converted) -> None:
    original, reds, subs = converted("ds_cnn", "int8")
    xs = models.random_input(original, seed=21, n=12)
    x = np.stack([s[0] for s in xs])
    outs = [[models.run_tflm(sub, s).reshape(-1) for s in xs] for sub in subs]
    y = np.array([int(np.argmax(o)) for o in outs[0]])
    accs = evaluate(reds, x, y)
    assert accs[0] == 1.0
    for k in range(1, len(subs)):
        assert accs[k] == pytest.approx(np.mean([int(np.argmax(o)) == t for o, t in zip(outs[k], y)]))
    assert evaluate(reds, x, y, budgets=[2]) == [accs[2]]


def test_evaluate_quantises_float_samples(converted) -> None:
    original, reds, subs = converted("mlp", "int8")
    runner = HostRunner(reds)
    t = runner.tensors[runner.sub.inputs[0]]
    scale, zp = float(t.quantization.scale[0]), int(t.quantization.zeroPoint[0])
    rng = np.random.default_rng(4)
    xf = rng.normal(0, 1, (6,) + tio.tensor_shape(t)[1:]).astype(np.float32)
    xq = np.clip(np.round(xf / scale) + zp, -128, 127).astype(np.int8)
    y = rng.integers(0, 5, 6)
    assert evaluate(reds, xf, y) == evaluate(reds, xq, y)


# ---------------------------------------------------------------------------------- hand-built REDS chain

def _chain(rng: np.random.Generator, int8: bool) -> tuple[L.Layer, L.Layer]:
    """Layers of x -> Conv -> RESHAPE (builtin) -> FC, the FC reading the flattened conv output (in_repeat =
    its spatial positions)."""
    conv = L.random_layer(rng, L.CONV, int8)
    n, oh, ow, oc = conv.out_shape()
    fc = L.random_layer(rng, L.FC, int8)
    in_q = None
    if int8:
        in_q = Quant(conv.quant.output_scale, conv.quant.output_zero_point, fc.quant.weight_scales,
                            fc.quant.output_scale, fc.quant.output_zero_point)
    fc = L.Layer(kind=L.FC, x_shape=(n, oh * ow * oc), weights=(
        rng.integers(-127, 128, (fc.out_channels, oh * ow * oc)).astype(np.int8) if int8
        else rng.standard_normal((fc.out_channels, oh * ow * oc)).astype(np.float32)),
        bias=fc.bias, activation=fc.activation, in_repeat=oh * ow, quant=in_q)
    return conv, fc


def _chain_model(conv: L.Layer, fc: L.Layer, reds_widths=None) -> bytes:
    """The chain as one model: REDS ops with ((conv_out, conv_in), (fc_out,)) width lists, or builtin ops."""
    mb = L.ModelBuilder()
    x = L.input_tensor(mb, conv)
    opts = None
    if reds_widths is not None:
        (c_out, c_in), (f_out,) = reds_widths
        opts = L.encode(conv.options(c_out, c_in))
    h = L.add_layer(mb, conv, x, custom_options=opts, prefix="conv_")
    shape_t = mb.tensor("shape", (2,), schema.TensorType.INT32, np.array(fc.x_shape, dtype=np.int32))
    flat = mb.tensor("flat", fc.x_shape, mb.sub.tensors[h].type, None, mb.sub.tensors[h].quantization)
    ro = schema.ReshapeOptionsT()
    ro.newShape = list(fc.x_shape)
    mb.op(mb.opcode(schema.BuiltinOperator.RESHAPE), [h, shape_t], [flat], schema.BuiltinOptions.ReshapeOptions, ro)
    fopts = None
    if reds_widths is not None:
        fopts = L.encode(fc.options(f_out, c_out))
    y = L.add_layer(mb, fc, flat, custom_options=fopts, prefix="fc_")
    return mb.finish([x], [y])


@pytest.mark.parametrize("int8", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_hand_built_chain_equals_sliced_chain(int8: bool, seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    conv, fc = _chain(rng, int8)
    nb = 3
    c_in = L.random_widths(rng, conv.in_channels, nb)
    c_out = L.random_widths(rng, conv.out_channels, nb)
    f_out = L.random_widths(rng, fc.out_channels, nb)
    reds = _chain_model(conv, fc, ((c_out, c_in), (f_out,)))
    x = L.random_input(rng, conv)
    runner = HostRunner(reds, "chain")
    for k in range(nb):
        sc = L.sliced(conv, c_out[k], c_in[k])
        sf = L.sliced(fc, f_out[k], c_out[k])
        sf.x_shape = (sf.x_shape[0], sf.weights.shape[1])
        sub = _chain_model(sc, sf)
        got = runner.run([x], k)[0]
        want = L.run_tflm(sub, [L.slice_input(conv, x, c_in[k])])[0]
        np.testing.assert_array_equal(got[:, :f_out[k]], want)
        zero = fc.quant.output_zero_point if int8 else 0.0
        assert np.all(got[:, f_out[k]:] == zero)


def test_errors_name_the_culprit() -> None:
    rng = np.random.default_rng(1)
    layer = L.random_layer(rng, L.CONV, True)
    good = L.reds_model(layer, [layer.out_channels, 1], [layer.in_channels, 1])
    x = L.random_input(rng, layer)
    with pytest.raises(BudgetError, match="budget 2 out of range, the model has 2 budgets"):
        run_model(good, [x], 2)
    with pytest.raises(ModelFormatError, match="input 0 .* must be int8"):
        run_model(good, [x.astype(np.float32)], 0)
    with pytest.raises(ModelFormatError, match="1 inputs given|0 inputs given"):
        run_model(good, [], 0)
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        run_model(b"\x00" * 64, [x], 0)
    m = tio.parse_model(good)
    m.operatorCodes[0].customCode = "MY_OP"
    with pytest.raises(UnsupportedModelError, match="op 0 is custom op 'MY_OP'"):
        HostRunner(m, "m.tflite")
    m = tio.parse_model(good)
    m.subgraphs[0].operators[0].customOptions = list(bytes(m.subgraphs[0].operators[0].customOptions)[:-3])
    with pytest.raises(OptionsError, match="m.tflite: op 0 \\(REDS_Conv\\)"):
        HostRunner(m, "m.tflite")


def test_evaluate_cli_on_npz(converted, tmp_path, capsys) -> None:
    import argparse

    from reds_tflm.hostrun import evaluate_cli
    original, reds, subs = converted("mlp", "float32")
    path = tmp_path / "m.reds.tflite"
    path.write_bytes(reds)
    xs = models.random_input(original, seed=8, n=10)
    x = np.stack([s[0] for s in xs])
    y = np.array([int(np.argmax(models.run_tflm(subs[0], s))) for s in xs])
    np.savez(tmp_path / "d.npz", x=x[:2], y=y[:2], x_test=x, y_test=y)
    assert evaluate_cli(argparse.Namespace(model=str(path), data=str(tmp_path / "d.npz"), limit=None)) == 0
    out = capsys.readouterr().out
    assert "10 samples" in out and " 0 " in out and "100.00%" in out
    assert len([ln for ln in out.splitlines() if ln[:2].strip().isdigit()]) == len(subs)
