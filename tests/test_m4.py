"""The Cortex-M4 target (QEMU mps2-an386): bring-up, the DSP inner loops, the C core's unit tests and every op
checked bit for bit against the tflite-micro interpreter, for the portable and the DSP path, at -O2 and -Os.

Performance figures are not asserted here (benchmarks/m4.py measures them); only exactness is.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "boards" / "mps2_an386"))

import m4run  # noqa: E402

pytestmark = pytest.mark.skipif(bool(m4run.missing_tools()),
                                reason=f"Cortex-M4 target needs {', '.join(m4run.missing_tools())} "
                                       "(apt: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm make)")

CONFIGS = [("dsp", "-O2"), ("portable", "-O2"), ("dsp", "-Os"), ("portable", "-Os")]
CORE_TESTS = ROOT / "tflm_ops" / "tests"


@pytest.fixture(scope="module")
def build_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("m4")


@pytest.fixture(scope="module")
def vectors_header(build_root) -> Path:
    import m4gen
    import vector_cases
    return m4gen.write_cases_header(vector_cases.cases(seed=0), build_root / "vectors.h")


@pytest.mark.parametrize("opt", ["-O2", "-Os"])
def test_bringup_and_exact_instruction_count(build_root, opt):
    d = build_root / f"self{opt}"
    m4run.build("selftest", d, opt=opt)
    r = m4run.run(d / "selftest.elf", timeout=60)
    assert r.returncode == 0, r.output
    v = r.values()
    assert v["sled_mismatches"] == 0 and v["failures"] == 0, r.output
    assert v["systick_ticks_per_400001_instructions"] == 10000, r.output


def test_dsp_inner_loops_match_plain_definition(build_root):
    d = build_root / "dsp"
    m4run.build("dsptest", d)
    r = m4run.run(d / "dsptest.elf", timeout=60)
    assert r.returncode == 0, r.output
    v = r.values()
    # reds_dot_s8, reds_mac_chan_s8, reds_dot4_s8 and reds_widen_s8 + reds_dot2x2_s8 (4 strides each) and
    # reds_mac4_chan_s8, each from a random and a wrapping start: 247,968 cases.
    assert v["failures"] == 0 and v["cases"] > 240000, r.output
    # The DSP loops must actually be the faster ones (SMLAD on unpacked pairs vs byte loads and MLA).
    for loop in ("dot64", "dot4x64", "dot2x2x64", "mac4_chan16taps"):
        assert v[f"instructions_{loop}_dsp"] < v[f"instructions_{loop}_plain"], (loop, r.output)


@pytest.mark.parametrize("arch,opt", CONFIGS)
def test_ops_bit_exact_against_tflm(build_root, vectors_header, arch, opt):
    d = build_root / f"{arch}{opt}"
    m4run.build("vectors", d, arch=arch, opt=opt, VECTORS=str(vectors_header))
    r = m4run.run(d / "vectors.elf", timeout=60)
    m = re.search(r"vectors: (\d+) passed, (\d+) failed", r.output)
    assert m, r.output
    assert r.returncode == 0 and int(m.group(2)) == 0, r.output
    import vector_cases
    budgets = sum(len(c.expected) for c in vector_cases.cases(seed=0))
    assert budgets >= 26
    assert int(m.group(1)) == 2 * budgets, r.output  # every case with the fast and with the general requantisation
    fast = re.search(r"^fast_requant_cases=(\d+)$", r.output, re.M)
    assert fast and 0 < int(fast.group(1)) < 2 * budgets, r.output


def _core_test_programs() -> list[tuple[str, list[Path]]]:
    """The C core's test programs: tflm_ops/tests/*.c together, each subdirectory on its own."""
    progs = []
    top = sorted(CORE_TESTS.glob("*.c"))
    if top:
        progs.append(("core", top))
    for sub in sorted(p for p in CORE_TESTS.iterdir() if p.is_dir()) if CORE_TESTS.is_dir() else []:
        srcs = sorted(sub.glob("*.c"))
        if srcs:
            progs.append((sub.name, srcs))
    return progs


@pytest.mark.parametrize("arch", ["dsp", "portable"])
def test_core_unit_tests_on_target(build_root, arch):
    progs = _core_test_programs()
    if not progs:
        pytest.skip("tflm_ops/tests has no C tests yet")
    d = build_root / f"{arch}-O2"
    for name, srcs in progs:
        m4run.build("unittest", d, arch=arch, UT_NAME=name, UT_SRCS=" ".join(map(str, srcs)))
        r = m4run.run(d / f"ut_{name}.elf", timeout=120)
        assert r.returncode == 0, f"{name}:\n{r.output}"
        m = re.search(r"(\d+) passed, (\d+) failed", r.output)
        if m:
            assert int(m.group(2)) == 0 and int(m.group(1)) > 0, f"{name}:\n{r.output}"


def test_profiler_accounts_for_the_measured_instructions(tmp_path, monkeypatch) -> None:
    """benchmarks/m4_profile.py: the traced instructions of every op agree with the firmware's exact count and land
    in the op's kernel."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("m4_profile", ROOT / "benchmarks" / "m4_profile.py")
    prof = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "m4_profile", prof)
    spec.loader.exec_module(prof)
    ops, counts, _ = prof.profile("fc2", 3, tmp_path)
    assert len(ops) == len(counts) == 2
    for op in ops:
        assert prof.agrees(op.total, counts[op.index]), (op.index, op.total, counts[op.index])
        name, n = op.by_function.most_common(1)[0]
        assert name == "reds_fc_s8" and n > 0.9 * op.total
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        prof.build_case_header("nope", 0.0, 1, tmp_path / "x.h")



def test_bench_measures_each_ops_stack(tmp_path, monkeypatch) -> None:
    """bench.c's stack painting: every op at every budget reports the stack its evaluation used, and the depthwise
    lanes' row buffers (6 x 136 bytes on the stack in the DSP build, taken by ds_cnn's 14x14 depthwise at full
    width) show in that op's figure and in no FC's."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("m4_profile", ROOT / "benchmarks" / "m4_profile.py")
    prof = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "m4_profile", prof)
    spec.loader.exec_module(prof)
    n_budgets = prof.build_case_header("ds_cnn", 0.0, 1, tmp_path / "cases.h")
    m4run.build("bench", tmp_path, arch="dsp", opt="-O2", BENCH_MODEL=str(tmp_path / "cases.h"))
    r = m4run.run(tmp_path / "bench.elf", timeout=300)
    assert r.returncode == 0, r.output
    ops = {int(i) for i in re.findall(r"^op=(\d+) budget=\d+ instructions=", r.output, re.M)}
    stack = {(int(i), int(k)): int(n) for i, k, n in re.findall(r"^op=(\d+) budget=(\d+) stack=(\d+)$", r.output,
                                                                re.M)}
    assert set(stack) == {(i, k) for i in ops for k in range(n_budgets)}
    assert all(0 < n < 4096 for n in stack.values()), stack  # docs/firmware.md: about 4 KB for the REDS ops
    assert stack[(1, 0)] >= 6 * 136, stack  # op 1: the 14x14 depthwise
    assert max(n for (i, _), n in stack.items() if i == max(ops)) < 6 * 136, stack  # the last op: the FC
