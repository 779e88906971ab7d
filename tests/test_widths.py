"""Nested width selection: exact solvers agree, the Lagrangian DP is exact per multiplier, budgets and bounds hold."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reds_tflm.errors import BudgetError, WidthsError
from reds_tflm.widths import (LinearConstraint, WidthProblem, budgets_from_fractions, constraints_ok, fits,
                              full_macs, macs, select_nested, solve, value)
from reds_tflm.widths_lagrange import _reduce, _TreeDP

# Worst and mean value of the Lagrangian answer relative to the optimum on these tiny random instances. With at most
# six units per group a single unit is a large share of the budget, so this is far looser than on real layers.
LAGRANGE_WORST = 0.9
LAGRANGE_MEAN = 0.995


def random_problem(rng: np.random.Generator, kind: str, constraints: bool = False) -> WidthProblem:
    """2-4 groups of at most 6 units; chain or star (tree) interactions, sometimes an a == b square term."""
    n = int(rng.integers(2, 5))
    sizes = tuple(int(x) for x in rng.integers(1, 7, size=n))
    mins = tuple(int(rng.integers(1, c + 1)) if rng.random() < 0.2 else 1 for c in sizes)
    scores = tuple(np.sort(rng.gamma(1.5, 1.0, size=c))[::-1] for c in sizes)
    unary = {g: float(rng.uniform(0, 30)) for g in range(n) if rng.random() < 0.8}
    if kind == "chain":
        pair = {(g, g + 1): float(rng.uniform(0.5, 10)) for g in range(n - 1)}
    else:
        pair = {(0, g): float(rng.uniform(0.5, 10)) for g in range(1, n)}
    if rng.random() < 0.5:
        g = int(rng.integers(n))
        pair[(g, g)] = pair.get((g, g), 0.0) + float(rng.uniform(0.5, 5))
    cons: tuple[LinearConstraint, ...] = ()
    if constraints:
        # On an interaction edge (a, b), so the graph stays a tree and the DP holds the constraint exactly.
        b = int(rng.integers(1, n))
        a = b - 1 if kind == "chain" else 0
        need = max(0.7 * (3.0 * sizes[a] + 2.0 * sizes[b]), 3.0 * mins[a] + 2.0 * mins[b])
        cons = (LinearConstraint({a: 3.0, b: 2.0}, limit=need + 5.0, const=5.0, name="act mem"),
                LinearConstraint({n - 1: 1.0}, limit=max(mins[n - 1], sizes[n - 1] - 1)))
    return WidthProblem(sizes, scores, mins, float(rng.uniform(0, 20)), unary, pair, cons)


def budget_points(p: WidthProblem) -> list[float]:
    low, full = macs(p, p.min_widths), full_macs(p)
    return [low + f * (full - low) for f in (0.0, 0.3, 0.6, 0.9)]


def instances(seed: int, count: int, constraints: bool = False):
    rng = np.random.default_rng(seed)
    for i in range(count):
        yield random_problem(rng, "chain" if i % 2 else "tree", constraints)


def feasible(p: WidthProblem, w, budget: float, lo=None, hi=None) -> bool:
    lo = p.min_widths if lo is None else lo
    hi = p.sizes if hi is None else hi
    arr = np.array(w, dtype=float)
    return (all(a <= x <= b for a, x, b in zip(lo, w, hi)) and fits(budget, macs(p, w))
            and constraints_ok(p, arr))


def test_macs_and_value_follow_the_definition():
    p = WidthProblem((3, 2), (np.array([3.0, 2.0, 1.0]), np.array([5.0, 0.5])), (1, 1), 7.0,
                     {0: 2.0, 1: 3.0}, {(1, 0): 4.0, (0, 0): 0.5})
    # 7 + 2*2 + 3*1 + 4*2*1 + 0.5*2*2 (pair key (1, 0) normalised to (0, 1))
    assert macs(p, (2, 1)) == 7 + 4 + 3 + 8 + 2
    assert value(p, (2, 1)) == 3 + 2 + 5
    assert full_macs(p) == 7 + 6 + 6 + 24 + 4.5


@pytest.mark.parametrize("with_constraints", [False, True])
def test_milp_equals_exhaustive_optimum(with_constraints):
    for p in instances(11 + with_constraints, 30, with_constraints):
        for b in budget_points(p):
            ex = solve(p, b, method="exhaustive")
            mi = solve(p, b, method="milp")
            assert mi.value == pytest.approx(ex.value, rel=1e-9, abs=1e-12)
            assert feasible(p, mi.widths, b) and feasible(p, ex.widths, b)
            assert mi.upper_bound >= ex.value * (1 - 1e-9)


def test_milp_bound_with_fixed_groups_and_early_stop():
    """An early-stopped MILP (loose mip_rel_gap) must still report a bound on the whole value, fixed groups included."""
    from reds_tflm.widths_exact import solve_milp
    rng = np.random.default_rng(2)
    sizes = (1, 12, 12, 12, 3)
    scores = (np.array([50.0]),) + tuple(np.sort(rng.gamma(2.0, 1.0, 12))[::-1] for _ in range(3)) + (np.ones(3) * 9,)
    p = WidthProblem(sizes, scores, (1, 1, 1, 1, 3), 0.0, {1: 30.0, 2: 9.0, 3: 10.0},
                     {(0, 1): 40.0, (1, 2): 12.0, (2, 3): 12.0, (3, 4): 1.0})
    lo, hi = np.array(p.min_widths), np.array(p.sizes)
    for frac in (0.2, 0.4, 0.6):  # 0.2 and 0.6 stop with a suboptimal incumbent
        b = frac * full_macs(p)
        opt = solve(p, b, method="exhaustive").value
        loose = solve_milp(p, b, lo, hi, mip_rel_gap=0.2)
        assert loose.value <= opt * (1 + 1e-12)
        assert loose.upper_bound >= opt * (1 - 1e-9)
        assert loose.upper_bound <= opt / (1 - 0.2) + 1e-9  # and is a real bound, not +inf
        assert solve_milp(p, b, lo, hi).value == pytest.approx(opt, rel=1e-9)


@pytest.mark.parametrize("with_constraints", [False, True])
def test_lagrangian_is_feasible_near_optimal_and_certified(with_constraints):
    ratios = []
    for p in instances(23 + with_constraints, 40, with_constraints):
        for b in budget_points(p):
            ex = solve(p, b, method="exhaustive")
            la = solve(p, b, method="lagrangian")
            assert la.method == "lagrangian"
            assert feasible(p, la.widths, b)
            assert la.value <= ex.value * (1 + 1e-12)
            assert la.upper_bound >= ex.value * (1 - 1e-9)  # the dual bound really bounds the optimum
            assert la.value == pytest.approx(value(p, la.widths)) and la.macs == pytest.approx(macs(p, la.widths))
            ratios.append(la.value / ex.value)
    assert min(ratios) >= LAGRANGE_WORST
    assert np.mean(ratios) >= LAGRANGE_MEAN


def test_tree_dp_is_the_exact_lagrangian_maximiser():
    """Per multiplier, the message passing must find the true max of V(w) - lam * MACs(w) over the box."""
    for p in instances(5, 25):
        lo, hi = np.array(p.min_widths), np.array(p.sizes)
        dp = _TreeDP(p, _reduce(p, lo, hi))
        grid = list(itertools.product(*[range(a, b + 1) for a, b in zip(lo, hi)]))
        for lam in (0.0, 0.01, 0.1, 1.0, 10.0):
            brute = max(value(p, w) - lam * macs(p, w) for w in grid)
            w = dp.argmax(lam)
            assert value(p, w) - lam * macs(p, w) == pytest.approx(brute, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("with_constraints", [False, True])
@pytest.mark.parametrize("mode", ["top-down", "bottom-up"])
@pytest.mark.parametrize("method", ["lagrangian", "milp"])
def test_select_nested_is_nested_and_within_budget(mode, method, with_constraints):
    for p in instances(31, 8, constraints=with_constraints):
        budgets = budgets_from_fractions(p, [1.0, 0.75, 0.5, 0.3])
        low = macs(p, p.min_widths)
        budgets = [max(b, low) for b in budgets]
        sols = select_nested(p, budgets, mode=mode, method=method)
        assert [s.budget for s in sols] == budgets
        if with_constraints and mode == "top-down":  # the best widths the memory limits allow
            assert sols[0].value == pytest.approx(solve(p, budgets[0], method="exhaustive").value)
        elif not with_constraints:  # (bottom-up: the smaller budgets' memory choices floor the largest)
            assert sols[0].widths == p.sizes  # the full budget keeps the full network
        for s, b in zip(sols, budgets):
            assert feasible(p, s.widths, b)
        for big, small in zip(sols, sols[1:]):
            assert all(x <= y for x, y in zip(small.widths, big.widths))


def test_nested_modes_solve_restricted_problems_exactly_with_milp():
    """Top-down caps by the previous widths, bottom-up floors by them: check against enumeration of that box."""
    for p in instances(41, 10):
        budgets = [max(b, macs(p, p.min_widths)) for b in budgets_from_fractions(p, [1.0, 0.6, 0.35])]
        top = select_nested(p, budgets, mode="top-down", method="milp")
        for prev, cur, b in zip(top, top[1:], budgets[1:]):
            assert cur.value == pytest.approx(solve(p, b, hi=prev.widths, method="exhaustive").value, rel=1e-9)
        bottom = select_nested(p, budgets, mode="bottom-up", method="milp")
        for cur, prev, b in zip(bottom, bottom[1:], budgets):
            assert cur.value == pytest.approx(solve(p, b, lo=prev.widths, method="exhaustive").value, rel=1e-9)


@pytest.mark.parametrize("method", ["lagrangian", "milp", "exhaustive"])
def test_lo_hi_bounds_are_respected(method):
    for p in instances(53, 15):
        rng = np.random.default_rng(len(p.sizes))
        lo = tuple(int(rng.integers(m, c + 1)) for m, c in zip(p.min_widths, p.sizes))
        hi = tuple(int(rng.integers(a, c + 1)) for a, c in zip(lo, p.sizes))
        low, top = macs(p, lo), macs(p, hi)
        b = low + 0.5 * (top - low)
        s = solve(p, b, lo=lo, hi=hi, method=method)
        assert feasible(p, s.widths, b, lo, hi)
        assert s.value == pytest.approx(solve(p, b, lo=lo, hi=hi, method="exhaustive").value, rel=0.2)
        full = solve(p, top, lo=lo, hi=hi, method=method)
        assert full.widths == hi


def test_budget_below_minimum_raises_with_the_numbers():
    p = WidthProblem((4, 4), (np.ones(4), np.ones(4)), (2, 1), 0.0, {0: 10.0, 1: 10.0}, {(0, 1): 1.0})
    low = macs(p, (2, 1))  # 20 + 10 + 2 = 32
    assert low == 32.0
    with pytest.raises(BudgetError, match=r"minimum achievable MACs 32"):
        solve(p, 31.0)
    with pytest.raises(BudgetError, match=r"budget 2: .*minimum achievable MACs 32"):
        select_nested(p, [full_macs(p), 40.0, 31.5])
    with pytest.raises(BudgetError, match=r"decreasing"):
        select_nested(p, [40.0, full_macs(p)])
    assert solve(p, 32.0).widths == (2, 1)  # exactly the minimum is feasible


def test_extra_constraints_shape_the_answer():
    """A memory limit on two groups that the MACs budget alone would not impose."""
    scores = (np.linspace(6, 1, 6), np.linspace(6, 1, 6), np.linspace(6, 1, 6))
    p0 = WidthProblem((6, 6, 6), scores, (1, 1, 1), 0.0, {0: 1.0, 2: 1.0}, {(0, 1): 1.0, (1, 2): 1.0})
    mem = LinearConstraint({0: 1.0, 1: 1.0}, limit=8.0, name="activations of layer 1")
    p = WidthProblem(p0.sizes, scores, p0.min_widths, 0.0, p0.macs_unary, p0.macs_pair, (mem,))
    b = full_macs(p)
    for method in ("lagrangian", "milp", "exhaustive"):
        s = solve(p, b, method=method)
        assert s.widths[0] + s.widths[1] <= 8
        assert s.value == pytest.approx(solve(p, b, method="exhaustive").value)
    assert solve(p0, b).widths == (6, 6, 6)
    bad = LinearConstraint({0: 1.0, 1: 1.0}, limit=1.0, name="impossible")
    pbad = WidthProblem(p0.sizes, scores, p0.min_widths, 0.0, p0.macs_unary, p0.macs_pair, (bad,))
    with pytest.raises(BudgetError, match="impossible"):
        solve(pbad, b)


def test_cycle_and_wide_constraints_fall_back_to_milp_and_say_so():
    rng = np.random.default_rng(3)
    scores = tuple(np.sort(rng.random(4))[::-1] for _ in range(3))
    ring = WidthProblem((4, 4, 4), scores, (1, 1, 1), 0.0, {}, {(0, 1): 1.0, (1, 2): 1.0, (0, 2): 1.0})
    b = 0.5 * full_macs(ring)
    s = solve(ring, b)
    assert s.method == "milp" and "cycle" in s.note
    assert s.value == pytest.approx(solve(ring, b, method="exhaustive").value)
    wide = WidthProblem((4, 4, 4), scores, (1, 1, 1), 0.0, {0: 1.0}, {(0, 1): 1.0, (1, 2): 1.0},
                        (LinearConstraint({0: 1.0, 1: 1.0, 2: 1.0}, limit=7.0, name="sum"),))
    s = solve(wide, full_macs(wide))
    assert s.method == "milp" and "three or more" in s.note
    assert sum(s.widths) <= 7
    assert s.value == pytest.approx(solve(wide, full_macs(wide), method="exhaustive").value)


def test_fixed_groups_and_zero_scores():
    """Fixed groups (lo = hi = C) fold into constants; zero-score units still fill a full budget."""
    scores = (np.ones(1), np.array([2.0, 1.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]), np.ones(3))
    p = WidthProblem((1, 4, 3, 3), scores, (1, 1, 1, 3), 0.0, {0: 5.0},
                     {(0, 1): 10.0, (1, 2): 1.0, (2, 3): 2.0})
    assert solve(p, full_macs(p)).widths == (1, 4, 3, 3)
    s = solve(p, 0.5 * full_macs(p))
    assert s.widths[0] == 1 and s.widths[3] == 3
    assert s.value == pytest.approx(solve(p, 0.5 * full_macs(p), method="exhaustive").value)


def test_invalid_problems_are_rejected():
    with pytest.raises(WidthsError, match="not sorted"):
        WidthProblem((3,), (np.array([1.0, 2.0, 0.5]),), (1,), 0.0, {}, {})
    with pytest.raises(WidthsError, match="non-negative"):
        WidthProblem((2, 2), (np.ones(2), np.ones(2)), (1, 1), 0.0, {0: -1.0}, {})
    with pytest.raises(WidthsError, match="outside 0..1"):
        WidthProblem((2, 2), (np.ones(2), np.ones(2)), (1, 1), 0.0, {}, {(0, 2): 1.0})
    p = WidthProblem((2, 2), (np.ones(2), np.ones(2)), (1, 1), 0.0, {0: 1.0}, {(0, 1): 1.0})
    with pytest.raises(WidthsError, match="lo=2, hi=1"):
        solve(p, 10.0, lo=(2, 1), hi=(1, 2))
    with pytest.raises(WidthsError, match="unknown width selection method"):
        solve(p, 10.0, method="simplex")  # type: ignore[arg-type]


def test_coarsened_problem_is_the_knapsack_over_blocks():
    """Costs and values of block widths b equal the original problem's at k * b, constraints included."""
    from reds_tflm.widths import block_sizes, coarsen
    rng = np.random.default_rng(3)
    sizes = (8, 12, 6, 5)
    scores = tuple(np.sort(rng.gamma(1.5, 1.0, size=c))[::-1] for c in sizes)
    p = WidthProblem(sizes, scores, (2, 4, 6, 1), 3.0, {0: 5.0, 3: 1.0}, {(0, 1): 2.0, (1, 2): 0.5, (1, 1): 0.25},
                     (LinearConstraint({0: 3.0, 1: 1.0}, limit=60.0, const=2.0),))
    k = block_sizes(p, 4)
    # group 2 is fixed (minimum = size) and group 3's size is no multiple of 4: both keep steps of 1
    assert k.tolist() == [4, 4, 1, 1]
    c = coarsen(p, k)
    assert c.sizes == (2, 3, 6, 5) and c.min_widths == (1, 1, 6, 1)
    for b in itertools.product(*(range(m, s + 1) for m, s in zip(c.min_widths, c.sizes))):
        w = np.array(b) * k
        assert macs(c, b) == pytest.approx(macs(p, w))
        assert value(c, b) == pytest.approx(value(p, w))
        assert constraints_ok(c, np.array(b, float)) == constraints_ok(p, w.astype(float))


