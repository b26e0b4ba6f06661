"""Model specs of the tabular benchmark, and the memory an MLP's fit needs.

A model is written as a string (:func:`parse_model`): ``rf`` (the tuned forest of
:mod:`verify.tabular.forest`), ``mlp:W`` (dense init), ``mlp:W1xW2:s=S`` (depth 2, s-sparse
first layer), ... :func:`check_mlp_memory` refuses an MLP whose fit would not fit in memory
(:func:`estimate_mlp_bytes` against the device's default cap and what is free now), before
:func:`verify.tabular.benchmark.run_benchmark` trains anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["ModelSpec", "parse_model", "DEFAULT_MLP_SETTINGS", "DEFAULT_MODELS",
           "estimate_mlp_bytes", "check_mlp_memory"]

#: Training settings shared by every MLP of a benchmark (part of each result's key). Adam at
#: 1e-2: on ``sparse_parity`` (2250 training rows, width 256) Adam at 1e-3 stopped on the
#: initial loss plateau at chance (test error 0.47-0.49), at 1e-2 it reached 0.22-0.26
#: (measured here, one seed). Patience counts *optimiser steps* (500) and no run stops before
#: 2000 steps (``min_steps``, which also lengthens training on sets too small for 2000 steps
#: in 200 epochs): the earlier patience of 20 *epochs* stopped sparse_parity runs after about
#: 100 Adam steps, still on the initial plateau (best epoch mostly 1), an artefact of the
#: stopping rule rather than of the model.
DEFAULT_MLP_SETTINGS = {"optimizer": "adam", "learning_rate": 1e-2, "batch_size": 128,
                        "max_epochs": 200, "patience": 500, "min_steps": 2000,
                        "weight_decay": 0.0, "validation_fraction": 0.1}
DEFAULT_MODELS = ("rf", "mlp:256", "mlp:256:s=2")


@dataclass(frozen=True)
class ModelSpec:
    """One model of a benchmark: the tuned forest, or an MLP (widths, init, s, settings)."""

    kind: str
    hidden: tuple[int, ...] = ()
    s: int | None = None
    settings: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short name for tables and legends, e.g. ``rf``, ``mlp 256``, ``mlp 256x64 s=2``."""
        if self.kind == "rf":
            return "rf"
        widths = "x".join(str(w) for w in self.hidden)
        return f"mlp {widths}" + (f" s={self.s}" if self.s is not None else "")

    def as_dict(self) -> dict:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    def build(self, random_state: int, device: str = "auto"):
        """The unfitted MLP estimator of this spec (MLPs only)."""
        from parity_frontiers.verify.experiments.tabular.estimator import SparseInitMLPClassifier

        return SparseInitMLPClassifier(
            hidden_layer_sizes=self.hidden, init="dense" if self.s is None else "sparse",
            s=self.s if self.s is not None else 2, random_state=random_state, device=device,
            **self.settings)


def parse_model(text: str, mlp_settings: dict | None = None, forest_trees: int = 100,
                ) -> ModelSpec:
    """A model spec from ``rf``, ``mlp:W[xW...]`` (dense) or ``mlp:W[xW...]:s=S`` (sparse).

    Examples
    --------
    >>> parse_model("mlp:256x64:s=2").label
    'mlp 256x64 s=2'
    >>> parse_model("rf").settings
    {'n_estimators': 100, 'grid': {'max_features': ['sqrt', 1.0], 'min_samples_leaf': [1, 5]}}
    """
    from parity_frontiers.verify.experiments.tabular.forest import FOREST_GRID

    bad = (f"model must be 'rf', 'mlp:WIDTH[xWIDTH...]' or 'mlp:WIDTH[xWIDTH...]:s=S', got "
           f"{text!r}")
    if text in ("rf", "forest"):
        return ModelSpec("rf", settings={"n_estimators": int(forest_trees),
                                         "grid": FOREST_GRID})
    parts = text.split(":")
    if parts[0] != "mlp" or len(parts) not in (2, 3):
        raise ValueError(bad)
    try:
        hidden = tuple(int(float(w)) for w in parts[1].lower().split("x"))
    except (ValueError, OverflowError):  # "mlp:abc", "mlp:1e400", "mlp:nan"
        raise ValueError(bad) from None
    if not hidden or any(w < 1 for w in hidden):
        raise ValueError(bad)
    s = None
    if len(parts) == 3:
        if not parts[2].startswith("s="):
            raise ValueError(bad)
        try:
            s = int(parts[2][2:])
        except ValueError:
            raise ValueError(bad) from None
        if s < 1:
            raise ValueError(f"the sparse support s must be >= 1, got {text!r}")
    settings = dict(DEFAULT_MLP_SETTINGS)
    unknown = set(mlp_settings or {}) - set(settings)
    if unknown:
        raise ValueError(f"unknown MLP settings {sorted(unknown)}; known: {sorted(settings)}")
    settings.update(mlp_settings or {})
    return ModelSpec("mlp", hidden, s, settings)


def estimate_mlp_bytes(hidden: Sequence[int], n_features: int, n_classes: int, n_rows: int,
                       batch_size: int = 128, validation_fraction: float = 0.1) -> int:
    """Estimated peak memory (bytes) of fitting and scoring one MLP of the benchmark.

    With P parameters: float32 weights, gradients, two Adam moments, the best-epoch copy and
    the initial weights kept for rewinding (24 P), the float64 copy used to predict (8 P) and
    its float32 arrays (8 P); the standardised data (float64 and float32 copies, 12 bytes per
    value) and the validation forward pass (its rows through the widest layer, twice), a
    minibatch's activations and gradients (3 x 4 bytes per unit), the prediction chunks (2 x
    64 MiB); plus 15% and 16 MiB of slack, as the trainer's estimate
    (:func:`verify.training.trainer.estimate_ensemble_bytes`).
    """
    widths = [int(n_features), *(int(h) for h in hidden), int(n_classes)]
    params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=False))
    widest = max(widths)
    validation = math.ceil(validation_fraction * n_rows)
    total = (40 * params + 12 * n_rows * n_features + 2 * 4 * validation * widest
             + 12 * min(batch_size, n_rows) * sum(widths) + 2 * 64 * 2**20)
    return int(1.15 * total) + 16 * 2**20


def check_mlp_memory(spec: ModelSpec, data, device: str = "auto") -> None:
    """Refuse (ValueError, naming both numbers) an MLP whose fit needs more memory than the
    device's default cap or than is available now (:mod:`verify.experiments.limits`)."""
    from parity_frontiers.verify.experiments.limits import check_memory_fits

    kind = "cpu"
    if device in ("cuda", "auto"):
        import sys

        torch = sys.modules.get("torch")
        if device == "cuda" or (torch is not None and torch.cuda.is_available()):
            kind = "cuda"
    if kind == "cpu":
        from parity_frontiers.verify.training.device import DEFAULT_CPU_MEMORY_CAP_BYTES as cap
    else:
        from parity_frontiers.verify.training.device import default_memory_cap

        cap = default_memory_cap(kind)
    settings = {**DEFAULT_MLP_SETTINGS, **spec.settings}
    labels = len(np.unique(data.y))
    estimate = estimate_mlp_bytes(spec.hidden, data.X.shape[1], labels, len(data.y),
                                  int(settings["batch_size"]),
                                  float(settings["validation_fraction"] or 0.0))
    check_memory_fits(estimate, cap, f"fitting {spec.label} on {data.name} "
                                     f"({len(data.y)} rows, {data.X.shape[1]} features)", kind,
                      cap_name=f"the default cap of one fit on the {kind.upper()}")
