"""The bundled demo: the post-training conversion and the bundled REDS-trained model, measured on real
Fashion-MNIST test images by the C core and TFLM."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from reds_tflm import tflite_io as tio
from reds_tflm.demo import TRAINED_MODEL, demo_model_bytes, run_demo


def test_bundled_trained_model_is_a_reds_model_with_four_budgets() -> None:
    model = tio.parse_model(demo_model_bytes(TRAINED_MODEL), TRAINED_MODEL)
    meta = json.loads(tio.get_metadata(model, "reds"))
    assert [round(b["macs_fraction"], 2) for b in meta["budgets"]] == [1.0, 0.75, 0.5, 0.25]
    names = {tio.op_name(model, op) for op in model.subgraphs[0].operators}
    assert {"CUSTOM:REDS_Conv", "CUSTOM:REDS_DWConv"} <= names


def test_demo_prints_both_tables_and_training_keeps_the_small_budgets(tmp_path, capsys) -> None:
    pytest.importorskip("tflite_micro")
    assert run_demo(argparse.Namespace(out=str(tmp_path), limit=300)) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\s*(\d)\s+[\d.]+%\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+([\d.]+)%$", out, re.M)
    assert len(rows) == 8, out
    post = [float(a) for _, a in rows[:4]]
    trained = [float(a) for _, a in rows[4:]]
    assert trained[3] > 80.0 and trained[3] > post[3] + 30.0, out
    assert all(t > 85.0 for t in trained), out
    assert (tmp_path / "ds_cnn_s_fashion_int8.reds.tflite").stat().st_size > 40000
