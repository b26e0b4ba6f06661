"""verify.analysis: Kaplan-Meier, Firth logistic frontier fits and the m*(r) power law, each
against an independent route (hand computation, the saturated model, scipy's MLE, coverage over
simulated data with a known truth)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special, stats

from parity_frontiers.verify.analysis.frontier import (
    firth_logistic,
    fit_frontier,
    frontier_table,
    success_points,
)
from parity_frontiers.verify.analysis.power_law import power_law_fit
from parity_frontiers.verify.analysis.summaries import median_steps_to_success
from parity_frontiers.verify.analysis.survival import kaplan_meier
from parity_frontiers.verify.config import RunConfig, RunResult


def _run(seed, steps, samples=100, width=8, max_steps=1000, init="dense"):
    config = RunConfig(n=8, k=2, width=width, samples=samples, seed=seed, max_steps=max_steps,
                       init=init, s=2 if init == "sparse" else None)
    success = steps is not None
    return RunResult(config, success, steps, 0.0 if success else 0.5, 0.0,
                     "success" if success else "max_steps", steps if success else max_steps)


# --- Kaplan-Meier --------------------------------------------------------------------------------

def test_kaplan_meier_matches_hand_computation_with_censoring():
    runs = [_run(0, 100), _run(1, 300), _run(2, None), _run(3, 300), _run(4, None)]
    km = kaplan_meier(runs)
    # Censored runs sit at max_steps, after every event: S(t) = not yet succeeded / N.
    assert km.times == (100, 300)
    assert km.survival == pytest.approx((4 / 5, 2 / 5))
    assert km.median == 300 and km.successes == 3 and km.runs == 5
    for low, est, high in zip(km.ci_low, km.survival, km.ci_high, strict=True):
        assert low <= est <= high


def test_kaplan_meier_greenwood_loglog_band_by_hand():
    runs = [_run(i, 100 * (i + 1)) for i in range(6)] + [_run(9, None) for _ in range(4)]
    km = kaplan_meier(runs)
    n = 10
    for i, (low, high) in enumerate(zip(km.ci_low, km.ci_high, strict=True)):
        s = (n - i - 1) / n
        var = sum(1 / ((n - j) * (n - j - 1)) for j in range(i + 1))  # Greenwood sum
        half = 1.959963984540054 * math.sqrt(var) / abs(math.log(s))
        assert low == pytest.approx(s ** math.exp(half), rel=1e-9)
        assert high == pytest.approx(s ** math.exp(-half), rel=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_kaplan_meier_median_agrees_with_sweep_median(seed):
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 12))
    runs = [_run(i, int(rng.integers(1, 10)) * 100 if rng.random() < 0.6 else None)
            for i in range(count)]
    assert kaplan_meier(runs).median == median_steps_to_success(runs)


def test_median_steps_is_an_integer_where_the_midpoint_is_one():
    # JSON keeps counts integral: 230, not 230.0; a half step stays a float
    even = median_steps_to_success([_run(0, 220), _run(1, 240)])
    half = median_steps_to_success([_run(0, 150), _run(1, 161)])
    assert (even, type(even)) == (230, int) and half == 155.5
    km = kaplan_meier([_run(s, 100 * (s + 1)) for s in range(4)])
    assert all(isinstance(end, int) for end in km.median_ci if end is not None)


def test_kaplan_meier_median_interval_brackets_median():
    runs = [_run(i, 100 * (i + 1)) for i in range(12)] + [_run(20 + i, None) for i in range(4)]
    km = kaplan_meier(runs)
    low, high = km.median_ci
    assert low <= km.median and (high is None or km.median <= high)


def test_kaplan_meier_upper_median_limit_is_open_after_the_last_event():
    # Where S = 0 the band is undefined: the upper limit must not become the last event.
    km = kaplan_meier([_run(0, 100)])
    assert km.median == 100 and km.median_ci == (100.0, None)
    every = kaplan_meier([_run(i, 100 * (i + 1)) for i in range(6)])
    # Last event: 1 run at risk, S just before = 1/6, Clopper-Pearson upper 0.975 -> 0.1625.
    assert every.ci_high[-1] == pytest.approx(0.975 / 6) and every.ci_low[-1] == 0.0
    # Ties at coarse evaluation steps: 7 runs succeed at 1400, 9 at 1600 -> S = 9/16, then 0,
    # with the upper curve (9/16)(1 - 0.025**(1/9)) < 1/2 at 1600: the upper limit is 1600.
    tied = kaplan_meier([_run(i, 1400) for i in range(7)] + [_run(7 + i, 1600) for i in range(9)])
    assert tied.median == 1600 and tied.median_ci[1] == 1600.0
    assert tied.ci_high[-1] == pytest.approx(9 / 16 * (1 - 0.025 ** (1 / 9)))


def test_kaplan_meier_no_success_and_errors():
    km = kaplan_meier([_run(0, None), _run(1, None)])
    assert km.median is None and km.times == () and km.median_ci == (None, None)
    with pytest.raises(ValueError, match="at least one run"):
        kaplan_meier([])
    with pytest.raises(ValueError, match="share max_steps"):
        kaplan_meier([_run(0, 10), _run(1, 10, max_steps=2000)])


def test_success_points_adds_median_interval():
    runs = [_run(i, 100 * (i + 1)) for i in range(6)] + [_run(i, None, samples=300)
                                                       for i in range(3)]
    points = success_points(runs)
    assert [p["samples"] for p in points] == [100, 300]
    assert points[0]["successes"] == 6 and points[1]["successes"] == 0
    assert points[0]["median_ci_low"] <= points[0]["median_steps_to_success"]
    assert points[1]["median_ci_low"] is None and points[1]["median_ci_high"] is None
    assert points[0]["median_success_steps"] == 350.0 and points[1]["median_success_steps"] is None


# --- Firth logistic ------------------------------------------------------------------------------

@pytest.mark.parametrize("y0,n0,y1,n1", [(0, 16, 16, 16), (3, 10, 7, 12), (0, 5, 2, 20)])
def test_firth_two_points_is_saturated_model_on_counts_plus_half(y0, n0, y1, n1):
    beta, _ = firth_logistic([0.0, 1.0], [y0, y1], [n0, n1])
    assert special.expit(beta[0]) == pytest.approx((y0 + 0.5) / (n0 + 1), rel=1e-8)
    assert special.expit(beta[0] + beta[1]) == pytest.approx((y1 + 0.5) / (n1 + 1), rel=1e-8)


def test_firth_close_to_mle_on_large_samples():
    rng = np.random.default_rng(3)
    x = np.linspace(2, 4, 9)
    trials = np.full(x.size, 4000)
    wins = rng.binomial(trials, special.expit(-12 + 4 * x))

    def negloglik(b):
        eta = b[0] + b[1] * x
        return -np.sum(wins * special.log_expit(eta) + (trials - wins) * special.log_expit(-eta))

    mle = optimize.minimize(negloglik, [0, 1], method="BFGS", options={"gtol": 1e-10}).x
    firth, cov = firth_logistic(x, wins, trials)
    se = np.sqrt(np.diag(cov))
    # Firth's bias correction is O(1/n): far below one standard error here.
    assert np.all(np.abs(firth - mle) < 0.1 * se)


def test_firth_finite_under_complete_separation():
    beta, cov = firth_logistic(np.log10([100, 300, 1000, 3000]), [0, 0, 16, 16], [16] * 4)
    assert np.all(np.isfinite(beta)) and np.all(np.isfinite(cov)) and beta[1] > 0


# --- frontier fits -------------------------------------------------------------------------------

def _cells(m_values, wins, runs=16):
    return [{"samples": m, "runs": runs, "successes": w}
            for m, w in zip(m_values, wins, strict=True)]


def test_fit_frontier_coverage_on_simulated_logistic_curves():
    """The delta-method interval covers the true m* at about its 95% level."""
    rng = np.random.default_rng(20261129)
    m_values = np.array([100, 200, 300, 500, 700, 1000, 2000, 3000, 10000])
    true_log_m, slope = math.log10(800), 6.0
    p = special.expit(slope * (np.log10(m_values) - true_log_m))
    replicates, covered = 300, 0
    for _ in range(replicates):
        fit = fit_frontier(_cells(m_values, rng.binomial(16, p)))
        assert fit.status == "fitted"
        covered += fit.ci_low <= 10 ** true_log_m <= fit.ci_high
    # 300 Bernoulli(0.95) trials: 3 standard errors is +-0.038; Firth + delta is a bit
    # conservative, so the band is asymmetric.
    assert 0.90 <= covered / replicates <= 0.995


def test_fit_frontier_statuses():
    m = [100, 1000, 10000]
    assert fit_frontier(_cells(m, [16, 16, 16])).status == "below_grid"
    below = fit_frontier(_cells(m, [9, 12, 16]))
    assert below.status == "below_grid" and below.ci_high == 100 and below.m_star is None
    above = fit_frontier(_cells(m, [0, 3, 8]))
    assert above.status == "above_grid" and above.ci_low == 10000
    assert fit_frontier(_cells(m, [16, 4, 0])).status == "not_increasing"
    edge = fit_frontier(_cells([100, 200, 300], [2, 3, 9]))
    assert edge.status == "extrapolated" and edge.m_star > 300
    # Online cells carry no m and are left out of the fit.
    fit = fit_frontier(_cells(m, [0, 8, 16]) + [{"samples": None, "runs": 16, "successes": 16}])
    assert fit.status == "fitted" and fit.cells == 3
    assert fit.m_star == pytest.approx(1000, rel=1e-6)  # symmetric data crosses at the middle


def test_fit_frontier_errors():
    with pytest.raises(ValueError, match="target"):
        fit_frontier(_cells([1, 2], [0, 1]), target=1.0)
    with pytest.raises(ValueError, match="finite sample size"):
        fit_frontier([{"samples": None, "runs": 4, "successes": 2}])
    with pytest.raises(ValueError, match="each sample size once"):
        fit_frontier(_cells([10, 10], [0, 1]))


def test_fieller_interval_is_the_set_of_ratios_the_wald_test_accepts():
    """Fieller's ends against a brute-force scan of x: (c - b0 - b1 x)^2 <= z^2 Var(b0 + b1 x)."""
    m = [100, 200, 300, 500, 700, 1000, 2000]
    for wins in ([0, 1, 3, 6, 9, 12, 16], [0, 0, 2, 9, 15, 16, 16], [1, 2, 5, 6, 9, 10, 14]):
        fit = fit_frontier(_cells(m, wins), interval="fieller")
        delta = fit_frontier(_cells(m, wins))
        assert fit.m_star == delta.m_star and fit.status == "fitted"
        b0, b1 = fit.intercept, fit.slope
        cov = np.array(fit.covariance)
        x = np.linspace(0, 6, 600_001)
        var = cov[0, 0] + 2 * x * cov[0, 1] + x * x * cov[1, 1]
        inside = x[(special.logit(0.5) - b0 - b1 * x) ** 2 <= stats.norm.ppf(0.975) ** 2 * var]
        assert math.log10(fit.ci_low) == pytest.approx(inside.min(), abs=2e-5)
        assert math.log10(fit.ci_high) == pytest.approx(inside.max(), abs=2e-5)
        # Fieller is the wider of the two on the side of the steeper uncertainty
        assert fit.ci_high - fit.ci_low >= 0.9 * (delta.ci_high - delta.ci_low)


