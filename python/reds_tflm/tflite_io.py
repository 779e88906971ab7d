"""Read, validate and write .tflite flatbuffers through tflite-micro's generated schema (object API).

Everything that touches bytes on disk goes through here: reading checks the file identifier and catches a
truncated or corrupt buffer; writing aligns every buffer to 16 bytes (as TFLM wants for in-place weights) and
replaces the destination atomically.
"""

from __future__ import annotations

import os
import secrets
import struct
from pathlib import Path

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from .errors import ModelFormatError

FILE_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16

BuiltinOperator = schema.BuiltinOperator
TensorType = schema.TensorType
BUILTIN_NAMES: dict[int, str] = {
    v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)
}
TENSOR_TYPE_NAMES: dict[int, str] = {
    v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_") and isinstance(v, int)
}
NUMPY_DTYPES: dict[int, type] = {
    TensorType.FLOAT32: np.float32,
    TensorType.INT8: np.int8,
    TensorType.UINT8: np.uint8,
    TensorType.INT16: np.int16,
    TensorType.INT32: np.int32,
    TensorType.INT64: np.int64,
    TensorType.FLOAT16: np.float16,
    TensorType.BOOL: np.bool_,
}


def parse_model(data: bytes, name: str = "<bytes>") -> schema.ModelT:
    """Parse flatbuffer bytes into the mutable object API, with a clear error for anything malformed."""
    if len(data) < 8:
        raise ModelFormatError(f"{name}: {len(data)} bytes is too short to be a TFLite flatbuffer")
    ident = bytes(data[4:8])
    if ident != FILE_IDENTIFIER:
        raise ModelFormatError(
            f"{name}: file identifier is {ident!r}, expected {FILE_IDENTIFIER!r} (not a TFLite model)"
        )
    root = struct.unpack_from("<I", data, 0)[0]
    if root + 4 > len(data):
        raise ModelFormatError(f"{name}: root offset {root} lies beyond the end of the {len(data)}-byte file "
                               "(truncated or not a flatbuffer)")
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except (struct.error, IndexError, ValueError, TypeError, UnicodeDecodeError, OverflowError) as exc:
        raise ModelFormatError(f"{name}: corrupt or truncated flatbuffer ({type(exc).__name__}: {exc})") from None
    if not model.subgraphs:
        raise ModelFormatError(f"{name}: the model has no subgraph")
    for i, buf in enumerate(model.buffers or []):
        if buf.offset and (buf.offset + buf.size > len(data)):
            raise ModelFormatError(f"{name}: buffer {i} points beyond the end of the file (truncated)")
        if buf.offset > 1:
            # Models over 2 GiB keep buffers outside the flatbuffer; pull them in so the object API holds all data.
            buf.data = np.frombuffer(bytes(data[buf.offset:buf.offset + buf.size]), dtype=np.uint8).copy()
            buf.offset, buf.size = 0, 0
    check_structure(model, name)
    return model


