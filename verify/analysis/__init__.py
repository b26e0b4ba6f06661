"""Analysis of stored runs: numpy and scipy only, no torch.

* :mod:`.summaries` -- success rate per cell (Wilson) and the Kaplan-Meier median steps;
* :mod:`.survival` -- the Kaplan-Meier curve of steps to success, censored at the budget;
* :mod:`.frontier` -- cells and curves of a sweep, the Firth-logistic frontier m* with
  delta-method or Fieller intervals;
* :mod:`.power_law` -- the power law m*(r) in the width;
* :mod:`.ticket_overlaps` -- exact tests of the lottery-ticket winners' supports;
* :mod:`.predictions` -- the SQ check, the one-step and the Theorem 4/5 predictions on a grid,
  and :mod:`.prediction_verdicts` their verdicts;
* :mod:`.paired` -- per-seed paired tests (sign-flip, McNemar, Tarone) and the verdict
  vocabulary; :mod:`.findings` and :mod:`.findings_time` -- the paper's findings judged by
  fixed decision rules;
* :mod:`.inits` -- an init law's sparsity, support and label, read from the init registry;
* :mod:`.settings_groups` -- runs split by their training settings, one analysis per group;
* :mod:`.report_tables` -- every table of the report from a list of runs;
* :mod:`.models` -- the frontier models (fit, predict, score; docs/theory.md §6).

Stores are opened by :mod:`parity_frontiers.verify.experiments` (``stored_runs``), never here:
everything in this package takes runs or rows.
"""

from parity_frontiers.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "fit_frontier": "frontier", "frontier_table": "frontier", "kaplan_meier": "survival",
    "power_law_fit": "power_law", "summarize": "summaries", "judge_findings": "findings",
})
