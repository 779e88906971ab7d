"""`materialize`: subnetwork k of a REDS model as a standard, builtin-only .tflite with sliced tensors."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import tflite_io as tio
from .errors import BudgetError, ModelFormatError
from .graph import WidthGraph
from .graph_tflite import graph_from_tflite
from .permute import slice_tflite
from .rewrite import METADATA_NAME, read_metadata, restore_builtin


def reds_info(model: schema.ModelT, name: str = "model") -> tuple[dict[str, Any], WidthGraph]:
    """The model's budget table, checked against the width graph rebuilt from the model itself."""
    meta = read_metadata(model, name)
    if meta is None:
        raise ModelFormatError(f"{name}: no '{METADATA_NAME}' metadata: not a REDS model (run convert first)")
    graph = graph_from_tflite(model, name)
    sizes = [g["size"] for g in meta["groups"]]
    if sizes != graph.sizes:
        raise ModelFormatError(f"{name}: the budget table's groups {sizes} do not match the model's width graph "
                               f"{graph.sizes}")
    return meta, graph


def materialize(model: schema.ModelT, budget: int, name: str = "model") -> schema.ModelT:
    meta, graph = reds_info(model, name)
    n = len(meta["budgets"])
    if not 0 <= budget < n:
        raise BudgetError(f"{name}: budget {budget} out of range: the model has budgets 0..{n - 1}")
    widths = graph.check_widths(meta["budgets"][budget]["widths"], f"{name}: budget {budget}")
    out = copy.deepcopy(model)
    for entry in meta["ops"]:
        restore_builtin(out, int(entry["op_index"]), int(entry.get("builtin_version", 1)))
    slice_tflite(out, graph, widths)
    _fix_reshapes(out, graph, name)
    out.metadata = [m for m in (out.metadata or []) if _name(m) != METADATA_NAME]
    tio.drop_unused_opcodes(out)
    tio.compact_buffers(out)
    return out


def _name(m: schema.MetadataT) -> str:
    return m.name.decode() if isinstance(m.name, (bytes, bytearray)) else str(m.name)


def _fix_reshapes(model: schema.ModelT, graph: WidthGraph, name: str) -> None:
    """A flattening RESHAPE names its target shape twice (shape input and options): follow the sliced output. The
    width graph's other reshapes, SQUEEZE and EXPAND_DIMS, take their output shape from the input (the second input
    of EXPAND_DIMS is an axis, not a shape)."""
    sg = model.subgraphs[0]
    for i in graph.meta.get("reshape_ops", []):
        op = sg.operators[i]
        if tio.op_name(model, op) != "RESHAPE":
            continue
        new_last = int(tio.tensor_shape(sg.tensors[op.outputs[0]])[-1])
        if len(op.inputs) > 1 and op.inputs[1] >= 0:
            j = int(op.inputs[1])
            shape = tio.buffer_of(model, sg.tensors[j])
            if shape is not None and shape.size:
                if shape.ndim != 1 or sg.tensors[j].type not in (tio.TensorType.INT32, tio.TensorType.INT64):
                    raise ModelFormatError(f"{name}: op {i} (RESHAPE): shape {tio.tensor_text(sg, j)} of type "
                                           f"{tio.TENSOR_TYPE_NAMES.get(sg.tensors[j].type)}, expected a vector of "
                                           "int32 or int64 (the subnetwork's width is written into it)")
                shape = shape.copy()
                shape[-1] = new_last
                tio.set_buffer(model, op.inputs[1], shape)
        o = op.builtinOptions
        if o is not None and getattr(o, "newShape", None) is not None and len(o.newShape):
            ns = np.array(o.newShape, dtype=np.int32)
            ns[-1] = new_last
            o.newShape = ns
