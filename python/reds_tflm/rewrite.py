"""Builtin FC/Conv/DWConv ⇄ REDS custom ops, and the `reds` budget table kept as model metadata."""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import tflite_io as tio
from .errors import BudgetError, BudgetTableError, ModelFormatError, RedsError, UnsupportedModelError
from .graph import CONV, DWCONV, FC, Layer, WidthGraph
from .options import (CUSTOM_CODES, MAX_BUDGETS, REDS_CONV, REDS_DWCONV, REDS_FC, RedsOptions, decode,
                      encode)

METADATA_NAME = "reds"
METADATA_VERSION = 1
FRACTION_DECIMALS = 6  # budget fractions in the table are rounded to this many decimals
CUSTOM_OF = {FC: REDS_FC, CONV: REDS_CONV, DWCONV: REDS_DWCONV}
BUILTIN_OF = {REDS_FC: schema.BuiltinOperator.FULLY_CONNECTED, REDS_CONV: schema.BuiltinOperator.CONV_2D,
              REDS_DWCONV: schema.BuiltinOperator.DEPTHWISE_CONV_2D}
BOO = schema.BuiltinOptions


def _opcode_index(model: schema.ModelT, builtin: int, custom: str | None = None, version: int = 1) -> int:
    for i, c in enumerate(model.operatorCodes):
        code = max(c.builtinCode, c.deprecatedBuiltinCode)
        cc = c.customCode.decode() if isinstance(c.customCode, (bytes, bytearray)) else c.customCode
        if code == builtin and (custom is None or cc == custom) and (custom is not None or c.version == version):
            return i
    oc = schema.OperatorCodeT()
    oc.builtinCode = builtin
    oc.deprecatedBuiltinCode = min(builtin, 127)
    oc.version = version
    if custom is not None:
        oc.customCode = custom
    model.operatorCodes.append(oc)
    return len(model.operatorCodes) - 1


def options_of(op: schema.OperatorT, layer: Layer, widths: Sequence[Sequence[int]], in_channels: int,
               where: str) -> RedsOptions:
    o = op.builtinOptions
    out_w = [int(w[layer.out_group]) for w in widths]
    in_w = [int(w[layer.in_group]) for w in widths]
    act = int(getattr(o, "fusedActivationFunction", 0)) if o is not None else 0
    if act not in (0, 1, 2, 3):
        raise UnsupportedModelError(f"{where}: fused activation {act} is not NONE/RELU/RELU_N1_TO_1/RELU6")
    if layer.kind == FC:
        if o is not None and (getattr(o, "weightsFormat", 0) != 0 or getattr(o, "asymmetricQuantizeInputs", False)):
            raise UnsupportedModelError(f"{where}: shuffled weights or hybrid FC options are not supported")
        return RedsOptions(REDS_FC, out_w, in_w, in_channels, act, in_repeat=layer.in_repeat,
                           keep_num_dims=int(bool(getattr(o, "keepNumDims", False))) if o is not None else 0)
    expected = schema.Conv2DOptionsT if layer.kind == CONV else schema.DepthwiseConv2DOptionsT
    if not isinstance(o, expected):  # a corrupt file: the options table of another op
        raise ModelFormatError(f"{where}: carries {type(o).__name__.removesuffix('T') if o is not None else 'no'} "
                               f"options, expected {expected.__name__.removesuffix('T')}")
    common = dict(padding=int(o.padding), stride_w=int(o.strideW), stride_h=int(o.strideH),
                  dilation_w=int(o.dilationWFactor), dilation_h=int(o.dilationHFactor))
    if layer.kind == CONV:
        return RedsOptions(REDS_CONV, out_w, in_w, in_channels, act, **common)
    return RedsOptions(REDS_DWCONV, out_w, out_w, in_channels, act, depth_multiplier=1, **common)


