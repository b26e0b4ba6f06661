r"""Adaptive frontier search: locate m*(r) with far fewer runs than a full grid.

For one *curve* (fixed n, k, width, init, s and training settings) the frontier m* is the
training-set size where the success probability crosses a target (default 1/2). A full grid
spends the same number of seeds at every m, most of them where success is almost surely 0 or 1
and says nothing about m*. This module instead places runs sequentially on a lattice of sizes
in log m (derived here; the statistics are those of :func:`verify.analysis.fit_frontier`):

1. **Bracketing.** Until some sampled m is below the target and some is above, bisect the
   lattice (by index, i.e. in log m) with a small probe batch: a cell at or above the target
   sends the next probe down, a cell below it sends it up. A lattice end whose Wilson 95%
   interval lies entirely on one side of the target ends the search with ``below_grid`` or
   ``above_grid``.
2. **Model phase.** Fit :math:`\operatorname{logit} P = \beta_0 + \beta_1 \log_{10} m` by Firth
   logistic regression to every run of the curve (:func:`verify.analysis.firth_logistic`), and
   add a batch at the lattice point that most reduces the delta-method variance of
   :math:`\log_{10} m^* = (\operatorname{logit}(t) - \beta_0) / \beta_1` (a greedy sequential
   c-optimal design):

   .. math:: x_{\text{next}} = \arg\min_{x} \; g^\top \bigl(I + b\, p_x (1 - p_x)
             (1, x)^\top (1, x)\bigr)^{-1} g, \qquad g = -\frac{(1, \log_{10} m^*)}{\beta_1},

   with :math:`I` the Fisher information of the runs so far, :math:`p_x` the fitted success
   probability at :math:`x = \log_{10} m` and :math:`b` the batch size.
3. **Stopping.** The search of a curve ends ``converged`` when the fit is inside the sampled
   range and the half-width of the 95% Fieller interval of :math:`\log_{10} m^*`
   (``fit_frontier(..., interval="fieller")``; the delta-method interval undercovers under a
   sequential design) is at most ``tol``
   (``tol = 0.05``: the interval spans at most a factor :math:`10^{0.1} \approx 1.26` in m,
   not necessarily symmetric about m*), or ``budget`` when
   it has used ``max_runs`` runs, or ``exhausted`` when every lattice point is at
   ``max_runs_per_cell``. Measured coverage of the reported 95% interval (300 simulated
   searches each, runs of one seed dependent across sizes as in real training): 0.93 at 10
   logits per decade and 0.97 at 20 with the defaults (the real cpu-scale curves have 9-37),
   0.94 at 5 with ``tol = 0.1``; a shallow curve (5) at ``tol = 0.05`` gives 0.89 and ends at
   the budget a fifth of the time. Stopping when the interval is narrow enough costs this
   little coverage; stopping only after two narrow fits in a row did not recover it.

Every finished run of the curve found in the results store at the start is reused (any seed,
any m inside the lattice's range), and each new run is stored the moment it finishes, so a
killed search resumes where it stopped. All curves advance in rounds: the proposals of one
round go to the executor together (:mod:`verify.executors`), which trains the runs of every
cell that shares an ensemble key (:meth:`RunConfig.ensemble_key`: all m of a curve, offline)
as one ensemble and, with Dask, many ensembles at once.

Seeds: a new run takes the smallest seeds >= ``seed_start`` not used by *any* run of the curve.
A seed fixes S, the initialisation, the minibatch stream and the training set, and the training
set of size m is a prefix of the one of a larger m (:mod:`verify.data`), so runs of one seed at
two sizes are nearly the same run: their outcomes are strongly dependent, while the binomial
fit assumes independent runs. (With seeds reused per size, as a grid does, the interval of a
simulated search covered the truth 68-78% of the time instead of 95%: ``nested=True`` in
:class:`verify.oracles.LogisticOracle` models this.) Runs already in the store are reused
whatever their seeds; a grid's runs share seeds across sizes, which the fit cannot undo.

Assumptions: the success probability rises with m (a curve that falls ends ``above_grid`` or
``below_grid``), and each round waits for its slowest run, so the wall time is the number of
rounds (typically 15-70, more for shallow curves) times the longest run of T steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import special

from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.simulate.progress import progress_bar
from parity_frontiers.verify.analysis.frontier import CURVE_FIELDS, curve_key, fit_frontier
from parity_frontiers.verify.config import RunConfig, RunResult
from parity_frontiers.verify.experiments.frontier_settings import (
    CURVE_ID_FIELDS,
    SEARCH_STATUSES,
    SearchSettings,
    curve_templates,
    sample_lattice,
)

__all__ = ["SearchSettings", "CurveFrontier", "search_frontiers", "curve_templates",
           "sample_lattice", "SEARCH_STATUSES", "CURVE_ID_FIELDS"]

@dataclass(frozen=True)
class CurveFrontier:
    """The result of one curve's search.

    ``curve`` holds :data:`CURVE_ID_FIELDS`; ``config`` the full template (training settings);
    ``status`` one of :data:`SEARCH_STATUSES`; ``m_star``, ``ci_low``, ``ci_high`` the final
    Firth fit with its 95% interval (None when no crossing was fitted) and ``fit_status``
    its :class:`verify.analysis.FrontierFit` status; ``half_width_log10`` the half-width of
    the interval of log10 m*; ``intercept`` and ``slope`` the fitted logistic coefficients in
    log10 m; ``runs`` every run the fit used, of which ``trained`` were
    trained by this search and ``reused`` came from the store; ``rounds`` the rounds this
    curve took part in; ``cells`` the (samples, runs, successes) of every sampled m.
    """

    curve: dict
    config: dict
    status: str
    fit_status: str | None
    m_star: float | None
    ci_low: float | None
    ci_high: float | None
    half_width_log10: float | None
    target: float
    intercept: float | None
    slope: float | None
    runs: int
    trained: int
    reused: int
    rounds: int
    cells: tuple = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return asdict(self)


def _curve_where(config: RunConfig) -> dict:
    """The curve's fields (:data:`verify.analysis.CURVE_FIELDS`) as store filters."""
    return {name: getattr(config, name) for name in CURVE_FIELDS}


