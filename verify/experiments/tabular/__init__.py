"""The tabular proxy of the paper (docs/theory.md §5): wide sparse-init MLPs
against random forests on small training sets.

* :mod:`verify.tabular.estimator` -- :class:`SparseInitMLPClassifier`, scikit-learn compatible;
* :mod:`verify.tabular.datasets` -- offline (scikit-learn, synthetic) and cached OpenML
  datasets, stratified splits and training fractions;
* :mod:`verify.tabular.forest` -- the random-forest baseline and its tuning grid;
* :mod:`verify.tabular.benchmark` -- :func:`run_benchmark` into the ``tabular_runs`` table of a
  results store (:mod:`verify.tabular.results`: the table and :func:`summarize`;
  :mod:`verify.tabular.models`: model specs and the memory an MLP's fit needs).

Needs scikit-learn (the ``[tabular]`` extra); names are imported on first use (PEP 562), so
``import verify.tabular`` itself costs nothing.
"""

from parity_frontiers.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "SparseInitMLPClassifier": "estimator",
    "load_dataset": "datasets", "dataset_names": "datasets", "resolve_names": "datasets",
    "make_sparse_parity": "datasets", "make_axis_rule": "datasets",
    "fit_forest": "forest", "FOREST_GRID": "forest",
    "run_benchmark": "benchmark", "summarize": "results", "TabularStore": "results",
    "parse_model": "models",
})