def rewrite_ops(model: schema.ModelT, graph: WidthGraph, widths: Sequence[Sequence[int]],
                name: str = "model") -> list[dict[str, Any]]:
    """Replace every layer whose widths change between budgets by its REDS op. Returns the metadata op list."""
    sg = model.subgraphs[0]
    out: list[dict[str, Any]] = []
    for layer in graph.layers:
        varies = any(w[layer.out_group] != widths[0][layer.out_group] or w[layer.in_group] !=
                     widths[0][layer.in_group] for w in widths)
        if not varies:
            continue
        i = int(layer.ref)
        op = sg.operators[i]
        where = f"{name}: op {i} ({tio.op_name(model, op)})"
        opts = options_of(op, layer, widths, graph.groups[layer.in_group].size, where)
        old_code = model.operatorCodes[op.opcodeIndex]
        custom = CUSTOM_OF[layer.kind]
        opts.validate(out_channels=graph.groups[layer.out_group].size)
        op.opcodeIndex = _opcode_index(model, schema.BuiltinOperator.CUSTOM, custom)
        op.builtinOptionsType = BOO.NONE
        op.builtinOptions = None
        op.customOptions = np.frombuffer(encode(opts), dtype=np.uint8).copy()
        op.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
        out.append({"op_index": i, "custom_code": custom, "builtin_version": int(old_code.version),
                    "out_group": layer.out_group, "in_group": layer.in_group})
    return out


def restore_builtin(model: schema.ModelT, op_index: int, version: int = 1) -> None:
    """Turn one REDS op back into its builtin op (same tensors) from its custom options."""
    op = model.subgraphs[0].operators[op_index]
    name = tio.op_name(model, op)
    code = name.split(":", 1)[1]
    opts = decode(code, bytes(np.asarray(op.customOptions, dtype=np.uint8)))
    if code == REDS_FC:
        o = schema.FullyConnectedOptionsT()
        o.fusedActivationFunction = opts.activation
        o.keepNumDims = bool(opts.keep_num_dims)
        op.builtinOptionsType, op.builtinOptions = BOO.FullyConnectedOptions, o
    elif code == REDS_CONV:
        o = schema.Conv2DOptionsT()
        op.builtinOptionsType, op.builtinOptions = BOO.Conv2DOptions, o
    else:
        o = schema.DepthwiseConv2DOptionsT()
        o.depthMultiplier = 1
        op.builtinOptionsType, op.builtinOptions = BOO.DepthwiseConv2DOptions, o
        # no bias: the REDS op may say -1, TFLM's builtin would dereference it (op_checks refuses that)
        if op.inputs is not None and len(op.inputs) == 3 and op.inputs[2] < 0:
            op.inputs = np.asarray(op.inputs[:2], dtype=np.int32)
    if code != REDS_FC:
        o.padding, o.strideW, o.strideH = opts.padding, opts.stride_w, opts.stride_h
        o.dilationWFactor, o.dilationHFactor = opts.dilation_w, opts.dilation_h
        o.fusedActivationFunction = opts.activation
    op.opcodeIndex = _opcode_index(model, BUILTIN_OF[code], None, version)
    op.customOptions = None


def budget_table(model: schema.ModelT, graph: WidthGraph, widths: Sequence[Sequence[int]],
                 fractions: Sequence[float]) -> list[dict[str, Any]]:
    full = graph.macs()
    rows = []
    for f, w in zip(fractions, widths):
        rows.append({"fraction": round(float(f), FRACTION_DECIMALS), "macs": int(round(graph.macs(w))),
                     "macs_fraction": round(graph.macs(w) / full, FRACTION_DECIMALS) if full else 1.0,
                     "params": int(round(graph.params(w))), "weight_bytes": weight_bytes(model, graph, w),
                     "widths": [int(x) for x in w]})
    return rows


def weight_bytes(model: schema.ModelT, graph: WidthGraph, widths: Sequence[int]) -> int:
    """Bytes of weights and biases the subnetwork reads (what a sliced model would keep in flash)."""
    sg = model.subgraphs[0]
    total = 0
    for layer in graph.layers:
        op = sg.operators[int(layer.ref)]
        wt = sg.tensors[op.inputs[1]]
        wsize = np.dtype(tio.NUMPY_DTYPES[wt.type]).itemsize
        wo, wi = widths[layer.out_group], widths[layer.in_group]
        n_w = layer.kernel * wo if layer.kind == DWCONV else layer.kernel * layer.in_repeat * wi * wo
        total += n_w * wsize
        if layer.has_bias and len(op.inputs) > 2 and op.inputs[2] >= 0:
            total += wo * np.dtype(tio.NUMPY_DTYPES[sg.tensors[op.inputs[2]].type]).itemsize
    return int(total)


