"""Dataset loaders: IDX parsing (real bytes written here), Fashion-MNIST from the Debian package, .npz, subsets."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from reds_tflm.data import load_digits, load_fashion_mnist, load_npz, read_idx, subset
from reds_tflm.data.loaders import FASHION_DIR, Dataset
from reds_tflm.errors import RedsError


def _idx(arr: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def test_read_idx_plain_and_gzip(tmp_path: Path) -> None:
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a-idx3-ubyte").write_bytes(_idx(a))
    (tmp_path / "b-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(a)))
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte"), a)
    assert np.array_equal(read_idx(tmp_path / "b-idx3-ubyte.gz"), a)
    f = np.array([1.5, -2.0], dtype=">f4")
    (tmp_path / "f").write_bytes(_idx(f, 0x0D))
    assert read_idx(tmp_path / "f").tolist() == [1.5, -2.0]


def test_read_idx_rejects_bad_files(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01" + b"\0" * 8)
    with pytest.raises(RedsError, match="bad magic"):
        read_idx(tmp_path / "bad")
    a = np.zeros((4, 4), np.uint8)
    (tmp_path / "short").write_bytes(_idx(a)[:-3])
    with pytest.raises(RedsError, match="need 16"):
        read_idx(tmp_path / "short")
    with pytest.raises(RedsError, match="no such file"):
        read_idx(tmp_path / "missing")


def test_fashion_missing_directory_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(RedsError, match="dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "nope")
    with pytest.raises(RedsError, match="dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)  # exists but empty


def test_fashion_from_synthetic_idx(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for stem, n in (("train", 6), ("t10k", 3)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        (tmp_path / f"{stem}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(x)))
        (tmp_path / f"{stem}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(y)))
        if stem == "train":
            xt, yt = x, y
    train, test = load_fashion_mnist(tmp_path)
    assert train.x.shape == (6, 28, 28, 1) and test.x.shape == (3, 28, 28, 1)
    assert np.allclose(train.x[..., 0] * 255, xt) and np.array_equal(train.y, yt)
    assert train.x.dtype == np.float32 and 0 <= train.x.min() and train.x.max() <= 1


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist() -> None:
    train, test = load_fashion_mnist()
    assert train.x.shape == (60000, 28, 28, 1) and test.x.shape == (10000, 28, 28, 1)
    assert sorted(np.unique(train.y)) == list(range(10)) and np.bincount(test.y).tolist() == [1000] * 10


def test_npz(tmp_path: Path) -> None:
    x = np.random.default_rng(1).random((50, 5, 5)).astype(np.float32)
    y = np.arange(50) % 5
    np.savez(tmp_path / "d.npz", x=x, y=y)
    train, test = load_npz(tmp_path / "d.npz", test_fraction=0.2)
    assert train.x.shape == (40, 5, 5, 1) and test.x.shape == (10, 5, 5, 1)
    together = np.concatenate([train.x, test.x])[..., 0]
    assert sorted(map(tuple, together.reshape(50, -1).round(6))) == sorted(map(tuple, x.reshape(50, -1).round(6)))
    np.savez(tmp_path / "bad.npz", x=x)
    with pytest.raises(RedsError, match="missing key 'y'"):
        load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "mism.npz", x=x, y=y[:3])
    with pytest.raises(RedsError, match="50 samples in x but 3 labels"):
        load_npz(tmp_path / "mism.npz")


def test_digits_needs_sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(RedsError, match="scikit-learn"):
            load_digits()
    else:
        train, test = load_digits()
        assert train.x.shape[1:] == (8, 8, 1) and len(train.y) + len(test.y) == 1797


def test_subset_is_stratified_and_repeatable() -> None:
    y = np.repeat(np.arange(4), [100, 200, 300, 400])
    d = Dataset(np.arange(len(y), dtype=np.float32)[:, None], y)
    s1, s2 = subset(d, 100, seed=3), subset(d, 100, seed=3)
    assert np.array_equal(s1.x, s2.x) and len(s1.y) == 100
    assert np.bincount(s1.y).tolist() == [10, 20, 30, 40]
    assert np.array_equal(d.y[s1.x[:, 0].astype(int)], s1.y)
    assert subset(d, None) is d