def check_structure(model: schema.ModelT, name: str = "model") -> None:
    """Every index the readers follow points at something, and every constant holds as many bytes as its shape
    and type need: a corrupt file (a flipped byte) is then a ModelFormatError naming the entry instead of an
    IndexError deep in a reader, or an abort inside the TFLM interpreter."""
    from . import op_checks  # it reads models through this module's accessors
    n_buf, n_codes = len(model.buffers or []), len(model.operatorCodes or [])
    for ci, oc in enumerate(model.operatorCodes or []):
        if oc.customCode is not None:
            try:
                bytes(oc.customCode).decode("utf-8")
            except (UnicodeDecodeError, TypeError):
                raise ModelFormatError(f"{name}: operator code {ci} has an undecodable custom code") from None
    for i, m in enumerate(model.metadata or []):
        if not 0 <= m.buffer < n_buf:
            raise ModelFormatError(f"{name}: metadata {i} points at buffer {m.buffer}, the model has {n_buf}")
        if isinstance(m.name, (bytes, bytearray)):
            try:
                m.name.decode("utf-8")
            except UnicodeDecodeError:
                raise ModelFormatError(f"{name}: metadata {i} has a name that is not UTF-8") from None
    for si, sg in enumerate(model.subgraphs):
        where = f"{name}: subgraph {si}"
        tensors = sg.tensors or []
        for ti, t in enumerate(tensors):
            shape = [int(v) for v in (t.shape if t.shape is not None else [])]
            if any(v < 0 for v in shape):
                raise ModelFormatError(f"{where}: tensor {ti} ({tensor_name(t)}) has shape {shape}")
            if not 0 <= t.buffer < max(n_buf, 1):
                raise ModelFormatError(f"{where}: tensor {ti} ({tensor_name(t)}) points at buffer {t.buffer}, the "
                                       f"model has {n_buf}")
            data = model.buffers[t.buffer].data if n_buf else None
            dtype = NUMPY_DTYPES.get(t.type)
            if data is not None and len(data) and dtype is not None and t.sparsity is None:
                need = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
                if need != len(data):
                    raise ModelFormatError(f"{where}: tensor {ti} ({tensor_name(t)}) of shape {shape} and type "
                                           f"{TENSOR_TYPE_NAMES.get(t.type, t.type)} needs {need} bytes, its "
                                           f"buffer {t.buffer} holds {len(data)}")
            op_checks.check_quantization(where, ti, t)
        for what, idx in (("input", sg.inputs), ("output", sg.outputs)):
            for j in (idx if idx is not None else []):
                if not 0 <= j < len(tensors):
                    raise ModelFormatError(f"{where}: {what} tensor index {j} out of range ({len(tensors)} tensors)")
        for oi, op in enumerate(sg.operators or []):
            if not 0 <= op.opcodeIndex < n_codes:
                raise ModelFormatError(f"{where}: op {oi} has operator code {op.opcodeIndex}, the model has "
                                       f"{n_codes}")
            for what, idx in (("input", op.inputs), ("output", op.outputs)):
                for j in (idx if idx is not None else []):
                    if not -1 <= j < len(tensors):
                        raise ModelFormatError(f"{where}: op {oi} {what} tensor index {j} out of range "
                                               f"({len(tensors)} tensors)")
        for oi, op in enumerate(sg.operators or []):
            op_checks.check_op(f"{where}: op {oi} ({op_name(model, op)})", model, sg, op)
        known = {int(j) for op in sg.operators or [] for j in (op.outputs if op.outputs is not None else [])}
        known.update(int(j) for j in (sg.inputs if sg.inputs is not None else []))
        for j in (sg.outputs if sg.outputs is not None else []):
            if j not in known and buffer_of(model, tensors[j]) is None:
                raise ModelFormatError(f"{where}: graph output tensor {j} ({tensor_name(tensors[j])}) is written by "
                                       "no op (and is neither a graph input nor a constant)")


def load_model(path: str | os.PathLike) -> schema.ModelT:
    p = Path(path)
    if not p.exists():
        raise ModelFormatError(f"{p}: no such file")
    if p.is_dir():
        raise ModelFormatError(f"{p}: is a directory, expected a .tflite file")
    return parse_model(p.read_bytes(), str(p))


class _AlignedBufferT(schema.BufferT):
    """A BufferT whose data vector starts on a 16-byte boundary of the finished file."""

    def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 (generated API name)
        data_off = None
        if self.data is not None:
            raw = np.ascontiguousarray(np.asarray(self.data, dtype=np.uint8)).tobytes()
            builder.StartVector(1, len(raw), BUFFER_ALIGNMENT)
            builder.head = builder.head - len(raw)
            builder.Bytes[builder.head:builder.head + len(raw)] = raw
            builder.vectorNumElems = len(raw)
            data_off = builder.EndVector()
        schema.BufferStart(builder)
        if data_off is not None:
            schema.BufferAddData(builder, data_off)
        schema.BufferAddOffset(builder, 0)
        schema.BufferAddSize(builder, 0)
        return schema.BufferEnd(builder)


def serialize_model(model: schema.ModelT) -> bytes:
    """Pack the object API model into bytes with the TFL3 identifier and 16-byte aligned buffers."""
    saved = model.buffers
    try:
        model.buffers = [_aligned(b) for b in (saved or [])]
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
        return bytes(builder.Output())
    finally:
        model.buffers = saved


