"""parity-frontiers: theory, Monte Carlo and training of the Pareto frontiers of sparse parity.

The toolkit installs as this one namespace:

* :mod:`parity_frontiers.theory` -- exact and symbolic formulas (no randomness);
* :mod:`parity_frontiers.simulate` -- Numba Monte Carlo of the idealised mechanisms;
* :mod:`parity_frontiers.verify` -- torch training of real MLPs, experiments, analysis;
* :mod:`parity_frontiers.figures` -- theory-vs-experiment figures and reports;
* :mod:`parity_frontiers.cli` -- the ``parity-frontiers`` command (``python -m
  parity_frontiers``), which nothing in the toolkit imports.

See docs/design.md for the layers and docs/theory.md for the formulas.
"""

__version__ = "0.1.0"
