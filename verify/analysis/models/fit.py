r"""Maximum-likelihood fits of the frontier models, seed-cluster bootstrap, predictions.

The likelihood is Bernoulli per run, :math:`\ell(\theta) = \sum_i y_i \ln P_i + (1 - y_i)
\ln(1 - P_i)`, summed per cell on counts; :func:`fit_model` maximises it with L-BFGS-B from a
few starts (bounds keep every parameter finite, e.g. under complete separation).

Uncertainty: runs with the same seed share S, the test set, the init and the nested training
sets in every cell, so they are not independent. The bootstrap resamples **seeds** (clusters)
with replacement and refits (:func:`.data.seed_weights`); bands are the 2.5% and 97.5%
percentiles over the B draws of whatever is predicted (P, or m*). Tested for coverage on
synthetic seed-clustered data (tests/test_frontier_models.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from .data import RunTable, covariates, seed_weights
from .families import MODEL_NAMES, get_model

__all__ = ["FittedModel", "fit_model", "FORMAT", "FORMAT_VERSION", "M_STAR_RANGE",
           "DEFAULT_BOOTSTRAP", "LOG_CLIP"]

FORMAT = "parity-frontiers-model"
FORMAT_VERSION = 1
#: m* outside this range is reported as None (no crossing there, or beyond any grid).
M_STAR_RANGE = (1.0, 1e12)
DEFAULT_BOOTSTRAP = 200
#: Probabilities are clipped to [LOG_CLIP, 1 - LOG_CLIP] when scoring log-likelihoods, so one
#: run the model calls impossible costs at most ln(1e6) = 13.8 nats.
LOG_CLIP = 1e-6


def _negloglik(theta, names, model, cells, succ, trials, constants):
    params = dict(zip(names, theta, strict=True))
    log_p, log_q = model.log_probs(params, cells, constants)
    value = -np.sum(succ * log_p + (trials - succ) * log_q)
    return float(value) if np.isfinite(value) else 1e300


def _maximise(model, names, starts, bounds, cells, succ, trials, constants):
    best = None
    for start in starts:
        res = optimize.minimize(_negloglik, start, args=(names, model, cells, succ, trials,
                                                         constants),
                                method="L-BFGS-B", bounds=bounds,
                                options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-7})
        if best is None or res.fun < best.fun:
            best = res
    return np.asarray(best.x, float), -float(best.fun)


@dataclass
class FittedModel:
    """A fitted frontier model: ``theta`` (MLE, named by ``names``), ``draws`` (seed-cluster
    bootstrap refits, shape (B, len(names)); empty without bootstrap), the model's
    ``constants`` (reference values, inits fitted) and ``data`` (what it was fitted on)."""

    model: str
    names: list
    theta: np.ndarray
    draws: np.ndarray
    constants: dict
    data: dict = field(default_factory=dict)
    log_likelihood_fit: float = float("nan")
    bootstrap_seed: int | None = None

    @property
    def family(self):
        return get_model(self.model)

    def _params(self, theta) -> dict:
        return dict(zip(self.names, theta, strict=True))

    # --- probabilities ------------------------------------------------------------------------

    def log_probs(self, cells: dict, theta=None):
        return self.family.log_probs(self._params(self.theta if theta is None else theta),
                                     cells, self.constants)

    def probability(self, cells: dict, theta=None) -> np.ndarray:
        return np.exp(self.log_probs(cells, theta)[0])

    def draw_probabilities(self, cells: dict) -> np.ndarray:
        """P under every bootstrap draw, shape (B, cells)."""
        return np.array([self.probability(cells, t) for t in self.draws])

    def check_covered(self, cells: dict) -> None:
        """Refuse cells of an init (or sparse s) or k the model was never fitted on."""
        fitted = {(i["init"], i["s"]) for i in self.data["inits"]}
        for init, dense, s, k in zip(cells["init"], cells["dense"], cells["s"], cells["k"],
                                     strict=True):
            pair = (str(init), None) if dense else (str(init), int(s))
            if pair not in fitted:
                what = f"{init} init" if dense else f"{init} init with s = {int(s)}"
                raise ValueError(f"the {self.model} model was never fitted on {what} "
                                 f"(fitted: {_inits_text(self.data['inits'])})")
            if int(k) not in self.data["k_values"]:
                raise ValueError(f"the {self.model} model was fitted on k = "
                                 f"{self.data['k_values']}, not k = {int(k)}")

    def predict(self, n, k, width, init, s, samples, max_steps, batch_size) -> list[dict]:
        """P(success) with its 95% bootstrap band for each m in ``samples`` (None = online)."""
        samples = list(samples)
        cells = covariates(np.full(len(samples), n), k, width, init, s, samples, max_steps,
                           batch_size)
        self.check_covered(cells)
        p = self.probability(cells)
        low, high = self._band(cells)
        return [{"samples": m, "effective_samples": float(np.exp(x)), "p_success": float(pi),
                 "p_low": lo, "p_high": hi}
                for m, x, pi, lo, hi in zip(samples, cells["log_m"], p, low, high, strict=True)]

    def _band(self, cells):
        if not len(self.draws):
            return [None] * cells["n"].size, [None] * cells["n"].size
        draws = self.draw_probabilities(cells)
        return ([float(v) for v in np.percentile(draws, 2.5, axis=0)],
                [float(v) for v in np.percentile(draws, 97.5, axis=0)])

    # --- m* -----------------------------------------------------------------------------------

    def _m_star(self, theta, n, k, width, init, s, max_steps, batch_size, target) -> float:
        """m* (P = target) under one parameter vector: 0 if P(m = 1) >= target already,
        inf if P never reaches target below 1e12 (P rises with m in every model)."""
        lo, hi = math.log(M_STAR_RANGE[0]), math.log(M_STAR_RANGE[1])
        base = covariates(n, k, width, init, s, 1, max_steps, batch_size)
        goal = special.logit(target)

        def excess(x):
            cells = dict(base, log_m=np.array([x]))
            log_p, log_q = self.log_probs(cells, theta)
            return float(log_p[0] - log_q[0]) - goal

        f_lo, f_hi = excess(lo), excess(hi)
        if f_lo >= 0:
            return 0.0
        if f_hi < 0:
            return math.inf
        return math.exp(optimize.brentq(excess, lo, hi, xtol=1e-10))

    def m_star(self, n, k, width, init, s, max_steps, batch_size, target=0.5) -> dict:
        """m* where P crosses ``target`` with its 95% bootstrap interval; values outside
        [1, 1e12] are None (percentiles of draws that never cross count as +inf / 0)."""
        self.check_covered(covariates(n, k, width, init, s, 1, max_steps, batch_size))
        args = (n, k, width, init, s, max_steps, batch_size, target)
        point = self._m_star(self.theta, *args)
        low = high = None
        if len(self.draws):
            values = np.array([self._m_star(t, *args) for t in self.draws])
            low, high = (float(np.percentile(values, q, method="lower" if q < 50 else "higher"))
                         for q in (2.5, 97.5))
        return {"m_star": _in_range(point), "m_star_low": _in_range(low),
                "m_star_high": _in_range(high), "target": target,
                "m_star_raw": (point, low, high)}

    # --- likelihood ---------------------------------------------------------------------------

    def log_likelihood(self, table: RunTable, clip: float = LOG_CLIP) -> float:
        """Total log-likelihood of ``table``'s outcomes at the MLE, P clipped to
        [clip, 1 - clip] (clip = 0: exact)."""
        self.check_covered(table.cells)
        succ, trials = table.counts()
        log_p, log_q = self.log_probs(table.cells)
        if clip:
            log_p = np.clip(log_p, math.log(clip), math.log1p(-clip))
            log_q = np.clip(log_q, math.log(clip), math.log1p(-clip))
        return float(np.sum(succ * log_p + (trials - succ) * log_q))

    # --- JSON ---------------------------------------------------------------------------------

    def as_dict(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "model": self.model,
                "formula": self.family.summary, "docs": "docs/theory.md §6",
                "parameters": dict(zip(self.names, map(float, self.theta), strict=True)),
                "constants": self.constants,
                "bootstrap": {"draws": [[float(v) for v in row] for row in self.draws],
                              "count": int(len(self.draws)), "unit": "seed",
                              "seed": self.bootstrap_seed},
                "log_likelihood": self.log_likelihood_fit, "data": self.data}

    @classmethod
    def from_dict(cls, d: dict) -> FittedModel:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError("not a parity-frontiers model file (written by "
                             "`parity-frontiers model fit`)")
        if d.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"model file format version {d.get('format_version')!r} is not "
                             f"supported (this version reads {FORMAT_VERSION})")
        if d.get("model") not in MODEL_NAMES:
            raise ValueError(f"model file names an unknown model {d.get('model')!r}")
        try:
            names = list(d["parameters"])
            theta = np.array([float(d["parameters"][k]) for k in names])
            draws = np.array(d["bootstrap"]["draws"], float).reshape(-1, len(names))
            return cls(d["model"], names, theta, draws, d["constants"], d["data"],
                       float(d["log_likelihood"]), d["bootstrap"].get("seed"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"model file is damaged: {exc}") from None


def _in_range(value):
    if value is None or not M_STAR_RANGE[0] <= value <= M_STAR_RANGE[1]:
        return None
    return float(value)


def _inits_text(inits) -> str:
    return ", ".join(i["init"] if i["s"] is None else f"{i['init']} s = {i['s']}"
                     for i in inits)


def fit_model(name: str, runs, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
              source: str | None = None, starts: int = 5) -> FittedModel:
    """Fit model ``name`` to ``runs`` (RunResults or a :class:`RunTable`) by maximum
    likelihood, with ``bootstrap`` seed-cluster refits (0: none) drawn from ``seed``.

    The MLE is the best of ``starts`` L-BFGS-B runs (the model's data-driven start, then
    jittered ones); each bootstrap refit is the better of two runs, from the MLE and from
    the data-driven start (k = 3 model files of figures/reference/heldout were fitted when
    refits started from the MLE only)."""
    model = get_model(name)
    table = runs if isinstance(runs, RunTable) else RunTable.from_results(runs)
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0, got {bootstrap}")
    constants = model.constants(table)
    spec = model.parameters(table, constants)
    names = [s[0] for s in spec]
    start = np.array([s[1] for s in spec], float)
    bounds = [s[2] for s in spec]
    succ, trials = table.counts()
    points = [start]
    rng = np.random.default_rng(seed)
    for _ in range(starts - 1):  # a few jittered starts: the lottery's likelihood is not concave
        points.append(np.clip(start + rng.normal(0, 1.0, start.size),
                              [b[0] for b in bounds], [b[1] for b in bounds]))
    theta, loglik = _maximise(model, names, points, bounds, table.cells, succ, trials,
                              constants)
    draws = []
    if bootstrap:
        for w in seed_weights(table.seed, bootstrap, rng):
            s_w, t_w = table.counts(w)
            keep = t_w > 0
            cells = {key: value[keep] for key, value in table.cells.items()}
            # From the MLE and from the data-driven start: where the likelihood is flat (a
            # steep frontier between two grid sizes), a refit begun at the MLE alone would
            # stop there and the bootstrap would understate the uncertainty.
            draws.append(_maximise(model, names, [theta, start], bounds, cells, s_w[keep],
                                   t_w[keep], constants)[0])
    data = table.summary()
    data["store"] = source
    return FittedModel(name, names, theta, np.array(draws, float).reshape(-1, len(names)),
                       constants, data, loglik, seed if bootstrap else None)
