"""The SQ game's networks: validation shared by the SQ experiments, the Parseval bound on the
visible fraction, 2-layer ReLU nets at initialisation (the Numba twin of the training
registry's dense and sparse laws) and the Fourier sup-norms of their gradients.

See :mod:`parity_frontiers.simulate.sq` for the derivation (docs/theory.md §2).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np

from parity_frontiers.simulate._config import (
    check_kernel_size,
    check_seed,
)
from parity_frontiers.simulate._sq_kernels import (
    draw_network,
    subset_masks,
    visible_exact_kernel,
)
from parity_frontiers.simulate.estimates import mean_estimate
from parity_frontiers.theory.binomial import comb_exact, comb_is_cheap, log_comb
from parity_frontiers.theory.checks import check_int, check_positive, check_subset_size

__all__ = [
    "INITS", "MAX_EXACT_N", "MAX_GD_N", "MAX_GUESS_N", "MAX_GUESS_TAU", "MAX_QUERIES",
    "HOEFFDING_DELTA", "MAX_WORK_PER_NET", "MAX_TOTAL_WORK", "MAX_NETS", "QUANTILES",
    "fractions_above", "parseval_energy_bound", "net_mean_estimate",
    "check_nk", "check_init", "check_inits", "check_taus", "check_work", "check_total_work",
    "sq_binomial", "parseval_visible_bound", "draw_init_network", "draw",
    "gradient_fourier_sup_norms", "exact_net",
]


#: Initialisations of the 2-layer net.
INITS = ("dense", "sparse")


#: Largest n enumerated exactly (2^n inputs, two transforms of 2^n floats per neuron).
MAX_EXACT_N = 20


#: Largest n of the noisy-GD game, which enumerates all inputs at every step.
MAX_GD_N = 16


#: Largest n of the guess game (k-sets are 64-bit masks).
MAX_GUESS_N = 62


#: Largest tolerance of the guess game (see :func:`guess_success_probability`).
MAX_GUESS_TAU = 1.0


#: Most queries of the guess game (its hash set holds 2q masks per thread).
MAX_QUERIES = 2**20


#: Failure probability of the Hoeffding bracket of the sampled route, per parity.
HOEFFDING_DELTA = 1e-3


#: Most operations one net (one uninterruptible kernel call, or one GD step) may take: about a
#: minute of one core.
MAX_WORK_PER_NET = 2**36


#: Most operations a whole run may take: about an hour of one core. Past it a run is refused up
#: front (a huge --trials would otherwise run until killed).
MAX_TOTAL_WORK = 2**42


#: Most nets of :func:`simulate_sq_visible` and :func:`simulate_sq_noisy_gd` (each keeps a few
#: numbers per net in memory).
MAX_NETS = 10**6


#: Per-net quantile levels of ||g_S||_inf reported by :func:`simulate_sq_visible`.
QUANTILES = {"median": 0.5, "q90": 0.9, "q99": 0.99, "max": 1.0}


def check_nk(n, k, largest=None, why=""):
    n = check_kernel_size("n", n)
    k = check_kernel_size("k", k)
    check_subset_size("k", k, n)
    if largest is not None and n > largest:
        raise ValueError(f"n must be <= {largest} {why}, got {n}")
    return n, k


def check_init(init, s, n):
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if init == "sparse":
        if s is None:
            raise ValueError("s (the support size) is required for sparse init")
        s = check_kernel_size("s", s)
        check_subset_size("s", s, n)
        return init, s
    return init, 0


def check_inits(inits):
    if isinstance(inits, str):
        inits = [inits]
    inits = list(inits)
    if not inits:
        raise ValueError("init must name at least one of dense, sparse")
    seen = []
    for init in inits:
        if not isinstance(init, str) or init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
        if init not in seen:
            seen.append(init)
    return seen


def check_taus(values):
    arr = np.atleast_1d(np.asarray(values, dtype=object))
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError("tau must be one value or a non-empty list of values")
    out = sorted({float(check_positive("tau", v)) for v in arr.tolist()})
    return out


def check_work(operations, what):
    if operations > MAX_WORK_PER_NET:
        raise ValueError(f"{what} needs about {operations:.3g} operations per net, more than "
                         f"{MAX_WORK_PER_NET:.3g} (about a minute, and a net cannot be "
                         "interrupted); use a smaller width, n or sample")


def check_total_work(trials, per_trial, what, max_nets=None):
    """Refuse a run whose trials x per-trial operations exceed :data:`MAX_TOTAL_WORK`."""
    if max_nets is not None and trials > max_nets:
        raise ValueError(f"trials must be <= {max_nets} for {what}, got {trials}")
    if trials * per_trial > MAX_TOTAL_WORK:
        raise ValueError(f"{what} with trials={trials} needs about {trials * per_trial:.3g} "
                         f"operations, more than {MAX_TOTAL_WORK:.3g} (about an hour of one "
                         f"core); use at most {max(1, MAX_TOTAL_WORK // per_trial)} trials")


def sq_binomial(n, k):
    """C(n, k) as an exact int when cheap, else None; and its natural log."""
    exact = comb_exact(n, k) if comb_is_cheap(n, k) else None
    return exact, float(log_comb(n, k))


def parseval_visible_bound(n, k, params, tau) -> float:
    r"""The Parseval bound on the fraction of (n, k)-parities a gradient step can see.

    .. math:: \min\Bigl(1, \frac{r}{\tau^2 \binom{n}{k}}\Bigr)

    (derived here from Prop. 3's proof, module docstring; valid when every parameter's
    gradient has second moment at most 1). Computed in log-space, so it never overflows.

    Parameters
    ----------
    n, k : int
        Input dimension and parity degree.
    params : int
        Number of parameters r.
    tau : float
        Tolerance, > 0.

    Returns
    -------
    float

    Examples
    --------
    >>> parseval_visible_bound(20, 3, params=100, tau=0.5)  # 400 / 1140
    0.3508771929824561
    """
    n, k = check_nk(n, k)
    params = check_int("params", params)
    tau = float(check_positive("tau", tau))
    exact, log_c = sq_binomial(n, k)
    if exact is not None and params < 2**53:
        value = Fraction(params) / (Fraction(tau) ** 2 * exact)
        return float(min(Fraction(1), value))
    return math.exp(min(0.0, math.log(params) - 2.0 * math.log(tau) - log_c))


def draw_init_network(n, width, init="dense", s=None, seed=0, trial=0):
    """Draw net ``trial`` of ``seed``: the 2-layer ReLU net the simulations use.

    Parameters
    ----------
    n, width : int
        Input dimension and number of hidden neurons.
    init : {"dense", "sparse"}
        PyTorch default init, or s-sparse first layer (module docstring).
    s : int, optional
        Support size, required for sparse init.
    seed, trial : int
        The net is drawn from stream 2 * trial of ``seed``.

    Returns
    -------
    tuple
        ``(weights, biases, outputs, output_bias)``: arrays of shape (width, n), (width,),
        (width,) and a float.

    Examples
    --------
    >>> w, b, a, c = draw_init_network(6, 4, "sparse", s=2, seed=1)
    >>> (w != 0).sum(axis=1).tolist()
    [2, 2, 2, 2]
    """
    n = check_kernel_size("n", n)
    width = check_kernel_size("width", width)
    init, s = check_init(init, s, n)
    seed = check_seed(seed)
    trial = check_int("trial", trial, minimum=0, strict=True)
    if trial >= 2**62:
        raise ValueError(f"trial must be < 2**62, got {trial}")
    return draw(n, width, init == "sparse", s, seed, trial)


def draw(n, width, sparse, s, seed, trial):
    weights = np.empty((width, n))
    biases = np.empty(width)
    outputs = np.empty(width)
    c = draw_network(seed, 2 * trial, n, width, s if sparse else 0, sparse, weights, biases,
                     outputs)
    return weights, biases, outputs, float(c)


def gradient_fourier_sup_norms(n, k, weights, biases, outputs) -> dict:
    r"""Exact :math:`\|g_S\|_\infty` of a 2-layer ReLU net for every k-set S, by enumeration.

    With :math:`g_j(x) = 1[w_j \cdot x + b_j > 0]` and :math:`u_j = \mathrm{relu}(w_j \cdot x +
    b_j)`, the gradient coefficients on S are (derived here)

    .. math:: |\widehat{\partial_{W_{ji}} h}(S)| = |a_j\, \hat g_j(S \triangle \{i\})|, \quad
              |\widehat{\partial_{b_j} h}(S)| = |a_j\, \hat g_j(S)|, \quad
              |\widehat{\partial_{a_j} h}(S)| = |\hat u_j(S)|,

    and 0 for the output bias; one Walsh-Hadamard transform of g_j and one of u_j over all 2^n
    inputs give them for every S at once.

    Parameters
    ----------
    n, k : int
        Input dimension (at most :data:`MAX_EXACT_N`) and parity degree.
    weights, biases, outputs : array_like
        First-layer weights (width, n), biases (width,), output weights (width,).

    Returns
    -------
    dict
        ``masks``: the k-sets as int64 bit masks (bit i for coordinate i), in increasing order;
        ``sup_norm``: :math:`\|g_S\|_\infty` for each; ``energy``: the sum over the k-sets and
        all parameters of the squared coefficients; ``second_moment``: the largest
        :math:`\mathbb{E}[(\partial_i h)^2]` over parameters (the output bias counts 1).

    Examples
    --------
    >>> out = gradient_fourier_sup_norms(3, 3, [[1.0, 1.0, 1.0]], [0.0], [1.0])
    >>> out["masks"].tolist(), out["sup_norm"].tolist()  # 1[x1+x2+x3 > 0] = (1 + Maj)/2
    ([7], [0.25])
    """
    n, k = check_nk(n, k, MAX_EXACT_N, "for exact enumeration")
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    biases = np.ascontiguousarray(biases, dtype=np.float64)
    outputs = np.ascontiguousarray(outputs, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != n or weights.shape[0] < 1:
        raise ValueError(f"weights must have shape (width, n={n}), got {weights.shape}")
    width = weights.shape[0]
    if biases.shape != (width,) or outputs.shape != (width,):
        raise ValueError(f"biases and outputs must have shape ({width},)")
    for name, arr in (("weights", weights), ("biases", biases), ("outputs", outputs)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite")
    masks = subset_masks(n, k)
    return exact_net(n, masks, weights, biases, outputs)


def exact_net(n, masks, weights, biases, outputs):
    width = weights.shape[0]
    sup_norm = np.empty(masks.shape[0])
    energy = np.empty(width)
    moments = np.empty((width, 2))
    visible_exact_kernel(n, weights, biases, outputs, masks, numba.get_num_threads(), sup_norm,
                         energy, moments)
    second = max(1.0, float(np.max(outputs**2 * moments[:, 0])), float(np.max(moments[:, 1])))
    return {"masks": masks, "sup_norm": sup_norm, "energy": math.fsum(energy.tolist()),
            "second_moment": second}


def fractions_above(values, taus):
    """Fraction of ``values`` strictly above each tau."""
    ordered = np.sort(values)
    return 1.0 - np.searchsorted(ordered, taus, side="right") / ordered.size


def parseval_energy_bound(energy, tau, binomial, log_binomial):
    if binomial is not None:
        return float(min(Fraction(1), Fraction(energy) / (Fraction(tau) ** 2 * binomial)))
    if energy <= 0.0:
        return 0.0
    return math.exp(min(0.0, math.log(energy) - 2.0 * math.log(tau) - log_binomial))


#: Two-sided level of the intervals: each tail has 2.5%.
_TAIL = 0.025


def net_mean_estimate(fractions, seed) -> dict:
    r"""Mean of per-net fractions in [0, 1] with Student's t interval, clipped to [0, 1].

    When every net gives 0 the t interval collapses to [0, 0], certainty from a few nets. Then
    (derived here) :math:`\mathbb{E}[V] \le \Pr[V > 0] = p`, and no net of the N drawn had
    V > 0, so the exact (Clopper-Pearson) binomial 97.5% upper limit of p,
    :math:`1 - 0.025^{1/N}`, is a valid upper limit of the mean. Symmetrically, when every
    net gives 1, :math:`\mathbb{E}[V] \ge \Pr[V = 1]` and the lower limit is
    :math:`0.025^{1/N}`.
    """
    values = np.asarray(fractions, dtype=float)
    est = mean_estimate(values.tolist(), seed).as_dict()
    est["ci_low"] = max(0.0, est["ci_low"])
    est["ci_high"] = min(1.0, est["ci_high"])
    if np.all(values == 0.0):
        est["ci_high"] = 1.0 - _TAIL ** (1.0 / values.size)
    elif np.all(values == 1.0):
        est["ci_low"] = _TAIL ** (1.0 / values.size)
    return est
