"""One-call summaries of the theory for a single configuration (what the CLI prints).

Each function validates its inputs, evaluates the relevant formulas of the other modules and
returns a plain dict of JSON-ready values (exact rationals as ``"p/q"`` strings, numbers too
large for a float as ``None`` next to their always-finite ``log10_*`` companion).
"""

from __future__ import annotations

import math

from parity_frontiers.theory.binomial import comb_exact, log10_comb
from parity_frontiers.theory.checks import check_int, check_probability, check_rational
from parity_frontiers.theory.fourier_gaps import (
    hoeffding_sample_size,
    kappa_row_exact,
    neuron_gradient_by_class,
    selection_gap,
)
from parity_frontiers.theory.lottery import (
    MAX_LAW_LENGTH,
    log10_width_needed,
    log_overlap_pmf,
    log_p_lucky,
    overlap_pmf,
    p_at_least_one_lucky,
    width_needed,
)
from parity_frontiers.theory.sq_bound import (
    sq_log10_cost,
    sq_log10_max_success_probability,
    sq_log10_threshold,
    sq_max_success_probability,
    sq_rules_out,
    sq_solve,
    two_layer_param_count,
)
from parity_frontiers.theory.upper_bounds import upper_bound_frontier

__all__ = ["sq_bound_summary", "lottery_summary", "gap_summary", "demo_summary"]

_FLOAT_DIGITS = 300


def _maybe_int(log10_value: float, exact_int):
    return exact_int if exact_int is not None and log10_value < _FLOAT_DIGITS else None


