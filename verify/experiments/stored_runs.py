"""Every run of a results store, for the commands that only read one (``report``, ``plot``).

Opening the store is the experiments layer's business (:mod:`.store`); the analysis
(:mod:`parity_frontiers.verify.analysis.report_tables`) takes the runs it returns and never
imports this package.
"""

from __future__ import annotations

from pathlib import Path

from parity_frontiers.verify.config import RunResult
from parity_frontiers.verify.experiments.store import ResultsStore

__all__ = ["load_results"]


def load_results(store_path) -> list[RunResult]:
    """Every run of a results store, read-only; a clear error for a missing or empty store.

    Raises
    ------
    ValueError
        No file at ``store_path`` (the message names the commands that make one), or a store
        that holds no runs yet.
    """
    path = Path(store_path)
    if not path.exists():
        raise ValueError(f"no results store at {path} (run `parity-frontiers sweep` or "
                         "`parity-frontiers reproduce` first)")
    with ResultsStore(path, readonly=True) as store:
        results = store.results()
    if not results:
        raise ValueError(f"the results store {path} holds no runs yet: nothing to analyse")
    return results
