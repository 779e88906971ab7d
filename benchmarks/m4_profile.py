#!/usr/bin/env python3
"""Where the instructions of the REDS ops go on the emulated Cortex-M4: a profile per op, function and instruction.

    python benchmarks/m4_profile.py MODEL BUDGET [--op K] [--func NAME] [--arch dsp|portable] [--opt -O2|-Os]
                                    [--min-fraction F] [--width-multiple M]

MODEL is one of benchmarks/m4.py's models (fc2, ds_cnn, cnn_flatten), converted the way that benchmark converts it,
or the path of a REDS model file (.tflite, already converted: its own budgets and widths, e.g. a trained model);
BUDGET the budget index (0 = full network). The benchmark firmware is built for that one budget and run in QEMU
with -singlestep and an execution trace (-d exec,nochain: one line per executed instruction); every instruction
executed inside an op's evaluation (from the measured call's first instruction to its return, the span the exact
counter measures) is attributed to the function holding its address. Prints, per op, the total next to the
firmware's own -icount measurement (the trace may show a few instructions more: QEMU logs an instruction again
when it restarts it at an icount deadline; more than 0.1 % apart is an error) and the functions by instruction
count; --func NAME adds
that function's instructions (disassembled) with their execution counts. Nothing is written outside a temporary
directory. About 10 s per million traced instructions.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "python"), str(ROOT / "boards" / "mps2_an386")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TRACE_PC = re.compile(r"\[[0-9a-f]+/([0-9a-f]+)/")
MEASURED = "run_eval"  # bench.c: the function m4_icount_call measures, one call per op and budget
HARNESS = "m4_icount_call_raw"  # icount.S: calls it and takes the clock after it returns


@dataclass
class OpProfile:
    index: int
    total: int
    by_function: collections.Counter
    by_pc: collections.Counter


class Symbols:
    """Function symbols of an ELF (arm-none-eabi-nm), for address -> function."""

    def __init__(self, elf: Path) -> None:
        out = subprocess.run(["arm-none-eabi-nm", "-n", "-S", str(elf)], capture_output=True, text=True,
                             check=True).stdout
        rows = []
        for line in out.splitlines():
            p = line.split()
            if len(p) == 4 and p[2] in "tTwW":
                rows.append((int(p[0], 16) & ~1, int(p[1], 16), p[3]))
        self.rows = sorted(rows)
        self.starts = [r[0] for r in self.rows]

    def function(self, pc: int) -> str:
        i = bisect.bisect_right(self.starts, pc) - 1
        if i >= 0 and pc < self.rows[i][0] + self.rows[i][1]:
            return self.rows[i][2]
        return "?"

    def address(self, name: str) -> int:
        for start, _, n in self.rows:
            if n == name:
                return start
        raise RuntimeError(f"symbol {name} not found in the firmware")


def parse_trace(lines: Iterable[str], syms: Symbols) -> list[OpProfile]:
    """One OpProfile per measured call: the PCs from MEASURED's entry until control is back in HARNESS."""
    entry = syms.address(MEASURED)
    start = syms.address(HARNESS)
    harness = (start, start + next(size for s, size, _ in syms.rows if s == start))
    ops: list[OpProfile] = []
    cur: collections.Counter | None = None
    for line in lines:
        m = TRACE_PC.search(line)
        if not m:
            continue
        pc = int(m.group(1), 16) & ~1
        if cur is None:
            if pc == entry:
                cur = collections.Counter()
                ops.append(OpProfile(len(ops), 0, collections.Counter(), cur))
            else:
                continue
        elif harness[0] <= pc < harness[1]:
            cur = None
            continue
        cur[pc] += 1
    for op in ops:
        op.total = sum(op.by_pc.values())
        for pc, n in op.by_pc.items():
            op.by_function[syms.function(pc)] += n
    return ops


def agrees(traced: int, exact: int | None) -> bool:
    """The trace's count against the exact counter: equal, or a few instructions logged twice."""
    return exact is not None and 0 <= traced - exact <= max(2, exact // 1000)


def disassembly(elf: Path) -> dict[int, str]:
    out = subprocess.run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(elf)], capture_output=True,
                         text=True, check=True).stdout
    return {int(m.group(1), 16): m.group(2).strip() for m in re.finditer(r"^\s+([0-9a-f]+):\s+(.*)$", out, re.M)}