def sq_bound_summary(n, k, *, params=None, width=None, steps=None, samples=None, tau=None,
                     delta=None, solve_for=None) -> dict:
    """Evaluate Proposition 3 for one configuration, optionally solving for one resource.

    Parameters
    ----------
    n, k : int
        Dimension and parity degree.
    params, width : int, optional
        Model size as a parameter count r, or as the width w of a 2-layer MLP
        (r = w(n + 2) + 1). Give at most one.
    steps : int, optional
        Iterations T.
    samples, tau : optional
        Sample size m (tau = 1/sqrt(m)) or tolerance tau; at most one.
    delta : float or Fraction, optional
        Target success probability; enters the cost r T m / delta and the solved resource,
        in exact arithmetic where C(n, k) allows (a Fraction such as 1/10 exactly; a float as
        the binary number it is). Returned as ``delta`` (float) and ``delta_exact`` ("p/q").
    solve_for : {"params", "steps", "samples", "delta"}, optional
        Resource to solve for; it must not be given.

    Returns
    -------
    dict
        Always ``n``, ``k``, ``log10_threshold``. When every resource is known (after solving):
        ``max_success_probability``, ``log10_max_success_probability``, ``log10_cost``
        (log10 of r T m / delta, or r T / (tau^2 delta); without delta, delta = 1), and with
        delta ``forbidden``: True when the bound rules out success probability >= delta
        (decided exactly, see :func:`theory.sq_bound.sq_rules_out`). When solving:
        ``solved_for``, ``solved_value``, ``log10_solved_value``, ``exact`` and, for params,
        ``solved_width`` (smallest 2-layer width with at least that many parameters). A
        solved value beyond 1e300 is None; the resources are then at the real-valued
        frontier, where by definition the success probability is delta and the cost equals
        the threshold, and those keys are filled from that.

    Examples
    --------
    >>> out = sq_bound_summary(50, 3, width=10, steps=100, samples=10, solve_for="delta")
    >>> out["params"], round(out["solved_value"], 6)
    (521, 1.0)
    """
    if isinstance(delta, (str, bytes)):
        raise ValueError(f"delta must be a number or a Fraction, got {delta!r}")
    n_int = check_int("n", n)
    k_int = _check_at_most_n("k", k, n_int)
    if params is not None and width is not None:
        raise ValueError("params and width are alternatives (params = width*(n+2)+1); give one")
    if samples is not None and tau is not None:
        raise ValueError("samples and tau are alternatives (tau = 1/sqrt(samples)); give one")
    if width is not None:
        params = two_layer_param_count(n_int, check_int("width", width))
    out = {"n": n_int, "k": k_int}
    out["log10_binomial"] = float(log10_comb(n_int, k_int))
    # The exact integer while it is readable (<= 300 digits); the log always.
    out["binomial"] = comb_exact(n_int, k_int) if out["log10_binomial"] < 300 else None
    out["log10_threshold"] = sq_log10_threshold(n_int, k_int)
    out.update({"params": params, "width": width, "steps": steps, "samples": samples,
                "tau": tau, "delta": None if delta is None else float(delta)})
    if delta is not None:  # the value solved with, exactly (a Fraction stays 1/10)
        out["delta_exact"] = _frac(check_rational("delta", delta))

    if solve_for is not None:
        solution = sq_solve(n_int, k_int, solve_for, params=params, steps=steps,
                            samples=samples, tau=tau, delta=delta)
        out.update({"solved_for": solve_for, "solved_value": solution.value,
                    "log10_solved_value": solution.log10_value, "exact": solution.exact})
        if solve_for == "params" and solution.value is not None:
            out["solved_width"] = max(1, -(-(solution.value - 1) // (n_int + 2)))
        if solve_for == "delta":
            return _with_probability(out, n_int, k_int, params, steps, samples, tau, None)
        if solution.value is None:
            out["max_success_probability"] = float(delta)
            out["log10_max_success_probability"] = math.log10(delta)
            out["log10_cost"] = out["log10_threshold"]
            out["forbidden"] = False
            return out
        resolved = {"params": params, "steps": steps, "samples": samples}
        resolved[solve_for] = solution.value
        out[solve_for] = solution.value
        params, steps, samples = resolved["params"], resolved["steps"], resolved["samples"]
    missing = [name for name, value in (("params (or width)", params), ("steps", steps),
                                        ("samples (or tau)", samples if tau is None else tau))
               if value is None]
    if missing:
        raise ValueError(f"{missing[0]} is required (or solve for it with solve_for)")
    return _with_probability(out, n_int, k_int, params, steps, samples, tau, delta)


def _with_probability(out, n, k, params, steps, samples, tau, delta):
    out["max_success_probability"] = sq_max_success_probability(
        n, k, params, steps, tau=tau, samples=samples)
    out["log10_max_success_probability"] = sq_log10_max_success_probability(
        n, k, params, steps, tau=tau, samples=samples)
    out["log10_cost"] = sq_log10_cost(params, steps, tau=tau, samples=samples, delta=delta)
    if delta is not None:
        out["forbidden"] = sq_rules_out(n, k, params, steps, tau=tau, samples=samples,
                                        delta=delta)
    return out


def lottery_summary(n, k, s, *, width=None, delta=None) -> dict:
    """Lucky-neuron probabilities of s-sparse initialisation for one (n, k, s).

    Returns
    -------
    dict
        ``regime`` ("over-sparse" when s >= k: S inside U; "under-sparse": U inside S),
        ``p_lucky``, ``log10_p_lucky``, ``overlap_pmf`` and ``log10_overlap_pmf``
        (j = 0..min(s, k); None when that is over 10,000 entries; entries of the log law are
        None where the overlap is impossible); with ``width``:
        ``p_at_least_one``, ``expected_lucky``; with ``delta``: ``width_needed`` (None
        beyond 1e300) and ``log10_width_needed``.

    Examples
    --------
    >>> out = lottery_summary(50, 3, 2, width=1000, delta=0.01)
    >>> out["regime"], out["width_needed"]
    ('under-sparse', 1879)
    """
    log_p = log_p_lucky(n, k, s)  # validates n, k, s
    n_int, k_int, s_int = check_int("n", n), check_int("k", k), check_int("s", s)
    out = {
        "n": n_int, "k": k_int, "s": s_int,
        "regime": "over-sparse" if s_int >= k_int else "under-sparse",
        "p_lucky": math.exp(log_p),
        "log10_p_lucky": log_p / math.log(10.0),
    }
    if min(s_int, k_int) < MAX_LAW_LENGTH:
        out["overlap_pmf"] = [float(v) for v in overlap_pmf(n_int, k_int, s_int)]
        # None marks an impossible overlap (log of probability 0), as JSON has no -inf.
        out["log10_overlap_pmf"] = [float(v) / math.log(10.0) if math.isfinite(v) else None
                                    for v in log_overlap_pmf(n_int, k_int, s_int)]
    else:  # a law with more entries than anyone reads; ask overlap_pmf for the js needed
        out["overlap_pmf"] = out["log10_overlap_pmf"] = None
    if width is not None:
        w = check_int("width", width)
        out["width"] = w
        out["p_at_least_one"] = p_at_least_one_lucky(n_int, k_int, s_int, w)
        out["expected_lucky"] = w * out["p_lucky"]
        out["log10_expected_lucky"] = math.log10(w) + out["log10_p_lucky"]
    if delta is not None:
        out["delta"] = float(check_probability("delta", delta))
        log10_r = log10_width_needed(n_int, k_int, s_int, delta)
        out["log10_width_needed"] = log10_r
        out["width_needed"] = (width_needed(n_int, k_int, s_int, delta)
                               if log10_r <= _FLOAT_DIGITS else None)
    return out


def gap_summary(s, k, bias=0, *, n=None, delta=0.01) -> dict:
    """Fourier coefficients, per-class gradients and the gap of +-1 s-sparse ReLU neurons.

    Returns
    -------
    dict
        ``kappa`` (floats, d = 0..s), ``kappa_exact`` ("p/q" strings), ``gap`` and
        ``gap_exact`` (the luckiest neuron's selection gap, see
        :func:`theory.fourier_gaps.selection_gap`), ``gap_kind``, ``gradients`` (one entry per
        overlap j = 0..min(s, k) with per-class magnitudes as "p/q"); with ``n``:
        ``samples_needed`` (None when the gap is <= 0: no sample size separates S, or when it
        exceeds 1e300) and, for a positive gap, ``log10_samples_needed``.

    Examples
    --------
    >>> out = gap_summary(4, 2, 0, n=50)
    >>> out["gap_exact"], out["samples_needed"]
    ('1/8', 4716)
    """
    s_int, k_int = check_int("s", s), check_int("k", k)
    b = check_rational("bias", bias)
    delta_value = float(check_probability("delta", delta))
    row = kappa_row_exact(s_int, b)
    gap = selection_gap(s_int, k_int, b)
    out = {
        "s": s_int, "k": k_int, "bias": str(b),
        "kappa": [float(v) for v in row],
        "kappa_exact": [_frac(v) for v in row],
        "gap": float(gap),
        "gap_exact": _frac(gap),
        "gap_kind": ("S versus all other coordinates (S inside U)" if s_int >= k_int else
                     "missing coordinates of S versus coordinates off U and S (U inside S)"),
        "gradients": [
            {"overlap": j, **{c: _frac(v) for c, v in
                              neuron_gradient_by_class(s_int, k_int, b, overlap=j).items()}}
            for j in range(min(s_int, k_int) + 1)
        ],
    }
    if n is not None:
        n_int = check_int("n", n)
        _check_at_most_n("s", s_int, n_int)
        _check_at_most_n("k", k_int, n_int)
        out["n"] = n_int
        out["delta"] = delta_value
        if gap > 0:
            needed = hoeffding_sample_size(gap, n_int, delta_value)
            out["log10_samples_needed"] = math.log10(needed)  # exact for big ints too
            out["samples_needed"] = needed if out["log10_samples_needed"] < 300 else None
        else:
            out["samples_needed"] = None
    return out



def _check_at_most_n(name: str, value, n: int) -> int:
    value = check_int(name, value)
    if value > n:
        raise ValueError(f"{name} must be <= n, got {name}={value} > n={n}")
    return value


def _frac(value) -> str:
    return str(value)  # "1/4", and "0" rather than "0/1"


def demo_summary(n: int = 50, k: int = 3, *, steps: int = 100_000, delta: float = 0.5,
                 widths=(10, 100, 1_000, 10_000), s_values=None, biases=(0, 1, 2),
                 lottery_width: int = 1_000) -> dict:
    """The theory tables of the README's demo for one (n, k).

    Returns
    -------
    dict
        ``sq``: per width, the 2-layer parameter count and the smallest steps x samples and
        samples (at ``steps``) that Prop. 3 allows for success probability ``delta``;
        ``lottery``: per s, :func:`lottery_summary` at ``lottery_width`` and delta = 0.01;
        ``gaps``: per s, the luckiest neuron's gap for each bias (exact strings and floats;
        for odd s every bias in (-1, 1] gives the same threshold as 0, for even s every bias
        in (0, 2] the same as 1, so 0, 1, 2 cover all thresholds near 0) and the Hoeffding
        sample size of the best bias (None when no bias gives a positive gap);
        ``upper``: the Theorem 4/5 curve with unit constants.
    """
    n_int = check_int("n", n)
    k_int = _check_at_most_n("k", k, n_int)
    if s_values is None:
        s_values = sorted({s for s in (1, 2, k_int - 1, k_int, k_int + 1, k_int + 2, 2 * k_int)
                           if 1 <= s <= n_int})
    sq_rows = []
    for w in widths:
        params = two_layer_param_count(n_int, w)
        budget = sq_solve(n_int, k_int, "samples", params=params, steps=1, delta=delta)
        at_steps = sq_solve(n_int, k_int, "samples", params=params, steps=steps, delta=delta)
        sq_rows.append({"width": w, "params": params,
                        "steps_times_samples": budget.value,
                        "log10_steps_times_samples": budget.log10_value,
                        "samples_at_steps": at_steps.value,
                        "log10_samples_at_steps": at_steps.log10_value})
    gap_rows = []
    for s in s_values:
        gaps = [selection_gap(s, k_int, b) for b in biases]
        best = max(gaps)
        gap_rows.append({"s": s, "biases": [str(check_rational("bias", b)) for b in biases],
                         "gaps": [float(g) for g in gaps], "gaps_exact": [_frac(g) for g in gaps],
                         "best_samples_needed": (hoeffding_sample_size(best, n_int, 0.01)
                                                 if best > 0 else None)})
    return {
        "n": n_int, "k": k_int, "delta": delta, "steps": steps,
        "log10_threshold": sq_log10_threshold(n_int, k_int),
        "sq": sq_rows,
        "lottery": [lottery_summary(n_int, k_int, s, width=lottery_width, delta=0.01)
                    for s in s_values],
        "gaps": gap_rows,
        "upper": upper_bound_frontier(n_int, k_int),
    }
