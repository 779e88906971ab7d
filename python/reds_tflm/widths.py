"""Nested width selection under MACs (and memory) budgets: the knapsack of REDS step 3.

Pure math, independent of the width graph (which builds a `WidthProblem`). Groups g = 0..G-1 of coupled channels
have widths w_g in [lo_g, hi_g]; keeping the w first units of group g is worth V_g(w) = sum(scores_g[:w]) (scores are
sorted non-increasing, so V_g is concave); the cost is a polynomial of degree <= 2,

    MACs(w) = const + sum_g u_g w_g + sum_{a <= b} p_ab w_a w_b,

and optional linear constraints const_j + sum_g c_jg w_g <= limit_j (peak activation memory) must hold.
`solve` maximises sum_g V_g(w_g) subject to MACs(w) <= budget; `select_nested` solves a decreasing sequence of
budgets so that the widths are nested (each smaller budget keeps a prefix of every group). With `multiple` = m > 1,
every free group whose size is a multiple of m takes widths in steps of m (`coarsen`: the same knapsack over blocks
of m units), for kernels that run whole words of channels (the Cortex-M4 DSP loops widen four at a time).

Methods: "lagrangian" (default; exact dynamic programming per Lagrange multiplier over the group interaction tree,
then greedy repair and local search, with a certified dual upper bound), "milp" (exact, scipy/HiGHS), and
"exhaustive" (enumeration, for tiny instances and tests). Costs and constraint coefficients must be non-negative:
widening a layer never makes it cheaper, which is what makes the minimum widths the cheapest point.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Literal, Mapping, Sequence

import numpy as np

from .errors import BudgetError, WidthsError

Method = Literal["auto", "lagrangian", "milp", "exhaustive"]
Mode = Literal["top-down", "bottom-up"]
METHODS: tuple[str, ...] = ("auto", "lagrangian", "milp", "exhaustive")
MODES: tuple[str, ...] = ("top-down", "bottom-up")

# MACs are sums of a few dozen float products; this relative slack only absorbs their rounding, so a budget equal to
# the MACs of some widths (e.g. the full MACs) admits exactly those widths.
_REL_TOL = 1e-12

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinearConstraint:
    """const + sum_g coeffs[g] * w_g <= limit, e.g. a peak activation memory limit touching one or two groups."""

    coeffs: Mapping[int, float]
    limit: float
    const: float = 0.0
    name: str = ""

    def label(self, index: int) -> str:
        return f"constraint {index}" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True)
class _Dense:
    """Array form of a problem, built once: cumulative values, MACs coefficients, constraint matrix."""

    cum: tuple[np.ndarray, ...]  # cum[g][w] = V_g(w), length C_g + 1
    unary: np.ndarray            # (G,)
    self_: np.ndarray            # (G,) coefficient of w_g ** 2
    pair: np.ndarray             # (G, G) symmetric, zero diagonal: MACs has 0.5 * w @ pair @ w
    cmat: np.ndarray             # (J, G)
    crhs: np.ndarray             # (J,) limit_j - const_j


@dataclass(frozen=True, eq=False)
class WidthProblem:
    """The knapsack instance. `scores[g]` has `sizes[g]` non-negative entries sorted non-increasing."""

    sizes: tuple[int, ...]
    scores: tuple[np.ndarray, ...]
    min_widths: tuple[int, ...]
    macs_const: float
    macs_unary: Mapping[int, float]
    macs_pair: Mapping[tuple[int, int], float]
    constraints: tuple[LinearConstraint, ...] = ()

    def __post_init__(self) -> None:
        sizes = tuple(int(c) for c in self.sizes)
        n = len(sizes)
        if n == 0:
            raise WidthsError("width problem has no groups")
        if len(self.scores) != n or len(self.min_widths) != n:
            raise WidthsError(f"width problem: {n} sizes, {len(self.scores)} score vectors, "
                              f"{len(self.min_widths)} minimum widths; all three must match")
        scores = []
        for g, (c, s) in enumerate(zip(sizes, self.scores)):
            arr = np.array(s, dtype=np.float64).reshape(-1)
            if c < 1 or arr.size != c:
                raise WidthsError(f"group {g}: size {c} but {arr.size} scores")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise WidthsError(f"group {g}: scores must be finite and non-negative")
            if np.any(np.diff(arr) > 0):
                i = int(np.argmax(np.diff(arr) > 0))
                raise WidthsError(f"group {g}: scores not sorted non-increasing (unit {i + 1} > unit {i}); "
                                  "permute the group by importance first")
            arr.setflags(write=False)
            scores.append(arr)
        mins = tuple(int(m) for m in self.min_widths)
        for g, (m, c) in enumerate(zip(mins, sizes)):
            if not 1 <= m <= c:
                raise WidthsError(f"group {g}: minimum width {m} outside 1..{c}")
        if not math.isfinite(self.macs_const) or self.macs_const < 0:
            raise WidthsError(f"MACs constant {self.macs_const} must be finite and non-negative")
        unary: dict[int, float] = {}
        for g, v in self.macs_unary.items():
            unary[_group(g, n, "MACs unary term")] = float(_coef(v, f"MACs unary term of group {g}"))
        pair: dict[tuple[int, int], float] = {}
        for key, v in self.macs_pair.items():
            a, b = (_group(x, n, f"MACs pair term {key}") for x in key)
            k = (min(a, b), max(a, b))
            pair[k] = pair.get(k, 0.0) + _coef(v, f"MACs pair term {key}")
        for j, con in enumerate(self.constraints):
            if not math.isfinite(con.limit) or not math.isfinite(con.const):
                raise WidthsError(f"{con.label(j)}: limit and constant must be finite")
            for g, v in con.coeffs.items():
                _group(g, n, con.label(j))
                _coef(v, f"{con.label(j)}, coefficient of group {g}")
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "scores", tuple(scores))
        object.__setattr__(self, "min_widths", mins)
        object.__setattr__(self, "macs_const", float(self.macs_const))
        object.__setattr__(self, "macs_unary", MappingProxyType(unary))
        object.__setattr__(self, "macs_pair", MappingProxyType(pair))
        object.__setattr__(self, "constraints", tuple(self.constraints))

    @property
    def num_groups(self) -> int:
        return len(self.sizes)

    @cached_property
    def dense(self) -> _Dense:
        n = self.num_groups
        cum = []
        for s in self.scores:
            c = np.concatenate(([0.0], np.cumsum(s)))
            c.setflags(write=False)
            cum.append(c)
        unary = np.zeros(n)
        for g, v in self.macs_unary.items():
            unary[g] += v
        self_ = np.zeros(n)
        pair = np.zeros((n, n))
        for (a, b), v in self.macs_pair.items():
            if a == b:
                self_[a] += v
            else:
                pair[a, b] += v
                pair[b, a] += v
        cmat = np.zeros((len(self.constraints), n))
        crhs = np.zeros(len(self.constraints))
        for j, con in enumerate(self.constraints):
            for g, v in con.coeffs.items():
                cmat[j, int(g)] += float(v)
            crhs[j] = con.limit - con.const
        for arr in (unary, self_, pair, cmat, crhs):
            arr.setflags(write=False)
        return _Dense(tuple(cum), unary, self_, pair, cmat, crhs)

    @property
    def full_widths(self) -> tuple[int, ...]:
        return self.sizes


def _group(g: object, n: int, where: str) -> int:
    if not isinstance(g, (int, np.integer)) or not 0 <= int(g) < n:
        raise WidthsError(f"{where}: group index {g!r} outside 0..{n - 1}")
    return int(g)


def _coef(v: object, where: str) -> float:
    f = float(v)  # type: ignore[arg-type]
    if not math.isfinite(f) or f < 0:
        raise WidthsError(f"{where} is {v}; MACs and constraint coefficients must be finite and non-negative")
    return f


@dataclass(frozen=True)
class Solution:
    """Widths chosen for one budget. `upper_bound` >= the optimum of the problem solved (same budget, lo, hi)."""

    widths: tuple[int, ...]
    value: float
    macs: float
    upper_bound: float
    budget: float
    method: str
    note: str = ""
    evaluations: int = 0  # Lagrangian DP solves (0 for the exact methods)

    @property
    def gap(self) -> float:
        """Certified relative optimality gap (upper_bound - value) / upper_bound (0 when proven optimal)."""
        if self.upper_bound <= 0 or not math.isfinite(self.upper_bound):
            return 0.0 if self.upper_bound == self.value else math.inf
        return max(0.0, (self.upper_bound - self.value) / self.upper_bound)


def macs(problem: WidthProblem, widths: Sequence[int] | np.ndarray) -> float:
    """MACs of the network at these widths."""
    d = problem.dense
    w = _as_widths(problem, widths)
    return float(problem.macs_const + d.unary @ w + d.self_ @ (w * w) + 0.5 * (w @ d.pair @ w))


def value(problem: WidthProblem, widths: Sequence[int] | np.ndarray) -> float:
    """Total importance kept at these widths."""
    cum = problem.dense.cum
    return float(sum(cum[g][int(x)] for g, x in enumerate(_as_widths(problem, widths))))


def full_macs(problem: WidthProblem) -> float:
    return macs(problem, problem.sizes)


def budgets_from_fractions(problem: WidthProblem, fractions: Sequence[float]) -> list[float]:
    """MACs budgets from fractions of the full network's MACs (1.0 = full network)."""
    full = full_macs(problem)
    return [float(f) * full for f in fractions]


