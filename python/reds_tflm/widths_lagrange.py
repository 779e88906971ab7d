"""Lagrangian relaxation of the width knapsack, solved exactly per multiplier by tree dynamic programming.

For a multiplier lam >= 0 the relaxed problem max_w sum_g V_g(w_g) - lam * MACs(w) over the box (and the extra
constraints touching at most two free groups) separates along the group interaction graph: node terms are
V_g(w) - lam * (u_g w + p_gg w^2), edge terms -lam * p_ab w_a w_b. When that graph is a forest (chains such as DS-CNN,
CNN + FC, MLPs, residual blocks once their groups are merged) max-sum message passing solves it exactly with one
C_child x C_parent table per edge. Every lam gives the dual bound L(lam) = max(...) + lam * budget >= optimum; the
search for the best lam uses the secant of the two bracketing supporting lines (exact for the piecewise-linear
dual), with bisection as a safeguard. The primal answer is the best of the feasible bracket end after greedy fill
and the infeasible end after greedy repair, both polished by a swap pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import widths_greedy as greedy
from .errors import BudgetError
from .widths import Solution, WidthProblem, fits, macs, value

_MAX_STEPS = 80  # secant/bisection steps; the secant ends far earlier on real instances


@dataclass(frozen=True)
class _Reduced:
    """The problem on its free groups: fixed groups folded into constants, 1-group constraints into bounds."""

    lo: np.ndarray
    hi: np.ndarray
    free: tuple[int, ...]
    edges: dict[tuple[int, int], list[tuple[float, float, float]]]  # (a, b) a < b -> pair constraints ca, cb, rhs
    multi: tuple[int, ...]  # constraints over >= 3 free groups (the DP cannot hold them)


def _reduce(problem: WidthProblem, lo: np.ndarray, hi: np.ndarray) -> _Reduced:
    d = problem.dense
    lo = lo.astype(np.int64).copy()
    hi = hi.astype(np.int64).copy()
    while True:  # tightening a bound may fix a group, which may turn another constraint into a bound
        changed = False
        free = lo < hi
        for j in range(d.cmat.shape[0]):
            row = d.cmat[j]
            touched = np.nonzero((row > 0) & free)[0]
            if touched.size != 1:
                continue
            g = int(touched[0])
            rest = float(row @ np.where(free, 0, lo))  # fixed groups only; g itself is free
            cap = math.floor((d.crhs[j] - rest) / row[g] * (1 + 1e-12) + 1e-9)
            if cap < hi[g]:
                if cap < lo[g]:
                    raise BudgetError(f"{problem.constraints[j].label(j)} forces group {g} below its lower width "
                                      f"{lo[g]}")
                hi[g] = cap
                changed = True
        if not changed:
            break
    free = lo < hi
    edges: dict[tuple[int, int], list[tuple[float, float, float]]] = {}
    for a, b in zip(*np.nonzero(np.triu(d.pair, 1))):
        if free[a] and free[b]:
            edges.setdefault((int(a), int(b)), [])
    multi = []
    for j in range(d.cmat.shape[0]):
        row = d.cmat[j]
        touched = np.nonzero((row > 0) & free)[0]
        if touched.size == 2:
            a, b = int(touched[0]), int(touched[1])
            rhs = float(d.crhs[j] - row @ np.where(free, 0, lo))
            edges.setdefault((a, b), []).append((float(row[a]), float(row[b]), rhs))
        elif touched.size > 2:
            multi.append(j)
    return _Reduced(lo, hi, tuple(int(g) for g in np.nonzero(free)[0]), edges, tuple(multi))


def _cycle_edge(nodes: tuple[int, ...], edges: list[tuple[int, int]]) -> tuple[int, int] | None:
    parent = {g: g for g in nodes}

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra == rb:
            return a, b
        parent[ra] = rb
    return None


def unsupported_reason(problem: WidthProblem, lo: np.ndarray, hi: np.ndarray) -> str | None:
    """None if the DP applies; otherwise why not (a cycle, or a constraint over three or more free groups)."""
    red = _reduce(problem, lo, hi)
    if red.multi:
        j = red.multi[0]
        return f"{problem.constraints[j].label(j)} couples three or more free groups"
    cyc = _cycle_edge(red.free, sorted(red.edges))
    if cyc is not None:
        return f"the group interaction graph has a cycle closed by groups {cyc[0]}-{cyc[1]}"
    return None


class _TreeDP:
    """Precomputed tables of the max-sum DP over the interaction forest; `argmax(lam)` is one exact solve."""

    def __init__(self, problem: WidthProblem, red: _Reduced) -> None:
        d = problem.dense
        self.base = red.lo.astype(np.float64)
        fixed_w = np.where(red.lo < red.hi, 0.0, red.lo.astype(np.float64))
        adj: dict[int, list[int]] = {g: [] for g in red.free}
        for a, b in red.edges:
            adj[a].append(b)
            adj[b].append(a)
        self.order: list[int] = []
        self.parent: dict[int, int] = {}
        for r in red.free:  # BFS per component; roots are the lowest-index groups
            if r in self.parent:
                continue
            self.parent[r] = -1
            queue = [r]
            while queue:
                g = queue.pop(0)
                self.order.append(g)
                for nb in sorted(adj[g]):
                    if nb not in self.parent:
                        self.parent[nb] = g
                        queue.append(nb)
        self.ws = {g: np.arange(red.lo[g], red.hi[g] + 1, dtype=np.float64) for g in red.free}
        self.vals = {g: problem.dense.cum[g][red.lo[g]:red.hi[g] + 1] for g in red.free}
        # Node cost: own unary and square terms plus the pair terms with fixed groups, now linear.
        self.cost = {}
        for g in red.free:
            w = self.ws[g]
            self.cost[g] = (d.unary[g] + d.pair[g] @ fixed_w) * w + d.self_[g] * w * w
        self.edge_cost: dict[int, np.ndarray] = {}
        self.edge_mask: dict[int, np.ndarray | None] = {}
        for c, p in self.parent.items():
            if p < 0:
                continue
            self.edge_cost[c] = d.pair[c, p] * np.outer(self.ws[c], self.ws[p])
            key = (min(c, p), max(c, p))
            mask = None
            for ca, cb, rhs in red.edges.get(key, []):
                cc, cp = (ca, cb) if c < p else (cb, ca)
                ok = cc * self.ws[c][:, None] + cp * self.ws[p][None, :] <= rhs + 1e-12 * max(abs(rhs), 1.0)
                mask = ok if mask is None else mask & ok
            self.edge_mask[c] = mask

    def argmax(self, lam: float) -> np.ndarray:
        theta = {g: self.vals[g] - lam * self.cost[g] for g in self.order}
        back: dict[int, np.ndarray] = {}
        for c in reversed(self.order):
            p = self.parent[c]
            if p < 0:
                continue
            tab = theta[c][:, None] - lam * self.edge_cost[c]
            mask = self.edge_mask[c]
            if mask is not None:
                tab = np.where(mask, tab, -np.inf)
            idx = np.argmax(tab, axis=0)
            back[c] = idx
            theta[p] = theta[p] + tab[idx, np.arange(tab.shape[1])]
        choice: dict[int, int] = {}
        w = self.base.copy()
        for g in self.order:
            p = self.parent[g]
            choice[g] = int(np.argmax(theta[g])) if p < 0 else int(back[g][choice[p]])
            w[g] = self.ws[g][choice[g]]
        return w


@dataclass
class _Point:
    lam: float
    w: np.ndarray
    v: float
    m: float

    def line(self, lam: float, budget: float) -> float:
        """This point's supporting line of the dual function, evaluated at lam."""
        return self.v - lam * (self.m - budget)


