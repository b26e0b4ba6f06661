"""Analysis of stored runs: numpy and scipy only, no torch.

* :mod:`.frontier` -- cells and curves of a sweep, success rates, Kaplan-Meier steps, the
  Firth-logistic frontier m* with delta-method or Fieller intervals, the power law m*(r);
* :mod:`.predictions` -- the SQ check, the one-step and the Theorem 4/5 predictions on a grid;
* :mod:`.findings` -- the paper's findings judged by fixed decision rules.
"""

from parity_frontiers.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "fit_frontier": "frontier", "frontier_table": "frontier", "kaplan_meier": "frontier",
    "power_law_fit": "frontier", "judge_findings": "findings",
})
