"""Theory-vs-experiment plots (DESIGN.md, ``figures/``); reference figures in ``reference/``.

Not yet implemented: plotting arrives with the frontier-analysis issue. This package may
import :mod:`verify`, :mod:`simulate` and :mod:`theory`.
"""
