"""Theory-vs-experiment plots and reports (docs/design.md, ``figures/``).

Figures of a sweep (one (n, k) per figure, one panel per init):

* :mod:`figures.heatmap` -- success rate over (m, width) on true log axes, with the measured
  and predicted frontiers m*(r) on top (the paper's Figure 1, left);
* :mod:`figures.frontier_plots` -- success and Kaplan-Meier steps against m (Figure 2), and the
  file-writing wrappers of the heatmap;
* :mod:`figures.sweep_cells` -- the rows, panels, labels and thin-cell caveats these share;
* :mod:`figures.search_plots` -- the runs and the frontier of an adaptive m* search.
* :mod:`figures.curves` -- learning curves: median test error against SGD step per cell, with
  the interquartile band over seeds.

Theory and mechanism figures:

* :mod:`figures.theory_plots` -- the SQ frontier of Proposition 3 in (m, width);
* :mod:`figures.lottery_plots` -- P(at least one lucky neuron) of sparse init against width;
* :mod:`figures.inputs` -- argument checks shared by those two;
* :mod:`figures.sq_visible` -- visible fraction of parities vs its Parseval bound (SQ game);
* :mod:`figures.lottery_ticket` -- test-error curves of the lottery-ticket arms (Figure 5);
* :mod:`figures.tabular` -- the tabular proxy's test error against training fraction.

Reports and shared conventions:

* :mod:`figures.report` -- figures and the Markdown/JSON report of a store (the tables come
  from :mod:`verify.analysis.report_tables`, the findings from :mod:`verify.analysis.findings`);
* :mod:`figures.report_text` -- the report's Markdown;
* :mod:`figures.reproduce` -- a scale's sweep (``scales/*.toml``) and its report;
* :mod:`figures.style` -- palette (Okabe-Ito), headless figures, PNG + PDF saving, caveats;
* :mod:`figures.layout` -- the notebook API (``ax=`` / ``fig=``) and readable log axes.

Reference outputs live in ``reference/`` (``reference/README.md`` says how each was made).
This package may import :mod:`verify`, :mod:`simulate` and :mod:`theory`.
"""
