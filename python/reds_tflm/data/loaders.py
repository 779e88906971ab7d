"""Fashion-MNIST from the Debian package's IDX files, any dataset from an .npz (keys x, y), sklearn digits.

No downloads: Fashion-MNIST comes from /usr/share/datasets/fashion-mnist/ (Debian package `dataset-fashion-mnist`).
"""

from __future__ import annotations

import gzip
import struct
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
    try:
        with np.load(p) as f:
            d = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise RedsError(f"{p}: no such file") from None
    except (OSError, ValueError) as exc:
        raise RedsError(f"{p}: not a readable .npz ({exc})") from None
    for k in ("x", "y"):
        if k not in d:
            raise RedsError(f"{p}: missing key {k!r} (has {sorted(d)}); expected arrays x and y")
    x, y = d["x"].astype(np.float32), d["y"].astype(np.int32).reshape(-1)
    if len(x) != len(y):
        raise RedsError(f"{p}: {len(x)} samples in x but {len(y)} labels in y")
    if x.ndim == 3:
        x = x[..., None]
    if "x_test" in d and "y_test" in d:
        xt = d["x_test"].astype(np.float32)
        return Dataset(x, y), Dataset(xt[..., None] if xt.ndim == 3 else xt, d["y_test"].astype(np.int32))
    if not 0 < test_fraction < 1:
        raise RedsError(f"test fraction {test_fraction} outside (0, 1)")
    idx = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, int(round(len(x) * test_fraction)))
    return Dataset(x[idx[n_test:]], y[idx[n_test:]]), Dataset(x[idx[:n_test]], y[idx[:n_test]])


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
