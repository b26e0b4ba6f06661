"""Every public theory function rejects bad input with a ValueError naming the parameter.

Each case starts from a valid call, replaces one argument by a bad value and checks that the
message starts with the parameter's user-facing name (what the CLI prints as one line).
"""

from __future__ import annotations

import numpy as np
import pytest

from parity_frontiers import theory
from parity_frontiers.theory import (
    comb_exact,
    demo_summary,
    fourier_gap,
    gap_summary,
    hoeffding_sample_size,
    kappa,
    kappa_exact,
    kappa_row_exact,
    log10_comb,
    log10_width_needed,
    log_comb,
    log_overlap_pmf,
    log_p_lucky,
    lottery_summary,
    mlp_param_count,
    neuron_gradient_by_class,
    neuron_population_gradient,
    overlap_pmf,
    p_at_least_one_lucky,
    p_lucky,
    selection_gap,
    sq_bound_summary,
    sq_log10_cost,
    sq_log10_max_success_probability,
    sq_log10_min_resource,
    sq_log10_threshold,
    sq_max_success_probability,
    sq_rules_out,
    sq_solve,
    thm4_log10_samples,
    thm4_log10_steps,
    thm4_log10_width,
    thm4_steps,
    thm5_log10_samples,
    thm5_log10_width,
    threshold_count,
    two_layer_param_count,
    upper_bound_frontier,
    width_needed,
)

NAN, INF = float("nan"), float("inf")
# bad values for a size/integer parameter (>= 1), a probability, a positive real, a rational
SIZE_BAD = [0, -1, 3.5, NAN, INF, -INF, True, False, np.bool_(True), "x"]
SIZE0_BAD = [-1, 3.5, NAN, INF, True, "x"]  # sizes allowed to be 0
PROB_BAD = [0, 0.0, 1, 1.0, -0.5, 1.5, NAN, INF, True, "x"]
POS_BAD = [0, 0.0, -1.0, NAN, INF, True, "x"]
RATIONAL_BAD = [NAN, INF, -INF, True, "abc"]


