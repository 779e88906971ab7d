"""Run a whole REDS .tflite on the host, exactly as the device would.

REDS ops (custom codes REDS_FC / REDS_Conv / REDS_DWConv) run through the C core (reds_tflm.core, the same C the
firmware links); every other operator runs in the real tflite-micro interpreter, each builtin op extracted once
into a one-op model whose interpreter is cached. No builtin kernel is re-implemented here.

    run_model(model, inputs, budget) -> outputs
    evaluate(model, x, y, budgets=None) -> [accuracy per budget]
    evaluate_cli(args) -> exit status        (`python -m reds_tflm eval MODEL --data ... [--limit N]`)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

import numpy as np
from tflite_micro.python.tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from . import core
from . import tflite_io as tio
from .errors import BudgetError, ModelFormatError, OptionsError, UnsupportedModelError
from .options import CUSTOM_CODES, RedsOptions


@dataclass
class _RedsOp:
    code: str
    options: RedsOptions
    quant: core.Quant | None
    weights: np.ndarray
    bias: np.ndarray | None
    out_shape: tuple[int, ...]


@dataclass
class _BuiltinOp:
    interpreter: object
    feeds: list[int]      # model tensor indices fed as the one-op model's inputs, in order
    dtypes: list[np.dtype]


def _as_model(model: bytes | bytearray | schema.ModelT, name: str) -> schema.ModelT:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return tio.parse_model(bytes(model), name)
    if isinstance(model, schema.ModelT):
        return model
    raise ModelFormatError(f"{name}: expected .tflite bytes or a ModelT, got {type(model).__name__}")


def _arena_size(model_bytes: bytes, tensors: Sequence[schema.TensorT]) -> int:
    # The interpreter's default (10 x model size) is too small for one-op models with large activations.
    act = sum(int(np.prod(tio.tensor_shape(t) or (1,))) * 8 for t in tensors)
    return max(len(model_bytes) * 10, 2 * act + 64 * 1024)


class _TflmMessages:
    """What TFLM prints on the process's stderr (MicroPrintf writes to file descriptor 2) around an interpreter call:
    when the call fails (a RuntimeError saying only that it failed), its own lines go into one UnsupportedModelError;
    when it succeeds they are passed on unchanged. One temporary file serves every call: it sits around every
    builtin op of every inference, where a file created per call cost a fifth of the host runner's time."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None

    @contextlib.contextmanager
    def around(self, what: Callable[[], str]) -> Iterator[None]:
        """what: the failure's subject, built only when the call fails."""
        if self._file is None:
            self._file = tempfile.TemporaryFile()
        cap = self._file
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(cap.fileno(), 2)
        failure: Exception | None = None
        try:
            yield
        except Exception as exc:  # the interpreter raises RuntimeError with a generic message
            failure = exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            n = cap.tell()
            text = ""
            if n:
                cap.seek(0)
                text = cap.read(n).decode(errors="replace")
                cap.seek(0)
                cap.truncate()
        if failure is None:
            sys.stderr.write(text)
            return
        said = "; ".join(line.strip() for line in text.splitlines() if line.strip())
        raise UnsupportedModelError(f"{what()}: {failure}" + (f" ({said})" if said else "")) from None


