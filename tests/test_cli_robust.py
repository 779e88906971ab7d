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
