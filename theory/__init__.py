"""Exact and symbolic theory of the Pareto frontiers of sparse-parity learning.

Predicted frontiers, no randomness (docs/design.md, ``theory/``):

* :mod:`theory.sq_bound` -- the SQ lower bound of Proposition 3 over (params, steps,
  samples, luck);
* :mod:`theory.lottery` -- lucky-neuron probabilities of s-sparse initialisation;
* :mod:`theory.fourier_gaps` -- exact Fourier coefficients, gradients and gaps of sparse
  ReLU neurons, and the Hoeffding sample size;
* :mod:`theory.upper_bounds` -- the (width, samples) curves of Theorems 4 and 5;
* :mod:`theory.symbolic` -- the same formulas as sympy expressions;
* :mod:`theory.binomial` -- exact and log-space binomial coefficients;
* :mod:`theory.summaries` -- one-call summaries of a configuration (what the CLI prints).

This package imports nothing else of the project.
"""

from parity_frontiers.theory.binomial import comb_exact, log10_comb, log_comb
from parity_frontiers.theory.fourier_gaps import (
    COORDINATE_CLASSES,
    fourier_gap,
    hoeffding_sample_size,
    kappa,
    kappa_exact,
    kappa_row_exact,
    neuron_gradient_by_class,
    neuron_population_gradient,
    selection_gap,
    threshold_count,
)
from parity_frontiers.theory.lottery import (
    log10_width_needed,
    log_overlap_pmf,
    log_p_lucky,
    overlap_pmf,
    p_at_least_one_lucky,
    p_lucky,
    width_needed,
)
from parity_frontiers.theory.sq_bound import (
    RESOURCES,
    SQSolution,
    mlp_param_count,
    sq_log10_cost,
    sq_log10_max_success_probability,
    sq_log10_min_resource,
    sq_log10_threshold,
    sq_max_success_probability,
    sq_rules_out,
    sq_solve,
    two_layer_param_count,
)
from parity_frontiers.theory.summaries import (
    demo_summary,
    gap_summary,
    lottery_summary,
    sq_bound_summary,
)
from parity_frontiers.theory.upper_bounds import (
    thm4_log10_samples,
    thm4_log10_steps,
    thm4_log10_width,
    thm4_steps,
    thm5_log10_samples,
    thm5_log10_width,
    upper_bound_frontier,
)

__all__ = [
    "COORDINATE_CLASSES", "RESOURCES", "SQSolution", "comb_exact", "log_comb", "log10_comb",
    "fourier_gap", "hoeffding_sample_size", "kappa", "kappa_exact", "kappa_row_exact",
    "neuron_gradient_by_class", "neuron_population_gradient", "selection_gap", "threshold_count",
    "log10_width_needed", "log_overlap_pmf", "log_p_lucky", "overlap_pmf", "p_at_least_one_lucky",
    "p_lucky", "width_needed", "mlp_param_count", "sq_log10_cost",
    "sq_log10_max_success_probability", "sq_log10_min_resource", "sq_log10_threshold",
    "sq_max_success_probability", "sq_rules_out", "sq_solve", "two_layer_param_count",
    "thm4_log10_samples", "thm4_log10_steps", "thm4_log10_width", "thm4_steps",
    "thm5_log10_samples", "thm5_log10_width", "upper_bound_frontier", "demo_summary",
    "gap_summary", "lottery_summary", "sq_bound_summary",
]
