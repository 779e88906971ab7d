"""Function-preserving permutation of a Keras model's units, one permutation per group.

Reordering a producer's outputs together with every weight axis that carries the same channels (biases, BN
parameters and statistics, depthwise kernels, consumer input columns, all blocks of a flattened axis) leaves the
model's function unchanged; ordering by importance makes every prefix the best subset for nested widths.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import RedsError
from ..graph import WidthGraph, permute_index
from ..permute import order_by_score


def permutations(graph: WidthGraph, scores: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Descending-importance order for every narrowable group (fixed groups keep their order: inputs/outputs)."""
    return {g.id: order_by_score(scores[g.id]) for g in graph.groups if not g.fixed}


def permute_keras(model: Any, graph: WidthGraph, perms: Mapping[int, np.ndarray]) -> None:
    """Apply `perms` (new unit i = old unit perms[g][i]) to every weight slice of each group, in place."""
    for gid, perm in perms.items():
        g = graph.groups[gid]
        if g.fixed:
            raise RedsError(f"group {gid} is fixed ({g.reason}); permuting it would change the model's function")
        if sorted(np.asarray(perm).tolist()) != list(range(g.size)):
            raise RedsError(f"group {gid}: permutation is not a permutation of 0..{g.size - 1}")
    by_ref: dict[Any, list] = {}
    for s in graph.slices:
        if s.kind == "weight" and s.group in perms:
            by_ref.setdefault(s.ref, []).append(s)
    for (layer_name, idx), slices in by_ref.items():
        var = model.get_layer(layer_name).weights[idx]
        arr = np.asarray(var.numpy())
        for s in slices:
            arr = np.take(arr, permute_index(graph.groups[s.group].size, s.repeat, perms[s.group]), axis=s.axis)
        var.assign(arr)


def sorted_scores(scores: list[np.ndarray], perms: Mapping[int, np.ndarray]) -> list[np.ndarray]:
    """Scores in the permuted unit order (non-increasing for permuted groups)."""
    return [s[perms[i]] if i in perms else s for i, s in enumerate(scores)]
