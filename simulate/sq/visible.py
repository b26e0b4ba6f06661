"""The visible fraction of parities of a real 2-layer ReLU net at initialisation, exactly
(Walsh-Hadamard over all 2^n inputs) or from m samples, against the Parseval bound
(docs/theory.md §2; derivation in :mod:`parity_frontiers.simulate.sq`).
"""

from __future__ import annotations

import math

import numpy as np

from parity_frontiers.simulate._config import (
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
    subset_masks,
    visible_sample_kernel,
)
from parity_frontiers.simulate.budget import (
    SECONDS_PER_VISIBLE_EXACT_OP,
    SECONDS_PER_VISIBLE_SAMPLE_OP,
    parallel_speedup,
)
from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.simulate.sq.networks import (
    HOEFFDING_DELTA,
    MAX_EXACT_N,
    MAX_NETS,
    QUANTILES,
    check_init,
    check_inits,
    check_nk,
    check_taus,
    check_total_work,
    check_work,
    draw,
    exact_net,
    fractions_above,
    net_mean_estimate,
    parseval_energy_bound,
    parseval_visible_bound,
    sq_binomial,
)
from parity_frontiers.theory.sq_bound import two_layer_param_count

__all__ = [
    "simulate_sq_visible",
]






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
      limit is the exact binomial 1 - 0.025^(1/trials), see ``net_mean_estimate``; likewise
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
    n, k = check_nk(n, k)
    if method == "exact" and n > MAX_EXACT_N:
        raise ValueError(f"n must be <= {MAX_EXACT_N} for exact enumeration, got {n}")
    if method == "auto":
        method = "exact" if n <= MAX_EXACT_N else "sample"
    inits = check_inits(init)
    if "sparse" in inits:
        s = check_init("sparse", s, n)[1]
    widths = check_sizes("width", widths)
    tau_list = check_taus(taus)
    tau_arr = np.asarray(tau_list)
    trials = check_trials(trials)
    if trials < 2:
        raise ValueError("trials must be >= 2 for the visible fraction (its means need a "
                         "spread)")
    seed = check_seed(seed)
    threads = check_threads(threads)
    r_max = widths[-1]
    if method == "exact":
        if samples is not None:
            raise ValueError("samples applies to method 'sample' only, not 'exact'")
        masks = subset_masks(n, k)
        count = masks.shape[0]

        def net_work(width):
            return width * (2 * n + 2) * 2**n + width * count * (n + 2)

        check_work(net_work(r_max), f"exact visible fraction (n={n}, width={r_max})")
        check_memory(8 * (threads * 2 * 2**n + 2**n + (threads + 3) * count + r_max * (n + 5)),
                     memory_cap_bytes, f"exact visible fraction (n={n}, C(n,k)={count})")
    else:
        m = 2**14 if samples is None else check_kernel_size("samples", samples)
        parities = check_kernel_size("parities", parities)
        nwords = (m + 63) // 64

        def net_work(width):
            return width * m * (n + parities) + parities * width * n * nwords

        check_work(net_work(r_max),
                    f"sampled visible fraction (n={n}, width={r_max}, samples={m})")
        check_memory(8 * (r_max * (m + nwords + n + 4) + n * nwords + parities * (k + 1)
                          + threads * (m + nwords + n)),
                     memory_cap_bytes,
                     f"sampled visible fraction (n={n}, width={r_max}, samples={m})")
    per_trial = len(inits) * sum(net_work(w) for w in widths)
    check_total_work(trials, per_trial, "the visible fraction", MAX_NETS)
    rate = (SECONDS_PER_VISIBLE_EXACT_OP * (1 + 0.25 * max(0, n - 14)) if method == "exact"
            else SECONDS_PER_VISIBLE_SAMPLE_OP)
    binomial, log_binomial = sq_binomial(n, k)

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
                weights, biases, outputs, _ = draw(n, width, init_name == "sparse", s, seed,
                                                    trial)
                if method == "exact":
                    net = exact_net(n, masks, weights, biases, outputs)
                    values = net["sup_norm"]
                    acc["energy"].append(net["energy"])
                    acc["normalised"] += net["second_moment"] <= 1.0
                    acc["fractions"].append(fractions_above(values, tau_arr))
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
        run_in_chunks(step, trials, progress, "sq visible",
                      seconds_per_trial=rate * per_trial / parallel_speedup(threads, r_max))

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
                values = net_mean_estimate([f[index] for f in acc["fractions"]], seed)
                energy_bound = float(np.mean([parseval_energy_bound(e, tau, binomial, log_binomial)
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
