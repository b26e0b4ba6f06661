r"""Frontier models: P(success | n, k, width, init, s, m, T) fitted to stored runs.

Four models (docs/theory.md §6; formulas in :mod:`.families`): ``phenomenological``,
``lottery`` (mechanistic), ``sq`` (baseline) and ``theorem`` (Theorems 4/5). Each is fitted by
maximum likelihood to run-level 0/1 outcomes (:func:`fit_model`), with a bootstrap over seed
clusters for every interval (:mod:`.fit`), and scored on held-out runs by a rule fixed in code
(:func:`score_model`, :mod:`.scoring`). Numpy and scipy only.

>>> from parity_frontiers.verify.analysis.models import MODEL_NAMES
>>> MODEL_NAMES
('phenomenological', 'lottery', 'sq', 'theorem')
"""

from .data import RunTable, covariates, effective_samples, seed_weights
from .families import MODEL_NAMES, get_model
from .fit import FORMAT, FORMAT_VERSION, M_STAR_RANGE, FittedModel, fit_model
from .scoring import VERDICT_RULE, score_model

__all__ = ["RunTable", "covariates", "effective_samples", "seed_weights", "MODEL_NAMES",
           "get_model", "FittedModel", "fit_model", "FORMAT", "FORMAT_VERSION", "M_STAR_RANGE",
           "score_model", "VERDICT_RULE"]
