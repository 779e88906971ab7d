"""The CLI's edge against user mistakes and corrupt files: outputs never replace inputs, corrupt structure is a
ModelFormatError naming the entry (not an IndexError, or TFLM aborting the process), an exception nobody foresaw is
one line and exit 3, and `train` checks its options before loading data or training."""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import models
from reds_tflm import ModelFormatError, OptionsError, RedsError, cli
from reds_tflm import tflite_io as tio
from reds_tflm.convert import convert_model
from reds_tflm.options import decode

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os
    e = {**os.environ, "PYTHONPATH": str(ROOT / "python"), "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([sys.executable, "-m", "reds_tflm", *args], capture_output=True, text=True, env=e,
                          timeout=120)


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def one_clean_line(r: subprocess.CompletedProcess, code: int = 2) -> str:
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


@pytest.fixture()
def reds_file(tmp_path: Path) -> Path:
    path = tmp_path / "m.reds.tflite"
    tio.save_model(convert_model(tio.parse_model(models.tflite_model("mlp", "int8"))).model, path)
    return path


@pytest.fixture()
def npy_input(tmp_path: Path, reds_file: Path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, models.random_input(models.tflite_model("mlp", "int8"))[0])
    return path


@pytest.mark.parametrize("target", ["model", "input"])
def test_run_output_never_replaces_an_input(tmp_path, reds_file, npy_input, target):
    victim = reds_file if target == "model" else npy_input
    before = {p: sha(p) for p in (reds_file, npy_input)}
    err = one_clean_line(run_cli("run", str(reds_file), "--input", str(npy_input), "--output", str(victim)))
    assert "would overwrite the input" in err and str(victim) in err
    assert {p: sha(p) for p in before} == before


def test_run_names_the_model_file_in_errors(reds_file, npy_input):
    err = one_clean_line(run_cli("run", str(reds_file), "--input", str(npy_input), "-k", "9"))
    assert str(reds_file) in err and "budget 9" in err


def test_export_c_header_never_replaces_the_input(tmp_path, reds_file):
    src = tmp_path / "model.h"  # a model file that happens to carry the header's name
    src.write_bytes(reds_file.read_bytes())
    before = sha(src)
    err = one_clean_line(run_cli("export-c", str(src), "-o", str(tmp_path / "model.cc")))
    assert "would overwrite the input" in err
    assert sha(src) == before and not (tmp_path / "model.cc").exists()


@pytest.mark.parametrize("out", [".", "/", "sub"])
def test_output_that_is_a_directory_is_a_clean_error(tmp_path, reds_file, out):
    (tmp_path / "sub").mkdir()
    dst = str(tmp_path / out) if out == "sub" else out
    err = one_clean_line(run_cli("materialize", str(reds_file), "-k", "1", "-o", dst))
    assert "is a directory" in err
    assert not [p for p in tmp_path.rglob(".*.tmp")]


def _edited_bytes(edit) -> bytes:
    m = tio.parse_model(models.tflite_model("mlp", "int8"))
    edit(m)
    return tio.serialize_model(m)


def _grow_weight_shape(m) -> None:
    sg = m.subgraphs[0]
    t = sg.tensors[sg.operators[0].inputs[1]]
    t.shape = np.asarray([int(t.shape[0]) + 1] + [int(v) for v in t.shape[1:]], dtype=np.int32)


def _bad_input_index(m) -> None:
    m.subgraphs[0].operators[0].inputs = np.asarray([10_000] + list(m.subgraphs[0].operators[0].inputs[1:]),
                                                   dtype=np.int32)


def _bad_opcode(m) -> None:
    m.subgraphs[0].operators[0].opcodeIndex = len(m.operatorCodes) + 3


@pytest.mark.parametrize("edit, words", [(_grow_weight_shape, "needs .* bytes, its buffer"),
                                         (_bad_input_index, "input tensor index 10000 out of range"),
                                         (_bad_opcode, "operator code")])
def test_corrupt_structure_is_a_model_format_error(edit, words):
    with pytest.raises(ModelFormatError, match=words):
        tio.parse_model(_edited_bytes(edit), "corrupt.tflite")


