#!/usr/bin/env python3
"""REDS training benchmark on Fashion-MNIST: DS-CNN S (default), 4 nested subnetworks, int8 accuracy per budget.

    python benchmarks/train_fashion.py --quick            # subset, a few minutes
    python benchmarks/train_fashion.py --resume           # full run, resumable (checkpoints under runs/)

Steps: pre-train the full model → REDS (importance, permutation, nested widths, joint fine-tuning, BN phase) →
int8 model.reds.tflite → accuracy of every budget on the int8 model; baseline: the same architecture at each
budget's widths trained from scratch for as many epochs as the pre-training, converted to int8 the same way.
Writes benchmarks/results/train_<arch>[_quick].{json,md,png}; the REDS artefacts stay in runs/.../out/.
Test accuracy is measured on the Fashion-MNIST test set (the subset with --quick); nothing is selected on it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

from reds_tflm.errors import RedsError  # noqa: E402
from reds_tflm.tflite_io import replace_marked_section, write_bytes_atomic  # noqa: E402
from reds_tflm.keras import example  # noqa: E402
from reds_tflm.keras.train import TrainConfig  # noqa: E402

PUBLISHED = {"source": "REDS paper, DS-CNN S on Fashion-MNIST, float, 4 subnetworks",
             "fractions": [1.0, 0.75, 0.5, 0.25], "accuracy": [0.916, 0.9151, 0.9075, 0.8922],
             "pretrained_full": 0.9059}
# The architectures the published figures are compared with: the authors' own Fashion-MNIST network
# (ds-cnn-s-vision) and our keyword-spotting-shaped DS-CNN S (docs/method.md, "The published setup").
PUBLISHED_ARCHS = ("ds-cnn-s", "ds-cnn-s-vision")
log = logging.getLogger("train_fashion")


def baseline(args: argparse.Namespace, result, preset: example.Preset, data, run_dir: Path) -> list[dict]:
    """Every budget's architecture trained from scratch (float and int8 accuracy), checkpointed per model."""
    import keras
    from reds_tflm.keras.checkpoint import Checkpoint
    from reds_tflm.keras.export import eval_subset, int8_tflite, tflm_accuracy
    from reds_tflm.keras.loops import model_accuracy
    from reds_tflm.keras.slicing import narrow_model
    from reds_tflm.keras.train import TrainConfig, fit_full
    train, test = data
    xi, yi = eval_subset(test.x, test.y, preset.int8_samples, args.seed)
    rows = []
    epochs = args.epochs if args.epochs is not None else preset.pretrain_epochs
    for k, w in enumerate(result.widths):
        ckpt = Checkpoint(run_dir / f"baseline_{k}")
        keras.utils.set_random_seed(args.seed + 100 + k)
        model = narrow_model(result.model, result.graph, w, copy_weights=False)
        state = ckpt.load_state() or {"epoch": 0, "history": [], "widths": w}
        if state.get("widths") != w:
            raise RedsError(f"{ckpt.dir}: baseline checkpoint is for widths {state.get('widths')}, not {w}")
        if state["epoch"]:
            ckpt.load_weights(model)
        if "accuracy_int8" not in state:
            fit_full(model, train, (test.x, test.y), epochs, TrainConfig.pretrain_lr, preset.batch_size,
                     args.seed + 100 + k, ckpt, state, not args.no_progress, phase=f"baseline {k}",
                     augment=example.augment_kinds(args))
            state["accuracy_float"] = model_accuracy(model, test.x, test.y)
            state["accuracy_int8"] = tflm_accuracy(int8_tflite(model, train.x, seed=args.seed), xi, yi)
            ckpt.save(state, model)
        log.info("baseline %d widths %s: float %.4f, int8 %.4f", k, w, state["accuracy_float"],
                 state["accuracy_int8"])
        rows.append({"budget": k, "widths": w, "macs": int(result.graph.macs(w)),
                     "params": int(result.graph.params(w)), "accuracy_float": state["accuracy_float"],
                     "accuracy_int8": state["accuracy_int8"], "epochs": epochs})
    return rows


RESULTS = ROOT / "benchmarks" / "results"


def result_name(args: argparse.Namespace) -> str:
    """File stem of a run's results: architecture, preset, method options, seed."""
    return f"train_{args.arch.replace('-', '_')}{'_quick' if args.quick else ''}{_variant(args)}" \
           f"{f'_s{args.seed}' if args.seed else ''}"