def _cases():
    """(id, function, valid kwargs, parameter, bad values, expected message prefix)."""
    nks = {"n": 10, "k": 3, "s": 2}
    sq = {"n": 50, "k": 3, "params": 10, "steps": 10, "samples": 10}
    cases = []

    def add(func, base, param, bad, prefix=None):
        cases.append((func, base, param, bad, prefix or param))

    for f in (log_comb, log10_comb, comb_exact):
        for p in ("n", "k"):
            add(f, {"n": 10, "k": 3}, p, SIZE0_BAD)
    for f in (sq_max_success_probability, sq_log10_max_success_probability):
        for p in ("n", "k", "params", "steps", "samples"):
            add(f, sq, p, SIZE_BAD)
        add(f, {**{k: v for k, v in sq.items() if k != "samples"}, "tau": 0.1}, "tau", POS_BAD)
    for p in ("n", "k"):
        add(sq_log10_threshold, {"n": 50, "k": 3}, p, SIZE_BAD)
    cost = {"params": 10, "steps": 10, "samples": 10, "delta": 0.5}
    for p in ("params", "steps", "samples"):
        add(sq_log10_cost, cost, p, SIZE_BAD)
    add(sq_log10_cost, cost, "delta", PROB_BAD)
    for f in (sq_log10_min_resource, sq_solve):
        base = {"n": 50, "k": 3, "solve_for": "params", "steps": 10, "samples": 10,
                "delta": 0.5}
        for p in ("n", "k", "steps", "samples"):
            add(f, base, p, SIZE_BAD)
        add(f, base, "delta", PROB_BAD)
        add(f, {**base, "solve_for": "samples", "samples": None, "params": 10}, "params",
            SIZE_BAD)
        add(f, {**base, "samples": None, "tau": 0.1}, "tau", POS_BAD)
        add(f, {**base, "samples": None, "delta": None, "solve_for": "delta", "params": 3,
                "tau": 0.1}, "tau", POS_BAD)
    add(two_layer_param_count, {"n_inputs": 10, "width": 5}, "n_inputs", SIZE_BAD, "n")
    add(two_layer_param_count, {"n_inputs": 10, "width": 5}, "width", SIZE_BAD)
    mlp = {"n_inputs": 10, "hidden_widths": [5, 4], "n_outputs": 2}
    add(mlp_param_count, mlp, "n_inputs", SIZE_BAD, "n")
    add(mlp_param_count, mlp, "n_outputs", SIZE_BAD)
    add(mlp_param_count, mlp, "hidden_widths", [[5, 0], [3.5], [True], [NAN], []], "width")
    for f in (overlap_pmf, log_overlap_pmf, p_lucky, log_p_lucky):
        for p in ("n", "k", "s"):
            add(f, nks, p, SIZE_BAD)
    for f in (overlap_pmf, log_overlap_pmf):
        add(f, {**nks, "j": 1}, "j", SIZE0_BAD)
    for p in ("n", "k", "s", "width"):
        add(p_at_least_one_lucky, {**nks, "width": 10}, p, SIZE_BAD)
    for f in (width_needed, log10_width_needed):
        for p in ("n", "k", "s"):
            add(f, {**nks, "delta": 0.1}, p, SIZE_BAD)
        add(f, {**nks, "delta": 0.1}, "delta", PROB_BAD)
    add(threshold_count, {"s": 3, "bias": 0}, "s", SIZE_BAD)
    add(threshold_count, {"s": 3, "bias": 0}, "bias", RATIONAL_BAD)
    for f in (kappa_exact, kappa):
        add(f, {"s": 3, "bias": 0, "d": 1}, "s", SIZE_BAD)
        add(f, {"s": 3, "bias": 0, "d": 1}, "d", SIZE0_BAD + [4])
        add(f, {"s": 3, "bias": 0, "d": 1}, "bias", RATIONAL_BAD)
    add(kappa_row_exact, {"s": 3, "bias": 0}, "s", SIZE_BAD)
    add(kappa_row_exact, {"s": 3, "bias": 0}, "bias", RATIONAL_BAD)
    for f in (neuron_gradient_by_class, fourier_gap):
        base = {"s": 4, "k": 2, "bias": 0, "overlap": 1, "output_weight": 1}
        add(f, base, "s", SIZE_BAD)
        add(f, base, "k", SIZE_BAD)
        add(f, base, "bias", RATIONAL_BAD)
        add(f, base, "overlap", SIZE0_BAD + [3])
        add(f, base, "output_weight", RATIONAL_BAD)
    sel = {"s": 4, "k": 2, "bias": 0, "output_weight": 1}
    for p in ("s", "k"):
        add(selection_gap, sel, p, SIZE_BAD)
    add(selection_gap, sel, "bias", RATIONAL_BAD)
    add(selection_gap, sel, "output_weight", RATIONAL_BAD)
    grad = {"n": 4, "target": [0, 1], "support": [1, 2], "weights": [1, -1], "bias": 0,
            "output_weight": 1}
    add(neuron_population_gradient, grad, "n", SIZE_BAD)
    add(neuron_population_gradient, grad, "target",
        [[0, 4], [-1], [1.5], [True], [NAN], [0, 0], []])
    add(neuron_population_gradient, grad, "support", [[1, 4], [1, 1.5], [1, -1], [2, 2]])
    add(neuron_population_gradient, grad, "weights", [[1, 0], [1, 2], [1], [1, True]])
    add(neuron_population_gradient, grad, "bias", RATIONAL_BAD)
    add(neuron_population_gradient, grad, "output_weight", RATIONAL_BAD)
    hoef = {"gap": 0.25, "n": 50, "delta": 0.01}
    add(hoeffding_sample_size, hoef, "gap", RATIONAL_BAD + [0, -0.25])
    add(hoeffding_sample_size, hoef, "n", SIZE_BAD)
    add(hoeffding_sample_size, hoef, "delta", PROB_BAD)
    for f, base, c in [(thm4_log10_width, {"n": 100, "k": 4, "s": 8}, "c2"),
                       (thm4_log10_samples, {"n": 100, "k": 4, "s": 8}, "c3"),
                       (thm5_log10_width, {"n": 100, "k": 4, "s": 2}, "c2"),
                       (thm5_log10_samples, {"n": 100, "k": 4, "s": 2}, "c3")]:
        add(f, base, "n", SIZE_BAD + [1])
        add(f, base, "k", SIZE_BAD)
        add(f, base, "s", SIZE_BAD + [101])
        add(f, {**base, c: 1.0}, c, POS_BAD)
    for f in (thm4_steps, thm4_log10_steps):
        add(f, {"epsilon": 0.1, "c4": 1.0}, "epsilon", POS_BAD)
        add(f, {"epsilon": 0.1, "c4": 1.0}, "c4", POS_BAD)
    ub = {"n": 100, "k": 4}
    add(upper_bound_frontier, ub, "n", SIZE_BAD + [1])
    add(upper_bound_frontier, ub, "k", SIZE_BAD + [101])
    add(upper_bound_frontier, ub, "s_values",
        [[0], [2, 3.5], [101], [NAN], [True], [2, True], np.array([True]), []], "s")
    for c in ("c2", "c3", "c4", "epsilon"):
        add(upper_bound_frontier, ub, c, POS_BAD)
    rules = {**sq, "delta": 0.5}
    for p in ("n", "k", "params", "steps", "samples"):
        add(sq_rules_out, rules, p, SIZE_BAD)
    add(sq_rules_out, rules, "delta", PROB_BAD)
    add(sq_rules_out, {**rules, "samples": None, "tau": 0.1}, "tau", POS_BAD)
    # summaries (what the CLI prints): same names as the functions they call
    summ = {"n": 50, "k": 3, "width": 10, "steps": 10, "samples": 10, "delta": 0.5}
    for p in ("n", "k", "width", "steps", "samples"):
        add(sq_bound_summary, summ, p, SIZE_BAD)
    add(sq_bound_summary, summ, "delta", PROB_BAD)
    add(sq_bound_summary, {**summ, "width": None, "params": 100}, "params", SIZE_BAD)
    add(sq_bound_summary, {**summ, "samples": None, "tau": 0.1}, "tau", POS_BAD)
    lot = {**nks, "width": 10, "delta": 0.5}
    for p in ("n", "k", "s", "width"):
        add(lottery_summary, lot, p, SIZE_BAD)
    add(lottery_summary, lot, "delta", PROB_BAD)
    gaps = {"s": 4, "k": 2, "bias": 0, "n": 50, "delta": 0.01}
    for p in ("s", "k", "n"):
        add(gap_summary, gaps, p, SIZE_BAD)
    add(gap_summary, gaps, "bias", RATIONAL_BAD)
    add(gap_summary, gaps, "delta", PROB_BAD)
    demo = {"n": 20, "k": 3, "steps": 100, "delta": 0.5, "widths": (10,), "s_values": [2, 3],
            "biases": (0, 1), "lottery_width": 100}
    for p in ("n", "k", "steps"):
        add(demo_summary, demo, p, SIZE_BAD)
    add(demo_summary, demo, "delta", PROB_BAD)
    add(demo_summary, demo, "lottery_width", SIZE_BAD, "width")
    add(demo_summary, demo, "widths", [[0], [3.5], [True]], "width")
    add(demo_summary, demo, "s_values", [[0], [3.5], [True], [21]], "s")
    add(demo_summary, demo, "biases", [[NAN], ["abc"], [True]], "bias")
    return cases


