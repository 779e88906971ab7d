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

import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import tflite_io
from .errors import BudgetError, ModelFormatError, RedsError
from .rewrite import read_metadata

SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx")
UINT32_MAX = 0xFFFFFFFF
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# The names must compile as C99..C23 and C++98..C++20 next to <stdint.h>: every keyword of both languages
# (C11's _X spellings, C++ alternative operator tokens), `main`, and the <stdint.h>/<stddef.h> typedefs and macros.
_C_KEYWORDS = frozenset((
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local "
    "typeof typeof_unqual "
    "alignas alignof and and_eq asm bitand bitor bool catch char8_t char16_t char32_t class compl concept consteval "
    "constexpr constinit const_cast co_await co_return co_yield decltype delete dynamic_cast explicit export false "
    "friend mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public "
    "reinterpret_cast requires static_assert static_cast template this thread_local throw true try typeid typename "
    "using virtual wchar_t xor xor_eq "
    "main size_t ptrdiff_t max_align_t nullptr_t NULL offsetof "
    "linux unix i386").split())  # the last: macros GCC predefines in its GNU modes (-std=gnu*)
_STDINT_NAMES = re.compile(r"(u?int(_least|_fast)?(8|16|32|64)_t|u?int(ptr|max)_t"
                           r"|U?INT(_LEAST|_FAST)?(8|16|32|64)_(MIN|MAX)|U?INT(PTR|MAX)_(MIN|MAX)"
                           r"|U?INT(8|16|32|64|MAX)_C"
                           r"|SIZE_MAX|PTRDIFF_(MIN|MAX)|SIG_ATOMIC_(MIN|MAX)|WCHAR_(MIN|MAX)|WINT_(MIN|MAX))\Z")
_RESERVED = re.compile(r"_[A-Z]|.*__")  # reserved to the implementation in C and C++
_OWN_MACRO_PREFIX = "REDS_MODEL_"  # the alignment macro and include guard of the generated files
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
    out = Path(out_path)
    for dst in (out, out.with_suffix(".h")):  # the header too: `export-c model.h -o model.cc` must not eat model.h
        if dst.exists() and dst.resolve() == p.resolve():
            raise RedsError(f"{dst}: the output would overwrite the input model {p}; choose another -o")
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
    tflite_io.write_files_atomic({header: _header_text(name, guard, len(data), budgets, source_name).encode(),
                        out: _source_text(name, header.name, data, budgets, source_name).encode()})
    return ExportResult(out, header, len(data), budgets)


def read_budget_table(model, source_name: str = "<bytes>") -> tuple[BudgetRow, ...]:
    """The `reds` metadata's budgets, checked against the REDS ops' options; () for a model without metadata."""
    meta = read_metadata(model, source_name, budgets_only=True)  # the one checker inspect and materialize use
    if meta is None:
        return ()
    rows = []
    for k, e in enumerate(meta["budgets"]):
        for key in ("macs", "params"):
            if e[key] > UINT32_MAX:  # the C table holds uint32_t
                raise BudgetError(f"{source_name}: budget {k} {key} {e[key]} does not fit the C table's uint32_t "
                                  f"(0..{UINT32_MAX})")
        rows.append(BudgetRow(float(e["fraction"]), int(e["macs"]), int(e["params"])))
    return tuple(rows)


def _check_identifier(name: str) -> None:
    """`name` and the identifiers derived from it must all be usable in C and C++ (names the option: --name)."""
    def bad(why: str) -> RedsError:
        return RedsError(f"--name {name!r} is not a valid C identifier: {why}")

    if not _IDENT.match(name):
        raise bad("use ASCII letters, digits and '_', not starting with a digit")
    if name in _C_KEYWORDS:
        raise bad("it is a C/C++ keyword or a name the generated code uses (main, <stdint.h>/<stddef.h>)")
    if _STDINT_NAMES.match(name):
        raise bad("it is a <stdint.h> name, which the generated header includes")
    if name.startswith(_OWN_MACRO_PREFIX):
        raise bad(f"names starting with {_OWN_MACRO_PREFIX} are the generated files' own macros")
    up = name.upper()
    for derived in (name, f"{name}_len", f"{name}_budget_fraction", f"{up}_LEN", f"{up}_NUM_BUDGETS"):
        if _RESERVED.match(derived):
            what = "it" if derived == name else f"the generated name {derived}"
            raise bad(f"{what} starts with '_' and an uppercase letter or contains '__' (reserved to the compiler)")


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
