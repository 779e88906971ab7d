"""Nested widths for a Keras width graph: the shared knapsack (`reds_tflm.widths`) fed with Taylor scores.

Scores are sorted per group (the model was permuted by them) and scaled by one global constant, so groups compete
on the same scale of estimated loss change. An optional peak-activation-memory limit per budget (bytes, int8
activations) adds one linear constraint per layer: the bytes of the tensors it reads plus the one it writes.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..cost_profile import CostProfile, resolve
from ..errors import BudgetError
from ..graph import WidthGraph
from ..width_search import SCALES, width_problem
from ..widths import LinearConstraint, Solution, select_nested, solve

__all__ = ["SCALES", "memory_constraints", "peak_activation_bytes", "select_widths", "width_problem"]


def memory_constraints(graph: WidthGraph, limit_bytes: float, bytes_per_element: int = 1) -> list[LinearConstraint]:
    """Peak activation memory <= limit: for every layer, Σ bytes of its distinct inputs and its output."""
    tensors = graph.meta["tensors"]
    out = []
    for st in graph.meta["steps"]:
        if not st.inputs:
            continue
        coeffs: dict[int, float] = {}
        const = 0.0
        for key in dict.fromkeys(st.inputs + (st.output,)):
            t = tensors[key]
            per_channel = float(t.positions * t.repeat * bytes_per_element)
            g = graph.groups[t.group]
            if g.fixed:
                const += per_channel * g.size
            else:
                coeffs[g.id] = coeffs.get(g.id, 0.0) + per_channel
        out.append(LinearConstraint(coeffs, float(limit_bytes), const, f"activations around layer '{st.name}'"))
    return out


def peak_activation_bytes(graph: WidthGraph, widths: Sequence[int], bytes_per_element: int = 1) -> float:
    tensors = graph.meta["tensors"]
    peak = 0.0
    for st in graph.meta["steps"]:
        keys = dict.fromkeys(st.inputs + (st.output,))
        total = sum(tensors[k].positions * tensors[k].repeat * widths[tensors[k].group] for k in keys)
        peak = max(peak, total * bytes_per_element)
    return peak


def select_widths(graph: WidthGraph, scores: Sequence[np.ndarray], fractions: Sequence[float],
                  mode: str = "top-down", method: str = "auto", min_width: int = 1,
                  memory_limits: Sequence[float | None] | None = None, scale: str = "global",
                  min_fraction: float = 0.0, output_cost: float = 0.0,
                  cost_profile: str | CostProfile | None = None, width_multiple: int = 1,
                  head_fraction: float = 0.0) -> list[list[int]]:
    """Nested widths (budget 0 = fraction 1 = the full network) for fractions of the cost (MACs, plus
    `output_cost` per output element, or a cost profile's predicted instructions), optional memory limits, widths
    in steps of `width_multiple` where a group's size allows (widths.block_sizes)."""
    fr = [float(f) for f in fractions]
    if not fr or abs(fr[0] - 1.0) > 1e-9:
        raise BudgetError(f"budgets {fr}: the first budget must be 1 (the full network)")
    if any(b >= a for a, b in zip(fr, fr[1:])) or fr[-1] <= 0:
        raise BudgetError(f"budgets {fr}: fractions must decrease strictly and stay above 0")
    cost = resolve(output_cost, cost_profile)
    full = cost.instructions(graph)
    budgets = [f * full for f in fr]
    if not memory_limits or all(m is None for m in memory_limits):
        problem = width_problem(graph, scores, min_width, scale=scale, min_fraction=min_fraction,
                                cost_profile=cost, head_fraction=head_fraction)
        sols = select_nested(problem, budgets, mode=mode, method=method, multiple=width_multiple)
        return [list(map(int, s.widths)) for s in sols]
    if len(memory_limits) != len(fr):
        raise BudgetError(f"{len(memory_limits)} memory limits for {len(fr)} budgets")
    problems = [width_problem(graph, scores, min_width,
                              memory_constraints(graph, m) if m is not None else (), scale, min_fraction,
                              cost_profile=cost, head_fraction=head_fraction)
                for m in memory_limits]
    out: list[Solution | None] = [None] * len(fr)
    lo = np.array(problems[0].min_widths)
    hi = np.array(graph.sizes)
    for i in (range(len(fr)) if mode == "top-down" else range(len(fr) - 1, -1, -1)):
        sol = solve(problems[i], budgets[i], lo, hi, method=method, multiple=width_multiple)  # type: ignore[arg-type]
        out[i] = sol
        if mode == "top-down":
            hi = np.array(sol.widths)
        else:
            lo = np.array(sol.widths)
    return [list(map(int, s.widths)) for s in out if s is not None]