def _aligned(b: schema.BufferT) -> schema.BufferT:
    a = _AlignedBufferT()
    a.data = b.data if (b.data is not None and len(b.data) > 0) else None
    return a


def replace_marked_section(path: str | os.PathLike, begin: str, end: str, section: str,
                           new_file: str = "") -> None:
    """Replace the text from the marker `begin` through `end` in the text file at `path` with `section` (which
    carries both markers), or append it when the markers are absent; written atomically. The benchmarks' READMEs
    hold several generated sections this way, each owned by one script."""
    p = Path(path)
    text = p.read_text() if p.exists() else new_file
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    write_bytes_atomic(p, text.encode())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file in the destination's directory, then rename over the destination."""
    write_files_atomic({Path(path): data})


def write_files_atomic(files: dict[Path, bytes]) -> None:
    """Write all files or none (a C source and its header must match): every destination is checked first, then
    each is written to a temporary file in its directory; only when all are complete are they renamed into place.
    On failure the temporaries go and existing files stay untouched: a file already replaced when a later rename
    fails (only possible in a race) is put back from a hard link."""
    for p in files:
        parent = p.parent if str(p.parent) else Path(".")
        if not parent.is_dir():
            raise ModelFormatError(f"{p}: directory {parent} does not exist")
        if p.is_dir() or not p.name or p.name in (".", ".."):
            raise ModelFormatError(f"{p}: is a directory; give a file name")
    temps: list[str] = []
    done: list[tuple[Path, bool, str | None]] = []  # replaced, whether it existed, a link to its old content
    try:
        staged = []
        for p, data in files.items():
            fd, tmp = _create_temp(p)
            temps.append(tmp)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            staged.append((p, tmp))
        for p, tmp in staged:
            existed, old = p.exists(), None
            if existed and len(files) > 1:
                try:
                    os.link(p, tmp + ".old")
                    old = tmp + ".old"
                    temps.append(old)
                except OSError:  # no hard links here: the rename still works, only the rollback is lost
                    pass
            os.replace(tmp, p)
            done.append((p, existed, old))
    except OSError as exc:
        for p, existed, old in reversed(done):
            try:
                if old is not None:
                    os.replace(old, p)
                elif not existed:
                    os.unlink(p)
            except OSError:
                pass
        raise ModelFormatError(f"{' and '.join(map(str, files))}: cannot write ({exc.strerror or exc})") from None
    finally:
        for tmp in temps:
            try:
                os.unlink(tmp)
            except FileNotFoundError:  # renamed into place
                pass


