"""One training run's full configuration and its outcome.

A :class:`RunConfig` names everything that determines a run (problem, model, optimiser, budget
and seed), so its :meth:`RunConfig.key` -- a SHA-256 of the canonical JSON of its fields --
identifies the run in the results store: the same config and seed is the same row, and a resumed
sweep skips it. :meth:`RunConfig.shape_key` drops the fields that may differ inside one
ensemble (the seed), so runs that share it can be trained together as stacked parameters.

Key stability: a field added after the store's first schema (:data:`KEY_OPTIONAL_DEFAULTS`:
``activation``) enters the hashed JSON only when it differs from the value every earlier run
had, so the key of every config that could be written before the field existed is unchanged
(tests pin keys computed before it was added).

The values of ``init``, ``activation`` and ``loss`` are the names of
:mod:`~parity_frontiers.verify.training.registry` (torch-free to import): ``INITS``,
``ACTIVATIONS`` and ``LOSSES`` below are its names when this module was imported.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from numbers import Real

import numpy as np

from parity_frontiers.theory.checks import check_int, check_subset_size
from parity_frontiers.verify.training.registry import (
    ACTIVATION_REGISTRY,
    DEFAULT_ACTIVATION,
    INIT_REGISTRY,
    LOSS_REGISTRY,
    get_activation,
    get_init,
    get_loss,
)

__all__ = ["RunConfig", "RunResult", "RunTrace", "END_REASONS", "INITS", "ACTIVATIONS", "LOSSES",
           "SPARSE_INITS", "KEY_OPTIONAL_DEFAULTS", "group_by_shape", "unique_configs"]

#: Registered names (snapshots at import; validation reads the registries themselves).
INITS = tuple(INIT_REGISTRY)
SPARSE_INITS = tuple(name for name, law in INIT_REGISTRY.items() if law.sparse)
ACTIVATIONS = tuple(ACTIVATION_REGISTRY)
LOSSES = tuple(LOSS_REGISTRY)
#: Fields added after the first store schema, with the value every earlier run had: they are
#: hashed into :meth:`RunConfig.key` only when they differ from it (module docstring).
KEY_OPTIONAL_DEFAULTS = {"activation": DEFAULT_ACTIVATION}
END_REASONS = ("success", "max_steps", "diverged")

#: Seeds are stored as SQLite INTEGERs (signed 64-bit).
MAX_SEED = 2**63
#: Step budgets beyond float64's exact integers are refused.
MAX_STEPS = 2**53
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class RunConfig:
    """Configuration of one training run on (n, k)-sparse parity.

    Parameters
    ----------
    n, k : int
        Input dimension and parity degree, 1 <= k <= n. The hidden parity set S is drawn from
        the seed.
    width : int
        Hidden width r of each hidden layer.
    samples : int or None
        Training-set size m (offline), or None for online (fresh samples every step).
    init : {"dense", "sparse", "sparse-gaussian"}
        First-layer init law (:data:`~parity_frontiers.verify.training.registry.INIT_REGISTRY`):
        PyTorch's default, or an s-sparse one (uniform or Gaussian values on the support).
    s : int or None
        Support size of a sparse init (required for, and only for, a sparse ``init``).
    depth : int
        Number of hidden layers (2-layer MLP = depth 1).
    seed : int
        Seeds S, the data, the init and the batch order.
    max_steps, eval_every, batch_size : int
        Step budget T, evaluation period, minibatch size.
    lr, weight_decay : float
        SGD learning rate and weight decay.
    loss : {"hinge", "square", "logistic"}
    test_size : int
        Held-out test set size (1e4 as in the paper).
    success_error : float
        A run succeeds when test error <= this (0.1 as in the paper).
    activation : {"relu", "abs"}
        Hidden-layer nonlinearity (:data:`~parity_frontiers.verify.training.registry.
        ACTIVATION_REGISTRY`); ReLU as in the paper by default.
    """

    n: int
    k: int
    width: int
    samples: int | None = None
    init: str = "dense"
    s: int | None = None
    depth: int = 1
    seed: int = 0
    max_steps: int = 20_000
    eval_every: int = 100
    batch_size: int = 32
    lr: float = 0.1
    weight_decay: float = 0.01
    loss: str = "hinge"
    test_size: int = 10_000
    success_error: float = 0.1
    # Fields added later go last (positional construction keeps its meaning) and into
    # KEY_OPTIONAL_DEFAULTS (keys of earlier configs keep theirs).
    activation: str = DEFAULT_ACTIVATION

    def __post_init__(self):
        # Normalise types first (numpy ints, int learning rates): equal configs must hash to
        # the same store key, and lr=1 and lr=1.0 are the same run.
        for name in ("n", "k", "width", "depth", "max_steps", "eval_every", "batch_size",
                     "test_size"):
            self._set(name, check_int(name, getattr(self, name), 1, strict=True))
        self._set("seed", check_int("seed", self.seed, 0, strict=True))
        if self.seed >= MAX_SEED:
            raise ValueError(f"seed must be < 2**63 (the store's integer range), got {self.seed}")
        if self.max_steps > MAX_STEPS:
            raise ValueError(f"max_steps must be <= 2**53, got {self.max_steps}")
        check_subset_size("k", self.k, self.n)
        if self.samples is not None:
            self._set("samples", check_int("samples", self.samples, 1, strict=True))
        if get_init(self.init).sparse:
            if self.s is None:
                raise ValueError(f"{self.init} init needs s (the support size of each neuron)")
            self._set("s", check_int("s", self.s, 1, strict=True))
            check_subset_size("s", self.s, self.n)
        elif self.s is not None:
            sparse = " or ".join(f"init={name!r}" for name, law in INIT_REGISTRY.items()
                                 if law.sparse)
            raise ValueError(f"s is only meaningful with {sparse}, not init={self.init!r}")
        get_activation(self.activation)
        for name in ("lr", "weight_decay", "success_error"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
            self._set(name, float(value))
        if self.lr == 0:
            raise ValueError(f"lr must be > 0, got {self.lr:g}")
        # The SGD update runs in float32 with alpha = -lr and beta = 1 - lr * weight_decay.
        if self.lr > FLOAT32_MAX or self.lr * self.weight_decay > FLOAT32_MAX:
            raise ValueError(f"lr and lr * weight_decay must be <= {FLOAT32_MAX:.4g} (float32), "
                             f"got lr={self.lr:g}, weight_decay={self.weight_decay:g}")
        if self.success_error >= 1:
            raise ValueError(f"success_error must be in [0, 1) (a test error), got "
                             f"{self.success_error:g}")
        get_loss(self.loss)

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)  # the dataclass is frozen

    def as_dict(self) -> dict:
        return asdict(self)

    def key(self) -> str:
        """SHA-256 hex digest of the canonical JSON of the fields (the store's primary key).

        Every field is hashed, except a field of :data:`KEY_OPTIONAL_DEFAULTS` at its default
        (added after the first store schema: the keys of earlier configs do not change).
        """
        return self._cached("_key", lambda: _digest(self._hashed()))

    def shape_key(self) -> str:
        """Digest as :meth:`key`'s without the seed: runs sharing it can form one ensemble."""
        return self._cached("_shape_key", lambda: _digest(
            {k: v for k, v in self._hashed().items() if k != "seed"}))

    def ensemble_key(self) -> str:
        """Digest of the settings an ensemble's runs must share to be trained together.

        Every field but the per-run ones (k, samples, init, s and seed), plus whether the run
        is online (``samples is None``): runs that share it have the same tensor shapes and
        training settings, whatever their parity set, training set, init law or seed. Online
        and offline runs draw their minibatches differently (fresh samples vs indices into a
        training set), so they never share an ensemble. Not stored: it may change between
        versions.
        """
        per_run = ("k", "samples", "init", "s", "seed")
        return self._cached("_ensemble_key", lambda: _digest(
            {**{k: v for k, v in self._hashed().items() if k not in per_run},
             "online": self.samples is None}))

    def _hashed(self) -> dict:
        fields_ = self.as_dict()
        for name, default in KEY_OPTIONAL_DEFAULTS.items():
            if fields_[name] == default:
                del fields_[name]
        return fields_

    def _cached(self, name: str, compute):
        # A config is immutable, and sweeps, stores and executors ask for its digests many
        # times (about 20 us each): compute each once per object. Not a field, so equality,
        # repr and as_dict are unchanged.
        value = self.__dict__.get(name)
        if value is None:
            value = compute()
            object.__setattr__(self, name, value)
        return value

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Inverse of :meth:`as_dict`; unknown keys are an error, missing ones take defaults."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown run config field(s): {', '.join(unknown)}")
        return cls(**data)


