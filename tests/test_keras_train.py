"""End to end: `train` on a tiny MLP (few steps) yields one REDS int8 model whose every budget runs; an interrupted
training resumes from its checkpoint to the same result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from reds_tflm import tflite_io as tio  # noqa: E402
from reds_tflm.errors import RedsError  # noqa: E402
from reds_tflm.keras import train as train_mod  # noqa: E402
from reds_tflm.keras.train import train  # noqa: E402


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable synthetic task: the class is the quadrant pattern of a noisy 6×6 image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n).astype(np.int32)
    x = rng.normal(0, 0.5, (n, 6, 6, 1)).astype(np.float32)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, 3 * r:3 * r + 3, 3 * q:3 * q + 3, 0] += 1.5
    return x, y


def _mlp():
    from keras import layers as L
    m = keras.Sequential([keras.Input((6, 6, 1)), L.Flatten(), L.Dense(24, activation="relu", name="h1"),
                          L.Dense(16, activation="relu", name="h2"), L.Dense(4, name="out")], name="tiny")
    return m


KW = dict(pretrain_epochs=2, finetune_epochs=2, bn_epochs=1, importance_batches=5, batch_size=32, progress=False)


def test_train_end_to_end_every_budget_runs(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    tr, va = _data(640, 0), _data(200, 1)
    res = train(_mlp(), tr, va, budgets=(1, 0.6, 0.3), out=tmp_path, **KW)
    full = res.graph.macs()
    assert res.widths[0] == res.graph.sizes
    for k, (f, w) in enumerate(zip((1, 0.6, 0.3), res.widths)):
        assert res.graph.macs(w) <= f * full + 1e-6
        if k:
            assert all(a >= b for a, b in zip(res.widths[k - 1], w))
    assert res.accuracy_float[0] > 0.6  # the task is learnable in a few steps; chance is 0.25
    ex = res.export
    data = ex.path.read_bytes()
    model = tio.parse_model(data)
    names = {tio.op_name(model, op) for op in model.subgraphs[0].operators}
    assert {"CUSTOM:REDS_FC"} <= names and "FULLY_CONNECTED" not in names
    # every budget of the one converted model runs, on the host runner when present, else materialised in TFLM
    from reds_tflm.keras.export import evaluate_int8
    accs, engine = evaluate_int8(model, 3, va[0][:50], va[1][:50])
    assert len(accs) == 3 and all(0 <= a <= 1 for a in accs) and accs[0] > 0.5
    from reds_tflm.materialize import materialize
    from tflite_micro.python.tflite_micro import runtime
    for k in range(3):
        sub = tio.serialize_model(materialize(model, k))
        it = runtime.Interpreter.from_bytes(sub)
        it.set_input(np.zeros(it.get_input_details(0)["shape"], np.int8), 0)
        it.invoke()
        assert np.asarray(it.get_output(0)).shape[-1] == 4
    widths = json.loads(ex.widths_path.read_text())
    assert [b["widths"] for b in widths["budgets"]] == ex.tflite_widths
    rep = json.loads((tmp_path / "report.json").read_text())
    assert [b["fraction"] for b in rep["budgets"]] == [1, 0.6, 0.3]
    assert all(set(b) >= {"fraction", "macs", "params", "accuracy_float", "accuracy_int8"} for b in rep["budgets"])
    assert (tmp_path / "report.png").stat().st_size > 1000 and "| 0 | 100.0 |" in (tmp_path / "report.md").read_text()
    # int8 close to float at full width (the conversion kept the function)
    assert abs(ex.accuracy_int8[0] - res.accuracy_float[0]) < 0.1


def _interrupted_run(monkeypatch, tr, va, ckpt: Path, kw: dict) -> None:
    """Seed 0, budgets (1, 0.5), killed while evaluating joint epoch 2: epoch 1 is saved, epoch 2 is not."""
    calls = {"n": 0}
    real = train_mod.accuracies

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    keras.utils.set_random_seed(0)
    monkeypatch.setattr(train_mod, "accuracies", flaky)
    with pytest.raises(KeyboardInterrupt):
        train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=ckpt, **kw)
    monkeypatch.setattr(train_mod, "accuracies", real)


def test_interrupted_training_resumes_to_the_same_result(tmp_path: Path, monkeypatch) -> None:
    tr, va = _data(320, 2), _data(100, 3)
    keras.utils.set_random_seed(0)
    ref = train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "a", **KW)

    _interrupted_run(monkeypatch, tr, va, tmp_path / "b", KW)
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["phase"] == "joint" and state["epoch"] == 1
    keras.utils.set_random_seed(1)  # a different initialisation: the checkpoint must override it
    res = train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "b", **KW)
    assert res.widths == ref.widths
    for a, b in zip(ref.model.weights, res.model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(RedsError, match="checkpoint is for budgets"):
        train(_mlp(), tr, va, budgets=(1, 0.4), checkpoint_dir=tmp_path / "b", **KW)


def test_cli_args_are_completed_and_existing_checkpoints_protected(tmp_path: Path) -> None:
    import argparse
    from reds_tflm.keras.example import _dirs, complete_args
    a = complete_args(argparse.Namespace(arch="mlp", quick=True, seed=3, out=str(tmp_path / "o"), resume=False))
    assert a.arch == "mlp" and a.seed == 3 and a.out == tmp_path / "o" and a.mode == "top-down"
    assert a.min_fraction == 0.25 and a.importance == "l1" and a.checkpoint is None
    out, ckpt = _dirs(a)
    assert ckpt == tmp_path / "o" / "checkpoint"
    ckpt.mkdir(parents=True)
    (ckpt / "state.json").write_text("{}")
    with pytest.raises(RedsError, match="--resume"):
        _dirs(a)
    a.resume = True
    assert _dirs(a) == (out, ckpt)


def test_in_place_distillation_targets_the_full_network() -> None:
    """distill = 1: a subnetwork's loss is the cross-entropy to the full network's (gradient-stopped) prediction.
    A 'subnetwork' as wide as the full one then has zero gradient, so the step equals the full network's alone;
    without distillation the same pair of losses moves the weights further."""
    from reds_tflm.keras.graph import graph_from_keras
    from reds_tflm.keras.loops import joint_step
    from reds_tflm.keras.slicing import SlicedNet
    import tensorflow as tf
    x, y = _data(64, 3)

    def one_step(widths, alphas, distill):
        keras.utils.set_random_seed(0)
        m = _mlp()
        g = graph_from_keras(m)
        opt = keras.optimizers.SGD(0.5)
        step = joint_step(m, SlicedNet(m, g), [list(w) for w in widths] if widths else [g.sizes] * len(alphas),
                          alphas, m.trainable_variables, opt, True, distill)
        losses = step(tf.constant(x), tf.constant(y)).numpy()
        return [v.numpy() for v in m.trainable_variables], losses

    alone, l1 = one_step(None, [0.6], 0.0)
    distilled, l2 = one_step(None, [0.6, 0.4], 1.0)
    labels, l3 = one_step(None, [0.6, 0.4], 0.0)
    # the reported losses are the label cross-entropies either way
    np.testing.assert_allclose(l2, [l1[0], l1[0]], rtol=1e-5)
    for a, b in zip(alone, distilled):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(alone, labels)) > 1e-4


def test_a_run_can_start_from_another_runs_pretrained_snapshot(tmp_path: Path) -> None:
    """The pre-trained model is kept apart in the checkpoint; a second run with other REDS settings starts from it
    (no pre-training: same weights before importance, hence the same widths) and is refused for another model."""
    tr, va = _data(320, 4), _data(100, 5)
    keras.utils.set_random_seed(0)
    ref = train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "a", **KW)
    pre = json.loads((tmp_path / "a" / "pretrained.json").read_text())
    assert pre["phase"] == "prepare" and (tmp_path / "a" / "pretrained.weights.h5").exists()
    keras.utils.set_random_seed(7)  # another initialisation: the snapshot must replace it
    res = train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "b", init_from=tmp_path / "a",
                **{**KW, "finetune_lr": 1e-3})
    assert res.widths == ref.widths
    assert [h for h in res.history if h["phase"] == "pretrain"] == [h for h in ref.history if h["phase"] == "pretrain"]
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["init_from"] == str(tmp_path / "a") and state["phase"] == "done"
    from keras import layers as L
    other = keras.Sequential([keras.Input((6, 6, 1)), L.Flatten(), L.Dense(20, activation="relu", name="h1"),
                              L.Dense(16, activation="relu", name="h2"), L.Dense(4, name="out")])
    with pytest.raises(RedsError, match="does not fit|group sizes"):
        train(other, tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "c", init_from=tmp_path / "a", **KW)
    with pytest.raises(RedsError, match="no pre-trained snapshot"):
        train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "d", init_from=tmp_path / "nothing", **KW)


def test_augmentation_flips_and_shifts_images_and_leaves_the_batch_alone() -> None:
    from reds_tflm.keras.loops import SHIFT_PIXELS, augment_batch
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 9, 7, 2)).astype(np.float32)
    keep = x.copy()
    flipped = augment_batch(x, np.random.default_rng(1), ("flip",))
    np.testing.assert_array_equal(x, keep)
    same = [np.array_equal(a, b) for a, b in zip(flipped, x)]
    mirrored = [np.array_equal(a, b[:, ::-1]) for a, b in zip(flipped, x)]
    assert all(s or m for s, m in zip(same, mirrored)) and 10 < sum(mirrored) < 54
    shifted = augment_batch(x, np.random.default_rng(2), ("shift",))
    s = SHIFT_PIXELS
    for a, b in zip(shifted, x):  # every image is the original moved by some (dy, dx) within ±s, zeros moved in
        pad = np.pad(b, ((s, s), (s, s), (0, 0)))
        assert any(np.array_equal(a, pad[dy:dy + 9, dx:dx + 7]) for dy in range(2 * s + 1) for dx in range(2 * s + 1))
    assert sum(not np.array_equal(a, b) for a, b in zip(shifted, x)) > 40
    np.testing.assert_array_equal(augment_batch(x, np.random.default_rng(2), ("shift",)), shifted)
    assert augment_batch(x, rng, ()) is x


def test_training_with_augmentation_is_repeatable_and_bad_settings_are_refused() -> None:
    tr, va = _data(320, 6), _data(100, 7)
    kw = {**KW, "finetune_epochs": 1, "augment": ("flip", "shift")}
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        runs.append(train(_mlp(), tr, va, budgets=(1, 0.5), **kw))
    assert runs[0].history == runs[1].history
    keras.utils.set_random_seed(0)
    plain = train(_mlp(), tr, va, budgets=(1, 0.5), **{**kw, "augment": ()})
    assert plain.history[0]["loss"] != runs[0].history[0]["loss"]  # the augmented batches were trained on
    with pytest.raises(RedsError, match="unknown augmentation 'rotate'"):
        train(_mlp(), tr, va, budgets=(1, 0.5), **{**kw, "augment": ("rotate",)})
    flat = (tr[0].reshape(len(tr[0]), -1), tr[1])
    with pytest.raises(RedsError, match=r"needs images \(N, H, W, C\)"):
        train(_mlp(), flat, va, budgets=(1, 0.5), **kw)


def test_pretrained_teacher_is_the_frozen_network_and_survives_a_resume(tmp_path: Path, monkeypatch) -> None:
    """teacher='pretrained': every subnetwork, the full one too, learns toward a frozen copy of the network as it
    entered the joint phase. A copy identical to the model gives distillation terms with zero gradient at full
    width; the copy is kept in the checkpoint, so an interrupted run resumes to the same weights."""
    from reds_tflm.keras.graph import graph_from_keras
    from reds_tflm.keras.loops import joint_step
    from reds_tflm.keras.slicing import SlicedNet
    import tensorflow as tf
    x, y = _data(64, 3)

    def one_step(distill, alpha, with_teacher, temperature=1.0, teacher_seed=None):
        keras.utils.set_random_seed(0)
        m = _mlp()
        t = keras.models.clone_model(m)
        t.set_weights(m.get_weights())
        if teacher_seed is not None:
            rng = np.random.default_rng(teacher_seed)
            t.set_weights([w + rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in t.get_weights()])
        g = graph_from_keras(m)
        step = joint_step(m, SlicedNet(m, g), [g.sizes], [alpha], m.trainable_variables, keras.optimizers.SGD(0.5),
                          True, distill, t if with_teacher else None, temperature)
        step(tf.constant(x), tf.constant(y))
        return [v.numpy() for v in m.trainable_variables]

    # loss (1-d)·CE + d·CE(teacher = itself): the second term's gradient is zero, so it equals (1-d)·CE alone,
    # at any temperature (softened or not, the target is the student's own distribution)
    half_labels = one_step(0.0, 0.5, False)
    for temperature in (1.0, 4.0):
        distilled = one_step(0.5, 1.0, True, temperature)
        for a, b in zip(half_labels, distilled):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # toward another network, the temperature changes the step; T -> its own value 1 gives the published form
    moved = {temp: one_step(1.0, 1.0, True, temp, teacher_seed=5) for temp in (1.0, 1.0 + 1e-6, 4.0)}
    for a, b in zip(moved[1.0], moved[1.0 + 1e-6]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(moved[1.0], moved[4.0])) > 1e-3
    with pytest.raises(ValueError, match="temperature must be > 0"):
        one_step(0.5, 1.0, True, 0.0)

    tr, va = _data(320, 2), _data(100, 3)
    kw = {**KW, "distill": 0.5, "teacher": "pretrained"}
    keras.utils.set_random_seed(0)
    ref = train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "a", **kw)
    assert (tmp_path / "a" / "teacher.weights.h5").exists()
    keras.utils.set_random_seed(0)
    inplace = train(_mlp(), tr, va, budgets=(1, 0.5), **{**kw, "teacher": "inplace"})
    assert inplace.history[-1]["val_accuracy"] != ref.history[-1]["val_accuracy"] or \
        any(float(np.max(np.abs(a.numpy() - b.numpy()))) > 1e-6
            for a, b in zip(inplace.model.weights, ref.model.weights))
    _interrupted_run(monkeypatch, tr, va, tmp_path / "b", kw)
    keras.utils.set_random_seed(1)
    res = train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "b", **kw)
    for a, b in zip(ref.model.weights, res.model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    (tmp_path / "b" / "teacher.weights.h5").unlink()
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    state.update(phase="bn", epoch=0)
    (tmp_path / "b" / "state.json").write_text(json.dumps(state))
    with pytest.raises(RedsError, match="no teacher.weights.h5"):
        train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "b", **kw)
    with pytest.raises(RedsError, match="teacher='nobody'"):
        train(_mlp(), tr, va, budgets=(1, 0.5), **{**kw, "teacher": "nobody"})


def test_train_budgets_a_cost_profile() -> None:
    """With TrainConfig.cost_profile the widths hold each budget in the profile's predicted instructions (not MACs),
    and differ from the MAC budgets' where outputs are priced."""
    from reds_tflm.cost_profile import CostProfile, KindCost
    prof = CostProfile("outputs dear", {k: KindCost(1.0, 40.0, 0.0) for k in ("fc", "conv1x1", "conv", "dwconv")})
    keras.utils.set_random_seed(0)
    tr, va = _data(320, 0), _data(100, 1)
    kw = dict(KW, pretrain_epochs=1, finetune_epochs=1)
    timed = train(_mlp(), tr, va, budgets=(1, 0.5), cost_profile=prof, **kw)
    assert prof.instructions(timed.graph, timed.widths[1]) <= 0.5 * prof.instructions(timed.graph) * (1 + 1e-9)
    keras.utils.set_random_seed(0)
    plain = train(_mlp(), tr, va, budgets=(1, 0.5), **kw)
    assert prof.instructions(plain.graph, plain.widths[1]) > 0.5 * prof.instructions(plain.graph)


