"""Builtin FC/Conv/DWConv ⇄ REDS custom ops, and the `reds` budget table kept as model metadata."""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import tflite_io as tio
from .errors import ModelFormatError, UnsupportedModelError
from .graph import CONV, DWCONV, FC, Layer, WidthGraph
from .options import REDS_CONV, REDS_DWCONV, REDS_FC, RedsOptions, decode, encode

METADATA_NAME = "reds"
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
        rows.append({"fraction": round(float(f), 6), "macs": int(round(graph.macs(w))),
                     "macs_fraction": round(graph.macs(w) / full, 6) if full else 1.0,
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


def read_metadata(model: schema.ModelT, name: str = "model") -> dict[str, Any] | None:
    raw = tio.get_metadata(model, METADATA_NAME)
    if raw is None:
        return None
    try:
        meta = json.loads(raw.decode())
        assert isinstance(meta, dict) and isinstance(meta["budgets"], list) and isinstance(meta["groups"], list)
    except (UnicodeDecodeError, json.JSONDecodeError, AssertionError, KeyError, TypeError):
        raise ModelFormatError(f"{name}: metadata '{METADATA_NAME}' is not a valid REDS budget table") from None
    return meta
