"""The init law of a stored cell, as tables, figures and predictions need it.

A cell (or curve) row holds the init's registered name and its support size s (None for a
dense law). Whether the law is sparse and how it is written come from the init registry
(:mod:`parity_frontiers.verify.training.registry`, torch-free), so every registered sparse law
(``sparse``, ``sparse-gaussian``, ...) is treated and labelled as what it is. A name that is
not registered in this process (a store written with an extension entry) is read as sparse
exactly when its row carries an s.
"""

from __future__ import annotations

from parity_frontiers.verify.training.registry import INIT_REGISTRY

__all__ = ["is_sparse", "init_label", "support_size"]


def is_sparse(point: dict) -> bool:
    """Whether a row's init connects each first-layer neuron to s inputs.

    >>> is_sparse({"init": "sparse-gaussian", "s": 2}), is_sparse({"init": "dense", "s": None})
    (True, False)
    """
    law = INIT_REGISTRY.get(point["init"])
    return law.sparse if law is not None else point.get("s") is not None


def init_label(point: dict) -> str:
    """'dense', 'sparse s=2', 'sparse-gaussian s=2': the init of a row, for tables and evidence.

    >>> init_label({"init": "sparse-gaussian", "s": 2})
    'sparse-gaussian s=2'
    """
    law = INIT_REGISTRY.get(point["init"])
    if law is not None:
        return law.label(point["s"] if law.sparse else None)
    return point["init"] if point.get("s") is None else f"{point['init']} s={point['s']}"


def support_size(point: dict) -> int:
    """Inputs a first-layer neuron sees at init: s for a sparse law, n for a dense one (a
    dense neuron is the s = n case of the sparse mechanism, docs/theory.md §3).

    >>> support_size({"init": "sparse-gaussian", "s": 2, "n": 30})
    2
    >>> support_size({"init": "dense", "s": None, "n": 30})
    30
    """
    return int(point["s"]) if is_sparse(point) else int(point["n"])