def test_width_multiple_steps_the_trained_widths() -> None:
    """width_multiple=4: the hidden groups (24 and 16 units) take multiples of 4 at every budget; a bad value is
    refused before any training."""
    tr, va = _data(320, 6), _data(100, 7)
    kw = {**KW, "pretrain_epochs": 1, "finetune_epochs": 1, "bn_epochs": 0}
    keras.utils.set_random_seed(0)
    res = train(_mlp(), tr, va, budgets=(1, 0.6, 0.3), width_multiple=4, **kw)
    hidden = [g.id for g in res.graph.groups if not g.fixed]
    assert len(hidden) == 2
    for w in res.widths:
        assert all(w[g] % 4 == 0 for g in hidden), res.widths
    assert res.widths[-1] != res.widths[0]
    with pytest.raises(RedsError, match="width_multiple=0"):
        train(_mlp(), tr, va, budgets=(1, 0.5), width_multiple=0, **kw)


def test_ensemble_teacher_averages_pretrained_networks_and_is_checked_on_resume(tmp_path: Path) -> None:
    """teacher_from: the teacher is the frozen copy plus the pre-trained networks of the given checkpoints, their
    outputs averaged; the same list is required to resume a joint phase, and bad combinations are refused."""
    from reds_tflm.keras.checkpoint import Checkpoint
    x, _ = _data(16, 4)
    others = []
    for k in range(2):
        keras.utils.set_random_seed(10 + k)
        m = _mlp()
        Checkpoint(tmp_path / f"p{k}").save_pretrained({"sizes": None}, m)
        others.append(m)
    keras.utils.set_random_seed(0)
    model = _mlp()
    teacher = train_mod.frozen_teacher(model, Checkpoint(None), {"phase": "joint", "epoch": 0},
                                       [str(tmp_path / "p0"), str(tmp_path / "p1")])
    want = np.mean([np.asarray(m(x, training=False)) for m in (model, *others)], axis=0)
    np.testing.assert_allclose(np.asarray(teacher(x, training=False)), want, rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(want - np.asarray(model(x, training=False)))) > 1e-3  # the members differ

    tr, va = _data(320, 2), _data(100, 3)
    kw = {**KW, "distill": 0.5, "teacher": "pretrained"}
    keras.utils.set_random_seed(0)
    plain = train(_mlp(), tr, va, budgets=(1, 0.5), **kw)
    keras.utils.set_random_seed(0)
    ens = train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "c",
                teacher_from=(str(tmp_path / "p0"),), **kw)
    assert any(float(np.max(np.abs(a.numpy() - b.numpy()))) > 1e-6
               for a, b in zip(plain.model.weights, ens.model.weights))
    state = json.loads((tmp_path / "c" / "state.json").read_text())
    assert state["teacher_from"] == [str((tmp_path / "p0").resolve())]
    state.update(phase="joint", epoch=1)
    (tmp_path / "c" / "state.json").write_text(json.dumps(state))
    with pytest.raises(RedsError, match="resume with the same teacher_from"):
        train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "c", **kw)
    with pytest.raises(RedsError, match="needs teacher='pretrained'"):
        train(_mlp(), tr, va, budgets=(1, 0.5), **{**kw, "teacher": "inplace"}, teacher_from=(str(tmp_path),))
    with pytest.raises(RedsError, match="no pre-trained snapshot"):
        train(_mlp(), tr, va, budgets=(1, 0.5), **kw, teacher_from=(str(tmp_path / "nowhere"),))