def fits(budget: float, cost: float) -> bool:
    """cost <= budget up to float rounding of the MACs sums."""
    return cost <= budget + _REL_TOL * max(abs(budget), 1.0)


def constraint_slack(problem: WidthProblem, widths: np.ndarray) -> np.ndarray:
    """limit_j - (const_j + c_j . w) per constraint; negative = violated."""
    d = problem.dense
    return d.crhs - d.cmat @ widths


def violated_constraints(problem: WidthProblem, widths: np.ndarray) -> list[int]:
    """Indices of the extra constraints these widths break (beyond float rounding)."""
    slack = constraint_slack(problem, widths)
    tol = _REL_TOL * np.maximum(np.abs(problem.dense.crhs), 1.0)
    return [int(j) for j in np.nonzero(slack < -tol)[0]]


def constraints_ok(problem: WidthProblem, widths: np.ndarray) -> bool:
    return not violated_constraints(problem, widths)


def _as_widths(problem: WidthProblem, widths: Sequence[int] | np.ndarray) -> np.ndarray:
    w = np.asarray(widths, dtype=np.float64).reshape(-1)
    if w.size != problem.num_groups:
        raise WidthsError(f"{w.size} widths for {problem.num_groups} groups")
    return w


def _box(problem: WidthProblem, lo: Sequence[int] | None, hi: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray]:
    n = problem.num_groups
    lo_a = np.array(problem.min_widths if lo is None else lo, dtype=np.int64).reshape(-1)
    hi_a = np.array(problem.sizes if hi is None else hi, dtype=np.int64).reshape(-1)
    if lo_a.size != n or hi_a.size != n:
        raise WidthsError(f"lo/hi bounds have {lo_a.size}/{hi_a.size} entries for {n} groups")
    for g in range(n):
        if not problem.min_widths[g] <= lo_a[g] <= hi_a[g] <= problem.sizes[g]:
            raise WidthsError(f"group {g}: bounds lo={lo_a[g]}, hi={hi_a[g]} must satisfy "
                              f"{problem.min_widths[g]} (minimum width) <= lo <= hi <= {problem.sizes[g]} (size)")
    return lo_a, hi_a


