"""ctypes binding of the REDS C core (tflm_ops/, built into reds_tflm/_reds_core*.so by setup.py).

The host runs exactly the code the microcontroller runs: options parsing, requantisation set-up and the op
kernels all come from the C library. `run_op` takes the budget explicitly (it reads the widths from the options
and never touches the global budget register); the register functions are wrapped separately.
"""

from __future__ import annotations

import ctypes as C
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import BudgetError, ModelFormatError, OptionsError, RedsError, UnsupportedModelError
from .options import CUSTOM_CODES, REDS_CONV, REDS_DWCONV, REDS_FC, RedsOptions

MAX_BUDGETS = 16
OP_KIND = {REDS_FC: 0, REDS_CONV: 1, REDS_DWCONV: 2}

# Status codes of reds_status.h.
OK = 0
ERR_ARG, ERR_BUDGET, ERR_BUDGET_MISMATCH = -1, -2, -3
ERR_FLEX, ERR_NOT_MAP, ERR_MISSING_KEY, ERR_TYPE, ERR_LENGTH = -10, -11, -12, -13, -14
ERR_WIDTH, ERR_NESTING, ERR_VERSION, ERR_VALUE = -15, -16, -17, -18
ERR_SHAPE, ERR_QUANT = -20, -21
STATUS_NAMES = {
    OK: "REDS_OK", ERR_ARG: "REDS_ERR_ARG", ERR_BUDGET: "REDS_ERR_BUDGET",
    ERR_BUDGET_MISMATCH: "REDS_ERR_BUDGET_MISMATCH", ERR_FLEX: "REDS_ERR_FLEX", ERR_NOT_MAP: "REDS_ERR_NOT_MAP",
    ERR_MISSING_KEY: "REDS_ERR_MISSING_KEY", ERR_TYPE: "REDS_ERR_TYPE", ERR_LENGTH: "REDS_ERR_LENGTH",
    ERR_WIDTH: "REDS_ERR_WIDTH", ERR_NESTING: "REDS_ERR_NESTING", ERR_VERSION: "REDS_ERR_VERSION",
    ERR_VALUE: "REDS_ERR_VALUE", ERR_SHAPE: "REDS_ERR_SHAPE", ERR_QUANT: "REDS_ERR_QUANT",
}

_i32 = C.c_int32
_P = C.POINTER


class _Options(C.Structure):
    _fields_ = [("op", _i32), ("version", _i32), ("budgets", _i32), ("out_widths", _i32 * MAX_BUDGETS),
                ("in_widths", _i32 * MAX_BUDGETS), ("activation", _i32), ("in_channels", _i32),
                ("in_repeat", _i32), ("keep_num_dims", _i32), ("padding", _i32), ("stride_w", _i32),
                ("stride_h", _i32), ("dilation_w", _i32), ("dilation_h", _i32), ("depth_multiplier", _i32),
                ("error_key", C.c_char_p)]


class _FcDims(C.Structure):
    _fields_ = [("batches", _i32), ("in_repeat", _i32), ("in_channels", _i32), ("out_channels", _i32)]


class _ConvDims(C.Structure):
    _fields_ = [(n, _i32) for n in ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "filter_h",
                                    "filter_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "padding",
                                    "pad_h", "pad_w")]


class _QuantParams(C.Structure):
    _fields_ = [("input_scale", C.c_float), ("input_zero_point", _i32), ("filter_scales", _P(C.c_float)),
                ("num_filter_scales", _i32), ("filter_zero_point", _i32), ("output_scale", C.c_float),
                ("output_zero_point", _i32), ("activation", _i32)]


class _RequantCh(C.Structure):
    _fields_ = [("round", C.c_int64), ("multiplier", _i32), ("rshift", _i32)]


class _Requant(C.Structure):
    _fields_ = [("input_offset", _i32), ("output_offset", _i32), ("act_min", _i32), ("act_max", _i32),
                ("multiplier", _P(_i32)), ("shift", _P(_i32)), ("ch", _P(_RequantCh)), ("fast", _i32)]


class _ActF32(C.Structure):
    _fields_ = [("act_min", C.c_float), ("act_max", C.c_float)]


