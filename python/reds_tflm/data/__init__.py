"""Dataset loaders returning ((x_train, y_train), (x_test, y_test)) as float32 NHWC images in [0, 1] and int labels."""

from .loaders import Dataset, load_digits, load_fashion_mnist, load_npz, read_idx, subset

__all__ = ["Dataset", "load_digits", "load_fashion_mnist", "load_npz", "read_idx", "subset"]
