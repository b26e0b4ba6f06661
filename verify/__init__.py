"""Torch training of real MLPs and the experiments and analysis around it (docs/design.md).

* :mod:`.config` -- :class:`RunConfig` (everything that determines a run, hashed into the
  store key) and :class:`RunResult`: the record that every part below shares;
* :mod:`.training` -- data, model, the fused SGD step and :func:`train_ensemble`; the only
  torch importers;
* :mod:`.experiments` -- grids, sweeps, the results store, executors (local, Dask), the
  adaptive frontier search, the lottery-ticket and tabular experiments;
* :mod:`.analysis` -- summaries, Kaplan-Meier, Firth/Fieller frontiers, power laws,
  predictions and findings.

This package may import :mod:`parity_frontiers.simulate` and :mod:`parity_frontiers.theory`.
"""

from parity_frontiers.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "RunConfig": "config", "RunResult": "config", "RunTrace": "config",
    "ResultsStore": "experiments.store", "export": "experiments.export",
    "load_dataframe": "experiments.export", "load_curves": "experiments.export",
    "build_grid": "experiments.grid", "grid_from_toml": "experiments.grid",
    "run_sweep": "experiments.sweep",
    "train_ensemble": "training.trainer",
    "search_frontiers": "experiments.frontier_search",
    "SearchSettings": "experiments.frontier_search",
    "curve_templates": "experiments.frontier_search",
    "make_executor": "experiments.executors",
})
