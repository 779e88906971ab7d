#!/usr/bin/env python3
"""int8 accuracy of every budget against the number of calibration images, from trained REDS checkpoints.

    python benchmarks/int8_calibration.py CHECKPOINT_DIR [...] [--samples 200,1000,3000] [--calib-seed 0]
                                          [--own-scales]

A checkpoint directory is a finished training run's `checkpoint/` (its state.json holds the budgets and widths,
model.weights.h5 the trained, permuted DS-CNN S). For each one and each sample count the float model is converted
to int8 by the TFLite converter, calibrated on that many Fashion-MNIST training images (drawn with --calib-seed),
converted into one REDS model with the run's widths, and every budget evaluated on all 10,000 test images (the
host runner: REDS ops in the C core, builtins in TFLM). Writes benchmarks/results/int8_calibration.{json,md}.

--own-scales also converts every budget's subnetwork on its own (sliced float model, its own activation scales from
the same calibration images, evaluated in the tflite-micro interpreter): what scales fitted per budget could give,
against the REDS model's scales shared by all budgets. Writes benchmarks/results/int8_own_scales.{json,md}.

--weights-only splits the conversion's loss: every budget's float accuracy, and again with only the weights
rounded as the converter rounds them (every Conv2D / DepthwiseConv2D / Dense kernel symmetric int8 per output
channel, as the converted model holds them; BN folding scales a channel, which per-channel rounding is invariant
to), activations left in float, next to the REDS int8 model at the first --samples count. Writes only
benchmarks/results/int8_weights_only.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

from reds_tflm.errors import RedsError  # noqa: E402
from reds_tflm.tflite_io import write_bytes_atomic  # noqa: E402


def measure(ckpt: Path, samples: list[int], calib_seed: int, data, own_scales: bool = False,
            weights_only: bool = False) -> dict:
    from reds_tflm import tflite_io as tio
    from reds_tflm.convert import convert_model
    from reds_tflm.graph_tflite import graph_from_tflite
    from reds_tflm.keras import export as ex
    from reds_tflm.keras.graph import graph_from_keras
    from reds_tflm.keras.models import build
    state_path, weights = ckpt / "state.json", ckpt / "model.weights.h5"
    if not state_path.exists() or not weights.exists():
        raise RedsError(f"{ckpt}: not a training checkpoint (needs state.json and model.weights.h5)")
    state = json.loads(state_path.read_text())
    if state.get("phase") != "done" or "widths" not in state:
        raise RedsError(f"{ckpt}: the run is not finished (phase {state.get('phase')!r})")
    train, test = data
    model = build("ds-cnn-s")
    model.load_weights(str(weights))
    graph = graph_from_keras(model)
    rows = []
    for n in samples:
        plain = tio.parse_model(ex.int8_tflite(model, train.x, samples=n, seed=calib_seed), f"{ckpt} int8")
        tw = ex.tflite_widths(graph, graph_from_tflite(plain, f"{ckpt} int8"), state["widths"])
        conv = convert_model(plain, budgets=state["budgets"], widths=tw, name=f"{ckpt} int8")
        accs, engine = ex.evaluate_int8(conv.model, len(tw), test.x, test.y, False)
        row = {"samples": n, "accuracy_int8": [round(float(a), 4) for a in accs], "engine": engine}
        print(f"{ckpt}: {n:5d} calibration images: " + " / ".join(f"{100 * a:.2f}" for a in accs), flush=True)
        if own_scales:
            from reds_tflm.keras.slicing import narrow_model
            own = [ex.tflm_accuracy(ex.int8_tflite(narrow_model(model, graph, w), train.x, samples=n, seed=calib_seed),
                                    test.x, test.y) for w in state["widths"]]
            row["accuracy_int8_own_scales"] = [round(float(a), 4) for a in own]
            print(f"{ckpt}: {n:5d} images, own scales per budget: " + " / ".join(f"{100 * a:.2f}" for a in own),
                  flush=True)
        rows.append(row)
    out = {"checkpoint": str(ckpt), "budgets": state["budgets"], "rows": rows}
    if weights_only:
        out.update(split_weights(model, graph, state["widths"], test, ckpt))
    return out


def split_weights(model, graph, widths, test, ckpt: Path) -> dict:
    """Float accuracy of every budget, and with only the kernels rounded to int8 per output channel (activations
    float): the training's simulated int8 pass (SlicedNet with fake_quant={}) without activation ranges."""
    from reds_tflm.keras.loops import accuracies
    from reds_tflm.keras.slicing import SlicedNet
    fl = accuracies(SlicedNet(model, graph), widths, test.x, test.y)
    wq = accuracies(SlicedNet(model, graph, fake_quant={}), widths, test.x, test.y)
    print(f"{ckpt}: float " + " / ".join(f"{100 * a:.2f}" for a in fl) + ", int8 weights "
          + " / ".join(f"{100 * a:.2f}" for a in wq), flush=True)
    return {"accuracy_float": [round(float(a), 4) for a in fl],
            "accuracy_float_int8_weights": [round(float(a), 4) for a in wq]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--samples", default="200,1000,3000", help="calibration image counts (200: the export's default)")
    p.add_argument("--calib-seed", type=int, default=0, help="seed of the calibration images' draw")
    p.add_argument("--own-scales", action="store_true",
                   help="also convert each budget's subnetwork on its own (per-budget activation scales)")
    p.add_argument("--weights-only", action="store_true",
                   help="also evaluate the float model with only its kernels rounded to int8 (and write "
                        "int8_weights_only.*)")
    args = p.parse_args()
    try:
        samples = [int(s) for s in args.samples.split(",") if s.strip()]
        if not samples or min(samples) < 1:
            raise ValueError
    except ValueError:
        print(f"error: --samples {args.samples!r}: expected positive integers such as 200,1000", file=sys.stderr)
        return 2
    t0 = time.time()
    try:
        from reds_tflm.keras import example
        ea = example.complete_args(argparse.Namespace())
        data = example.load_data(ea, example.PRESETS["full"])
        runs = [measure(c, samples, args.calib_seed, data, args.own_scales, args.weights_only)
                for c in args.checkpoints]
    except RedsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    res = ROOT / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    if args.weights_only:  # a split of its own: the calibration tables of other checkpoints stay as they are
        write_split(runs, res, f"{samples[0]} calibration images drawn with seed {args.calib_seed}")
        return 0
    stem = "int8_own_scales" if args.own_scales else "int8_calibration"
    doc = {"benchmark": stem, "calib_seed": args.calib_seed, "test_images": 10000,
           "seconds": round(time.time() - t0, 1), "runs": runs}
    own = " and with each budget converted on its own (`--own-scales`)" if args.own_scales else ""
    lines = [f"# int8 accuracy vs calibration images{own} (`benchmarks/int8_calibration.py`)", "",
             f"Calibration images drawn from the training set with seed {args.calib_seed}; all 10,000 test images.",
             "", "| checkpoint | calibration images | scales | int8 accuracy at 100 / 75 / 50 / 25 % MACs |",
             "|---|---|---|---|"]
    for r in runs:
        for row in r["rows"]:
            for key, what in (("accuracy_int8", "shared (the REDS model)"), ("accuracy_int8_own_scales", "own")):
                if key in row:
                    lines.append(f"| `{r['checkpoint']}` | {row['samples']} | {what} | "
                                 + " / ".join(f"{100 * a:.2f}" for a in row[key]) + " |")
    outputs = ((f"{stem}.json", json.dumps(doc, indent=1)), (f"{stem}.md", "\n".join(lines) + "\n"))
    for name, text in outputs:
        write_bytes_atomic(res / name, text.encode())
    print("\n".join(lines))
    return 0


def write_split(runs: list[dict], res: Path, calibration: str) -> None:
    """int8_weights_only.{json,md}: float, float with int8 weights, and the REDS int8 model (first sample count)."""
    lines = ["# Where the int8 conversion loses accuracy (`benchmarks/int8_calibration.py --weights-only`)", "",
             "All 10,000 test images; accuracy at 100 / 75 / 50 / 25 % MACs. \"int8 weights\": the float model with "
             "every kernel rounded to int8 per output channel (activations float); \"int8\": the REDS int8 model "
             f"({calibration}).", "",
             "| checkpoint | float | int8 weights | int8 |", "|---|---|---|---|"]
    pct = lambda xs: " / ".join(f"{100 * a:.2f}" for a in xs)  # noqa: E731
    for r in runs:
        lines.append(f"| `{r['checkpoint']}` | {pct(r['accuracy_float'])} | "
                     f"{pct(r['accuracy_float_int8_weights'])} | {pct(r['rows'][0]['accuracy_int8'])} |")
    keys = ("checkpoint", "budgets", "accuracy_float", "accuracy_float_int8_weights")
    doc = {"calibration": calibration, "runs": [{**{k: r[k] for k in keys},
                                                 "accuracy_int8": r["rows"][0]["accuracy_int8"]} for r in runs]}
    write_bytes_atomic(res / "int8_weights_only.json", json.dumps(doc, indent=1).encode())
    write_bytes_atomic(res / "int8_weights_only.md", ("\n".join(lines) + "\n").encode())
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
