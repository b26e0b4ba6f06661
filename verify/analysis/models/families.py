r"""The four frontier models (docs/theory.md §6): P(success | n, k, r, init, s, m, T).

Notation: m is the training-set size (online runs: :math:`m = T B`, see
:mod:`.data`), :math:`x = \ln m`, r the hidden width, T the step budget, p_lucky the lottery
probability of :func:`theory.lottery.p_lucky` (dense init counts as s = n, where it is 1),
:math:`\sigma(z) = 1/(1 + e^{-z})`. Slopes are fitted on the log scale
(:math:`\gamma = e^{g}` > 0), so every model's P rises with m. ``_i`` marks a parameter fitted
separately for each init law present in the data (dense, sparse, sparse-gaussian: one set per
law, shared over its s; the registry says which laws are dense). Log terms in n, r and k
are centred at the geometric means of the fitting data (``constants`` ``n_ref``, ``r_ref``,
``k_ref``), which only reparametrises the intercepts.

* ``phenomenological`` (4 parameters per init, 5 once several k are fitted):

  .. math:: \operatorname{logit} P = \gamma_i (x - \mu), \quad
            \mu = a_i + \alpha_i \ln(n/n_{\rm ref}) + \beta_i \ln(r/r_{\rm ref})
                  [+ \kappa_i \ln(k/k_{\rm ref})]

  so :math:`m^*(P = 1/2) = e^{\mu} \propto n^{\alpha_i} r^{\beta_i}`: a power law in n and r
  with no claim about where the exponents come from. A term whose covariate takes one value
  in the data (one n, one width, one k) is not fitted (held at 0).

* ``lottery`` (mechanistic, 4 parameters per init, 5 once several k are fitted):

  .. math:: P = 1 - \exp\bigl(-c_i \, r \, p_{\rm lucky}(n, k, s) \, \pi(m, n)\bigr), \quad
            \pi(m, n) = \sigma\bigl(\gamma_i (x - a_i - b_i \ln(n/n_{\rm ref})
                        [- \kappa_i \ln(k/k_{\rm ref})])\bigr).

  What it claims: (1) the r hidden neurons draw their supports independently, so the number
  of lucky neurons (support as in :mod:`theory.lottery`: U inside S for s < k, S inside U for
  s >= k; every neuron for dense init) is Poisson with mean :math:`r p_{\rm lucky}`; (2) each
  lucky neuron, independently, becomes a working feature with probability
  :math:`c_i \pi(m, n)` -- ``c_i`` absorbs what luck beyond the support needs (signs, bias,
  the partial-progress step for s < k) and may exceed 1 where unlucky neurons also help;
  :math:`\pi` is the chance the m-sample gradient resolves the neuron's Fourier gap, a
  logistic in ln m located at :math:`m_0(n) = e^{a_i} (n/n_{\rm ref})^{b_i}` (docs/theory.md §4 puts
  :math:`m_0 \propto \ln n / \mathrm{gap}^2`, the gap shrinking with n); (3) one working
  neuron suffices. By Poisson thinning the working neurons are Poisson with mean
  :math:`c_i r p_{\rm lucky} \pi`, and P is the chance of at least one. Consequences the
  phenomenological model does not have: P saturates at :math:`1 - e^{-c_i r p_{\rm lucky}}`
  < 1 for narrow sparse nets, width enters only through :math:`r p_{\rm lucky}`, and
  :math:`m^*` falls with r as :math:`r^{-1/\gamma_i}` (lower tail of :math:`\pi`), tying the
  width exponent to the steepness in m; the n-dependence of the needed width is fixed by
  :math:`p_{\rm lucky} \approx s^{\underline k}/n^{\underline k}` rather than fitted.

* ``sq`` (baseline, 2 parameters): the shape of the SQ bound (docs/theory.md §2, Prop. 3) read as a
  frontier, :math:`m^* = c \binom{n}{k} / (r_{\rm par} T)` with :math:`r_{\rm par}` the
  parameter count (:func:`theory.sq_bound.two_layer_param_count`, w(n + 2) + 1) and T the
  step budget, with a logistic in ln m around it: :math:`\operatorname{logit} P =
  \gamma (x - \ln m^*)`. One scale constant c and one slope γ, shared by both inits. The
  logistic is our choice (the bound gives only the crossing); it is the tight SQ shape, not
  a bound.

* ``theorem`` (3 parameters): Theorems 4/5 (:mod:`theory.upper_bounds`) with the constant
  c3 fitted: :math:`m^* = c_{3,\rm thm} M(n, k, s)`, :math:`M = (s/k)^{k-1} n^2 \ln n`
  (Theorem 4, support s >= k; dense counts as s = n) or :math:`M = (n/k)^{k-s-1}` (Theorem
  5, s < k), :math:`\operatorname{logit} P = \gamma (x - \ln m^*)`. One scale constant per
  theorem present in the data (at k = 3, s = 2: Theorem 4 for dense, Theorem 5 for sparse)
  and one shared slope. The theorems' m* does not depend on the width once
  :math:`r \ge c_2 R`; c2 is not fitted (the width is ignored), which is the theorems'
  claim for every width they cover.

Only ``sq`` uses T; the others were fitted at one budget and do not extrapolate in T.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from parity_frontiers.theory.binomial import log_comb
from parity_frontiers.theory.checks import LN10
from parity_frontiers.theory.lottery import log_p_lucky
from parity_frontiers.theory.sq_bound import two_layer_param_count
from parity_frontiers.theory.upper_bounds import thm4_log10_samples, thm5_log10_samples

__all__ = ["MODEL_NAMES", "get_model", "FrontierModel"]

_G_BOUNDS = (-3.0, 5.0)      # slope gamma in [0.05, 148] per unit ln m
_LOC_BOUNDS = (-30.0, 60.0)  # locations in ln m
_EXP_BOUNDS = (-15.0, 15.0)  # exponents of n, r, k
_LC_BOUNDS = (-25.0, 25.0)   # ln of the lottery's c


#: The reference value (a geometric mean over the fitting cells) each covariate is scaled by.
_REFERENCE = {"n": "n_ref", "width": "r_ref", "k": "k_ref"}

_SHAPE_CACHE: dict = {}


def _cached(tag: str, cells: dict, fields: tuple, compute):
    """``compute(cells)`` memoised on the bytes of ``cells[fields]``: the n-, k-, s- and
    width-dependent shapes do not change while a likelihood is maximised."""
    key = (tag,) + tuple(np.ascontiguousarray(cells[f]).tobytes() for f in fields)
    value = _SHAPE_CACHE.get(key)
    if value is None:
        if len(_SHAPE_CACHE) > 4096:
            _SHAPE_CACHE.clear()
        value = _SHAPE_CACHE[key] = compute(cells)
    return value


def _init_names(cells) -> list[str]:
    """The init laws present, dense ones first: each gets its own parameters."""
    names = {str(i): bool(d) for i, d in zip(cells["init"], cells["dense"], strict=True)}
    return sorted(names, key=lambda name: (not names[name], name))


def _varies(values) -> bool:
    return np.unique(values).size > 1


def _near_half(table) -> float:
    """ln m of the cells nearest a success rate of 1/2 (a starting location)."""
    succ, trials = table.counts()
    rate = succ / trials
    x = table.cells["log_m"]
    offline = ~table.cells["online"]
    best = np.abs(rate - 0.5)[offline]
    if best.size == 0:
        return float(np.mean(x))
    return float(np.mean(x[offline][best <= best.min() + 0.2]))


class FrontierModel:
    """A family of success laws. Subclasses define :meth:`parameters` (names, starts, bounds
    from the fitting data) and :meth:`log_probs` (log P and log(1 - P) per cell)."""

    name = ""
    summary = ""

    def constants(self, table) -> dict:
        c = table.cells
        return {"n_ref": float(np.exp(np.mean(np.log(c["n"])))),
                "r_ref": float(np.exp(np.mean(np.log(c["width"])))),
                "k_ref": float(np.exp(np.mean(np.log(c["k"])))),
                "inits": _init_names(c)}

    def parameters(self, table, constants) -> list[tuple[str, float, tuple]]:
        raise NotImplementedError

    def log_probs(self, p: dict, cells: dict, constants: dict):
        raise NotImplementedError

    @staticmethod
    def _per_init(p: dict, cells: dict, field: str) -> np.ndarray:
        out = np.zeros(cells["init"].shape)
        for name in np.unique(cells["init"]):
            out = np.where(cells["init"] == name, p.get(f"{name}.{field}", 0.0), out)
        return out

    #: (exponent name, covariate) of the logistic location, in the order they are summed.
    location_terms: tuple = ()

    def _logistic_parameters(self, table, constants, first=()) -> list[tuple]:
        """Per init: ``first``, the slope g and location a, then the exponent of each
        :attr:`location_terms` covariate that varies among that init's cells (a constant
        covariate leaves its exponent unidentified, so it is left out, i.e. 0)."""
        c, out, start = table.cells, [], _near_half(table)
        for init in constants["inits"]:
            mask = c["init"] == init
            out += [(f"{init}.{name}", *rest) for name, *rest in first]
            out += [(f"{init}.g", np.log(3.0), _G_BOUNDS), (f"{init}.a", start, _LOC_BOUNDS)]
            out += [(f"{init}.{name}", start_value, _EXP_BOUNDS)
                    for name, field, start_value in self.location_terms
                    if _varies(c[field][mask])]
        return out

    def _logistic_eta(self, p: dict, cells: dict, constants: dict) -> np.ndarray:
        """eta = e^g (ln m - mu), mu = a + sum of exponent x ln(covariate / its reference)."""
        location = self._per_init(p, cells, "a")
        for name, field, _ in self.location_terms:
            location = location + self._per_init(p, cells, name) * np.log(
                cells[field] / constants[_REFERENCE[field]])
        return np.exp(self._per_init(p, cells, "g")) * (cells["log_m"] - location)


class Phenomenological(FrontierModel):
    name = "phenomenological"
    summary = "logit P = gamma_i (ln m - mu), mu = a_i + alpha_i ln n + beta_i ln r (+ k term)"

    location_terms = (("alpha", "n", 1.0), ("beta", "width", 0.0), ("kappa", "k", 1.0))

    def parameters(self, table, constants):
        return self._logistic_parameters(table, constants)

    def log_probs(self, p, cells, constants):
        eta = self._logistic_eta(p, cells, constants)
        return special.log_expit(eta), special.log_expit(-eta)


class Lottery(FrontierModel):
    name = "lottery"
    summary = "P = 1 - exp(-c_i r p_lucky(n,k,s) pi(m,n)), pi logistic in ln m at a_i + b_i ln n"

    location_terms = (("b", "n", 1.0), ("kappa", "k", 1.0))

    def parameters(self, table, constants):
        return self._logistic_parameters(table, constants, first=[("lc", 0.0, _LC_BOUNDS)])

    def log_probs(self, p, cells, constants):
        get = lambda field: self._per_init(p, cells, field)  # noqa: E731
        eta = self._logistic_eta(p, cells, constants)
        log_lucky = _cached("lucky", cells, ("n", "k", "support"), lambda c: log_p_lucky(
            c["n"].astype(int), c["k"].astype(int), c["support"].astype(int)))
        log_lam = get("lc") + np.log(cells["width"]) + log_lucky + special.log_expit(eta)
        lam = np.exp(log_lam)
        with np.errstate(divide="ignore"):
            log_p = np.where(lam < 1e-8, log_lam - lam / 2, np.log(-np.expm1(-lam)))
        return log_p, -lam


class _Logistic(FrontierModel):
    """logit P = gamma (ln m - ln m*) with a model-specific ln m*."""

    def log_probs(self, p, cells, constants):
        eta = np.exp(p["g"]) * (cells["log_m"] - self.log_m_star(p, cells))
        return special.log_expit(eta), special.log_expit(-eta)

    def _start_location(self, table, shape):
        return _near_half(table) - float(np.mean(shape(table.cells)))


class SQ(_Logistic):
    name = "sq"
    summary = "logit P = gamma (ln m - ln m*), m* = c C(n,k) / (params T)"

    @staticmethod
    def shape(cells):
        params = two_layer_param_count(cells["n"].astype(int), cells["width"].astype(int))
        return (log_comb(cells["n"], cells["k"]) - np.log(np.asarray(params, float))
                - np.log(cells["max_steps"]))

    def parameters(self, table, constants):
        return [("lc", self._start_location(table, self.shape), (-60.0, 80.0)),
                ("g", np.log(3.0), _G_BOUNDS)]

    def log_m_star(self, p, cells):
        return p["lc"] + _cached("sq", cells, ("n", "k", "width", "max_steps"), self.shape)


class Theorem(_Logistic):
    name = "theorem"
    summary = "logit P = gamma (ln m - ln m*), m* = c3_thm M(n,k,s) (Thm 4: s >= k; Thm 5: s < k)"

    @staticmethod
    def over(cells):
        return cells["support"] >= cells["k"]

    @classmethod
    def shape(cls, cells):
        n, k, s = (cells[f].astype(int) for f in ("n", "k", "support"))
        over = cls.over(cells)
        out = np.zeros(n.size)
        if over.any():
            out[over] = thm4_log10_samples(n[over], k[over], s[over]) * LN10
        if (~over).any():
            out[~over] = thm5_log10_samples(n[~over], k[~over], s[~over]) * LN10
        return np.atleast_1d(out)

    def parameters(self, table, constants):
        over = self.over(table.cells)
        start = self._start_location(table, self.shape)
        out = [(name, start, (-60.0, 80.0)) for name, present in
               (("lc_thm4", over.any()), ("lc_thm5", (~over).any())) if present]
        return out + [("g", np.log(3.0), _G_BOUNDS)]

    def log_m_star(self, p, cells):
        lc = np.where(self.over(cells), p.get("lc_thm4", np.nan), p.get("lc_thm5", np.nan))
        return lc + _cached("theorem", cells, ("n", "k", "support"), self.shape)


_MODELS = {m.name: m for m in (Phenomenological(), Lottery(), SQ(), Theorem())}
MODEL_NAMES = tuple(_MODELS)


def get_model(name: str) -> FrontierModel:
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}") \
            from None