def _check_budget(problem: WidthProblem, budget: float, lo: np.ndarray, where: str) -> None:
    """Costs are monotone in the widths, so lo is the cheapest point: if lo does not fit, nothing does."""
    if not math.isfinite(budget):
        raise BudgetError(f"{where}: MACs budget {budget} is not finite")
    low = macs(problem, lo)
    if not fits(budget, low):
        raise BudgetError(f"{where}: MACs budget {budget:.6g} is below the minimum achievable MACs {low:.6g} "
                          f"(every group at its lower width; full network {full_macs(problem):.6g} MACs)")
    slack = constraint_slack(problem, lo.astype(np.float64))
    for j in violated_constraints(problem, lo.astype(np.float64)):
        con = problem.constraints[j]
        raise BudgetError(f"{where}: {con.label(j)} cannot hold even at the lower widths "
                          f"(needs {con.limit - slack[j]:.6g} > limit {con.limit:.6g})")


def block_sizes(problem: WidthProblem, multiple: int) -> np.ndarray:
    """Per group the width step under `multiple`: m for a free group (minimum below its size) whose size is a
    multiple of m, else 1 (such a group keeps any width; a fixed one stays full)."""
    if isinstance(multiple, bool) or not isinstance(multiple, (int, np.integer)) or multiple < 1:
        raise WidthsError(f"width multiple {multiple!r} must be an integer >= 1")
    m = int(multiple)
    return np.array([m if m > 1 and c % m == 0 and mn < c else 1
                     for c, mn in zip(problem.sizes, problem.min_widths)], dtype=np.int64)


