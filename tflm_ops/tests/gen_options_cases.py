"""Custom-options test cases for the C parser, made with the real FlexBuffers builder and reds_tflm.options.

`cases()` is the single list used by the C unit tests (through the generated header options_cases.h), by the
Python tests (tests/test_core_options.py, through ctypes) and for the libFuzzer seed corpus (valid cases only).

    python tflm_ops/tests/gen_options_cases.py header  tflm_ops/tests/options_cases.h
    python tflm_ops/tests/gen_options_cases.py seeds   DIR
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers.flexbuffers as flex

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
from reds_tflm.options import REDS_CONV, REDS_DWCONV, REDS_FC, RedsOptions, encode  # noqa: E402

OP_KIND = {REDS_FC: 0, REDS_CONV: 1, REDS_DWCONV: 2}
ANY_ERROR = "REDS_ERR_ANY"  # the test accepts any error status (truncations: which check fires first varies)


@dataclass
class Case:
    name: str
    op: str
    data: bytes
    expect: str  # "REDS_OK" or a REDS_ERR_* name, or ANY_ERROR
    key: str | None = None  # expected error_key, None = not checked / NULL
    out_channels: int = 0
    parsed: RedsOptions | None = None  # expected result for valid cases
    extra: dict = field(default_factory=dict)


def _base(op: str) -> RedsOptions:
    if op == REDS_FC:
        return RedsOptions(op=op, out_widths=[16, 12, 8, 4], in_widths=[10, 8, 5, 3], in_channels=10,
                           activation=1, in_repeat=9, keep_num_dims=0)
    if op == REDS_CONV:
        return RedsOptions(op=op, out_widths=[32, 24, 16, 8], in_widths=[8, 6, 4, 2], in_channels=8,
                           activation=3, padding=0, stride_w=2, stride_h=1, dilation_w=1, dilation_h=2)
    return RedsOptions(op=op, out_widths=[12, 9, 6, 3], in_widths=[12, 9, 6, 3], in_channels=12, activation=2,
                       padding=1, stride_w=1, stride_h=2, dilation_w=3, dilation_h=1, depth_multiplier=1)


def _values(o: RedsOptions) -> dict:
    """The key/value dict encode() writes (mirrors options.encode, so malformed variants can be built)."""
    v = {"version": o.version, "budgets": o.budgets, "out_widths": list(o.out_widths),
         "in_widths": list(o.in_widths), "activation": o.activation, "in_channels": o.in_channels}
    extra = {REDS_FC: ("in_repeat", "keep_num_dims"),
             REDS_CONV: ("padding", "stride_w", "stride_h", "dilation_w", "dilation_h"),
             REDS_DWCONV: ("padding", "stride_w", "stride_h", "dilation_w", "dilation_h", "depth_multiplier")}[o.op]
    for k in extra:
        v[k] = getattr(o, k)
    return v


def _build(values: dict, styles: dict | None = None) -> bytes:
    """Encode a map; `styles[key]` picks an unusual encoding: float, uint, string, indirect, bool, untyped,
    fixed, floatvec, map."""
    styles = styles or {}
    b = flex.Builder()
    with b.Map():
        for key in sorted(values):
            v, style = values[key], styles.get(key)
            if style == "float":
                b.Float(key, float(v))
            elif style == "uint":
                b.UInt(key, int(v))
            elif style == "string":
                b.String(key, str(v))
            elif style == "indirect":
                b.IndirectInt(key, int(v))
            elif style == "bool":
                b.Bool(key, bool(v))
            elif style == "untyped":
                with b.Vector(key):
                    for x in v:
                        b.Int(int(x))
            elif style == "fixed":
                b.FixedTypedVectorFromElements(key, v, flex.Type.INT)
            elif style == "uintvec":
                b.TypedVectorFromElements(key, v, flex.Type.UINT)
            elif style == "floatvec":
                b.TypedVectorFromElements(key, [float(x) for x in v], flex.Type.FLOAT)
            elif style == "mixedvec":
                with b.Vector(key):
                    b.Int(int(v[0]))
                    for x in v[1:]:
                        b.Float(float(x))
            elif isinstance(v, list):
                b.TypedVectorFromElements(key, v, flex.Type.INT)
            else:
                b.Int(key, int(v))
    return bytes(b.Finish())


def cases() -> list[Case]:
    out: list[Case] = []
    for op in (REDS_FC, REDS_CONV, REDS_DWCONV):
        o = _base(op)
        oc = o.out_widths[0]
        tag = op.lower()
        valid = encode(o)
        out.append(Case(f"{tag}_valid", op, valid, "REDS_OK", out_channels=oc, parsed=o))
        out.append(Case(f"{tag}_valid_unknown_channels", op, valid, "REDS_OK", out_channels=0, parsed=o))
        # Unknown keys are ignored; an 8-byte value widens every map slot to 8 bytes.
        vals = _values(o)
        vals["zz_future"] = 1 << 40
        out.append(Case(f"{tag}_wide_slots_unknown_key", op, _build(vals), "REDS_OK", out_channels=oc, parsed=o))
        out.append(Case(f"{tag}_untyped_vectors", op, _build(_values(o), {"out_widths": "untyped",
                                                                             "in_widths": "untyped"}),
                        "REDS_OK", out_channels=oc, parsed=o))
        out.append(Case(f"{tag}_indirect_version", op, _build(_values(o), {"version": "indirect"}), "REDS_OK",
                        out_channels=oc, parsed=o))
        # Truncations: every strict prefix is malformed.
        for n in sorted({0, 1, 2, 3, len(valid) // 2, len(valid) - 3, len(valid) - 2, len(valid) - 1}):
            out.append(Case(f"{tag}_truncated_{n}", op, valid[:n], ANY_ERROR, out_channels=oc))
        # Every required key missing in turn.
        for key in _values(o):
            vals = _values(o)
            del vals[key]
            out.append(Case(f"{tag}_missing_{key}", op, _build(vals), "REDS_ERR_MISSING_KEY", key=key,
                            out_channels=oc))
        # Wrong types.
        # Unsigned ints are ints to both readers (flatbuffers' IsInt includes UINT).
        out.append(Case(f"{tag}_uint_scalars", op, _build(_values(o), {"version": "uint", "in_channels": "uint"}),
                        "REDS_OK", out_channels=oc, parsed=o))
        for key, style in (("version", "float"), ("budgets", "string"),
                           ("in_channels", "float"), ("activation", "string"), ("out_widths", "floatvec"),
                           ("in_widths", "mixedvec")):
            out.append(Case(f"{tag}_type_{key}_{style}", op, _build(_values(o), {key: style}), "REDS_ERR_TYPE",
                            key=key, out_channels=oc))
        vals = _values(o)
        vals["out_widths"] = 5
        out.append(Case(f"{tag}_type_out_widths_scalar", op, _build(vals), "REDS_ERR_TYPE", key="out_widths",
                        out_channels=oc))
        # Lengths and budgets.
        vals = _values(o)
        vals["in_widths"] = vals["in_widths"][:3]
        out.append(Case(f"{tag}_in_widths_short", op, _build(vals), "REDS_ERR_LENGTH", key="in_widths",
                        out_channels=oc))
        vals = _values(o)
        vals["budgets"] = 5
        out.append(Case(f"{tag}_budgets_mismatch", op, _build(vals), "REDS_ERR_LENGTH", key="out_widths",
                        out_channels=oc))
        for nb in (0, 17, -1):
            vals = _values(o)
            vals["budgets"] = nb
            out.append(Case(f"{tag}_budgets_{nb}".replace("-", "neg"), op, _build(vals), "REDS_ERR_LENGTH",
                            key="budgets", out_channels=oc))
        # Widths.
        vals = _values(o)
        vals["out_widths"] = [oc + 1] + vals["out_widths"][1:]
        out.append(Case(f"{tag}_out_width_above_tensor", op, _build(vals), "REDS_ERR_WIDTH", key="out_widths",
                        out_channels=oc))
        vals = _values(o)
        vals["out_widths"] = vals["out_widths"][:3] + [0]
        out.append(Case(f"{tag}_out_width_zero", op, _build(vals), "REDS_ERR_WIDTH", key="out_widths",
                        out_channels=oc))
        vals = _values(o)
        vals["in_widths"] = [o.in_channels + 1] + vals["in_widths"][1:]
        if op == REDS_DWCONV:
            vals["out_widths"] = [oc, oc, oc, oc]
        out.append(Case(f"{tag}_in_width_above_channels", op, _build(vals), "REDS_ERR_WIDTH", key="in_widths",
                        out_channels=oc))
        vals = _values(o)
        vals["out_widths"] = [vals["out_widths"][0], vals["out_widths"][2], vals["out_widths"][1],
                              vals["out_widths"][3]]
        if op == REDS_DWCONV:
            vals["in_widths"] = list(vals["out_widths"])
        out.append(Case(f"{tag}_out_widths_not_nested", op, _build(vals), "REDS_ERR_NESTING", key="out_widths",
                        out_channels=oc))
        vals = _values(o)
        vals["in_widths"] = [vals["in_widths"][1], vals["in_widths"][0]] + vals["in_widths"][2:]
        out.append(Case(f"{tag}_in_widths_not_nested", op, _build(vals),
                        "REDS_ERR_NESTING", key="in_widths", out_channels=oc))
        vals = _values(o)
        vals["out_widths"] = [1 << 40] + vals["out_widths"][1:]
        out.append(Case(f"{tag}_width_beyond_int32", op, _build(vals), "REDS_ERR_WIDTH", key="out_widths",
                        out_channels=oc))
        # Version and other values.
        vals = _values(o)
        vals["version"] = 2
        out.append(Case(f"{tag}_version_2", op, _build(vals), "REDS_ERR_VERSION", key="version", out_channels=oc))
        bad_values = [("activation", 4), ("activation", -1), ("in_channels", 0), ("in_channels", 1 << 40)]
        if op == REDS_FC:
            bad_values += [("in_repeat", 0), ("keep_num_dims", 2)]
        else:
            bad_values += [("padding", 2), ("stride_w", 0), ("stride_h", -1), ("dilation_w", 0), ("dilation_h", 0)]
        if op == REDS_DWCONV:
            bad_values += [("depth_multiplier", 2)]
        for key, v in bad_values:
            vals = _values(o)
            vals[key] = v
            out.append(Case(f"{tag}_{key}_{v}".replace("-", "neg"), op, _build(vals), "REDS_ERR_VALUE", key=key,
                            out_channels=oc))
        # Keys out of order: rename "activation" to "zctivation" in place (same length, now last but stored first).
        i = valid.index(b"activation\x00")
        unsorted = valid[:i] + b"z" + valid[i + 1:]
        out.append(Case(f"{tag}_keys_unsorted", op, unsorted, "REDS_ERR_FLEX", out_channels=oc))
        # Corrupt structure: root offset pointing before the buffer, absurd map size, bad root width byte.
        out.append(Case(f"{tag}_root_offset_huge", op, valid[:-3] + b"\xff" + valid[-2:], "REDS_ERR_FLEX",
                        out_channels=oc))
        out.append(Case(f"{tag}_root_width_3", op, valid[:-1] + b"\x03", "REDS_ERR_FLEX", out_channels=oc))
        root_off = valid[-3]
        map_at = len(valid) - 3 - root_off
        size_w = 1 << (valid[-2] & 3)
        corrupted = bytearray(valid)
        corrupted[map_at - size_w] = 0xFF
        out.append(Case(f"{tag}_map_size_huge", op, bytes(corrupted), ANY_ERROR, out_channels=oc))
    # Roots that are not maps.
    b = flex.Builder()
    b.Int(7)
    out.append(Case("root_int", REDS_FC, bytes(b.Finish()), "REDS_ERR_NOT_MAP"))
    b = flex.Builder()
    b.TypedVectorFromElements([1, 2, 3], flex.Type.INT)
    out.append(Case("root_vector", REDS_FC, bytes(b.Finish()), "REDS_ERR_NOT_MAP"))
    # A bool flag decodes like an int; unsigned typed vectors are vectors of ints; fixed-size typed vectors are
    # rejected by both readers (the encoder never writes them).
    o = RedsOptions(op=REDS_FC, out_widths=[8, 4], in_widths=[6, 3], in_channels=6, in_repeat=1, keep_num_dims=1)
    out.append(Case("fc_bool_flag_uint_vectors", REDS_FC,
                    _build(_values(o), {"keep_num_dims": "bool", "out_widths": "uintvec", "in_widths": "uintvec"}),
                    "REDS_OK", out_channels=8, parsed=o))
    out.append(Case("fc_fixed_vectors", REDS_FC, _build(_values(o), {"out_widths": "fixed", "in_widths": "fixed"}),
                    "REDS_ERR_TYPE", key="out_widths", out_channels=8))
    # A single budget, large channel counts (2- and 4-byte slots).
    o = RedsOptions(op=REDS_FC, out_widths=[1000], in_widths=[70000], in_channels=70000, in_repeat=3)
    out.append(Case("fc_one_budget_wide_values", REDS_FC, encode(o), "REDS_OK", out_channels=1000, parsed=o))
    o = RedsOptions(op=REDS_CONV, out_widths=[300] * 16, in_widths=list(range(16, 0, -1)), in_channels=16)
    out.append(Case("conv_sixteen_budgets", REDS_CONV, encode(o), "REDS_OK", out_channels=300, parsed=o))
    names = [c.name for c in out]
    assert len(names) == len(set(names)), "duplicate case names"
    return out


def _c_bytes(data: bytes) -> str:
    if not data:
        return "{0}"
    rows = [", ".join(f"0x{x:02x}" for x in data[i:i + 16]) for i in range(0, len(data), 16)]
    return "{\n  " + ",\n  ".join(rows) + "\n}"


def header() -> str:
    lines = ["/* Generated by gen_options_cases.py from reds_tflm.options and the FlexBuffers builder. Do not edit. */",
             "#ifndef OPTIONS_CASES_H_", "#define OPTIONS_CASES_H_", "", "#include <stddef.h>", "#include <stdint.h>",
             "", '#include "../reds_options.h"', "", "#define REDS_ERR_ANY 1", "",
             "typedef struct {", "  const char *name;", "  int op;", "  int32_t out_channels;", "  int expect;",
             "  const char *key;", "  const uint8_t *bytes;", "  size_t len;", "  int has_parsed;",
             "  reds_options parsed; /* op, version, budgets, widths, scalars; error_key unused */", "} options_case;",
             ""]
    cs = cases()
    for i, c in enumerate(cs):
        lines.append(f"static const uint8_t options_case_{i}[] = {_c_bytes(c.data)};")
    lines += ["", "static const options_case OPTIONS_CASES[] = {"]
    for i, c in enumerate(cs):
        key = f'"{c.key}"' if c.key else "NULL"
        if c.parsed is not None:
            p = c.parsed
            n = p.budgets
            ow = ", ".join(str(w) for w in p.out_widths)
            iw = ", ".join(str(w) for w in p.in_widths)
            parsed = (f"{{{OP_KIND[p.op]}, {p.version}, {n}, {{{ow}}}, {{{iw}}}, {p.activation}, {p.in_channels}, "
                      f"{p.in_repeat}, {p.keep_num_dims}, {p.padding}, {p.stride_w}, {p.stride_h}, {p.dilation_w}, "
                      f"{p.dilation_h}, {p.depth_multiplier}, NULL}}")
            has = 1
        else:
            parsed, has = "{0}", 0
        lines.append(f'  {{"{c.name}", {OP_KIND[c.op]}, {c.out_channels}, {c.expect}, {key}, options_case_{i}, '
                     f"{len(c.data)}, {has}, {parsed}}},")
    lines += ["};", "", "#define OPTIONS_CASE_COUNT (sizeof(OPTIONS_CASES) / sizeof(OPTIONS_CASES[0]))", "",
              "/* X(index, \"name\") for every case, to register one C test per case. */",
              "#define OPTIONS_CASE_LIST(X) \\"]
    lines += [f'  X({i}, "{c.name}") \\' for i, c in enumerate(cs)]
    lines += ["", 
              "#endif /* OPTIONS_CASES_H_ */", ""]
    return "\n".join(lines)


def write_seeds(directory: Path) -> int:
    """Seed corpus: every case (valid and malformed); libFuzzer mutates from there. The first byte of a fuzz
    input selects the op kind, the rest is the options buffer (see fuzz/fuzz_options.c)."""
    directory.mkdir(parents=True, exist_ok=True)
    for c in cases():
        (directory / f"{c.name}.bin").write_bytes(bytes([OP_KIND[c.op]]) + c.data)
    return len(cases())


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("header", "seeds"):
        sys.exit(__doc__)
    if sys.argv[1] == "header":
        Path(sys.argv[2]).write_text(header())
    else:
        print(f"{write_seeds(Path(sys.argv[2]))} seeds in {sys.argv[2]}")
