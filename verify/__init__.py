"""Torch training of real MLPs on sparse parity (DESIGN.md, ``verify/``).

* :mod:`verify.config` -- :class:`RunConfig` (everything that determines a run, hashed into the
  store key) and :class:`RunResult`;
* :mod:`verify.data` -- sparse-parity data, bit-packed, from per-run seeded streams;
* :mod:`verify.model` -- stacked ReLU MLP parameters, dense or s-sparse initialisation;
* :mod:`verify.trainer` -- :func:`train_ensemble`, many runs at once as batched matmuls, with
  per-run early stopping and divergence isolation;
* :mod:`verify.store` -- :class:`ResultsStore`, a crash-safe SQLite (WAL) table of runs;
* :mod:`verify.sweep` -- grids from options or TOML, and :func:`run_sweep`, resumable;
* :mod:`verify.analysis` -- success rates, Kaplan-Meier steps, the fitted frontier m*(r) and
  its power law in the width;
* :mod:`verify.predict` -- SQ check, one-step and Theorem 4/5 predictions on a sweep's grid;
* :mod:`verify.lottery_ticket` -- prune, rewind and retrain (the paper's Figure 5), winners'
  supports vs theory's overlap law;
* :mod:`verify.frontier_search` -- :func:`search_frontiers`, the adaptive search for m*(r)
  (far fewer runs than a grid), resumable from the store;
* :mod:`verify.executors` -- where runs are trained: :func:`make_executor` (local, or Dask
  through :mod:`verify.distributed`); :mod:`verify.oracles` answers without training (a known
  logistic curve, or replayed runs) for planning and testing designs.

This package may import :mod:`simulate` and :mod:`theory`, nothing above them.
"""

import importlib

# Exported names and their modules; imported on first use (PEP 562), so that the console
# command does not pay for torch when it only evaluates a bound.
_EXPORTS = {
    "RunConfig": "config", "RunResult": "config",
    "ResultsStore": "store", "export": "store", "load_dataframe": "store",
    "build_grid": "sweep", "grid_from_toml": "sweep", "run_sweep": "sweep",
    "train_ensemble": "trainer",
    "search_frontiers": "frontier_search", "SearchSettings": "frontier_search",
    "curve_templates": "frontier_search", "make_executor": "executors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