# The C files built into the library (setup.py lists the same .c files).
_CORE_FILES = tuple(f"{n}.c" for n in ("reds_status", "reds_budget", "reds_options", "reds_quant", "reds_ops_common",
                                       "reds_fc_s8", "reds_conv_s8", "reds_dwconv_s8", "reds_fc_f32",
                                       "reds_conv_f32", "reds_dwconv_f32")) + tuple(
    f"{n}.h" for n in ("reds_status", "reds_budget", "reds_options", "reds_quant", "reds_ops", "reds_dot_s8",
                       "reds_ops_internal"))


def library_path() -> Path:
    here = Path(__file__).resolve().parent
    found = sorted(here.glob("_reds_core*.so")) + sorted(here.glob("_reds_core*.pyd")) + sorted(
        here.glob("_reds_core*.dylib"))
    if not found:
        raise RedsError(f"the REDS C core is not built: no _reds_core*.so in {here}; "
                        "run `pip install -e .` (or `python setup.py build_ext --inplace`) at the repository root")
    so = found[0]
    # In a source tree (editable install), refuse a library older than the C sources: a stale build would test
    # old kernels without anyone noticing.
    src = here.parent.parent / "tflm_ops"
    if (src / "reds_ops.h").exists():
        newest = max((src / f for f in _CORE_FILES if (src / f).exists()), key=lambda p: p.stat().st_mtime)
        if newest.stat().st_mtime > so.stat().st_mtime:
            raise RedsError(f"{so.name} is older than {newest}: rebuild the C core with `pip install -e .` "
                            "(or `python setup.py build_ext --inplace`) at the repository root")
    return so


@functools.lru_cache(maxsize=1)
def lib() -> C.CDLL:
    """The loaded C library with argument types declared (loaded once per process)."""
    so = C.CDLL(str(library_path()))
    so.reds_status_str.restype = C.c_char_p
    so.reds_status_str.argtypes = [C.c_int]
    so.reds_set_budget.argtypes = [C.c_int]
    so.reds_get_budget.argtypes = []
    so.reds_budget_count.argtypes = []
    so.reds_budget_register.argtypes = [C.c_int]
    so.reds_budget_reset.argtypes = []
    so.reds_budget_reset.restype = None
    so.reds_options_parse.argtypes = [C.c_char_p, C.c_size_t, C.c_int, _i32, _P(_Options)]
    so.reds_options_widths.argtypes = [_P(_Options), C.c_int, _P(_i32), _P(_i32)]
    so.reds_conv_out_size.argtypes = [_i32] * 5
    so.reds_conv_out_size.restype = _i32
    so.reds_conv_s8_scratch_size.argtypes = [_P(_ConvDims), _i32, _i32]
    so.reds_conv_s8_scratch_size.restype = _i32
    so.reds_quantize_multiplier.argtypes = [C.c_double, _P(_i32), _P(_i32)]
    so.reds_quantize_multiplier.restype = None
    so.reds_activation_range_s8.argtypes = [C.c_int, C.c_float, _i32, _P(_i32), _P(_i32)]
    for name in ("fc", "conv", "dwconv"):
        dims = _P(_FcDims) if name == "fc" else _P(_ConvDims)
        getattr(so, f"reds_{name}_s8_prepare").argtypes = [dims, _P(_QuantParams), _P(_Requant)]
        getattr(so, f"reds_{name}_f32_prepare").argtypes = [dims, _i32, _P(_ActF32)]
        getattr(so, f"reds_{name}_s8").argtypes = [dims, _P(_Requant), C.c_void_p, C.c_void_p, C.c_void_p,
                                                   C.c_void_p, _i32, _i32] + ([C.c_void_p, _i32]
                                                                              if name == "conv" else [])
        getattr(so, f"reds_{name}_f32").argtypes = [dims, _P(_ActF32), C.c_void_p, C.c_void_p, C.c_void_p,
                                                    C.c_void_p, _i32, _i32]
    return so


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"status {status}")


def _describe(status: int) -> str:
    return f"{lib().reds_status_str(status).decode()} ({status_name(status)})"


# ------------------------------------------------------------------------------------------------ budget register

