r"""Do a lottery-ticket experiment's winners sit on the parity's coordinates? Exact tests.

A neuron's initial support U (the s inputs it is connected to) overlaps S in
:math:`|U \cap S|` coordinates; over the init law this is hypergeometric
(:func:`parity_frontiers.theory.lottery.overlap_pmf`, docs/theory.md §3). If training picked
winners regardless of their supports, the K winners' overlaps would be i.i.d. from that law:
:func:`overlap_test` gives the exact one-sided p-value of their sum and a binomial test of how
many are lucky, :func:`selection_test` the test conditional on the wide net's realised supports.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from parity_frontiers.theory.checks import check_int
from parity_frontiers.theory.lottery import overlap_pmf, p_lucky

__all__ = ["support_overlaps", "overlap_sum_law", "overlap_test", "selection_test"]


def support_overlaps(supports, parity_set) -> np.ndarray:
    r""":math:`|U_j \cap S|` for each support row :math:`U_j` (int64).

    Examples
    --------
    >>> support_overlaps([[0, 1], [2, 5], [1, 3]], [1, 2, 3]).tolist()
    [1, 1, 2]
    """
    supports = np.asarray(supports)
    return np.isin(supports, np.asarray(parity_set)).sum(axis=1).astype(np.int64)


def overlap_sum_law(n: int, k: int, s: int, count: int) -> np.ndarray:
    r"""Law of :math:`T = \sum_{j=1}^{K} |U_j \cap S|` for K independent uniform s-subsets.

    .. math:: P(T = t) = (p^{*K})(t), \qquad p(j) = \binom{k}{j}\binom{n-k}{s-j} / \binom{n}{s}

    the K-fold convolution of the hypergeometric overlap law (:func:`theory.lottery.overlap_pmf`,
    docs/theory.md §3); entry t is P(T = t), t = 0 .. K min(s, k).

    Examples
    --------
    >>> [round(float(x), 4) for x in overlap_sum_law(4, 2, 1, 2)]   # p = (1/2, 1/2)
    [0.25, 0.5, 0.25]
    """
    count = check_int("count", count, 1, strict=True)
    pmf = np.atleast_1d(np.asarray(overlap_pmf(n, k, s), dtype=np.float64))
    law = np.ones(1)
    for _ in range(count):
        law = np.convolve(law, pmf)
    return law


def overlap_test(overlaps, n: int, k: int, s: int) -> dict:
    r"""Do K neurons overlap S more than K independent draws of the init law would?

    Two one-sided tests against the null "the neurons' supports are i.i.d. uniform s-subsets"
    (true of any K neurons chosen without looking at their supports):

    * the overlap sum :math:`T = \sum_j |U_j \cap S|`, exact p-value
      :math:`P(T \ge t_{obs})` from :func:`overlap_sum_law`; expected
      :math:`E[T] = K s k / n`;
    * the number L of lucky neurons (overlap :math:`\min(s, k)`), exact binomial p-value
      :math:`P(\mathrm{Bin}(K, p) \ge L)` with :math:`p` = :func:`theory.lottery.p_lucky`
      (``scipy.stats.binomtest``, alternative "greater").

    Parameters
    ----------
    overlaps : sequence of int
        :math:`|U_j \cap S|` of each of the K neurons.
    n, k, s : int

    Returns
    -------
    dict
        ``count``, ``overlap_sum``, ``expected_sum``, ``p_value``, ``lucky``,
        ``expected_lucky``, ``lucky_p_value``.

    Examples
    --------
    >>> out = overlap_test([2, 2, 1], n=50, k=5, s=2)
    >>> out["overlap_sum"], round(out["expected_sum"], 2), out["p_value"] < 1e-3
    (5, 0.6, True)
    """
    overlaps = np.asarray(overlaps, dtype=np.int64).ravel()
    if not overlaps.size:
        raise ValueError("overlaps must not be empty")
    if overlaps.min() < 0 or overlaps.max() > min(s, k):
        raise ValueError(f"overlaps must be in [0, min(s, k)] = [0, {min(s, k)}], got "
                         f"{overlaps.tolist()}")
    count = overlaps.size
    law = overlap_sum_law(n, k, s, count)
    observed = int(overlaps.sum())
    lucky = int((overlaps == min(s, k)).sum())
    p = float(p_lucky(n, k, s))
    return {"count": count, "overlap_sum": observed, "expected_sum": count * s * k / n,
            "p_value": float(min(1.0, law[observed:].sum())), "lucky": lucky,
            "expected_lucky": count * p,
            "lucky_p_value": float(stats.binomtest(lucky, count, p, alternative="greater")
                                   .pvalue)}


def selection_test(all_overlaps, chosen, lucky_overlap: int) -> dict:
    r"""Are lucky neurons over-represented among the chosen ones, given the net's supports?

    Conditional on the wide net's realised supports (r neurons, :math:`L_{net}` of them lucky),
    K neurons chosen at random hold :math:`L \sim \mathrm{Hypergeom}(r, L_{net}, K)` lucky ones;
    p-value :math:`P(L \ge L_{obs})` (``scipy.stats.hypergeom.sf``).

    Examples
    --------
    >>> out = selection_test([2, 0, 0, 0, 2, 1], chosen=[0, 4], lucky_overlap=2)
    >>> out["lucky_in_net"], out["lucky_chosen"], round(out["p_value"], 4)   # 1 / C(6, 2)
    (2, 2, 0.0667)
    """
    all_overlaps = np.asarray(all_overlaps, dtype=np.int64)
    chosen = np.asarray(chosen, dtype=np.int64)
    lucky = all_overlaps == lucky_overlap
    in_net, got = int(lucky.sum()), int(lucky[chosen].sum())
    r, count = len(all_overlaps), len(chosen)
    return {"lucky_in_net": in_net, "lucky_chosen": got,
            "expected_lucky_chosen": count * in_net / r,
            "p_value": float(stats.hypergeom(r, in_net, count).sf(got - 1))}
