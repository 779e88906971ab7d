"""The training benchmark's result files: names that identify the method, and no result replaced by another
configuration's (a renamed default once made a new run overwrite an earlier run's figures)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from reds_tflm.errors import RedsError
from reds_tflm.keras import example

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def bench(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("train_fashion_bench", ROOT / "benchmarks" / "train_fashion.py")
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "train_fashion_bench", mod)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "RESULTS", tmp_path)
    return mod


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    example.add_arguments(p)
    return p.parse_args(list(argv))


def test_names_spell_out_joint_epochs_and_teacher(bench) -> None:
    assert bench.result_name(_args()) == "train_ds_cnn_s_min0.25_ft24_teacher-pretrained"
    assert bench.result_name(_args("--seed", "1")) == "train_ds_cnn_s_min0.25_ft24_teacher-pretrained_s1"
    assert bench.result_name(_args("--quick")) == "train_ds_cnn_s_quick_min0.25_ft4_teacher-pretrained"
    old_defaults = _args("--teacher", "inplace", "--finetune-epochs", "16", "--seed", "1")
    assert bench.result_name(old_defaults) == "train_ds_cnn_s_min0.25_ft16_teacher-inplace_s1"
    assert bench.result_name(old_defaults) != bench.result_name(_args("--seed", "1"))
    timed = _args("--cost-profile", "cortex-m4-dsp")
    assert bench.result_name(timed) == "train_ds_cnn_s_min0.25_ft24_teacher-pretrained_cost-cortex-m4-dsp"
    assert "cortex-m4-dsp predicted instructions" in bench.method_text(timed)
    assert "predicted instructions" not in bench.method_text(_args())
    qat = _args("--qat-epochs", "2", "--seed", "3")
    assert bench.result_name(qat) == "train_ds_cnn_s_min0.25_ft24_teacher-pretrained_qat2_s3"
    assert "2 conversion-aware epochs" in bench.method_text(qat)
    ens = _args("--teacher-from", "runs/a/checkpoint", "runs/b/checkpoint", "--seed", "3")
    assert bench.result_name(ens) == "train_ds_cnn_s_min0.25_ft24_teacher-pretrained_ensemble3_s3"
    assert "ensemble of the frozen pre-trained network and the pre-trained networks of 2 earlier runs" in \
        bench.method_text(ens)


def test_results_of_another_configuration_are_not_replaced(bench, tmp_path) -> None:
    args = _args("--seed", "1")
    path = tmp_path / f"{bench.result_name(args)}.json"
    bench.check_results_free(args)  # nothing there yet
    path.write_text(json.dumps({"seed": 1, "method": bench.method_text(args) + "."}))
    bench.check_results_free(args)  # the same run again (resumed or repeated): allowed
    path.write_text(json.dumps({"seed": 1, "method": "joint lr 0.0015, 16 joint epochs, in-place distillation 0.5."}))
    with pytest.raises(RedsError, match="another configuration"):
        bench.check_results_free(args)
    path.write_text("{not json")
    with pytest.raises(RedsError, match="unreadable"):
        bench.check_results_free(args)


def test_cli_refuses_before_training(bench, tmp_path, monkeypatch, capsys) -> None:
    args = _args("--quick")
    (tmp_path / f"{bench.result_name(args)}.json").write_text(json.dumps({"seed": 0, "method": "other."}))
    monkeypatch.setattr(sys, "argv", ["train_fashion.py", "--quick"])
    monkeypatch.setattr(bench.example, "run_example", lambda a: pytest.fail("trained despite the clash"))
    assert bench.main() == 2
    assert "another configuration" in capsys.readouterr().err


def test_atomic_write_leaves_only_the_file(bench, tmp_path) -> None:
    target = tmp_path / "r.json"
    bench.write_bytes_atomic(target, b"{}")  # the package's writer, which the benchmark's results go through
    assert target.read_text() == "{}" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_readme_sections_replace_only_their_own(tmp_path) -> None:
    from reds_tflm.tflite_io import replace_marked_section
    readme = tmp_path / "README.md"
    replace_marked_section(readme, "<!-- a -->", "<!-- /a -->", "<!-- a -->\nA1\n<!-- /a -->", "# B\n")
    replace_marked_section(readme, "<!-- b -->", "<!-- /b -->", "<!-- b -->\nB1\n<!-- /b -->")
    assert readme.read_text() == "# B\n\n<!-- a -->\nA1\n<!-- /a -->\n\n<!-- b -->\nB1\n<!-- /b -->\n"
    replace_marked_section(readme, "<!-- a -->", "<!-- /a -->", "<!-- a -->\nA2\nmore\n<!-- /a -->")
    assert readme.read_text() == "# B\n\n<!-- a -->\nA2\nmore\n<!-- /a -->\n\n<!-- b -->\nB1\n<!-- /b -->\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]