def set_budget(k: int) -> None:
    st = lib().reds_set_budget(int(k))
    if st != OK:
        raise BudgetError(f"reds_set_budget({k}): {_describe(st)}; the model registered {budget_count()} budgets")


def get_budget() -> int:
    return int(lib().reds_get_budget())


def budget_count() -> int:
    return int(lib().reds_budget_count())


def register_budgets(n: int) -> None:
    st = lib().reds_budget_register(int(n))
    if st != OK:
        raise BudgetError(f"reds_budget_register({n}): {_describe(st)} (registered: {budget_count()})")


def reset_budgets() -> None:
    lib().reds_budget_reset()


# ------------------------------------------------------------------------------------------------ options

def _parse_raw(op: str, data: bytes, out_channels: int = 0) -> tuple[int, _Options]:
    if op not in OP_KIND:
        raise OptionsError(f"unknown REDS op {op!r}; expected one of {', '.join(CUSTOM_CODES)}")
    o = _Options()
    raw = bytes(data)
    st = lib().reds_options_parse(raw, len(raw), OP_KIND[op], int(out_channels), C.byref(o))
    return st, o


def parse_options(op: str, data: bytes, out_channels: int = 0, where: str = "") -> RedsOptions:
    """Parse custom options with the C parser (the one the device runs); OptionsError names the key at fault."""
    st, o = _parse_raw(op, data, out_channels)
    if st != OK:
        key = o.error_key.decode() if o.error_key else None
        prefix = f"{where}: " if where else ""
        raise OptionsError(f"{prefix}{op} custom options rejected by the C parser: {_describe(st)}"
                           + (f", key {key!r}" if key else ""))
    n = o.budgets
    return RedsOptions(op=op, out_widths=list(o.out_widths[:n]), in_widths=list(o.in_widths[:n]),
                       in_channels=o.in_channels, activation=o.activation, in_repeat=o.in_repeat,
                       keep_num_dims=o.keep_num_dims, padding=o.padding, stride_w=o.stride_w, stride_h=o.stride_h,
                       dilation_w=o.dilation_w, dilation_h=o.dilation_h, depth_multiplier=o.depth_multiplier,
                       version=o.version)


def options_status(op: str, data: bytes, out_channels: int = 0) -> tuple[int, str | None]:
    """(status, error key) of the C parser, for tests of the malformed cases."""
    st, o = _parse_raw(op, data, out_channels)
    return st, (o.error_key.decode() if (st != OK and o.error_key) else None)


# ------------------------------------------------------------------------------------------------ quantisation

def quantize_multiplier(real: float) -> tuple[int, int]:
    m, s = _i32(), _i32()
    lib().reds_quantize_multiplier(float(real), C.byref(m), C.byref(s))
    return m.value, s.value


def conv_s8_scratch_size(in_hwc: Sequence[int], out_hwc: Sequence[int], kernel: Sequence[int], out_width: int,
                         in_width: int) -> int:
    """Bytes of working memory reds_conv_s8 uses at these widths (0: none), for a batch-1 conv geometry."""
    dims = _ConvDims()
    dims.batches = 1
    dims.in_h, dims.in_w, dims.in_c = (int(v) for v in in_hwc)
    dims.out_h, dims.out_w, dims.out_c = (int(v) for v in out_hwc)
    dims.filter_h, dims.filter_w = (int(v) for v in kernel)
    return int(lib().reds_conv_s8_scratch_size(C.byref(dims), int(out_width), int(in_width)))


def conv_out_size(padding: int, in_size: int, filter_size: int, stride: int, dilation: int) -> int:
    return int(lib().reds_conv_out_size(padding, in_size, filter_size, stride, dilation))


@dataclass(frozen=True)
class Quant:
    """Quantisation of an int8 layer: per-tensor input/output, per-tensor (1 scale) or per-channel weights."""

    input_scale: float
    input_zero_point: int
    weight_scales: np.ndarray
    output_scale: float
    output_zero_point: int
    weight_zero_point: int = 0


# ------------------------------------------------------------------------------------------------ running one op

def _ptr(a: np.ndarray | None) -> int | None:
    return None if a is None else a.ctypes.data


