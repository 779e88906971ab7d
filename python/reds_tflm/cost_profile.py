"""Instruction cost profiles of a target: what the width search budgets when budgets should buy run time.

A profile prices each layer kind on one target: instructions ≈ per_mac·MACs + per_output·output elements +
per_pixel·output positions. `benchmarks/m4.py` fits the Cortex-M4 profiles (DSP and portable kernels) from exact
QEMU counts and writes them to `reds_tflm/profiles/`; `load_profile` reads a bundled profile by name or any JSON file
of the same form.

Why: a MAC budget makes a 1x1 conv reading 1 of 32 channels look 32 times cheaper, but its per-output work
(requantisation, store) does not shrink, so a subnetwork with f of the MACs can need much more than f of the time.
With a profile, budget f means f of the full network's *predicted instructions*. The prediction has the MACs'
shape (unary and pairwise terms in the group widths, `WidthGraph.weighted_terms`), so the same knapsack solvers
take it. `mac_profile(c)` is the plain MAC count plus c per output element (the older `output_cost`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .errors import BudgetError, RedsError
from .graph import CONV, DWCONV, FC, Layer, WidthGraph

KINDS = ("fc", "conv1x1", "conv", "conv_c1", "dwconv")
# Kinds added after profiles were first written: a profile without one prices it as the kind named here.
# conv_c1 is a KxK conv reading one input channel (a first layer), which has a kernel loop of its own on the M4.
FALLBACK = {"conv_c1": "conv"}


@dataclass(frozen=True)
class KindCost:
    per_mac: float
    per_output: float
    per_pixel: float


@dataclass(frozen=True)
class CostProfile:
    name: str
    kinds: Mapping[str, KindCost]
    source: str = ""

    def weights(self, graph: WidthGraph) -> list[tuple[float, float, float]]:
        """Per-layer (per MAC, per output element, constant) instruction weights."""
        out = []
        for l in graph.layers:
            k = self.kind_cost(layer_kind(l, graph.sizes[l.in_group]))
            out.append((k.per_mac, k.per_output, k.per_pixel * l.positions))
        return out

    def kind_cost(self, kind: str) -> KindCost:
        """The entry for `kind`, or for its FALLBACK kind in a profile written before `kind` existed."""
        for k in (kind, FALLBACK.get(kind)):
            if k in self.kinds:
                return self.kinds[k]
        raise RedsError(f"cost profile {self.name}: no entry for layer kind {kind!r}")

    def instructions(self, graph: WidthGraph, widths: Sequence[int] | None = None) -> float:
        w = graph.sizes if widths is None else widths
        return float(sum(m * l.macs(w[l.out_group], w[l.in_group]) + o * l.outputs(w[l.out_group]) + k
                         for l, (m, o, k) in zip(graph.layers, self.weights(graph))))

    def terms(self, graph: WidthGraph) -> tuple[float, dict[int, float], dict[tuple[int, int], float]]:
        """The prediction as the knapsack's cost terms (const, unary, pair)."""
        return graph.weighted_terms(self.weights(graph))

    def to_json(self) -> dict:
        return {"name": self.name, "source": self.source, "model": "instructions = per_mac*MACs + "
                "per_output*output_elements + per_pixel*output_positions, per layer kind",
                "kinds": {k: dataclasses.asdict(v) for k, v in self.kinds.items()}}


def mac_profile(output_cost: float = 0.0) -> CostProfile:
    """MACs, plus `output_cost` MAC-equivalents per output element, for every layer kind."""
    if not 0 <= output_cost < 1e6 or not math.isfinite(output_cost):
        raise BudgetError(f"output cost {output_cost} must be in [0, 1e6)")
    k = KindCost(1.0, float(output_cost), 0.0)
    return CostProfile(f"MACs + {output_cost:g} per output" if output_cost else "MACs", {n: k for n in KINDS})


