"""`demo`: convert the bundled Fashion-MNIST DS-CNN and measure every subnetwork on real test images.

The bundled model is a standard int8 .tflite (plain Keras training, no REDS fine-tuning: see
benchmarks/make_demo_model.py), so the accuracies show what post-training conversion alone gives. A second bundled
model, the same architecture trained with REDS (`train`), is evaluated on the same images next to it.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources
from pathlib import Path


from . import tflite_io as tio
from .errors import RedsError

DEMO_MODEL = "ds_cnn_s_fashion_int8.tflite"
# The same architecture trained with REDS (benchmarks/train_fashion.py with the example's defaults; provenance and
# full test-set accuracies in the .json next to it): what `train` gives, for comparison.
TRAINED_MODEL = "ds_cnn_s_fashion_reds_trained.tflite"


def demo_model_bytes(name: str = DEMO_MODEL) -> bytes:
    ref = resources.files("reds_tflm") / "assets" / name
    try:
        return ref.read_bytes()
    except FileNotFoundError:
        raise RedsError(f"bundled model {name} is missing from the installed package") from None


def _print_table(title: str, table: list[dict], accs: list[float]) -> None:
    print(title)
    print(f"{'k':>2} {'%MACs':>7} {'MACs':>11} {'params':>9} {'flash B':>9} {'accuracy':>9}")
    for k, (row, acc) in enumerate(zip(table, accs)):
        print(f"{k:>2} {100 * row['macs_fraction']:>6.1f}% {row['macs']:>11,} {row['params']:>9,} "
              f"{row['weight_bytes']:>9,} {100 * acc:>8.2f}%")


def run_demo(a: argparse.Namespace) -> int:
    from .convert import convert_model
    from .data.loaders import load_fashion_mnist
    from .hostrun import evaluate

    # checked before anything is written or computed: --limit 0 means the whole test set
    if a.limit is not None and a.limit < 0:
        raise RedsError(f"--limit {a.limit}: expected a number of test images >= 1, or 0 for all of them")
    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise RedsError(f"--out {out}: is an existing file, expected a directory (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a file where a parent directory should be, or no permission
        raise RedsError(f"--out {out}: cannot create the directory ({exc.strerror or exc})") from None
    data = demo_model_bytes()
    src = out / "ds_cnn_s_fashion_int8.tflite"
    tio.write_bytes_atomic(src, data)
    t0 = time.perf_counter()
    res = convert_model(tio.parse_model(data), name=DEMO_MODEL)
    t_conv = time.perf_counter() - t0
    dst = out / "ds_cnn_s_fashion_int8.reds.tflite"
    reds = tio.save_model(res.model, dst)
    print(f"converted {DEMO_MODEL} ({len(data)} bytes) -> {dst} ({len(reds)} bytes) in {t_conv:.2f} s: "
          f"{len(res.reds_ops)} REDS ops, {len(res.widths)} budgets")

    _, test = load_fashion_mnist()
    n = min(a.limit, len(test.x)) if a.limit else len(test.x)
    t0 = time.perf_counter()
    accs = evaluate(res.model, test.x[:n], test.y[:n])  # float images: evaluate quantises them to the input
    t_eval = time.perf_counter() - t0
    _print_table(f"\npost-training conversion: int8 accuracy on the first {n} Fashion-MNIST test images (C core + "
                 f"TFLM on the host, {t_eval:.1f} s):", res.table, accs)

    trained = tio.parse_model(demo_model_bytes(TRAINED_MODEL), TRAINED_MODEL)
    table_t = json.loads(tio.get_metadata(trained, "reds"))["budgets"]
    accs_t = evaluate(trained, test.x[:n], test.y[:n])
    _print_table(f"\nthe same architecture trained with REDS (bundled {TRAINED_MODEL}, made by `python -m reds_tflm "
                 "train --example fashion-mnist`), same images:", table_t, accs_t)
    print("\nPost-training conversion alone loses the small budgets; joint fine-tuning of all subnetworks keeps "
          "them near full accuracy.")
    return 0