def _create_temp(p: Path) -> tuple[int, str]:
    """A new file next to `p`, created with mode 0666 so that the umask gives it the user's usual permissions
    (mkstemp would make it 0600, and reading the umask means changing it)."""
    for _ in range(100):
        tmp = str(p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp"))
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{p}: no free temporary name next to it")


def save_model(model: schema.ModelT, path: str | os.PathLike) -> bytes:
    data = serialize_model(model)
    write_bytes_atomic(path, data)
    return data


# ---------------------------------------------------------------------------------------------- small accessors

def op_name(model: schema.ModelT, op: schema.OperatorT) -> str:
    """Builtin name (e.g. 'CONV_2D') or 'CUSTOM:<code>'."""
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == BuiltinOperator.CUSTOM:
        cc = code.customCode
        cc = cc.decode() if isinstance(cc, (bytes, bytearray)) else str(cc)
        return f"CUSTOM:{cc}"
    return BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")


def conv_out_size(padding: int, size: int, k: int, stride: int, dilation: int) -> int:
    """Output height or width of a conv or pool as TFLite computes it (padding 0 SAME, 1 VALID)."""
    eff = (k - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == schema.Padding.SAME else (size + stride - eff) // stride


def tensor_name(t: schema.TensorT) -> str:
    n = t.name
    return n.decode(errors="replace") if isinstance(n, (bytes, bytearray)) else str(n)


def tensor_shape(t: schema.TensorT) -> tuple[int, ...]:
    return tuple(int(s) for s in (t.shape if t.shape is not None else []))


def tensor_text(sg: schema.SubGraphT, j: int) -> str:
    """How error messages name tensor j of a subgraph."""
    t = sg.tensors[j]
    return f"tensor {j} ({tensor_name(t)}) of shape {list(tensor_shape(t))}"


def buffer_of(model: schema.ModelT, t: schema.TensorT) -> np.ndarray | None:
    """The constant data of a tensor as a typed, shaped numpy array; None for activations."""
    if t.buffer <= 0 or t.buffer >= len(model.buffers):
        return None
    data = model.buffers[t.buffer].data
    if data is None or len(data) == 0:
        return None
    dtype = NUMPY_DTYPES.get(t.type)
    if dtype is None:
        return None
    arr = np.frombuffer(np.asarray(data, dtype=np.uint8).tobytes(), dtype=np.dtype(dtype).newbyteorder("<"))
    shape = tensor_shape(t)
    return arr.reshape(shape) if shape else arr


def set_buffer(model: schema.ModelT, tensor_index: int, value: np.ndarray, subgraph: int = 0) -> None:
    """Give one tensor new constant data in a buffer of its own (buffers may be shared between tensors)."""
    t = model.subgraphs[subgraph].tensors[tensor_index]
    dtype = NUMPY_DTYPES[t.type]
    raw = np.ascontiguousarray(value.astype(np.dtype(dtype).newbyteorder("<"), copy=False)).view(np.uint8).ravel()
    nb = schema.BufferT()
    nb.data = raw.copy()
    model.buffers.append(nb)
    t.buffer = len(model.buffers) - 1
    t.shape = np.asarray(value.shape, dtype=np.int32)


def quant_params(t: schema.TensorT) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(scales, zero_points, quantized_dimension) or None when the tensor is not quantised."""
    q = t.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    zp = q.zeroPoint if q.zeroPoint is not None else np.zeros(len(q.scale), dtype=np.int64)
    return np.asarray(q.scale, dtype=np.float32), np.asarray(zp, dtype=np.int64), int(q.quantizedDimension)


def get_metadata(model: schema.ModelT, name: str) -> bytes | None:
    for m in model.metadata or []:
        mname = m.name.decode() if isinstance(m.name, (bytes, bytearray)) else m.name
        if mname == name:
            data = model.buffers[m.buffer].data
            return bytes(np.asarray(data, dtype=np.uint8)) if data is not None else b""
    return None


def set_metadata(model: schema.ModelT, name: str, payload: bytes) -> None:
    buf = schema.BufferT()
    buf.data = np.frombuffer(payload, dtype=np.uint8).copy()
    model.buffers.append(buf)
    idx = len(model.buffers) - 1
    for m in model.metadata or []:
        mname = m.name.decode() if isinstance(m.name, (bytes, bytearray)) else m.name
        if mname == name:
            m.buffer = idx
            return
    md = schema.MetadataT()
    md.name = name
    md.buffer = idx
    if model.metadata is None:
        model.metadata = []
    model.metadata.append(md)


def compact_buffers(model: schema.ModelT) -> None:
    """Drop buffers no tensor or metadata refers to (left behind by permutation and slicing); keep buffer 0 empty."""
    used = {0}
    for sg in model.subgraphs:
        used.update(t.buffer for t in sg.tensors or [])
    used.update(m.buffer for m in model.metadata or [])
    used.update(int(b) for b in (model.metadataBuffer if model.metadataBuffer is not None else []))
    keep = sorted(b for b in used if 0 <= b < len(model.buffers))
    remap = {old: new for new, old in enumerate(keep)}
    model.buffers = [model.buffers[b] for b in keep]
    for sg in model.subgraphs:
        for t in sg.tensors or []:
            t.buffer = remap.get(t.buffer, 0)
    for m in model.metadata or []:
        m.buffer = remap[m.buffer]
    if model.metadataBuffer is not None:
        model.metadataBuffer = [remap[int(b)] for b in model.metadataBuffer]


def drop_unused_opcodes(model: schema.ModelT) -> None:
    """Remove operator codes no operator uses any more (after ops were rewritten)."""
    used = sorted({op.opcodeIndex for sg in model.subgraphs for op in sg.operators or []})
    remap = {old: new for new, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[i] for i in used]
    for sg in model.subgraphs:
        for op in sg.operators or []:
            op.opcodeIndex = remap[op.opcodeIndex]
