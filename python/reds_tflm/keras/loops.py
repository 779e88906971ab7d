"""Training and evaluation loops: full-model training, joint training of nested subnetworks, accuracy per width.

The joint step is one optimizer step on Σ_n α_n · loss_n, each loss from a sliced forward pass of subnetwork n
over the same minibatch; α_n ∝ √(fraction of the parameters subnetwork n uses), normalised to sum 1.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..graph import WidthGraph
from .importance import loss_for
from .slicing import SlicedNet


ALPHAS = ("sqrt-params", "uniform")
AUGMENTATIONS = ("flip", "shift")
SHIFT_PIXELS = 2


def check_augment(kinds: Sequence[str]) -> tuple[str, ...]:
    bad = [k for k in kinds if k not in AUGMENTATIONS]
    if bad:
        raise ValueError(f"unknown augmentation {bad[0]!r}; choose from {', '.join(AUGMENTATIONS)}")
    return tuple(kinds)


def augment_batch(x: np.ndarray, rng: np.random.Generator, kinds: Sequence[str]) -> np.ndarray:
    """Label-preserving image augmentation of one NHWC batch (a new array; `x` is untouched).

    "flip": each image mirrored left-right with probability 1/2. "shift": each image moved by up to
    SHIFT_PIXELS in both directions, the uncovered border zero (the background of normalised images).
    """
    if not kinds:
        return x
    if x.ndim != 4:
        raise ValueError(f"image augmentation needs NHWC batches, not shape {x.shape}")
    out = np.array(x, copy=True)
    n, h, w, _ = out.shape
    if "flip" in kinds:
        f = rng.random(n) < 0.5
        out[f] = out[f, :, ::-1]
    if "shift" in kinds:
        s = SHIFT_PIXELS
        pad = np.pad(out, ((0, 0), (s, s), (s, s), (0, 0)))
        dy, dx = rng.integers(0, 2 * s + 1, size=(2, n))
        for i in range(n):
            out[i] = pad[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
    return out


def joint_weights(graph: WidthGraph, widths: Sequence[Sequence[int]], rule: str = "sqrt-params") -> np.ndarray:
    """α_n ∝ √(params(widths_n) / params(full)) (as published), or equal weights ("uniform"); summing to 1."""
    if rule not in ALPHAS:
        raise ValueError(f"unknown joint loss weighting {rule!r}; choose one of {', '.join(ALPHAS)}")
    full = graph.params()
    a = np.array([math.sqrt(graph.params(w) / full) if rule == "sqrt-params" else 1.0 for w in widths])
    return a / a.sum()


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator | None = None,
            drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    idx = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
    stop = len(x) - (len(x) % batch_size if drop_last else 0)
    for s in range(0, stop, batch_size):
        j = idx[s:s + batch_size]
        if len(j):
            yield x[j], y[j]


def n_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


def cosine_lr(lr: float, steps: int) -> Any:
    """Cosine decay from lr to lr/100 over `steps` (the optimizer's iteration counter resumes with it)."""
    import keras
    return keras.optimizers.schedules.CosineDecay(lr, max(1, steps), alpha=0.01)


def full_step(model: Any, optimizer: Any) -> Callable:
    """Ordinary training of the whole model (BN in training mode), with the layers' regularisation losses."""
    import tensorflow as tf
    loss_fn = loss_for(model)
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def step(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
            total = loss + tf.add_n(model.losses) if model.losses else loss
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        return tf.reshape(loss, [1])
    return step


def joint_step(model: Any, net: SlicedNet, widths: Sequence[Sequence[int]], alphas: Sequence[float],
               variables: list, optimizer: Any, regularise: bool = True, distill: float = 0.0,
               teacher: Any | None = None, temperature: float = 1.0) -> Callable:
    """One step on Σ α_n loss_n over the nested subnetworks; returns the per-subnetwork losses (label
    cross-entropy, whatever `distill` is).

    With `distill` = d > 0 (in-place distillation), every smaller subnetwork's loss is (1-d)·CE(labels) +
    d·CE(full network's predicted distribution, gradient stopped): the full network, trained on the labels in the
    same step, is the teacher, at no extra forward pass. With a `teacher` model (a frozen copy of the pre-trained
    network, run in inference mode: one extra forward pass), every subnetwork, the full one too, learns
    (1-d)·CE(labels) + d·CE(teacher's predicted distribution) instead.

    `temperature` T > 1 softens both distributions (Hinton et al.): the distillation term becomes
    T²·CE(softmax(teacher logits / T), softmax(student logits / T)), the T² keeping its gradient's scale. For a
    model that ends in a softmax the logits are the log-probabilities (equal up to a per-sample constant).
    """
    import keras
    import tensorflow as tf
    loss_fn = loss_for(model)
    from_logits = bool(loss_fn.get_config().get("from_logits", True))
    soft_fn = keras.losses.CategoricalCrossentropy(from_logits=from_logits)
    ws = [tuple(int(v) for v in w) for w in widths]
    al = [float(a) for a in alphas]
    d = float(distill)
    temp = float(temperature)
    if not temp > 0:
        raise ValueError(f"distillation temperature must be > 0, not {temperature!r}")
    soft_ce = keras.losses.CategoricalCrossentropy(from_logits=True)

    def logits(o: Any) -> Any:
        return o if from_logits else tf.math.log(tf.maximum(o, 1e-12))

    def soft_target(ref: Any) -> Any:
        if temp == 1.0:  # the published form, as before the option existed
            return tf.stop_gradient(tf.nn.softmax(ref) if from_logits else ref)
        return tf.stop_gradient(tf.nn.softmax(logits(ref) / temp))

    def distill_loss(target: Any, o: Any) -> Any:
        return soft_fn(target, o) if temp == 1.0 else temp * temp * soft_ce(target, logits(o) / temp)

    @tf.function(reduce_retracing=True)
    def step(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            outs = [net.forward(x, w, training=True) for w in ws]
            losses = [loss_fn(y, o) for o in outs]
            train_losses = list(losses)
            if d > 0:
                ref = outs[0] if teacher is None else teacher(x, training=False)
                target = soft_target(ref)
                for n in range(0 if teacher is not None else 1, len(outs)):
                    train_losses[n] = (1 - d) * losses[n] + d * distill_loss(target, outs[n])
            total = tf.add_n([a * l for a, l in zip(al, train_losses)])
            if regularise and model.losses:
                total = total + tf.add_n(model.losses)
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        return tf.stack(losses)
    return step


def run_epoch(step: Callable, x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator,
              desc: str, progress: bool, augment: Sequence[str] = ()) -> np.ndarray:
    import tensorflow as tf
    it = batches(x, y, batch_size, rng, drop_last=True)
    total = n_batches(len(x), batch_size, drop_last=True)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, total=total, desc=desc, leave=False)
    acc, n = None, 0
    for xb, yb in it:
        losses = step(tf.constant(augment_batch(xb, rng, augment)), tf.constant(yb)).numpy()
        acc = losses if acc is None else acc + losses
        n += 1
        if progress and n % 20 == 0:
            it.set_postfix(loss=" ".join(f"{v:.3f}" for v in acc / n))
    return acc / max(n, 1) if acc is not None else np.zeros(1)


def recalibrate_bn(model: Any, x: np.ndarray, batch_size: int = 200, max_batches: int = 50,
                   seed: int = 0) -> bool:
    """Replace every BN's moving statistics by the exact average of its batch statistics over `max_batches`.

    Momentum-0.99 running averages lag the weights when an epoch has few steps (a subset, a short run), and the
    inference-mode network then sees mismatched statistics; the frozen-BN joint phase inherits whatever they are.
    Dropout is switched off meanwhile, so the statistics are those of the inference-time activations.
    """
    import tensorflow as tf
    from .graph import kind_of
    bns = [l for l in model.layers if kind_of(l) == "bn"]
    if not bns:
        return False
    drops = [l for l in model.layers if hasattr(l, "rate") and kind_of(l) == "pass"]
    saved = [(l, l.momentum) for l in bns] + [(l, l.rate) for l in drops]
    try:
        for l in drops:
            l.rate = 0.0
        rng = np.random.default_rng([seed, 11])
        for i, (xb, _) in enumerate(batches(x, np.zeros(len(x)), batch_size, rng)):
            if i >= max_batches:
                break
            for l in bns:
                l.momentum = 1.0 - 1.0 / (i + 1)  # moving = running mean of the batch statistics
            model(tf.constant(xb), training=True)
    finally:
        for l, v in saved:
            if l in drops:
                l.rate = v
            else:
                l.momentum = v
    return True


def accuracies(net: SlicedNet, widths: Sequence[Sequence[int]], x: np.ndarray, y: np.ndarray,
               batch_size: int = 500) -> list[float]:
    """Float top-1 accuracy of every subnetwork (sliced forward passes, inference mode)."""
    import tensorflow as tf
    ws = [tuple(int(v) for v in w) for w in widths]

    @tf.function(reduce_retracing=True)
    def predict(xb: Any) -> Any:
        return tf.stack([tf.argmax(net.forward(xb, w, training=False), axis=-1) for w in ws])

    correct = np.zeros(len(ws))
    for xb, yb in batches(x, y, batch_size):
        correct += (predict(tf.constant(xb)).numpy() == yb[None, :]).sum(axis=1)
    return [float(c) / len(y) for c in correct]


def model_accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def predict(xb: Any) -> Any:
        return tf.argmax(model(xb, training=False), axis=-1)

    correct = 0
    for xb, yb in batches(x, y, batch_size):
        correct += int((predict(tf.constant(xb)).numpy() == yb).sum())
    return correct / len(y)
