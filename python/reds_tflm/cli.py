"""Command line: `python -m reds_tflm convert|inspect|materialize|run|eval|export-c|train|demo`.

Every RedsError (and a missing or unreadable file) becomes one line on stderr and exit status 2. Any other
exception is a corrupt input the readers did not foresee, or a bug: one line naming the command's input files and
the exception, exit status 3; REDS_TFLM_DEBUG=1 re-raises it with its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from . import tflite_io as tio
from .errors import RedsError


def _out_path(src: Path, out: str | None, suffix: str) -> Path:
    dst = Path(out) if out else src.with_name(src.name[: -len(".tflite")] + suffix if src.name.endswith(".tflite")
                                             else src.name + suffix)
    if dst.is_dir() or dst.name in ("", ".", ".."):
        raise RedsError(f"{dst}: is a directory; give a file name with -o")
    _not_an_input(dst, src)
    return dst


def _not_an_input(dst: Path, *inputs: str | Path) -> None:
    """An output may never replace an input (also through a symlink or another spelling of the path)."""
    for src in inputs:
        s = Path(src)
        if dst.resolve() == s.resolve() or (dst.exists() and s.exists() and os.path.samefile(dst, s)):
            raise RedsError(f"{dst}: output would overwrite the input {s}; choose another output path")


def cmd_convert(a: argparse.Namespace) -> int:
    from .convert import convert_model, load_widths_file, parse_budgets
    from .errors import BudgetError
    from .graph_tflite import graph_from_tflite
    src = Path(a.model)
    dst = _out_path(src, a.output, ".reds.tflite")  # checked before the search runs
    if a.budgets is not None and a.macs is not None:
        raise BudgetError("--budgets and --macs exclude each other: give fractions or absolute MACs")
    searched = {"--macs": a.macs is not None, "--min-fraction": a.min_fraction != 0.0,
                "--min-width": a.min_width != 1, "--output-cost": a.output_cost != 0.0,
                "--cost-profile": a.cost_profile is not None, "--width-multiple": a.width_multiple != 1}
    if a.widths and any(searched.values()):
        raise RedsError(f"--widths {a.widths} gives the widths; {', '.join(k for k, v in searched.items() if v)} "
                        "only steer a width search and would be ignored")
    model = tio.load_model(src)
    budgets = parse_budgets(a.budgets) if a.budgets is not None else None  # '' is an error there, not the default
    if budgets is not None and len(budgets) < 2:
        raise BudgetError(f"--budgets {a.budgets}: one budget (the full network) leaves nothing to switch between; "
                          "give two or more")
    macs = parse_budgets(a.macs) if a.macs is not None else None
    widths = None
    if a.widths:
        fractions, widths = load_widths_file(a.widths, graph_from_tflite(model, str(src)))
        budgets = budgets or fractions
    try:
        res = convert_model(model, budgets=budgets, macs=macs, widths=widths, importance=a.importance,
                            min_width=a.min_width, min_fraction=a.min_fraction, mode=a.mode,
                            method=a.method, name=str(src), output_cost=a.output_cost,
                            cost_profile=a.cost_profile, width_multiple=a.width_multiple)
    except BudgetError as exc:
        hint = " (the default budgets 1,0.75,0.5,0.25; choose others with --budgets)" \
            if budgets is None and macs is None else ""
        msg = str(exc) if str(src) in str(exc) else f"{src}: {exc}"
        raise BudgetError(f"{msg}{hint}") from None
    data = tio.save_model(res.model, dst)
    print(f"wrote {dst} ({len(data)} bytes): {len(res.reds_ops)} REDS ops, {len(res.widths)} budgets")
    _print_table(res.table, res.graph.narrowable())
    return 0


def _print_table(table: list[dict], gid: list[int]) -> None:
    """One row per budget; widths of the narrowable groups `gid` only (fixed groups are always full)."""
    print(f"{'k':>2} {'%MACs':>7} {'MACs':>11} {'params':>9} {'flash B':>9}  widths (groups {','.join(map(str, gid))})")
    for k, row in enumerate(table):
        ws = " ".join(str(row["widths"][g]) for g in gid)
        print(f"{k:>2} {100 * row['macs_fraction']:>6.1f}% {row['macs']:>11,} {row['params']:>9,} "
              f"{row['weight_bytes']:>9,}  {ws}")


def cmd_inspect(a: argparse.Namespace) -> int:
    from .rewrite import read_metadata
    src = Path(a.model)
    model = tio.load_model(src)
    size = src.stat().st_size
    meta = read_metadata(model, str(src))
    if meta is None:
        if a.json:
            print(json.dumps({"file": str(src), "file_bytes": size, "reds": None}))
        else:
            print(f"{src}: no REDS ops and no budget table (a standard model; run `convert` first)")
        return 0
    from .materialize import reds_info
    meta, graph = reds_info(model, str(src))
    if a.json:
        print(json.dumps({"file": str(src), "file_bytes": size, "reds": meta}, indent=1))
        return 0
    print(f"{src}: {size} bytes, {len(meta['ops'])} REDS ops, {len(meta['budgets'])} budgets, "
          f"{len(graph.groups)} channel groups ({len(graph.narrowable())} narrowable)")
    _print_table(meta["budgets"], graph.narrowable())
    fixed = [g for g in meta["groups"] if g["fixed"]]
    for g in fixed:
        print(f"   group {g['id']} ({g['size']} ch) stays full width: {g['reason']}")
    return 0


def cmd_materialize(a: argparse.Namespace) -> int:
    from .materialize import materialize
    src = Path(a.model)
    sub = materialize(tio.load_model(src), a.budget, str(src))
    dst = _out_path(src, a.output, f".b{a.budget}.tflite")
    data = tio.save_model(sub, dst)
    print(f"wrote {dst} ({len(data)} bytes): subnetwork {a.budget}, builtin ops only")
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    import numpy as np
    from .hostrun import run_model
    src = Path(a.model)
    if a.output:
        _not_an_input(Path(a.output), src, a.input)
    try:
        x = np.load(a.input, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise RedsError(f"{a.input}: cannot read a .npy array ({type(exc).__name__}: {exc})") from None
    if not isinstance(x, np.ndarray):  # np.load returns an NpzFile for .npz archives
        raise RedsError(f"{a.input}: is an .npz archive; --input takes one .npy array")
    outs = run_model(tio.load_model(src), [x], a.budget, name=str(src))
    if a.output:
        import io
        buf = io.BytesIO()
        np.save(buf, outs[0])
        tio.write_bytes_atomic(a.output, buf.getvalue())
        print(f"wrote {a.output}: output 0 {outs[0].dtype} {list(outs[0].shape)}")
    else:
        np.set_printoptions(threshold=64)
        for i, o in enumerate(outs):
            print(f"output {i} ({o.dtype}, {list(o.shape)}):\n{o}")
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from .hostrun import evaluate_cli
    return evaluate_cli(a)


def cmd_export_c(a: argparse.Namespace) -> int:
    from .export_c import export_c_file
    src = Path(a.model)
    tio.load_model(src)  # validates before anything is written
    dst = _out_path(src, a.output, ".cc")
    _not_an_input(dst.with_suffix(".h"), src)  # the header is written next to the source
    res = export_c_file(src, dst, name=a.name)
    print(f"wrote {res.source} and {res.header}: {res.length} bytes, {len(res.budgets)} budgets")
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    from .keras.train import train_cli
    return train_cli(a)


def cmd_demo(a: argparse.Namespace) -> int:
    from .demo import run_demo
    return run_demo(a)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m reds_tflm", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("convert", help="turn a standard .tflite into one REDS model with nested subnetworks")
    c.add_argument("model")
    c.add_argument("-o", "--output", help="output file (default: <model>.reds.tflite)")
    c.add_argument("--budgets", help="MACs fractions, decreasing, first 1 (default 1,0.75,0.5,0.25)")
    c.add_argument("--macs", help="absolute MACs budgets instead of fractions, decreasing, first = full")
    c.add_argument("--widths", help="widths.json from training: keep the channel order, use these widths")
    c.add_argument("--importance", default="l1", choices=["l1", "l2"])
    c.add_argument("--min-width", type=int, default=1, help="minimum channels kept per group (default 1)")
    c.add_argument("--min-fraction", type=float, default=0.0,
                   help="minimum share of every group's channels kept (e.g. 0.25); default 0")
    c.add_argument("--output-cost", type=float, default=0.0,
                   help="budget MACs + this many MAC-equivalents per output element (about 20 for the Cortex-M4 "
                        "DSP kernels), so that budgets buy run time; default 0 = MACs only")
    c.add_argument("--cost-profile", metavar="NAME|FILE",
                   help="budgets in a target's predicted instructions instead of MACs: a bundled profile "
                        "(cortex-m4-dsp, cortex-m4-portable; fitted by benchmarks/m4.py) or a JSON file of that form")
    c.add_argument("--width-multiple", type=int, default=1, metavar="M",
                   help="widths in steps of M in every group whose size is a multiple of M (e.g. 4: whole words "
                        "for the Cortex-M4 DSP loops); default 1")
    c.add_argument("--mode", default="top-down", choices=["top-down", "bottom-up"])
    c.add_argument("--method", default="auto", help="width search: auto (Lagrangian DP), milp, exhaustive")
    c.set_defaults(func=cmd_convert)

    i = sub.add_parser("inspect", help="print the budget table of a REDS model")
    i.add_argument("model")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_inspect)

    m = sub.add_parser("materialize", help="write subnetwork k as a standard builtin-only .tflite")
    m.add_argument("model")
    m.add_argument("--budget", "-k", type=int, required=True)
    m.add_argument("-o", "--output")
    m.set_defaults(func=cmd_materialize)

    r = sub.add_parser("run", help="run a REDS model on the host at budget k (C core + real TFLM)")
    r.add_argument("model")
    r.add_argument("--budget", "-k", type=int, default=0)
    r.add_argument("--input", required=True, help=".npy input")
    r.add_argument("--output", help=".npy output file (default: print)")
    r.set_defaults(func=cmd_run)

    e = sub.add_parser("eval", help="accuracy of every budget of a REDS model")
    e.add_argument("model")
    e.add_argument("--data", required=True, help="'fashion-mnist' or an .npz with arrays x and y")
    e.add_argument("--limit", type=int, default=None, help="evaluate the first N samples only")
    e.set_defaults(func=cmd_eval)

    x = sub.add_parser("export-c", help="write the model as a 16-byte aligned C array with its budget table")
    x.add_argument("model")
    x.add_argument("-o", "--output", help="output .cc (a matching .h is written next to it)")
    x.add_argument("--name", default="g_model", help="C symbol of the array")
    x.set_defaults(func=cmd_export_c)

    from .keras.example import add_arguments as add_train_arguments  # TF-free: options declared in one place
    t = sub.add_parser("train", help="train nested subnetworks from a Keras model (needs TensorFlow)")
    add_train_arguments(t)
    t.set_defaults(func=cmd_train)

    d = sub.add_parser("demo", help="convert the bundled model and print its budget table and accuracies")
    d.add_argument("--out", default="out/demo")
    d.add_argument("--limit", type=int, default=2000, help="test samples to evaluate per budget")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RedsError as exc:
        print(f"reds_tflm {args.cmd}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `inspect --json | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except OSError as exc:  # missing, unreadable or unwritable paths, a full disk
        print(f"reds_tflm {args.cmd}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"reds_tflm {args.cmd}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 (the CLI's edge: no traceback for the user, see the module doc)
        if os.environ.get("REDS_TFLM_DEBUG"):
            raise
        inputs = [str(v) for k, v in sorted(vars(args).items())
                  if k in ("model", "input", "widths", "data") and isinstance(v, str)]
        print(f"reds_tflm {args.cmd}: error: unexpected {type(exc).__name__} while processing "
              f"{', '.join(inputs) or 'the arguments'}: {exc} (a malformed input the checks did not catch, or a "
              "bug; REDS_TFLM_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 3
