"""Greedy primal moves shared by the width solvers: fill spare budget, repair an over-budget point, local search.

All moves change one group by one unit and pick by value per MAC, which is the natural exchange rate of the
Lagrangian relaxation. Because every cost is monotone in the widths, lowering a width never breaks feasibility.
"""

from __future__ import annotations

import numpy as np

from .widths import WidthProblem, constraint_slack, fits, macs, value


def _marginal_macs(problem: WidthProblem, w: np.ndarray, up: bool) -> np.ndarray:
    """MACs change of raising (up) or lowering each group by one unit, all others fixed."""
    d = problem.dense
    inter = d.pair @ w
    if up:
        return d.unary + d.self_ * (2.0 * w + 1.0) + inter
    return d.unary + d.self_ * (2.0 * w - 1.0) + inter


def _unit_score(problem: WidthProblem, g: int, index: int) -> float:
    return float(problem.scores[g][index])


def fill(problem: WidthProblem, widths: np.ndarray, budget: float, hi: np.ndarray) -> np.ndarray:
    """Raise single groups by one unit, best value/MACs first, while the budget and constraints allow."""
    w = widths.astype(np.float64).copy()
    cur = macs(problem, w)
    cmat = problem.dense.cmat
    tol = 1e-12 * np.maximum(np.abs(problem.dense.crhs), 1.0)
    while True:
        open_ = w < hi
        if not open_.any():
            return w
        dm = _marginal_macs(problem, w, up=True)
        slack = constraint_slack(problem, w)
        ok = open_ & (cur + dm <= budget + 1e-12 * max(abs(budget), 1.0))  # fits(), vectorised
        if cmat.size:
            ok &= np.all(cmat <= slack[:, None] + tol[:, None], axis=0)
        cand = np.nonzero(ok)[0]
        if cand.size == 0:
            return w
        dv = np.array([_unit_score(problem, int(g), int(w[g])) for g in cand])
        # Free units (no MACs) first, then the best ratio; ties favour the larger gain.
        ratio = np.where(dm[cand] > 0, dv / np.maximum(dm[cand], 1e-300), np.inf)
        best = cand[np.lexsort((-dv, -ratio))[0]]
        w[best] += 1.0
        new = macs(problem, w)
        if not fits(budget, new):  # rounding of the marginal estimate; never accept a real overshoot
            w[best] -= 1.0
            return w
        cur = new


def repair(problem: WidthProblem, widths: np.ndarray, budget: float, lo: np.ndarray) -> np.ndarray:
    """Lower single groups by one unit, least value lost per MAC saved first, until MACs fit the budget."""
    w = widths.astype(np.float64).copy()
    cur = macs(problem, w)
    while not fits(budget, cur):
        dm = _marginal_macs(problem, w, up=False)
        cand = np.nonzero((w > lo) & (dm > 0))[0]
        if cand.size == 0:
            raise ArithmeticError("repair: no group can be lowered although the budget is above the minimum MACs")
        dv = np.array([_unit_score(problem, int(g), int(w[g]) - 1) for g in cand])
        best = cand[np.lexsort((dv, dv / dm[cand]))[0]]
        w[best] -= 1.0
        cur = macs(problem, w)
    return w


def local_search(problem: WidthProblem, widths: np.ndarray, budget: float, lo: np.ndarray, hi: np.ndarray,
                 max_rounds: int = 50) -> np.ndarray:
    """Swap passes; keep strict improvements. Two moves per group g: drop one unit of g and refill the others
    greedily, or add one unit to g, repair the others down to the budget, then refill."""
    w = widths.astype(np.float64).copy()
    best_v = value(problem, w)
    lo_f, hi_f = lo.astype(np.float64), hi.astype(np.float64)
    for _ in range(max_rounds):
        improved = False
        for g in range(w.size):
            trials = []
            if w[g] > lo_f[g]:
                t = w.copy()
                t[g] -= 1.0
                cap = hi_f.copy()
                cap[g] = t[g]  # do not simply put the dropped unit back
                trials.append(fill(problem, t, budget, cap))
            if w[g] < hi_f[g]:
                t = w.copy()
                t[g] += 1.0
                if constraint_slack(problem, t).min(initial=0.0) >= 0.0:
                    floor = lo_f.copy()
                    floor[g] = t[g]  # pay for the new unit with other groups' units
                    if fits(budget, macs(problem, floor)):
                        t = repair(problem, t, budget, floor)
                        trials.append(fill(problem, t, budget, hi_f))
            for t in trials:
                v = value(problem, t)
                if v > best_v * (1.0 + 1e-13) + 1e-300:
                    w, best_v, improved = t, v, True
        if not improved:
            break
    return w
