r"""The statistical-query lower bound of Edelman et al. (2023), Proposition 3.

Noisy SGD on a model with r parameters, T steps, gradient noise tolerance tau, succeeds on an
(n, k)-sparse parity with probability at most delta whenever

.. math:: \frac{r\,T}{\tau^2\,\delta} \le \frac{1}{2}\binom{n}{k}.

Read as a frontier: the largest success probability the bound allows is

.. math:: \delta^*(n, k, r, T, \tau) = \min\Bigl(1,\; \frac{2\,r\,T}{\tau^2 \binom{n}{k}}\Bigr),

and a sample of m examples gives gradient precision tau = 1/sqrt(m) (docs/theory.md §2), so
the "cost" r T m / delta must exceed C(n, k)/2. All functions here broadcast over numpy arrays
and work in log-space, so C(1e6, 500) neither overflows nor turns into a silent inf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from parity_frontiers.theory.binomial import comb_exact, comb_is_cheap, log_comb
from parity_frontiers.theory.checks import (
    LN10,
    as_result,
    check_int,
    check_positive,
    check_probability,
    check_rational,
    check_size,
    check_subset_size,
)

__all__ = [
    "RESOURCES",
    "SQSolution",
    "two_layer_param_count",
    "mlp_param_count",
    "sq_max_success_probability",
    "sq_log10_max_success_probability",
    "sq_log10_cost",
    "sq_log10_threshold",
    "sq_log10_min_resource",
    "sq_solve",
    "sq_rules_out",
]

#: The four resources of the frontier, by the names the CLI uses.
RESOURCES = ("params", "steps", "samples", "delta")

_LN2 = math.log(2.0)


def two_layer_param_count(n_inputs, width):
    r"""Parameters of a 2-layer MLP with biases and one output, vectorised over ``width``.

    .. math:: r = w\,n + w + w + 1 = w(n + 2) + 1

    Examples
    --------
    >>> two_layer_param_count(50, 100)
    5201
    """
    n_arr = check_size("n", n_inputs, exact=True)
    w_arr = check_size("width", width)
    if n_arr.ndim == 0 and w_arr.ndim == 0:  # exact integer arithmetic for one network
        return check_int("width", width) * (check_int("n", n_inputs) + 2) + 1
    return w_arr * (n_arr + 2.0) + 1.0


def mlp_param_count(n_inputs, hidden_widths, n_outputs: int = 1) -> int:
    """Exact parameter count of a fully connected MLP with biases.

    Each layer with fan-in a and fan-out b contributes a*b weights and b biases.

    Parameters
    ----------
    n_inputs : int
        Input dimension n.
    hidden_widths : sequence of int
        Widths of the hidden layers, e.g. ``[1000]`` for the paper's 2-layer network.
    n_outputs : int, default 1

    Examples
    --------
    >>> mlp_param_count(50, [100])
    5201
    >>> mlp_param_count(10, [4, 3], n_outputs=2)
    67
    """
    sizes = [check_int("n", n_inputs)]
    if np.ndim(hidden_widths) == 0:
        hidden_widths = [hidden_widths]
    if len(hidden_widths) == 0:
        raise ValueError("width must list at least one hidden layer")
    sizes += [check_int("width", w) for w in hidden_widths]
    sizes.append(check_int("n_outputs", n_outputs))
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def _log_precision(tau, samples):
    """log(1/tau^2), from tau or from m samples (tau = 1/sqrt(m))."""
    if tau is not None and samples is not None:
        raise ValueError("tau and samples are alternatives (tau = 1/sqrt(samples)); give one")
    if samples is not None:
        return np.log(check_size("samples", samples))
    if tau is not None:
        return -2.0 * np.log(check_positive("tau", tau))
    raise ValueError("samples (or tau) is required")


def _check_nk(n, k):
    n_arr = check_size("n", n, exact=True)
    k_arr = check_size("k", k, exact=True)
    check_subset_size("k", k_arr, n_arr)
    return n_arr, k_arr


def _log_max_success(n, k, params, steps, tau, samples):
    n_arr, k_arr = _check_nk(n, k)
    log_r = np.log(check_size("params", params))
    log_t = np.log(check_size("steps", steps))
    log_prec = _log_precision(tau, samples)
    return np.minimum(0.0, _LN2 + log_r + log_t + log_prec - log_comb(n_arr, k_arr))


def sq_max_success_probability(n, k, params, steps, *, tau=None, samples=None):
    r"""Largest success probability Prop. 3 allows.

    .. math:: \delta^* = \min\Bigl(1, \frac{2 r T}{\tau^2 \binom{n}{k}}\Bigr),
              \qquad \tau = 1/\sqrt{m} \text{ when samples } m \text{ are given.}

    Parameters
    ----------
    n, k : int or array_like
        Input dimension and parity degree, ``1 <= k <= n``.
    params : int or array_like
        Number of model parameters r (see :func:`two_layer_param_count`).
    steps : int or array_like
        Number of SGD iterations T.
    tau : float or array_like, optional
        Gradient noise tolerance, > 0.
    samples : int or array_like, optional
        Sample size m; sets tau = 1/sqrt(m). Give exactly one of ``tau`` and ``samples``.

    Returns
    -------
    float or ndarray
        In [0, 1]. Values below 1e-308 underflow to 0: use
        :func:`sq_log10_max_success_probability` to keep them.

    Examples
    --------
    >>> round(sq_max_success_probability(50, 3, params=10, steps=10, samples=10), 12)
    0.102040816327
    """
    return as_result(np.exp(_log_max_success(n, k, params, steps, tau, samples)))


def sq_log10_max_success_probability(n, k, params, steps, *, tau=None, samples=None):
    """log10 of :func:`sq_max_success_probability`; finite even where the value underflows."""
    return as_result(_log_max_success(n, k, params, steps, tau, samples) / LN10)


def sq_log10_threshold(n, k):
    """log10 of the bound's threshold C(n, k) / 2 on the cost r T m / delta."""
    n_arr, k_arr = _check_nk(n, k)
    return as_result((log_comb(n_arr, k_arr) - _LN2) / LN10)


