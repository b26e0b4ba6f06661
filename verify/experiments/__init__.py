"""Experiments: which runs to train, where to train them, and where their results live.

* :mod:`.sweep` -- grids from options or TOML, and :func:`run_sweep`, resumable;
* :mod:`.store` -- :class:`ResultsStore`, a crash-safe SQLite (WAL) table of runs and their
  learning curves; :mod:`.export` -- DataFrames and files of runs and curves;
  :mod:`.where` -- ``--where`` run filters;
* :mod:`.executors` / :mod:`.distributed` -- the local executor and Dask distributed;
  :mod:`.oracles` answers without training, for planning and testing designs;
* :mod:`.frontier_search` -- the adaptive search for m*(r);
* :mod:`.lottery_ticket` -- prune, rewind and retrain;
* :mod:`.tabular` -- the tabular proxy (a scikit-learn estimator against random forests).
"""

from parity_frontiers.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "ResultsStore": "store", "export": "export", "load_dataframe": "export",
    "load_curves": "export", "export_curves": "export", "parse_where": "where",
    "build_grid": "grid", "grid_from_toml": "grid", "run_sweep": "sweep",
    "search_frontiers": "frontier_search", "SearchSettings": "frontier_search",
    "curve_templates": "frontier_search", "make_executor": "executors",
})