def build_case_header(model: str, min_fraction: float, width_multiple: int, path: Path) -> int:
    """Convert the benchmark's model as benchmarks/m4.py does (or read a REDS model file) and write its cases
    header; returns the number of budgets."""
    import numpy as np

    import m4
    import m4gen
    from reds_tflm import tflite_io as tio
    from reds_tflm.convert import convert_model
    if model.endswith(".tflite"):
        from reds_tflm.materialize import reds_info
        reds = tio.load_model(Path(model))
        meta, _ = reds_info(reds, model)
        m4gen.write_cases_header(m4.reds_cases(reds, np.random.default_rng(m4.SEED)), path)
        return len(meta["budgets"])
    models = m4.keras_models(m4.SEED)
    if model not in models:
        raise ValueError(f"unknown model {model!r}: choose from {', '.join(models)}, or give a .tflite path")
    plain = tio.parse_model(m4.int8_tflite(models[model]), model)
    conv = convert_model(plain, budgets=m4.BUDGETS, min_fraction=min_fraction, name=model,
                         width_multiple=width_multiple)
    m4gen.write_cases_header(m4.reds_cases(conv.model, np.random.default_rng(m4.SEED)), path)
    return len(m4.BUDGETS)


def profile(model: str, budget: int, work: Path, arch: str = "dsp", opt: str = "-O2", min_fraction: float = 0.0,
            width_multiple: int = 1, timeout: int = 1800) -> tuple[list[OpProfile], dict[int, int], Path]:
    """Trace one budget of `model`; returns the per-op profiles, the firmware's own counts per op and the ELF."""
    import m4run
    n_budgets = build_case_header(model, min_fraction, width_multiple, work / "cases.h")
    if not 0 <= budget < n_budgets:
        raise ValueError(f"budget {budget} out of range: {model} has budgets 0..{n_budgets - 1}")
    m4run.build("bench", work, arch=arch, opt=opt, BENCH_MODEL=str(work / "cases.h"),
                EXTRA_CFLAGS=f"-DM4_BENCH_BUDGET={budget}")
    elf, log = work / "bench.elf", work / "trace.log"
    res = subprocess.run(["timeout", str(timeout), "qemu-system-arm", "-machine", "mps2-an386", "-cpu", "cortex-m4",
                          "-nographic", "-monitor", "none", "-serial", "none",
                          "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-singlestep",
                          "-d", "exec,nochain", "-D", str(log), "-kernel", str(elf)],
                         capture_output=True, text=True)
    out = res.stdout + res.stderr
    counts = {int(i): int(n) for i, n in re.findall(r"^op=(\d+) budget=\d+ instructions=(\d+) status=0$", out, re.M)}
    if res.returncode != 0 or not counts:
        raise RuntimeError(f"the traced firmware failed (exit {res.returncode}):\n{out[-2000:]}")
    with open(log) as fh:
        ops = parse_trace(fh, Symbols(elf))
    return ops, counts, elf


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="fc2, ds_cnn or cnn_flatten (benchmarks/m4.py), or a REDS model file (.tflite)")
    p.add_argument("budget", type=int, help="budget index, 0 = full network")
    p.add_argument("--op", type=int, default=None, help="only this op (index among the REDS ops)")
    p.add_argument("--func", default=None, help="list this function's instructions with their counts")
    p.add_argument("--arch", choices=("dsp", "portable"), default="dsp")
    p.add_argument("--opt", choices=("-O2", "-Os"), default="-O2")
    p.add_argument("--min-fraction", type=float, default=0.0)
    p.add_argument("--width-multiple", type=int, default=1)
    p.add_argument("--top", type=int, default=12, help="functions listed per op")
    a = p.parse_args(argv)
    missing = [t for t in ("arm-none-eabi-gcc", "arm-none-eabi-nm", "arm-none-eabi-objdump", "qemu-system-arm",
                           "make") if shutil.which(t) is None]
    if missing:
        print(f"error: missing tools: {', '.join(missing)} (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi "
              "binutils-arm-none-eabi qemu-system-arm make)", file=sys.stderr)
        return 2
    from reds_tflm.errors import RedsError
    with tempfile.TemporaryDirectory(prefix="m4prof.") as tmp:
        try:
            ops, counts, elf = profile(a.model, a.budget, Path(tmp), a.arch, a.opt, a.min_fraction,
                                       a.width_multiple)
        except (ValueError, RuntimeError, RedsError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if a.op is not None and not 0 <= a.op < len(ops):
            print(f"error: --op {a.op} out of range: the model has REDS ops 0..{len(ops) - 1}", file=sys.stderr)
            return 2
        syms, code = Symbols(elf), disassembly(elf) if a.func else {}
        mismatch = 0
        for op in ops:
            if a.op is not None and op.index != a.op:
                continue
            exact = counts.get(op.index)
            mismatch += not agrees(op.total, exact)
            print(f"== op {op.index}, budget {a.budget}: {op.total} instructions traced"
                  f" (-icount measured {exact})")
            for name, n in op.by_function.most_common(a.top):
                print(f"   {n:9d}  {100 * n / op.total:5.1f} %  {name}")
            if a.func:
                rows = [(pc, n) for pc, n in sorted(op.by_pc.items()) if syms.function(pc) == a.func]
                if not rows:
                    print(f"   ({a.func} does not run in this op)")
                for pc, n in rows:
                    print(f"   {n:9d}  {pc:08x}  {code.get(pc, '')}")
        if mismatch:
            print(f"error: {mismatch} op(s) traced more than 0.1 % away from the exact counter", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