class HostRunner:
    """A parsed REDS model with its per-op state (parsed options, cached one-op interpreters)."""

    def __init__(self, model: bytes | bytearray | schema.ModelT, name: str = "model") -> None:
        self.name = name
        self._messages = _TflmMessages()
        self.model = _as_model(model, name)
        if len(self.model.subgraphs) != 1:
            raise UnsupportedModelError(f"{name}: {len(self.model.subgraphs)} subgraphs; control flow is not "
                                        "supported by the host runner (one subgraph expected)")
        self.sub = self.model.subgraphs[0]
        self.tensors = self.sub.tensors
        self.constants: dict[int, np.ndarray] = {}
        for i, t in enumerate(self.tensors):
            if t.isVariable:
                raise UnsupportedModelError(f"{name}: tensor {i} ({tio.tensor_name(t)}) is a variable tensor")
            data = tio.buffer_of(self.model, t)
            if data is not None:
                self.constants[i] = data
        for i, op in enumerate(self.sub.operators or []):  # the interpreter's Python side crashes on other types
            for j in [*(op.inputs if op.inputs is not None else []), *(op.outputs if op.outputs is not None else [])]:
                t = self.tensors[j] if j >= 0 else None
                if t is not None and t.type not in tio.NUMPY_DTYPES:
                    raise UnsupportedModelError(
                        f"{name}: op {i} ({tio.op_name(self.model, op)}) tensor {j} ({tio.tensor_name(t)}) has type "
                        f"{tio.TENSOR_TYPE_NAMES.get(t.type, t.type)}; the host runner handles "
                        f"{', '.join(tio.TENSOR_TYPE_NAMES[k] for k in tio.NUMPY_DTYPES)}")
        self.ops: list[_RedsOp | _BuiltinOp | None] = [None] * len(self.sub.operators or [])
        self.budgets = 1
        counts = set()
        for i, op in enumerate(self.sub.operators or []):
            kind = tio.op_name(self.model, op)
            if kind.startswith("CUSTOM:"):
                code = kind[len("CUSTOM:"):]
                if code not in CUSTOM_CODES:
                    raise UnsupportedModelError(f"{name}: op {i} is custom op {code!r}; the host runner knows only "
                                                f"{', '.join(CUSTOM_CODES)}")
                self.ops[i] = self._reds_op(i, op, code)
                counts.add(self.ops[i].options.budgets)
        if len(counts) > 1:
            raise OptionsError(f"{name}: REDS ops declare different numbers of budgets {sorted(counts)}")
        if counts:
            self.budgets = counts.pop()

    # ------------------------------------------------------------------------------------------ REDS ops

    def _reds_op(self, i: int, op: schema.OperatorT, code: str) -> _RedsOp:
        where = f"{self.name}: op {i} ({code})"
        ins = list(op.inputs) if op.inputs is not None else []
        if len(ins) not in (2, 3) or op.outputs is None or len(op.outputs) != 1:
            raise ModelFormatError(f"{where}: expects inputs (x, weights[, bias]) and one output, has "
                                   f"{len(ins)} inputs and {len(op.outputs) if op.outputs is not None else 0} outputs")
        w_idx, b_idx = ins[1], (ins[2] if len(ins) == 3 else -1)
        if w_idx not in self.constants:
            raise UnsupportedModelError(f"{where}: weights tensor {w_idx} is not constant")
        if b_idx >= 0 and b_idx not in self.constants:
            raise UnsupportedModelError(f"{where}: bias tensor {b_idx} is not constant")
        out_t = self.tensors[op.outputs[0]]
        out_shape = tio.tensor_shape(out_t)
        raw = bytes(np.asarray(op.customOptions if op.customOptions is not None else [], dtype=np.uint8))
        o_ch = out_shape[-1] if out_shape else 0
        opts = core.parse_options(code, raw, out_channels=o_ch, where=where)
        quant = None
        x_t, w_t = self.tensors[ins[0]], self.tensors[w_idx]
        if x_t.type == schema.TensorType.INT8:
            qx, qw, qo = tio.quant_params(x_t), tio.quant_params(w_t), tio.quant_params(out_t)
            if qx is None or qw is None or qo is None:
                raise ModelFormatError(f"{where}: int8 input, weights and output need quantisation parameters")
            if np.any(qw[1] != 0):
                raise UnsupportedModelError(f"{where}: weights zero points {qw[1][qw[1] != 0][:4]} (must be 0)")
            quant = core.Quant(float(qx[0][0]), int(qx[1][0]), qw[0], float(qo[0][0]), int(qo[1][0]))
        return _RedsOp(code, opts, quant, self.constants[w_idx],
                       self.constants[b_idx] if b_idx >= 0 else None, out_shape)

    # ------------------------------------------------------------------------------------------ builtin ops

    def _builtin_op(self, i: int) -> _BuiltinOp:
        """Extract op i into a one-op model (its constant inputs included) and build its interpreter."""
        cached = self.ops[i]
        if isinstance(cached, _BuiltinOp):
            return cached
        op = self.sub.operators[i]
        where = f"{self.name}: op {i} ({tio.op_name(self.model, op)})"
        if op.intermediates is not None and len(op.intermediates):
            raise UnsupportedModelError(f"{where}: ops with intermediate tensors are not supported")
        m = schema.ModelT()
        m.version = 3
        m.description = f"{self.name} op {i}"
        m.operatorCodes = [copy.deepcopy(self.model.operatorCodes[op.opcodeIndex])]
        m.buffers = [schema.BufferT()]
        sub = schema.SubGraphT()
        sub.tensors, remap, feeds = [], {}, []

        def add(idx: int) -> int:
            if idx < 0:
                return -1
            if idx not in remap:
                t = copy.deepcopy(self.tensors[idx])
                b = schema.BufferT()
                if idx in self.constants:
                    b.data = np.asarray(self.model.buffers[self.tensors[idx].buffer].data, dtype=np.uint8)
                m.buffers.append(b)
                t.buffer = len(m.buffers) - 1
                sub.tensors.append(t)
                remap[idx] = len(sub.tensors) - 1
            return remap[idx]

        new_op = copy.deepcopy(op)
        new_op.opcodeIndex = 0
        new_op.inputs = [add(j) for j in op.inputs]
        for j in op.inputs:
            if j >= 0 and j not in self.constants and j not in feeds:
                feeds.append(j)
        new_op.outputs = [add(j) for j in op.outputs]
        sub.operators = [new_op]
        sub.inputs = [remap[j] for j in feeds]
        sub.outputs = list(new_op.outputs)
        m.subgraphs = [sub]
        data = tio.serialize_model(m)
        with self._messages.around(lambda: f"{where}: the tflite-micro interpreter cannot prepare it"):
            interp = runtime.Interpreter.from_bytes(data, arena_size=_arena_size(data, sub.tensors))
        dtypes = [np.dtype(tio.NUMPY_DTYPES[self.tensors[j].type]) for j in feeds]
        entry = _BuiltinOp(interp, feeds, dtypes)
        self.ops[i] = entry
        return entry

    # ------------------------------------------------------------------------------------------ running

    def run(self, inputs: Sequence[np.ndarray], budget: int) -> list[np.ndarray]:
        if not 0 <= budget < self.budgets:
            raise BudgetError(f"{self.name}: budget {budget} out of range, the model has {self.budgets} budgets")
        model_inputs = list(self.sub.inputs)
        if len(inputs) != len(model_inputs):
            raise ModelFormatError(f"{self.name}: {len(inputs)} inputs given, the model has {len(model_inputs)}")
        values: dict[int, np.ndarray] = dict(self.constants)
        for j, (idx, x) in enumerate(zip(model_inputs, inputs)):
            t = self.tensors[idx]
            want = np.dtype(tio.NUMPY_DTYPES.get(t.type, np.void))
            x = np.asarray(x)
            if x.dtype != want or tuple(x.shape) != tio.tensor_shape(t):
                raise ModelFormatError(f"{self.name}: input {j} ({tio.tensor_name(t)}) must be {want} "
                                       f"{tio.tensor_shape(t)}, got {x.dtype} {tuple(x.shape)}")
            values[idx] = x
        for i, op in enumerate(self.sub.operators or []):
            entry = self.ops[i]
            for j in (op.inputs if op.inputs is not None else []):
                if j >= 0 and j not in values:
                    raise ModelFormatError(f"{self.name}: op {i} ({tio.op_name(self.model, op)}) reads tensor {j} "
                                           f"({tio.tensor_name(self.tensors[j])}), which no earlier op writes")
            if isinstance(entry, _RedsOp):
                x = values[op.inputs[0]]
                values[op.outputs[0]] = core.run_op(entry.code, entry.options, x, entry.weights, entry.bias, budget,
                                                    entry.quant, out_shape=entry.out_shape,
                                                    where=f"{self.name}: op {i}")
                continue
            entry = self._builtin_op(i)
            for k, j in enumerate(entry.feeds):
                if values[j].size != int(np.prod(tio.tensor_shape(self.tensors[j]), dtype=np.int64)):
                    raise ModelFormatError(f"{self.name}: op {i} ({tio.op_name(self.model, op)}) input tensor {j} "
                                           f"({tio.tensor_name(self.tensors[j])}) is declared "
                                           f"{tio.tensor_shape(self.tensors[j])} but holds {values[j].shape}")
                entry.interpreter.set_input(np.asarray(values[j], dtype=entry.dtypes[k], order="C"), k)  # keeps 0-d
            with self._messages.around(lambda: f"{self.name}: op {i} ({tio.op_name(self.model, op)}): the "
                                       "tflite-micro interpreter cannot run it"):
                entry.interpreter.invoke()
            for k, j in enumerate(op.outputs):
                out = np.array(entry.interpreter.get_output(k))
                shape = tio.tensor_shape(self.tensors[j])
                # the interpreter hands a 0-d tensor back as shape (1,); keep the model's declared shape
                values[j] = out.reshape(shape) if out.size == int(np.prod(shape)) else out
        return [values[j] for j in self.sub.outputs]


