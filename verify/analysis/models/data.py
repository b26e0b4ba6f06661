r"""Run-level outcomes as arrays: the data every frontier model is fitted to and scored on.

One :class:`RunTable` row per run (a :class:`~verify.config.RunResult`): its cell covariates
and its 0/1 outcome. Runs of one grid cell (same :data:`~verify.analysis.frontier.CELL_FIELDS`)
share covariates, so the likelihood is evaluated per cell on (weighted) success and run counts:
with bootstrap weights w (how often each run's seed was drawn), the cell counts are
:math:`\sum w_i y_i` and :math:`\sum w_i`.

**Online runs** (``samples=None``) enter every model with the effective sample size
:math:`m_{\rm eff} = T \times B` (``max_steps`` x ``batch_size``): every sample the step
budget can draw, the reading :func:`verify.analysis.predictions.sq_check` uses too. At the cpu
scale that is 640 000, far above every offline m, so online cells test a model's ceiling
(whether P -> 1 at large m), not its frontier.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from parity_frontiers.verify.analysis.frontier import CELL_FIELDS
from parity_frontiers.verify.analysis.inits import is_sparse
from parity_frontiers.verify.config import RunResult

__all__ = ["RunTable", "effective_samples", "seed_weights", "covariates"]


def effective_samples(samples, max_steps, batch_size) -> float:
    """The m a model sees for one run: ``samples``, or ``max_steps * batch_size`` online."""
    return float(samples) if samples is not None else float(max_steps) * float(batch_size)


def covariates(n, k, width, init, s, samples, max_steps, batch_size) -> dict:
    """Model covariates of one or more cells as numpy arrays (see :class:`RunTable`).

    ``init`` is a registered init name, "dense", "sparse", "sparse-gaussian" (an array of them
    for several cells), kept as ``init``; ``dense`` says whether the registry marks it dense;
    ``s`` is the sparse support (None or 0 for dense); ``samples`` None means online.
    """
    n = np.atleast_1d(np.asarray(n, float))
    size = n.size
    def arr(value, dtype=float):
        out = np.atleast_1d(np.asarray(value, dtype))
        return np.broadcast_to(out, (size,)).copy() if out.size == 1 else out
    init = np.atleast_1d(np.asarray(init, object))
    init = np.broadcast_to(init, (size,)).copy() if init.size == 1 else init
    samples = np.atleast_1d(np.asarray(samples, object))
    samples = np.broadcast_to(samples, (size,)).copy() if samples.size == 1 else samples
    s = np.atleast_1d(np.asarray(s, object))
    s = np.broadcast_to(s, (size,)).copy() if s.size == 1 else s
    steps, batch = arr(max_steps), arr(batch_size)
    dense = np.array([not is_sparse({"init": i, "s": v}) for i, v in zip(init, s, strict=True)])
    sparse_s = np.array([0.0 if d or v is None else float(v)
                         for d, v in zip(dense, s, strict=True)])
    m = np.array([effective_samples(v, t, b)
                  for v, t, b in zip(samples, steps, batch, strict=True)])
    return {"n": n, "k": arr(k), "width": arr(width), "init": init.astype(str), "dense": dense,
            "s": sparse_s, "support": np.where(dense, n, sparse_s),
            "online": np.array([v is None for v in samples]), "log_m": np.log(m),
            "max_steps": steps, "batch_size": batch}


@dataclass(frozen=True)
class RunTable:
    """Runs as arrays: ``cells`` (covariates per distinct cell, see :func:`covariates`),
    ``cell_index`` (each run's cell), ``seed`` and ``success`` (0/1) per run, and ``keys``
    (each cell's :data:`CELL_FIELDS` tuple, for reports)."""

    cells: dict
    keys: list
    cell_index: np.ndarray
    seed: np.ndarray
    success: np.ndarray

    @classmethod
    def from_results(cls, results: Iterable[RunResult]) -> RunTable:
        results = list(results)
        if not results:
            raise ValueError("no runs: the store or the selection is empty")
        index: dict[tuple, int] = {}
        keys, configs, cell_index = [], [], []
        for r in results:
            key = tuple(getattr(r.config, f) for f in CELL_FIELDS)
            if key not in index:
                index[key] = len(keys)
                keys.append(key)
                configs.append(r.config)
            cell_index.append(index[key])
        cells = covariates([c.n for c in configs], [c.k for c in configs],
                           [c.width for c in configs], [c.init for c in configs],
                           [c.s for c in configs], [c.samples for c in configs],
                           [c.max_steps for c in configs], [c.batch_size for c in configs])
        return cls(cells, keys, np.asarray(cell_index, int),
                   np.asarray([r.config.seed for r in results], int),
                   np.asarray([1.0 if r.success else 0.0 for r in results]))

    @property
    def runs(self) -> int:
        return int(self.success.size)

    def counts(self, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(successes, trials) per cell, each run counted ``weights[i]`` times (default 1)."""
        w = np.ones_like(self.success) if weights is None else np.asarray(weights, float)
        size = len(self.keys)
        return (np.bincount(self.cell_index, w * self.success, minlength=size),
                np.bincount(self.cell_index, w, minlength=size))

    def summary(self) -> dict:
        """What the table holds: run count, (n, k) pairs, n range, widths, inits, seeds."""
        c = self.cells
        pairs = sorted({(int(n), int(k)) for n, k in zip(c["n"], c["k"], strict=True)})
        inits = sorted({(str(i), None) if d else (str(i), int(s))
                        for i, d, s in zip(c["init"], c["dense"], c["s"], strict=True)}, key=str)
        return {"runs": self.runs, "cells": len(self.keys), "nk": [list(p) for p in pairs],
                "n_range": [min(p[0] for p in pairs), max(p[0] for p in pairs)],
                "k_values": sorted({p[1] for p in pairs}),
                "widths": sorted({int(w) for w in c["width"]}),
                "inits": [{"init": i, "s": s} for i, s in inits],
                "max_steps": sorted({int(t) for t in c["max_steps"]}),
                "batch_size": sorted({int(b) for b in c["batch_size"]}),
                "seeds": int(np.unique(self.seed).size),
                "online_runs": int(np.sum(c["online"][self.cell_index]))}


def seed_weights(seeds: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster-bootstrap weights, shape (draws, runs): resample the distinct seeds with
    replacement (as many as there are) and count each run as often as its seed was drawn.

    A seed fixes S, the test set, the init and the nested training sets of every cell it
    appears in, so runs sharing a seed are not independent; the seed is the resampling unit.
    """
    unique, inverse = np.unique(seeds, return_inverse=True)
    picks = rng.integers(0, unique.size, size=(draws, unique.size))
    counts = np.stack([np.bincount(p, minlength=unique.size) for p in picks])
    return counts[:, inverse].astype(float)