def coarsen(problem: WidthProblem, k: np.ndarray) -> WidthProblem:
    """The same knapsack over blocks of k[g] units of group g: block b is worth the sum of its units' scores (still
    non-increasing), a width of b blocks is k[g] * b units, so every cost coefficient scales by the blocks' sizes."""
    kk = [int(v) for v in k]
    scores = tuple(np.asarray(s).reshape(-1, kg).sum(axis=1) for s, kg in zip(problem.scores, kk))
    mins = tuple(-(-mn // kg) for mn, kg in zip(problem.min_widths, kk))
    unary = {g: v * kk[g] for g, v in problem.macs_unary.items()}
    pair = {(a, b): v * kk[a] * kk[b] for (a, b), v in problem.macs_pair.items()}
    cons = tuple(dataclasses.replace(c, coeffs={g: v * kk[int(g)] for g, v in c.coeffs.items()})
                 for c in problem.constraints)
    return WidthProblem(tuple(c // kg for c, kg in zip(problem.sizes, kk)), scores, mins, problem.macs_const, unary,
                        pair, cons)


def _coarse_box(problem: WidthProblem, k: np.ndarray, lo: Sequence[int] | None, hi: Sequence[int] | None
                ) -> tuple[np.ndarray, np.ndarray]:
    """lo/hi in blocks: lo rounded up, hi down; a group with no multiple between them is an error."""
    lo_a, hi_a = _box(problem, lo, hi)
    lo_b, hi_b = -(-lo_a // k), hi_a // k
    bad = np.flatnonzero(lo_b > hi_b)
    if bad.size:
        g = int(bad[0])
        raise WidthsError(f"group {g}: no multiple of {int(k[g])} between lo={lo_a[g]} and hi={hi_a[g]}")
    return lo_b, hi_b


def _expand(sol: Solution, k: np.ndarray) -> Solution:
    return dataclasses.replace(sol, widths=tuple(int(w) * int(kg) for w, kg in zip(sol.widths, k)))


def _stepped(exc: BudgetError, multiple: int) -> BudgetError:
    return BudgetError(f"{exc} [widths in steps of {multiple}: every stepped group keeps at least {multiple}]")


def solve(problem: WidthProblem, max_macs: float, lo: Sequence[int] | None = None, hi: Sequence[int] | None = None,
          method: Method = "auto", time_limit: float | None = None, multiple: int = 1) -> Solution:
    """Best widths with MACs <= max_macs, lo <= w <= hi and every extra constraint (and, with `multiple` > 1,
    widths in steps of it where a group's size allows: `block_sizes`).

    "auto"/"lagrangian" fall back to the exact MILP when the group interaction graph is not a forest (the note of the
    returned Solution says so); `time_limit` (seconds) bounds the MILP.
    """
    k = block_sizes(problem, multiple)
    if np.any(k > 1):
        lo_b, hi_b = _coarse_box(problem, k, lo, hi)
        try:
            return _expand(solve(coarsen(problem, k), max_macs, lo_b, hi_b, method=method, time_limit=time_limit), k)
        except BudgetError as exc:
            raise _stepped(exc, multiple) from None
    if method not in METHODS:
        raise WidthsError(f"unknown width selection method {method!r}; expected one of {', '.join(METHODS)}")
    lo_a, hi_a = _box(problem, lo, hi)
    _check_budget(problem, max_macs, lo_a, "solve")
    # Imported here: the solver modules import this one for the problem type and helpers, and scipy.optimize
    # (seconds to import on a busy machine) is only loaded when an exact method actually runs.
    if method in ("exhaustive", "milp"):
        from . import widths_exact
        if method == "exhaustive":
            return widths_exact.solve_exhaustive(problem, max_macs, lo_a, hi_a)
        return widths_exact.solve_milp(problem, max_macs, lo_a, hi_a, time_limit=time_limit)
    from . import widths_lagrange
    reason = widths_lagrange.unsupported_reason(problem, lo_a, hi_a)
    if reason is None:
        return widths_lagrange.solve_lagrangian(problem, max_macs, lo_a, hi_a)
    from . import widths_exact
    note = f"Lagrangian DP not applicable ({reason}); solved with the exact MILP"
    log.warning(note)
    sol = widths_exact.solve_milp(problem, max_macs, lo_a, hi_a, time_limit=time_limit)
    return dataclasses.replace(sol, note=note if not sol.note else f"{note}; {sol.note}")


def select_nested(problem: WidthProblem, budgets: Sequence[float], mode: Mode = "top-down",
                  method: Method = "auto", time_limit: float | None = None, multiple: int = 1) -> list[Solution]:
    """One Solution per MACs budget (given in decreasing order), nested: widths(b[i+1]) <= widths(b[i]).

    top-down solves the largest budget first and caps each smaller one by the previous widths; bottom-up solves
    the smallest first and floors each larger one by the previous widths. `multiple`: see `solve`.
    """
    k = block_sizes(problem, multiple)
    if np.any(k > 1):
        try:
            return [_expand(s, k) for s in select_nested(coarsen(problem, k), budgets, mode, method, time_limit)]
        except BudgetError as exc:
            raise _stepped(exc, multiple) from None
    if mode not in MODES:
        raise WidthsError(f"unknown nesting mode {mode!r}; expected one of {', '.join(MODES)}")
    bs = [float(b) for b in budgets]
    if not bs:
        raise BudgetError("select_nested: no budgets given")
    lo0, hi0 = _box(problem, None, None)
    for i, b in enumerate(bs):
        _check_budget(problem, b, lo0, f"budget {i}")
        if i and b > bs[i - 1]:
            raise BudgetError(f"budget {i} ({b:.6g} MACs) exceeds budget {i - 1} ({bs[i - 1]:.6g} MACs); "
                              "budgets must be given in decreasing order")
    out: list[Solution | None] = [None] * len(bs)
    order = range(len(bs)) if mode == "top-down" else range(len(bs) - 1, -1, -1)
    lo, hi = lo0, hi0
    for i in order:
        sol = solve(problem, bs[i], lo, hi, method=method, time_limit=time_limit)
        out[i] = sol
        if mode == "top-down":
            hi = np.array(sol.widths, dtype=np.int64)
        else:
            lo = np.array(sol.widths, dtype=np.int64)
    return [s for s in out if s is not None]
