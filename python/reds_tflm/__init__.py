"""reds-tflm: Resource-Efficient Deep Subnetworks for TensorFlow Lite Micro.

One int8 .tflite holds several nested subnetworks; on the device `reds_set_budget(k)` picks one.
The public API is re-exported here and nowhere else. Nothing here imports TensorFlow: `train` loads it on first use.
"""

from typing import Any

from .convert import ConvertResult, convert_model
from .cost_profile import CostProfile, KindCost, bundled_profiles, fit_profile, load_profile, mac_profile
from .errors import (BudgetError, ModelFormatError, OptionsError, RedsError, UnsupportedModelError,
                     WidthsError)
from .export_c import export_c
from .graph import ChannelSlice, Group, Layer, WidthGraph
from .graph_tflite import graph_from_tflite
from .materialize import materialize
from .options import RedsOptions
from .tflite_io import load_model, parse_model, save_model, serialize_model
from .widths import Solution, WidthProblem, select_nested

__version__ = "0.1.0"


def run_model(*args: Any, **kwargs: Any) -> Any:
    """Run a REDS model on the host at a budget (C core + TFLM); see reds_tflm.hostrun.run_model."""
    from .hostrun import run_model as impl
    return impl(*args, **kwargs)


def evaluate(*args: Any, **kwargs: Any) -> Any:
    """Accuracy of every budget; see reds_tflm.hostrun.evaluate."""
    from .hostrun import evaluate as impl
    return impl(*args, **kwargs)


def train(*args: Any, **kwargs: Any) -> Any:
    """Train nested subnetworks from a Keras model; see reds_tflm.keras.train.train (needs TensorFlow)."""
    from .keras.train import train as impl
    return impl(*args, **kwargs)


def graph_from_keras(*args: Any, **kwargs: Any) -> Any:
    """The width graph of a Keras model; see reds_tflm.keras.graph.graph_from_keras (needs TensorFlow)."""
    from .keras.graph import graph_from_keras as impl
    return impl(*args, **kwargs)


__all__ = [
    "BudgetError", "ModelFormatError", "OptionsError", "RedsError", "UnsupportedModelError", "WidthsError",
    "ChannelSlice", "ConvertResult", "CostProfile", "Group", "KindCost", "Layer", "RedsOptions", "Solution",
    "WidthGraph", "WidthProblem", "bundled_profiles", "convert_model", "evaluate", "export_c", "fit_profile",
    "graph_from_keras", "graph_from_tflite", "load_model", "load_profile", "mac_profile", "materialize",
    "parse_model", "run_model", "save_model", "select_nested", "serialize_model", "train", "__version__",
]
