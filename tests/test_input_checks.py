"""Bad input gets a reds_tflm error naming the culprit, never a traceback, and outputs are all-or-nothing:
export-c's --name and .cc/.h pair, the `reds` metadata's shape, widths files and width values, eval's .npz data,
and demo's --out/--limit."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import models
from test_export_c import tiny_reds_model
from reds_tflm import tflite_io as tio
from reds_tflm.convert import convert_model, load_widths_file
from reds_tflm.data.loaders import load_npz
from reds_tflm.demo import run_demo
from reds_tflm.errors import BudgetError, ModelFormatError, RedsError, WidthsError
from reds_tflm.export_c import export_c, export_c_file
from reds_tflm.graph_tflite import graph_from_tflite
from reds_tflm.materialize import materialize, reds_info
from reds_tflm.rewrite import read_metadata


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------ export-c --name

C11_KEYWORDS = "_Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local"
CXX_KEYWORDS = (
    "alignas alignof and and_eq asm bitand bitor catch char8_t char16_t char32_t class compl concept consteval "
    "constexpr constinit const_cast co_await co_return co_yield decltype delete dynamic_cast explicit export false "
    "friend mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public "
    "reinterpret_cast requires static_assert static_cast template this thread_local throw true try typeid typename "
    "using virtual wchar_t xor xor_eq")
LIBRARY_NAMES = ("main int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t intptr_t uintptr_t size_t "
                 "ptrdiff_t INT32_MAX")
RESERVED = "_Model __model g__model model_"  # model_ makes model__len


@pytest.mark.parametrize("name", (C11_KEYWORDS + " " + CXX_KEYWORDS + " " + LIBRARY_NAMES + " " + RESERVED).split())
def test_export_c_rejects_names_that_do_not_compile(tmp_path: Path, name: str) -> None:
    with pytest.raises(RedsError, match=f"--name '{name}' is not a valid C identifier"):
        export_c(tiny_reds_model(), tmp_path / "m.cc", name=name)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["g_model", "Model1", "m", "model_data"])
def test_export_c_accepts_ordinary_names(tmp_path: Path, name: str) -> None:
    res = export_c(tiny_reds_model(), tmp_path / "m.cc", name=name)
    assert f"const unsigned char {name}[" in res.source.read_text()


# ------------------------------------------------------------------------------------------------ export-c pair

def test_export_c_pair_source_is_a_directory_leaves_no_new_header(tmp_path: Path) -> None:
    (tmp_path / "out.cc").mkdir()
    with pytest.raises(RedsError, match="out.cc: is a directory"):
        export_c(tiny_reds_model(), tmp_path / "out.cc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.cc"]


def test_export_c_pair_keeps_an_existing_header_when_the_source_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "out.cc").mkdir()
    header = tmp_path / "out.h"
    header.write_text("/* the user's header */\n")
    before = _sha(header)
    with pytest.raises(RedsError, match="out.cc"):
        export_c(tiny_reds_model(), tmp_path / "out.cc")
    assert _sha(header) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.cc", "out.h"]


def _second_replace_fails(monkeypatch, errno: int, why: str) -> None:
    """os.replace fails on its second call: after the first file of the pair is in place (a race: checks passed)."""
    real_replace, calls = os.replace, []

    def flaky_replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno, why)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)


def test_export_c_pair_rolls_back_when_a_rename_fails(tmp_path: Path, monkeypatch) -> None:
    """A failure after the first file is in place puts the old pair back."""
    export_c(tiny_reds_model(), tmp_path / "out.cc", name="old_model")
    before = {p.name: _sha(p) for p in tmp_path.iterdir()}
    _second_replace_fails(monkeypatch, 28, "No space left on device")
    with pytest.raises(RedsError, match="cannot write"):
        export_c(tiny_reds_model(), tmp_path / "out.cc", name="new_model")
    monkeypatch.undo()
    assert {p.name: _sha(p) for p in tmp_path.iterdir()} == before  # same files, old contents, no temporaries


def test_export_c_pair_new_files_removed_when_a_rename_fails(tmp_path: Path, monkeypatch) -> None:
    _second_replace_fails(monkeypatch, 5, "Input/output error")
    with pytest.raises(RedsError, match="cannot write"):
        export_c(tiny_reds_model(), tmp_path / "out.cc")
    monkeypatch.undo()
    assert not list(tmp_path.iterdir())


def test_export_c_header_may_not_overwrite_the_input_model(tmp_path: Path) -> None:
    model = tmp_path / "model.h"  # a .tflite that happens to be named like the header
    model.write_bytes(tiny_reds_model())
    before = _sha(model)
    with pytest.raises(RedsError, match="model.h: the output would overwrite the input model"):
        export_c_file(model, tmp_path / "model.cc")
    assert _sha(model) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h"]


# ------------------------------------------------------------------------------------------------ 'reds' metadata

@pytest.fixture(scope="module")
def reds_mlp() -> bytes:
    res = convert_model(tio.parse_model(models.tflite_model("mlp", "int8")), budgets=[1.0, 0.6, 0.3], name="mlp")
    return tio.serialize_model(res.model)


def _with_meta(data: bytes, mutate: Callable[[dict], None]) -> Any:
    model = tio.parse_model(data)
    meta = json.loads(tio.get_metadata(model, "reds"))
    mutate(meta)
    tio.set_metadata(model, "reds", json.dumps(meta).encode())
    return tio.parse_model(tio.serialize_model(model))


def _set(path: tuple, value: Any) -> Callable[[dict], None]:
    def mutate(meta: dict) -> None:
        obj = meta
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return mutate


def _drop(path: tuple) -> Callable[[dict], None]:
    def mutate(meta: dict) -> None:
        obj = meta
        for k in path[:-1]:
            obj = obj[k]
        del obj[path[-1]]
    return mutate


BAD_META = [
    ("no ops", _drop(("ops",)), "no 'ops' list"),
    ("budget without widths", _drop(("budgets", 1, "widths")), r"budget 1 widths: \(missing\)"),
    ("widths as strings", _set(("budgets", 1, "widths", 1), "12"), r"budget 1 widths\[1\] '12'"),
    ("short widths", lambda m: m["budgets"][2]["widths"].pop(), "budget 2 widths: 3 entries, expected a list of 4"),
    ("float width", _set(("budgets", 1, "widths", 1), 12.5), r"budget 1 widths\[1\] 12.5"),
    ("width beyond the group", _set(("budgets", 1, "widths", 1), 99), r"budget 1 widths\[1\] 99 .* 1..24"),
    ("fixed group narrowed", _set(("budgets", 1, "widths", 0), 3), r"budget 1 widths\[0\] 3: group 0 is fixed"),
    ("no macs_fraction", _drop(("budgets", 0, "macs_fraction")), r"budget 0 macs_fraction \(missing\)"),
    ("no macs", _drop(("budgets", 2, "macs")), r"budget 2 macs \(missing\)"),
    ("no params", _drop(("budgets", 2, "params")), r"budget 2 params \(missing\)"),
    ("negative macs", _set(("budgets", 1, "macs"), -5), "budget 1 macs -5"),
    ("no weight_bytes", _drop(("budgets", 1, "weight_bytes")), r"budget 1 weight_bytes \(missing\)"),
    ("budget not an object", _set(("budgets", 1), [1, 2]), "budget 1 is a JSON list"),
    ("empty budgets", _set(("budgets",), []), "lists 0 budgets, expected 1..16"),
    ("budgets not a list", _set(("budgets",), "1,0.5"), "no 'budgets' list"),
    ("budget count differs from the ops", lambda m: m["budgets"].pop(), "lists 2 budgets but the REDS ops carry 3"),
    ("first fraction not 1", _set(("budgets", 0, "fraction"), 0.9), "budget 0 fraction 0.9"),
    ("fraction above 1", _set(("budgets", 1, "fraction"), 7), r"budget 1 fraction 7 outside \(0, 1\]"),
    ("fraction a string", _set(("budgets", 1, "fraction"), "abc"), "budget 1 fraction 'abc'"),
    ("fractions not decreasing", _set(("budgets", 2, "fraction"), 0.6), "budget 2 fraction 0.6 is not below"),
    ("no groups", _drop(("groups",)), "no 'groups' list"),
    ("group without size", _drop(("groups", 1, "size")), r"group 1 size \(missing\)"),
    ("group size 0", _set(("groups", 1, "size"), 0), "group 1 size 0"),
    ("group without fixed", _drop(("groups", 2, "fixed")), r"group 2 fixed \(missing\)"),
    ("group fixed as 1", _set(("groups", 2, "fixed"), 1), "group 2 fixed 1 is not true or false"),
    ("group id not its position", _set(("groups", 2, "id"), 5), "group 2 id 5, expected 2"),
    ("fixed group without reason", _set(("groups", 0, "reason"), None), "group 0 reason None is not a string"),
    ("op_index out of range", _set(("ops", 0, "op_index"), 999), "ops\\[0\\] op_index 999 is not an operator index"),
    ("op_index a string", _set(("ops", 0, "op_index"), "a"), "ops\\[0\\] op_index 'a' is not an operator index"),
    ("op listed twice", lambda m: m["ops"].append(dict(m["ops"][0])), "op_index 0 is listed twice"),
    ("op missing", lambda m: m["ops"].pop(0), r"'ops' does not list the REDS ops \[0\]"),
    ("builtin_version a string", _set(("ops", 0, "builtin_version"), "3"), "ops\\[0\\] builtin_version '3'"),
    ("version 2", _set(("version",), 2), "version 2, expected 1"),
    ("version true", _set(("version",), True), "version True, expected 1"),
]


@pytest.mark.parametrize("what,mutate,match", BAD_META, ids=[c[0] for c in BAD_META])
def test_malformed_metadata_is_a_model_format_error(reds_mlp: bytes, what: str, mutate, match: str) -> None:
    model = _with_meta(reds_mlp, mutate)
    for call in (lambda: read_metadata(model, "bad.tflite"), lambda: reds_info(model, "bad.tflite"),
                 lambda: materialize(model, 1, "bad.tflite")):
        with pytest.raises(ModelFormatError, match=f"bad.tflite: 'reds' metadata .*{match}"):
            call()


def test_metadata_not_an_object(reds_mlp: bytes) -> None:
    model = tio.parse_model(reds_mlp)
    tio.set_metadata(model, "reds", b"[1, 2]")
    with pytest.raises(ModelFormatError, match="bad.tflite: 'reds' metadata is a JSON list, expected an object"):
        read_metadata(tio.parse_model(tio.serialize_model(model)), "bad.tflite")


def test_export_c_refuses_the_budget_table_inspect_refuses(reds_mlp: bytes, tmp_path: Path) -> None:
    """One checker: export-c's budget errors are ModelFormatErrors too, and the same files fail everywhere."""
    for mutate, match in ((_set(("budgets", 2, "fraction"), 0.6), "budget 2 fraction 0.6"),
                          (_set(("version",), 2), "version 2"),
                          (lambda m: m["budgets"].pop(), "lists 2 budgets but the REDS ops carry 3")):
        data = tio.serialize_model(_with_meta(reds_mlp, mutate))
        with pytest.raises(ModelFormatError, match=match):
            export_c(data, tmp_path / "m.cc", source_name="bad.tflite")
    assert not list(tmp_path.iterdir())
    data = tio.serialize_model(_with_meta(reds_mlp, _set(("budgets", 1, "fraction"), 1.5)))
    with pytest.raises(BudgetError, match="budget 1 fraction 1.5"):  # what export-c always raised
        export_c(data, tmp_path / "m.cc")


