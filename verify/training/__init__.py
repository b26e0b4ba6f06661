"""Training of real MLPs on sparse parity: the only part of the toolkit that imports torch.

* :mod:`.data` -- sparse-parity data, bit-packed, from per-run seeded streams;
* :mod:`.model` -- stacked MLP parameters and their initialisation laws;
* :mod:`.trainer` -- :func:`train_ensemble`, many runs at once as batched matmuls, with
  per-run early stopping and divergence isolation, and the device and memory policy.

Planning code (grids, stores, executors) imports this package's modules only where it trains.
"""

from parity_frontiers.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "train_ensemble": "trainer", "resolve_device": "trainer",
    "max_ensemble_size": "trainer", "estimate_ensemble_bytes": "trainer",
})