def _flatten():
    out = []
    for func, base, param, bad_values, prefix in _cases():
        for bad in bad_values:
            out.append(pytest.param(func, base, param, bad, prefix,
                                    id=f"{func.__name__}-{param}={bad!r}"))
    return out


@pytest.mark.parametrize("func,base,param,bad,prefix", _flatten())
def test_bad_argument_named(func, base, param, bad, prefix):
    kwargs = {k: v for k, v in base.items() if v is not None}
    func(**kwargs)  # the unperturbed call is valid
    kwargs[param] = bad
    with pytest.raises(ValueError) as info:
        func(**kwargs)
    assert str(info.value).startswith(prefix), str(info.value)


RELATIONS = [
    (log_comb, (3, 4), "k"),
    (comb_exact, (3, 4), "k"),
    (sq_max_success_probability, (3, 4, 1, 1), "k"),
    (sq_log10_threshold, (3, 4), "k"),
    (overlap_pmf, (5, 3, 6), "s"),
    (overlap_pmf, (5, 6, 3), "k"),
    (log_overlap_pmf, (5, 3, 6), "s"),
    (p_lucky, (5, 3, 6), "s"),
    (p_lucky, (5, 6, 3), "k"),
    (log_p_lucky, (5, 3, 6), "s"),
    (p_at_least_one_lucky, (5, 3, 6, 10), "s"),
    (width_needed, (5, 3, 6, 0.1), "s"),
    (log10_width_needed, (5, 6, 3, 0.1), "k"),
    (kappa_exact, (3, 0, 4), "d"),
    (kappa, ([3, 4], 0, [1, 5]), "d"),
    (neuron_gradient_by_class, (2, 4, 0, 3), "overlap"),
    (thm4_log10_width, (100, 4, 2), "s"),
    (thm5_log10_width, (100, 4, 4), "s"),
    (upper_bound_frontier, (10, 11), "k"),
    (sq_bound_summary, (3, 4), "k"),
    (lottery_summary, (5, 3, 6), "s"),
    (lottery_summary, (5, 6, 3), "k"),
    (demo_summary, (3, 4), "k"),
]


