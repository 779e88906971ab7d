"""export-c: the generated C/C++ compiles (host gcc/g++ and arm-none-eabi-gcc) and holds the model byte for byte."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from reds_tflm import tflite_io
from reds_tflm.errors import BudgetError, ModelFormatError, RedsError
from reds_tflm.export_c import export_c, export_c_file
from reds_tflm.options import REDS_FC, RedsOptions, encode

ARM_GCC = shutil.which("arm-none-eabi-gcc")
ARM_OBJCOPY = shutil.which("arm-none-eabi-objcopy")
ARM_READELF = shutil.which("arm-none-eabi-readelf")

BUDGETS = [{"fraction": 1.0, "macs": 48, "params": 60, "widths": [6]},
           {"fraction": 0.5, "macs": 20, "params": 26, "widths": [3]},
           {"fraction": 0.25, "macs": 8, "params": 11, "widths": [1]}]


def _tensor(shape, ttype, buffer, name, scale=None):
    t = schema.TensorT()
    t.shape = np.asarray(shape, dtype=np.int32)
    t.type, t.buffer, t.name = ttype, buffer, name
    if scale is not None:
        q = schema.QuantizationParametersT()
        q.scale, q.zeroPoint = [scale], [0]
        t.quantization = q
    return t


def tiny_reds_model(budget_table=BUDGETS, op_budgets: int = 3) -> bytes:
    """One REDS_FC (8 inputs -> 6 outputs, int8) with `op_budgets` budgets and the given `reds` metadata."""
    rng = np.random.default_rng(7)
    model = schema.ModelT()
    model.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = REDS_FC
    model.operatorCodes = [code]
    empty = schema.BufferT()
    w = schema.BufferT()
    w.data = rng.integers(-127, 128, size=48, dtype=np.int8).view(np.uint8)
    b = schema.BufferT()
    b.data = rng.integers(-500, 500, size=6, dtype=np.int32).view(np.uint8)
    model.buffers = [empty, empty, w, b, empty]
    sg = schema.SubGraphT()
    sg.tensors = [_tensor([1, 8], schema.TensorType.INT8, 1, "in", 0.1),
                  _tensor([6, 8], schema.TensorType.INT8, 2, "w", 0.01),
                  _tensor([6], schema.TensorType.INT32, 3, "b", 0.001),
                  _tensor([1, 6], schema.TensorType.INT8, 4, "out", 0.2)]
    sg.inputs, sg.outputs = [0], [3]
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2], [3]
    widths = [6, 3, 1, 1][:op_budgets]
    op.customOptions = np.frombuffer(encode(RedsOptions(op=REDS_FC, out_widths=widths, in_widths=[8] * op_budgets,
                                                        in_channels=8)), dtype=np.uint8)
    op.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
    sg.operators = [op]
    model.subgraphs = [sg]
    if budget_table is not None:
        tflite_io.set_metadata(model, "reds", json.dumps({"version": 1, "groups": [], "budgets": budget_table,
                                                          "ops": []}).encode())
    return tflite_io.serialize_model(model)


# A host program that writes the array back out and reports alignment and the budget table.
DUMP_MAIN = r"""
#include <stdio.h>
#include <stdint.h>
#include "model_data.h"
int main(int argc, char **argv) {
  FILE *f;
  unsigned i;
  if (argc != 2 || (f = fopen(argv[1], "wb")) == NULL) return 2;
  if (fwrite(g_model, 1, g_model_len, f) != g_model_len) return 3;
  fclose(f);
  printf("len %u align %u budgets %d\n", g_model_len, (unsigned)((uintptr_t)g_model % 16u), G_MODEL_NUM_BUDGETS);
#if G_MODEL_NUM_BUDGETS > 0
  for (i = 0; i < G_MODEL_NUM_BUDGETS; ++i)
    printf("%.6f %lu %lu\n", g_model_budget_fraction[i], (unsigned long)g_model_budget_macs[i],
           (unsigned long)g_model_budget_params[i]);
#endif
  (void)i;
  return G_MODEL_LEN == g_model_len ? 0 : 4;
}
"""


def _run(cmd, cwd):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))}\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.mark.parametrize("suffix,compiler,std", [(".cc", "g++", "-std=c++11"), (".c", "gcc", "-std=c99")])
def test_host_roundtrip_bytes_and_budget_table(tmp_path: Path, suffix, compiler, std):
    data = tiny_reds_model()
    res = export_c(data, tmp_path / f"model_data{suffix}")
    assert res.header == tmp_path / "model_data.h" and res.length == len(data)
    (tmp_path / "main.c").write_text(DUMP_MAIN)
    # The main program is always C; the model file is compiled as C or C++ and linked against it (C linkage).
    _run([compiler, std, "-Wall", "-Wextra", "-Werror", "-pedantic", "-c", f"model_data{suffix}", "-o", "m.o"],
         tmp_path)
    _run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", "main.c", "-o", "main.o"], tmp_path)
    _run([compiler, "main.o", "m.o", "-o", "dump"], tmp_path)
    out = _run(["./dump", "back.bin"], tmp_path).splitlines()
    assert (tmp_path / "back.bin").read_bytes() == data
    assert out[0] == f"len {len(data)} align 0 budgets 3"
    rows = [line.split() for line in out[1:]]
    assert [(float(f), int(m), int(p)) for f, m, p in rows] == [(b["fraction"], b["macs"], b["params"])
                                                               for b in BUDGETS]


@pytest.mark.skipif(not (ARM_GCC and ARM_OBJCOPY and ARM_READELF), reason="arm-none-eabi binutils not installed")
@pytest.mark.parametrize("suffix,std", [(".cc", "-std=gnu++17"), (".c", "-std=c99")])
def test_arm_object_holds_model_aligned(tmp_path: Path, suffix, std):
    data = tiny_reds_model()
    export_c(data, tmp_path / f"model_data{suffix}", name="reds_model")
    compiler = ARM_GCC if suffix == ".c" else ARM_GCC.replace("gcc", "g++")
    _run([compiler, std, "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-Wall",
          "-Wextra", "-Werror", "-fdata-sections", "-c", f"model_data{suffix}", "-o", "m.o"], tmp_path)
    _run([ARM_OBJCOPY, "-O", "binary", "--only-section=.rodata.reds_model", "m.o", "model.bin"], tmp_path)
    assert (tmp_path / "model.bin").read_bytes() == data
    sections = _run([ARM_READELF, "-S", "-W", "m.o"], tmp_path)
    line = next(ln for ln in sections.splitlines() if ".rodata.reds_model " in ln + " ")
    assert int(line.split()[-1]) == 16  # the Al column: the section (hence the array) is 16-byte aligned


def test_plain_model_without_metadata_exports_no_budget_table(tmp_path: Path):
    model = tflite_io.parse_model(tiny_reds_model(budget_table=None, op_budgets=1))
    model.operatorCodes[0].customCode = "SOMETHING_ELSE"  # no REDS op, no metadata: an ordinary model
    data = tflite_io.serialize_model(model)
    res = export_c(data, tmp_path / "model_data.c")
    assert res.budgets == ()
    assert "#define G_MODEL_NUM_BUDGETS 0" in res.header.read_text()
    (tmp_path / "main.c").write_text(DUMP_MAIN)
    _run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "main.c", "model_data.c", "-o", "dump"], tmp_path)
    assert _run(["./dump", "back.bin"], tmp_path).splitlines() == [f"len {len(data)} align 0 budgets 0"]
    assert (tmp_path / "back.bin").read_bytes() == data


def test_rejects_non_model_input_and_writes_nothing(tmp_path: Path):
    bad = tmp_path / "notes.txt"
    bad.write_bytes(b"this is not a flatbuffer at all")
    with pytest.raises(ModelFormatError, match="notes.txt.*not a TFLite model"):
        export_c_file(bad, tmp_path / "model_data.cc")
    with pytest.raises(ModelFormatError, match="no such file"):
        export_c_file(tmp_path / "missing.tflite", tmp_path / "model_data.cc")
    assert not list(tmp_path.glob("model_data*"))


@pytest.mark.parametrize("kwargs,match", [({"name": "2bad"}, "not a valid C identifier"),
                                          ({"name": "int"}, "not a valid C identifier"),
                                          ({"out": "model.h"}, "must end in")])
def test_rejects_bad_name_or_suffix(tmp_path: Path, kwargs, match):
    with pytest.raises(RedsError, match=match):
        export_c(tiny_reds_model(), tmp_path / kwargs.get("out", "m.cc"), name=kwargs.get("name", "g_model"))


def test_rejects_inconsistent_budget_table(tmp_path: Path):
    with pytest.raises(BudgetError, match="lists 3 budgets but the REDS ops carry 2"):
        export_c(tiny_reds_model(op_budgets=2), tmp_path / "m.cc")
    bad = [dict(b) for b in BUDGETS]
    bad[1]["fraction"] = 1.5
    with pytest.raises(BudgetError, match="budget 1 fraction 1.5"):
        export_c(tiny_reds_model(budget_table=bad), tmp_path / "m.cc")
    with pytest.raises(ModelFormatError, match="REDS custom ops but no 'reds' metadata"):
        export_c(tiny_reds_model(budget_table=None), tmp_path / "m.cc")
    assert not list(tmp_path.glob("m.*"))
