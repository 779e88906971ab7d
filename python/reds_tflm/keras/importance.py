"""First-order (Taylor) importance of every unit of every group, from gradients of a Keras model.

For each weight element the first-order estimate of the loss change when it is removed is |w · Σ_b ∂L_b/∂w|, the
gradient summed over ~100 minibatches (summing before the absolute value lets noise cancel, as published). A unit's
score reduces those elements over every weight slice of its group — producer outputs, biases, BN gamma/beta,
depthwise kernels and the consumer's input columns — with the L1 (sum) or L2 norm.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..errors import RedsError
from ..graph import WidthGraph
from ..importance import slice_scores


def loss_for(model: Any) -> Any:
    """Sparse categorical cross-entropy on logits, or on probabilities when the model ends in a softmax."""
    import keras
    last = model.layers[-1]
    act = getattr(getattr(last, "activation", None), "__name__", "")
    probs = act == "softmax" or isinstance(last, keras.layers.Softmax)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=not probs)


def gradient_sums(model: Any, batches: Iterable[tuple[np.ndarray, np.ndarray]], max_batches: int = 100,
                  progress: bool = False) -> dict[tuple[str, int], np.ndarray]:
    """Σ over minibatches of ∂loss/∂w for every trainable weight, keyed by (layer name, weight index)."""
    import tensorflow as tf
    loss_fn = loss_for(model)
    refs, variables = [], []
    for layer in model.layers:
        for i, v in enumerate(layer.weights):
            if v.trainable:
                refs.append((layer.name, i))
                variables.append(v)

    @tf.function(reduce_retracing=True)
    def grads(x: Any, y: Any) -> list[Any]:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=False))
        return tape.gradient(loss, variables)

    sums = [np.zeros(v.shape, np.float64) for v in variables]
    it = batches
    if progress:
        from tqdm import tqdm
        it = tqdm(batches, total=max_batches, desc="importance", leave=False)
    n = 0
    for x, y in it:
        for s, g in zip(sums, grads(tf.constant(x), tf.constant(y))):
            if g is not None:
                s += np.asarray(g, np.float64)
        n += 1
        if n >= max_batches:
            break
    if n == 0:
        raise RedsError("importance: the data yielded no minibatch")
    return dict(zip(refs, sums))


def taylor_scores(model: Any, graph: WidthGraph, grad_sums: dict[tuple[str, int], np.ndarray],
                  norm: str = "l1") -> list[np.ndarray]:
    """Per-unit scores of every group (fixed groups included; their order never changes)."""
    scores = [np.zeros(g.size) for g in graph.groups]
    touched = [False] * len(graph.groups)
    for s in graph.slices:
        if s.kind != "weight" or s.ref not in grad_sums:
            continue  # BN moving statistics have no gradient; they follow their unit anyway
        layer_name, idx = s.ref
        w = np.asarray(model.get_layer(layer_name).weights[idx].numpy(), np.float64)
        size = graph.groups[s.group].size
        part = slice_scores(np.abs(w * grad_sums[s.ref]), s, size, norm)
        scores[s.group] = np.sqrt(scores[s.group] ** 2 + part ** 2) if norm == "l2" else scores[s.group] + part
        touched[s.group] = True
    return [sc if t else np.ones(g.size) for sc, t, g in zip(scores, touched, graph.groups)]
