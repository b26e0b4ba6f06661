"""Theory-vs-experiment plots and reports (docs/design.md, ``figures/``).

* :mod:`figures.style` -- palette (Okabe-Ito), headless figures, PNG + PDF saving, caveats;
* :mod:`figures.frontier_plots` -- success heatmap over (m, width) with the measured and
  predicted frontiers, success and Kaplan-Meier steps against m;
* :mod:`figures.theory_plots` -- the SQ frontier in (m, width), lottery probability vs width;
* :mod:`figures.sq_visible` -- visible fraction of parities vs its Parseval bound (SQ game);
* :mod:`figures.lottery_ticket` -- test-error curves of the lottery-ticket arms;
* :mod:`figures.findings` -- the paper's four findings judged by fixed decision rules;
* :mod:`figures.report` -- analysis, figures and the Markdown/JSON report of a store;
* :mod:`figures.reproduce` -- a scale's sweep (``scales/*.toml``) and its report.

Reference outputs live in ``reference/``. This package may import :mod:`verify`,
:mod:`simulate` and :mod:`theory`.
"""