def run_op(op: str, options: bytes | RedsOptions, x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None,
           budget: int, quant: Quant | None = None, out_shape: tuple[int, ...] | None = None,
           where: str = "") -> np.ndarray:
    """Run one REDS op at `budget` through the C core and return its (full-width) output.

    int8 when x is int8 (then `quant` is required, bias int32), float32 when x is float32 (bias float32).
    `out_shape` is the output tensor's shape (FC: defaults to [batches, O]; Conv/DW: NHWC from the geometry);
    the C core checks it against TFLM's output-size formula.
    """
    ctx = f"{where}: {op}" if where else op
    opts = options if isinstance(options, RedsOptions) else parse_options(op, options, where=where)
    if not 0 <= budget < opts.budgets:
        raise BudgetError(f"{ctx}: budget {budget} out of range, the op has {opts.budgets} budgets")
    out_w, in_w = opts.out_widths[budget], opts.in_widths[budget]
    if x.dtype == np.int8:
        kind = "s8"
        if quant is None:
            raise UnsupportedModelError(f"{ctx}: int8 input needs quantisation parameters")
        wdt, bdt, odt = np.int8, np.int32, np.int8
    elif x.dtype == np.float32:
        kind, wdt, bdt, odt = "f32", np.float32, np.float32, np.float32
    else:
        raise UnsupportedModelError(f"{ctx}: input type {x.dtype} is not supported (int8 or float32)")
    if weights.dtype != wdt:
        raise UnsupportedModelError(f"{ctx}: weights are {weights.dtype}, expected {np.dtype(wdt)} with {x.dtype} input")
    if bias is not None and bias.dtype != bdt:
        raise UnsupportedModelError(f"{ctx}: bias is {bias.dtype}, expected {np.dtype(bdt)}")
    x = np.ascontiguousarray(x)
    weights = np.ascontiguousarray(weights)
    bias = None if bias is None else np.ascontiguousarray(bias)

    name = {REDS_FC: "fc", REDS_CONV: "conv", REDS_DWCONV: "dwconv"}[op]
    if op == REDS_FC:
        if weights.ndim != 2:
            raise ModelFormatError(f"{ctx}: weights have shape {weights.shape}, expected [O, I]")
        o_ch, row = weights.shape
        if row != opts.in_repeat * opts.in_channels:
            raise ModelFormatError(f"{ctx}: weights have {row} inputs but options say in_repeat {opts.in_repeat} "
                                   f"x in_channels {opts.in_channels}")
        if x.size % row:
            raise ModelFormatError(f"{ctx}: input of {x.size} elements is not a whole number of rows of {row}")
        dims: C.Structure = _FcDims(x.size // row, opts.in_repeat, opts.in_channels, o_ch)
        shape = out_shape if out_shape is not None else (x.size // row, o_ch)
    else:
        if x.ndim != 4 or weights.ndim != 4:
            raise ModelFormatError(f"{ctx}: input {x.shape} and weights {weights.shape} must both be 4-D")
        n, h, w, c = x.shape
        o_ch = weights.shape[3] if op == REDS_DWCONV else weights.shape[0]
        if op == REDS_DWCONV and weights.shape[0] != 1:
            raise UnsupportedModelError(f"{ctx}: depthwise weights {weights.shape}: only depth multiplier 1")
        if (weights.shape[3] if op == REDS_CONV else o_ch) != c or opts.in_channels != c:
            raise ModelFormatError(f"{ctx}: input has {c} channels, weights {weights.shape}, options in_channels "
                                   f"{opts.in_channels}")
        kh, kw = weights.shape[1], weights.shape[2]
        oh = conv_out_size(opts.padding, h, kh, opts.stride_h, opts.dilation_h)
        ow = conv_out_size(opts.padding, w, kw, opts.stride_w, opts.dilation_w)
        dims = _ConvDims(n, h, w, c, oh, ow, o_ch, kh, kw, opts.stride_h, opts.stride_w, opts.dilation_h,
                         opts.dilation_w, opts.padding, 0, 0)
        shape = (n, oh, ow, o_ch)
        if out_shape is not None and tuple(out_shape) != shape:
            raise ModelFormatError(f"{ctx}: output shape {tuple(out_shape)} differs from {shape} computed from the "
                                   "input, filter, strides, dilation and padding")
    if bias is not None and bias.size != o_ch:
        raise ModelFormatError(f"{ctx}: bias has {bias.size} entries for {o_ch} output channels")
    if out_w > o_ch:
        raise OptionsError(f"{ctx}: out_widths[{budget}] = {out_w} exceeds the {o_ch} output channels")
    if op == REDS_FC and (int(np.prod(shape)) != dims.batches * o_ch or (shape and shape[-1] != o_ch)):
        raise ModelFormatError(f"{ctx}: output shape {tuple(shape)} does not hold {dims.batches} rows of {o_ch}")
    out = np.empty(int(np.prod(shape)), dtype=odt)

    so = lib()
    if kind == "s8":
        assert quant is not None
        scales = np.ascontiguousarray(np.asarray(quant.weight_scales, dtype=np.float32).reshape(-1))
        qp = _QuantParams(float(quant.input_scale), int(quant.input_zero_point),
                          scales.ctypes.data_as(_P(C.c_float)), scales.size, int(quant.weight_zero_point),
                          float(quant.output_scale), int(quant.output_zero_point), opts.activation)
        mult = np.zeros(o_ch, dtype=np.int32)
        shift = np.zeros(o_ch, dtype=np.int32)
        chs = (_RequantCh * o_ch)()  # the per-channel form: the fast path, as the TFLM adapter provides it
        rq = _Requant(0, 0, 0, 0, mult.ctypes.data_as(_P(_i32)), shift.ctypes.data_as(_P(_i32)), chs, 0)
        st = getattr(so, f"reds_{name}_s8_prepare")(C.byref(dims), C.byref(qp), C.byref(rq))
        if st != OK:
            raise _prepare_error(ctx, st, quant)
        args = [C.byref(dims), C.byref(rq), _ptr(x), _ptr(weights), _ptr(bias), _ptr(out), out_w, in_w]
        if name == "conv":  # the working memory the narrow slice asks for, as the TFLM adapter provides it
            scratch = np.empty(max(1, int(so.reds_conv_s8_scratch_size(C.byref(dims), out_w, in_w))), np.int8)
            args += [_ptr(scratch), scratch.size]
        st = getattr(so, f"reds_{name}_s8")(*args)
    else:
        act = _ActF32()
        st = getattr(so, f"reds_{name}_f32_prepare")(C.byref(dims), opts.activation, C.byref(act))
        if st != OK:
            raise _prepare_error(ctx, st, None)
        st = getattr(so, f"reds_{name}_f32")(C.byref(dims), C.byref(act), _ptr(x), _ptr(weights), _ptr(bias),
                                             _ptr(out), out_w, in_w)
    if st != OK:
        raise ModelFormatError(f"{ctx}: eval at budget {budget} (widths out {out_w}, in {in_w}) failed: "
                               f"{_describe(st)}")
    return out.reshape(shape)


def _prepare_error(ctx: str, st: int, quant: Quant | None) -> RedsError:
    if st == ERR_QUANT:
        return UnsupportedModelError(f"{ctx}: quantisation not supported by the REDS kernels ({_describe(st)}): "
                                     f"{_quant_text(quant)}; needs positive scales, int8 zero points, weight zero "
                                     "point 0 and 1 or out_channels weight scales")
    return ModelFormatError(f"{ctx}: prepare failed: {_describe(st)}")


def _quant_text(q: Quant | None) -> str:
    """One line: the dataclass's repr shows the weight scales as numpy prints them, over several lines."""
    if q is None:
        return "no quantisation parameters"
    ws = np.asarray(q.weight_scales, dtype=np.float64).reshape(-1)
    shown = ", ".join(f"{v:g}" for v in ws[:4]) + (f", ... ({ws.size} in all)" if ws.size > 4 else "")
    return (f"input scale {q.input_scale:g} zero point {q.input_zero_point}, weight scales [{shown}] zero point "
            f"{q.weight_zero_point}, output scale {q.output_scale:g} zero point {q.output_zero_point}")