class _CurveState:
    """The runs of one curve and the rule that proposes its next batch."""

    def __init__(self, template: RunConfig, settings: SearchSettings, lattice: np.ndarray):
        self.template = template
        self.settings = settings
        self.lattice = lattice
        self.runs: dict[int, dict[int, bool]] = {}  # m -> seed -> success
        self.used_seeds: set[int] = set()
        self.reused = 0
        self.trained = 0
        self.rounds = 0
        self.status: str | None = None
        self.fit = None

    # --- data ---------------------------------------------------------------------------------
    def add(self, result: RunResult, reused: bool) -> None:
        m, seed = result.config.samples, result.config.seed
        cell = self.runs.setdefault(m, {})
        if seed in cell:
            return
        cell[seed] = bool(result.success)
        self.used_seeds.add(seed)
        if reused:
            self.reused += 1
        else:
            self.trained += 1

    def total(self) -> int:
        return sum(len(cell) for cell in self.runs.values())

    def cells(self) -> list[dict]:
        return [{"samples": m, "runs": len(cell), "successes": sum(cell.values())}
                for m, cell in sorted(self.runs.items())]

    def room(self, m: int) -> int:
        cap = self.settings.max_runs_per_cell
        return self.settings.max_runs if cap is None else cap - len(self.runs.get(int(m), {}))

    def configs_at(self, m: int, count: int) -> list[RunConfig]:
        """``count`` new runs at size m, with seeds no run of this curve has used (any m)."""
        used = self.used_seeds
        seeds, seed = [], self.settings.seed_start
        while len(seeds) < count:
            if seed not in used:
                seeds.append(seed)
            seed += 1
        return [replace(self.template, samples=int(m), seed=s) for s in seeds]

    # --- decisions ----------------------------------------------------------------------------
    def refit(self) -> None:
        cells = self.cells()
        self.fit = fit_frontier(cells, self.settings.target, "fieller") if cells else None

    def half_width(self) -> float | None:
        fit = self.fit
        if fit is None or fit.m_star is None or fit.ci_low is None or fit.ci_high is None:
            return None
        return (math.log10(fit.ci_high) - math.log10(fit.ci_low)) / 2

    def propose(self) -> list[RunConfig]:
        """The next batch, or [] with ``status`` set when the search of this curve is over."""
        settings = self.settings
        self.refit()
        fit = self.fit
        width = self.half_width()
        if fit is not None and fit.status == "fitted" and width is not None \
                and width <= settings.tol:
            return self._finish("converged")
        budget = settings.max_runs - self.total()
        if budget <= 0:
            return self._finish("budget")
        if fit is None:
            index = (len(self.lattice) - 1) // 2
            return self._batch(self._nearest_with_room(index), settings.probe, budget)
        if fit.status in ("below_grid", "above_grid"):
            return self._bracket(fit.status == "below_grid", budget)
        if fit.status in ("fitted", "extrapolated"):
            index = self._most_informative()
            return self._batch(index, settings.batch, budget)
        return self._batch(self._between_sides(), settings.batch, budget)  # not_increasing

    def _finish(self, status: str) -> list[RunConfig]:
        self.status = status
        return []

    def _batch(self, index: int | None, size: int, budget: int) -> list[RunConfig]:
        if index is None:
            return self._finish("exhausted")
        m = int(self.lattice[index])
        return self.configs_at(m, max(1, min(size, budget, self.room(m))))

    def _index(self, m: int) -> int:
        return int(np.searchsorted(self.lattice, m))

    def _nearest_with_room(self, index: int, allowed=None) -> int | None:
        order = sorted(range(len(self.lattice)), key=lambda i: (abs(i - index), i))
        for i in order:
            if (allowed is None or allowed(i)) and self.room(self.lattice[i]) > 0:
                return i
        return None

    def _bracket(self, all_above: bool, budget: int) -> list[RunConfig]:
        """Bisect (by lattice index) towards the side where the crossing must lie.

        ``all_above``: every sampled cell reaches the target, so m* lies below the smallest
        sampled m; otherwise every cell is at or below it and m* lies above the largest. Once
        the lattice end on that side is sampled, seeds are added there until its Wilson
        interval leaves the target on one side (a ``below_grid`` / ``above_grid`` ending) or
        a cell crosses over (the model phase takes over).
        """
        settings = self.settings
        last = len(self.lattice) - 1
        edge_index = 0 if all_above else last
        edge = int(self.lattice[edge_index])
        if edge in self.runs:
            cell = self.runs[edge]
            estimate = proportion_estimate(sum(cell.values()), len(cell))
            if all_above and estimate.ci_low >= settings.target:
                return self._finish("below_grid")
            if not all_above and estimate.ci_high <= settings.target:
                return self._finish("above_grid")
        if all_above:
            bound = min(self.runs)
            index = self._index(bound) // 2
            pick = self._nearest_with_room(index, lambda i: self.lattice[i] < bound)
        else:
            bound = max(self.runs)
            index = -(-(self._index(bound) + last) // 2)
            pick = self._nearest_with_room(index, lambda i: self.lattice[i] > bound)
        if pick is None:  # the edge is sampled but not yet decided
            pick = edge_index if self.room(edge) > 0 else None
        return self._batch(pick, settings.probe, budget)

    def _most_informative(self) -> int | None:
        """The lattice point whose batch most shrinks Var(log10 m*) (greedy c-optimal)."""
        fit = self.fit
        beta = np.array([fit.intercept, fit.slope])
        info = np.linalg.inv(np.array(fit.covariance))
        x_star = (special.logit(self.settings.target) - beta[0]) / beta[1]
        g = -np.array([1.0, x_star]) / beta[1]
        best, best_value = None, math.inf
        for i, m in enumerate(self.lattice):
            room = self.room(m)
            if room <= 0:
                continue
            x = math.log10(m)
            p = special.expit(beta[0] + beta[1] * x)
            weight = min(self.settings.batch, room) * p * (1 - p)
            row = np.array([1.0, x])
            try:
                value = float(g @ np.linalg.solve(info + weight * np.outer(row, row), g))
            except np.linalg.LinAlgError:
                continue
            # ties (to rounding): the point nearest the current m* estimate
            if value < best_value * (1 - 1e-9) or (
                    best is not None and value <= best_value * (1 + 1e-9)
                    and abs(x - x_star) < abs(math.log10(self.lattice[best]) - x_star)):
                best, best_value = i, value
        return best

    def _between_sides(self) -> int | None:
        """For a fit that does not rise: the middle of the region where the sides overlap."""
        target = self.settings.target
        rates = {m: sum(c.values()) / len(c) for m, c in self.runs.items()}
        high = [m for m, r in rates.items() if r > target]
        low = [m for m, r in rates.items() if r < target]
        a, b = self._index(min(high)), self._index(max(low))
        return self._nearest_with_room((a + b) // 2)

    def result(self) -> CurveFrontier:
        fit = self.fit
        return CurveFrontier(
            curve={name: getattr(self.template, name) for name in CURVE_ID_FIELDS},
            config=_curve_where(self.template),
            status=self.status, fit_status=None if fit is None else fit.status,
            m_star=None if fit is None else fit.m_star,
            ci_low=None if fit is None else fit.ci_low,
            ci_high=None if fit is None else fit.ci_high,
            half_width_log10=self.half_width(), target=self.settings.target,
            intercept=None if fit is None else fit.intercept,
            slope=None if fit is None else fit.slope,
            runs=self.total(), trained=self.trained, reused=self.reused, rounds=self.rounds,
            cells=tuple(self.cells()))


def search_frontiers(templates: Sequence[RunConfig], executor=None, store=None,
                     settings: SearchSettings | None = None, progress: bool = True,
                     on_round: Callable[[int, list[CurveFrontier]], None] | None = None,
                     ) -> list[CurveFrontier]:
    """Locate m* for every curve by the sequential design of the module docstring.

    Parameters
    ----------
    templates : sequence of RunConfig
        One per curve (:func:`curve_templates`); their ``samples`` and ``seed`` are ignored.
        Templates of the same curve count once.
    executor : verify.executors.Executor, optional
        Where runs are trained (default: a local executor, device "auto").
    store : verify.store.ResultsStore, optional
        Runs of these curves already stored are reused; each new run is stored as it finishes.
        Without a store the search keeps its runs in memory only.
    settings : SearchSettings, optional
    progress : bool
        A progress bar of runs trained on stderr (off when stderr is not a terminal).
    on_round : callable, optional
        Called after each round with the round number and every curve's current result.

    Returns
    -------
    list of CurveFrontier
        In the order of the distinct templates.

    Examples
    --------
    A stand-in executor whose runs succeed exactly when m >= 700 (no training):

    >>> from parity_frontiers.verify.experiments.handoff import Executor
    >>> class Threshold(Executor):
    ...     def train(self, configs, on_result=None, progress=True, _bar=None):
    ...         out = [RunResult(c, c.samples >= 700, 1 if c.samples >= 700 else None,
    ...                          0.0, 0.0, "success" if c.samples >= 700 else "max_steps", 1)
    ...                for c in configs]
    ...         for r in out:
    ...             on_result(r)
    ...         return out
    >>> [found] = search_frontiers(curve_templates(30, 3, 16), Threshold(), progress=False,
    ...                            settings=SearchSettings(m_min=100, m_max=10_000))
    >>> found.status, found.runs < 100   # a full grid would spend 16 seeds on each of 25 sizes
    ('converged', True)
    >>> [c["samples"] for c in found.cells]  # bisection, then seeds on both sides of 700
    [316, 562, 681, 750, 825, 1000]
    """
    settings = settings if settings is not None else SearchSettings()
    if not isinstance(settings, SearchSettings):
        raise ValueError("settings must be a SearchSettings")
    lattice = settings.lattice()
    states: dict[tuple, _CurveState] = {}
    for template in templates:
        if not isinstance(template, RunConfig):
            raise ValueError(f"expected RunConfig templates, got {type(template).__name__}")
        states.setdefault(curve_key(template.as_dict()), _CurveState(template, settings, lattice))
    if not states:
        return []
    if executor is None:
        from parity_frontiers.verify.experiments.executors import LocalExecutor

        executor = LocalExecutor()
    if store is not None:
        for state in states.values():
            for result in store.results(**_curve_where(state.template)):
                m = result.config.samples
                if m is not None and lattice[0] <= m <= lattice[-1]:
                    state.add(result, reused=True)

    def record(result: RunResult) -> None:
        state = states.get(curve_key(result.config.as_dict()))
        if state is None:  # pragma: no cover - an executor returning a run not asked for
            return
        if store is not None:
            store.add(result)
        state.add(result, reused=False)

    # no total: the search decides as it goes how many runs it needs
    with progress_bar(None, unit="run", desc="frontier", enabled=progress) as bar:
        round_number = 0
        while True:
            proposals = []
            active = 0
            for state in states.values():
                if state.status is not None:
                    continue
                batch = state.propose()
                if batch:
                    state.rounds += 1
                    active += 1
                    proposals.extend(batch)
            if not proposals:
                break
            round_number += 1
            bar.set_postfix_str(f"round {round_number}, {active}/{len(states)} curves active",
                                refresh=True)
            if store is not None and round_number == 1:
                store.check()
            executor.train(proposals, on_result=record, progress=progress, _bar=bar)
            if on_round is not None:
                on_round(round_number, [s.result() for s in states.values()])
    # every curve ended inside propose(), just after refitting all of its runs
    return [state.result() for state in states.values()]



def frontier_rows(found: Iterable[CurveFrontier]) -> list[dict]:
    """Flat rows (curve fields + the result's numbers) for tables and JSON."""
    rows = []
    for item in found:
        data = item.as_dict()
        data.pop("config")
        cells = data.pop("cells")
        rows.append({**data.pop("curve"), **data, "cells": list(cells)})
    return rows
