"""The width graph: groups of coupled channels, the layers that produce and consume them, and the cost model.

A *group* is a set of channels that must shrink together: a producer's outputs and every place they reach through
channel-wise ops (BN, activations, pooling, PAD, depthwise with multiplier 1, flatten, residual ADD, MEAN) up to the
input axis of the next FC/Conv. Subnetwork n keeps the first `w_g(n)` channels of every group g (channels are
permuted by importance first, so a prefix is the best subset).

The graph is front-end agnostic: `graph_tflite` builds it from a .tflite, `keras_graph` from a Keras model. Both
describe every tensor axis that carries a group as a `ChannelSlice` whose `ref` is the front end's handle (a tensor
index, or a Keras weight); importance, permutation, width search, conversion and materialisation all walk the same
structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Sequence

import numpy as np

from .errors import WidthsError

FC, CONV, DWCONV = "fc", "conv", "dwconv"


@dataclass
class Group:
    id: int
    size: int
    fixed: bool = False
    reason: str | None = None  # why the group must stay at full width

    def fix(self, reason: str) -> None:
        if not self.fixed:
            self.fixed, self.reason = True, reason


@dataclass(frozen=True)
class ChannelSlice:
    """Axis `axis` of object `ref` holds `repeat` consecutive blocks of group `group` (index s*size + c).

    `kind` is 'weight' for constants that must be permuted (and sliced), 'activation' for tensors whose shape only
    changes when a subnetwork is materialised.
    """

    ref: Hashable
    axis: int
    group: int
    repeat: int = 1
    kind: str = "weight"


@dataclass
class Layer:
    """One FC / Conv / DWConv: the cost model's terms and the handles the rewrite needs."""

    ref: Hashable  # tflite op index, or Keras layer name
    kind: str  # FC, CONV or DWCONV
    out_group: int
    in_group: int  # == out_group for depthwise
    in_repeat: int = 1  # FC over a flattened input: blocks per input row
    kernel: int = 1  # KH*KW (1 for FC)
    positions: int = 1  # output positions: H_out*W_out for conv, rows (batch) for FC
    has_bias: bool = True
    name: str = ""

    def macs(self, w_out: float, w_in: float) -> float:
        if self.kind == DWCONV:
            return self.positions * self.kernel * w_out
        return self.positions * self.kernel * self.in_repeat * w_in * w_out

    def outputs(self, w_out: float) -> float:
        """Output elements computed (each one requantised and stored by the kernel)."""
        return self.positions * w_out

    def params(self, w_out: float, w_in: float) -> float:
        bias = w_out if self.has_bias else 0
        if self.kind == DWCONV:
            return self.kernel * w_out + bias
        return self.kernel * self.in_repeat * w_in * w_out + bias