def _digest(payload: dict) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class RunTrace:
    """A run's learning curve: one entry per evaluation point it reached.

    ``steps`` (int64, increasing), ``test_error`` (float64), ``test_samples`` (int64: how many
    test samples the error was counted on; fewer than ``test_size`` when the count stopped
    early because the decision was already certain, the error then being the fraction on the
    samples counted) and ``train_error`` (float64, NaN where not measured).
    """

    steps: np.ndarray
    test_error: np.ndarray
    test_samples: np.ndarray
    train_error: np.ndarray

    def __post_init__(self):
        arrays = {name: np.asarray(getattr(self, name)) for name in
                  ("steps", "test_error", "test_samples", "train_error")}
        lengths = {a.shape for a in arrays.values()}
        if len(lengths) != 1 or any(a.ndim != 1 for a in arrays.values()):
            raise ValueError("a RunTrace's arrays must be 1-D and of one length, got shapes "
                             + ", ".join(f"{k} {a.shape}" for k, a in arrays.items()))
        for name, dtype in (("steps", np.int64), ("test_error", np.float64),
                            ("test_samples", np.int64), ("train_error", np.float64)):
            object.__setattr__(self, name, arrays[name].astype(dtype, copy=False))

    def __len__(self) -> int:
        return len(self.steps)

    def __eq__(self, other) -> bool:
        # Element-wise: NaN train errors (not measured) compare equal to NaN.
        if not isinstance(other, RunTrace):
            return NotImplemented
        return all(np.array_equal(getattr(self, name), getattr(other, name), equal_nan=True)
                   for name in ("steps", "test_error", "test_samples", "train_error"))

    __hash__ = None


