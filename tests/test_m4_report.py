"""The M4 benchmark's report: the per-op decomposition of the excess over proportional cost adds up to the excess
the benchmark checks, on the committed results (benchmarks/results/m4.json)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "boards" / "mps2_an386"))

import m4report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "m4.json"


@pytest.mark.skipif(not RESULTS.exists(), reason="no committed M4 results")
def test_excess_by_op_adds_up_to_the_checked_excess() -> None:
    r = json.loads(RESULTS.read_text())
    rows = [line for line in m4report.excess_by_op(r) if re.match(r"\| \w+ \| \d+ \(", line)]
    sums: dict[tuple[str, int], float] = {}
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        model, budget = cells[0], int(cells[1].split()[0])
        own, mix, share = (float(c) for c in cells[5:8])
        assert abs(own + mix - share) <= 0.11, line  # each printed to 0.1
        sums[(model, budget)] = sums.get((model, budget), 0.0) + share
    assert sums, "no rows"
    trained = r.get("trained", {})
    for (model, k), total in sums.items():
        checks, models = (r["checks"], r["models"]) if model in r["models"] else (trained["checks"], trained["models"])
        checked = checks["proportional"][f"{model}/dsp"]["excess_over_proportional_pct"][k]
        n_ops = len(models[model]["ops"])
        assert abs(total - checked) <= 0.05 * n_ops + 0.01, (model, k, total, checked)
    assert re.search(r"\| ds_cnn \| 1 \(", "\n".join(rows))
    assert not trained or re.search(r"\| ds_cnn_s_fashion \| 3 \(", "\n".join(rows))  # the trained model too
