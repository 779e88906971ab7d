"""Exact width selection: a MILP (scipy.optimize.milp / HiGHS) and exhaustive enumeration for tiny instances.

MILP formulation, on the free groups (fixed groups are folded into constants):
- one-hot binaries z[g, w] for w in lo_g..hi_g, sum_w z[g, w] = 1; then w_g = sum_w w z[g, w], V_g(w_g) and
  w_g^2 are linear in z, so value, unary and square MACs terms and the extra constraints are linear;
- each bilinear term p_ab w_a w_b (a != b) gets continuous y[a, w] = z[a, w] * w_b on the one-hot side a with
  lo_b z[a, w] <= y[a, w] <= hi_b z[a, w] and sum_w y[a, w] = w_b. For binary z this is exact (the one y with z = 1
  equals w_b, the others are 0): McCormick's envelope of a binary times a bounded integer, disaggregated over the
  one-hot, which keeps the LP relaxation tight. Then w_a w_b = sum_w w y[a, w].
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint as ScipyConstraint, milp

from . import widths_greedy as greedy
from .errors import BudgetError, WidthsError
from .widths import Solution, WidthProblem, constraints_ok, fits, macs, value

MAX_ENUMERATION = 2_000_000


def solve_exhaustive(problem: WidthProblem, budget: float, lo: np.ndarray, hi: np.ndarray) -> Solution:
    """Try every width combination in the box; ties go to fewer MACs, then the lexicographically smallest."""
    d = problem.dense
    free = [g for g in range(problem.num_groups) if lo[g] < hi[g]]
    count = math.prod(int(hi[g] - lo[g] + 1) for g in free)
    if count > MAX_ENUMERATION:
        raise WidthsError(f"exhaustive width search would try {count} combinations (limit {MAX_ENUMERATION}); "
                          "use method='milp' or 'lagrangian'")
    grids = np.meshgrid(*[np.arange(lo[g], hi[g] + 1) for g in free], indexing="ij")
    w = np.tile(lo.astype(np.float64), (count, 1))
    for g, grid in zip(free, grids):
        w[:, g] = grid.reshape(-1)
    wi = w.astype(np.int64)
    val = sum(d.cum[g][wi[:, g]] for g in range(problem.num_groups))
    cost = problem.macs_const + w @ d.unary + (w * w) @ d.self_ + 0.5 * np.einsum("ij,jk,ik->i", w, d.pair, w)
    ok = cost <= budget + 1e-12 * max(abs(budget), 1.0)
    if d.cmat.size:
        tol = 1e-12 * np.maximum(np.abs(d.crhs), 1.0)
        ok &= np.all(w @ d.cmat.T <= d.crhs + tol, axis=1)
    if not ok.any():
        raise BudgetError(f"no widths fit the MACs budget {budget:.6g} and the extra constraints")
    idx = np.nonzero(ok)[0]
    best = idx[np.lexsort((cost[idx], -val[idx]))[0]]  # lexsort: last key is primary
    v = float(value(problem, w[best]))
    return Solution(tuple(int(x) for x in wi[best]), v, macs(problem, w[best]), v, budget, "exhaustive",
                    f"{count} combinations")


def _build(problem: WidthProblem, lo: np.ndarray, hi: np.ndarray, free: list[int]):
    """Variables, objective, integrality and constraint rows of the MILP; returns pieces for milp()."""
    d = problem.dense
    fixed_w = np.where(lo < hi, 0.0, lo.astype(np.float64))
    start: dict[int, int] = {}
    ws: dict[int, np.ndarray] = {}
    n = 0
    for g in free:
        start[g] = n
        ws[g] = np.arange(lo[g], hi[g] + 1, dtype=np.float64)
        n += ws[g].size
    nz = n
    pairs = [(a, b) for i, a in enumerate(free) for b in free[i + 1:] if d.pair[a, b] != 0.0]
    ystart: dict[tuple[int, int], tuple[int, int, int]] = {}  # (a, b) -> (first y, one-hot side, other side)
    for a, b in pairs:
        one, other = (a, b) if ws[a].size <= ws[b].size else (b, a)
        ystart[(a, b)] = (n, one, other)
        n += ws[one].size
    objective = np.zeros(n)
    integrality = np.zeros(n)
    ub = np.ones(n)
    integrality[:nz] = 1
    budget_row = np.zeros(n)
    for g in free:
        s = slice(start[g], start[g] + ws[g].size)
        objective[s] = -d.cum[g][lo[g]:hi[g] + 1]
        budget_row[s] = (d.unary[g] + d.pair[g] @ fixed_w) * ws[g] + d.self_[g] * ws[g] ** 2
    rows, cols, vals, rlo, rhi = [], [], [], [], []

    def add_row(entries: list[tuple[int, float]], low: float, high: float) -> None:
        r = len(rlo)
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        rlo.append(low)
        rhi.append(high)

    for g in free:  # one width per group
        add_row([(start[g] + i, 1.0) for i in range(ws[g].size)], 1.0, 1.0)
    for (a, b), (y0, one, other) in ystart.items():
        k = ws[one].size
        ub[y0:y0 + k] = hi[other]
        budget_row[y0:y0 + k] = d.pair[a, b] * ws[one]
        for i in range(k):  # lo_other z <= y <= hi_other z
            add_row([(y0 + i, 1.0), (start[one] + i, -float(lo[other]))], 0.0, np.inf)
            add_row([(y0 + i, 1.0), (start[one] + i, -float(hi[other]))], -np.inf, 0.0)
        add_row([(y0 + i, 1.0) for i in range(k)]
                + [(start[other] + i, -float(ws[other][i])) for i in range(ws[other].size)], 0.0, 0.0)
    extra = []
    for j in range(d.cmat.shape[0]):
        row = np.zeros(n)
        for g in free:
            row[start[g]:start[g] + ws[g].size] = d.cmat[j, g] * ws[g]
        extra.append((row, float(d.crhs[j] - d.cmat[j] @ fixed_w)))
    struct = sparse.csr_array((vals, (rows, cols)), shape=(len(rlo), n))
    return objective, integrality, ub, budget_row, struct, np.array(rlo), np.array(rhi), extra, start, ws


def solve_milp(problem: WidthProblem, budget: float, lo: np.ndarray, hi: np.ndarray,
               time_limit: float | None = None, mip_rel_gap: float = 1e-9) -> Solution:
    """Exact optimum (within mip_rel_gap) or, at the time limit, the incumbent and HiGHS's dual bound."""
    free = [g for g in range(problem.num_groups) if lo[g] < hi[g]]
    if not free:
        w = lo.astype(np.float64)
        v = value(problem, w)
        return Solution(tuple(int(x) for x in w), v, macs(problem, w), v, budget, "milp")
    obj, integ, ub, brow, struct, rlo, rhi, extra, start, ws = _build(problem, lo, hi, free)
    base = lo.astype(np.float64).copy()
    base[free] = 0.0
    fixed_macs = macs(problem, base)  # constant and fixed-only terms: the polynomial with the free widths at 0
    fixed_value = value(problem, base)  # the fixed groups' value, absent from the MILP objective
    options: dict[str, object] = {"mip_rel_gap": mip_rel_gap}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    rhs = budget - fixed_macs
    note = ""
    for attempt in range(4):
        scale = 1.0 / max(abs(rhs), 1.0)  # a budget row of order 1 next to the 0/1 rows
        cons = [ScipyConstraint(struct, rlo, rhi), ScipyConstraint(brow[None, :] * scale, -np.inf, rhs * scale)]
        cons += [ScipyConstraint(row[None, :], -np.inf, r) for row, r in extra]
        res = milp(obj, integrality=integ, bounds=Bounds(np.zeros(obj.size), ub), constraints=cons, options=options)
        if attempt == 0:  # only the untightened model's dual bound certifies the original problem
            dual = res.mip_dual_bound
            bound = fixed_value - dual if dual is not None and math.isfinite(dual) else math.inf
        if res.x is None:
            if res.status == 2:
                raise BudgetError(f"MILP: no widths fit the MACs budget {budget:.6g} and the extra constraints")
            w = greedy.fill(problem, lo.astype(np.float64), budget, hi)
            return _milp_solution(problem, w, budget, bound, f"no MILP incumbent ({res.message}); greedy fill")
        w = lo.astype(np.float64).copy()
        for g in free:
            w[g] = ws[g][int(np.argmax(res.x[start[g]:start[g] + ws[g].size]))]
        cost = macs(problem, w)
        if fits(budget, cost) and constraints_ok(problem, w):
            break
        # HiGHS accepts rows within its feasibility tolerance; tighten by the overshoot and solve again.
        note = f"re-solved after a {cost - budget:.3g} MACs overshoot within solver tolerance"
        rhs -= max(2.0 * (cost - budget), 1e-9 * max(abs(budget), 1.0))
    else:
        w = greedy.repair(problem, w, budget, lo)
        note = "solver tolerance overshoot; greedy repair"
    if res.status == 0:
        gap = f"{res.mip_gap:.1e}" if res.mip_gap is not None else "?"
        note = (note + "; " if note else "") + f"optimal within HiGHS relative gap {gap}"
    else:
        note = (note + "; " if note else "") + f"stopped: {res.message}"
    return _milp_solution(problem, w, budget, bound, note)


def _milp_solution(problem: WidthProblem, w: np.ndarray, budget: float, bound: float, note: str) -> Solution:
    v = value(problem, w)
    return Solution(tuple(int(x) for x in w), v, macs(problem, w), max(bound, v), budget, "milp", note)
