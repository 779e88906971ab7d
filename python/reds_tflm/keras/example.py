"""`python -m reds_tflm train --example fashion-mnist`: the worked example behind the CLI and the benchmark.

`add_arguments(parser)` declares the options, `run_example(args)` trains DS-CNN S (or the small CNN / MLP) on
Fashion-MNIST with REDS and writes model.reds.tflite, widths.json and the report into --out. --quick trains on a
class-stratified subset for a few epochs (minutes on two cores); the full preset is what the paper's table uses.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RedsError
from .models import ARCHITECTURES

EXAMPLES = ("fashion-mnist",)


@dataclass(frozen=True)
class Preset:
    train_samples: int | None
    test_samples: int | None
    int8_samples: int | None
    pretrain_epochs: int
    finetune_epochs: int
    bn_epochs: int
    importance_batches: int
    batch_size: int = 100


PRESETS = {"quick": Preset(10000, 2000, 1000, 8, 4, 1, 20),
           "full": Preset(None, None, None, 15, 24, 1, 100)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--example", choices=EXAMPLES, default="fashion-mnist", help="dataset of the worked example")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default="ds-cnn-s", help="model architecture")
    p.add_argument("--budgets", default="1,0.75,0.5,0.25", help="MAC fractions, budget 0 = 1 (full network)")
    p.add_argument("--quick", action="store_true", help="small subset and few epochs (a few minutes)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation, data order and subsets")
    p.add_argument("--out", type=Path, default=None, help="output directory (default out/train-ARCH[-quick])")
    p.add_argument("--checkpoint", type=Path, default=None, help="checkpoint directory (default OUT/checkpoint)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint directory if it holds one (else start; the benchmark "
                        "always passes it, so that a cut-off run picks up where it stopped)")
    p.add_argument("--init-from", type=Path, default=None,
                   help="checkpoint directory of an earlier run: start from its pre-trained snapshot (no pre-training)")
    p.add_argument("--mode", choices=("top-down", "bottom-up"), default="top-down", help="nested width selection")
    p.add_argument("--importance", choices=("l1", "l2"), default="l1", help="reduction of Taylor scores per unit")
    p.add_argument("--score-scale", choices=("global", "group"), default="global",
                   help="compare Taylor scores across groups (global) or only within a group (group)")
    p.add_argument("--min-fraction", type=float, default=0.25,
                   help="every narrowable group keeps at least this fraction of its channels at every budget")
    p.add_argument("--head-min-fraction", type=float, default=0.0,
                   help="the classifier's input group keeps at least this fraction of its channels at every budget "
                        "(the REDS authors keep 60 of 64: 0.9375); default 0")
    p.add_argument("--finetune-lr", type=float, default=None, help="learning rate of the joint phase (default 1.5e-3)")
    p.add_argument("--distill", type=float, default=0.5,
                   help="distillation weight d: the subnetworks' losses are (1-d)*CE(labels) + d*CE(teacher); "
                        "0 = labels only (published); default 0.5 (docs/method.md)")
    p.add_argument("--teacher", choices=("inplace", "pretrained"), default="pretrained",
                   help="distillation target: a frozen copy of the pre-trained network, for every subnetwork "
                        "including the full one (pretrained, default: measured best, docs/method.md), or the full "
                        "subnetwork of the same step, for the smaller ones (inplace)")
    p.add_argument("--teacher-from", nargs="+", default=[], metavar="DIR",
                   help="with --teacher pretrained: checkpoint directories of earlier runs of the same architecture "
                        "whose pre-trained networks join the teacher (the average of their outputs and this run's)")
    p.add_argument("--distill-temperature", type=float, default=1.0,
                   help="softmax temperature T of the distillation term, scaled by T^2 (default 1, as published)")
    p.add_argument("--alphas", choices=("sqrt-params", "uniform"), default="sqrt-params",
                   help="weights of the subnetworks' losses in the joint step (default: sqrt of the parameter "
                        "fraction, as published)")
    p.add_argument("--augment", default="",
                   help="training-time augmentation, comma-separated: flip (left-right), shift (up to 2 pixels); "
                        "default none")
    p.add_argument("--cost-profile", metavar="NAME|FILE", default=None,
                   help="budgets in a target's predicted instructions instead of MACs (bundled: cortex-m4-dsp, "
                        "cortex-m4-portable; or a JSON file of that form)")
    p.add_argument("--width-multiple", type=int, default=1, metavar="M",
                   help="widths in steps of M in every group whose size is a multiple of M (e.g. 4: whole words "
                        "for the Cortex-M4 DSP loops); default 1")
    p.add_argument("--qat-epochs", type=int, default=0, metavar="N",
                   help="conversion-aware epochs after the BN phase: the joint step through a simulated int8 model "
                        "(kernels rounded per output channel, activations on 8-bit ranges); default 0")
    p.add_argument("--epochs", type=int, default=None, help="override the pre-training epochs of the preset")
    p.add_argument("--finetune-epochs", type=int, default=None, help="override the joint fine-tuning epochs")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def augment_kinds(args: argparse.Namespace) -> tuple[str, ...]:
    """--augment "flip,shift" as TrainConfig.augment."""
    return tuple(a.strip() for a in str(args.augment).split(",") if a.strip())


def _dirs(args: argparse.Namespace) -> tuple[Path, Path]:
    out = args.out or Path("out") / f"train-{args.arch}{'-quick' if args.quick else ''}"
    ckpt = args.checkpoint or out / "checkpoint"
    for what, d in (("--out", out), ("--checkpoint", ckpt)):
        for p in (d, *d.parents):  # the directory, or the first part of its path that exists, must be a directory
            if p.exists():
                if not p.is_dir():
                    raise RedsError(f"{what} {d}: {p} is a file, expected a directory")
                break
    if (ckpt / "state.json").exists() and not args.resume:
        raise RedsError(f"{ckpt} holds a checkpoint: pass --resume to continue it, or choose another --out/"
                        "--checkpoint (or delete it)")
    return out, ckpt


def check_options(args: argparse.Namespace) -> tuple[float, ...]:
    """Every option checked before data are loaded or anything trains (a bad value found after 15 epochs of
    pre-training would also leave a checkpoint behind that blocks the corrected run); returns the budgets."""
    try:
        budgets = tuple(float(b) for b in str(args.budgets).split(",") if b.strip())
    except ValueError:
        raise RedsError(f"--budgets {args.budgets!r}: expected comma-separated fractions such as 1,0.5") from None
    if not budgets or budgets[0] != 1.0 or any(b >= a for a, b in zip(budgets, budgets[1:])) or budgets[-1] <= 0:
        raise RedsError(f"--budgets {args.budgets!r}: the first budget must be 1 (the full network) and the "
                        "fractions must decrease strictly and stay above 0")
    checks = [("--seed", args.seed, 0 <= args.seed < 2 ** 32, "an integer in 0..2**32-1"),
              ("--min-fraction", args.min_fraction, 0 <= args.min_fraction < 1, "in [0, 1)"),
              ("--head-min-fraction", args.head_min_fraction, 0 <= args.head_min_fraction <= 1, "in [0, 1]"),
              ("--distill", args.distill, 0 <= args.distill <= 1, "in [0, 1]"),
              ("--distill-temperature", args.distill_temperature, args.distill_temperature > 0, "> 0"),
              ("--finetune-lr", args.finetune_lr, args.finetune_lr is None or args.finetune_lr > 0, "> 0"),
              ("--epochs", args.epochs, args.epochs is None or args.epochs >= 0, "an integer >= 0"),
              ("--finetune-epochs", args.finetune_epochs, args.finetune_epochs is None or args.finetune_epochs >= 0,
               "an integer >= 0"),
              ("--qat-epochs", args.qat_epochs, args.qat_epochs >= 0, "an integer >= 0"),
              ("--width-multiple", args.width_multiple, args.width_multiple >= 1, "an integer >= 1")]
    for flag, value, ok, want in checks:
        if not ok:
            raise RedsError(f"{flag} {value}: must be {want}")
    if args.cost_profile is not None:
        from ..cost_profile import resolve
        resolve(0.0, args.cost_profile)  # an unknown name or a bad file fails here, not after pre-training
    return budgets


def load_data(args: argparse.Namespace, preset: Preset) -> tuple[Any, Any]:
    from ..data import load_fashion_mnist, subset
    if args.example != "fashion-mnist":
        raise RedsError(f"unknown example {args.example!r}")
    train, test = load_fashion_mnist()
    return subset(train, preset.train_samples, args.seed), subset(test, preset.test_samples, args.seed + 1)


def run_example(args: argparse.Namespace) -> Any:
    """Train, convert and report; returns the TrainResult (its .export holds the int8 results)."""
    preset = PRESETS["quick" if args.quick else "full"]
    budgets = check_options(args)  # before TensorFlow loads: a bad option costs a second, not an import
    out, ckpt = _dirs(args)
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from .models import build
    from .train import TrainConfig, train
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    train_data, test_data = load_data(args, preset)
    keras.utils.set_random_seed(args.seed)
    model = build(args.arch)
    cfg = TrainConfig(budgets=budgets, seed=args.seed, progress=not args.no_progress, mode=args.mode,
                      importance_norm=args.importance, score_scale=args.score_scale, min_fraction=args.min_fraction,
                      head_min_fraction=args.head_min_fraction,
                      batch_size=preset.batch_size,
                      pretrain_epochs=args.epochs if args.epochs is not None else preset.pretrain_epochs,
                      finetune_epochs=args.finetune_epochs if args.finetune_epochs is not None
                      else preset.finetune_epochs,
                      bn_epochs=preset.bn_epochs,
                      finetune_lr=args.finetune_lr if args.finetune_lr is not None else TrainConfig.finetune_lr,
                      importance_batches=preset.importance_batches, distill=args.distill,
                      alphas=args.alphas, teacher=args.teacher,
                      distill_temperature=args.distill_temperature, augment=augment_kinds(args),
                      teacher_from=tuple(str(d) for d in args.teacher_from), qat_epochs=args.qat_epochs,
                      cost_profile=args.cost_profile, width_multiple=args.width_multiple)
    result = train(model, train_data, test_data, budgets, checkpoint_dir=ckpt, init_from=args.init_from, config=cfg)
    from .export import export_reds
    result.export = export_reds(result, train_data.x, (test_data.x, test_data.y), out, seed=args.seed,
                                int8_samples=preset.int8_samples, progress=cfg.progress)
    return result


def complete_args(args: argparse.Namespace) -> argparse.Namespace:
    """`args` with every option of `add_arguments` present (defaults for the ones a caller's parser lacks)."""
    p = argparse.ArgumentParser()
    add_arguments(p)
    full = p.parse_args([])
    for k, v in vars(args).items():
        setattr(full, k, v)
    for k in ("out", "checkpoint", "init_from"):
        if getattr(full, k) is not None:
            setattr(full, k, Path(getattr(full, k)))
    return full


def main(args: argparse.Namespace) -> int:
    """Entry point for the `train` sub-command: prints the report table, returns the exit status."""
    result = run_example(complete_args(args))
    print((result.export.path.parent / "report.md").read_text())
    return 0

