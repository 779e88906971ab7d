"""Fashion-MNIST from the Debian package's IDX files, any dataset from an .npz (keys x, y), sklearn digits.

No downloads: Fashion-MNIST comes from /usr/share/datasets/fashion-mnist/ (Debian package `dataset-fashion-mnist`).
"""

from __future__ import annotations

import gzip
import struct
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import RedsError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
                 "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class Dataset(NamedTuple):
    x: np.ndarray
    y: np.ndarray


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (optionally .gz): magic 0x0000 TT DD, DD big-endian uint32 dimensions, then the data."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise RedsError(f"{p}: no such file") from None
    except (OSError, EOFError) as exc:
        raise RedsError(f"{p}: cannot read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise RedsError(f"{p}: not an IDX file (bad magic {raw[:4].hex()})")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise RedsError(f"{p}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(IDX_TYPES[raw[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != need:
        raise RedsError(f"{p}: IDX data has {len(body)} bytes, dimensions {dims} need {need}")
    return np.frombuffer(body, dtype).reshape(dims)


def _find(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (root / name).exists():
            return root / name
    raise RedsError(f"Fashion-MNIST file {stem}(.gz) not found in {root}; install the Debian package "
                    "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass another directory")


def load_fashion_mnist(root: str | Path = FASHION_DIR) -> tuple[Dataset, Dataset]:
    root = Path(root)
    if not root.is_dir():
        raise RedsError(f"Fashion-MNIST directory {root} does not exist; install the Debian package "
                        "dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")
    arr = {k: read_idx(_find(root, v)) for k, v in FASHION_FILES.items()}
    for split in ("train", "test"):
        if len(arr[f"x_{split}"]) != len(arr[f"y_{split}"]) or arr[f"x_{split}"].ndim != 3:
            raise RedsError(f"{root}: {split} images {arr[f'x_{split}'].shape} and labels "
                            f"{arr[f'y_{split}'].shape} do not match")
    norm = {k: (v.astype(np.float32) / 255.0)[..., None] if k.startswith("x") else v.astype(np.int32)
            for k, v in arr.items()}
    return Dataset(norm["x_train"], norm["y_train"]), Dataset(norm["x_test"], norm["y_test"])


def load_npz(path: str | Path, test_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Keys x (N, ...) and y (N,); split into train/test unless x_test/y_test are present too."""
    p = Path(path)
    if p.is_dir():
        raise RedsError(f"{p}: is a directory, expected an .npz archive with arrays x and y")
    unreadable = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)  # what truncation or junk raises
    try:
        f = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise RedsError(f"{p}: no such file") from None
    except unreadable as exc:
        raise RedsError(f"{p}: not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise RedsError(f"{p}: is a single .npy array, expected an .npz archive with arrays x and y "
                        "(np.savez(path, x=..., y=...))")
    d: dict[str, np.ndarray] = {}
    with f:
        for k in f.files:
            try:
                d[k] = f[k]  # members are read (and decompressed) here
            except unreadable as exc:
                raise RedsError(f"{p}: array {k!r} cannot be read ({type(exc).__name__}: {exc})") from None
    for k in ("x", "y"):
        if k not in d:
            raise RedsError(f"{p}: missing key {k!r} (has {sorted(d)}); expected arrays x and y")
    x, y = _samples(d["x"], p, "x"), _labels(d["y"], p, "y")
    if len(x) != len(y):
        raise RedsError(f"{p}: {len(x)} samples in x but {len(y)} labels in y")
    if len(x) == 0:
        raise RedsError(f"{p}: x and y are empty: nothing to evaluate")
    if ("x_test" in d) != ("y_test" in d):
        raise RedsError(f"{p}: has {'x_test' if 'x_test' in d else 'y_test'} without "
                        f"{'y_test' if 'x_test' in d else 'x_test'}; give both or neither")
    if "x_test" in d:
        xt, yt = _samples(d["x_test"], p, "x_test"), _labels(d["y_test"], p, "y_test")
        if len(xt) != len(yt):
            raise RedsError(f"{p}: {len(xt)} samples in x_test but {len(yt)} labels in y_test")
        if len(xt) == 0:
            raise RedsError(f"{p}: x_test and y_test are empty: nothing to evaluate")
        return Dataset(x, y), Dataset(xt, yt)
    if not 0 < test_fraction < 1:
        raise RedsError(f"test fraction {test_fraction} outside (0, 1)")
    idx = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, int(round(len(x) * test_fraction)))
    return Dataset(x[idx[n_test:]], y[idx[n_test:]]), Dataset(x[idx[:n_test]], y[idx[:n_test]])


def _samples(a: np.ndarray, p: Path, key: str) -> np.ndarray:
    """Array `key` as float32 samples (N, ...); (N, H, W) gains a channel axis."""
    if a.ndim == 0:
        raise RedsError(f"{p}: {key} is a 0-d array (a single value), expected one sample per row (N, ...)")
    if a.dtype.kind not in "biuf":  # strings, objects, complex numbers, dates: not pixel values
        raise RedsError(f"{p}: {key} has dtype {a.dtype}, expected numbers (int or float)")
    x = a.astype(np.float32)
    if not np.isfinite(x).all():
        raise RedsError(f"{p}: {key} holds NaN or infinite values (or values beyond float32)")
    return x[..., None] if x.ndim == 3 else x


def _labels(a: np.ndarray, p: Path, key: str) -> np.ndarray:
    """Array `key` as int32 class indices: (N,) or (N, 1), whole numbers >= 0."""
    if a.ndim == 0:
        raise RedsError(f"{p}: {key} is a 0-d array (a single value), expected one label per sample (N,)")
    if a.dtype.kind not in "biuf":
        raise RedsError(f"{p}: {key} has dtype {a.dtype}, expected integer class labels")
    if a.ndim > 2 or (a.ndim == 2 and a.shape[1] != 1):
        raise RedsError(f"{p}: {key} has shape {a.shape}, expected class indices (N,) (one-hot labels: take the "
                        "argmax)")
    y = a.reshape(-1)
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise RedsError(f"{p}: {key}[{i}] = {y[i].item()!r} is not a whole-number class label")
    if y.size and (y.min() < 0 or y.max() > np.iinfo(np.int32).max):
        v = (y.min() if y.min() < 0 else y.max()).item()
        raise RedsError(f"{p}: {key} holds the label {v!r}, expected class indices 0..{np.iinfo(np.int32).max}")
    return y.astype(np.int32)


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """scikit-learn's 8×8 digits (bundled with sklearn, no download), as (N, 8, 8, 1) in [0, 1]."""
    try:
        from sklearn.datasets import load_digits as _digits
    except ImportError:
        raise RedsError("the digits dataset needs scikit-learn (pip install scikit-learn)") from None
    d = _digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    idx = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, int(round(len(x) * test_fraction)))
    y = d.target.astype(np.int32)
    return Dataset(x[idx[n_test:]], y[idx[n_test:]]), Dataset(x[idx[:n_test]], y[idx[:n_test]])


def subset(data: Dataset, n: int | None, seed: int = 0) -> Dataset:
    """A class-stratified random subset of n samples (all of them when n is None or too large)."""
    if n is None or n >= len(data.y):
        return data
    rng = np.random.default_rng(seed)
    classes = np.unique(data.y)
    picked = []
    for c in classes:
        idx = np.flatnonzero(data.y == c)
        picked.append(rng.choice(idx, size=max(1, int(round(n * len(idx) / len(data.y)))), replace=False))
    idx = rng.permutation(np.concatenate(picked))[:n]
    return Dataset(data.x[idx], data.y[idx])
