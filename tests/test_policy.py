"""Budget policy (tflm_ops/reds_policy.c) and the firmware measuring loop (boards/common/reds_bench.c), host-built.

The C test program holds the assertions; this drives the build with the project's warning flags (plus ASan/UBSan
where the compiler has them) and checks that the same sources also compile for the two boards' CPUs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPS = ROOT / "tflm_ops"
COMMON = ROOT / "boards" / "common"
SOURCES = [OPS / "tests" / "policy" / "test_policy.c", OPS / "reds_policy.c", COMMON / "reds_bench.c",
           OPS / "reds_budget.c", OPS / "reds_status.c"]
WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{OPS}", f"-I{COMMON}"]


def _build_and_run(cc: str, tmp_path: Path, extra: list[str]) -> None:
    exe = tmp_path / "test_policy"
    res = subprocess.run([cc, *WARN, *extra, *map(str, SOURCES), "-o", str(exe)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "policy tests passed" in run.stdout


def test_policy_gcc_sanitized(tmp_path: Path):
    _build_and_run("gcc", tmp_path, ["-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"])


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
def test_policy_clang_optimized(tmp_path: Path):
    _build_and_run("clang", tmp_path, ["-O2"])


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m0plus"])  # Nano 33 BLE (nRF52840), Pico (RP2040)
def test_policy_compiles_for_boards(tmp_path: Path, cpu: str):
    for src in (OPS / "reds_policy.c", COMMON / "reds_bench.c"):
        res = subprocess.run(["arm-none-eabi-gcc", *WARN, f"-mcpu={cpu}", "-mthumb", "-Os", "-c", str(src),
                              "-o", str(tmp_path / (src.stem + ".o"))], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