def sq_log10_cost(params, steps, *, tau=None, samples=None, delta=None):
    """log10 of the cost r T / (tau^2 delta) = r T m / delta (delta omitted: r T m).

    The log-cost identity ties it to the bound:
    ``log10 delta* = min(0, log10_cost(delta=None) - log10_threshold)``.
    """
    log_r = np.log(check_size("params", params))
    log_t = np.log(check_size("steps", steps))
    total = log_r + log_t + _log_precision(tau, samples)
    if delta is not None:
        total = total - np.log(check_probability("delta", delta))
    return as_result(total / LN10)


def sq_log10_min_resource(n, k, solve_for, *, params=None, steps=None, samples=None, tau=None,
                          delta=None):
    r"""log10 of the real-valued frontier of one resource given the others, vectorised.

    Setting delta* = delta and solving:

    .. math:: r = \frac{\delta \tau^2 \binom{n}{k}}{2T}, \quad
              T = \frac{\delta \tau^2 \binom{n}{k}}{2r}, \quad
              m = \frac{\delta \binom{n}{k}}{2 r T}, \quad
              \delta = \frac{2 r T}{\tau^2 \binom{n}{k}}

    Below the returned value (for r, T, m) the bound caps success probability under delta.
    For ``solve_for="delta"`` this is log10 of :func:`sq_max_success_probability`. The
    smallest admissible *integer* is the ceiling; :func:`sq_solve` returns it exactly.
    """
    if solve_for not in RESOURCES:
        raise ValueError(f"solve_for must be one of {', '.join(RESOURCES)}, got {solve_for!r}")
    given = {"params": params, "steps": steps, "samples": samples, "delta": delta}
    if given[solve_for] is not None:
        raise ValueError(f"{solve_for} is being solved for; do not also give it")
    if solve_for == "delta":
        return sq_log10_max_success_probability(n, k, params, steps, tau=tau, samples=samples)
    for name in RESOURCES:
        if name not in (solve_for, "samples") and given[name] is None:
            raise ValueError(f"{name} is required to solve for {solve_for}")
    n_arr, k_arr = _check_nk(n, k)
    log_delta = np.log(check_probability("delta", delta))
    log_c = log_comb(n_arr, k_arr)
    if solve_for == "samples":
        if tau is not None:
            raise ValueError("tau is set by samples (tau = 1/sqrt(samples)); omit it")
        log_x = (log_delta + log_c - _LN2 - np.log(check_size("params", params))
                 - np.log(check_size("steps", steps)))
    else:
        other = "steps" if solve_for == "params" else "params"
        log_x = (log_delta + log_c - _LN2 - np.log(check_size(other, given[other]))
                 - _log_precision(tau, samples))
    return as_result(log_x / LN10)


@dataclass(frozen=True)
class SQSolution:
    """The frontier value of one resource (see :func:`sq_solve`).

    Attributes
    ----------
    resource : str
        One of ``params``, ``steps``, ``samples``, ``delta``.
    value : int, float or None
        Smallest integer r, T or m at which the bound allows success probability ``delta``
        (at least 1), or the largest allowed success probability when solving for delta.
        ``None`` when the number exceeds 1e300; ``log10_value`` then carries it.
    log10_value : float
        log10 of the real-valued frontier (before rounding up).
    exact : bool
        True when computed in exact rational arithmetic.
    """

    resource: str
    value: int | float | None
    log10_value: float
    exact: bool