def resolve(output_cost: float = 0.0, cost_profile: "str | CostProfile | None" = None) -> CostProfile:
    """The width search's cost: a profile (bundled name, JSON path or object), else MACs + output_cost per output."""
    if cost_profile is None:
        return mac_profile(output_cost)
    if output_cost:
        raise BudgetError("a cost profile and an output cost exclude each other: the profile prices outputs itself")
    return load_profile(cost_profile) if isinstance(cost_profile, str) else cost_profile


def layer_kind(layer: Layer, in_size: int) -> str:
    """The profile kind of a width-graph layer whose input group has `in_size` channels at full width."""
    if layer.kind == FC:
        return "fc"
    if layer.kind == DWCONV:
        return "dwconv"
    if layer.kind == CONV:
        return "conv1x1" if layer.kernel == 1 else "conv_c1" if in_size == 1 else "conv"
    raise RedsError(f"layer '{layer.name or layer.ref}': no cost profile entry for kind {layer.kind!r}")


def bundled_profiles() -> list[str]:
    root = resources.files("reds_tflm") / "profiles"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".json")) if root.is_dir() else []


def profile_from_json(doc: object, where: str) -> CostProfile:
    if not isinstance(doc, dict) or not isinstance(doc.get("kinds"), dict):
        raise RedsError(f"{where}: expected an object with 'kinds' ({', '.join(KINDS)})")
    kinds = {}
    for k in KINDS:
        if k in FALLBACK and k not in doc["kinds"]:
            continue  # an older profile: priced as FALLBACK[k] (CostProfile.kind_cost)
        e = doc["kinds"].get(k)
        try:
            vals = [float(e[f]) for f in ("per_mac", "per_output", "per_pixel")]  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            raise RedsError(f"{where}: kinds.{k} needs numbers per_mac, per_output, per_pixel") from None
        if not all(math.isfinite(v) and v >= 0 for v in vals) or vals[0] <= 0:
            raise RedsError(f"{where}: kinds.{k}: costs must be finite and >= 0, per_mac > 0 (got {vals})")
        kinds[k] = KindCost(*vals)
    return CostProfile(str(doc.get("name", where)), kinds, str(doc.get("source", "")))


def load_profile(spec: str) -> CostProfile:
    """A bundled profile by name (`bundled_profiles()`), or a JSON file of the same form."""
    if spec in bundled_profiles():
        text = (resources.files("reds_tflm") / "profiles" / f"{spec}.json").read_text()
        return profile_from_json(json.loads(text), f"cost profile {spec}")
    p = Path(spec)
    if not p.is_file():
        raise RedsError(f"cost profile {spec!r}: neither a bundled profile ({', '.join(bundled_profiles()) or 'none'})"
                        " nor a file")
    try:
        doc = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RedsError(f"{p}: not valid JSON ({exc})") from None
    return profile_from_json(doc, str(p))


def fit_profile(rows: Sequence[tuple[str, float, float, float, float]], name: str, source: str = "") -> CostProfile:
    """Least squares in relative error, coefficients >= 0, per kind, over rows (kind, MACs, outputs, pixels,
    instructions). Kinds without rows take the coefficients of all rows together."""
    from scipy.optimize import nnls

    def fit(sel: list[tuple[str, float, float, float, float]]) -> KindCost:
        x = np.array([r[1:4] for r in sel], np.float64)
        y = np.array([r[4] for r in sel], np.float64)
        coef, _ = nnls(x / y[:, None], np.ones(len(y)))
        return KindCost(*(float(c) for c in coef))

    if not rows:
        raise RedsError(f"cost profile {name}: no measurements to fit")
    bad = next((r for r in rows if not r[4] > 0 or r[0] not in KINDS), None)
    if bad is not None:
        raise RedsError(f"cost profile {name}: measurement {bad} needs a kind in {KINDS} and instructions > 0")
    every = fit(list(rows))
    kinds = {k: (fit(sel) if (sel := [r for r in rows if r[0] == k]) else every) for k in KINDS}
    return CostProfile(name, {k: v if v.per_mac > 0 else every for k, v in kinds.items()}, source)