@pytest.mark.parametrize("mode", ["top-down", "bottom-up"])
def test_width_multiple_gives_nested_multiples_within_budget(mode):
    rng = np.random.default_rng(5)
    sizes = (1, 32, 64, 64, 10)
    scores = tuple(np.sort(rng.gamma(2.0, 1.0, size=c))[::-1] for c in sizes)
    p = WidthProblem(sizes, scores, (1, 8, 16, 16, 10), 0.0, {1: 196 * 9.0}, {(1, 2): 196.0, (2, 3): 49.0,
                                                                              (3, 4): 1.0})
    full = full_macs(p)
    budgets = [full * f for f in (1.0, 0.75, 0.5, 0.25)]
    free = [s.widths for s in select_nested(p, budgets, mode=mode)]
    sols = select_nested(p, budgets, mode=mode, multiple=4)
    for s, b, f in zip(sols, budgets, free):
        assert all(w % 4 == 0 for w in s.widths[1:4]) and s.widths[0] == 1 and s.widths[4] == 10
        assert fits(b, macs(p, s.widths)) and s.macs == pytest.approx(macs(p, s.widths))
        assert s.value == pytest.approx(value(p, s.widths)) and s.value <= value(p, f) + 1e-9
    for a, b in zip(sols, sols[1:]):
        assert all(x >= y for x, y in zip(a.widths, b.widths))
    one = solve(p, budgets[2], lo=(1, 9, 16, 16, 10), multiple=4)  # a lower bound between multiples rounds up
    assert one.widths[1] >= 12 and one.widths[1] % 4 == 0
    with pytest.raises(WidthsError, match="multiple of 4 between lo=9 and hi=11"):
        solve(p, budgets[0], lo=(1, 9, 16, 16, 10), hi=(1, 11, 64, 64, 10), multiple=4)
    for bad in (0, -4, 2.5, True):
        with pytest.raises(WidthsError, match="width multiple"):
            select_nested(p, budgets, multiple=bad)
