"""Build firmware with the board's Makefile and run it in QEMU's mps2-an386 with -icount shift=0 (run.sh)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BOARD = Path(__file__).resolve().parent
ROOT = BOARD.parents[1]
TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm", "make")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


@dataclass
class Run:
    returncode: int
    output: str

    def values(self) -> dict[str, int]:
        """The firmware's `key=value` lines (integers)."""
        return {m.group(1): int(m.group(2)) for m in re.finditer(r"^([A-Za-z0-9_.:\-]+)=(-?\d+)$", self.output, re.M)}


def build(target: str, build_dir: Path, arch: str = "dsp", opt: str = "-O2", jobs: int = 2, **make_vars: str) -> None:
    args = ["make", "-s", f"-j{jobs}", "-C", str(BOARD), f"BUILD={build_dir}", f"ARCH={arch}", f"OPT={opt}", target]
    args += [f"{k}={v}" for k, v in make_vars.items()]
    res = subprocess.run(args, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"building {target} ({arch} {opt}) failed:\n{res.stdout}\n{res.stderr}")


def run(elf: Path, timeout: int = 120) -> Run:
    res = subprocess.run([str(BOARD / "run.sh"), str(elf), str(timeout)], capture_output=True, text=True,
                         timeout=timeout + 30)
    return Run(res.returncode, res.stdout + res.stderr)