def sq_solve(n, k, solve_for, *, params=None, steps=None, samples=None, tau=None,
             delta=None) -> SQSolution:
    """Solve Prop. 3's frontier for one resource, exactly where C(n, k) is computable.

    For r, T and m the answer is the smallest integer x >= 1 with
    ``sq_max_success_probability(..., x, ...) >= delta`` in exact arithmetic, found with
    exact rationals, so the boundary is never off by one. ``delta`` is taken as given: a
    :class:`~fractions.Fraction` (what the CLI passes for ``--delta 0.1`` or ``1/10``) or an
    int exactly, a float as the binary number it denotes (``0.1`` is slightly above 1/10, so
    pass ``Fraction(1, 10)`` to mean the decimal); a float ``tau`` converts exactly too.
    Takes scalars; for grids use :func:`sq_log10_min_resource`.

    Examples
    --------
    >>> sq_solve(50, 3, "params", steps=10, samples=10, delta=0.5).value  # 0.5 * 19600 / 200
    49
    >>> sq_solve(50, 3, "samples", params=10, steps=98, delta=Fraction(1, 10)).value  # 1960/19600
    1
    >>> sq_solve(10**6, 50, "samples", params=10**9, steps=10**5, delta=0.5).log10_value
    ... # doctest: +ELLIPSIS
    220.914...
    """
    _require_scalars(n=n, k=k, params=params, steps=steps, samples=samples, tau=tau,
                     delta=delta)
    log10_x = float(sq_log10_min_resource(n, k, solve_for, params=params, steps=steps,
                                          samples=samples, tau=tau, delta=delta))
    n_int, k_int = check_int("n", n), check_int("k", k)
    if not comb_is_cheap(n_int, k_int):
        if solve_for == "delta":
            value = 10.0 ** log10_x
        else:
            value = max(1, math.ceil(10.0 ** log10_x)) if log10_x < 300 else None
        return SQSolution(solve_for, value, log10_x, exact=False)

    c = comb_exact(n_int, k_int)
    precision = None if solve_for == "samples" else _exact_precision(tau, samples)
    if solve_for == "delta":
        ratio = 2 * check_int("params", params) * check_int("steps", steps) * precision / c
        return SQSolution("delta", float(min(Fraction(1), ratio)), log10_x, exact=True)
    d = check_rational("delta", delta)
    if solve_for == "params":
        x = d * c / (2 * check_int("steps", steps) * precision)
    elif solve_for == "steps":
        x = d * c / (2 * check_int("params", params) * precision)
    else:
        x = d * c / (2 * check_int("params", params) * check_int("steps", steps))
    value = max(1, math.ceil(x))
    # Past 300 digits an integer helps nobody and breaks float consumers: keep the log.
    return SQSolution(solve_for, value if log10_x < 300 else None, log10_x, exact=True)


def _require_scalars(**values):
    for name, value in values.items():
        if value is not None and np.ndim(value) != 0:
            raise ValueError(f"{name} must be a scalar here (this function solves one "
                             "configuration exactly; use the vectorised log10 functions "
                             "for grids)")


def sq_rules_out(n, k, params, steps, *, delta, tau=None, samples=None) -> bool:
    r"""Whether Prop. 3 rules out success probability ``delta`` (or more).

    True exactly when the largest allowed success probability is below delta:

    .. math:: \frac{2\,r\,T}{\tau^2 \binom{n}{k}} < \delta ,

    decided in exact rationals while C(n, k) has at most 100,000 digits (so the frontier
    found by :func:`sq_solve` is never ruled out), else in log-space; ``delta`` is read as in
    :func:`sq_solve` (a Fraction exactly).

    Examples
    --------
    >>> sq_rules_out(50, 3, params=10, steps=10, samples=48, delta=0.5)
    True
    >>> sq_rules_out(50, 3, params=10, steps=10, samples=49, delta=0.5)  # exactly 1/2
    False
    """
    _require_scalars(n=n, k=k, params=params, steps=steps, samples=samples, tau=tau,
                     delta=delta)
    log_max = float(_log_max_success(n, k, params, steps, tau, samples))
    log_delta = math.log(float(check_probability("delta", delta)))
    n_int, k_int = check_int("n", n), check_int("k", k)
    if not comb_is_cheap(n_int, k_int):
        return log_max < log_delta
    cost = (2 * check_int("params", params) * check_int("steps", steps)
            * _exact_precision(tau, samples))
    return cost < check_rational("delta", delta) * comb_exact(n_int, k_int)


def _exact_precision(tau, samples) -> Fraction:
    """1/tau^2 as an exact rational: m itself, or the float tau converted exactly."""
    if samples is not None:
        return Fraction(check_int("samples", samples))
    return 1 / Fraction(float(check_positive("tau", tau))) ** 2