def test_inconsistent_add_shape_is_an_error_not_a_tflm_abort(tmp_path):
    m = convert_model(tio.parse_model(models.tflite_model("residual", "int8"))).model
    sg = m.subgraphs[0]
    add = next(op for op in sg.operators if tio.op_name(m, op) == "ADD")
    out = sg.tensors[add.outputs[0]]
    out.shape = np.asarray([1, 97] + [int(v) for v in out.shape[2:]], dtype=np.int32)
    path = tmp_path / "bad_add.reds.tflite"
    path.write_bytes(tio.serialize_model(m))
    x = tmp_path / "x.npy"
    np.save(x, models.random_input(models.tflite_model("residual", "int8"))[0])
    err = one_clean_line(run_cli("run", str(path), "--input", str(x)))  # TFLM would abort: exit 134, no message
    assert str(path) in err and "ADD" in err and "output shape" in err


def test_options_that_fail_inside_the_flexbuffer_reader_are_options_errors():
    good = bytes(convert_model(tio.parse_model(models.tflite_model("mlp", "int8"))).model.subgraphs[0]
                 .operators[0].customOptions)
    assert decode("REDS_FC", good).budgets == 4
    failures = 0
    for i in range(len(good)):  # every single-byte corruption: decoded or refused, never another exception
        bad = bytearray(good)
        bad[i] ^= 0x5A
        try:
            decode("REDS_FC", bytes(bad))
        except OptionsError:
            failures += 1
    assert failures > 0


