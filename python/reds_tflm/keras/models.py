"""Example architectures for 28×28×1 inputs and 10 classes (Fashion-MNIST): DS-CNN S, a small CNN, an MLP.

DS-CNN S follows the MLPerf Tiny keyword-spotting model used in the REDS paper: a 10×4 stride-2 convolution with
64 filters, four depthwise-separable blocks (3×3 depthwise + 64 pointwise, each with BN and ReLU), global average
pooling and a fully connected classifier; here on a 28×28×1 image instead of a 49×10 spectrogram. Every model
outputs logits. `width_scale` multiplies every hidden width (the baselines use explicit widths instead).
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import RedsError

INPUT_SHAPE = (28, 28, 1)


def ds_cnn_s(num_classes: int = 10, input_shape: tuple[int, ...] = INPUT_SHAPE, filters: int = 64,
             l2: float = 1e-4) -> Any:
    import keras
    from keras import layers as L
    reg = keras.regularizers.L2(l2) if l2 else None
    x = i = keras.Input(input_shape, name="input")
    x = L.Conv2D(filters, (10, 4), strides=2, padding="same", use_bias=False, kernel_regularizer=reg,
                 name="conv0")(x)
    x = L.BatchNormalization(name="bn0")(x)
    x = L.ReLU(name="relu0")(x)
    x = L.Dropout(0.2, name="drop0")(x)
    for b in range(1, 5):
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False, depthwise_regularizer=reg, name=f"dw{b}")(x)
        x = L.BatchNormalization(name=f"dw{b}_bn")(x)
        x = L.ReLU(name=f"dw{b}_relu")(x)
        x = L.Conv2D(filters, 1, use_bias=False, kernel_regularizer=reg, name=f"pw{b}")(x)
        x = L.BatchNormalization(name=f"pw{b}_bn")(x)
        x = L.ReLU(name=f"pw{b}_relu")(x)
    x = L.Dropout(0.4, name="drop1")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(i, L.Dense(num_classes, name="fc")(x), name="ds_cnn_s")


def ds_cnn_s_vision(num_classes: int = 10, input_shape: tuple[int, ...] = INPUT_SHAPE, filters: int = 64) -> Any:
    """DS-CNN S as the REDS authors ran it on Fashion-MNIST (their published checkpoint's layers): a 3x3 stride-2
    first conv, biases everywhere, LeakyReLU(0.3), four depthwise-separable blocks of 64, average pooling (13, 5)
    with stride 1 (a 2x10 map on 28x28 inputs) flattened into a 1,280-input classifier; no dropout, no L2. For
    comparing with the published figures on the same network: its first conv costs 113 k MACs where ds_cnn_s's
    10x4 one costs 502 k, which leaves the narrow budgets more for the pointwise layers."""
    import keras
    from keras import layers as L
    x = i = keras.Input(input_shape, name="input")
    x = L.Conv2D(filters, 3, strides=2, padding="same", name="conv0")(x)
    x = L.BatchNormalization(name="bn0")(x)
    x = L.LeakyReLU(negative_slope=0.3, name="act0")(x)
    for b in range(1, 5):
        x = L.DepthwiseConv2D(3, padding="same", name=f"dw{b}")(x)
        x = L.BatchNormalization(name=f"dw{b}_bn")(x)
        x = L.LeakyReLU(negative_slope=0.3, name=f"dw{b}_act")(x)
        x = L.Conv2D(filters, 1, name=f"pw{b}")(x)
        x = L.BatchNormalization(name=f"pw{b}_bn")(x)
        x = L.LeakyReLU(negative_slope=0.3, name=f"pw{b}_act")(x)
    x = L.AveragePooling2D((13, 5), strides=1, padding="valid", name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    return keras.Model(i, L.Dense(num_classes, name="fc")(x), name="ds_cnn_s_vision")


def cnn(num_classes: int = 10, input_shape: tuple[int, ...] = INPUT_SHAPE) -> Any:
    import keras
    from keras import layers as L
    x = i = keras.Input(input_shape, name="input")
    x = L.Conv2D(32, 3, padding="same", name="conv1")(x)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(name="relu1")(x)
    x = L.MaxPooling2D(name="pool1")(x)
    x = L.Conv2D(64, 3, padding="same", name="conv2")(x)
    x = L.BatchNormalization(name="bn2")(x)
    x = L.ReLU(name="relu2")(x)
    x = L.MaxPooling2D(name="pool2")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dropout(0.3, name="drop")(x)
    x = L.Dense(128, activation="relu", name="fc1")(x)
    return keras.Model(i, L.Dense(num_classes, name="fc2")(x), name="cnn")


def mlp(num_classes: int = 10, input_shape: tuple[int, ...] = INPUT_SHAPE, hidden: tuple[int, ...] = (256, 128)) -> Any:
    import keras
    from keras import layers as L
    model = keras.Sequential(name="mlp")
    model.add(keras.Input(input_shape, name="input"))
    model.add(L.Flatten(name="flatten"))
    for k, h in enumerate(hidden):
        model.add(L.Dense(h, activation="relu", name=f"fc{k + 1}"))
    model.add(L.Dense(num_classes, name="logits"))
    return model


ARCHITECTURES: dict[str, Callable[..., Any]] = {"ds-cnn-s": ds_cnn_s, "ds-cnn-s-vision": ds_cnn_s_vision,
                                                "cnn": cnn, "mlp": mlp}


def build(arch: str, num_classes: int = 10, input_shape: tuple[int, ...] = INPUT_SHAPE) -> Any:
    if arch not in ARCHITECTURES:
        raise RedsError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](num_classes=num_classes, input_shape=input_shape)
