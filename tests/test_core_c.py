"""Builds and runs the C unit tests of tflm_ops/ (plain, and under AddressSanitizer + UBSan), and a short
libFuzzer run of the options parser. Each make target prints 'N passed, N failed'."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TFLM_OPS = Path(__file__).resolve().parent.parent / "tflm_ops"


def _make(*args: str, timeout: int = 300) -> str:
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("make / cc not installed")
    proc = subprocess.run(["make", "-C", str(TFLM_OPS), *args], capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def _counts(out: str) -> tuple[int, int]:
    m = re.findall(r"^(\d+) passed, (\d+) failed$", out, re.M)
    assert m, out[-2000:]
    return int(m[-1][0]), int(m[-1][1])


def test_c_unit_tests() -> None:
    passed, failed = _counts(_make("test"))
    assert failed == 0 and passed >= 150


def test_c_unit_tests_under_sanitizers() -> None:
    passed, failed = _counts(_make("test-san"))
    assert failed == 0 and passed >= 150


def test_options_fuzzer_short_run() -> None:
    """libFuzzer on the options parser: about a minute in CI (CI=true), a few seconds on a developer's machine."""
    if shutil.which("clang") is None:
        pytest.skip("clang not installed")
    seconds = int(os.environ.get("REDS_FUZZ_SECONDS", "60" if os.environ.get("CI") else "4"))
    try:
        out = _make("fuzz", f"FUZZ_TIME={seconds}")
    except AssertionError as exc:
        if "fuzzer" in str(exc) and ("cannot find" in str(exc) or "No such file" in str(exc)):
            pytest.skip("clang's libFuzzer runtime is not installed (libclang-rt-*-dev)")
        raise
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", out)
    assert runs and int(runs.group(1)) > 1000, out[-2000:]