@pytest.mark.parametrize("func,args,prefix", RELATIONS,
                         ids=[f"{f.__name__}{a}" for f, a, _ in RELATIONS])
def test_relation_violations(func, args, prefix):
    # k > n, s > n, d > s, overlap > min(s, k), the theorems' regimes
    with pytest.raises(ValueError) as info:
        func(*args)
    assert str(info.value).startswith(prefix), str(info.value)


@pytest.mark.parametrize("func,kwargs,prefix", [
    (sq_rules_out, {"n": 3, "k": 4, "params": 1, "steps": 1, "samples": 1, "delta": 0.5}, "k"),
    (gap_summary, {"s": 6, "k": 3, "n": 5}, "s"),
    (gap_summary, {"s": 3, "k": 6, "n": 5}, "k"),
], ids=["sq_rules_out-k>n", "gap_summary-s>n", "gap_summary-k>n"])
def test_relation_violations_keywords(func, kwargs, prefix):
    with pytest.raises(ValueError) as info:
        func(**kwargs)
    assert str(info.value).startswith(prefix), str(info.value)


def test_sq_argument_combinations():
    with pytest.raises(ValueError, match=r"^tau"):
        sq_max_success_probability(50, 3, 10, 10, tau=0.1, samples=10)
    with pytest.raises(ValueError, match=r"^samples"):
        sq_max_success_probability(50, 3, 10, 10)
    with pytest.raises(ValueError, match=r"^solve_for"):
        sq_solve(50, 3, "width", steps=10, samples=10, delta=0.5)
    with pytest.raises(ValueError, match=r"^params"):
        sq_solve(50, 3, "params", params=5, steps=10, samples=10, delta=0.5)
    with pytest.raises(ValueError, match=r"^delta"):
        sq_solve(50, 3, "params", steps=10, samples=10)
    with pytest.raises(ValueError, match=r"^steps"):
        sq_solve(50, 3, "params", samples=10, delta=0.5)


def test_array_inputs_report_first_bad_element():
    with pytest.raises(ValueError, match=r"^k must be an integer, got 2\.5"):
        log_comb([10, 10], [3, 2.5])
    with pytest.raises(ValueError, match=r"^delta must lie in \(0, 1\), got 1\.0"):
        width_needed(10, 3, 2, [0.1, 1.0])
    with pytest.raises(ValueError, match=r"^n must not be empty"):
        p_lucky([], 1, 1)
    for bools in ([True, True], np.array([True, False]), (4, np.bool_(True))):
        with pytest.raises(ValueError, match=r"^k must be a number"):
            log_comb(10, bools)


def test_public_api_covered():
    # every public function of the package appears in the validation table above
    covered = {f.__name__ for f, *_ in _cases()} | {f.__name__ for f, _, _ in RELATIONS}
    functions = {name for name in theory.__all__ if callable(getattr(theory, name))
                 and not isinstance(getattr(theory, name), type)}
    assert functions - covered == set()