def test_metadata_on_a_builtin_op_is_refused() -> None:
    data = tiny_reds_model()
    model = tio.parse_model(data)
    meta = {"version": 1, "groups": [{"id": 0, "size": 6, "fixed": False, "reason": None},
                                     {"id": 1, "size": 8, "fixed": True, "reason": "model input"}],
            "budgets": [{"fraction": f, "macs": 1, "params": 1, "macs_fraction": f, "weight_bytes": 1,
                         "widths": [w, 8]} for f, w in ((1.0, 6), (0.5, 3), (0.25, 1))],
            "ops": [{"op_index": 0, "custom_code": "REDS_FC"}]}
    tio.set_metadata(model, "reds", json.dumps(meta).encode())
    assert read_metadata(model, "t.tflite")["ops"][0]["op_index"] == 0
    model.operatorCodes[0].customCode = "SOMETHING_ELSE"
    with pytest.raises(ModelFormatError, match=r"ops\[0\] op_index 0: op 0 \(CUSTOM:SOMETHING_ELSE\) is not a REDS"):
        read_metadata(model, "t.tflite")


def test_valid_metadata_still_reads(reds_mlp: bytes) -> None:
    from reds_tflm.demo import TRAINED_MODEL, demo_model_bytes
    meta = read_metadata(tio.parse_model(reds_mlp), "mlp")
    assert [b["fraction"] for b in meta["budgets"]] == [1.0, 0.6, 0.3]
    trained = tio.parse_model(demo_model_bytes(TRAINED_MODEL), TRAINED_MODEL)
    assert len(read_metadata(trained, TRAINED_MODEL)["budgets"]) == 4


