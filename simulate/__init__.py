"""Numba Monte Carlo of the idealised mechanisms (DESIGN.md, ``simulate/``).

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

from .estimates import Estimate, ExactMean, mean_estimate, proportion_estimate
from .gradients import population_gradient, simulate_gradient
from .lottery import simulate_lottery
from .onestep import simulate_onestep

__all__ = ["Estimate", "ExactMean", "mean_estimate", "proportion_estimate",
           "population_gradient", "simulate_gradient", "simulate_lottery", "simulate_onestep"]