def reds_op_budget_count(model: schema.ModelT, name: str = "model") -> int | None:
    """Budget count shared by every REDS op (None when there is none); the kernels rely on them agreeing."""
    counts: set[int] = set()
    for sg in model.subgraphs:
        for i, op in enumerate(sg.operators or []):
            code = _reds_code(model, op)
            if code is None:
                continue
            opts = bytes(np.asarray(op.customOptions, dtype=np.uint8)) if op.customOptions is not None else b""
            try:
                counts.add(decode(code, opts).budgets)
            except RedsError as exc:
                raise type(exc)(f"{name}: op {i}: {exc}") from None
    if len(counts) > 1:
        raise BudgetError(f"{name}: REDS ops disagree on the number of budgets: {sorted(counts)}")
    return counts.pop() if counts else None


def read_metadata(model: schema.ModelT, name: str = "model", *, budgets_only: bool = False) -> dict[str, Any] | None:
    """The `reds` metadata (docs/format.md), checked so that readers may index it; None for a model without it.

    Every reader goes through here: inspect, materialize and eval check the whole table; export-c, which writes
    only the budgets' fraction/macs/params into the C table (kernels never read the metadata), checks with
    `budgets_only` the version and those rows, not the widths, groups and ops."""
    raw = tio.get_metadata(model, METADATA_NAME)
    n_ops = reds_op_budget_count(model, name)
    if raw is None:
        if n_ops is not None:
            raise ModelFormatError(f"{name}: has REDS custom ops but no '{METADATA_NAME}' metadata")
        return None
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # RecursionError: absurd nesting
        raise ModelFormatError(f"{name}: '{METADATA_NAME}' metadata is not UTF-8 JSON ({exc})") from None
    where = f"{name}: '{METADATA_NAME}' metadata"
    if not isinstance(meta, dict):
        raise ModelFormatError(f"{where} is a JSON {type(meta).__name__}, expected an object")
    if not _is_int(meta.get("version")) or meta["version"] != METADATA_VERSION:
        raise ModelFormatError(f"{where} version {_shown(meta, 'version')}, expected {METADATA_VERSION}")
    budgets = _check_budgets(meta, where, n_ops)
    if budgets_only:
        return meta
    groups = _check_groups(meta, where)
    sizes = [g["size"] for g in groups]
    for k, b in enumerate(budgets):
        _check_budget_details(b, k, groups, sizes, where)
    _check_ops(meta, model, where)
    return meta


def _shown(d: dict[str, Any], key: str) -> str:
    return repr(d[key]) if key in d else "(missing)"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)  # JSON true is not a count


def _is_number(v: Any) -> bool:
    # a JSON integer may exceed any float: finite by nature, and math.isfinite would overflow on it
    return _is_int(v) or (isinstance(v, float) and math.isfinite(v))


def _reds_code(model: schema.ModelT, op: schema.OperatorT) -> str | None:
    kind = tio.op_name(model, op)
    code = kind.removeprefix("CUSTOM:")
    return code if kind.startswith("CUSTOM:") and code in CUSTOM_CODES else None


def _check_budgets(meta: dict[str, Any], where: str, n_ops: int | None) -> list[dict[str, Any]]:
    budgets = meta.get("budgets")
    if not isinstance(budgets, list):
        raise ModelFormatError(f"{where} has no 'budgets' list")
    if not 1 <= len(budgets) <= MAX_BUDGETS:
        raise BudgetTableError(f"{where} lists {len(budgets)} budgets, expected 1..{MAX_BUDGETS}")
    if n_ops is not None and n_ops != len(budgets):
        raise BudgetTableError(f"{where} lists {len(budgets)} budgets but the REDS ops carry {n_ops}")
    prev = None
    for k, b in enumerate(budgets):
        if not isinstance(b, dict):
            raise BudgetTableError(f"{where} budget {k} is a JSON {type(b).__name__}, expected an object")
        frac = b.get("fraction")
        if not _is_number(frac) or not 0.0 < frac <= 1.0:
            raise BudgetTableError(f"{where} budget {k} fraction {_shown(b, 'fraction')} outside (0, 1]")
        if k == 0 and frac != 1.0:
            raise BudgetTableError(f"{where} budget 0 fraction {frac!r}: budget 0 is the full network, expected 1")
        if prev is not None and frac >= prev:
            raise BudgetTableError(f"{where} budget {k} fraction {frac!r} is not below budget {k - 1}'s {prev!r}")
        prev = frac
        for key in ("macs", "params"):
            if not _is_int(b.get(key)) or b[key] < 0:
                raise BudgetTableError(f"{where} budget {k} {key} {_shown(b, key)} is not an integer >= 0")
    return budgets


