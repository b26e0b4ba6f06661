"""Training of real MLPs on sparse parity: the only part of the toolkit that imports torch.

* :mod:`.registry` -- the extension points: activations, init laws and losses (torch-free);
* :mod:`.data` -- sparse-parity data, bit-packed, from per-run seeded streams;
* :mod:`.model` -- stacked MLP parameters, their initialisation, the reference forward pass;
* :mod:`.memory` -- the memory estimate of an ensemble and its evaluation points (torch-free);
* :mod:`.step` -- the fused hand-written SGD step of a whole ensemble;
* :mod:`.evaluation` -- error counts on the test and training sets;
* :mod:`.ensemble`, :mod:`.trainer` -- :func:`train_ensemble`, many runs at once as batched
  matmuls, with per-run early stopping and divergence isolation;
* :mod:`.device` -- devices and the default memory cap.
* :mod:`.classifier` -- the torch engine of the tabular proxy's scikit-learn classifier.

Planning code (grids, stores, executors) imports only the torch-free modules unless it trains.
"""

from parity_frontiers.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "train_ensemble": "trainer", "resolve_device": "device",
    "max_ensemble_size": "memory", "estimate_ensemble_bytes": "memory",
})