def test_fieller_interval_is_unbounded_when_the_slope_is_not_significant():
    fit = fit_frontier(_cells([100, 1000], [1, 2], runs=3), interval="fieller")
    assert fit.status in ("fitted", "extrapolated")
    assert fit.ci_low is None and fit.ci_high is None
    with pytest.raises(ValueError, match="interval"):
        fit_frontier(_cells([100, 1000], [1, 2]), interval="wald")


def test_frontier_table_one_row_per_curve():
    runs = []
    for width, wins in ((8, (0, 2, 16)), (32, (2, 14, 16))):
        for m, w in zip((100, 300, 1000), wins, strict=True):
            runs += [_run(i, 50 if i < w else None, samples=m, width=width) for i in range(16)]
    runs += [_run(i, 50, samples=None, width=8) for i in range(4)]
    rows = frontier_table(success_points(runs))
    assert [r["width"] for r in rows] == [8, 32]
    assert all(r["status"] == "fitted" for r in rows)
    assert rows[1]["m_star"] < rows[0]["m_star"]  # the wider net needs fewer samples


# --- power law -----------------------------------------------------------------------------------

def test_power_law_exact_recovery():
    r = np.array([16, 64, 256, 1024])
    m = 5000 * r ** -0.5
    fit = power_law_fit(r, m, m / 1.2, m * 1.2)
    assert fit.exponent == pytest.approx(-0.5, abs=1e-9)
    assert fit.log10_prefactor == pytest.approx(math.log10(5000), abs=1e-9)
    assert fit.exponent_ci[0] < -0.5 < fit.exponent_ci[1]