def solve_lagrangian(problem: WidthProblem, budget: float, lo: np.ndarray, hi: np.ndarray) -> Solution:
    red = _reduce(problem, lo, hi)
    if not red.free:
        w = red.lo.astype(np.float64)
        v = value(problem, w)
        return Solution(tuple(int(x) for x in w), v, macs(problem, w), v, budget, "lagrangian", "no free group")
    dp = _TreeDP(problem, red)
    evals = 0

    def at(lam: float) -> _Point:
        nonlocal evals
        evals += 1
        w = dp.argmax(lam)
        return _Point(lam, w, value(problem, w), macs(problem, w))

    p0 = at(0.0)
    upper = p0.v  # L(0): the best value with no MACs limit at all
    if fits(budget, p0.m):
        w = greedy.fill(problem, p0.w, budget, red.hi)
        return _solution(problem, w, budget, max(upper, value(problem, w)), evals)
    # Bracket: lo_pt over budget, hi_pt within it. The exchange rate of the whole box is a good first multiplier.
    w_min, w_max = red.lo.astype(np.float64), red.hi.astype(np.float64)
    span_m = max(macs(problem, w_max) - macs(problem, w_min), 1e-300)
    lam = max((value(problem, w_max) - value(problem, w_min)) / span_m, 1e-300)
    lo_pt, hi_pt = p0, at(lam)
    upper = min(upper, hi_pt.line(hi_pt.lam, budget))
    while not fits(budget, hi_pt.m):
        lo_pt, hi_pt = hi_pt, at(hi_pt.lam * 4.0)
        upper = min(upper, hi_pt.line(hi_pt.lam, budget))
        if hi_pt.lam > 1e300:
            raise ArithmeticError("Lagrangian search: no multiplier brings MACs under the budget")
    for step in range(_MAX_STEPS):
        # Secant of the two supporting lines: where they cross is the dual minimum if no other line is above.
        cross = (lo_pt.v - hi_pt.v) / (lo_pt.m - hi_pt.m)
        inside = lo_pt.lam < cross < hi_pt.lam
        lam = cross if inside and step < _MAX_STEPS // 2 else 0.5 * (lo_pt.lam + hi_pt.lam)
        if not lo_pt.lam < lam < hi_pt.lam:
            break  # the bracket is down to adjacent floats
        pt = at(lam)
        dual = pt.line(lam, budget)
        upper = min(upper, dual)
        roof = max(lo_pt.line(lam, budget), hi_pt.line(lam, budget))
        if fits(budget, pt.m):
            hi_pt = pt
        else:
            lo_pt = pt
        if lam == cross and dual <= roof + 1e-12 * max(abs(roof), 1.0):
            break  # no line above the crossing: it is the exact dual minimum
    candidates = [greedy.fill(problem, hi_pt.w, budget, red.hi),
                  greedy.fill(problem, greedy.repair(problem, lo_pt.w, budget, red.lo), budget, red.hi)]
    best = max(candidates, key=lambda w: value(problem, w))
    best = greedy.local_search(problem, best, budget, red.lo, red.hi)
    return _solution(problem, best, budget, upper, evals)


def _solution(problem: WidthProblem, w: np.ndarray, budget: float, upper: float, evals: int) -> Solution:
    v = value(problem, w)
    return Solution(tuple(int(x) for x in w), v, macs(problem, w), max(upper, v), budget, "lagrangian",
                    evaluations=evals)
