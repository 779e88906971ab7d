"""`train`: REDS subnetworks from a Keras model, end to end and resumable.

    [pre-train the full model] → width graph → Taylor importance (~100 minibatches) → function-preserving
    permutation → nested widths per MAC budget → joint fine-tuning of all subnetworks (shared BN frozen) →
    BN-only phase (shared gamma/beta, joint loss) → [conversion-aware epochs: the joint step on a simulated int8
    model, `qat_epochs`] → int8 export of one model.reds.tflite (when `out` is given).

With `checkpoint_dir`, the state after every epoch is saved there and a later call with the same arguments resumes
where the previous one stopped (the phase, the epoch, the optimizer moments, the chosen widths).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import RedsError
from ..graph import WidthGraph
from .checkpoint import Checkpoint
from .graph import graph_from_keras, kind_of
from .importance import gradient_sums, taylor_scores
from .loops import (accuracies, batches, check_augment, cosine_lr, full_step, joint_step, joint_weights,
                    model_accuracy, n_batches, recalibrate_bn, run_epoch)
from .permute import permutations, permute_keras, sorted_scores
from .select import select_widths
from .slicing import SlicedNet, activation_ranges

log = logging.getLogger("reds_tflm.train")
PHASES = ("pretrain", "prepare", "joint", "bn", "qat", "done")


TEACHERS = ("inplace", "pretrained")


@dataclass
class TrainConfig:
    budgets: tuple[float, ...] = (1.0, 0.75, 0.5, 0.25)
    pretrain_epochs: int = 0  # train the given model first (0: it is already trained)
    pretrain_lr: float = 2e-3
    finetune_epochs: int = 5
    finetune_lr: float = 1.5e-3  # measured: 5e-4 left the narrow subnetworks far behind (docs/method.md)
    distill: float = 0.0  # in-place distillation weight of the smaller subnetworks' losses (0: labels only)
    teacher: str = "inplace"  # distillation target: "inplace" (the full subnetwork) or "pretrained" (frozen copy)
    distill_temperature: float = 1.0  # softmax temperature of the distillation term (1: as published)
    teacher_from: tuple[str, ...] = ()  # checkpoint dirs whose pre-trained networks join the frozen teacher
    alphas: str = "sqrt-params"  # joint loss weights: "sqrt-params" (published) or "uniform"
    augment: tuple[str, ...] = ()  # training-time augmentation of image batches: "flip", "shift" (loops.py)
    bn_epochs: int = 1
    bn_lr: float = 1e-3
    qat_epochs: int = 0  # conversion-aware epochs after the BN phase: the joint step on a simulated int8 model
    qat_lr: float = 1e-4
    qat_calibration: int = 200  # training images whose activation ranges the simulated int8 model uses
    batch_size: int = 100
    importance_batches: int = 100
    importance_norm: str = "l1"
    score_scale: str = "global"  # "group": scores normalised per group before the knapsack
    mode: str = "top-down"
    method: str = "auto"
    min_width: int = 1
    min_fraction: float = 0.0  # every narrowable group keeps at least this fraction of its units
    head_min_fraction: float = 0.0  # the classifier's input group keeps at least this fraction (authors: 60/64)
    output_cost: float = 0.0  # budgets in MACs + this many MAC-equivalents per output element (0: MACs only)
    memory_limits: tuple[float | None, ...] | None = None  # peak activation bytes per budget (None: no limit)
    cost_profile: str | None = None  # e.g. "cortex-m4-dsp": budgets in the target's predicted instructions
    width_multiple: int = 1  # widths in steps of this where a group's size allows (4: whole words on the M4)
    seed: int = 0
    progress: bool = True


@dataclass
class TrainResult:
    model: Any
    graph: WidthGraph
    widths: list[list[int]]
    fractions: list[float]
    alphas: list[float]
    accuracy_float: list[float]
    history: list[dict[str, Any]] = field(default_factory=list)
    export: Any = None  # export.ExportResult when `out` was given

    def macs(self) -> list[float]:
        return [self.graph.macs(w) for w in self.widths]

    def params(self) -> list[float]:
        return [self.graph.params(w) for w in self.widths]


def _as_xy(data: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        x, y = data
    except (TypeError, ValueError):
        raise RedsError(f"{what}: expected a pair (x, y) of arrays") from None
    x, y = np.asarray(x, np.float32), np.asarray(y).astype(np.int32).reshape(-1)
    if len(x) != len(y) or len(x) == 0:
        raise RedsError(f"{what}: {len(x)} samples but {len(y)} labels")
    return x, y


def bn_variables(model: Any) -> list:
    return [v for l in model.layers if kind_of(l) == "bn" for v in l.trainable_weights]


def fit_full(model: Any, train_data: Any, val_data: Any, epochs: int, lr: float, batch_size: int, seed: int,
             ckpt: Checkpoint, state: dict[str, Any], progress: bool = True, phase: str = "pretrain",
             augment: Sequence[str] = ()) -> None:
    """Ordinary training of the whole model (Adam, cosine decay), resumable at epoch granularity through
    `state["epoch"]`; appends to `state["history"]` and checkpoints after every epoch."""
    import keras
    x, y = _as_xy(train_data, "train_data")
    xv, yv = _as_xy(val_data, "val_data")
    if epochs <= state.get("epoch", 0):
        return
    opt = keras.optimizers.Adam(cosine_lr(lr, epochs * n_batches(len(x), batch_size, drop_last=True)))
    opt.build(model.trainable_variables)
    if state.get("epoch", 0):
        ckpt.restore_optimizer(opt)
    step = full_step(model, opt)
    for e in range(state.get("epoch", 0), epochs):
        loss = run_epoch(step, x, y, batch_size, np.random.default_rng([seed, 0, e]), f"{phase} {e + 1}/{epochs}",
                         progress, augment)
        acc = model_accuracy(model, xv, yv)
        state.setdefault("history", []).append({"phase": phase, "epoch": e + 1, "loss": loss.tolist(),
                                                "val_accuracy": [acc]})
        log.info("%s epoch %d: loss %.4f, val accuracy %.4f", phase, e + 1, loss[0], acc)
        state["epoch"] = e + 1
        if e + 1 == epochs and recalibrate_bn(model, x, seed=seed):
            state.setdefault("history", []).append({"phase": phase, "epoch": e + 1, "bn_recalibrated": True,
                                                    "val_accuracy": [model_accuracy(model, xv, yv)]})
            log.info("%s: BN statistics recalibrated, val accuracy %.4f", phase, state["history"][-1]
                     ["val_accuracy"][0])
        ckpt.save(state, model, opt)


def frozen_teacher(model: Any, ckpt: Checkpoint, state: dict[str, Any], teacher_from: Sequence[str] = ()) -> Any:
    """A frozen copy of the network as it enters the joint phase (pre-trained and permuted): the distillation
    target of `teacher="pretrained"`. Kept in the checkpoint (teacher.weights.h5) so that a resumed run distils
    from the same network, not from the half-trained one it resumes.

    With `teacher_from` (checkpoint directories of earlier runs of the same architecture), the teacher is the
    ensemble of that copy and their pre-trained networks: the average of their outputs (logits, or probabilities
    for a model ending in a softmax). Same data, no extra training: an ensemble of independently pre-trained
    networks predicts better than any one of them (docs/method.md)."""
    import keras
    teacher = keras.models.clone_model(model)
    path = ckpt.dir / "teacher.weights.h5" if ckpt.enabled else None
    if path is not None and path.exists():
        teacher.load_weights(path)
    elif state["phase"] == "joint" and state["epoch"] == 0:
        teacher.set_weights(model.get_weights())
        if path is not None:
            ckpt.save_teacher(teacher)
    else:
        raise RedsError(f"{ckpt.dir}: resuming with teacher='pretrained', but the checkpoint holds no "
                        "teacher.weights.h5 (it was started with another teacher)")
    members = [teacher]
    for d in teacher_from:
        other = keras.models.clone_model(model)
        Checkpoint(d).load_pretrained(other)
        members.append(other)
    for m in members:
        m.trainable = False
    return members[0] if len(members) == 1 else EnsembleTeacher(members)


class EnsembleTeacher:
    """Frozen models called as one: the average of their outputs, in inference mode."""

    def __init__(self, members: Sequence[Any]) -> None:
        self.members = list(members)

    def __call__(self, x: Any, training: bool = False) -> Any:
        import keras
        return keras.ops.mean(keras.ops.stack([m(x, training=False) for m in self.members]), axis=0)


def train(model: Any, train_data: Any, val_data: Any, budgets: Sequence[float] = (1.0, 0.75, 0.5, 0.25), *,
          out: str | Path | None = None, checkpoint_dir: str | Path | None = None,
          init_from: str | Path | None = None, config: TrainConfig | None = None, **overrides: Any) -> TrainResult:
    """Train nested REDS subnetworks of `model` (modified in place: permuted and fine-tuned).

    `train_data`/`val_data` are (x, y) with integer labels; the model outputs logits (or ends in a softmax).
    Options are the fields of `TrainConfig`, given as a config or as keyword arguments. With `out`, the int8
    model.reds.tflite, widths.json and the report (Markdown, PNG, JSON) are written there. `init_from`: the
    checkpoint directory of an earlier run of the same architecture; its pre-trained snapshot replaces the
    pre-training (a way to try other REDS settings without pre-training again). A checkpoint already in
    `checkpoint_dir` takes precedence.
    """
    import keras
    cfg = dataclasses.replace(config or TrainConfig(), budgets=tuple(float(b) for b in budgets), **overrides)
    x, y = _as_xy(train_data, "train_data")
    xv, yv = _as_xy(val_data, "val_data")
    try:
        check_augment(cfg.augment)
    except ValueError as exc:
        raise RedsError(str(exc)) from None
    if not cfg.distill_temperature > 0:
        raise RedsError(f"distill_temperature={cfg.distill_temperature!r}: must be > 0")
    if isinstance(cfg.qat_epochs, bool) or not isinstance(cfg.qat_epochs, int) or cfg.qat_epochs < 0 or \
            not cfg.qat_lr > 0 or cfg.qat_calibration < 1:
        raise RedsError(f"qat_epochs={cfg.qat_epochs!r}, qat_lr={cfg.qat_lr!r}, qat_calibration="
                        f"{cfg.qat_calibration!r}: need an integer >= 0, a rate > 0 and at least one image")
    if isinstance(cfg.width_multiple, bool) or not isinstance(cfg.width_multiple, int) or cfg.width_multiple < 1:
        raise RedsError(f"width_multiple={cfg.width_multiple!r}: must be an integer >= 1")
    if cfg.teacher not in TEACHERS:
        raise RedsError(f"teacher={cfg.teacher!r}: choose one of {', '.join(TEACHERS)}")
    teacher_from = tuple(str(Path(d).resolve()) for d in cfg.teacher_from)  # one spelling across resumes
    if teacher_from and (cfg.teacher != "pretrained" or not cfg.distill > 0):
        raise RedsError(f"teacher_from={list(teacher_from)}: an ensemble teacher needs teacher='pretrained' and "
                        f"distill > 0 (got teacher={cfg.teacher!r}, distill={cfg.distill!r})")
    for d in teacher_from:
        Checkpoint(d).require_pretrained()
    if cfg.augment and x.ndim != 4:
        raise RedsError(f"augment={list(cfg.augment)} needs images (N, H, W, C), but train_data x has shape "
                        f"{x.shape}")
    keras.utils.set_random_seed(cfg.seed)
    graph = graph_from_keras(model)
    if not graph.narrowable():
        raise RedsError(f"model '{model.name}': no channel group can be narrowed:\n{graph.describe()}")
    ckpt = Checkpoint(checkpoint_dir)
    state = ckpt.load_state()
    if state is not None:
        distilled = state["phase"] in ("bn", "qat") or (state["phase"] == "joint" and state["epoch"] > 0)
        if distilled and state.get("teacher_from", []) != list(teacher_from):
            raise RedsError(f"{checkpoint_dir}: checkpoint was distilled from the pre-trained networks of "
                            f"{state.get('teacher_from', [])}, not {list(teacher_from)}; resume with the same "
                            "teacher_from")
        if state.get("budgets") != list(cfg.budgets) or state.get("sizes") != graph.sizes:
            raise RedsError(f"{checkpoint_dir}: checkpoint is for budgets {state.get('budgets')} and group sizes "
                            f"{state.get('sizes')}, not {list(cfg.budgets)} and {graph.sizes}; use another "
                            "directory or delete it")
        ckpt.load_weights(model)
        log.info("resuming from %s: phase %s, epoch %d", checkpoint_dir, state["phase"], state["epoch"])
    elif init_from is not None:
        pre = Checkpoint(init_from).load_pretrained(model)
        if pre.get("sizes") != graph.sizes:
            raise RedsError(f"{init_from}: pre-trained snapshot is for group sizes {pre.get('sizes')}, not "
                            f"{graph.sizes}")
        state = {"phase": "prepare", "epoch": 0, "budgets": list(cfg.budgets), "sizes": graph.sizes,
                 "history": list(pre.get("history", [])), "pretrained_accuracy": pre.get("pretrained_accuracy"),
                 "init_from": str(init_from)}
        log.info("pre-trained weights from %s (val accuracy %s)", init_from, pre.get("pretrained_accuracy"))
        ckpt.save(state, model)
    else:
        state = {"phase": "pretrain", "epoch": 0, "budgets": list(cfg.budgets), "sizes": graph.sizes, "history": []}
    history: list[dict[str, Any]] = state["history"]
    nb = n_batches(len(x), cfg.batch_size, drop_last=True)

    def save(opt: Any | None) -> None:
        ckpt.save(state, model, opt)

    # -- 1. pre-training of the full model (BN in training mode)
    if state["phase"] == "pretrain":
        fit_full(model, (x, y), (xv, yv), cfg.pretrain_epochs, cfg.pretrain_lr, cfg.batch_size, cfg.seed, ckpt,
                 state, cfg.progress, augment=cfg.augment)
        state.update(phase="prepare", epoch=0, pretrained_accuracy=model_accuracy(model, xv, yv))
        save(None)
        ckpt.save_pretrained(state, model)

    # -- 2. importance, permutation, nested widths
    if state["phase"] == "prepare":
        rng = np.random.default_rng([cfg.seed, 1])
        sums = gradient_sums(model, batches(x, y, cfg.batch_size, rng), cfg.importance_batches, cfg.progress)
        scores = taylor_scores(model, graph, sums, cfg.importance_norm)
        perms = permutations(graph, scores)
        before = model.predict(xv[:256], verbose=0)
        permute_keras(model, graph, perms)
        drift = float(np.max(np.abs(model.predict(xv[:256], verbose=0) - before)))
        if drift > 1e-3 * max(1.0, float(np.max(np.abs(before)))):
            raise RedsError(f"permutation changed the model's outputs by {drift:g}: a layer is not covered by "
                            "the width graph")
        widths = select_widths(graph, sorted_scores(scores, perms), cfg.budgets, cfg.mode, cfg.method,
                               cfg.min_width, cfg.memory_limits, cfg.score_scale, cfg.min_fraction,
                               cfg.output_cost, cfg.cost_profile, cfg.width_multiple, cfg.head_min_fraction)
        if widths[0] != graph.sizes:
            raise RedsError(f"budget 0 must be the full network, but the memory limit narrowed it to {widths[0]}")
        state.update(phase="joint", epoch=0, widths=widths,
                     scores=[s.tolist() for s in sorted_scores(scores, perms)])
        for k, w in enumerate(widths):
            log.info("budget %d (%.2f): widths %s, %.0f MACs", k, cfg.budgets[k], w, graph.macs(w))
        save(None)

    widths: list[list[int]] = state["widths"]
    alphas = joint_weights(graph, widths, cfg.alphas)
    net = SlicedNet(model, graph)
    bn_vars = {id(v) for v in bn_variables(model)}
    shared = [v for v in model.trainable_variables if id(v) not in bn_vars]  # trained with BN frozen
    teacher = None
    if cfg.teacher == "pretrained" and cfg.distill > 0 and state["phase"] in ("joint", "bn", "qat"):
        teacher = frozen_teacher(model, ckpt, state, teacher_from)
        state["teacher_from"] = list(teacher_from)

    def phase(name: str, epochs: int, lr: float, variables: list, regularise: bool, distill: float,
              net: SlicedNet = net) -> None:
        opt = keras.optimizers.Adam(cosine_lr(lr, epochs * nb))
        opt.build(variables)
        if state["epoch"]:
            ckpt.restore_optimizer(opt)
        step = joint_step(model, net, widths, alphas, variables, opt, regularise, distill, teacher,
                          cfg.distill_temperature)
        for e in range(state["epoch"], epochs):
            loss = run_epoch(step, x, y, cfg.batch_size, np.random.default_rng([cfg.seed, PHASES.index(name), e]),
                             f"{name} {e + 1}/{epochs}", cfg.progress, cfg.augment)
            acc = accuracies(net, widths, xv, yv)
            history.append({"phase": name, "epoch": e + 1, "loss": loss.tolist(), "val_accuracy": acc})
            log.info("%s epoch %d: losses %s, val accuracy %s", name, e + 1, np.round(loss, 4).tolist(),
                     np.round(acc, 4).tolist())
            state["epoch"] = e + 1
            save(opt)

    # -- 3. joint fine-tuning of every subnetwork on the shared weights (BN frozen)
    if state["phase"] == "joint":
        if "before_joint" not in state:
            state["before_joint"] = accuracies(net, widths, xv, yv)
            log.info("before joint fine-tuning: val accuracy %s", np.round(state["before_joint"], 4).tolist())
        phase("joint", cfg.finetune_epochs, cfg.finetune_lr, shared, True, cfg.distill)
        state.update(phase="bn", epoch=0)
        save(None)

    # -- 4. BN-only phase: the shared gamma/beta, joint loss, statistics frozen
    if state["phase"] == "bn":
        if bn_vars and cfg.bn_epochs:
            phase("bn", cfg.bn_epochs, cfg.bn_lr, [v for v in model.trainable_variables if id(v) in bn_vars], False,
                  cfg.distill)
        state.update(phase="qat" if cfg.qat_epochs else "done", epoch=0)
        save(None)

    # -- 5. conversion-aware epochs: the joint step through the simulated int8 model (kernels rounded per output
    #       channel, materialised activations on the ranges of `qat_calibration` training images at full width)
    if state["phase"] == "qat":
        if "qat_ranges" not in state:  # kept for a resumed run: the same simulated model
            pick = np.random.default_rng([cfg.seed, 13]).choice(len(x), min(cfg.qat_calibration, len(x)),
                                                                 replace=False)
            state["qat_ranges"] = {str(k): list(v) for k, v in
                                   activation_ranges(model, graph, x[np.sort(pick)], widths[0]).items()}
        qnet = SlicedNet(model, graph, fake_quant={int(k): (float(v[0]), float(v[1]))
                                                   for k, v in state["qat_ranges"].items()})
        phase("qat", cfg.qat_epochs, cfg.qat_lr, shared, True, cfg.distill, qnet)
        state.update(phase="done", epoch=0)
        save(None)

    acc = accuracies(net, widths, xv, yv)
    result = TrainResult(model, graph, widths, list(cfg.budgets), alphas.tolist(),
                         acc, history)
    if out is not None:
        from .export import export_reds
        result.export = export_reds(result, x, (xv, yv), out, seed=cfg.seed, progress=cfg.progress)
    return result


def train_cli(args: Any) -> int:
    """`python -m reds_tflm train ...`: the Fashion-MNIST example (see reds_tflm.keras.example)."""
    from .example import main
    return main(args)