def test_power_law_interval_coverage():
    rng = np.random.default_rng(7)
    r = np.array([16, 64, 256, 1024, 4096])
    sigma = 0.05  # log10 scatter equal to the stated intervals
    covered = 0
    for _ in range(400):
        log_m = 4 - 0.3 * np.log10(r) + rng.normal(0, sigma, r.size)
        half = 1.959963984540054 * sigma
        fit = power_law_fit(r, 10 ** log_m, 10 ** (log_m - half), 10 ** (log_m + half))
        covered += fit.exponent_ci[0] <= -0.3 <= fit.exponent_ci[1]
    # The chi-square scaling (never below 1) makes it conservative; 3 SE of 400 is 0.033.
    assert 0.91 <= covered / 400 <= 1.0


def test_power_law_errors():
    with pytest.raises(ValueError, match="two or more distinct widths"):
        power_law_fit([16, 16], [1, 2], [0.5, 1], [2, 3])
    with pytest.raises(ValueError, match="contain"):
        power_law_fit([16, 32], [1, 2], [1.5, 1], [2, 3])
    with pytest.raises(ValueError, match="> 0"):
        power_law_fit([16, 32], [1, -2], [0.5, -3], [2, 3])
    with pytest.raises(ValueError, match="one length"):
        power_law_fit([16, 32, 64], [1, 2], [0.5, 1], [2, 3])
    assert stats.t.ppf(0.975, 1) > 1.96  # the t quantile used for few widths is wider


