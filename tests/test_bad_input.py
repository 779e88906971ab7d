"""Every bad input of `convert` gets a clear error of the right class, exit status 2, no traceback, input intact."""

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

import models
from reds_tflm import ModelFormatError, UnsupportedModelError
from reds_tflm import tflite_io as tio
from reds_tflm.convert import convert_model

ROOT = Path(__file__).resolve().parent.parent


def cli(*args):
    env = {"PYTHONPATH": str(ROOT / "python"), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}
    import os
    env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "reds_tflm", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _edited(edit):
    model = tio.parse_model(models.tflite_model("cnn_flatten", "int8"))
    edit(model)
    return tio.serialize_model(model)


def _set_type(tensor_pick, ttype):
    def edit(model):
        sg = model.subgraphs[0]
        for j in tensor_pick(sg):
            sg.tensors[j].type = ttype
    return edit


def _set_op(code):
    def edit(model):
        oc = schema.OperatorCodeT()
        oc.builtinCode = code
        oc.deprecatedBuiltinCode = min(code, 127)
        oc.version = 1
        model.operatorCodes.append(oc)
        model.subgraphs[0].operators[1].opcodeIndex = len(model.operatorCodes) - 1
    return edit


def _two_subgraphs(model):
    model.subgraphs.append(copy.deepcopy(model.subgraphs[0]))


def _fp16_weights(model):
    sg = model.subgraphs[0]
    w = sg.operators[0].inputs[1]
    t = sg.tensors[w]
    data = tio.buffer_of(model, t).astype(np.float16)
    t.type = schema.TensorType.FLOAT16
    model.buffers[t.buffer].data = data.view(np.uint8).ravel().copy()


CASES = {
    "missing": (None, ModelFormatError, "no such file"),
    "not_flatbuffer": (b"hello, this is plain text and not a model at all\n" * 4, ModelFormatError, "identifier"),
    "wrong_identifier": ("ident", ModelFormatError, "identifier"),
    "truncated": ("trunc", ModelFormatError, "truncated"),
    "float16_weights": (_fp16_weights, UnsupportedModelError, "FLOAT16 weights"),
    # both sides of the MAX_POOL_2D: an op whose input and output types differ is a format error (op_checks)
    "int16_activations": (_set_type(lambda sg: [sg.operators[1].inputs[0], sg.operators[1].outputs[0]],
                                    schema.TensorType.INT16), UnsupportedModelError, "INT16 activations"),
    "control_flow_op": (_set_op(schema.BuiltinOperator.WHILE), UnsupportedModelError, "control flow"),
    "control_flow_subgraphs": (_two_subgraphs, UnsupportedModelError, "control flow"),
    "resource_variables": (_set_op(schema.BuiltinOperator.VAR_HANDLE), UnsupportedModelError, "resource variables"),
}


def _make(case, tmp_path):
    spec = CASES[case][0]
    path = tmp_path / f"{case}.tflite"
    good = models.tflite_model("cnn_flatten", "int8")
    if spec is None:
        return path
    if isinstance(spec, bytes):
        data = spec
    elif spec == "ident":
        data = good[:4] + b"XYZ1" + good[8:]
    elif spec == "trunc":
        data = good[: len(good) // 2]
    else:
        data = _edited(spec)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_api_raises_the_right_class(case, tmp_path):
    path = _make(case, tmp_path)
    _, cls, words = CASES[case]
    with pytest.raises(cls, match=words):
        convert_model(tio.load_model(path), name=str(path))


@pytest.mark.parametrize("case", ["missing", "truncated", "float16_weights", "resource_variables"])
def test_cli_exits_2_without_traceback_and_keeps_input(case, tmp_path):
    path = _make(case, tmp_path)
    before = path.read_bytes() if path.exists() else None
    r = cli("convert", str(path))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("reds_tflm convert: error: ") and str(path) in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert (path.read_bytes() if path.exists() else None) == before
    assert not list(tmp_path.glob("*.reds.tflite"))


def test_unsupported_type_names_op_and_tensor(tmp_path):
    path = _make("int16_activations", tmp_path)
    with pytest.raises(UnsupportedModelError, match=r"op 0 \(CONV_2D\) tensor \d+ '.+'"):
        convert_model(tio.load_model(path))


def test_cli_refuses_to_overwrite_input(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(models.tflite_model("mlp", "int8"))
    r = cli("convert", str(path), "-o", str(path))
    assert r.returncode == 2 and "overwrite" in r.stderr
    assert path.read_bytes() == models.tflite_model("mlp", "int8")


def test_cli_convert_inspect_materialize(tmp_path):
    src = tmp_path / "m.tflite"
    src.write_bytes(models.tflite_model("ds_cnn", "int8"))
    r = cli("convert", str(src), "--budgets", "1,0.6,0.3")
    assert r.returncode == 0, r.stderr
    reds = tmp_path / "m.reds.tflite"
    r = cli("inspect", str(reds), "--json")
    import json
    doc = json.loads(r.stdout)
    assert [b["fraction"] for b in doc["reds"]["budgets"]] == [1.0, 0.6, 0.3]
    r = cli("materialize", str(reds), "--budget", "2", "-o", str(tmp_path / "sub.tflite"))
    assert r.returncode == 0, r.stderr
    assert tio.load_model(tmp_path / "sub.tflite")
    r = cli("materialize", str(reds), "--budget", "3")
    assert r.returncode == 2 and "budget 3 out of range" in r.stderr
    r = cli("inspect", str(src))
    assert r.returncode == 0 and "no REDS ops" in r.stdout
    assert not list(tmp_path.glob(".*.tmp"))