def run_model(model: bytes | bytearray | schema.ModelT, inputs: list[np.ndarray], budget: int,
              name: str = "model") -> list[np.ndarray]:
    """Outputs of the REDS model at `budget` (0 = full network) for one set of inputs."""
    return HostRunner(model, name).run(inputs, budget)


def quantize_int8(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float samples -> int8 with one scale and zero point (round, then shift, then saturate)."""
    return np.clip(np.round(np.asarray(x, dtype=np.float32) / scale) + zero_point, -128, 127).astype(np.int8)


def quantize_input(runner: HostRunner, x: np.ndarray) -> np.ndarray:
    """Float samples -> the model input's dtype (int8 via its scale/zero point); other dtypes pass unchanged."""
    t = runner.tensors[runner.sub.inputs[0]]
    if t.type == schema.TensorType.INT8 and np.issubdtype(np.asarray(x).dtype, np.floating):
        q = tio.quant_params(t)
        if q is None:
            raise ModelFormatError(f"{runner.name}: int8 input without quantisation parameters")
        return quantize_int8(x, float(q[0][0]), int(q[1][0]))
    want = np.dtype(tio.NUMPY_DTYPES.get(t.type, np.void))
    return np.asarray(x).astype(want, copy=False)


def evaluate(model: bytes | bytearray | schema.ModelT, x: np.ndarray, y: np.ndarray,
             budgets: Sequence[int] | None = None, name: str = "model") -> list[float]:
    """Top-1 accuracy of a classifier for each budget (all budgets when None). x: samples along axis 0 (float,
    quantised to an int8 input automatically, or already in the input's dtype); y: integer labels."""
    runner = HostRunner(model, name)
    ks = list(range(runner.budgets)) if budgets is None else [int(k) for k in budgets]
    for k in ks:
        if not 0 <= k < runner.budgets:
            raise BudgetError(f"{name}: budget {k} out of range, the model has {runner.budgets} budgets")
    x = np.asarray(x)
    y = np.asarray(y).reshape(-1)
    if len(x) != len(y):
        raise ModelFormatError(f"{name}: {len(x)} samples but {len(y)} labels")
    if len(x) == 0:
        raise ModelFormatError(f"{name}: no samples to evaluate")
    in_shape = tio.tensor_shape(runner.tensors[runner.sub.inputs[0]])
    if int(np.prod(x.shape[1:])) != int(np.prod(in_shape)):
        raise ModelFormatError(f"{name}: samples of shape {x.shape[1:]} do not fit the model input {in_shape}")
    xq = quantize_input(runner, x)
    accs = []
    for k in ks:
        correct = 0
        for s in range(len(xq)):
            sample = xq[s].reshape(in_shape)
            out = runner.run([sample], k)[0]
            correct += int(np.argmax(out.reshape(-1)) == int(y[s]))
        accs.append(correct / len(xq))
    return accs


def evaluate_cli(a: argparse.Namespace) -> int:
    """`eval MODEL --data fashion-mnist|FILE.npz [--limit N]`: accuracy of every budget on the test split."""
    from .data.loaders import load_fashion_mnist, load_npz

    from .rewrite import read_metadata
    src = Path(a.model)
    model = tio.load_model(src)
    meta = read_metadata(model, str(src))  # checked before the evaluation, so that the table can index it
    rows = meta["budgets"] if meta else []
    if a.limit is not None and a.limit < 1:
        raise BudgetError(f"--limit {a.limit}: must be at least 1")
    if a.data == "fashion-mnist":
        _, test = load_fashion_mnist()
    else:
        _, test = load_npz(a.data)
    n = len(test.x) if a.limit is None else min(int(a.limit), len(test.x))
    t0 = time.perf_counter()
    accs = evaluate(model, test.x[:n], test.y[:n], name=str(src))
    dt = time.perf_counter() - t0
    print(f"{src}: {n} samples from {a.data}, {len(accs)} budgets, {dt:.1f} s on the host "
          "(REDS ops in the C core, builtin ops in tflite-micro)")
    print(f"{'k':>2} {'fraction':>9} {'MACs':>11} {'accuracy':>9}")
    for k, acc in enumerate(accs):
        row = rows[k] if k < len(rows) else {}
        frac = f"{row['fraction']:.3f}" if "fraction" in row else "-"
        macs = f"{row['macs']:,}" if "macs" in row else "-"
        print(f"{k:>2} {frac:>9} {macs:>11} {100 * acc:>8.2f}%")
    return 0
