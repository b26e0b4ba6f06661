r"""Pruning a trained 2-layer net to its top neurons, for the lottery-ticket experiment.

Neuron j scores :math:`|a_j| \, \lVert w_j \rVert_2`, its trained output weight times the
Euclidean norm of its trained input weights (bias excluded): the size of its contribution
:math:`a_j \mathrm{ReLU}(w_j \cdot x + b_j)` on inputs in :math:`\{-1, +1\}^n`. The paper says
"weight norm" without saying which; this is the project's choice (docs/theory.md §5).
"""

from __future__ import annotations

import numpy as np

from parity_frontiers.theory.checks import check_int

__all__ = ["SCORE_RULE", "check_two_layer", "neuron_scores", "top_neurons", "subnetwork"]


SCORE_RULE = "|a_j| * ||w_j||_2 (trained output weight times trained input-weight norm)"


def check_two_layer(params) -> list[np.ndarray]:
    params = [np.asarray(p) for p in params]
    if len(params) != 4 or params[0].ndim != 2 or params[1].shape != params[0].shape[:1] \
            or params[2].shape != params[0].shape[:1] or params[3].shape != ():
        raise ValueError("params must be one 2-layer run [W1 (r, n), b1 (r,), a (r,), c ()], "
                         f"got shapes {[p.shape for p in params]}")
    return params


def neuron_scores(params) -> np.ndarray:
    r"""Score of each hidden neuron of a 2-layer MLP, for ranking (derived here).

    .. math:: \mathrm{score}_j = |a_j| \, \lVert w_j \rVert_2

    Parameters
    ----------
    params : sequence of arrays
        One run in :mod:`verify.model`'s layout: W1 ``(r, n)``, b1 ``(r,)``, a ``(r,)``, c.

    Returns
    -------
    float64 array (r,)

    Examples
    --------
    >>> w1 = np.array([[3.0, 4.0], [1.0, 0.0]])
    >>> neuron_scores([w1, np.zeros(2), np.array([0.5, -2.0]), np.float32(0)]).tolist()
    [2.5, 2.0]
    """
    w1, _, a, _ = check_two_layer(params)
    return np.abs(a.astype(np.float64)) * np.linalg.norm(w1.astype(np.float64), axis=1)


def top_neurons(params, keep: int) -> np.ndarray:
    """Indices of the ``keep`` highest :func:`neuron_scores`, best first (ties: lower index).

    Examples
    --------
    >>> w1 = np.eye(3)
    >>> top_neurons([w1, np.zeros(3), np.array([1.0, 3.0, 3.0]), np.float32(0)], 2).tolist()
    [1, 2]
    """
    scores = neuron_scores(params)
    keep = check_int("keep", keep, 1, strict=True)
    if keep > len(scores):
        raise ValueError(f"keep must be <= the number of neurons ({len(scores)}), got {keep}")
    return np.argsort(-scores, kind="stable")[:keep]


def subnetwork(params, neurons) -> list[np.ndarray]:
    """The 2-layer net made of the given hidden neurons (copies): W1, b1 and a rows, and c.

    Examples
    --------
    >>> p = [np.arange(6.0).reshape(3, 2), np.arange(3.0), np.arange(3.0), np.float64(7)]
    >>> [x.tolist() for x in subnetwork(p, [2, 0])]
    [[[4.0, 5.0], [0.0, 1.0]], [2.0, 0.0], [2.0, 0.0], 7.0]
    """
    w1, b1, a, c = check_two_layer(params)
    idx = np.asarray(neurons, dtype=np.int64)
    if idx.ndim != 1 or not len(idx) or idx.min() < 0 or idx.max() >= len(a) \
            or len(np.unique(idx)) != len(idx):
        raise ValueError(f"neurons must be distinct indices in [0, {len(a)}), got "
                         f"{idx.tolist()}")
    return [w1[idx].copy(), b1[idx].copy(), a[idx].copy(), np.array(c, copy=True)]