def test_simulated_int8_pass_rounds_kernels_and_materialised_activations() -> None:
    """The conversion-aware pass: kernels on the per-channel int8 grid, each materialised activation (input, the
    fused chains' outputs, the logits) on 256 levels of its calibrated range; gradients still flow."""
    import tensorflow as tf
    from reds_tflm.keras.graph import graph_from_keras
    from reds_tflm.keras.slicing import SlicedNet, activation_ranges, materialised_steps
    keras.utils.set_random_seed(2)
    m = _mlp()
    g = graph_from_keras(m)
    x, _ = _data(400, 5)  # more output values than 8 bits have levels
    points = materialised_steps(g)
    kinds = [type(g.meta["steps"][i].layer).__name__ for i in points]
    assert kinds[0] == "InputLayer" and points[-1] == len(g.meta["steps"]) - 1, kinds
    ranges = activation_ranges(m, g, x, g.sizes)
    assert set(ranges) == set(points) and all(lo <= 0.0 <= hi for lo, hi in ranges.values())
    q = SlicedNet(m, g, fake_quant=ranges)
    dense = next(layer for layer in m.layers if type(layer).__name__ == "Dense")
    k = np.asarray(q.weight(dense, 0, g.sizes))
    scale = np.abs(np.asarray(dense.weights[0].value)).max(axis=0) / 127.0
    np.testing.assert_allclose(k / scale, np.round(k / scale), atol=1e-3)
    # a slice of narrowed inputs keeps the full kernel's grid, as the int8 model does: the last Dense's largest
    # weights put in its last input row, outside the slice
    last = [layer for layer in m.layers if type(layer).__name__ == "Dense"][-1]
    w = last.get_weights()
    w[0][-1, :] = 2.0 * np.abs(w[0]).max()
    last.set_weights(w)
    in_group = next(sl.group for sl in q.by_weight[(last.name, 0)] if sl.axis == 0)
    narrow = list(g.sizes)
    narrow[in_group] = g.sizes[in_group] // 4
    full_k, kn = np.asarray(q.weight(last, 0, g.sizes)), np.asarray(q.weight(last, 0, narrow))
    assert kn.shape == (g.sizes[in_group] // 4, full_k.shape[1])
    np.testing.assert_allclose(kn, full_k[:kn.shape[0]], rtol=1e-6, atol=1e-7)
    y = np.asarray(q.forward(tf.constant(x), g.sizes))
    plain = np.asarray(SlicedNet(m, g).forward(tf.constant(x), g.sizes))
    assert len(np.unique(y)) <= 256 < len(np.unique(plain))
    lo, hi = ranges[points[-1]]
    assert y.min() >= lo - (hi - lo) / 255 and y.max() <= hi + (hi - lo) / 255
    assert 0 < np.max(np.abs(y - plain)) < 0.1 * (hi - lo)
    with tf.GradientTape() as tape:
        out = q.forward(tf.constant(x), g.sizes)
        loss = tf.reduce_sum(out * out)
    grads = tape.gradient(loss, m.trainable_variables)
    assert any(gr is not None and float(tf.reduce_max(tf.abs(gr))) > 0 for gr in grads)


def test_conversion_aware_epochs_train_and_resume(tmp_path: Path, monkeypatch) -> None:
    """qat_epochs: a phase after BN on the simulated int8 model; it moves the weights, keeps its ranges in the
    checkpoint and resumes to the same result; bad settings are refused."""
    tr, va = _data(320, 2), _data(100, 3)
    kw = {**KW, "qat_epochs": 2}
    keras.utils.set_random_seed(0)
    plain = train(_mlp(), tr, va, budgets=(1, 0.5), **KW)
    keras.utils.set_random_seed(0)
    ref = train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "a", **kw)
    assert [h["epoch"] for h in ref.history if h["phase"] == "qat"] == [1, 2]
    assert any(float(np.max(np.abs(a.numpy() - b.numpy()))) > 1e-6
               for a, b in zip(plain.model.weights, ref.model.weights))
    assert json.loads((tmp_path / "a" / "state.json").read_text())["qat_ranges"]
    calls = {"n": 0}
    real = train_mod.accuracies

    def flaky(net, *args, **kwargs):  # killed while evaluating the second conversion-aware epoch
        calls["n"] += net.fake_quant is not None
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(net, *args, **kwargs)

    keras.utils.set_random_seed(0)
    monkeypatch.setattr(train_mod, "accuracies", flaky)
    with pytest.raises(KeyboardInterrupt):
        train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "b", **kw)
    monkeypatch.setattr(train_mod, "accuracies", real)
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["phase"] == "qat" and state["epoch"] == 1
    keras.utils.set_random_seed(1)
    res = train(_mlp(), tr, va, budgets=(1, 0.5), checkpoint_dir=tmp_path / "b", **kw)
    for a, b in zip(ref.model.weights, res.model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    for bad in ({"qat_epochs": -1}, {"qat_epochs": 1, "qat_lr": 0.0}, {"qat_epochs": 1, "qat_calibration": 0}):
        with pytest.raises(RedsError, match="qat_epochs="):
            train(_mlp(), tr, va, budgets=(1, 0.5), **{**KW, **bad})
