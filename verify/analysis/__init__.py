"""Analysis of stored runs: numpy and scipy only, no torch.

* :mod:`.summaries` -- success rate per cell (Wilson) and the Kaplan-Meier median steps;
* :mod:`.survival` -- the Kaplan-Meier curve of steps to success, censored at the budget;
* :mod:`.frontier` -- cells and curves of a sweep, the Firth-logistic frontier m* with
  delta-method or Fieller intervals;
* :mod:`.power_law` -- the power law m*(r) in the width;
* :mod:`.ticket_overlaps` -- exact tests of the lottery-ticket winners' supports;
* :mod:`.predictions` -- the SQ check, the one-step and the Theorem 4/5 predictions on a grid;
* :mod:`.findings` -- the paper's findings judged by fixed decision rules.
"""

from parity_frontiers.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "fit_frontier": "frontier", "frontier_table": "frontier", "kaplan_meier": "survival",
    "power_law_fit": "power_law", "summarize": "summaries", "judge_findings": "findings",
})