def method_text(args: argparse.Namespace) -> str:
    """The method of a run in words (the results' "method" key, without the final full stop)."""
    return (f"Taylor importance ({args.importance}), score scale {args.score_scale}, {args.mode} widths, "
            f"minimum width fraction {args.min_fraction:g}"
            f"{f' ({args.head_min_fraction:g} for the classifier input)' if getattr(args, 'head_min_fraction', 0.0) else ''}"
            f", joint lr "
            f"{args.finetune_lr if args.finetune_lr is not None else TrainConfig.finetune_lr:g}, "
            f"{_joint_epochs(args)} joint epochs{_distillation(args)}"
            f"{f', {args.alphas} loss weights' if args.alphas != 'sqrt-params' else ''}"
            f"{f', augmentation {args.augment}' if args.augment else ''}, {_pretrain_epochs(args)} pre-training epochs"
            f"{f', budgets in {args.cost_profile} predicted instructions' if args.cost_profile else ''}"
            f"{f', widths in steps of {args.width_multiple}' if args.width_multiple != 1 else ''}"
            f"{f', {args.qat_epochs} conversion-aware epochs' if getattr(args, 'qat_epochs', 0) else ''}")


def check_results_free(args: argparse.Namespace) -> None:
    """Results are only ever replaced by a run of the same method and seed (a resumed or repeated run): an earlier
    file under the same name from another configuration (the names were shorter while other defaults held) stays."""
    path = RESULTS / f"{result_name(args)}.json"
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RedsError(f"{path}: unreadable earlier results ({exc}); move it away first") from exc
    if old.get("method") != f"{method_text(args)}." or old.get("seed") != args.seed:
        raise RedsError(f"{path} holds the results of another configuration (seed {old.get('seed')}: "
                        f"{old.get('method')}); move it away or rename it first")


def write_results(args: argparse.Namespace, result, base: list[dict] | None, seconds: float) -> Path:
    from reds_tflm.keras.report import markdown, plot, rows
    name = result_name(args)
    res_dir = RESULTS
    res_dir.mkdir(parents=True, exist_ok=True)
    table = rows(result, result.export)
    preset = _preset(args)
    pre, ft = _pretrain_epochs(args), _joint_epochs(args)
    method = method_text(args)
    doc = {"benchmark": "train_fashion", "arch": args.arch, "quick": args.quick, "seed": args.seed,
           "preset": preset.__dict__, "seconds": round(seconds, 1),
           "epochs": {"pretrain": pre, "joint": ft, "bn": preset.bn_epochs},
           "init_from": str(args.init_from) if getattr(args, "init_from", None) else None,
           "teacher_from": [str(d) for d in getattr(args, "teacher_from", None) or []] or None,
           "resumed_from_phase": getattr(args, "resumed_from", None), "int8_samples": result.export.int8_samples,
           "int8_engine": result.export.int8_engine, "model_bytes": result.export.path.stat().st_size,
           "budgets": [{k: r[k] for k in ("fraction", "macs", "params", "accuracy_float", "accuracy_int8",
                                           "flash_weight_bytes", "widths")} for r in table],
           "pretrained_full_accuracy": result.history and next(
               (h["val_accuracy"][0] for h in reversed(result.history) if h["phase"] == "pretrain"), None),
           "baseline": base, "published": PUBLISHED if args.arch in PUBLISHED_ARCHS else None,
           "method": f"{method}.",
           "history": result.history}
    write_bytes_atomic(res_dir / f"{name}.json", json.dumps(doc, indent=1).encode())
    notes = [f"method: {method}",
             f"{'quick preset: ' + str(preset.train_samples) + ' training images, ' if args.quick else ''}"
             f"{pre} pre-training + {ft} joint + {preset.bn_epochs} BN "
             f"epochs, seed {args.seed}, {seconds / 60:.1f} min wall time on this machine (all invocations)"
             f"{' (resumed at phase ' + args.resumed_from + ')' if getattr(args, 'resumed_from', None) else ''}",
             f"int8 accuracy: {result.export.int8_samples} test images, {result.export.int8_engine}; "
             f"one model file of {doc['model_bytes']:,} bytes holds every budget"]
    if base:
        notes.append("baseline (trained from scratch at each budget's widths, int8): " + ", ".join(
            f"{100 * b['accuracy_int8']:.2f} %" for b in base))
    if args.arch in PUBLISHED_ARCHS:
        notes.append("published (float): " + ", ".join(f"{100 * a:.2f} %" for a in PUBLISHED["accuracy"]))
    write_bytes_atomic(res_dir / f"{name}.md",
                       markdown(table, f"REDS training: {args.arch} on Fashion-MNIST", notes).encode())
    series = {"REDS int8": ([r["macs"] for r in table], [r["accuracy_int8"] for r in table]),
              "REDS float": ([r["macs"] for r in table], [r["accuracy_float"] for r in table])}
    if base:
        series["from scratch int8"] = ([b["macs"] for b in base], [b["accuracy_int8"] for b in base])
    if args.arch in PUBLISHED_ARCHS and not args.quick:
        full = result.graph.macs()
        series["published float"] = ([f * full for f in PUBLISHED["fractions"]], PUBLISHED["accuracy"])
    plot(series, res_dir / f"{name}.png", f"{args.arch} on Fashion-MNIST{' (quick)' if args.quick else ''}")
    update_readme(res_dir)
    return res_dir / f"{name}.md"