# ------------------------------------------------------------------------------------------------ widths

@pytest.fixture(scope="module")
def mlp_graph():
    model = tio.parse_model(models.tflite_model("mlp", "int8"))
    return model, graph_from_tflite(model, "mlp")  # groups (20 fixed, 24, 16, 6 fixed)


FULL = [20, 24, 16, 6]


@pytest.mark.parametrize("text,match", [
    ('{"budgets": [{"widths": [20, 24, 16, 6]}, {"widths": [20, 12, "x", 6]}]}', r"budgets\[1\]: group 2 width 'x'"),
    ('{"budgets": [{"widths": [20, 24, 16, 6]}, {"widths": [20, 1e400, 8, 6]}]}', r"budgets\[1\]: group 1 width inf"),
    ('{"budgets": [{"widths": [20, 24, 16, 6]}, {"widths": [20, 12.5, 8, 6]}]}', r"budgets\[1\]: group 1 width 12.5"),
    ('{"budgets": [{"widths": [20, 24, 16, 6]}, {"widths": [20, true, 8, 6]}]}', r"budgets\[1\]: group 1 width True"),
    ('{"budgets": [{"widths": [20, 24, 16, 6], "fraction": "abc"}, {"widths": [20, 12, 8, 6], "fraction": 0.5}]}',
     "budget 0 fraction 'abc' is not a number"),
    ('{"budgets": [{"widths": [20, 24, 16, 6], "fraction": 1}, {"widths": [20, 12, 8, 6], "fraction": 7}]}',
     r"budget 1 fraction 7 outside \(0, 1\]"),
    ('{"budgets": [{"widths": [20, 24, 16, 6], "fraction": 0.5}, {"widths": [20, 12, 8, 6], "fraction": 0.1}]}',
     "budget 0 fraction 0.5: the first budget must be 1"),
    ('{"budgets": [{"widths": [20, 24, 16, 6], "fraction": 1}, {"widths": [20, 12, 8, 6], "fraction": true}]}',
     "budget 1 fraction True is not a number"),
    ('{"budgets": [{"widths": [20, 24, 16, 6], "fraction": 1}, {"widths": [20, 12, 8, 6], "fraction": 1}]}',
     "budget 1 fraction 1 is not below budget 0"),
])
def test_widths_file_rejects_bad_values(tmp_path: Path, mlp_graph, text: str, match: str) -> None:
    p = tmp_path / "w.json"
    p.write_text(text)
    with pytest.raises(WidthsError, match=f"w.json: .*{match}"):
        load_widths_file(p, mlp_graph[1])


