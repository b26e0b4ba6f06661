"""Torch training of real MLPs on sparse parity (DESIGN.md, ``verify/``).

* :mod:`verify.config` -- :class:`RunConfig` (everything that determines a run, hashed into the
  store key) and :class:`RunResult`;
* :mod:`verify.data` -- sparse-parity data, bit-packed, from per-run seeded streams;
* :mod:`verify.model` -- stacked ReLU MLP parameters, dense or s-sparse initialisation;
* :mod:`verify.trainer` -- :func:`train_ensemble`, many runs at once as batched matmuls, with
  per-run early stopping and divergence isolation;
* :mod:`verify.store` -- :class:`ResultsStore`, a crash-safe SQLite (WAL) table of runs;
* :mod:`verify.sweep` -- grids from options or TOML, and :func:`run_sweep`, resumable.

This package may import :mod:`simulate` and :mod:`theory`, nothing above them.
"""

from .config import RunConfig, RunResult
from .store import ResultsStore, export, load_dataframe
from .sweep import build_grid, grid_from_toml, run_sweep
from .trainer import train_ensemble

__all__ = ["RunConfig", "RunResult", "ResultsStore", "export", "load_dataframe", "build_grid",
           "grid_from_toml", "run_sweep", "train_ensemble"]
