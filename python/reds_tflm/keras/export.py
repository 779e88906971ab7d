"""int8 export of a REDS-trained Keras model: one model.reds.tflite, widths.json, accuracy of every budget.

The fine-tuned (already permuted) Keras model goes through TensorFlow's converter with a representative dataset;
the Keras groups are mapped onto the .tflite width graph (k-th Dense/Conv2D/DepthwiseConv2D ↔ k-th FC/Conv/DWConv op,
verified by kind and group sizes), and `convert_model` rewrites the ops with the trained widths, keeping the channel
order. Every budget is then evaluated on the int8 model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import tflite_io as tio
from ..errors import RedsError, WidthsError
from ..graph import WidthGraph

log = logging.getLogger("reds_tflm.export")


@dataclass
class ExportResult:
    path: Path
    widths_path: Path
    tflite_widths: list[list[int]]
    table: list[dict[str, Any]]
    accuracy_int8: list[float]
    int8_samples: int
    int8_engine: str


def batch1_clone(model: Any) -> Any:
    """The same model (same weights) with a batch dimension fixed to 1.

    With a dynamic batch the converter computes a Flatten's shape at run time (SHAPE/STRIDED_SLICE/PACK) and an op
    reading the channel count pins that group to full width; with batch 1 the RESHAPE is constant.
    """
    import copy
    cfg = copy.deepcopy(model.get_config())
    inputs = [item for item in cfg["layers"] if item["class_name"] == "InputLayer"]
    if len(inputs) != 1:
        raise RedsError(f"model '{model.name}': expected one InputLayer in its config, found {len(inputs)}")
    c = inputs[0]["config"]
    shape = c.get("batch_shape") or c.get("batch_input_shape")
    c.pop("batch_input_shape", None)
    c["batch_shape"] = [1] + list(shape[1:])
    for item in cfg["layers"]:
        item.pop("build_config", None)
    clone = type(model).from_config(cfg)
    for layer in clone.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return clone


def int8_tflite(model: Any, representative: np.ndarray, samples: int = 200, seed: int = 0) -> bytes:
    """Full-integer (int8 in, int8 out) conversion calibrated on `samples` images of `representative`."""
    import tensorflow as tf
    rng = np.random.default_rng(seed)
    pick = representative[rng.choice(len(representative), min(samples, len(representative)), replace=False)]
    conv = tf.lite.TFLiteConverter.from_keras_model(batch1_clone(model))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([s[None].astype(np.float32)] for s in pick)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def group_map(kgraph: WidthGraph, tgraph: WidthGraph) -> list[int]:
    """For every .tflite group, the Keras group it is (or -1 for a fixed group no layer maps)."""
    kl, tl = kgraph.layers, tgraph.layers
    if len(kl) != len(tl):
        raise WidthsError(f"the Keras model has {len(kl)} Dense/Conv2D/DepthwiseConv2D layers but the .tflite has "
                          f"{len(tl)} FC/Conv/DWConv ops; cannot map the trained widths")
    t2k: dict[int, int] = {}
    k2t: dict[int, int] = {}
    for a, b in zip(kl, tl):
        if a.kind != b.kind:
            raise WidthsError(f"Keras layer '{a.name}' ({a.kind}) meets .tflite {b.name} ({b.kind}) at the same "
                              "position: the converter reordered or fused layers")
        for kg, tg, what in ((a.out_group, b.out_group, "output"), (a.in_group, b.in_group, "input")):
            ks, ts = kgraph.groups[kg].size, tgraph.groups[tg].size
            if ks != ts:
                raise WidthsError(f"Keras layer '{a.name}' {what} group {kg} has {ks} channels but .tflite "
                                  f"{b.name} {what} group {tg} has {ts}")
            if t2k.setdefault(tg, kg) != kg or k2t.setdefault(kg, tg) != tg:
                raise WidthsError(f"Keras layer '{a.name}' {what}: groups couple differently in Keras (group {kg}) "
                                  f"and in the .tflite (group {tg})")
    for g in tgraph.groups:
        if g.id not in t2k and not g.fixed:
            raise WidthsError(f".tflite group {g.id} ({g.size} channels) is narrowable but no Keras layer maps it")
    for g in kgraph.groups:
        if not g.fixed and g.id in k2t and tgraph.groups[k2t[g.id]].fixed:
            raise WidthsError(f"Keras group {g.id} is narrowable but its .tflite group {k2t[g.id]} is fixed "
                              f"({tgraph.groups[k2t[g.id]].reason})")
    return [t2k.get(g.id, -1) for g in tgraph.groups]


def tflite_widths(kgraph: WidthGraph, tgraph: WidthGraph, widths: Sequence[Sequence[int]]) -> list[list[int]]:
    mapping = group_map(kgraph, tgraph)
    return [[g.size if k < 0 else int(w[k]) for g, k in zip(tgraph.groups, mapping)] for w in widths]


def _quantise(x: np.ndarray, details: dict) -> np.ndarray:
    from ..hostrun import quantize_int8
    scale, zp = details["quantization_parameters"]["scales"], details["quantization_parameters"]["zero_points"]
    if len(scale) != 1:
        raise RedsError("the int8 model's input has per-channel quantisation; expected one scale")
    return quantize_int8(x, float(scale[0]), int(zp[0]))


def tflm_accuracy(model_bytes: bytes, x: np.ndarray, y: np.ndarray, progress: bool = False, desc: str = "") -> float:
    """Top-1 accuracy of a builtin-only int8 model in the real TFLM interpreter, one image per invoke."""
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(model_bytes)
    xq = _quantise(x, it.get_input_details(0))
    shape = it.get_input_details(0)["shape"]
    rng = range(len(x))
    if progress:
        from tqdm import tqdm
        rng = tqdm(rng, desc=desc, leave=False)
    correct = 0
    for i in rng:
        it.set_input(xq[i].reshape(shape), 0)
        it.invoke()
        correct += int(np.argmax(it.get_output(0)) == y[i])
    return correct / len(y)


def evaluate_int8(reds_model: Any, n_budgets: int, x: np.ndarray, y: np.ndarray,
                  progress: bool = False) -> tuple[list[float], str]:
    """Accuracy of every budget of the REDS model: the host runner when present, else materialised subnetworks
    in the TFLM interpreter."""
    why = "no host runner"
    accs: list[float] | None = None
    try:
        from .. import hostrun  # the REDS ops on the host (C core); written by another engineer
        accs = [float(a) for a in hostrun.evaluate(tio.serialize_model(reds_model), x, y)]
    except (ImportError, AttributeError) as exc:
        why = f"host runner unavailable: {exc}"
    except RedsError as exc:  # e.g. the C core extension is stale; the fallback is exact for builtin int8 ops
        why = f"host runner failed: {exc}"
    if accs is not None:
        if len(accs) != n_budgets:
            raise RedsError(f"host runner evaluated {len(accs)} budgets, the model has {n_budgets}")
        return accs, "the REDS int8 model on the host runner (REDS ops in the C core, builtins in TFLM)"
    log.warning("%s; evaluating materialised subnetworks in the TFLM interpreter instead", why)
    from ..materialize import materialize
    accs = []
    for k in range(n_budgets):
        sub = tio.serialize_model(materialize(reds_model, k))
        accs.append(tflm_accuracy(sub, x, y, progress, f"int8 budget {k}"))
    return accs, f"materialised subnetworks in the TFLM interpreter ({why})"


def eval_subset(x: np.ndarray, y: np.ndarray, n: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The test samples the int8 models are evaluated on (the same for REDS and baselines at one seed)."""
    if n is None or n >= len(y):
        return x, y
    pick = np.random.default_rng([seed, 7]).choice(len(y), n, replace=False)
    return x[pick], y[pick]