# --- reading a store for the analysis ------------------------------------------------------------

def test_load_results_reads_a_store_and_names_what_is_wrong(tmp_path):
    from parity_frontiers.verify.experiments.store import ResultsStore
    from parity_frontiers.verify.experiments.stored_runs import load_results

    with pytest.raises(ValueError, match="no results store at .*parity-frontiers sweep"):
        load_results(tmp_path / "none.db")
    path = tmp_path / "runs.db"
    with ResultsStore(path):
        pass
    with pytest.raises(ValueError, match="holds no runs yet"):
        load_results(path)
    runs = [_run(seed, 100 * (seed + 1)) for seed in range(3)]
    with ResultsStore(path) as store:
        for run in runs:
            store.add(run)
    back = load_results(path)
    assert sorted(r.config.key() for r in back) == sorted(r.config.key() for r in runs)
    assert sorted(r.steps_to_success for r in back) == [100, 200, 300]


def test_kaplan_meier_median_follows_its_documented_rule():
    # First step with S <= 1/2; the midpoint where S sits at exactly 1/2 between two events;
    # the step itself when exactly half the runs succeed (S stays 1/2 to the budget).
    assert kaplan_meier([_run(0, 100), _run(1, 300), _run(2, None), _run(3, 200)]).median == 250
    assert kaplan_meier([_run(0, 100), _run(1, 300), _run(2, None)]).median == 300
    assert kaplan_meier([_run(0, 100), _run(1, 300), _run(2, None), _run(3, None)]).median == 300
    assert kaplan_meier([_run(0, 100), _run(1, None), _run(2, None)]).median is None
