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
round go to the executor together (:mod:`verify.executors`), which trains runs of the same
cell as one ensemble and, with Dask, many cells at once.

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
from parity_frontiers.theory.checks import check_int
from parity_frontiers.verify.analysis.frontier import CURVE_FIELDS, curve_key, fit_frontier
from parity_frontiers.verify.config import MAX_SEED, RunConfig, RunResult
from parity_frontiers.verify.experiments.limits import MAX_LATTICE_POINTS

__all__ = ["SearchSettings", "CurveFrontier", "search_frontiers", "curve_templates",
           "sample_lattice", "SEARCH_STATUSES", "CURVE_ID_FIELDS"]

#: How a curve's search ended (see the module docstring).
SEARCH_STATUSES = ("converged", "below_grid", "above_grid", "budget", "exhausted")
#: Largest training-set size searched: 1e12 samples is far beyond any memory (a run's data
#: takes about n/8 bytes a sample), and keeps the lattice exact in float64 and int64.
MAX_SAMPLES = 10**12
#: The grid fields that name a curve in tables (its training settings are in ``config``).
CURVE_ID_FIELDS = ("n", "k", "width", "init", "s")


@dataclass(frozen=True)
class SearchSettings:
    """Settings of :func:`search_frontiers`, validated on construction.

    Parameters
    ----------
    target : float
        Success probability that defines m*, in (0, 1) (default 1/2).
    tol : float
        Stop when the 95% interval of log10 m* has at most this half-width (default 0.05).
    m_min, m_max : int
        Range of training-set sizes searched (default 100 .. 1e6, the paper's range).
    points_per_decade : int
        Lattice resolution in log10 m (default 24: the measured frontiers are steep, 10-40
        logits per decade, so a coarser lattice has no point where p is informative).
    batch : int
        Seeds added per model-phase proposal (default 4). Smaller batches stop closer to the
        tolerance (when tuning on benchmarks/bench_frontier_search.py, batch 2 took about 5%
        fewer runs than 4, and 4 about 10% fewer than 8) but train smaller ensembles per round.
    probe_batch : int, optional
        Seeds per bracketing probe (default ``max(2, batch // 2)``).
    max_runs : int
        Budget of runs per curve, reused ones included (default 400).
    max_runs_per_cell : int, optional
        At most this many runs at one m (default: no limit).
    seed_start : int
        Smallest seed a new run may take (default 0).
    m_values : sequence of int, optional
        An explicit lattice instead of the one from m_min, m_max and points_per_decade.
    """

    target: float = 0.5
    tol: float = 0.05
    m_min: int = 100
    m_max: int = 1_000_000
    points_per_decade: int = 24
    batch: int = 4
    probe_batch: int | None = None
    max_runs: int = 400
    max_runs_per_cell: int | None = None
    seed_start: int = 0
    m_values: tuple | None = None

    def __post_init__(self):
        if isinstance(self.target, bool) or not isinstance(self.target, (int, float)) \
                or not 0 < self.target < 1:
            raise ValueError(f"target must be in (0, 1), got {self.target!r}")
        if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float)) \
                or not math.isfinite(self.tol) or self.tol <= 0:
            raise ValueError(f"tol must be a finite number > 0 (a half-width in log10 m), "
                             f"got {self.tol!r}")
        for name in ("m_min", "m_max", "points_per_decade", "batch", "max_runs"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), 1, strict=True))
        object.__setattr__(self, "seed_start",
                           check_int("seed_start", self.seed_start, 0, strict=True))
        if self.seed_start + self.max_runs > MAX_SEED:
            raise ValueError(f"seed_start + max_runs must be at most 2**63 (the store's "
                             f"integer range), got seed_start={self.seed_start} and "
                             f"max_runs={self.max_runs}")
        if self.m_max > MAX_SAMPLES:
            raise ValueError(f"m_max must be at most {MAX_SAMPLES:.0e} training samples, got "
                             f"{self.m_max}")
        for name in ("probe_batch", "max_runs_per_cell"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name,
                                   check_int(name, getattr(self, name), 1, strict=True))
        if self.m_values is not None:
            values = sorted({check_int("m_values", v, 1, strict=True) for v in self.m_values})
            if len(values) < 2:
                raise ValueError("m_values needs at least two distinct sizes")
            if values[-1] > MAX_SAMPLES:
                raise ValueError(f"m_values must be at most {MAX_SAMPLES:.0e}, got "
                                 f"{values[-1]}")
            object.__setattr__(self, "m_values", tuple(values))
        elif self.m_max <= self.m_min:
            raise ValueError(f"m_max must be larger than m_min, got m_min={self.m_min}, "
                             f"m_max={self.m_max}")
        else:
            _check_lattice_size(self.m_min, self.m_max, self.points_per_decade)

    @property
    def probe(self) -> int:
        """Seeds per bracketing probe."""
        return self.probe_batch if self.probe_batch is not None else max(2, self.batch // 2)

    def lattice(self) -> np.ndarray:
        """The sizes m the search may sample, ascending."""
        if self.m_values is not None:
            return np.array(self.m_values, dtype=np.int64)
        return sample_lattice(self.m_min, self.m_max, self.points_per_decade)

    def as_dict(self) -> dict:
        return asdict(self)


def _check_lattice_size(m_min: int, m_max: int, points_per_decade: int) -> int:
    """Steps of the lattice from m_min to m_max; refused past :data:`MAX_LATTICE_POINTS`
    before anything is allocated (``--points-per-decade 1e9`` would ask for gigabytes)."""
    decades = math.log10(m_max / m_min)
    steps = math.floor(points_per_decade * decades + 1e-9)
    if steps + 1 > MAX_LATTICE_POINTS:
        most = max(1, math.floor((MAX_LATTICE_POINTS - 1) / decades))
        raise ValueError(f"points_per_decade {points_per_decade:,} over the {decades:.3g} decades "
                         f"from m_min={m_min} to m_max={m_max} makes a lattice of "
                         f"{steps + 1:,} sizes, more than {MAX_LATTICE_POINTS:,}; use at most "
                         f"{most:,} per decade")
    return steps


def sample_lattice(m_min: int, m_max: int, points_per_decade: int) -> np.ndarray:
    r"""Integer sizes :math:`\operatorname{round}(m_{\min} 10^{j / d})` from m_min to m_max.

    Rounded values that coincide are kept once, and m_max is always the last point.

    Examples
    --------
    >>> sample_lattice(100, 1000, 4).tolist()
    [100, 178, 316, 562, 1000]
    """
    m_min = check_int("m_min", m_min, 1, strict=True)
    m_max = check_int("m_max", m_max, 1, strict=True)
    points_per_decade = check_int("points_per_decade", points_per_decade, 1, strict=True)
    if m_max <= m_min:
        raise ValueError(f"m_max must be larger than m_min, got {m_min} and {m_max}")
    if m_max > MAX_SAMPLES:
        raise ValueError(f"m_max must be at most {MAX_SAMPLES:.0e}, got {m_max}")
    steps = _check_lattice_size(m_min, m_max, points_per_decade)
    values = np.rint(m_min * 10.0 ** (np.arange(steps + 1) / points_per_decade))
    values = np.unique(np.append(values.astype(np.int64), m_max))
    return values[values <= m_max]


def curve_templates(n, k, width, init="dense", s=None, **train) -> list[RunConfig]:
    """One template config per curve: the product n x k x width x init (x s for sparse).

    Same value rules as :func:`verify.sweep.build_grid` (s applies to sparse init only; an
    invalid point is an error naming it); ``samples`` and ``seed`` of a template are
    placeholders that the search replaces.

    Examples
    --------
    >>> [(c.width, c.init, c.s) for c in curve_templates(30, 3, [16, 64], ["dense", "sparse"],
    ...                                                   s=2)]
    [(16, 'dense', None), (16, 'sparse', 2), (64, 'dense', None), (64, 'sparse', 2)]
    """
    from parity_frontiers.verify.experiments.grid import build_grid

    for name in ("samples", "seeds", "seed_start"):
        if name in train:
            raise ValueError(f"{name} is chosen by the frontier search, not given")
    return build_grid(n=n, k=k, width=width, samples=1, init=init, s=s, seeds=1, **train)


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

    >>> from verify.executors import Executor
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
