r"""Executors that answer without training: for planning and testing search designs.

:class:`LogisticOracle`
    Each run succeeds with a known probability
    :math:`P(m) = \operatorname{expit}(\beta_0 + \beta_1 \log_{10} m)` per curve, drawn from
    a seeded generator keyed by the run's curve, its seed and (unless ``nested``) m, so a run
    has the same outcome however often it is asked for. With the truth known, a frontier
    search's interval can be checked for coverage and its run count measured before any GPU
    time is spent.
:class:`ReplayExecutor`
    Answers from stored runs, by key; asking for a run it does not hold is an error. A search
    resumed from a finished store asks for nothing (tested). It cannot replay a search on a
    grid: the search gives each run of a curve its own seed, while a grid reuses seeds 0..N-1
    at every size.

Both follow :class:`verify.executors.Executor`: ``on_result`` once per run key, in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import replace

import numpy as np
from scipy import special

from parity_frontiers.verify.config import RunConfig, RunResult
from parity_frontiers.verify.experiments.handoff import Executor, ResultHandoff

__all__ = ["LogisticOracle", "ReplayExecutor"]


def _report(results: list[RunResult], on_result, bar) -> list[RunResult]:
    handoff = ResultHandoff(on_result, bar)
    for result in results:
        handoff(result)
    return list(handoff.results.values())


class LogisticOracle(Executor):
    r"""Runs succeed with probability :math:`\operatorname{expit}(\beta_0 + \beta_1 \log_{10} m)`.

    Parameters
    ----------
    curve_model : callable
        ``curve_model(config) -> (intercept, slope)`` in log10 m for the run's curve; online
        runs (m = None) are refused.
    seed : int
        Seeds the outcomes together with each run's curve, its own seed and (unless
        ``nested``) m.
    nested : bool
        Model real training, where one seed at two sizes is nearly the same run (same S, init,
        minibatches, and nested training sets): one uniform per (curve, seed), and the run
        succeeds when it is below P(m). Outcomes of one seed are then monotone in m and fully
        dependent; the marginal P(m) is unchanged. Default False: independent draws per m.

    Attributes
    ----------
    calls : int
        Runs answered so far (repeats counted once per call).

    Examples
    --------
    >>> oracle = LogisticOracle(lambda config: (-6.0, 2.0))   # m* = 10**3
    >>> configs = [RunConfig(n=30, k=3, width=16, samples=10**6, seed=s) for s in range(50)]
    >>> sum(r.success for r in oracle.train(configs))         # P(m = 1e6) = expit(6)
    50
    """

    name = "logistic-oracle"

    def __init__(self, curve_model: Callable[[RunConfig], tuple[float, float]], seed: int = 0,
                 nested: bool = False):
        self.curve_model = curve_model
        self.seed = int(seed)
        self.nested = bool(nested)
        self.calls = 0

    def probability(self, config: RunConfig) -> float:
        """The success probability of ``config``'s run."""
        if config.samples is None:
            raise ValueError("the logistic oracle models offline runs only (samples = m)")
        intercept, slope = self.curve_model(config)
        return float(special.expit(intercept + slope * math.log10(config.samples)))

    def train(self, configs, on_result=None, progress=True, _bar=None):
        results = []
        for config in configs:
            # the curve's digest keeps different curves' draws independent
            curve = int(replace(config, samples=None, seed=0).shape_key()[:15], 16)
            key = [self.seed, curve, config.seed] + ([] if self.nested else [config.samples])
            uniform = np.random.default_rng(key).random()
            success = bool(uniform < self.probability(config))
            results.append(RunResult(config, success, config.max_steps // 2 if success else None,
                                     0.0 if success else 0.5, 0.0,
                                     "success" if success else "max_steps",
                                     config.max_steps // 2 if success else config.max_steps))
        self.calls += len(results)
        return _report(results, on_result, _bar)


class ReplayExecutor(Executor):
    """Answers each run from ``results`` (by :meth:`RunConfig.key`); unknown runs are an error.

    Attributes
    ----------
    asked : set of str
        Keys of every run asked for so far.
    """

    name = "replay"

    def __init__(self, results: Iterable[RunResult]):
        self.results = {result.config.key(): result for result in results}
        self.asked: set[str] = set()

    def available(self, config: RunConfig) -> bool:
        return config.key() in self.results

    def train(self, configs, on_result=None, progress=True, _bar=None):
        missing = [c for c in configs if c.key() not in self.results]
        if missing:
            c = missing[0]
            raise ValueError(f"replay holds no run for n={c.n}, width={c.width}, m={c.samples}, "
                             f"seed={c.seed} ({len(missing)} run(s) missing)")
        self.asked.update(c.key() for c in configs)
        return _report([self.results[c.key()] for c in configs], on_result, _bar)
