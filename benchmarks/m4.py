"""Exact instruction counts of the REDS ops on a Cortex-M4 (QEMU mps2-an386, -icount shift=0), portable vs DSP.

For three Keras models of Fashion-MNIST size (int8, converted with reds_tflm.convert.convert_model at budgets
1.0/0.75/0.5/0.25) the firmware boards/mps2_an386/bench.c runs every REDS op at every budget through the C core
and counts its instructions exactly (boards/mps2_an386/icount.S). "Whole model" figures are the sum over the REDS
ops (REDS_FC / REDS_Conv / REDS_DWConv); the builtin ops between them (pooling, mean, reshape) are not in the C core
and are excluded. Weights are untrained but seeded (keras.utils.set_random_seed(SEED)): the converter ranks channels
by weight magnitude, so the widths it picks, and hence the counts, depend on them; seeded runs are repeatable. Op
inputs are seeded random int8.

Five width variants of every model are measured: the converter's default widths (minimum width 1 per group: the
top-level "models" key), `min_fraction=0.25` (every group keeps at least a quarter of its channels) and
`min_fraction=0.25` with `output_cost=C` (budgets in MACs + C per output element), with the DSP cost profile
(`cost_profile`: budgets in predicted DSP instructions), and with `width_multiple=4` (widths in whole words), the
others under "variants".
C is calibrated here: a least-squares fit of every op's count over the first two variants, instructions =
a·MACs + b·outputs + c·output pixels, gives C = round(b / a) for the DSP path ("cost_model" key). The cost
profiles (the same form per layer kind: FC, 1x1 conv, KxK conv, depthwise) are fitted on the same counts and
written to python/reds_tflm/profiles/cortex-m4-{dsp,portable}.json ("cost_profiles" key; --no-profiles keeps the
files). The proportional-cost target is checked for every variant.

Writes benchmarks/results/m4.json, benchmarks/results/m4.png and the table between the M4 markers of
benchmarks/README.md.   Usage: python benchmarks/m4.py [--out DIR] [--seed N] [--no-readme] [--no-profiles]

The trained models of TRAINED (benchmarks/models/, REDS model files with their trained widths) are measured as they
are ("trained" key). `--model-file PATH` measures only that REDS model file (any converted model: its own budgets
and widths), prints its table and writes m4_<file stem>.json into --out (nothing else).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "python"), str(ROOT / "boards" / "mps2_an386")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import m4gen  # noqa: E402
import m4run  # noqa: E402
from reds_tflm import tflite_io as tio  # noqa: E402
from reds_tflm.errors import BudgetError, RedsError  # noqa: E402
from reds_tflm.options import REDS_CONV, REDS_FC, decode  # noqa: E402

BUDGETS = [1.0, 0.75, 0.5, 0.25]
PATHS = ("portable", "dsp")
SEED = 0
# Width variants: name -> (min_fraction, output cost or None = calibrated from the fit of the variants before it,
# cost profile or None; "fitted" = the DSP profile fitted on the first two variants).
# The first is the default and fills the top-level keys.
# name: (min_fraction, output_cost (None: calibrated here), cost profile ("fitted": the one fitted here), width
# multiple)
VARIANTS = {"default": (0.0, 0.0, None, 1), "min_fraction_0.25": (0.25, 0.0, None, 1),
            "min_fraction_0.25_output_cost": (0.25, None, None, 1),
            "min_fraction_0.25_cost_profile": (0.25, 0.0, "fitted", 1),
            "min_fraction_0.25_multiple4": (0.25, 0.0, None, 4)}
PROFILE_DIR = ROOT / "python" / "reds_tflm" / "profiles"
# REDS models trained on real data, measured as they are (their own widths): DS-CNN S on Fashion-MNIST, the model
# of benchmarks/train_fashion.py --seed 3 (the recipe's defaults; int8 91.50 / 91.55 / 90.85 / 89.37 %).
TRAINED = {"ds_cnn_s_fashion": ROOT / "benchmarks" / "models" / "ds_cnn_s_fashion.reds.tflite",
           "ds_cnn_s_vision_fashion": ROOT / "benchmarks" / "models" / "ds_cnn_s_vision_fashion.reds.tflite"}


def keras_models(seed: int = SEED) -> dict:
    import keras
    from keras import layers as L
    # Seeds Python's random, NumPy and the backend: the initial weights, hence the converter's widths, repeat.
    keras.utils.set_random_seed(seed)
    i = keras.Input((784,), batch_size=1)
    fc2 = keras.Model(i, L.Dense(10)(L.Dense(128, activation="relu")(i)), name="fc2")

    i = keras.Input((28, 28, 1), batch_size=1)
    x = L.Conv2D(32, 3, strides=2, padding="same", activation="relu")(i)
    for stride in (1, 2, 1):
        x = L.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu")(x)
        x = L.Conv2D(64, 1, activation="relu")(x)
    ds_cnn = keras.Model(i, L.Dense(10)(L.GlobalAveragePooling2D()(x)), name="ds_cnn")

    i = keras.Input((28, 28, 1), batch_size=1)
    x = L.MaxPooling2D()(L.Conv2D(16, 3, padding="same", activation="relu")(i))
    x = L.MaxPooling2D()(L.Conv2D(32, 3, padding="same", activation="relu")(x))
    x = L.Dense(64, activation="relu")(L.Flatten()(x))
    cnn_flat = keras.Model(i, L.Dense(10)(x), name="cnn_flatten")
    return {"fc2": fc2, "ds_cnn": ds_cnn, "cnn_flatten": cnn_flat}


def representative(shape: tuple[int, ...], n: int = 64) -> list[np.ndarray]:
    """Fashion-MNIST test images when the Debian package is there, else noise of the same range."""
    try:
        from reds_tflm.data.loaders import load_fashion_mnist
        x = load_fashion_mnist()[1].x[:n]
    except Exception:
        x = np.random.default_rng(0).uniform(0, 1, (n, 28, 28, 1)).astype(np.float32)
    return [s.reshape((1,) + shape).astype(np.float32) for s in x]


def int8_tflite(model) -> bytes:
    import tensorflow as tf
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    samples = representative(tuple(model.input_shape[1:]))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([s] for s in samples)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def op_macs(op: str, opts, in_hwc, out_hwc, kernel) -> list[int]:
    oh, ow_, _ = out_hwc
    kk = kernel[0] * kernel[1]
    if op == REDS_FC:
        return [o * i * opts.in_repeat for o, i in zip(opts.out_widths, opts.in_widths)]
    if op == REDS_CONV:
        return [oh * ow_ * o * kk * i for o, i in zip(opts.out_widths, opts.in_widths)]
    return [oh * ow_ * o * kk for o in opts.out_widths]


def reds_op_indices(model) -> list[int]:
    """Operator indices of the REDS ops of a converted model, in order (the converter rewrites ops in place, so
    they are the indices of the width graph's layers)."""
    return [i for i, op in enumerate(model.subgraphs[0].operators)
            if tio.op_name(model, op).startswith("CUSTOM:REDS_")]


def reds_cases(model, rng: np.random.Generator) -> list[m4gen.CCase]:
    """One CCase per REDS op of the converted model, with a random full-width input."""
    sg = model.subgraphs[0]
    cases = []
    for idx in reds_op_indices(model):
        op = sg.operators[idx]
        name = tio.op_name(model, op)
        code = name.split(":", 1)[1]
        opts = decode(code, bytes(op.customOptions))
        t_in, t_w, t_out = (sg.tensors[op.inputs[0]], sg.tensors[op.inputs[1]], sg.tensors[op.outputs[0]])
        w = tio.buffer_of(model, t_w)
        has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
        s_in, z_in, _ = tio.quant_params(t_in)
        s_w, _, _ = tio.quant_params(t_w)
        s_out, z_out, _ = tio.quant_params(t_out)
        if code == REDS_FC:
            out_c = int(w.shape[0])
            in_hwc, out_hwc, kernel = (1, opts.in_repeat, opts.in_channels), (1, 1, out_c), (1, 1)
        else:
            in_hwc = tuple(int(v) for v in tio.tensor_shape(t_in)[1:])
            out_hwc = tuple(int(v) for v in tio.tensor_shape(t_out)[1:])
            kernel = tuple(int(v) for v in w.shape[1:3])
            out_c = out_hwc[2]
        bias = tio.buffer_of(model, sg.tensors[op.inputs[2]]) if has_bias else np.zeros(out_c, np.int32)
        x = rng.integers(-128, 128, int(np.prod(in_hwc)), dtype=np.int8)
        cases.append(m4gen.CCase(f"op{idx}_{code}", code, bytes(op.customOptions), in_hwc, out_hwc, kernel,
                                 float(s_in[0]), int(z_in[0]), s_w, float(s_out[0]), int(z_out[0]), x, w, bias,
                                 macs=op_macs(code, opts, in_hwc, out_hwc, kernel)))
    return cases


def arena_bytes(model_bytes: bytes) -> int:
    """TFLM's recorded arena for the full-width network (materialized budget 0: the REDS model keeps these
    full-width tensors, so its memory plan is the same). print_allocations writes to C stdout: use a subprocess."""
    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as f:
        f.write(model_bytes)
    code = ("import sys; from tflite_micro.python.tflite_micro import runtime; "
            "it = runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read()); it.print_allocations()")
    try:
        out = subprocess.run([sys.executable, "-c", code, f.name], capture_output=True, text=True, timeout=120)
    finally:
        os.unlink(f.name)
    m = re.search(r"Arena allocation total (\d+) bytes", out.stdout + out.stderr)
    if not m:
        raise RuntimeError(f"no arena figure from tflite-micro:\n{out.stdout}\n{out.stderr}")
    return int(m.group(1))


def core_code_bytes(map_path: Path) -> int:
    """.text + .rodata bytes that the linker took from libreds.a (the C core as linked into the firmware)."""
    text = map_path.read_text()
    pat = re.compile(r"^ \.(?:text|rodata)\S*\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+\S*libreds\.a\(", re.M)
    return sum(int(s, 16) for s in pat.findall(re.sub(r"\n\s{10,}(?=0x)", " ", text)))


def run_bench(header: Path, build: Path, arch: str, opt: str = "-O2") -> tuple[dict, int]:
    d = build / f"{arch}{opt}"
    m4run.build("bench", d, arch=arch, opt=opt, BENCH_MODEL=str(header))
    r = m4run.run(d / "bench.elf", timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"bench ({arch} {opt}) failed:\n{r.output}")
    counts: dict = {}
    for i, k, n in re.findall(r"^op=(\d+) budget=(\d+) instructions=(\d+) status=0$", r.output, re.M):
        counts.setdefault(int(i), {})[int(k)] = int(n)
    stack: dict = {}
    for i, k, n in re.findall(r"^op=(\d+) budget=(\d+) stack=(\d+)$", r.output, re.M):
        stack.setdefault(int(i), {})[int(k)] = int(n)
    if set(stack) != set(counts):
        raise RuntimeError(f"bench ({arch} {opt}): stack depths for ops {sorted(stack)}, counts for {sorted(counts)}")
    return {"set_budget": r.values()["set_budget"], "ops": counts, "stack": stack}, core_code_bytes(d / "bench.map")


def measure_model(model, name: str, min_fraction: float, build: Path, result: dict, seed: int,
                  output_cost: float = 0.0, profile=None, width_multiple: int = 1) -> dict:
    """Convert one int8 model at BUDGETS with `min_fraction` (and `output_cost` or a cost profile, and widths in
    steps of `width_multiple`) and count the instructions of its REDS ops."""
    from reds_tflm.convert import convert_model
    conv = convert_model(model, budgets=BUDGETS, min_fraction=min_fraction, name=name, output_cost=output_cost,
                         cost_profile=profile, width_multiple=width_multiple)
    entry = measure_reds(conv.model, conv.graph, name, build, result, seed)
    if profile is not None:  # what the search budgeted: predicted instructions over the full network's
        entry["predicted_time"] = [round(profile.instructions(conv.graph, w) / profile.instructions(conv.graph), 4)
                                   for w in conv.widths]
    return entry


def measure_reds(model, graph, name: str, build: Path, result: dict, seed: int) -> dict:
    """Count the instructions of every REDS op of a converted model (`graph`: its width graph) at each of its
    budgets, on both paths; code bytes and reds_set_budget's count go into `result`."""
    from reds_tflm.materialize import materialize
    reds_bytes = tio.serialize_model(model)
    cases = reds_cases(model, np.random.default_rng(seed))  # same input data for every variant
    header = m4gen.write_cases_header(cases, build / f"{name}.h")
    meta_macs = [int(b["macs"]) for b in json.loads(tio.get_metadata(model, "reds"))["budgets"]]
    n_budgets = len(meta_macs)
    widths = {c.name: decode(c.op, c.options) for c in cases}
    kinds = op_kinds(model, graph, cases)
    entry = {"macs": [int(sum(c.macs[k] for c in cases)) for k in range(n_budgets)],
             "metadata_macs": meta_macs,
             # MACs of FC/Conv/DW ops the converter left builtin (no narrowable channel) are not in the C core.
             "reds_share_of_model_macs": [round(a / b, 4) for a, b in zip(
                 [sum(c.macs[k] for c in cases) for k in range(n_budgets)], meta_macs)],
             "model_flash_bytes": len(reds_bytes),
             "arena_bytes": arena_bytes(tio.serialize_model(materialize(model, 0, name))),
             "instructions": {},
             "conv_scratch_bytes": max([conv_scratch(c, widths[c.name]) for c in cases] + [0]),
             "ops": [{"name": c.name, "op": c.op, "kind": kinds[c.name], "macs": c.macs,
                      "out_widths": list(widths[c.name].out_widths), "in_widths": list(widths[c.name].in_widths),
                      "pixels": int(c.out_hwc[0] * c.out_hwc[1]),
                      "instructions": {}} for c in cases]}
    for arch in PATHS:
        res, code = run_bench(header, build / name, arch)
        result["set_budget_instructions"][arch] = res["set_budget"]
        result["code_flash_bytes"].setdefault(arch, {})["-O2"] = code
        m4run.build("bench", build / name / f"{arch}-Os", arch=arch, opt="-Os", BENCH_MODEL=str(header))
        result["code_flash_bytes"][arch]["-Os"] = core_code_bytes(build / name / f"{arch}-Os" / "bench.map")
        for i, op in enumerate(entry["ops"]):
            op["instructions"][arch] = [res["ops"][i][k] for k in range(n_budgets)]
            op.setdefault("stack_bytes", {})[arch] = [res["stack"][i][k] for k in range(n_budgets)]
        # the deepest stack of any op at any budget: what the firmware's stack must hold beyond the caller's frame
        entry.setdefault("stack_bytes", {})[arch] = max(max(op["stack_bytes"][arch]) for op in entry["ops"])
        entry["instructions"][arch] = [sum(op["instructions"][arch][k] for op in entry["ops"])
                                       for k in range(n_budgets)]
    return entry


def op_kinds(model, graph, cases: list) -> dict[str, str]:
    """The cost profile's layer kind of every REDS op, from the width graph (cost_profile.layer_kind: the one
    mapping the width search prices with), by operator index."""
    from reds_tflm.cost_profile import layer_kind
    by_index = {l.ref: layer_kind(l, graph.sizes[l.in_group]) for l in graph.layers}
    out = {}
    for idx, c in zip(reds_op_indices(model), cases):
        if idx not in by_index:
            raise RedsError(f"{c.name}: operator {idx} is not a layer of the width graph")
        out[c.name] = by_index[idx]
    return out


# Convs and FCs read by at most this many active inputs run loops of their own (conv_1x1_few: one to three MACs
# per output, all per-output work), a regime the per-kind linear form cannot share with the general kernels:
# fitted together, they pulled the per-output price down and the time fractions of every other width 4-6 points
# low. The profiles price the general kernels; such layers cost less than predicted (a conservative error).
FEW_INPUTS = 3


def profile_rows(model_sets: list[dict], path: str) -> list[tuple[str, float, float, float, float]]:
    """(kind, MACs, outputs, pixels, instructions) of every op and budget the profiles are fitted on."""
    return [(op["kind"], macs, op["pixels"] * op["out_widths"][k], op["pixels"], op["instructions"][path][k])
            for ms in model_sets for m in ms.values() for op in m["ops"] for k, macs in enumerate(op["macs"])
            if op["kind"] in ("dwconv", "conv_c1") or op["in_widths"][k] > FEW_INPUTS]


def fit_profiles(model_sets: list[dict]) -> dict:
    """Per-kind cost profiles (reds_tflm.cost_profile.fit_profile) of both paths from every op and budget, except
    layers read by FEW_INPUTS inputs or fewer."""
    from reds_tflm.cost_profile import fit_profile
    out = {}
    for path in PATHS:
        rows = profile_rows(model_sets, path)
        out[path] = fit_profile(rows, f"cortex-m4-{path}",
                                f"benchmarks/m4.py: {len(rows)} op counts ({path} kernels, arm-none-eabi-gcc -O2, "
                                "QEMU mps2-an386 -icount shift=0) of the default and min_fraction_0.25 widths, "
                                f"layers read by more than {FEW_INPUTS} inputs")
    return out


def write_profiles(profiles: dict, directory: Path = PROFILE_DIR) -> None:
    from reds_tflm.tflite_io import write_bytes_atomic
    directory.mkdir(parents=True, exist_ok=True)
    for prof in profiles.values():
        write_bytes_atomic(directory / f"{prof.name}.json", (json.dumps(prof.to_json(), indent=1) + "\n").encode())


def conv_scratch(case, opts) -> int:
    """Largest working memory a REDS_Conv asks for over the budgets (reds_conv_s8_scratch_size; 0 for others)."""
    if case.op != REDS_CONV:
        return 0
    from reds_tflm import core
    return max(core.conv_s8_scratch_size(case.in_hwc, case.out_hwc, case.kernel, o, i)
               for o, i in zip(opts.out_widths, opts.in_widths))


def op_rows(models: dict, path: str) -> tuple[np.ndarray, np.ndarray]:
    """(features [MACs, outputs, pixels], instructions) of every op at every budget."""
    x, y = [], []
    for m in models.values():
        for op in m["ops"]:
            for k, macs in enumerate(op["macs"]):
                x.append([macs, op["pixels"] * op["out_widths"][k], op["pixels"]])
                y.append(op["instructions"][path][k])
    return np.array(x, np.float64), np.array(y, np.float64)


def fit_cost_model(model_sets: list[dict]) -> dict:
    """instructions ≈ a·MACs + b·outputs + c·pixels per op, least squares over every op, budget and model set."""
    out = {}
    for path in PATHS:
        parts = [op_rows(ms, path) for ms in model_sets]
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        resid = y - x @ coef
        out[path] = {"per_mac": round(float(coef[0]), 3), "per_output": round(float(coef[1]), 2),
                     "per_pixel": round(float(coef[2]), 1), "output_cost_macs": round(float(coef[1] / coef[0]), 2),
                     "median_abs_error_pct": round(float(np.median(np.abs(resid) / y)) * 100, 1), "ops": len(y)}
    return out


def measure(build: Path, seed: int = SEED, write_profile_files: bool = True) -> dict:
    result: dict = {"target": "QEMU mps2-an386 Cortex-M4F, -icount shift=0, arm-none-eabi-gcc -O2",
                    "seed": seed, "budgets": BUDGETS, "min_fraction": VARIANTS["default"][0],
                    "set_budget_instructions": {}, "code_flash_bytes": {}, "models": {},
                    "variants": {v: {"min_fraction": f, "output_cost": c, "width_multiple": m, "models": {}}
                                 for v, (f, c, _, m) in VARIANTS.items() if v != "default"}}
    models = {name: tio.parse_model(int8_tflite(km), name) for name, km in keras_models(seed).items()}
    profiles: dict = {}
    for variant, (frac, cost, prof, multiple) in VARIANTS.items():
        target = result["models"] if variant == "default" else result["variants"][variant]["models"]
        measured = [result["models"]] + [v["models"] for v in result["variants"].values() if v["models"]]
        if cost is None:  # calibrated on the variants measured so far (DSP path)
            result["cost_model"] = fit_cost_model(measured)
            cost = float(round(result["cost_model"]["dsp"]["output_cost_macs"]))
            result["variants"][variant]["output_cost"] = cost
        if prof is not None and not profiles:  # fitted on the variants measured so far (not those priced by C)
            profiles = fit_profiles(measured[:2])
            result["cost_profiles"] = {p: v.to_json() for p, v in profiles.items()}
            if write_profile_files:
                write_profiles(profiles)
        if prof is not None:
            result["variants"][variant]["cost_profile"] = profiles["dsp"].name
        for i, (name, model) in enumerate(models.items()):
            try:
                target[name] = measure_model(model, name, frac, build / variant, result, seed + i, cost,
                                             profiles["dsp"] if prof is not None else None, multiple)
            except BudgetError as exc:  # e.g. the fixed per-output cost of a tiny model exceeds 25 % of its cost
                result["variants"][variant].setdefault("infeasible", {})[name] = str(exc)
    result["trained"] = {"models": {name: measure_file(path, name, build / "trained", result, seed)
                                    for name, path in TRAINED.items()}}
    return result


def measure_file(path: Path, name: str, build: Path, result: dict, seed: int = SEED) -> dict:
    """The REDS ops of a model file (already converted: its own budgets and widths)."""
    from reds_tflm.materialize import reds_info
    model = tio.load_model(path)
    meta, graph = reds_info(model, str(path))
    entry = measure_reds(model, graph, name, build, result, seed)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return {"source": str(shown), "budgets": [float(b["fraction"]) for b in meta["budgets"]], **entry}


def proportional(models: dict) -> dict:
    """cost(b) <= MACs(b)/MACs(0) * cost(0) + 5 % cost(0), per model and path."""
    out = {}
    for name, m in models.items():
        for p in PATHS:
            c, macs = m["instructions"][p], m["macs"]
            bound = [macs[k] / macs[0] * c[0] + 0.05 * c[0] for k in range(len(c))]
            out[f"{name}/{p}"] = {"ok": all(c[k] <= bound[k] for k in range(len(c))),
                                  "excess_over_proportional_pct":
                                  [round(100 * (c[k] - macs[k] / macs[0] * c[0]) / c[0], 2) for k in range(len(c))]}
    return out


def checks(result: dict) -> dict:
    """The targets: set_budget <= 50 instructions; the proportional bound for each width variant."""
    out = {"set_budget_le_50": {p: result["set_budget_instructions"][p] <= 50 for p in PATHS},
           "proportional": proportional(result["models"])}
    for v in list(result.get("variants", {}).values()) + ([result["trained"]] if "trained" in result else []):
        v["checks"] = {"proportional": proportional(v["models"])}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--seed", type=int, default=SEED, help="Keras initialisers and op inputs")
    ap.add_argument("--no-readme", action="store_true", help="do not rewrite the README section")
    ap.add_argument("--model-file", type=Path, default=None,
                    help="measure only this REDS model file (.tflite) and write m4_<stem>.json into --out")
    ap.add_argument("--no-profiles", action="store_true",
                    help="do not rewrite the bundled cost profiles (python/reds_tflm/profiles/)")
    args = ap.parse_args(argv)
    missing = m4run.missing_tools()
    if missing:
        print(f"needs {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.model_file is not None:
        return measure_one_file(args.model_file, args.out, args.seed)
    with tempfile.TemporaryDirectory(prefix="reds-m4-") as tmp:
        result = measure(Path(tmp), args.seed, not args.no_profiles)
    result["checks"] = checks(result)
    args.out.mkdir(parents=True, exist_ok=True)
    from reds_tflm.tflite_io import write_bytes_atomic
    write_bytes_atomic(args.out / "m4.json", (json.dumps(result, indent=1) + "\n").encode())
    import m4report
    m4report.plot(result, args.out / "m4.png")
    if not args.no_readme:
        m4report.update_readme(result, ROOT / "benchmarks" / "README.md")
    print(m4report.table(result))
    return 0


def measure_one_file(path: Path, out: Path, seed: int) -> int:
    """--model-file: one REDS model file's counts per op and budget, as a table and m4_<stem>.json."""
    import m4report
    from reds_tflm.tflite_io import write_bytes_atomic
    result: dict = {"target": "QEMU mps2-an386 Cortex-M4F, -icount shift=0, arm-none-eabi-gcc -O2", "seed": seed,
                    "set_budget_instructions": {}, "code_flash_bytes": {}}
    try:
        with tempfile.TemporaryDirectory(prefix="reds-m4-") as tmp:
            entry = measure_file(path.resolve(), path.stem, Path(tmp), result, seed)
    except (RedsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result["trained"] = {"models": {path.stem: entry}}
    result["trained"]["checks"] = {"proportional": proportional(result["trained"]["models"])}
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out / f"m4_{path.stem}.json", (json.dumps(result, indent=1) + "\n").encode())
    print(m4report.file_table(result, path.stem))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
