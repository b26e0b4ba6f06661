"""Numba Monte Carlo of the idealised mechanisms (docs/design.md, ``simulate/``).

* :func:`simulate_lottery` -- lucky neurons of s-sparse initialisation (checks theory.lottery);
* :func:`simulate_gradient` -- population (enumerated) and m-sample gradients of one sparse
  neuron, its selection gap, and P(its gradient selects S) (checks theory.fourier_gaps);
* :func:`simulate_onestep` -- P(some neuron of r selects S after one gradient step on m
  samples) over a grid of (r, m): the simulated frontier.

Every estimate is an :class:`~simulate.estimates.Estimate` (value, standard error, 95%
interval; Wilson for proportions). Trials draw from counter-seeded SplitMix64 streams
(:mod:`simulate._rng`), so a seed gives the same numbers for any thread count. This package may
import :mod:`theory` and nothing above it.
"""

from parity_frontiers.lazy import lazy_exports

# estimates does not compile or load the Numba kernels.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "Estimate": "estimates", "ExactMean": "estimates", "mean_estimate": "estimates",
    "proportion_estimate": "estimates",
    "population_gradient": "gradients", "simulate_gradient": "gradients",
    "simulate_lottery": "lottery", "simulate_onestep": "onestep",
    "simulate_sq_visible": "sq", "simulate_sq_guess": "sq", "simulate_sq_noisy_gd": "sq",
    "gradient_fourier_sup_norms": "sq", "guess_success_probability": "sq",
    "parseval_visible_bound": "sq", "draw_init_network": "sq",
})
