"""The training report next to model.reds.tflite: report.md (table), report.png (accuracy vs MACs), report.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .. import tflite_io as tio


def rows(result: Any, export: Any) -> list[dict[str, Any]]:
    out = []
    for k, (f, w) in enumerate(zip(result.fractions, result.widths)):
        t = export.table[k]
        out.append({"budget": k, "fraction": float(f), "macs": int(round(result.graph.macs(w))),
                    "macs_fraction": result.graph.macs(w) / result.graph.macs(),
                    "params": int(round(result.graph.params(w))), "flash_weight_bytes": int(t["weight_bytes"]),
                    "accuracy_float": float(result.accuracy_float[k]), "accuracy_int8": float(export.accuracy_int8[k]),
                    "widths": [int(v) for v in w]})
    return out


def markdown(table: Sequence[dict[str, Any]], title: str, notes: Sequence[str] = ()) -> str:
    lines = [f"# {title}", "", "| budget | % MACs | MACs | params | flash (weights, bytes) | float accuracy | "
             "int8 accuracy |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table:
        lines.append(f"| {r['budget']} | {100 * r['macs_fraction']:.1f} | {r['macs']:,} | {r['params']:,} | "
                     f"{r['flash_weight_bytes']:,} | {100 * r['accuracy_float']:.2f} % | "
                     f"{100 * r['accuracy_int8']:.2f} % |")
    lines.append("")
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def plot(series: dict[str, tuple[Sequence[float], Sequence[float]]], path: Path, title: str) -> None:
    """Accuracy (%) against MACs for each named series of (macs, accuracies)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, (macs, acc) in series.items():
        ax.plot([m / 1e6 for m in macs], [100 * a for a in acc], marker="o", label=name)
    ax.set_xlabel("MACs (millions)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def write_report(result: Any, export: Any, out: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    table = rows(result, export)
    name = getattr(result.model, "name", "model")
    size = export.path.stat().st_size
    notes = [f"model file {export.path.name}: {size:,} bytes for all {len(table)} budgets",
             f"int8 accuracy on {export.int8_samples} test samples, {export.int8_engine}",
             f"joint loss weights alpha: {', '.join(f'{a:.3f}' for a in result.alphas)}"]
    tio.write_bytes_atomic(out / "report.md", markdown(table, f"REDS subnetworks of {name}", notes).encode())
    plot({"REDS float": ([r["macs"] for r in table], [r["accuracy_float"] for r in table]),
          "REDS int8": ([r["macs"] for r in table], [r["accuracy_int8"] for r in table])},
         out / "report.png", f"{name}: accuracy vs MACs")
    doc = {"model": name, "file_bytes": size, "int8_samples": export.int8_samples, "int8_engine": export.int8_engine,
           "alphas": result.alphas, "budgets": table, "history": result.history, **(extra or {})}
    tio.write_bytes_atomic(out / "report.json", json.dumps(doc, indent=1).encode())
    return doc
