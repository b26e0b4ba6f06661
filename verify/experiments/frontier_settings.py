"""Settings of the adaptive frontier search, its lattice of sizes m, and the curves it searches.

:class:`SearchSettings` validates every setting of
:func:`verify.experiments.frontier_search.search_frontiers` on construction -- the lattice of
sizes (:func:`sample_lattice`) is capped at :data:`verify.experiments.limits.MAX_LATTICE_POINTS`
before anything is allocated -- and :func:`curve_templates` builds one template
:class:`~verify.config.RunConfig` per curve (n, k, width, init, s).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from parity_frontiers.theory.checks import check_int
from parity_frontiers.verify.config import MAX_SEED, RunConfig
from parity_frontiers.verify.experiments.limits import MAX_LATTICE_POINTS

__all__ = ["SearchSettings", "sample_lattice", "curve_templates", "SEARCH_STATUSES",
           "CURVE_ID_FIELDS", "MAX_SAMPLES"]

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