def test_unforeseen_exception_is_one_line_exit_3_unless_debugging(monkeypatch, capsys, reds_file):
    def boom(a: argparse.Namespace) -> int:
        raise KeyError("groups")
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions[0].choices.values():  # every sub-command
        action.set_defaults(func=boom)
    assert cli.main(["inspect", str(reds_file)]) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "KeyError" in err and str(reds_file) in err
    monkeypatch.setenv("REDS_TFLM_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["inspect", str(reds_file)])


def test_convert_option_conflicts_are_errors(tmp_path, reds_file):
    src = tmp_path / "plain.tflite"
    src.write_bytes(models.tflite_model("mlp", "int8"))
    out = str(tmp_path / "o.tflite")
    assert "no budgets given" in one_clean_line(run_cli("convert", str(src), "--budgets=", "-o", out))
    assert "exclude each other" in one_clean_line(run_cli("convert", str(src), "--budgets", "1,0.5", "--macs",
                                                          "900,400", "-o", out))
    widths = tmp_path / "w.json"
    widths.write_text('{"budgets": [{"fraction": 1.0, "widths": [16, 24]}]}')
    err = one_clean_line(run_cli("convert", str(src), "--widths", str(widths), "--min-fraction", "0.3", "-o", out))
    assert "--min-fraction" in err and "ignored" in err
    assert not Path(out).exists()


@pytest.mark.parametrize("flag, value, words", [("seed", -1, "--seed"), ("budgets", "1,2", "--budgets"),
                                                ("budgets", "0.5,0.25", "first budget must be 1"),
                                                ("min_fraction", 2.0, "--min-fraction"), ("distill", 5.0, "--distill"),
                                                ("finetune_lr", -1.0, "--finetune-lr"), ("epochs", -3, "--epochs"),
                                                ("width_multiple", 0, "--width-multiple"),
                                                ("cost_profile", "nope", "cost profile 'nope'")])
def test_train_checks_options_before_loading_or_training(flag, value, words):
    from reds_tflm.keras.example import check_options, complete_args
    a = complete_args(argparse.Namespace(**{flag: value}))
    with pytest.raises(RedsError, match=words):
        check_options(a)
    assert check_options(complete_args(argparse.Namespace())) == (1.0, 0.75, 0.5, 0.25)


def test_train_out_that_is_a_file_fails_before_training(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    err = one_clean_line(run_cli("train", "--quick", "--out", str(f)))
    assert "is a file" in err and f.read_text() == "x"


def test_a_closed_pipe_is_not_an_error(reds_file):
    p = subprocess.Popen([sys.executable, "-m", "reds_tflm", "inspect", "--json", str(reds_file)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "python")})
    p.stdout.close()  # the reader leaves before the writer: `| true`
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0 and "error" not in err


def test_export_c_to_a_directory_is_a_clean_error(tmp_path, reds_file):
    for out in (".", str(tmp_path)):
        assert "is a directory" in one_clean_line(run_cli("export-c", str(reds_file), "-o", out))


def test_a_single_budget_is_refused(tmp_path):
    src = tmp_path / "plain.tflite"
    src.write_bytes(models.tflite_model("mlp", "int8"))
    err = one_clean_line(run_cli("convert", str(src), "--budgets", "1", "-o", str(tmp_path / "o.tflite")))
    assert "nothing to switch" in err and not (tmp_path / "o.tflite").exists()


def test_inconsistent_add_shape_is_refused_by_every_reader(tmp_path):
    m = convert_model(tio.parse_model(models.tflite_model("residual", "int8"))).model
    sg = m.subgraphs[0]
    add = next(op for op in sg.operators if tio.op_name(m, op) == "ADD")
    sg.tensors[add.outputs[0]].shape = np.asarray([1, 97, 8, 8], dtype=np.int32)
    with pytest.raises(ModelFormatError, match=r"op \d+ \(ADD\): output shape"):
        tio.parse_model(tio.serialize_model(m), "bad_add.tflite")


def test_train_out_below_a_file_fails_before_training(tmp_path):
    from reds_tflm.keras.example import _dirs, complete_args
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(RedsError, match="is a file"):
        _dirs(complete_args(argparse.Namespace(out=str(f / "sub"))))
    with pytest.raises(RedsError, match="--seed"):
        from reds_tflm.keras.example import check_options
        check_options(complete_args(argparse.Namespace(seed=2 ** 75)))


def test_a_conv_carrying_another_ops_options_is_a_format_error():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    m = tio.parse_model(models.tflite_model("ds_cnn", "int8"))
    conv = next(op for op in m.subgraphs[0].operators if tio.op_name(m, op) == "CONV_2D")
    conv.builtinOptionsType = schema.BuiltinOptions.StridedSliceOptions
    conv.builtinOptions = schema.StridedSliceOptionsT()
    with pytest.raises(ModelFormatError, match="carries StridedSliceOptions options, expected Conv2DOptions"):
        convert_model(tio.parse_model(tio.serialize_model(m)), name="corrupt.tflite")


# ------------------------------------------------------------------------------------------------ inconsistent graphs
# Structurally valid flatbuffers whose graph cannot be: each once reached an IndexError or ValueError in the width
# graph, the importance scores or the permutation (exit 3), or killed the process inside the TFLM interpreter
# (SIGFPE, SIGSEGV) during `run`. tflite_io.check_structure (op_checks) refuses them, naming the op and tensor.

def _op(m, kind: str, nth: int = 0):
    return [op for op in m.subgraphs[0].operators if tio.op_name(m, op) == kind][nth]


def _reshape_const(m, j: int, shape, values=None) -> None:
    t = m.subgraphs[0].tensors[j]
    old = tio.buffer_of(m, t)
    tio.set_buffer(m, j, np.resize(old, shape) if values is None else np.asarray(values, old.dtype))


def _fc_weights_1d(m):
    w = _op(m, "FULLY_CONNECTED", 1).inputs[1]
    _reshape_const(m, w, (384,))


def _conv_bias_short(m):
    _reshape_const(m, _op(m, "CONV_2D").inputs[2], (7,))


def _scales_beyond_the_channels(m):
    q = m.subgraphs[0].tensors[_op(m, "CONV_2D").inputs[1]].quantization
    q.scale = np.append(np.asarray(q.scale, np.float32), np.float32(0.01))
    q.zeroPoint = np.zeros(len(q.scale), np.int64)


def _no_zero_point(m):
    m.subgraphs[0].tensors[m.subgraphs[0].operators[0].inputs[0]].quantization.zeroPoint = np.zeros(0, np.int64)


def _conv_weights_5d(m):
    _reshape_const(m, _op(m, "CONV_2D").inputs[1], (8, 3, 3, 1, 1))


def _groups_not_dividing_the_outputs(m):
    _reshape_const(m, _op(m, "CONV_2D", 2).inputs[1], (10, 1, 1, 1))


def _optional_output(m):
    op = _op(m, "ADD")
    op.outputs = np.asarray([op.outputs[0], -1], np.int32)


def _last_op_dropped(m):
    m.subgraphs[0].operators.pop()


def _pool_with_fc_options(m):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    op = _op(m, "MAX_POOL_2D")
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.FullyConnectedOptions, \
        schema.FullyConnectedOptionsT()


def _pack_without_output(m):
    _op(m, "PACK").outputs = np.zeros(0, np.int32)


def _float_mean_axes(m):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    j = _op(m, "MEAN").inputs[1]
    m.subgraphs[0].tensors[j].type = schema.TensorType.FLOAT32
    tio.set_buffer(m, j, np.asarray([1.0, 2.0], np.float32))


def _add_with_one_input(m):
    op = _op(m, "ADD")
    op.inputs = np.asarray(op.inputs[:1], np.int32)


def _pack_optional_input(m):
    op = _op(m, "PACK")
    op.inputs = np.asarray([op.inputs[0], -1], np.int32)


def _mean_axes_against_output(m):
    _reshape_const(m, _op(m, "MEAN").inputs[1], (1,), [1])


def _pack_axis(m):
    _op(m, "PACK").builtinOptions.axis = 2 ** 20


def _bfloat16_activation(m):  # both sides of the MAX_POOL_2D (op_checks refuses an op that changes the type)
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    for j in (_op(m, "MAX_POOL_2D").inputs[0], _op(m, "MAX_POOL_2D").outputs[0]):
        m.subgraphs[0].tensors[j].type = schema.TensorType.BFLOAT16


def _stride_0(m):
    _op(m, "CONV_2D").builtinOptions.strideH = 0


def _softmax_beta_0(m):
    _op(m, "SOFTMAX").builtinOptions.beta = 0.0


def _concat_axis_4(m):
    _op(m, "CONCATENATION").builtinOptions.axis = 4


def _reds_out_width_beyond_the_weights(m):
    from reds_tflm.options import encode
    op = _op(m, "CUSTOM:REDS_FC")
    o = decode("REDS_FC", bytes(op.customOptions))
    o.out_widths = [o.out_widths[0] + 1, *o.out_widths[1:]]
    op.customOptions = np.frombuffer(encode(o), np.uint8).copy()


# (model, mode, converted first, edit, command, words of the message); the old symptom in the comment
INCONSISTENT = {
    "fc weights 1-D": ("mlp", "float32", False, _fc_weights_1d, "convert",  # IndexError in the width graph
                       r"op 1 \(FULLY_CONNECTED\): weights tensor 4 .* of shape \[384\], expected \[outputs, inputs\]"),
    "conv bias short": ("ds_cnn", "float32", False, _conv_bias_short, "convert",  # IndexError in the permutation
                        r"op 0 \(CONV_2D\): bias tensor 13 .* of shape \[7\], expected \[8\]"),
    "scales beyond the channels": ("ds_cnn", "int8", False, _scales_beyond_the_channels, "convert",  # ValueError
                                   r"tensor \d+ .* of shape \[8, 3, 3, 1\] has 9 per-channel scales along dimension 0"),
    "no zero point": ("mlp", "int8", True, _no_zero_point, "run",  # IndexError in the host runner
                      r"tensor 0 .* has 1 quantisation scale\(s\) but 0 zero point\(s\)"),
    "conv weights 5-D": ("ds_cnn", "float32", False, _conv_weights_5d, "run",  # SIGFPE in TFLM
                         r"op 0 \(CONV_2D\): weights tensor 12 .* of shape \[8, 3, 3, 1, 1\], expected 4-D"),
    "groups not dividing the outputs": ("ds_cnn", "float32", False, _groups_not_dividing_the_outputs, "run",  # SIGFPE
                                        r"op 4 \(CONV_2D\): input tensor 17 .* has 12 channels, the weights .* read 1"),
    "optional output": ("residual", "int8", True, _optional_output, "run",  # SIGSEGV in TFLM
                        r"op 3 \(ADD\): output tensor index -1"),
    "output never written": ("mlp", "int8", True, _last_op_dropped, "run",  # KeyError in the host runner
                             r"graph output tensor 9 .* is written by no op"),
    "pool with FC options": ("dynamic_batch", "float32", False, _pool_with_fc_options, "run",
                             r"op 1 \(MAX_POOL_2D\): carries FullyConnectedOptions options, expected Pool2DOptions"),
    "pack without output": ("dynamic_batch", "int8", True, _pack_without_output, "run",  # TFLM: exit 3, 3 lines
                            r"op 5 \(PACK\): has no output tensor"),
    "float MEAN axes": ("residual", "float32", False, _float_mean_axes, "run",  # TFLM's lines, then exit 3
                        r"op 5 \(MEAN\): the tflite-micro interpreter cannot prepare it: .*axis->type"),
    "ADD with one input": ("residual", "float32", False, _add_with_one_input, "convert",  # IndexError, width graph
                           r"op 3 \(ADD\): expects 2 input\(s\) and one output, has inputs \[12\]"),
    "PACK optional input": ("dynamic_batch", "float32", False, _pack_optional_input, "run",  # SIGSEGV in TFLM
                            r"op 5 \(PACK\): input tensor index -1 in \[16, -1\]"),
    "MEAN axes against output": ("residual", "float32", False, _mean_axes_against_output, "run",  # SIGSEGV
                                 r"op 5 \(MEAN\): output tensor 17 .* of shape \[1, 8\], but reducing .* gives "
                                 r"\[1, 3, 8\]"),
    "PACK axis": ("dynamic_batch", "float32", False, _pack_axis, "run",  # SIGSEGV in TFLM
                  r"op 5 \(PACK\): option axis = 1048576"),
    "bfloat16 activation": ("dynamic_batch", "float32", False, _bfloat16_activation, "run",  # SIGSEGV, get_output
                            r"op 0 \(CONV_2D\) tensor 12 .* has type BFLOAT16"),
    "stride 0": ("ds_cnn", "float32", False, _stride_0, "run",  # SIGFPE in TFLM
                 r"op 0 \(CONV_2D\): option strideH = 0, expected a positive integer"),
    # the second round (tests/test_op_checks.py has one small model per check)
    "int8 SOFTMAX beta 0": ("cnn_flatten", "int8", True, _softmax_beta_0, "run",  # SIGABRT in TFLM
                            r"op 6 \(SOFTMAX\): option beta = 0 with input tensor \d+ .* int8 SOFTMAX needs"),
    "CONCATENATION axis 4": ("concat", "float32", False, _concat_axis_4, "run",  # SIGSEGV in TFLM
                             r"op 2 \(CONCATENATION\): option axis = 4 with inputs \[\d+, \d+\], expected an "
                             r"axis of the output"),
    "REDS out_widths beyond the weights": ("mlp", "int8", True, _reds_out_width_beyond_the_weights,
                                           "materialize",  # written, and refused by the device at start-up
                                           r"op 0 \(CUSTOM:REDS_FC\): custom option out_widths\[0\] = 25, but the "
                                           r"weights tensor \d+ .* have 24 output channels"),
}


@pytest.mark.parametrize("case", list(INCONSISTENT))
def test_inconsistent_graph_is_one_line_exit_2(tmp_path, case):
    import re
    name, mode, reds, edit, cmd, words = INCONSISTENT[case]
    m = tio.parse_model(models.tflite_model(name, mode))
    if reds:
        m = convert_model(m, budgets=[1.0, 0.5]).model
    t = m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]]
    x = np.zeros(tio.tensor_shape(t), tio.NUMPY_DTYPES[t.type])
    edit(m)
    path = tmp_path / "bad.tflite"
    path.write_bytes(tio.serialize_model(m))
    np.save(tmp_path / "x.npy", x)
    args = {"convert": ["-o", str(tmp_path / "o.tflite")], "run": ["--input", str(tmp_path / "x.npy")],
            "materialize": ["-k", "1", "-o", str(tmp_path / "o.tflite")]}[cmd]
    err = one_clean_line(run_cli(cmd, str(path), *args))
    assert str(path) in err and re.search(words, err), err
    assert not (tmp_path / "o.tflite").exists()