@dataclass
class RunResult:
    """Outcome of one run.

    ``steps_to_success`` is the first evaluation step at which test error <= success_error
    (None if never); ``end_reason`` is one of ``END_REASONS``; ``steps_run`` is how many SGD
    steps the run took before it stopped (early stopping at success). ``wall_seconds`` is the
    time from its ensemble's start to the run's end (shared compute: these do not add up);
    ``compute_seconds`` is the run's share of that compute (each window's time divided among
    the runs active in it; None where not measured); ``trace`` its learning curve.
    """

    config: RunConfig
    success: bool
    steps_to_success: int | None
    test_error: float
    train_error: float
    end_reason: str
    steps_run: int
    wall_seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    compute_seconds: float | None = None
    trace: RunTrace | None = None

    def __post_init__(self):
        if self.end_reason not in END_REASONS:
            raise ValueError(f"end_reason must be one of {END_REASONS}, got {self.end_reason!r}")

    def summary(self) -> dict:
        """The per-run JSON object of ``train --json``."""
        return {"seed": self.config.seed, "success": self.success,
                "steps_to_success": self.steps_to_success, "test_error": self.test_error,
                "train_error": self.train_error, "end_reason": self.end_reason}


def group_by_shape(items: Iterable, config_of=lambda item: item) -> list[list]:
    """Items (configs, or results with ``config_of``) grouped by shape key, first-seen order."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(config_of(item).shape_key(), []).append(item)
    return list(groups.values())


def unique_configs(configs: Iterable[RunConfig]) -> list[RunConfig]:
    """``configs`` without repeated keys, in first-seen order; anything else is a ValueError."""
    seen, out = set(), []
    for config in configs:
        if not isinstance(config, RunConfig):
            raise ValueError(f"expected RunConfig objects, got {type(config).__name__}")
        key = config.key()
        if key not in seen:
            seen.add(key)
            out.append(config)
    return out
