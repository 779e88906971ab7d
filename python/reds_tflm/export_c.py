"""Export a .tflite model as C source: a 16-byte aligned `const unsigned char` array plus the REDS budget table.

`export_c(model_bytes, "model_data.cc")` writes `model_data.cc` and `model_data.h`. The header declares, with C
linkage so C and C++ translation units share one definition:

    extern const unsigned char g_model[];        // the model, byte for byte, aligned to 16
    extern const unsigned int g_model_len;
    #define G_MODEL_LEN <bytes>
    #define G_MODEL_NUM_BUDGETS <n>              // 0 for a model without `reds` metadata
    extern const float g_model_budget_fraction[];   // n entries, budget 0 (full network) first
    extern const uint32_t g_model_budget_macs[];
    extern const uint32_t g_model_budget_params[];

The budget table comes from the model's `reds` metadata (docs/format.md); kernels never read it, the firmware prints
it next to the measured latencies. The model bytes are copied verbatim: the aligned array keeps the 16-byte alignment
that tflite_io gave every buffer, so TFLM can use weights in place.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import tflite_io
from .errors import BudgetError, ModelFormatError, RedsError
from .options import CUSTOM_CODES, MAX_BUDGETS, decode

SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx")
UINT32_MAX = 0xFFFFFFFF
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "class namespace new delete template this operator private public protected virtual bool true false".split())
_BYTES_PER_LINE = 16


@dataclass(frozen=True)
class BudgetRow:
    fraction: float
    macs: int
    params: int


@dataclass(frozen=True)
class ExportResult:
    source: Path
    header: Path
    length: int
    budgets: tuple[BudgetRow, ...]


def export_c_file(model_path: str | os.PathLike, out_path: str | os.PathLike, name: str = "g_model") -> ExportResult:
    """Entry point of `reds-tflm export-c MODEL -o OUT [--name NAME]`."""
    p = Path(model_path)
    if not p.exists():
        raise ModelFormatError(f"{p}: no such file")
    if p.is_dir():
        raise ModelFormatError(f"{p}: is a directory, expected a .tflite file")
    return export_c(p.read_bytes(), out_path, name=name, source_name=str(p))


def export_c(model_bytes: bytes, out_path: str | os.PathLike, name: str = "g_model",
             source_name: str = "<bytes>") -> ExportResult:
    """Write `out_path` (.c/.cc/.cpp) and the header next to it (same stem, .h); both replaced atomically."""
    _check_identifier(name)
    out = Path(out_path)
    if out.suffix.lower() not in SOURCE_SUFFIXES:
        raise RedsError(f"{out}: output must end in one of {', '.join(SOURCE_SUFFIXES)} (the header is written "
                        "next to it with the suffix .h)")
    data = bytes(model_bytes)
    model = tflite_io.parse_model(data, source_name)  # rejects anything that is not a TFLite flatbuffer
    budgets = read_budget_table(model, source_name)
    header = out.with_suffix(".h")
    guard = re.sub(r"[^A-Z0-9]", "_", f"REDS_MODEL_{header.name.upper()}_")
    tflite_io.write_bytes_atomic(header, _header_text(name, guard, len(data), budgets, source_name).encode())
    tflite_io.write_bytes_atomic(out, _source_text(name, header.name, data, budgets, source_name).encode())
    return ExportResult(out, header, len(data), budgets)


def read_budget_table(model, source_name: str = "<bytes>") -> tuple[BudgetRow, ...]:
    """The `reds` metadata's budgets, checked against the REDS ops' options; () for a model without metadata."""
    raw = tflite_io.get_metadata(model, "reds")
    n_ops = _reds_op_budget_count(model, source_name)
    if raw is None:
        if n_ops is not None:
            raise ModelFormatError(f"{source_name}: has REDS custom ops but no 'reds' metadata")
        return ()
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{source_name}: 'reds' metadata is not UTF-8 JSON ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("budgets"), list):
        raise ModelFormatError(f"{source_name}: 'reds' metadata has no 'budgets' list")
    if meta.get("version") != 1:
        raise ModelFormatError(f"{source_name}: 'reds' metadata version {meta.get('version')!r}, expected 1")
    entries = meta["budgets"]
    if not 1 <= len(entries) <= MAX_BUDGETS:
        raise BudgetError(f"{source_name}: 'reds' metadata lists {len(entries)} budgets, expected 1..{MAX_BUDGETS}")
    if n_ops is not None and n_ops != len(entries):
        raise BudgetError(f"{source_name}: 'reds' metadata lists {len(entries)} budgets but the REDS ops carry "
                          f"{n_ops}")
    rows = []
    for k, e in enumerate(entries):
        if not isinstance(e, dict):
            raise BudgetError(f"{source_name}: 'reds' metadata budget {k} is not an object")
        frac, macs, params = e.get("fraction"), e.get("macs"), e.get("params")
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0.0 < frac <= 1.0:
            raise BudgetError(f"{source_name}: budget {k} fraction {frac!r} outside (0, 1]")
        for key, v in (("macs", macs), ("params", params)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= UINT32_MAX:
                raise BudgetError(f"{source_name}: budget {k} {key} {v!r} is not an integer in 0..{UINT32_MAX}")
        rows.append(BudgetRow(float(frac), int(macs), int(params)))
    return tuple(rows)


def _reds_op_budget_count(model, source_name: str) -> int | None:
    """Budget count shared by every REDS op (None when there is none); the kernels rely on them agreeing."""
    counts: set[int] = set()
    for sg in model.subgraphs:
        for i, op in enumerate(sg.operators or []):
            op_kind = tflite_io.op_name(model, op)
            code = op_kind.removeprefix("CUSTOM:")
            if not op_kind.startswith("CUSTOM:") or code not in CUSTOM_CODES:
                continue
            opts = bytes(op.customOptions) if op.customOptions is not None else b""
            try:
                counts.add(decode(code, opts).budgets)
            except RedsError as exc:
                raise type(exc)(f"{source_name}: op {i}: {exc}") from None
    if len(counts) > 1:
        raise BudgetError(f"{source_name}: REDS ops disagree on the number of budgets: {sorted(counts)}")
    return counts.pop() if counts else None


def _check_identifier(name: str) -> None:
    if not _IDENT.match(name) or name in _C_KEYWORDS:
        raise RedsError(f"array name {name!r} is not a valid C identifier")


def _c_float(x: float) -> str:
    s = repr(float(x))  # shortest repr that round-trips; a float literal needs a '.' or exponent before 'f'
    return (s if ("." in s or "e" in s) else s + ".0") + "f"


def _header_text(name: str, guard: str, length: int, budgets: tuple[BudgetRow, ...], src: str) -> str:
    up = name.upper()
    lines = [
        f"/* Generated by reds-tflm export-c from {os.path.basename(src)}. Do not edit. */",
        f"#ifndef {guard}", f"#define {guard}", "",
        "#include <stdint.h>", "",
        f"#define {up}_LEN {length}u",
        "/* Budgets in the model's 'reds' metadata; budget 0 is the full network. */",
        f"#define {up}_NUM_BUDGETS {len(budgets)}", "",
        "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
        f"extern const unsigned char {name}[];",
        f"extern const unsigned int {name}_len;",
    ]
    if budgets:
        lines += [
            f"extern const float {name}_budget_fraction[{up}_NUM_BUDGETS];",
            f"extern const uint32_t {name}_budget_macs[{up}_NUM_BUDGETS];",
            f"extern const uint32_t {name}_budget_params[{up}_NUM_BUDGETS];",
        ]
    lines += ["", "#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


def _source_text(name: str, header_name: str, data: bytes, budgets: tuple[BudgetRow, ...], src: str) -> str:
    up = name.upper()
    # alignas is C++11, _Alignas C11; GCC/Clang accept the attribute in every mode (C99 included).
    align = ("#if defined(__GNUC__) || defined(__clang__)\n#define REDS_MODEL_ALIGN16 __attribute__((aligned(16)))\n"
             "#elif defined(__cplusplus)\n#define REDS_MODEL_ALIGN16 alignas(16)\n"
             "#elif defined(_MSC_VER)\n#define REDS_MODEL_ALIGN16 __declspec(align(16))\n"
             "#else\n#define REDS_MODEL_ALIGN16 _Alignas(16)\n#endif")
    hexed = data.hex()
    rows = []
    for off in range(0, len(data), _BYTES_PER_LINE):
        chunk = hexed[2 * off: 2 * (off + _BYTES_PER_LINE)]
        rows.append("  " + ", ".join("0x" + chunk[i:i + 2] for i in range(0, len(chunk), 2)) + ",")
    parts = [
        f"/* Generated by reds-tflm export-c from {os.path.basename(src)}. Do not edit. */",
        f'#include "{header_name}"', "", align, "",
        f"REDS_MODEL_ALIGN16 const unsigned char {name}[{up}_LEN] = {{",
        *rows, "};",
        f"const unsigned int {name}_len = {up}_LEN;",
    ]
    if budgets:
        parts += [
            "",
            f"const float {name}_budget_fraction[{up}_NUM_BUDGETS] = {{"
            + ", ".join(_c_float(b.fraction) for b in budgets) + "};",
            f"const uint32_t {name}_budget_macs[{up}_NUM_BUDGETS] = {{"
            + ", ".join(f"{b.macs}u" for b in budgets) + "};",
            f"const uint32_t {name}_budget_params[{up}_NUM_BUDGETS] = {{"
            + ", ".join(f"{b.params}u" for b in budgets) + "};",
        ]
    return "\n".join(parts) + "\n"
