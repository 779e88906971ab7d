"""Small real Keras models, one per topology hazard, converted to .tflite by TensorFlow's converter.

Conversions are cached on disk (keyed by name and mode) so the suite converts each model once per machine.
Weights are random but non-degenerate (biases and BN statistics drawn, not left at their initial values), so that
permutation and slicing bugs cannot hide behind zeros.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

MODES = ("int8", "int8_per_tensor", "float32")
CACHE = Path(os.environ.get("REDS_TEST_CACHE", Path(__file__).resolve().parent.parent / "build" / "test-models"))


def _randomise(model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = []
        for w, var in zip(ws, layer.weights):
            name = var.path if hasattr(var, "path") else var.name
            if "moving_variance" in name:
                new.append(rng.uniform(0.5, 2.0, w.shape).astype(w.dtype))
            elif "gamma" in name:
                new.append(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
            elif w.ndim == 1:
                new.append(rng.normal(0, 0.2, w.shape).astype(w.dtype))
            else:
                fan_in = int(np.prod(w.shape[:-1])) if w.ndim > 1 else 1
                new.append(rng.normal(0, 1.0 / np.sqrt(max(fan_in, 1)), w.shape).astype(w.dtype))
        layer.set_weights(new)


def mlp():
    import keras
    from keras import layers as L
    i = keras.Input((20,), batch_size=1)
    x = L.Dense(24, activation="relu")(i)
    x = L.Dense(16, activation="relu")(x)
    return keras.Model(i, L.Dense(6)(x), name="mlp")


def cnn_flatten():
    import keras
    from keras import layers as L
    i = keras.Input((12, 12, 1), batch_size=1)
    x = L.Conv2D(8, 3, activation="relu")(i)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(6, 3, padding="same", activation="relu6")(x)
    x = L.Flatten()(x)
    x = L.Dense(16, activation="relu")(x)
    return keras.Model(i, L.Dense(10, activation="softmax")(x), name="cnn_flatten")


def ds_cnn():
    import keras
    from keras import layers as L
    i = keras.Input((14, 14, 1), batch_size=1)
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(i)
    x = L.ReLU()(L.BatchNormalization()(x))
    for filters in (12, 10):
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
        x = L.Conv2D(filters, 1, use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(i, L.Dense(5)(x), name="ds_cnn")


def residual():
    import keras
    from keras import layers as L
    i = keras.Input((8, 8, 3), batch_size=1)
    a = L.Conv2D(8, 3, padding="same", activation="relu")(i)
    b = L.Conv2D(8, 3, padding="same", activation="relu")(a)
    b = L.Conv2D(8, 1, padding="same")(b)
    x = L.ReLU()(L.Add()([a, b]))
    x = L.DepthwiseConv2D(3, strides=2, padding="valid")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(i, L.Dense(4)(x), name="residual")


def concat():
    import keras
    from keras import layers as L
    i = keras.Input((8, 8, 3), batch_size=1)
    a = L.Conv2D(6, 3, padding="same", activation="relu")(i)
    b = L.Conv2D(5, 1, padding="same", activation="relu")(i)
    x = L.Concatenate()([a, b])
    x = L.Conv2D(7, 1, activation="relu")(x)
    x = L.Flatten()(x)
    x = L.Dense(12, activation="relu")(x)
    return keras.Model(i, L.Dense(5)(x), name="concat")


def dynamic_batch():
    """No fixed batch size: the converter computes Flatten's shape at run time (SHAPE, STRIDED_SLICE, PACK, 0-d
    tensors), which pins the flattened group and must still run on the host."""
    import keras
    from keras import layers as L
    i = keras.Input((10, 10, 2))
    x = L.Conv2D(8, 3, activation="relu")(i)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(6, 3, activation="relu")(x)
    x = L.Dense(12, activation="relu")(L.Flatten()(x))
    return keras.Model(i, L.Dense(5)(x), name="dynamic_batch")


BUILDERS: dict[str, Callable] = {"mlp": mlp, "cnn_flatten": cnn_flatten, "ds_cnn": ds_cnn, "residual": residual,
                                 "concat": concat, "dynamic_batch": dynamic_batch}


def _convert(model, mode: str, seed: int) -> bytes:
    import tensorflow as tf
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float32":
        shape = [1] + list(model.input_shape[1:])
        rng = np.random.default_rng(seed + 1)
        samples = [rng.normal(0, 1, shape).astype(np.float32) for _ in range(32)]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([s] for s in samples)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        if mode == "int8_per_tensor":
            conv._experimental_disable_per_channel = True
    return conv.convert()


def tflite_model(name: str, mode: str, seed: int = 0) -> bytes:
    """The converted model's bytes (cached)."""
    src = Path(__file__).read_bytes()
    key = hashlib.sha256(src + f"{name}/{mode}/{seed}".encode()).hexdigest()[:16]
    path = CACHE / f"{name}-{mode}-{key}.tflite"
    if path.exists():
        return path.read_bytes()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    keras.utils.set_random_seed(seed)
    model = BUILDERS[name]()
    _randomise(model, seed)
    data = _convert(model, mode, seed)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def random_input(model_bytes: bytes, seed: int = 0, n: int = 1) -> list[np.ndarray]:
    """n random inputs of the right dtype and shape for the model's first input."""
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(model_bytes)
    d = it.get_input_details(0)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        if np.dtype(d["dtype"]) == np.int8:
            out.append(rng.integers(-128, 128, d["shape"], dtype=np.int8))
        else:
            out.append(rng.normal(0, 1, d["shape"]).astype(np.float32))
    return out


def run_tflm(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(model_bytes)
    it.set_input(x, 0)
    it.invoke()
    return np.array(it.get_output(0))