@dataclass
class WidthGraph:
    groups: list[Group] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    slices: list[ChannelSlice] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ widths
    @property
    def sizes(self) -> list[int]:
        return [g.size for g in self.groups]

    def full_widths(self) -> list[int]:
        return self.sizes

    def narrowable(self) -> list[int]:
        return [g.id for g in self.groups if not g.fixed]

    def check_widths(self, widths: Sequence[int], what: str = "widths") -> list[int]:
        if len(widths) != len(self.groups):
            raise WidthsError(f"{what}: {len(widths)} widths for {len(self.groups)} groups")
        out = []
        for g, raw in zip(self.groups, widths):
            w = _as_count(raw)
            if w is None:  # int() would truncate 12.5, take true as 1 and fail on "x" or 1e400 with a traceback
                raise WidthsError(f"{what}: group {g.id} width {raw!r} is not an integer")
            if not 1 <= w <= g.size:
                raise WidthsError(f"{what}: group {g.id} width {w} outside 1..{g.size}")
            if g.fixed and w != g.size:
                raise WidthsError(f"{what}: group {g.id} must stay at full width {g.size} ({g.reason})")
            out.append(w)
        return out

    def head_groups(self) -> set[int]:
        """Narrowable groups read by a layer whose outputs cannot shrink: the classifier's input."""
        return {l.in_group for l in self.layers
                if self.groups[l.out_group].fixed and not self.groups[l.in_group].fixed}

    def min_widths(self, min_width: int = 1, min_fraction: float = 0.0,
                   head_fraction: float = 0.0) -> tuple[int, ...]:
        """Lower bound per group for the width search: at least `min_width` channels and `min_fraction` of the
        group (rounded up), at least `head_fraction` for the head groups (the REDS authors keep the classifier's
        input at 60 of 64); fixed groups full. One rule for the converter and the Keras front end."""
        if min_width < 1 or not 0.0 <= min_fraction <= 1.0 or not 0.0 <= head_fraction <= 1.0:
            raise WidthsError(f"minimum width {min_width} must be >= 1, minimum fractions {min_fraction} and "
                              f"{head_fraction} in [0, 1]")
        head = self.head_groups()
        return tuple(g.size if g.fixed else
                     min(max(min_width, int(np.ceil(max(min_fraction, head_fraction if g.id in head else 0.0)
                                                     * g.size - 1e-9))), g.size)
                     for g in self.groups)

    # ------------------------------------------------------------------ cost model
    def macs(self, widths: Sequence[float] | None = None) -> float:
        w = self.sizes if widths is None else widths
        return float(sum(l.macs(w[l.out_group], w[l.in_group]) for l in self.layers))

    def params(self, widths: Sequence[float] | None = None) -> float:
        w = self.sizes if widths is None else widths
        return float(sum(l.params(w[l.out_group], w[l.in_group]) for l in self.layers))

    def weighted_terms(self, weights: Sequence[tuple[float, float, float]]
                       ) -> tuple[float, dict[int, float], dict[tuple[int, int], float]]:
        """Σ over layers of (m·MACs + o·output elements + k) for per-layer weights (m, o, k), as const + Σ u_g·w_g
        + Σ p_ab·w_a·w_b with fixed groups folded into the constants: the knapsack's cost form (MACs alone for
        weights (1, 0, 0); cost_profile.CostProfile.terms prices a target's instructions)."""
        if len(weights) != len(self.layers):
            raise ValueError(f"{len(weights)} cost weights for {len(self.layers)} layers")
        const, unary, pair = 0.0, {}, {}
        fixed = {g.id: g.size for g in self.groups if g.fixed}
        for l, (per_mac, per_out, per_layer) in zip(self.layers, weights):
            const += float(per_layer)
            if per_out:
                coef_out = float(per_out) * l.positions
                if l.out_group in fixed:
                    const += coef_out * fixed[l.out_group]
                else:
                    unary[l.out_group] = unary.get(l.out_group, 0.0) + coef_out
            if l.kind == DWCONV:
                coef, gs = float(per_mac) * l.positions * l.kernel, [l.out_group]
            else:
                coef, gs = float(per_mac) * l.positions * l.kernel * l.in_repeat, [l.out_group, l.in_group]
            free = []
            for g in gs:
                if g in fixed:
                    coef *= fixed[g]
                else:
                    free.append(g)
            if not free:
                const += coef
            elif len(free) == 1:
                unary[free[0]] = unary.get(free[0], 0.0) + coef
            else:
                key = (min(free), max(free))
                pair[key] = pair.get(key, 0.0) + coef
        return const, unary, pair

    def mac_terms(self) -> tuple[float, dict[int, float], dict[tuple[int, int], float]]:
        """The MACs as knapsack terms."""
        return self.weighted_terms([(1.0, 0.0, 0.0)] * len(self.layers))

    def layers_of_group(self, gid: int) -> list[Layer]:
        return [l for l in self.layers if gid in (l.out_group, l.in_group)]

    def slices_of_group(self, gid: int) -> list[ChannelSlice]:
        return [s for s in self.slices if s.group == gid]

    def describe(self) -> str:
        lines = []
        for g in self.groups:
            state = f"fixed ({g.reason})" if g.fixed else "narrowable"
            users = ", ".join(l.name or str(l.ref) for l in self.layers_of_group(g.id))
            lines.append(f"group {g.id}: {g.size} channels, {state}; layers: {users or '-'}")
        return "\n".join(lines)


def _as_count(v: Any) -> int | None:
    """`v` as an int when it is a whole number (an integral float such as 12.0 included), else None."""
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
        return int(v)
    return None


def slice_index(size: int, repeat: int, width: int) -> np.ndarray:
    """Positions along an axis of `repeat` blocks of `size` channels that a width-`width` prefix keeps."""
    return (np.arange(repeat)[:, None] * size + np.arange(width)[None, :]).ravel()


def permute_index(size: int, repeat: int, perm: np.ndarray) -> np.ndarray:
    """Positions that realise `perm` (new channel i = old channel perm[i]) in every block."""
    return (np.arange(repeat)[:, None] * size + np.asarray(perm)[None, :]).ravel()


class UnionFind:
    """Groups merge when channels are tied (residual ADD). Small and local: no global state."""

    def __init__(self) -> None:
        self.parent: list[int] = []

    def add(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            self.parent[hi] = lo
            return lo
        return ra