# Quick runs shown in full: the example's defaults, named as now and as before the names spelt out the joint epochs
# and the teacher; other quick variants are listed in one table.
RECOMMENDED = ("_min0.25_ft4_teacher-pretrained", "_min0.25")
README_BEGIN, README_END = "<!-- train:begin (generated by benchmarks/train_fashion.py) -->", "<!-- train:end -->"


def readme_section(res_dir: Path) -> str:
    """The training section of benchmarks/README.md, from every results/train_*.json (full runs first)."""
    docs = [(p, json.loads(p.read_text())) for p in sorted(res_dir.glob("train_*.json"))]
    docs.sort(key=lambda d: (d[1].get("quick", False), d[0].name))
    out = [README_BEGIN, "## Training (Fashion-MNIST, `benchmarks/train_fashion.py`)", "",
           "REDS subnetworks trained from a Keras model (docs/method.md), converted to one int8 model.reds.tflite; "
           "accuracy of every budget measured on that int8 model. Baseline: the same architecture at each budget's "
           "widths trained from scratch (int8). Published: the REDS paper's float figures for DS-CNN S.", ""]
    main = [(p, d) for p, d in docs if not d['quick'] or p.stem.endswith(RECOMMENDED)]
    variants = [(p, d) for p, d in docs if (p, d) not in main]
    for path, d in main:
        pre = d["preset"]
        ep = d.get("epochs") or {"pretrain": pre["pretrain_epochs"], "joint": pre["finetune_epochs"],
                                 "bn": pre["bn_epochs"]}
        out.append(f"### {d['arch']}{' (quick)' if d['quick'] else ''} — `results/{path.name}`")
        out.append("")
        out.append(f"{pre['train_samples'] or 60000} training images, {ep['pretrain']} pre-training + "
                   f"{ep['joint']} joint + {ep['bn']} BN epochs, seed {d['seed']}, "
                   f"{d['seconds'] / 60:.0f} min"
                   f"{' (pre-trained weights from ' + d['init_from'] + ')' if d.get('init_from') else ''}"
                   f"{' (resumed at phase ' + d['resumed_from_phase'] + ')' if d.get('resumed_from_phase') else ''}"
                   f"; int8 on {d['int8_samples']} test images; one model file of "
                   f"{d['model_bytes']:,} bytes. {d.get('method', '')}")
        out.append("")
        base = d.get("baseline") or []
        # results written before ds-cnn-s-vision was listed carry no "published" key
        pub = d.get("published") or (PUBLISHED if d.get("arch") in PUBLISHED_ARCHS and not d.get("quick") else {})
        out.append("| budget | % MACs | MACs | params | REDS int8 | REDS float | from scratch int8 | published float |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        full = d["budgets"][0]["macs"]
        for k, b in enumerate(d["budgets"]):
            bs = f"{100 * base[k]['accuracy_int8']:.2f} %" if k < len(base) else "–"
            ps = f"{100 * pub['accuracy'][k]:.2f} %" if pub and k < len(pub.get("accuracy", [])) else "–"
            out.append(f"| {k} | {100 * b['macs'] / full:.1f} | {b['macs']:,} | {b['params']:,} | "
                       f"{100 * b['accuracy_int8']:.2f} % | {100 * b['accuracy_float']:.2f} % | {bs} | {ps} |")
        out.append("")
        out.append(f"![{path.stem}](results/{path.stem}.png)")
        out.append("")
    if variants:
        out.append("### Method variants (quick preset, no baselines)")
        out.append("")
        out.append("| results | method | int8 accuracy at 100 / 75 / 50 / 25 % MACs |")
        out.append("|---|---|---|")
        for path, d in variants:
            accs = " / ".join(f"{100 * b['accuracy_int8']:.1f}" for b in d["budgets"])
            out.append(f"| `results/{path.name}` | {d.get('method', '')} | {accs} |")
        out.append("")
    out.append(README_END)
    return "\n".join(out)


def update_readme(res_dir: Path) -> None:
    """Replace (or append) the generated training section; the rest of the README belongs to others."""
    replace_marked_section(res_dir.parent / "README.md", README_BEGIN, README_END, readme_section(res_dir),
                           "# Benchmarks\n")


def _distillation(args: argparse.Namespace) -> str:
    if not args.distill:
        return ""
    temp = f" at temperature {args.distill_temperature:g}" if args.distill_temperature != 1 else ""
    if args.teacher == "inplace":
        return f", in-place distillation {args.distill:g}{temp}"
    ens = getattr(args, "teacher_from", None)
    if ens:
        return (f", distillation {args.distill:g}{temp} from an ensemble of the frozen pre-trained network and the "
                f"pre-trained networks of {len(ens)} earlier run{'s' if len(ens) > 1 else ''}")
    return f", distillation {args.distill:g}{temp} from the frozen pre-trained network"


def _preset(args: argparse.Namespace) -> example.Preset:
    return example.PRESETS["quick" if args.quick else "full"]


def _pretrain_epochs(args: argparse.Namespace) -> int:
    return args.epochs if args.epochs is not None else _preset(args).pretrain_epochs


def _joint_epochs(args: argparse.Namespace) -> int:
    return args.finetune_epochs if args.finetune_epochs is not None else _preset(args).finetune_epochs


def _variant(args: argparse.Namespace) -> str:
    """Suffix naming the method options of a run: the joint epochs and the teacher always (their defaults changed
    after results had been named without them), the other options where they differ from the defaults."""
    return (f"_min{args.min_fraction:g}" if args.min_fraction else "") + \
        (f"_head{args.head_min_fraction:g}" if getattr(args, "head_min_fraction", 0.0) else "") + \
        (f"_lr{args.finetune_lr:g}" if args.finetune_lr is not None else "") + \
        f"_ft{_joint_epochs(args)}" + \
        (f"_distill{args.distill:g}" if args.distill != 0.5 else "") + \
        (f"_T{args.distill_temperature:g}" if args.distill_temperature != 1 else "") + \
        (f"_{args.alphas}" if args.alphas != "sqrt-params" else "") + \
        f"_teacher-{args.teacher}" + \
        (f"_ensemble{len(args.teacher_from) + 1}" if getattr(args, "teacher_from", None) else "") + \
        (f"_aug-{args.augment.replace(',', '-')}" if args.augment else "") + \
        (f"_pre{args.epochs}" if args.epochs is not None else "") + \
        (f"_{args.score_scale}scale" if args.score_scale != "global" else "") + \
        (f"_{args.mode}" if args.mode != "top-down" else "") + \
        (f"_{args.importance}" if args.importance != "l1" else "") + \
        (f"_cost-{Path(args.cost_profile).stem}" if args.cost_profile else "") + \
        (f"_mult{args.width_multiple}" if args.width_multiple != 1 else "") + \
        (f"_qat{args.qat_epochs}" if getattr(args, "qat_epochs", 0) else "")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    example.add_arguments(p)
    p.add_argument("--runs", type=Path, default=ROOT / "runs", help="checkpoint root (git-ignored)")
    p.add_argument("--no-baseline", action="store_true", help="skip the from-scratch baselines")
    p.add_argument("--baseline", action="store_true",
                   help="with --quick: train the from-scratch baselines too (about 6 more minutes)")
    args = p.parse_args()
    try:
        check_results_free(args)
    except RedsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_dir = args.runs / f"train_{args.arch}{'_quick' if args.quick else ''}{_variant(args)}_s{args.seed}"
    args.out = args.out or run_dir / "out"
    args.checkpoint = args.checkpoint or run_dir / "checkpoint"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    t0 = time.time()
    args.resumed_from = None
    if (args.checkpoint / "state.json").exists():
        args.resumed_from = json.loads((args.checkpoint / "state.json").read_text()).get("phase")
        # wall time over every invocation of the run: the earlier ones' is in their results (same method and
        # seed: check_results_free)
        earlier = RESULTS / f"{result_name(args)}.json"
        if earlier.exists():
            t0 -= float(json.loads(earlier.read_text()).get("seconds") or 0.0)
    try:
        result = example.run_example(args)
        preset = _preset(args)
        path = write_results(args, result, None, time.time() - t0)  # REDS figures first: baselines take long
        if not args.no_baseline and (args.baseline or not args.quick):
            base = baseline(args, result, preset, example.load_data(args, preset), run_dir)
            path = write_results(args, result, base, time.time() - t0)
    except RedsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
