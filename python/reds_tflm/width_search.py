"""The knapsack of one width graph: its scores sorted per group and scaled, its minimum widths, its cost (MACs, MACs
plus a price per output element, or a target's predicted instructions) as the terms `reds_tflm.widths` solves.
One builder for the converter (weight-magnitude scores, scale "group") and the Keras front end (Taylor scores,
scale "global" by default, optional memory constraints)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .cost_profile import CostProfile, resolve
from .errors import BudgetError
from .graph import WidthGraph
from .widths import LinearConstraint, WidthProblem

SCALES = ("global", "group")


def width_problem(graph: WidthGraph, scores: Sequence[np.ndarray], min_width: int = 1,
                  constraints: Sequence[LinearConstraint] = (), scale: str = "global",
                  min_fraction: float = 0.0, output_cost: float = 0.0,
                  cost_profile: str | CostProfile | None = None, head_fraction: float = 0.0) -> WidthProblem:
    """scale "global": one constant for all groups (scores compare across groups as estimated loss changes);
    "group": every group scaled to mean 1 (only the ranking inside a group matters, MACs decide between groups).
    The cost is MACs (+ output_cost per output element), or a target's predicted instructions (cost_profile)."""
    if scale not in SCALES:
        raise BudgetError(f"unknown score scale {scale!r}; choose one of {', '.join(SCALES)}")
    const, unary, pair = resolve(output_cost, cost_profile).terms(graph)
    free = [np.maximum(np.asarray(scores[g.id], np.float64), 0.0) for g in graph.groups if not g.fixed]
    glob = float(np.mean(np.concatenate(free))) if free else 1.0

    def norm(s: np.ndarray) -> np.ndarray:
        s = np.maximum(np.asarray(s, np.float64), 0.0)
        m = glob if scale == "global" else float(np.mean(s))
        return s / m if m > 0 else np.ones_like(s)

    sorted_scores = tuple(np.zeros(g.size) if g.fixed else np.sort(norm(scores[g.id]))[::-1] for g in graph.groups)
    mins = graph.min_widths(min_width, min_fraction, head_fraction)
    return WidthProblem(sizes=tuple(graph.sizes), scores=sorted_scores, min_widths=mins, macs_const=const,
                        macs_unary=unary, macs_pair=pair, constraints=tuple(constraints))
