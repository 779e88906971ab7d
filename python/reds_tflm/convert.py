"""`convert`: a standard .tflite becomes one REDS flatbuffer with nested subnetworks.

validate → width graph → importance → permutation → nested widths → rewrite (custom ops + `reds` metadata).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import tflite_io as tio
from .cost_profile import CostProfile, mac_profile, resolve
from .errors import BudgetError, RedsError, UnsupportedModelError, WidthsError
from .graph import WidthGraph
from .graph_tflite import graph_from_tflite
from .importance import tflite_scores
from .options import MAX_BUDGETS
from .permute import order_by_score, permute_tflite
from .rewrite import FRACTION_DECIMALS, METADATA_NAME, METADATA_VERSION, budget_table, rewrite_ops
from .width_search import width_problem
from .widths import select_nested

DEFAULT_BUDGETS = (1.0, 0.75, 0.5, 0.25)


@dataclass
class ConvertResult:
    model: schema.ModelT
    graph: WidthGraph
    widths: list[list[int]]
    table: list[dict[str, Any]]
    reds_ops: list[int]


def parse_budgets(text: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise BudgetError(f"budgets {text!r}: expected comma-separated numbers such as 1,0.75,0.5,0.25") from None
    if not vals:
        raise BudgetError("no budgets given")
    return vals


def _budget_macs(graph: WidthGraph, fractions: Sequence[float] | None, macs: Sequence[float] | None,
                 cost: CostProfile | None = None) -> list[float]:
    """Budgets in the search's cost units (MACs without a cost profile)."""
    full = (cost or mac_profile()).instructions(graph)
    if macs is not None and cost is not None:
        raise BudgetError("absolute MAC budgets and an output cost or cost profile exclude each other: give budget "
                          "fractions")
    if macs is not None:
        bs = [float(m) for m in macs]
        what = "MACs budget"
    else:
        # the rule the widths path and every reader of the budget table apply too
        fr = check_fractions(list(fractions if fractions is not None else DEFAULT_BUDGETS))
        bs = [f * full for f in fr]
        what = "budget fraction"
    if len(bs) > 16:
        raise BudgetError(f"{len(bs)} budgets; at most 16 are supported")
    if bs[0] < full - 1e-6:
        raise BudgetError(f"the first {what} must be the full network ({full:.0f} MACs): budget 0 is the full model")
    for i in range(1, len(bs)):
        if bs[i] >= bs[i - 1]:
            raise BudgetError(f"budgets must decrease strictly: budget {i} is not below budget {i - 1}")
    return [min(b, full) for b in bs]


def check_fractions(fractions: Sequence[Any], where: str = "", error: type[RedsError] = BudgetError) -> list[float]:
    """Budget fractions as a budget table needs them (rewrite.read_metadata refuses anything else): 1..16 numbers
    in (0, 1], the first 1 (budget 0 is the full network), strictly decreasing. `where` prefixes the message."""
    if not 1 <= len(fractions) <= MAX_BUDGETS:
        raise error(f"{where}{len(fractions)} budgets; 1..{MAX_BUDGETS} are supported")
    out: list[float] = []
    for k, f in enumerate(fractions):
        ok = isinstance(f, (int, float, np.integer, np.floating)) and not isinstance(f, (bool, np.bool_))
        # judged as the table stores them (rounded), so that what passes here passes read_metadata
        try:
            r = round(float(f), FRACTION_DECIMALS) if ok else None
        except OverflowError:  # an integer beyond any float (JSON allows it)
            r = float("inf")
        if r is None or r != r:
            raise error(f"{where}budget {k} fraction {f!r} is not a number in (0, 1]")
        if not 0 < r <= 1:
            raise error(f"{where}budget {k} fraction {f!r} outside (0, 1]")
        if k == 0 and r != 1.0:
            raise error(f"{where}budget 0 fraction {f!r}: the first budget must be 1, the full network")
        if out and r >= round(out[-1], FRACTION_DECIMALS):
            raise error(f"{where}budgets must decrease strictly: budget {k} fraction {f!r} is not below budget "
                        f"{k - 1}'s {out[-1]!r}" + (f" to {FRACTION_DECIMALS} decimals" if float(f) < out[-1] else ""))
        out.append(float(f))
    return out


def load_widths_file(path: str | Path, graph: WidthGraph) -> tuple[list[float] | None, list[list[int]]]:
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise WidthsError(f"{p}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WidthsError(f"{p}: not valid JSON ({exc})") from None
    entries = doc.get("budgets") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise WidthsError(f"{p}: expected an object with a non-empty list 'budgets'")
    fractions, widths = [], []
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("widths"), list):
            raise WidthsError(f"{p}: budgets[{k}] needs a list 'widths'")
        widths.append(graph.check_widths(e["widths"], f"{p}: budgets[{k}]"))
        fractions.append(e.get("fraction"))
    if any(f is None for f in fractions):  # fractions are optional: convert then takes the widths' MACs
        return None, widths
    return check_fractions(fractions, f"{p}: ", WidthsError), widths