def _check_groups(meta: dict[str, Any], where: str) -> list[dict[str, Any]]:
    groups = meta.get("groups")
    if not isinstance(groups, list):
        raise ModelFormatError(f"{where} has no 'groups' list")
    for i, g in enumerate(groups):
        if not isinstance(g, dict):
            raise ModelFormatError(f"{where} group {i} is a JSON {type(g).__name__}, expected an object")
        # readers index the widths by group id: the ids must be the positions
        if not _is_int(g.get("id")) or g["id"] != i:
            raise ModelFormatError(f"{where} group {i} id {_shown(g, 'id')}, expected {i}")
        if not _is_int(g.get("size")) or g["size"] < 1:
            raise ModelFormatError(f"{where} group {i} size {_shown(g, 'size')} is not an integer >= 1")
        if not isinstance(g.get("fixed"), bool):
            raise ModelFormatError(f"{where} group {i} fixed {_shown(g, 'fixed')} is not true or false")
        reason = g.get("reason")
        if (g["fixed"] and not isinstance(reason, str)) or not isinstance(reason, (str, type(None))):
            raise ModelFormatError(f"{where} group {i} reason {_shown(g, 'reason')} is not a string"
                                   + (" (a fixed group says why)" if g["fixed"] else " or null"))
    return groups


def _check_budget_details(b: dict[str, Any], k: int, groups: list[dict[str, Any]], sizes: list[int],
                          where: str) -> None:
    """The per-budget keys inspect prints and materialize slices with."""
    if not _is_int(b.get("weight_bytes")) or b["weight_bytes"] < 0:
        raise BudgetTableError(f"{where} budget {k} weight_bytes {_shown(b, 'weight_bytes')} is not an integer >= 0")
    if not _is_number(b.get("macs_fraction")) or b["macs_fraction"] < 0:
        raise BudgetTableError(f"{where} budget {k} macs_fraction {_shown(b, 'macs_fraction')} is not a number >= 0")
    widths = b.get("widths")
    if not isinstance(widths, list) or len(widths) != len(groups):
        got = f"{len(widths)} entries" if isinstance(widths, list) else _shown(b, "widths")
        raise BudgetTableError(f"{where} budget {k} widths: {got}, expected a list of {len(groups)} integers "
                               "(one per group)")
    for g, (w, size) in enumerate(zip(widths, sizes)):
        if not _is_int(w) or not 1 <= w <= size:
            raise BudgetTableError(f"{where} budget {k} widths[{g}] {w!r} is not an integer in 1..{size}")
        if groups[g]["fixed"] and w != size:
            raise BudgetTableError(f"{where} budget {k} widths[{g}] {w}: group {g} is fixed at {size}")


def _check_ops(meta: dict[str, Any], model: schema.ModelT, where: str) -> None:
    ops = meta.get("ops")
    if not isinstance(ops, list):
        raise ModelFormatError(f"{where} has no 'ops' list")
    operators = model.subgraphs[0].operators or []
    seen: set[int] = set()
    for j, e in enumerate(ops):
        if not isinstance(e, dict):
            raise ModelFormatError(f"{where} ops[{j}] is a JSON {type(e).__name__}, expected an object")
        i = e.get("op_index")
        if not _is_int(i) or not 0 <= i < len(operators):
            raise ModelFormatError(f"{where} ops[{j}] op_index {_shown(e, 'op_index')} is not an operator index in "
                                   f"0..{len(operators) - 1}")
        if i in seen:
            raise ModelFormatError(f"{where} ops[{j}] op_index {i} is listed twice")
        seen.add(i)
        code = _reds_code(model, operators[i])
        if code is None:
            raise ModelFormatError(f"{where} ops[{j}] op_index {i}: op {i} ({tio.op_name(model, operators[i])}) "
                                   "is not a REDS custom op")
        if "custom_code" in e and e["custom_code"] != code:
            raise ModelFormatError(f"{where} ops[{j}] custom_code {e['custom_code']!r} but op {i} is {code}")
        version = e.get("builtin_version", 1)
        if not _is_int(version) or version < 1:
            raise ModelFormatError(f"{where} ops[{j}] builtin_version {version!r} is not an integer >= 1")
    missing = [i for i, op in enumerate(operators) if i not in seen and _reds_code(model, op) is not None]
    if missing:
        raise ModelFormatError(f"{where} 'ops' does not list the REDS ops {missing}")
