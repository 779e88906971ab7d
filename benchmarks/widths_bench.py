"""Benchmark of nested width selection (reds_tflm.widths) on DS-CNN-like chains.

Instance ("dscnn-C"): keyword-spotting DS-CNN-L shape. Input 49x10x1 (MFCC frames), stem CONV 10x4 stride 2 to
25x5xC, five blocks of 3x3 DEPTHWISE + 1x1 POINTWISE C->C on 25x5 maps, global average pool, FC to 12 classes.
Groups: input (1 channel, fixed), the stem output and the five pointwise outputs (C channels each, free, min width 1),
the 12 classes (fixed). MACs: stem 25*5*10*4 * w_in*w_0, depthwise 25*5*9 * w, pointwise 25*5 * w_a*w_b,
pool 25*5 * w_5, FC w_5*12. Scores: per group, C draws of Gamma(shape 2, scale 1) from numpy's default_rng(seed)
(seed 0 unless --seed), sorted non-increasing.

For each channel count and nesting mode: the default (Lagrangian) method's time for all four budgets (median of
--runs runs) and per budget, its certified gap (upper_bound - value) / upper_bound, and the MILP (HiGHS) on the same
restricted subproblem (same lo/hi as the nested step) and on the unrestricted per-budget problem, with a time limit;
when the MILP stops early its incumbent and best bound are reported instead of an optimum.

Run: PYTHONPATH=python python benchmarks/widths_bench.py [--channels 32 64 276] [--milp-time-limit 120]
Writes benchmarks/results/widths.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from reds_tflm.tflite_io import replace_marked_section  # noqa: E402
from reds_tflm.widths import (WidthProblem, budgets_from_fractions, full_macs, select_nested,  # noqa: E402
                              solve)

FRACTIONS = (1.0, 0.75, 0.5, 0.25)
HW = 25 * 5  # feature map after the stride-2 stem


def dscnn_problem(channels: int, seed: int) -> WidthProblem:
    rng = np.random.default_rng(seed)
    blocks = 5
    n_in, first, last, n_out = 0, 1, 1 + blocks, 2 + blocks  # group indices: input, stem..PW5, classes
    sizes = [1] + [channels] * (blocks + 1) + [12]
    scores = [np.ones(1)] + [np.sort(rng.gamma(2.0, 1.0, size=channels))[::-1] for _ in range(blocks + 1)]
    scores.append(np.ones(12))
    mins = [1] + [1] * (blocks + 1) + [12]
    unary = {g: 0.0 for g in range(len(sizes))}
    pair = {(n_in, first): float(HW * 10 * 4)}  # stem conv 10x4, one input channel
    for b in range(blocks):
        g_in, g_out = first + b, first + b + 1
        unary[g_in] += HW * 9  # depthwise 3x3 on the block's input channels
        pair[(g_in, g_out)] = float(HW)  # pointwise
    unary[last] += HW  # global average pool
    pair[(last, n_out)] = 1.0  # FC to the classes
    return WidthProblem(tuple(sizes), tuple(scores), tuple(mins), 0.0, unary, pair)


def timed(fn, runs: int):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, times


def milp_record(problem, budget, lo, hi, time_limit, cache):
    key = (budget, tuple(lo), tuple(hi))
    if key not in cache:
        t = time.perf_counter()
        s = solve(problem, budget, lo=lo, hi=hi, method="milp", time_limit=time_limit)
        elapsed = time.perf_counter() - t
        optimal = s.gap <= 1e-7  # HiGHS's bound meets its incumbent (it runs with mip_rel_gap 1e-9)
        cache[key] = {"optimal": bool(optimal), "value": s.value, "bound": s.upper_bound, "widths": list(s.widths),
                      "time_s": elapsed, "note": s.note}
    return cache[key]


def rel(a: float, b: float) -> float:
    return (a - b) / a if a else 0.0


def run_instance(channels: int, seed: int, runs: int, time_limit: float, with_milp: bool) -> dict:
    problem = dscnn_problem(channels, seed)
    budgets = budgets_from_fractions(problem, FRACTIONS)
    solve(problem, budgets[1])  # warm-up: imports and first-call overheads are not the solver's time
    rec = {"name": f"dscnn-{channels}", "channels": channels, "groups": problem.num_groups,
           "free_groups": sum(a < b for a, b in zip(problem.min_widths, problem.sizes)),
           "full_macs": full_macs(problem), "modes": {}}
    cache: dict = {}
    for mode in ("top-down", "bottom-up"):
        sols, times = timed(lambda: select_nested(problem, budgets, mode=mode), runs)
        # The box each budget was solved in, replayed to time the single solves and to pose the same MILP.
        lo, hi = list(problem.min_widths), list(problem.sizes)
        order = range(len(budgets)) if mode == "top-down" else range(len(budgets) - 1, -1, -1)
        box_of = {}
        for i in order:
            box_of[i] = (tuple(lo), tuple(hi))
            if mode == "top-down":
                hi = list(sols[i].widths)
            else:
                lo = list(sols[i].widths)
        entries = []
        for i, (frac, b, s) in enumerate(zip(FRACTIONS, budgets, sols)):
            blo, bhi = box_of[i]
            _, st = timed(lambda: solve(problem, b, lo=blo, hi=bhi), runs)
            e = {"fraction": frac, "macs_budget": b, "widths": list(s.widths), "macs": s.macs,
                 "macs_fraction": s.macs / rec["full_macs"], "value": s.value, "upper_bound": s.upper_bound,
                 "certified_gap": s.gap, "dp_evaluations": s.evaluations, "solve_time_s_median": statistics.median(st)}
            if with_milp:
                same = milp_record(problem, b, blo, bhi, time_limit, cache)
                free = milp_record(problem, b, problem.min_widths, problem.sizes, time_limit, cache)
                e["milp_same_box"] = same
                e["milp_unrestricted"] = free
                # Positive = the MILP found better widths; when it stopped early, its bound caps the true gap.
                e["gap_to_milp_same_box"] = rel(same["value"], s.value) if same["optimal"] else None
                e["gap_to_milp_incumbent_same_box"] = rel(same["value"], s.value)
                e["gap_to_best_bound_same_box"] = rel(min(same["bound"], s.upper_bound), s.value)
                e["gap_to_unrestricted_optimum"] = rel(free["value"], s.value) if free["optimal"] else None
                # The Lagrangian bound of the unrestricted problem also caps the unrestricted optimum.
                e["lagrangian_bound_unrestricted"] = solve(problem, b).upper_bound
                e["gap_to_unrestricted_bound"] = rel(min(free["bound"], e["lagrangian_bound_unrestricted"]),
                                                     s.value)
            entries.append(e)
        rec["modes"][mode] = {"total_time_s_median": statistics.median(times), "total_time_s_runs": times,
                              "budgets": entries}
    return rec


def fmt_gap(x) -> str:
    return "—" if x is None else f"{x:.2e}"


def print_table(results: list[dict]) -> list[str]:
    lines = ["| instance | mode | budget | MACs used | value | certified gap | gap to MILP (same box) "
             "| MILP status, time | gap to unrestricted optimum | solve time | all 4 budgets |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for mode, m in r["modes"].items():
            for k, e in enumerate(m["budgets"]):
                same = e.get("milp_same_box")
                if same is None:
                    milp_gap, status, free_gap = "—", "not run", "—"
                else:
                    milp_gap = (fmt_gap(e["gap_to_milp_same_box"]) if same["optimal"] else
                                f"≤ {e['gap_to_best_bound_same_box']:.2e} (incumbent {same['value']:.1f})")
                    status = f"{'optimal' if same['optimal'] else 'time limit'}, {same['time_s']:.1f} s"
                    free = e["milp_unrestricted"]
                    free_gap = (fmt_gap(e["gap_to_unrestricted_optimum"]) if free["optimal"] else
                                f"≤ {e['gap_to_unrestricted_bound']:.2e} (bound)")
                total = f"{m['total_time_s_median'] * 1e3:.1f} ms" if k == 0 else ""
                lines.append(f"| {r['name']} | {mode} | {e['fraction']:.2f} | {e['macs_fraction']:.4f} | "
                             f"{e['value']:.2f} | {e['certified_gap']:.2e} | {milp_gap} | {status} | {free_gap} | "
                             f"{e['solve_time_s_median'] * 1e3:.1f} ms | {total} |")
    return lines


README_BEGIN = "<!-- widths:begin (generated by benchmarks/widths_bench.py) -->"
README_END = "<!-- widths:end -->"


def readme_section(doc: dict) -> str:
    by = {r["channels"]: r for r in doc["instances"]}
    totals = ", ".join(f"{c} channels: top-down {r['modes']['top-down']['total_time_s_median'] * 1e3:.1f} ms, "
                       f"bottom-up {r['modes']['bottom-up']['total_time_s_median'] * 1e3:.1f} ms"
                       for c, r in sorted(by.items()))
    limit = doc["milp_time_limit_s"]
    return "\n".join([
        README_BEGIN,
        "## Nested width selection (`reds_tflm.widths`)",
        "",
        "DS-CNN-L-shaped chain: input 49x10x1, stem conv 10x4 stride 2, five depthwise 3x3 + pointwise blocks on 25x5 "
        "maps, average pool, FC to 12 classes; C channels in each of the 6 free groups (input and classes fixed). "
        f"Scores: {doc['scores']}, seed {doc['seed']}. Budgets 1, 0.75, 0.5, 0.25 of the full MACs. "
        f"Default method (Lagrangian tree DP + greedy repair/swap), median of {doc['runs']} runs on "
        f"{doc['machine']['cpus']} cores (shared with other jobs). All four budgets: {totals}.",
        "",
        "*certified gap* = (dual upper bound - value) / upper bound, from the Lagrangian alone. *gap to MILP* = "
        "(MILP optimum - value) / MILP optimum on the same restricted subproblem (the nested step's lo/hi); when HiGHS "
        f"stops at its time limit ({limit} s) the entry is the gap to the best bound known (min of HiGHS's and the "
        "Lagrangian's). *gap to unrestricted optimum* compares with the best widths for that budget alone (no nesting), "
        "i.e. it adds the price of nesting; when that MILP stops early, the gap to the best bound (HiGHS's or the "
        "unrestricted Lagrangian's) is given. Load average during the run: "
        f"{doc['machine'].get('loadavg_start', '?')} at the start, {doc['machine'].get('loadavg_end', '?')} at the end.",
        "",
        *print_table(doc["instances"]),
        "",
        "Reproduce: `PYTHONPATH=python python benchmarks/widths_bench.py` (writes `benchmarks/results/widths.json`; "
        "`--no-milp` skips the exact solves, `--readme` rewrites this section).",
        README_END,
    ])


def update_readme(path: Path, section: str) -> None:
    replace_marked_section(path, README_BEGIN, README_END, section, "# Benchmarks\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, nargs="+", default=[32, 64, 276])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--milp-time-limit", type=float, default=120.0, help="seconds per MILP")
    ap.add_argument("--no-milp", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "widths.json"))
    ap.add_argument("--readme", action="store_true", help="also rewrite this benchmark's section of README.md")
    ap.add_argument("--readme-only", action="store_true", help="rewrite the README section from --out, no runs")
    args = ap.parse_args(argv)
    readme = Path(__file__).resolve().parent / "README.md"
    if args.readme_only:
        update_readme(readme, readme_section(json.loads(Path(args.out).read_text())))
        return 0
    load_start = [round(x, 2) for x in os.getloadavg()]
    results = []
    for c in args.channels:
        print(f"dscnn-{c} ...", flush=True)
        results.append(run_instance(c, args.seed, args.runs, args.milp_time_limit, not args.no_milp))
    table = print_table(results)
    print("\n".join(table))  # the README section re-renders it from the JSON (no stored copy to go stale)
    doc = {"benchmark": "widths", "fractions": FRACTIONS, "seed": args.seed, "runs": args.runs,
           "milp_time_limit_s": None if args.no_milp else args.milp_time_limit,
           "scores": "per free group: numpy default_rng(seed).gamma(2.0, 1.0, C), sorted non-increasing",
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                       "scipy": scipy.__version__, "platform": platform.platform(),
                       "loadavg_start": load_start, "loadavg_end": [round(x, 2) for x in os.getloadavg()]},
           "instances": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(out)
    print(f"wrote {out}")
    if args.readme:
        update_readme(readme, readme_section(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