def export_reds(result: Any, x_train: np.ndarray, test: tuple[np.ndarray, np.ndarray], out: str | Path,
                seed: int = 0, int8_samples: int | None = None, progress: bool = False) -> ExportResult:
    """Write model.reds.tflite, widths.json and the report into `out`; evaluate every budget in int8."""
    from ..convert import convert_model
    from ..graph_tflite import graph_from_tflite
    from .report import write_report
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plain = tio.parse_model(int8_tflite(result.model, x_train, seed=seed), "int8 model")
    tgraph = graph_from_tflite(plain, "int8 model")
    tw = tflite_widths(result.graph, tgraph, result.widths)
    conv = convert_model(plain, budgets=result.fractions, widths=tw, name="int8 model")
    path = out / "model.reds.tflite"
    tio.save_model(conv.model, path)
    widths_path = out / "widths.json"
    tio.write_bytes_atomic(widths_path, json.dumps({"budgets": [
        {"fraction": f, "widths": w, "keras_widths": kw}
        for f, w, kw in zip(result.fractions, tw, result.widths)]}, indent=1).encode())
    xt, yt = eval_subset(test[0], test[1], int8_samples, seed)
    accs, engine = evaluate_int8(conv.model, len(tw), xt, yt, progress)
    res = ExportResult(path, widths_path, tw, conv.table, accs, len(yt), engine)
    write_report(result, res, out)
    log.info("wrote %s (%d bytes), int8 accuracy %s (%s, %d samples)", path, path.stat().st_size,
             np.round(accs, 4).tolist(), engine, len(yt))
    return res
