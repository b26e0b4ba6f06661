r"""Monte Carlo of the statistical-query lower bound (Prop. 3 of Edelman et al. 2023).

Prop. 3 (PAPER.md sec. 2) rests on one quantity. For a model h with r parameters and a loss whose
derivative is :math:`\ell'(\hat y, y) = -y + \ell_0(\hat y)` (the half square loss
:math:`(\hat y - y)^2/2`, the correlation loss :math:`-y \hat y`, the hinge loss near
initialisation), the population gradients for the targets chi_S and 0 differ by

.. math:: g_S = \nabla L_D(h, \chi_S) - \nabla L_D(h, 0)
          = -\mathbb{E}_x[\chi_S(x)\, \nabla_\theta h(x)],

i.e. :math:`g_{S,i} = -\widehat{\partial_i h}(S)`, the Fourier coefficient on S of the i-th
parameter's gradient function (derived here; the unhalved square loss doubles it, which is the
same as halving tau). A gradient step is *informative* about S only if
:math:`\|g_S\|_\infty > \tau`: otherwise a tau-tolerant oracle may answer with the target-free
gradient. By Parseval, for each parameter :math:`\sum_S \widehat{\partial_i h}(S)^2 \le
\mathbb{E}[(\partial_i h)^2]`, so under the normalisation :math:`\mathbb{E}_x[(\partial_i h)^2]
\le 1` (implied by the paper's :math:`\|\nabla h(x)\|_\infty \le 1`) at most r / tau^2 of the
C(n, k) parities are visible:

.. math:: \frac{\#\{S : |S| = k,\ \|g_S\|_\infty > \tau\}}{\binom{n}{k}}
          \le \frac{\sum_i \sum_{|S|=k} \widehat{\partial_i h}(S)^2}{\tau^2 \binom{n}{k}}
          \le \min\Bigl(1, \frac{r}{\tau^2 \binom{n}{k}}\Bigr).

The middle term (``energy_bound``) holds for every net; the right one (``bound``) needs the
normalisation, which a net at initialisation can miss through dh/da_j = relu(w_j . x + b_j):
every row reports the fraction of nets that meet it (``normalised``).

Three experiments:

* :func:`simulate_sq_visible` -- the visible fraction of a real 2-layer ReLU net at
  initialisation, exactly (Walsh-Hadamard transform over all 2^n inputs, n <= 20) or from m
  samples and random S (any n), against both bounds, with the tolerance scales that say how
  loose the bound is (``tau_half``, where half the parities are visible, against
  ``tau_bound`` = sqrt(2 r / C(n, k)), where the bound is 1/2; measured in
  figures/reference/sq/);
* :func:`simulate_sq_guess` -- the lucky-guess learner with q correlation queries, against its
  exact success probability and the SQ bound 2 q / (tau^2 C(n, k)) (tau <= 1);
* :func:`simulate_sq_noisy_gd` -- gradient descent with a tau-tolerant oracle (Prop. 3's noisy
  GD): the probability that the run leaves the target-free trajectory within T steps, against
  delta* = 2 r T / (tau^2 C(n, k)).

Networks: h(x) = sum_j a_j relu(w_j . x + b_j) + c with the initialisation laws of
verify/model.py (dense: U(+-1/sqrt(n)) first layer; s-sparse: s random inputs per neuron,
weights and bias U(+-1/sqrt(s)); output layer U(+-1/sqrt(width))), reimplemented in Numba.
Net t of a run is drawn from stream 2t of the seed whatever the width, the initialisation or the
method (common random numbers), so exact and sampled routes see the same nets.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np
from parity_frontiers.simulate._config import (
    MAX_CHUNK_TRIALS,
    check_kernel_size,
    check_memory,
    check_seed,
    check_sizes,
    check_threads,
    check_trials,
    numba_threads,
    run_in_chunks,
)
from parity_frontiers.simulate._sq_kernels import (
    draw_network,
    guess_kernel,
    subset_masks,
    visible_exact_kernel,
    visible_sample_kernel,
)
from parity_frontiers.simulate.estimates import mean_estimate, proportion_estimate
from parity_frontiers.theory.binomial import comb_exact, comb_is_cheap, log_comb
from parity_frontiers.theory.checks import check_int, check_positive, check_subset_size
from parity_frontiers.theory.sq_bound import sq_max_success_probability, two_layer_param_count

__all__ = [
    "INITS",
    "MAX_EXACT_N",
    "MAX_GD_N",
    "draw_init_network",
    "gradient_fourier_sup_norms",
    "guess_success_probability",
    "parseval_visible_bound",
    "simulate_sq_visible",
    "simulate_sq_guess",
    "simulate_sq_noisy_gd",
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


# --- validation ----------------------------------------------------------------------------

def _check_nk(n, k, largest=None, why=""):
    n = check_kernel_size("n", n)
    k = check_kernel_size("k", k)
    check_subset_size("k", k, n)
    if largest is not None and n > largest:
        raise ValueError(f"n must be <= {largest} {why}, got {n}")
    return n, k


def _check_init(init, s, n):
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if init == "sparse":
        if s is None:
            raise ValueError("s (the support size) is required for sparse init")
        s = check_kernel_size("s", s)
        check_subset_size("s", s, n)
        return init, s
    return init, 0


def _check_inits(inits):
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


def _taus(values):
    arr = np.atleast_1d(np.asarray(values, dtype=object))
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError("tau must be one value or a non-empty list of values")
    out = sorted({float(check_positive("tau", v)) for v in arr.tolist()})
    return out


def _check_work(operations, what):
    if operations > MAX_WORK_PER_NET:
        raise ValueError(f"{what} needs about {operations:.3g} operations per net, more than "
                         f"{MAX_WORK_PER_NET:.3g} (about a minute, and a net cannot be "
                         "interrupted); use a smaller width, n or sample")


def _check_total_work(trials, per_trial, what, max_nets=None):
    """Refuse a run whose trials x per-trial operations exceed :data:`MAX_TOTAL_WORK`."""
    if max_nets is not None and trials > max_nets:
        raise ValueError(f"trials must be <= {max_nets} for {what}, got {trials}")
    if trials * per_trial > MAX_TOTAL_WORK:
        raise ValueError(f"{what} with trials={trials} needs about {trials * per_trial:.3g} "
                         f"operations, more than {MAX_TOTAL_WORK:.3g} (about an hour of one "
                         f"core); use at most {max(1, MAX_TOTAL_WORK // per_trial)} trials")


def _binomial(n, k):
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
    n, k = _check_nk(n, k)
    params = check_int("params", params)
    tau = float(check_positive("tau", tau))
    exact, log_c = _binomial(n, k)
    if exact is not None and params < 2**53:
        value = Fraction(params) / (Fraction(tau) ** 2 * exact)
        return float(min(Fraction(1), value))
    return math.exp(min(0.0, math.log(params) - 2.0 * math.log(tau) - log_c))


# --- networks ------------------------------------------------------------------------------

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
    init, s = _check_init(init, s, n)
    seed = check_seed(seed)
    trial = check_int("trial", trial, minimum=0, strict=True)
    if trial >= 2**62:
        raise ValueError(f"trial must be < 2**62, got {trial}")
    return _draw(n, width, init == "sparse", s, seed, trial)


def _draw(n, width, sparse, s, seed, trial):
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
    n, k = _check_nk(n, k, MAX_EXACT_N, "for exact enumeration")
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
    return _exact_net(n, masks, weights, biases, outputs)


def _exact_net(n, masks, weights, biases, outputs):
    width = weights.shape[0]
    sup_norm = np.empty(masks.shape[0])
    energy = np.empty(width)
    moments = np.empty((width, 2))
    visible_exact_kernel(n, weights, biases, outputs, masks, numba.get_num_threads(), sup_norm,
                         energy, moments)
    second = max(1.0, float(np.max(outputs**2 * moments[:, 0])), float(np.max(moments[:, 1])))
    return {"masks": masks, "sup_norm": sup_norm, "energy": math.fsum(energy.tolist()),
            "second_moment": second}


def _fractions_above(values, taus):
    """Fraction of ``values`` strictly above each tau."""
    ordered = np.sort(values)
    return 1.0 - np.searchsorted(ordered, taus, side="right") / ordered.size


def _energy_bound(energy, tau, binomial, log_binomial):
    if binomial is not None:
        return float(min(Fraction(1), Fraction(energy) / (Fraction(tau) ** 2 * binomial)))
    if energy <= 0.0:
        return 0.0
    return math.exp(min(0.0, math.log(energy) - 2.0 * math.log(tau) - log_binomial))


def _hoeffding_halfwidth(weights, biases, outputs, m, delta=HOEFFDING_DELTA):
    r"""Half-width eps with P(|error of one m-sample coefficient| > eps for some parameter) <=
    delta (Hoeffding plus a union bound over the width (n + 2) coefficients, derived here).

    The averaged terms are chi_S(x) times a parameter's gradient, and Hoeffding for terms in an
    interval of length L gives eps = L sqrt(ln(2 r'/delta) / (2 m)). chi_S dh/dW_ji and
    chi_S dh/db_j lie in [-|a_j|, |a_j|] (L = 2|a_j|): eps = |a_j| sqrt(2 ln(2 r'/delta) / m);
    dh/da_j = u_j lies in [0, span_j], span_j = ||w_j||_1 + |b_j|, but chi_S u_j lies in
    [-span_j, span_j] (L = 2 span_j): eps = span_j sqrt(2 ln(2 r'/delta) / m).
    """
    width, n = weights.shape
    log_term = math.log(2.0 * width * (n + 2) / delta)
    first = float(np.max(np.abs(outputs))) * math.sqrt(2.0 * log_term / m)
    spans = np.abs(weights).sum(axis=1) + np.abs(biases)
    second = float(np.max(spans)) * math.sqrt(2.0 * log_term / m)
    return max(first, second)


def _log_parseval_bound(params, tau, log_binomial):
    """Natural log of :func:`parseval_visible_bound` (finite where the bound underflows)."""
    return min(0.0, math.log(params) - 2.0 * math.log(tau) - log_binomial)


def _ratio(estimate, log_bound):
    """estimate / bound from the log of the bound: 0 for a zero estimate, None past a float."""
    if estimate <= 0.0:
        return 0.0
    log_ratio = math.log(estimate) - log_bound
    return math.exp(log_ratio) if log_ratio < 700.0 else None


#: Two-sided level of the intervals: each tail has 2.5%.
_TAIL = 0.025


def _net_mean_estimate(fractions, seed) -> dict:
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


# --- deliverable 1: the visible fraction ---------------------------------------------------

def simulate_sq_visible(n, k, widths, taus, init="dense", s=None, method="auto", samples=None,
                        parities=32, trials=20, seed=0, threads=None, progress=False,
                        memory_cap_bytes=None) -> dict:
    r"""Fraction of (n, k)-parities visible to one gradient step of a 2-layer ReLU net at init.

    For each initialisation, width r and tolerance tau, estimates

    .. math:: V(\tau) = \Pr_{\theta_0, S}\bigl[\|g_S(\theta_0)\|_\infty > \tau\bigr],\qquad
              g_S = -\mathbb{E}_x[\chi_S(x) \nabla_\theta h(x)]

    (module docstring) next to the Parseval bound min(1, r / (tau^2 C(n, k))) with r the
    parameter count w (n + 2) + 1.

    * ``method="exact"`` (n <= :data:`MAX_EXACT_N`): every k-set S of each drawn net is
      enumerated (:func:`gradient_fourier_sup_norms`), so V is exact per net; ``estimate`` is the
      mean over ``trials`` nets with Student's t interval (when every net gives 0, the upper
      limit is the exact binomial 1 - 0.025^(1/trials), see ``_net_mean_estimate``; likewise
      at 1). ``energy_bound`` averages the per-net
      Parseval bound :math:`\min(1, \sum_i \sum_S \widehat{\partial_i h}(S)^2/(\tau^2
      \binom{n}{k}))`, which each net's fraction obeys exactly.
    * ``method="sample"``: per net, ``parities`` uniform S and one shared sample of m uniform
      inputs give unbiased coefficient estimates. With eps the Hoeffding half-width
      (failure probability 1e-3 per S, union over parameters), the 95% interval runs from the
      Wilson lower limit of #{sup > tau + eps} to the Wilson upper limit of #{sup > tau - eps}
      over the trials x parities pairs. It covers the mean of the drawn nets' exact fractions
      (given the nets, the pairs are independent); net-to-net spread is not in it. No energy is
      computed; ``normalised`` uses the sufficient condition ||w_j||^2 + b_j^2 <= 1 for all j
      (E[relu(w . x + b)^2] <= E[(w . x + b)^2] = ||w||^2 + b^2).
    * ``method="auto"``: exact when n <= :data:`MAX_EXACT_N`, else sampled.

    Parameters
    ----------
    n, k : int
        Input dimension and parity degree.
    widths : int or sequence of int
        Hidden widths.
    taus : float or sequence of float
        Tolerances tau > 0.
    init : {"dense", "sparse"} or sequence of them
    s : int, optional
        Support size of sparse init.
    method : {"auto", "exact", "sample"}
    samples : int, optional
        m for the sampled route (default 2**14).
    parities : int, default 32
        Random S per net in the sampled route.
    trials : int, default 20
        Nets drawn per (init, width), at least 2.
    seed, threads, progress, memory_cap_bytes
        As in :func:`simulate.lottery.simulate_lottery`.

    Returns
    -------
    dict
        ``rows``: one per (init, width, tau) with ``estimate``, ``stderr``, ``ci_low``,
        ``ci_high``, ``trials``, ``seed``; ``bound`` (Parseval) and ``log10_bound`` (finite
        where ``bound`` underflows to 0); ``ratio`` = estimate / bound, computed from the log
        of the bound (0 for a zero estimate, None if it exceeds a float);
        ``energy_bound`` and ``energy_ratio`` = energy_bound / bound (exact route, else None);
        ``normalised`` (fraction of nets with every E[(dh/dtheta_i)^2] <= 1), ``params`` and
        ``sup_norm`` (per-net mean, median, q90, q99 and max of ||g_S||_inf, averaged over
        nets; ``sup_norm_sampled`` says they come from the sampled route, where each value is a
        noisy coefficient estimate: within ``sup_norm_eps`` = eps of the truth with
        probability >= 1 - 1e-3, but biased upward, a max of noisy |.| sitting at a noise floor
        near eps where the true coefficients are smaller; 0 on the exact route); ``eps``
        (sampled route) and ``counts`` (sampled route: pairs with sup > tau, > tau + eps and
        > tau - eps, for intervals at other levels).
        The tolerance scales answer "how loose is the bound": ``tau_half`` = the median of
        ||g_S||_inf over parities (averaged over nets), the tau at which a net's visible
        fraction is 1/2; ``tau_bound`` = sqrt(2 r / C(n, k)), where the bound is 1/2; and
        ``tau_ratio`` = tau_half / tau_bound (1 would mean the bound is tight at its
        half-way point; the bound, ~ tau^-2, overstates the visible fraction at tau_half by
        about tau_ratio^-2). A single row's keys are also at the top level; ``trials`` counts
        nets, ``pairs`` (sampled route) the (net, S) pairs behind the Wilson intervals.

    Examples
    --------
    >>> out = simulate_sq_visible(8, 2, widths=4, taus=[0.05, 0.5], trials=3, seed=0)
    >>> [row["estimate"] <= row["energy_bound"] <= row["bound"] for row in out["rows"]]
    [True, True]
    """
    if method not in ("auto", "exact", "sample"):
        raise ValueError(f"method must be one of auto, exact, sample, got {method!r}")
    n, k = _check_nk(n, k)
    if method == "exact" and n > MAX_EXACT_N:
        raise ValueError(f"n must be <= {MAX_EXACT_N} for exact enumeration, got {n}")
    if method == "auto":
        method = "exact" if n <= MAX_EXACT_N else "sample"
    inits = _check_inits(init)
    if "sparse" in inits:
        s = _check_init("sparse", s, n)[1]
    widths = check_sizes("width", widths)
    tau_list = _taus(taus)
    tau_arr = np.asarray(tau_list)
    trials = check_trials(trials)
    if trials < 2:
        raise ValueError("simulate_sq_visible needs trials >= 2 (its means need a spread)")
    seed = check_seed(seed)
    threads = check_threads(threads)
    r_max = widths[-1]
    if method == "exact":
        if samples is not None:
            raise ValueError("samples applies to method='sample' only")
        masks = subset_masks(n, k)
        count = masks.shape[0]

        def net_work(width):
            return width * (2 * n + 2) * 2**n + width * count * (n + 2)

        _check_work(net_work(r_max), f"exact visible fraction (n={n}, width={r_max})")
        check_memory(8 * (threads * 2 * 2**n + 2**n + (threads + 3) * count + r_max * (n + 5)),
                     memory_cap_bytes, f"exact visible fraction (n={n}, C(n,k)={count})")
    else:
        m = 2**14 if samples is None else check_kernel_size("samples", samples)
        parities = check_kernel_size("parities", parities)
        nwords = (m + 63) // 64

        def net_work(width):
            return width * m * (n + parities) + parities * width * n * nwords

        _check_work(net_work(r_max),
                    f"sampled visible fraction (n={n}, width={r_max}, samples={m})")
        check_memory(8 * (r_max * (m + nwords + n + 4) + n * nwords + parities * (k + 1)
                          + threads * (m + nwords + n)),
                     memory_cap_bytes,
                     f"sampled visible fraction (n={n}, width={r_max}, samples={m})")
    _check_total_work(trials, len(inits) * sum(net_work(w) for w in widths),
                      "the visible fraction", MAX_NETS)
    binomial, log_binomial = _binomial(n, k)

    configs = [(init_name, width) for init_name in inits for width in widths]
    per_config = {c: {"fractions": [], "energy": [], "normalised": 0, "quantiles": [],
                      "upper": np.zeros(len(tau_list), dtype=np.int64),
                      "lower": np.zeros(len(tau_list), dtype=np.int64),
                      "point": np.zeros(len(tau_list), dtype=np.int64), "eps": []}
                  for c in configs}

    def step(start, stop):
        for trial in range(start, stop):
            for init_name, width in configs:
                acc = per_config[(init_name, width)]
                weights, biases, outputs, _ = _draw(n, width, init_name == "sparse", s, seed,
                                                    trial)
                if method == "exact":
                    net = _exact_net(n, masks, weights, biases, outputs)
                    values = net["sup_norm"]
                    acc["energy"].append(net["energy"])
                    acc["normalised"] += net["second_moment"] <= 1.0
                    acc["fractions"].append(_fractions_above(values, tau_arr))
                else:
                    values = np.empty(parities)
                    visible_sample_kernel(n, k, weights, biases, outputs, m, seed,
                                          2 * trial + 1, values)
                    eps = _hoeffding_halfwidth(weights, biases, outputs, m)
                    acc["eps"].append(eps)
                    for index, tau in enumerate(tau_list):
                        acc["point"][index] += int(np.count_nonzero(values > tau))
                        acc["lower"][index] += int(np.count_nonzero(values > tau + eps))
                        acc["upper"][index] += int(np.count_nonzero(values > tau - eps))
                    # E[relu^2] <= ||w||^2 + b^2 bounds the only moment that can pass 1.
                    acc["normalised"] += bool(np.all((weights**2).sum(axis=1) + biases**2
                                                     <= 1.0))
                acc["quantiles"].append([float(values.mean())]
                                        + np.quantile(values, list(QUANTILES.values())).tolist())

    with numba_threads(threads):
        run_in_chunks(step, trials, progress, "sq visible")

    rows = []
    for init_name, width in configs:
        acc = per_config[(init_name, width)]
        params = two_layer_param_count(n, width)
        summary = np.mean(np.asarray(acc["quantiles"]), axis=0).tolist()
        sup = dict(zip(["mean", *QUANTILES], summary, strict=True))
        # Where r / (tau^2 C(n, k)) = 1/2, in log space (C(n, k) may overflow a float).
        tau_bound = math.exp(0.5 * (math.log(2.0 * params) - log_binomial))
        for index, tau in enumerate(tau_list):
            bound = parseval_visible_bound(n, k, params, tau)
            log_bound = _log_parseval_bound(params, tau, log_binomial)
            row = {"init": init_name, "s": s if init_name == "sparse" else None, "width": width,
                   "params": params, "tau": tau, "method": method}
            if method == "exact":
                values = _net_mean_estimate([f[index] for f in acc["fractions"]], seed)
                energy_bound = float(np.mean([_energy_bound(e, tau, binomial, log_binomial)
                                              for e in acc["energy"]]))
                extra = {"energy_bound": energy_bound,
                         "energy_ratio": energy_bound / bound if bound > 0.0 else None}
            else:
                pairs = trials * parities
                point = proportion_estimate(int(acc["point"][index]), pairs, seed)
                low = proportion_estimate(int(acc["lower"][index]), pairs, seed)
                high = proportion_estimate(int(acc["upper"][index]), pairs, seed)
                values = {**point.as_dict(), "ci_low": low.ci_low, "ci_high": high.ci_high}
                extra = {"energy_bound": None, "energy_ratio": None, "samples": m,
                         "parities": parities, "pairs": pairs,
                         "counts": {"point": int(acc["point"][index]),
                                    "lower": int(acc["lower"][index]),
                                    "upper": int(acc["upper"][index])},
                         "eps": float(np.mean(acc["eps"])), "eps_max": float(np.max(acc["eps"]))}
            values["trials"] = trials
            row.update(values)
            row.update(extra)
            row.update({"bound": bound,
                        "log10_bound": log_bound / math.log(10),
                        "ratio": _ratio(values["estimate"], log_bound),
                        "normalised": acc["normalised"] / trials,
                        "sup_norm": sup,
                        "sup_norm_sampled": method == "sample",
                        "sup_norm_eps": extra["eps"] if method == "sample" else 0.0,
                        "tau_half": sup["median"],
                        "tau_bound": tau_bound,
                        "tau_ratio": sup["median"] / tau_bound})
            rows.append(row)
    out = {"n": n, "k": k, "binomial": binomial, "log10_binomial": log_binomial / math.log(10),
           "method": method, "trials": trials, "seed": seed, "rows": rows}
    if len(rows) == 1:
        out.update(rows[0])
    return out


# --- deliverable 2a: the lucky-guess learner -----------------------------------------------

def _check_guess_tau(tau) -> float:
    tau = float(check_positive("tau", tau))
    if tau > MAX_GUESS_TAU:
        raise ValueError(f"tau must be <= {MAX_GUESS_TAU:g} for the guess game (correlations lie "
                         f"in [-1, 1], so a larger tolerance answers nothing), got {tau:g}")
    return tau


def guess_success_probability(n, k, queries, tau, oracle="random") -> float:
    r"""Exact success probability of the lucky-guess learner (derived here).

    The learner asks q distinct uniform k-sets T, receives E[chi_T chi_S] = 1[T = S] within
    tolerance tau, and outputs the T with the largest answer (earliest on ties). With
    :math:`p = q / \binom{n}{k}` the chance that S is asked, and a = 1/tau:

    * random oracle (answers perturbed by U(-tau, tau) noise): S wins iff 1 + U_0 exceeds the
      q - 1 other answers, so

      .. math:: P = p \Bigl[\frac{a}{2} + \frac{1 - (a/2)^q}{q}\Bigr] \ (a < 2), \qquad
                P = p \ (\tau \le 1/2);

    * adversarial-sign oracle (1 - tau for S, +tau for every other set): P = p for
      tau < 1/2, and for tau >= 1/2 only the first query can win: P = 1 / C(n, k) when
      tau = 1/2 or q = 1, else 0.

    The tolerance must be at most 1 (:data:`MAX_GUESS_TAU`): correlations lie in [-1, 1], so
    at tau >= 1 the answer 0 is valid for every query and the game carries no information by
    the SQ definition; yet the learner still outputs one of its queries, winning with
    probability >= 1 / C(n, k), which breaks the bound 2 q / (tau^2 C(n, k)) once
    tau > sqrt(2 q). Counting that output as one more query does not rescue it for the random
    oracle, whose U(-tau, tau) noise is not adversarial and still leaks S: its success
    p (a/2 + ...) grows like q / (2 tau C(n, k)), above (2 q / tau^2 + 1) / C(n, k) for
    tau > 4 and large q. For tau <= 1 both oracles give P <= q / C(n, k) <= 2 q / (tau^2
    C(n, k)) (derived here: :math:`(1 - x^q)/q \le 1 - x` for x = a/2 in [1/2, 1)), so the
    SQ bound holds as stated.

    Parameters
    ----------
    n, k : int
        Input dimension and parity degree.
    queries : int
        Number of distinct queries q, at most C(n, k).
    tau : float
        Oracle tolerance, 0 < tau <= 1.
    oracle : {"random", "adversarial"}

    Returns
    -------
    float
        P(the learner outputs S).

    Examples
    --------
    >>> guess_success_probability(10, 2, 9, 0.25)  # 9 / 45
    0.2
    >>> round(guess_success_probability(10, 2, 2, 1.0) * 45 / 2, 6)  # 7/8 when S is asked
    0.875
    """
    n, k = _check_nk(n, k)
    q = check_int("queries", queries)
    tau = _check_guess_tau(tau)
    if oracle not in ("random", "adversarial"):
        raise ValueError(f"oracle must be random or adversarial, got {oracle!r}")
    binomial, log_binomial = _binomial(n, k)
    if binomial is not None and q > binomial:
        raise ValueError(f"queries must be <= C(n, k) = {binomial} (distinct queries), got {q}")
    asked = q / binomial if binomial is not None else math.exp(math.log(q) - log_binomial)
    single = asked / q
    if oracle == "adversarial":
        if tau < 0.5:
            return asked
        return single if (tau == 0.5 or q == 1) else 0.0
    if tau <= 0.5:
        return asked
    half_a = 0.5 / tau
    return asked * (half_a + (1.0 - half_a**q) / q)


def simulate_sq_guess(n, k, queries, tau, oracle="random", trials=10_000, seed=0, threads=None,
                      progress=False) -> dict:
    r"""Monte Carlo of the lucky-guess SQ learner, against its exact value and the SQ bound.

    Each trial draws S, plays the game of :func:`guess_success_probability` and records whether
    the learner's output is S. The SQ bound for q queries of tolerance tau (Prop. 3 with r = 1
    and T = q, theory.sq_bound) is

    .. math:: \min\Bigl(1, \frac{2q}{\tau^2 \binom{n}{k}}\Bigr),

    valid for this learner at tau <= 1 (larger tolerances are refused; see
    :func:`guess_success_probability` for why).

    Parameters
    ----------
    n, k : int
        Input dimension (at most 62) and parity degree.
    queries : int or sequence of int
        Numbers of queries q (each at most C(n, k) and 2**20).
    tau : float
        Oracle tolerance, 0 < tau <= 1.
    oracle : {"random", "adversarial"}
    trials, seed, threads, progress
        As in :func:`simulate.lottery.simulate_lottery`.

    Returns
    -------
    dict
        ``rows``: per q, ``estimate``, ``stderr``, ``ci_low``, ``ci_high`` (Wilson),
        ``trials``, ``seed``, ``exact``, ``asked`` (P(S among the queries), Wilson, with exact
        q / C(n, k)) and ``bound``. A single row's keys are also at the top level.

    Examples
    --------
    >>> out = simulate_sq_guess(8, 2, queries=7, tau=0.25, trials=2000, seed=0)
    >>> out["ci_low"] <= out["exact"] == 0.25 <= out["ci_high"] and out["exact"] <= out["bound"]
    True
    """
    n, k = _check_nk(n, k, MAX_GUESS_N, "for the guess game (64-bit set masks)")
    query_list = check_sizes("queries", queries)
    tau = _check_guess_tau(tau)
    if oracle not in ("random", "adversarial"):
        raise ValueError(f"oracle must be random or adversarial, got {oracle!r}")
    binomial, _ = _binomial(n, k)
    if query_list[-1] > MAX_QUERIES:
        raise ValueError(f"queries must be <= {MAX_QUERIES}, got {query_list[-1]}")
    if query_list[-1] > binomial:
        raise ValueError(f"queries must be <= C(n, k) = {binomial} (distinct queries), got "
                         f"{query_list[-1]}")
    trials = check_trials(trials)
    # A trial draws S and q query sets of k coordinates, hashing each: ~ q (k + 2) plus a
    # fixed cost.
    _check_total_work(trials, sum(q * (k + 2) + 64 for q in query_list), "the guess game")
    seed = check_seed(seed)
    threads = check_threads(threads)
    check_memory(8 * (threads * 4 * query_list[-1] + 2 * min(trials, MAX_CHUNK_TRIALS)), None,
                 f"guess game (queries={query_list[-1]})")

    rows = []
    with numba_threads(threads):
        for q in query_list:
            tally = {"wins": 0, "asked": 0}

            def step(start, stop, q=q, tally=tally):
                wins = np.zeros(stop - start, dtype=np.int64)
                asked = np.zeros(stop - start, dtype=np.int64)
                guess_kernel(n, k, q, tau, oracle == "adversarial", seed, start, stop, wins,
                             asked)
                tally["wins"] += int(wins.sum())
                tally["asked"] += int(asked.sum())

            run_in_chunks(step, trials, progress, f"sq guess q={q}")
            asked = proportion_estimate(tally["asked"], trials, seed).as_dict()
            asked["exact"] = q / binomial
            rows.append({"queries": q, "tau": tau, "oracle": oracle,
                         **proportion_estimate(tally["wins"], trials, seed).as_dict(),
                         "exact": guess_success_probability(n, k, q, tau, oracle),
                         "asked": asked,
                         "bound": float(sq_max_success_probability(n, k, 1, q, tau=tau))})
    out = {"n": n, "k": k, "binomial": binomial, "tau": tau, "oracle": oracle, "trials": trials,
           "seed": seed, "rows": rows}
    if len(rows) == 1:
        out.update(rows[0])
    return out


# --- deliverable 2b: noisy gradient descent ------------------------------------------------

def all_inputs(n):
    """All 2^n inputs as a (2^n, n) +-1 float matrix, row x having -1 where bit i of x is 1."""
    codes = np.arange(2**n, dtype=np.int64)[:, None]
    return 1.0 - 2.0 * ((codes >> np.arange(n)) & 1).astype(np.float64)


def _target_free_gradient(inputs, weights, biases, outputs, output_bias):
    r"""Population gradient of the half square loss against the zero target:
    :math:`\mathbb{E}_x[h(x) \nabla_\theta h(x)]` (every input equally likely)."""
    pre = inputs @ weights.T + biases
    active = pre > 0.0
    relu = np.where(active, pre, 0.0)
    h = relu @ outputs + output_bias
    size = inputs.shape[0]
    back = (h[:, None] * active) * outputs  # dL/dpre, per input and neuron
    return (back.T @ inputs / size, back.mean(axis=0), relu.T @ h / size, float(h.mean()))


_DIVERGED = "gradient descent diverged (non-finite weights); use a smaller lr"


def simulate_sq_noisy_gd(n, k, width, taus, steps, lr=0.1, weight_decay=0.0, init="dense",
                         s=None, trials=20, seed=0, threads=None, progress=False,
                         memory_cap_bytes=None) -> dict:
    r"""P(noisy GD leaves the target-free trajectory within T steps), against Prop. 3's delta*.

    Prop. 3's noisy GD on a 2-layer ReLU net with the half square loss and full-batch population
    gradients (all 2^n inputs):
    :math:`\theta_{t+1} = \theta_t - \eta(\nabla L_D(h_{\theta_t}, y) + \lambda\theta_t + \xi_t)`,
    where the tau-tolerant oracle returns the target-free gradient
    :math:`\nabla L_D(h, 0)` whenever every coordinate of the true one is within tau of it,
    i.e. while :math:`\|g_S(\theta_t)\|_\infty \le \tau`. Until then the run follows the
    target-free trajectory :math:`\theta^0_t`, which does not depend on S, so (derived here)

    .. math:: \Pr[\text{leave within } T] = \Pr_{\theta_0, S}\bigl[\exists t < T :
              \|g_S(\theta^0_t)\|_\infty > \tau\bigr]
              \le \sum_{t<T} \frac{\sum_i \sum_S \widehat{\partial_i h_{\theta^0_t}}(S)^2}
              {\tau^2 \binom{n}{k}} \le \frac{r T}{\tau^2 \binom{n}{k}} \le \delta^*
              = \frac{2 r T}{\tau^2 \binom{n}{k}}

    (the middle inequality under the normalisation of the module docstring). Per drawn
    initialisation the fraction of all C(n, k) parities that leave is computed exactly; the
    ``estimate`` is its mean over ``trials`` initialisations with Student's t interval.

    Parameters
    ----------
    n, k : int
        Input dimension (at most :data:`MAX_GD_N`) and parity degree.
    width : int
        Hidden width.
    taus : float or sequence of float
        Oracle tolerances tau > 0.
    steps : int
        Number of steps T.
    lr, weight_decay : float
        Learning rate eta > 0 and weight decay lambda >= 0.
    init, s
        As in :func:`simulate_sq_visible` (one initialisation).
    trials, seed, threads, progress, memory_cap_bytes
        As in :func:`simulate.lottery.simulate_lottery`; ``trials`` >= 2.

    Returns
    -------
    dict
        ``rows``: per tau, ``estimate``, ``stderr``, ``ci_low``, ``ci_high``, ``trials``,
        ``seed``; ``bound`` (delta* from theory.sq_bound), ``energy_bound`` (mean over runs of
        the union Parseval bound above, capped at 1), ``by_step`` (mean fraction left within
        1..T steps) and ``normalised`` (fraction of runs normalised at every step). A single
        row's keys are also at the top level.

    Examples
    --------
    >>> out = simulate_sq_noisy_gd(6, 2, width=4, taus=0.02, steps=3, trials=3, seed=0)
    >>> out["estimate"] <= out["energy_bound"] <= out["bound"]
    True
    """
    n, k = _check_nk(n, k, MAX_GD_N, "for noisy GD (it enumerates all 2^n inputs each step)")
    width = check_kernel_size("width", width)
    init, s = _check_init(init, s, n)
    tau_list = _taus(taus)
    tau_arr = np.asarray(tau_list)
    steps = check_kernel_size("steps", steps)
    if steps > 10**5:
        raise ValueError(f"steps must be <= 100000, got {steps}")
    lr = float(check_positive("lr", lr))
    weight_decay = float(np.asarray(weight_decay, dtype=float))
    if not math.isfinite(weight_decay) or weight_decay < 0:
        raise ValueError(f"weight_decay must be finite and >= 0, got {weight_decay!r}")
    trials = check_trials(trials)
    if trials < 2:
        raise ValueError("simulate_sq_noisy_gd needs trials >= 2 (its means need a spread)")
    seed = check_seed(seed)
    threads = check_threads(threads)
    masks = subset_masks(n, k)
    count = masks.shape[0]
    step_work = width * (4 * n + 2) * 2**n + width * count * (n + 2)
    _check_work(step_work, f"noisy GD (n={n}, width={width})")
    if steps * step_work > 16 * MAX_WORK_PER_NET:
        raise ValueError(f"noisy GD with steps={steps}, width={width}, n={n} would run for "
                         "over a quarter of an hour per net; use fewer steps or a smaller net")
    _check_total_work(trials, steps * step_work, "noisy GD", MAX_NETS)
    check_memory(8 * (2**n * (n + 4 * width + 2) + threads * 2 * 2**n + (threads + 4) * count),
                 memory_cap_bytes, f"noisy GD (n={n}, width={width})")
    binomial, log_binomial = _binomial(n, k)
    inputs = all_inputs(n)
    params = two_layer_param_count(n, width)

    fractions, curves, energy_bounds = [], [], []
    tally = {"normalised": 0}

    def step(start, stop):
        for trial in range(start, stop):
            weights, biases, outputs, output_bias = _draw(n, width, init == "sparse", s, seed,
                                                          trial)
            running = np.zeros(count)
            curve = np.empty((steps, len(tau_list)))
            energy_total = 0.0
            normalised = True
            for t in range(steps):
                net = _exact_net(n, masks, weights, biases, outputs)
                np.maximum(running, net["sup_norm"], out=running)
                curve[t] = _fractions_above(running, tau_arr)
                energy_total += net["energy"]
                normalised &= net["second_moment"] <= 1.0
                if not math.isfinite(net["energy"]):
                    raise ValueError(_DIVERGED)
                if t + 1 < steps:
                    # A divergent step overflows; stop at the first one, quietly, with one error
                    # instead of a warning per later step.
                    with np.errstate(all="ignore"):
                        g_w, g_b, g_a, g_c = _target_free_gradient(inputs, weights, biases,
                                                                   outputs, output_bias)
                        weights = weights - lr * (g_w + weight_decay * weights)
                        biases = biases - lr * (g_b + weight_decay * biases)
                        outputs = outputs - lr * (g_a + weight_decay * outputs)
                        output_bias -= lr * (g_c + weight_decay * output_bias)
                    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(biases))
                            and np.all(np.isfinite(outputs)) and math.isfinite(output_bias)):
                        raise ValueError(_DIVERGED)
            fractions.append(curve[-1])
            curves.append(curve)
            energy_bounds.append([_energy_bound(energy_total, tau, binomial, log_binomial)
                                  for tau in tau_list])
            tally["normalised"] += normalised

    with numba_threads(threads):
        run_in_chunks(step, trials, progress, "sq noisy-gd")

    rows = []
    mean_curve = np.mean(np.asarray(curves), axis=0)
    for index, tau in enumerate(tau_list):
        est = _net_mean_estimate([f[index] for f in fractions], seed)
        rows.append({"tau": tau, **est,
                     "bound": float(sq_max_success_probability(n, k, params, steps, tau=tau)),
                     "energy_bound": float(np.mean([e[index] for e in energy_bounds])),
                     "by_step": mean_curve[:, index].tolist()})
    out = {"n": n, "k": k, "binomial": binomial, "init": init,
           "s": s if init == "sparse" else None, "width": width, "params": params,
           "steps": steps, "lr": lr, "weight_decay": weight_decay, "trials": trials,
           "seed": seed, "normalised": tally["normalised"] / trials, "rows": rows}
    if len(rows) == 1:
        out.update(rows[0])
    return out
