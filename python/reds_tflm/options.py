"""The one Python definition of the REDS custom-options schema (docs/format.md): encode, decode, validate."""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers.flexbuffers as flex

from .errors import OptionsError

FORMAT_VERSION = 1
MAX_BUDGETS = 16
INT32_MAX = 2**31 - 1

REDS_FC = "REDS_FC"
REDS_CONV = "REDS_Conv"
REDS_DWCONV = "REDS_DWConv"
CUSTOM_CODES = (REDS_FC, REDS_CONV, REDS_DWCONV)

_COMMON_KEYS = ("version", "budgets", "out_widths", "in_widths", "activation", "in_channels")
_EXTRA_KEYS = {
    REDS_FC: ("in_repeat", "keep_num_dims"),
    REDS_CONV: ("padding", "stride_w", "stride_h", "dilation_w", "dilation_h"),
    REDS_DWCONV: ("padding", "stride_w", "stride_h", "dilation_w", "dilation_h", "depth_multiplier"),
}


@dataclass
class RedsOptions:
    """Options of one REDS op. `out_widths[k]`/`in_widths[k]` are budget k's active widths (k = 0 full)."""

    op: str
    out_widths: list[int]
    in_widths: list[int]
    in_channels: int
    activation: int = 0
    in_repeat: int = 1
    keep_num_dims: int = 0
    padding: int = 0
    stride_w: int = 1
    stride_h: int = 1
    dilation_w: int = 1
    dilation_h: int = 1
    depth_multiplier: int = 1
    version: int = FORMAT_VERSION
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def budgets(self) -> int:
        return len(self.out_widths)

    def validate(self, out_channels: int | None = None) -> None:
        where = self.op
        if self.op not in CUSTOM_CODES:
            raise OptionsError(f"unknown REDS op {self.op!r}")
        if self.version != FORMAT_VERSION:
            raise OptionsError(f"{where}: format version {self.version}, this reader knows {FORMAT_VERSION}")
        n = len(self.out_widths)
        if not 1 <= n <= MAX_BUDGETS:
            raise OptionsError(f"{where}: {n} budgets, expected 1..{MAX_BUDGETS}")
        if len(self.in_widths) != n:
            raise OptionsError(f"{where}: in_widths has {len(self.in_widths)} entries for {n} budgets")
        for name, ws, full in (("out_widths", self.out_widths, out_channels), ("in_widths", self.in_widths,
                                                                              self.in_channels)):
            for k, w in enumerate(ws):
                if w < 1 or (full is not None and w > full):
                    raise OptionsError(f"{where}: {name}[{k}] = {w} outside 1..{full}")
                if k and w > ws[k - 1]:
                    raise OptionsError(f"{where}: {name} not nested: budget {k} has {w} > {ws[k - 1]}")
        if self.in_repeat < 1 or self.in_channels < 1:
            raise OptionsError(f"{where}: in_repeat and in_channels must be positive")
        if self.op == REDS_DWCONV and (self.out_widths != self.in_widths or self.depth_multiplier != 1):
            raise OptionsError(f"{where}: depthwise needs out_widths == in_widths and depth_multiplier 1")
        if self.activation not in (0, 1, 2, 3):
            raise OptionsError(f"{where}: fused activation {self.activation} is not NONE/RELU/RELU_N1_TO_1/RELU6")
        if self.op != REDS_FC:
            if self.padding not in (0, 1):
                raise OptionsError(f"{where}: padding {self.padding} is neither SAME (0) nor VALID (1)")
            for key in ("stride_w", "stride_h", "dilation_w", "dilation_h"):
                if not 1 <= getattr(self, key) <= INT32_MAX:
                    raise OptionsError(f"{where}: {key} = {getattr(self, key)} must be a positive int32")
        elif self.keep_num_dims not in (0, 1):
            raise OptionsError(f"{where}: keep_num_dims = {self.keep_num_dims} must be 0 or 1")
        for key in ("in_channels", "in_repeat"):
            if getattr(self, key) > INT32_MAX:
                raise OptionsError(f"{where}: {key} = {getattr(self, key)} does not fit int32")


def encode(opts: RedsOptions) -> bytes:
    opts.validate()
    values: dict[str, int | list[int]] = {
        "version": opts.version,
        "budgets": opts.budgets,
        "out_widths": [int(w) for w in opts.out_widths],
        "in_widths": [int(w) for w in opts.in_widths],
        "activation": int(opts.activation),
        "in_channels": int(opts.in_channels),
    }
    for key in _EXTRA_KEYS[opts.op]:
        values[key] = int(getattr(opts, key))
    b = flex.Builder()
    with b.Map():
        for key in sorted(values):  # FlexBuffer maps must be key-sorted for binary search
            v = values[key]
            if isinstance(v, list):
                b.TypedVectorFromElements(key, v, flex.Type.INT)
            else:
                b.Int(key, v)
    return bytes(b.Finish())


def decode(op: str, data: bytes) -> RedsOptions:
    """Parse and validate custom options; every defect is an OptionsError naming the key."""
    try:
        return _decode(op, data)
    except OptionsError:
        raise
    except Exception as exc:  # the flexbuffers reader reads lazily: malformed bytes fail inside any accessor
        raise OptionsError(f"{op}: custom options are not a well-formed FlexBuffer ({type(exc).__name__}: "
                           f"{exc})") from None


def _decode(op: str, data: bytes) -> RedsOptions:
    if op not in CUSTOM_CODES:
        raise OptionsError(f"unknown REDS op {op!r}")
    try:
        root = flex.GetRoot(bytearray(data))
        if not root.IsMap:
            raise OptionsError(f"{op}: custom options root is not a FlexBuffer map")
        m = root.AsMap
        present = {m.Keys[i].AsKey: m.Values[i] for i in range(len(m))}
    except OptionsError:
        raise
    except Exception as exc:  # the flexbuffers reader raises assorted errors on malformed bytes
        raise OptionsError(f"{op}: custom options are not a well-formed FlexBuffer ({exc})") from None

    def get_int(key: str) -> int:
        if key not in present:
            raise OptionsError(f"{op}: custom options lack key {key!r}")
        ref = present[key]
        if not (ref.IsInt or ref.IsBool):
            raise OptionsError(f"{op}: key {key!r} is not an int")
        return int(ref.AsInt)

    def get_vec(key: str) -> list[int]:
        if key not in present:
            raise OptionsError(f"{op}: custom options lack key {key!r}")
        ref = present[key]
        if not (ref.IsTypedVector or ref.IsVector):
            raise OptionsError(f"{op}: key {key!r} is not a vector")
        vec = ref.AsTypedVector if ref.IsTypedVector else ref.AsVector
        out = []
        for i in range(len(vec)):
            e = vec[i]
            if not e.IsInt:
                raise OptionsError(f"{op}: key {key!r} element {i} is not an int")
            out.append(int(e.AsInt))
        return out

    version = get_int("version")
    if version != FORMAT_VERSION:
        raise OptionsError(f"{op}: format version {version}, this reader knows {FORMAT_VERSION}")
    n = get_int("budgets")
    kw: dict[str, int] = {key: get_int(key) for key in _EXTRA_KEYS[op]}
    opts = RedsOptions(op=op, out_widths=get_vec("out_widths"), in_widths=get_vec("in_widths"),
                       in_channels=get_int("in_channels"), activation=get_int("activation"), version=version, **kw)
    if opts.budgets != n:
        raise OptionsError(f"{op}: budgets = {n} but out_widths has {opts.budgets} entries")
    opts.validate()
    return opts
