"""reds-tflm: Resource-Efficient Deep Subnetworks for TensorFlow Lite Micro.

One int8 .tflite holds several nested subnetworks; on the device `reds_set_budget(k)` picks one.
The public API is re-exported here and nowhere else.
"""

from .errors import (BudgetError, ModelFormatError, OptionsError, RedsError, UnsupportedModelError,
                     WidthsError)
from .options import RedsOptions

__version__ = "0.1.0"

__all__ = [
    "BudgetError", "ModelFormatError", "OptionsError", "RedsError", "UnsupportedModelError", "WidthsError",
    "RedsOptions", "__version__",
]