def _check_nested(graph: WidthGraph, widths: list[list[int]], where: str) -> None:
    if widths[0] != graph.sizes:
        raise WidthsError(f"{where}: budget 0 must be the full network (widths {graph.sizes})")
    for k in range(1, len(widths)):
        for g, (a, b) in enumerate(zip(widths[k - 1], widths[k])):
            if b > a:
                raise WidthsError(f"{where}: widths not nested: group {g} grows from {a} (budget {k - 1}) to {b} "
                                  f"(budget {k})")


def convert_model(model: schema.ModelT, budgets: Sequence[float] | None = None, macs: Sequence[float] | None = None,
                  widths: list[list[int]] | None = None, importance: str = "l1", min_width: int = 1,
                  min_fraction: float = 0.0, mode: str = "top-down", method: str = "auto",
                  name: str = "model", output_cost: float = 0.0,
                  cost_profile: str | CostProfile | None = None, width_multiple: int = 1) -> ConvertResult:
    """Convert a (copied) model. With `widths` given, the channel order is kept (training already ordered it).

    Budget fractions count MACs, or with a `cost_profile` (bundled name such as "cortex-m4-dsp", JSON path, or
    CostProfile) the target's predicted instructions, or with `output_cost` > 0 MACs + output_cost per output
    element: then the fractions buy run time on kernels with per-output and per-pixel prices. The table reports
    true MACs either way. `width_multiple` M > 1: widths in steps of M in every group whose size is a multiple of M
    (widths.block_sizes)."""
    cost = None if cost_profile is None and not output_cost else resolve(output_cost, cost_profile)
    model = copy.deepcopy(model)
    for i, op in enumerate(model.subgraphs[0].operators or []):
        if tio.op_name(model, op).startswith("CUSTOM:REDS_"):
            raise UnsupportedModelError(f"{name}: op {i} is already a REDS op: the model was converted before")
    graph = graph_from_tflite(model, name)
    if not graph.narrowable():
        groups = graph.describe().replace("\n", "; ")  # one line, as every CLI error (README)
        raise UnsupportedModelError(f"{name}: no channel group can be narrowed: {groups}")
    if widths is None:
        scores = tflite_scores(model, graph, importance)
        perms = {g.id: order_by_score(scores[g.id]) for g in graph.groups if not g.fixed}
        permute_tflite(model, graph, perms)
        # scale "group": magnitude scores only rank the units inside a group; MACs decide between groups
        problem = width_problem(graph, [s[perms[i]] if i in perms else s for i, s in enumerate(scores)], min_width,
                                scale="group", min_fraction=min_fraction, cost_profile=cost)
        bmacs = _budget_macs(graph, budgets, macs, cost)
        try:
            sols = select_nested(problem, bmacs, mode=mode, method=method, multiple=width_multiple)
        except BudgetError as exc:
            if cost is None:
                raise
            raise BudgetError(f"{exc} [cost units: {cost.name}]") from None
        widths = [list(map(int, s.widths)) for s in sols]
        _check_nested(graph, widths, name)
        full = (cost or mac_profile()).instructions(graph)
        fractions = check_fractions([b / full for b in bmacs], f"{name}: ")  # MACs budgets too close to tell apart
    else:
        if macs is not None:
            raise BudgetError(f"{name}: absolute MACs budgets and given widths exclude each other: the widths "
                              "decide the MACs")
        widths = [graph.check_widths(w, f"widths[{k}]") for k, w in enumerate(widths)]
        _check_nested(graph, widths, name)
        if budgets is not None:
            fractions = check_fractions(list(budgets), f"{name}: ")
        else:  # equal MACs would give a budget table that is not strictly decreasing: refuse it here
            fractions = check_fractions([graph.macs(w) / graph.macs() for w in widths],
                                        f"{name}: the widths' MACs fractions: ", WidthsError)
        if len(fractions) != len(widths):
            raise WidthsError(f"{name}: {len(fractions)} budget fractions for {len(widths)} width sets")
    reds_ops = rewrite_ops(model, graph, widths, name)
    table = budget_table(model, graph, widths, fractions)
    meta = {"version": METADATA_VERSION,
            "groups": [{"id": g.id, "size": g.size, "fixed": g.fixed, "reason": g.reason} for g in graph.groups],
            "budgets": table, "ops": reds_ops}
    tio.set_metadata(model, METADATA_NAME, json.dumps(meta, separators=(",", ":")).encode())
    tio.drop_unused_opcodes(model)
    tio.compact_buffers(model)
    return ConvertResult(model, graph, widths, table, [o["op_index"] for o in reds_ops])
