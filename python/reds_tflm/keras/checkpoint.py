"""Resumable training state: model weights, optimizer variables and a small JSON of where training stands.

Everything is written to temporary names and renamed, so an interrupted save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RedsError


class Checkpoint:
    def __init__(self, directory: str | os.PathLike | None) -> None:
        self.dir = Path(directory) if directory is not None else None

    @property
    def enabled(self) -> bool:
        return self.dir is not None

    def load_state(self) -> dict[str, Any] | None:
        if self.dir is None or not (self.dir / "state.json").exists():
            return None
        try:
            return json.loads((self.dir / "state.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RedsError(f"{self.dir / 'state.json'}: unreadable checkpoint state ({exc})") from None

    def save(self, state: dict[str, Any], model: Any, optimizer: Any | None = None) -> None:
        if self.dir is None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_weights(model, "model.weights.h5")
        opt_path = self.dir / "optimizer.npz"
        if optimizer is not None:
            with open(self.dir / "tmp-opt.npz", "wb") as f:
                np.savez(f, *[np.asarray(v.numpy()) for v in optimizer.variables])
            os.replace(self.dir / "tmp-opt.npz", opt_path)
        elif opt_path.exists():
            opt_path.unlink()
        self._write_json(state, "state.json")

    def _write_weights(self, model: Any, name: str) -> None:
        model.save_weights(self.dir / f"tmp-{name}")
        os.replace(self.dir / f"tmp-{name}", self.dir / name)

    def _write_json(self, obj: dict[str, Any], name: str) -> None:
        (self.dir / f"tmp-{name}").write_text(json.dumps(obj, indent=1))
        os.replace(self.dir / f"tmp-{name}", self.dir / name)

    def save_pretrained(self, state: dict[str, Any], model: Any) -> None:
        """Keep the pre-trained model apart (pretrained.weights.h5 + pretrained.json): another run can start its
        REDS phases from it (`train(..., init_from=DIR)`) without pre-training again."""
        if self.dir is None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_weights(model, "pretrained.weights.h5")
        self._write_json(state, "pretrained.json")

    def save_teacher(self, model: Any) -> None:
        """The frozen distillation target of a run (teacher.weights.h5)."""
        if self.dir is None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_weights(model, "teacher.weights.h5")

    def require_pretrained(self) -> None:
        """Refuse a directory without a pre-trained snapshot (checked before a run starts, not when it needs it)."""
        if self.dir is None or not (self.dir / "pretrained.json").exists() or \
                not (self.dir / "pretrained.weights.h5").exists():
            raise RedsError(f"{self.dir}: no pre-trained snapshot (pretrained.json + pretrained.weights.h5); it is "
                            "written by a run's checkpoint when its pre-training ends")

    def load_pretrained(self, model: Any) -> dict[str, Any]:
        """The state saved with the pre-trained weights, after loading those weights into `model`."""
        self.require_pretrained()
        try:
            state = json.loads((self.dir / "pretrained.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RedsError(f"{self.dir / 'pretrained.json'}: unreadable ({exc})") from None
        try:
            model.load_weights(self.dir / "pretrained.weights.h5")
        except (ValueError, OSError) as exc:
            raise RedsError(f"{self.dir / 'pretrained.weights.h5'}: does not fit this model ({exc})") from None
        return state

    def load_weights(self, model: Any) -> None:
        if self.dir is None:
            return
        model.load_weights(self.dir / "model.weights.h5")

    def restore_optimizer(self, optimizer: Any) -> bool:
        """Assign saved optimizer variables (the optimizer must be built on the same variables)."""
        path = None if self.dir is None else self.dir / "optimizer.npz"
        if path is None or not path.exists():
            return False
        with np.load(path) as f:
            arrays = [f[f"arr_{i}"] for i in range(len(f.files))]
        if len(arrays) != len(optimizer.variables):
            raise RedsError(f"{path}: {len(arrays)} optimizer variables saved, {len(optimizer.variables)} expected")
        for v, a in zip(optimizer.variables, arrays):
            v.assign(a)
        return True
