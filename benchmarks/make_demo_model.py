"""Regenerate the demo's bundled model: a standard (not REDS-trained) int8 DS-CNN S for Fashion-MNIST.

    python benchmarks/make_demo_model.py [--epochs 3] [--out python/reds_tflm/assets/ds_cnn_s_fashion_int8.tflite]

Plain Keras training, then TFLiteConverter full-integer quantisation (int8 input and output, per-channel weights).
`python -m reds_tflm demo` converts this model post-training, without fine-tuning; `train` is the REDS-trained path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "python/reds_tflm/assets/ds_cnn_s_fashion_int8.tflite"))
    a = ap.parse_args()
    import keras
    import tensorflow as tf

    from reds_tflm import tflite_io
    from reds_tflm.data.loaders import load_fashion_mnist
    from reds_tflm.keras.models import ds_cnn_s

    keras.utils.set_random_seed(a.seed)
    train, test = load_fashion_mnist()
    model = ds_cnn_s()
    model.compile(optimizer=keras.optimizers.Adam(2e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train.x, train.y, batch_size=128, epochs=a.epochs, validation_data=(test.x, test.y), verbose=2)
    _, acc = model.evaluate(test.x, test.y, verbose=0)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rep = train.x[np.random.default_rng(a.seed).choice(len(train.x), 300, replace=False)]
    conv.representative_dataset = lambda: ([r[None]] for r in rep)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    data = conv.convert()
    tflite_io.write_bytes_atomic(a.out, data)
    info = {"arch": "ds_cnn_s", "epochs": a.epochs, "seed": a.seed, "float_test_accuracy": round(float(acc), 4),
            "bytes": len(data)}
    tflite_io.write_bytes_atomic(Path(a.out).with_suffix(".json"), json.dumps(info, indent=1).encode())
    print(json.dumps(info))


if __name__ == "__main__":
    main()
