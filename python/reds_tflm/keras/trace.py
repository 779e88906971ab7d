"""The steps of an unmodified Keras 3 Sequential/Functional model, in execution order.

Both the width graph front end and the sliced forward pass walk the same list: one `Step` per layer call, naming the
tensors it reads and the one it writes. Tensors are identified by the id of their symbolic KerasTensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import UnsupportedModelError


@dataclass(frozen=True)
class Step:
    layer: Any  # a keras.layers.Layer
    inputs: tuple[int, ...]  # tensor keys read
    output: int  # tensor key written
    in_shapes: tuple[tuple[int | None, ...], ...]
    out_shape: tuple[int | None, ...]

    @property
    def name(self) -> str:
        return self.layer.name


def _keras():
    import keras
    if keras.backend.backend() != "tensorflow":
        raise UnsupportedModelError(f"reds_tflm.keras needs the TensorFlow backend of Keras (KERAS_BACKEND="
                                    f"tensorflow), not {keras.backend.backend()!r}")
    return keras


def trace(model: Any) -> tuple[list[Step], list[int], list[int]]:
    """(steps, input keys, output keys) of `model`; refuses subclassed models, nested models and shared layers."""
    keras = _keras()
    from keras.src.models.functional import Functional
    if not isinstance(model, (keras.Sequential, Functional)):
        raise UnsupportedModelError(
            f"model '{getattr(model, 'name', model)}' is a {type(model).__name__}: only Sequential and Functional "
            "Keras models can be traced (subclassed models have no inspectable graph)")
    try:
        outputs, inputs = list(model.outputs), list(model.inputs)
    except (AttributeError, ValueError):
        raise UnsupportedModelError(f"model '{model.name}' is not built: give it an Input shape") from None
    if len(inputs) != 1 or len(outputs) != 1:
        raise UnsupportedModelError(f"model '{model.name}' has {len(inputs)} inputs and {len(outputs)} outputs; "
                                    "exactly one of each is supported")
    steps: dict[int, Step] = {}
    order: list[int] = []
    state: dict[int, str] = {}

    def visit(t: Any) -> None:
        key = id(t)
        if state.get(key) == "done":
            return
        if state.get(key) == "open":
            raise UnsupportedModelError(f"model '{model.name}': cycle at tensor {t.name}")
        state[key] = "open"
        layer, node_index, _ = t._keras_history
        if isinstance(layer, (keras.Model,)):
            raise UnsupportedModelError(f"layer '{layer.name}' is a nested model ({type(layer).__name__}); "
                                        "flatten it into one Functional model")
        calls = [n for n in layer._inbound_nodes if any(id(o) in _model_tensor_ids for o in n.output_tensors)]
        if len(calls) > 1:
            raise UnsupportedModelError(f"layer '{layer.name}' is called {len(calls)} times (shared weights "
                                        "between two places of the graph are not supported)")
        node = layer._inbound_nodes[node_index]
        if len(node.output_tensors) != 1:
            raise UnsupportedModelError(f"layer '{layer.name}' has {len(node.output_tensors)} outputs; "
                                        "one is supported")
        for src in node.input_tensors:
            visit(src)
        steps[key] = Step(layer, tuple(id(s) for s in node.input_tensors), key,
                          tuple(tuple(s.shape) for s in node.input_tensors), tuple(t.shape))
        order.append(key)
        state[key] = "done"

    # Tensors of this model only (a layer may also have been called elsewhere, e.g. when built by another model).
    _model_tensor_ids = _reachable(outputs)
    for o in outputs:
        visit(o)
    return [steps[k] for k in order], [id(i) for i in inputs], [id(o) for o in outputs]


def _reachable(outputs: list[Any]) -> set[int]:
    seen: set[int] = set()
    stack = list(outputs)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        layer, node_index, _ = t._keras_history
        stack.extend(layer._inbound_nodes[node_index].input_tensors)
    return seen