def test_widths_file_with_good_fractions(tmp_path: Path, mlp_graph) -> None:
    p = tmp_path / "w.json"
    p.write_text('{"budgets": [{"widths": [20, 24, 16, 6], "fraction": 1}, {"widths": [20, 12.0, 8, 6], '
                 '"fraction": 0.5}]}')
    assert load_widths_file(p, mlp_graph[1]) == ([1.0, 0.5], [FULL, [20, 12, 8, 6]])


@pytest.mark.parametrize("budgets,match", [([1, 2], r"budget 1 fraction 2 outside \(0, 1\]"),
                                           ([0.5, 0.1], "budget 0 fraction 0.5: the first budget must be 1"),
                                           ([1, 7], "budget 1 fraction 7 outside"),
                                           ([1, float("nan")], "budget 1 fraction nan is not a number"),
                                           ([1, 1], "decrease strictly: budget 1 fraction 1 is not below budget 0")])
def test_convert_with_widths_checks_the_fractions(mlp_graph, budgets, match: str) -> None:
    with pytest.raises(BudgetError, match=f"mlp: .*{match}"):
        convert_model(mlp_graph[0], budgets=budgets, widths=[FULL, [20, 12, 8, 6]], name="mlp")


def test_convert_with_widths_refuses_equal_budgets_and_macs(mlp_graph) -> None:
    with pytest.raises(WidthsError, match="mlp: the widths' MACs fractions: .*budget 1 fraction 1.0 is not below"):
        convert_model(mlp_graph[0], widths=[FULL, FULL], name="mlp")
    with pytest.raises(BudgetError, match="mlp: absolute MACs budgets and given widths exclude each other"):
        convert_model(mlp_graph[0], macs=[1000, 500], widths=[FULL, [20, 12, 8, 6]], name="mlp")
    res = convert_model(mlp_graph[0], budgets=[1, 0.5], widths=[FULL, [20, 12, 8, 6]], name="mlp")
    assert [r["fraction"] for r in res.table] == [1.0, 0.5]


@pytest.mark.parametrize("bad", [True, 12.5, "12", float("inf"), float("nan"), 1e400, None, [12], np.bool_(True)])
def test_check_widths_rejects_non_integers(mlp_graph, bad) -> None:
    with pytest.raises(WidthsError, match="here: group 1 width .* is not an integer"):
        mlp_graph[1].check_widths([20, bad, 8, 6], "here")


