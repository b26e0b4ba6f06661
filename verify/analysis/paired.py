r"""Paired tests with the seed as the unit, the per-seed cells they take, and the verdicts.

In a sweep the same seeds recur in every cell, and a seed fixes the target set S, the test set,
the initialisation draw and the (nested) training sets. Two cells that differ in one setting
(width, init, m) are therefore *paired* by seed, and one seed's outcomes in different cells are
not independent draws: pooling runs over cells and testing the pooled counts (Fisher) treats
16 seeds x 18 cells as 288 independent runs and overstates the evidence. The tests here take
the seed as the unit (docs/theory.md §5.8):

* :func:`sign_flip_test` -- exact permutation test of per-seed differences (each seed's sign
  flipped, all :math:`2^N` sign vectors enumerated up to :data:`EXACT_SIGN_FLIP_MAX` non-zero
  differences, a seeded Monte Carlo beyond), with :func:`detectable_shift` and
  :func:`seeds_to_detect` for the power of a null result;
* :func:`mcnemar_test` -- exact McNemar test of one pair of cells: the discordant seeds
  (success in one cell, failure in the other) are Binomial(D, 1/2) under no difference;
* :func:`tarone_threshold` -- Bonferroni over the tests that *could* reach significance only
  (Tarone 1990), for rules with many pairs.

:func:`seed_cells` turns runs into cells that keep each seed's outcome. The verdict vocabulary
(:data:`VERDICTS`, :data:`NOT_TESTABLE`, :func:`combine_verdicts`) is shared by the findings
(:mod:`.findings`, :mod:`.findings_time`) and the prediction verdicts
(:mod:`.prediction_verdicts`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import stats

from parity_frontiers.verify.analysis.frontier import CELL_FIELDS, group_rows
from parity_frontiers.verify.analysis.inits import init_label

__all__ = [
    "VERDICTS", "NOT_TESTABLE", "ALPHA", "EXACT_SIGN_FLIP_MAX", "SIGN_FLIP_RESAMPLES",
    "SignFlip", "sign_flip_test", "detectable_shift", "mcnemar_test", "seeds_to_detect",
    "tarone_threshold", "combine_verdicts", "seed_cells", "paired_outcomes", "seed_count",
    "init_label", "MIN_SUCCESSES_FOR_STEPS", "median_success_steps", "offline_cells",
    "by_problem", "problem_label", "problem_row", "untestable_row", "finding_dict",
    "two_way_verdict", "two_way_sign_flip", "too_few_to_test",
]

#: The verdict of a rule that cannot fail on the data at hand.
NOT_TESTABLE = "not testable here"
VERDICTS = ("reproduced", "not reproduced", "inconclusive", NOT_TESTABLE)
#: Family-wise significance level of each finding within one (n, k) (Bonferroni or Tarone
#: across the tests of that finding there; each direction of a two-way question gets half).
ALPHA = 0.05
#: Up to this many non-zero per-seed differences the sign-flip test enumerates all 2^N signs.
EXACT_SIGN_FLIP_MAX = 22
#: Monte Carlo resamples (and their seed) of the sign-flip test beyond EXACT_SIGN_FLIP_MAX.
SIGN_FLIP_RESAMPLES = 200_000
SIGN_FLIP_SEED = 20230905
#: Steps comparisons use cells with at least this many successful runs.
MIN_SUCCESSES_FOR_STEPS = 3


class SignFlip(dict):
    """Result of :func:`sign_flip_test` (a dict, so it goes to JSON as it is): ``p_value``,
    ``statistic`` (sum of the differences), ``mean``, ``seeds`` (differences given),
    ``nonzero``, ``positive``, ``negative``, ``min_p`` (the smallest p-value the test could give
    with these many non-zero differences), ``exact`` and ``alternative``."""


def _tolerance(values: np.ndarray) -> float:
    return 1e-9 * max(1.0, float(np.abs(values).sum()))


def sign_flip_test(differences: Sequence[float], alternative: str = "greater") -> SignFlip:
    r"""Exact sign-flip (paired permutation) test of per-seed differences :math:`d_i`.

    Under the null the distribution of each seed's difference is symmetric about 0, so every
    sign vector :math:`\varepsilon \in \{\pm1\}^N` is equally likely; the statistic is
    :math:`T = \sum_i d_i` and the p-value the share of sign vectors with
    :math:`\sum_i \varepsilon_i d_i \ge T` (``"greater"``), :math:`\le T` (``"less"``) or
    :math:`|\cdot| \ge |T|` (``"two-sided"``). Zero differences do not move T and are left out
    (this changes no p-value). With up to :data:`EXACT_SIGN_FLIP_MAX` non-zero differences all
    :math:`2^N` vectors are enumerated (equal to ``scipy.stats.permutation_test`` with
    ``permutation_type="samples"``, tested); beyond, :data:`SIGN_FLIP_RESAMPLES` seeded
    random vectors give :math:`(1 + \#\{\ge\}) / (1 + B)`.

    Examples
    --------
    >>> sign_flip_test([1, 2, 1, 0, 3])["p_value"]  # 4 positive of 4 non-zero: 1/16
    0.0625
    """
    if alternative not in ("greater", "less", "two-sided"):
        raise ValueError(f"alternative must be greater, less or two-sided, got {alternative!r}")
    d = np.asarray(list(differences), float)
    if d.ndim != 1 or not np.all(np.isfinite(d)):
        raise ValueError("differences must be a 1-d sequence of finite numbers")
    nonzero = d[d != 0]
    n = nonzero.size
    observed = float(nonzero.sum())
    out = SignFlip(statistic=observed, mean=float(d.mean()) if d.size else 0.0,
                   seeds=int(d.size), nonzero=int(n), positive=int((d > 0).sum()),
                   negative=int((d < 0).sum()), alternative=alternative)
    if n == 0:
        out.update(p_value=1.0, min_p=1.0, exact=True)
        return out
    tol = _tolerance(nonzero)

    def tail(totals: np.ndarray) -> int:
        if alternative == "greater":
            return int(np.count_nonzero(totals >= observed - tol))
        if alternative == "less":
            return int(np.count_nonzero(totals <= observed + tol))
        return int(np.count_nonzero(np.abs(totals) >= abs(observed) - tol))

    if n <= EXACT_SIGN_FLIP_MAX:
        # Sign vectors as the bits of 0 .. 2^n - 1, in blocks of 2^16 rows.
        bits = np.arange(n, dtype=np.int64)
        hits, block = 0, 1 << 16
        for start in range(0, 1 << n, block):
            codes = np.arange(start, min(start + block, 1 << n), dtype=np.int64)
            signs = 1.0 - 2.0 * ((codes[:, None] >> bits) & 1)
            hits += tail(signs @ nonzero)
        p_value = hits / float(1 << n)
        min_p = 2.0 ** -n if alternative != "two-sided" else min(1.0, 2.0 ** (1 - n))
        out.update(p_value=float(p_value), min_p=min_p, exact=True)
        return out
    rng = np.random.default_rng(SIGN_FLIP_SEED)
    hits = 0
    for start in range(0, SIGN_FLIP_RESAMPLES, 1 << 14):
        size = min(1 << 14, SIGN_FLIP_RESAMPLES - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(size, n))
        hits += tail(signs @ nonzero)
    out.update(p_value=(1 + hits) / (1 + SIGN_FLIP_RESAMPLES),
               min_p=max(2.0 ** -n, 1 / (1 + SIGN_FLIP_RESAMPLES)), exact=False)
    return out


def seeds_to_detect(threshold: float, two_sided: bool = False) -> int:
    """Fewest seeds that must all differ in one direction (every other seed tied) for an exact
    sign-flip or McNemar test to reach ``threshold``: the smallest x with 2^-x <= threshold."""
    level = threshold / 2 if two_sided else threshold
    return max(1, math.ceil(math.log2(1.0 / level) - 1e-12))


def detectable_shift(differences: Sequence[float], threshold: float,
                     alternative: str = "greater") -> float | None:
    """Smallest mean per-seed difference the sign-flip test would have detected, given the
    observed spread: the least shift delta >= 0 with p(d - mean(d) + delta) <= threshold
    (``alternative="less"``: the mirror image, returned as a positive number). None when even
    an effect on every seed with no spread would not reach ``threshold`` (too few seeds).
    Found by bisection (the p-value falls as the shift grows)."""
    d = np.asarray(list(differences), float)
    if d.size == 0 or 2.0 ** -d.size > threshold:
        return None
    centred = d - d.mean()
    if alternative == "less":
        centred = -centred

    def p_at(shift: float) -> float:
        return sign_flip_test(centred + shift, "greater")["p_value"]

    high = float(np.abs(centred).max()) * 1.000001 + 1e-9
    if p_at(high) > threshold:  # every seed positive and still not enough
        return None
    low = 0.0
    if p_at(low) <= threshold:
        return 0.0
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (low, mid) if p_at(mid) <= threshold else (mid, high)
    return high


def mcnemar_test(first_only: int, second_only: int, alternative: str = "greater") -> dict:
    """Exact McNemar test of two cells paired by seed.

    ``first_only``: seeds that succeed in the first cell and fail in the second;
    ``second_only``: the reverse. Under no difference the first_only of the D discordant seeds
    are Binomial(D, 1/2); ``"greater"`` tests 'the first cell succeeds more often' (equal to
    ``scipy.stats.binomtest(first_only, D, 0.5, alternative)``, tested). ``min_p`` = 2^-D is
    the smallest p-value these D discordant seeds allow (Tarone's attainable minimum).
    """
    discordant = first_only + second_only
    if discordant == 0:
        return {"first_only": 0, "second_only": 0, "p_value": 1.0, "min_p": 1.0}
    if alternative == "greater":
        p = stats.binom.sf(first_only - 1, discordant, 0.5)
    elif alternative == "less":
        p = stats.binom.cdf(first_only, discordant, 0.5)
    else:
        raise ValueError(f"alternative must be greater or less, got {alternative!r}")
    return {"first_only": int(first_only), "second_only": int(second_only),
            "p_value": float(min(1.0, p)), "min_p": 0.5 ** discordant}


def tarone_threshold(min_p: Sequence[float], alpha: float = ALPHA) -> tuple[int, float]:
    """Tarone's (1990) modified Bonferroni: the smallest K >= 1 such that at most K tests have
    an attainable minimum p-value <= alpha / K; those K tests share alpha, the others cannot
    reach significance and cost nothing. Returns (K, alpha / K)."""
    mins = sorted(min_p)
    for k in range(1, len(mins) + 1):
        if sum(m <= alpha / k for m in mins) <= k:
            return k, alpha / k
    return 1, alpha


def combine_verdicts(verdicts: Iterable[str]) -> str:
    """The overall verdict of per-(n, k) verdicts: ``not reproduced`` if any (n, k) is;
    ``reproduced`` only if every testable (n, k) is (one passing is not enough);
    ``not testable here`` if none is testable; ``inconclusive`` otherwise."""
    testable = [v for v in verdicts if v != NOT_TESTABLE]
    if not testable:
        return NOT_TESTABLE
    if "not reproduced" in testable:
        return "not reproduced"
    if all(v == "reproduced" for v in testable):
        return "reproduced"
    return "inconclusive"


# --- per-seed cells ------------------------------------------------------------------------------

def seed_cells(results: Iterable) -> list[dict]:
    """One dict per grid cell: its :data:`CELL_FIELDS` and ``outcomes``, a dict
    ``{seed: (success, steps_to_success or None)}`` (the runs of a cell differ only in seed)."""
    cells = []
    for key, runs in group_rows(results, lambda r: tuple(getattr(r.config, f)
                                                         for f in CELL_FIELDS)).items():
        cell = dict(zip(CELL_FIELDS, key, strict=True))
        cell["outcomes"] = {r.config.seed: (bool(r.success),
                                            r.steps_to_success if r.success else None)
                            for r in runs}
        cell["runs"] = len(cell["outcomes"])
        cell["successes"] = sum(ok for ok, _ in cell["outcomes"].values())
        cells.append(cell)
    return cells


def paired_outcomes(a: dict, b: dict) -> list[tuple]:
    """(seed, outcome in a, outcome in b) over the seeds both cells have; an outcome is
    (success, steps to success or None)."""
    return [(s, a["outcomes"][s], b["outcomes"][s])
            for s in sorted(set(a["outcomes"]) & set(b["outcomes"]))]


def seed_count(cells) -> int:
    """Distinct seeds among ``cells``."""
    return len({s for c in cells for s in c["outcomes"]})


def problem_label(c: dict) -> str:
    """'n=30 k=3 dense': a cell's problem and init, for evidence."""
    return f"n={c['n']} k={c['k']} {init_label(c)}"


def offline_cells(cells) -> list[dict]:
    """The cells with a training-set size (online cells have none)."""
    return [c for c in cells if c["samples"] is not None]


def by_problem(cells) -> list[tuple[tuple[int, int], list[dict]]]:
    """Cells grouped by (n, k), in order of (n, k)."""
    return sorted(group_rows(cells, ("n", "k")).items())


def median_success_steps(cell: dict) -> float | None:
    """Median steps of a cell's successful runs, if at least :data:`MIN_SUCCESSES_FOR_STEPS`."""
    steps = [t for ok, t in cell["outcomes"].values() if ok and t is not None]
    return float(np.median(steps)) if len(steps) >= MIN_SUCCESSES_FOR_STEPS else None


def problem_row(n, k, verdict, **numbers) -> dict:
    """One (n, k)'s verdict and the numbers behind it."""
    return {"n": n, "k": k, "verdict": verdict, **numbers}


def untestable_row(n, k, reason, **numbers) -> dict:
    """An (n, k) where the rule cannot fail, with the reason."""
    return problem_row(n, k, NOT_TESTABLE, reason=reason, **numbers)


def finding_dict(fid, claim, rule, problems) -> dict:
    """A finding: its per-(n, k) ``problems`` and their :func:`combine_verdicts`."""
    return {"id": fid, "claim": claim,
            "verdict": combine_verdicts(p["verdict"] for p in problems), "rule": rule,
            "problems": problems}


def two_way_verdict(greater: dict, less: dict, threshold: float) -> str:
    """'not reproduced' if the test against the claim is significant, 'reproduced' if the one
    for it is, else 'inconclusive'."""
    if less["p_value"] <= threshold:
        return "not reproduced"
    if greater["p_value"] <= threshold:
        return "reproduced"
    return "inconclusive"


def two_way_sign_flip(values: Sequence[float], threshold: float) -> dict:
    """Per-seed measures judged both ways: the exact :func:`sign_flip_test` s ``greater`` (for
    the claim) and ``less`` (against it), their :func:`two_way_verdict` as ``verdict``, and,
    only when that is inconclusive, ``detectable_shift``: the :func:`detectable_shift` of
    ``values`` at ``threshold`` (what a null result could have caught; None with too few
    seeds)."""
    greater = sign_flip_test(values, "greater")
    less = sign_flip_test(values, "less")
    out = {"greater": greater, "less": less,
           "verdict": two_way_verdict(greater, less, threshold)}
    if out["verdict"] == "inconclusive":
        out["detectable_shift"] = detectable_shift(values, threshold)
    return out


def too_few_to_test(n, k, tests: Sequence, seeds: int, *, empty: str, what: str,
                    count: str) -> dict | None:
    """The :func:`untestable_row` of an (n, k) whose family of exact McNemar tests cannot
    reach :data:`ALPHA`: no test at all (``empty`` says why), or so few seeds that even every
    seed discordant one way gives :math:`2^{-\\text{seeds}} > \\alpha` (no ``what`` can be
    significant; ``count`` names the number of tests in the row). None when it can be tested.
    """
    if not tests:
        return untestable_row(n, k, empty)
    if 0.5 ** seeds > ALPHA:
        return untestable_row(n, k, f"{seeds} seeds: no {what} can be significant at {ALPHA}",
                              **{count: len(tests)})
    return None