def test_check_widths_takes_whole_numbers(mlp_graph) -> None:
    assert mlp_graph[1].check_widths([20, np.int64(12), 8.0, np.float32(6)]) == [20, 12, 8, 6]


# ------------------------------------------------------------------------------------------------ eval --data

def _npz(tmp_path: Path, name: str = "d.npz", **arrays: Any) -> Path:
    p = tmp_path / name
    np.savez(p, **arrays)
    return p


X = np.zeros((10, 5, 5), np.float32)
Y = np.arange(10) % 3


@pytest.mark.parametrize("arrays,match", [
    ({"x": X}, "missing key 'y'"),
    ({"y": Y}, "missing key 'x'"),
    ({"x": np.float32(1), "y": Y}, "x is a 0-d array"),
    ({"x": X, "y": np.int64(1)}, "y is a 0-d array"),
    ({"x": np.array(["a"] * 10), "y": Y}, "x has dtype <U1, expected numbers"),
    ({"x": X, "y": np.array(["a"] * 10)}, "y has dtype <U1, expected integer class labels"),
    ({"x": X.astype(np.complex64), "y": Y}, "x has dtype complex64"),
    ({"x": X, "y": np.where(Y == 1, np.nan, Y)}, r"y\[1\] = nan is not a whole-number class label"),
    ({"x": X, "y": Y + 0.5}, r"y\[0\] = 0.5 is not a whole-number class label"),
    ({"x": X, "y": Y - 1}, "y holds the label -1"),
    ({"x": X, "y": np.eye(3)[Y]}, r"y has shape \(10, 3\), expected class indices"),
    ({"x": np.where(X == 0, np.nan, X), "y": Y}, "x holds NaN or infinite values"),
    ({"x": X, "y": Y[:7]}, "10 samples in x but 7 labels in y"),
    ({"x": X[:0], "y": Y[:0]}, "x and y are empty: nothing to evaluate"),
    ({"x": X, "y": Y, "x_test": X}, "has x_test without y_test"),
    ({"x": X, "y": Y, "x_test": X, "y_test": Y[:3]}, "10 samples in x_test but 3 labels in y_test"),
])
def test_npz_rejects_bad_datasets(tmp_path: Path, arrays: dict, match: str) -> None:
    p = _npz(tmp_path, **arrays)
    with pytest.raises(RedsError, match=f"d.npz: {match}"):
        load_npz(p)


def test_npz_rejects_files_that_are_not_npz_archives(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(RedsError, match="x.npy: is a single .npy array, expected an .npz archive"):
        load_npz(tmp_path / "x.npy")
    full = _npz(tmp_path, x=X, y=Y).read_bytes()
    (tmp_path / "t.npz").write_bytes(full[: len(full) // 2])
    with pytest.raises(RedsError, match="t.npz: not a readable .npz archive"):
        load_npz(tmp_path / "t.npz")
    (tmp_path / "text.npz").write_text("x,y\n1,2\n")
    with pytest.raises(RedsError, match="text.npz: not a readable .npz archive"):
        load_npz(tmp_path / "text.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}] * 10, dtype=object), y=Y)
    with pytest.raises(RedsError, match="obj.npz: array 'x' cannot be read"):
        load_npz(tmp_path / "obj.npz")
    with pytest.raises(RedsError, match="is a directory"):
        load_npz(tmp_path)


def test_npz_still_loads_good_data(tmp_path: Path) -> None:
    train, test = load_npz(_npz(tmp_path, x=X, y=Y.astype(np.float64).reshape(-1, 1)))
    assert train.x.shape == (8, 5, 5, 1) and test.y.dtype == np.int32 and len(test.y) == 2


# ------------------------------------------------------------------------------------------------ demo

def test_demo_out_naming_a_file_is_a_clean_error(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("keep me")
    with pytest.raises(RedsError, match=re.escape(f"--out {f}: is an existing file, expected a directory")):
        run_demo(argparse.Namespace(out=str(f), limit=10))
    with pytest.raises(RedsError, match=re.escape(f"--out {f / 'sub'}: cannot create the directory")):
        run_demo(argparse.Namespace(out=str(f / "sub"), limit=10))
    assert f.read_text() == "keep me"


def test_demo_negative_limit_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    with pytest.raises(RedsError, match="--limit -1: expected a number of test images >= 1, or 0 for all"):
        run_demo(argparse.Namespace(out=str(out), limit=-1))
    assert not out.exists()
