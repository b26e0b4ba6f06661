"""verify.analysis.predictions: the SQ check against exact integer arithmetic (every layer
counted), the one-step prediction against a direct simulate_onestep call, the fitted theorem
constants on data built from known constants, and each prediction's verdict (consistent,
refuted, not testable here) on synthetic data; plus the exact probabilities of `bound`."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from parity_frontiers.verify.analysis.frontier import CURVE_FIELDS
from parity_frontiers.verify.analysis.predictions import (
    crossing,
    mechanism_support,
    onestep_predictions,
    sq_check,
    theorem_frontier,
)

BASE = dict(depth=1, activation="relu", max_steps=1000, eval_every=100, batch_size=32, lr=0.1,
            weight_decay=0.01, loss="hinge", test_size=1000, success_error=0.1)


def _cell(n, k, width, samples, rate=0.5, ci_low=0.3, init="dense", s=None, **extra):
    return {**BASE, "n": n, "k": k, "width": width, "samples": samples, "init": init, "s": s,
            "success_rate": rate, "ci_low": ci_low, "ci_high": 1.0, "runs": 16,
            "successes": round(16 * rate), **extra}


@pytest.mark.parametrize("n,k,width,samples,steps", [(30, 3, 4, 10, 2), (60, 6, 2, 7, 3),
                                                     (20, 10, 1, 5, 1)])
def test_sq_check_equals_exact_fraction(n, k, width, samples, steps):
    row = sq_check([_cell(n, k, width, samples, max_steps=steps)])[0]
    params = width * (n + 2) + 1
    exact = min(Fraction(1), Fraction(2 * params * steps * samples, math.comb(n, k)))
    assert row["params"] == params
    assert row["bound"] == pytest.approx(float(exact), rel=1e-12)
    assert row["vacuous"] == (exact == 1)


def test_sq_check_flags_a_contradiction_and_uses_t_times_batch_online():
    # C(1000, 8) ~ 2.4e19: a width-1 net with 10 steps and 10 samples may succeed w.p. <= 1e-15.
    rows = sq_check([_cell(1000, 8, 1, 10, rate=0.9, ci_low=0.6, max_steps=10),
                     _cell(1000, 8, 1, None, rate=0.0, ci_low=0.0, max_steps=10)])
    assert rows[0]["contradiction"] and not rows[0]["vacuous"]
    online = rows[1]
    assert online["bound"] == pytest.approx(
        2 * 1003 * 10 * (10 * 32) / math.comb(1000, 8), rel=1e-12)
    assert not online["contradiction"]
    with pytest.raises(ValueError, match="empty"):
        sq_check([])


def test_crossing_interpolates_in_log_m():
    status, m = crossing([10, 1000], [0.0, 1.0], 0.5)
    assert status == "inside" and m == pytest.approx(100.0)
    assert crossing([1000, 10], [1.0, 0.0], 0.25)[1] == pytest.approx(10 ** 1.5)
    assert crossing([10, 100], [0.6, 0.9]) == ("below_grid", None)
    assert crossing([10, 100], [0.1, 0.4]) == ("above_grid", None)


def test_onestep_predictions_equal_a_direct_simulation():
    from parity_frontiers.simulate.onestep import simulate_onestep

    cells = [_cell(12, 3, w, m, init="sparse", s=2) for w in (2, 40) for m in (30, 300)]
    cells += [_cell(12, 3, 40, None, init="sparse", s=2)]  # online: skipped
    cells += [_cell(12, 4, 40, 300, init="sparse", s=2)]  # s < k - 1: skipped with a reason
    out = onestep_predictions(cells, trials=64, seed=5)
    direct = simulate_onestep(12, 3, 2, widths=[2, 40], samples=[30, 300], trials=64, seed=5)
    expected = {(r["width"], r["samples"]): r["estimate"] for r in direct["rows"]}
    assert len(out["cells"]) == 4
    for cell in out["cells"]:
        assert cell["predicted"] == expected[(cell["width"], cell["samples"])]
        assert cell["ci_low"] <= cell["predicted"] <= cell["ci_high"]
    assert [(s["k"], s["s"]) for s in out["skipped"]] == [(4, 2)]
    assert {c["width"] for c in out["curves"]} == {2, 40}
    for curve in out["curves"]:  # each curve's m* is the crossing of its own cells
        own = sorted((c["samples"], c["predicted"]) for c in out["cells"]
                     if c["width"] == curve["width"])
        status, m_star = crossing([m for m, _ in own], [p for _, p in own])
        assert (curve["status"], curve["m_star"]) == (status, m_star)


def test_onestep_dense_uses_support_n():
    out = onestep_predictions([_cell(8, 2, 4, 64)], trials=16, seed=1)
    assert out["cells"][0]["mechanism_s"] == 8


def test_sparse_gaussian_is_a_sparse_law_with_support_s():
    # Both sparse laws draw the same supports, so the mechanism sees s inputs, not n.
    cells = [_cell(8, 2, 4, 64, init=init, s=2) for init in ("sparse-gaussian", "sparse")]
    out = onestep_predictions(cells, trials=16, seed=1)
    assert [c["mechanism_s"] for c in out["cells"]] == [2, 2]
    assert mechanism_support(_cell(8, 3, 4, 64, init="sparse-gaussian", s=2)) == 2
    assert mechanism_support(_cell(8, 3, 4, 64)) == 8


def _frontier_row(n, k, width, m_star, init="sparse", s=2, status="fitted"):
    return {**BASE, "n": n, "k": k, "width": width, "init": init, "s": s, "status": status,
            "m_star": m_star}


def test_theorem_constants_recovered_from_data_built_with_them():
    c3 = 7.0
    rows = [_frontier_row(n, 3, w, c3 * (n / 3) ** 0) for n in (30, 50) for w in (16, 64)]
    # Thm 5 at s = 2 < k = 3: M = (n/k)^(k-s-1) = 1, R = (n/k)^2.
    rows.append(_frontier_row(50, 3, 4, None, status="above_grid"))
    out = theorem_frontier(rows)
    const = out["constants"][0]
    assert const["theorem"] == ["Thm 5"] and const["c3"] == pytest.approx(c3)
    assert const["c2_upper"] == pytest.approx(16 / (50 / 3) ** 2)
    fitted = [r for r in out["rows"] if r["measured_status"] == "fitted"]
    assert all(r["ratio"] == pytest.approx(1.0) for r in fitted)
    assert [r["predicted"] for r in out["rows"] if r["width"] == 4] == [None]
    assert set(CURVE_FIELDS) <= set(out["rows"][0])
    # Data on the theorem's scaling: measured and predicted n-ratios agree (both 1 for Thm 5).
    assert [(r["measured_ratio"], r["predicted_ratio"]) for r in out["n_scaling"]] == \
        [pytest.approx((1.0, 1.0))] * 2


def test_theorem_4_scaling_for_dense():
    # Dense = s = n: M = (n/k)^(k-1) n^2 ln n; data exactly on it with c3 = 0.01.
    def m_of(n):
        return 0.01 * (n / 3) ** 2 * n ** 2 * math.log(n)

    rows = [_frontier_row(n, 3, 64, m_of(n), init="dense", s=None) for n in (20, 40)]
    out = theorem_frontier(rows)
    assert out["constants"][0]["theorem"] == ["Thm 4"]
    scaling = out["n_scaling"][0]
    assert scaling["measured_ratio"] == pytest.approx(m_of(40) / m_of(20))
    assert scaling["predicted_ratio"] == pytest.approx(m_of(40) / m_of(20))
    assert out["constants"][0]["c3"] == pytest.approx(0.01, rel=1e-9)


def test_onestep_budget_reduces_trials_then_skips():
    cells = [_cell(12, 3, 40, 300, init="sparse", s=2)]
    per_trial = 40 * 2 * (300 / 64 + 1)
    out = onestep_predictions(cells, trials=64, seed=5, max_work=20 * per_trial)
    assert out["cells"][0]["trials"] == 20 and not out["skipped"]
    out = onestep_predictions(cells, trials=64, seed=5, max_work=10 * per_trial)
    assert not out["cells"] and "budget" in out["skipped"][0]["reason"]


# --- the SQ bound's exact probabilities (Prop. 3 as the report and `bound` use it) ----------

@pytest.mark.parametrize("text", ["0.1", "1/10", "1e-1", " 0.10 "])
def test_bound_delta_is_read_exactly_at_a_boundary(capsys, text):
    """(50, 3), r = 10, T = 98: m = 1 gives 2 r T m / C(50, 3) = 1960/19600 = 1/10 exactly, so
    the smallest m for delta = 1/10 is 1. Read through a float, 0.1 is just above 1/10 and the
    answer was 2."""
    import json

    from parity_frontiers.cli import main

    assert main(["bound", "--n", "50", "--k", "3", "--params", "10", "--steps", "98",
                 "--delta", text, "--solve-for", "samples", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["solved_value"] == 1 and out["forbidden"] is False
    assert out["delta_exact"] == "1/10" and out["delta"] == 0.1


def test_sq_solve_and_rules_out_keep_fractions_exact():
    from parity_frontiers.theory.sq_bound import sq_rules_out, sq_solve

    tenth = Fraction(1, 10)
    assert sq_solve(50, 3, "samples", params=10, steps=98, delta=tenth).value == 1
    assert sq_solve(50, 3, "steps", params=10, samples=1, delta=tenth).value == 98
    assert sq_solve(50, 3, "params", steps=98, samples=1, delta=tenth).value == 10
    assert not sq_rules_out(50, 3, 10, 98, samples=1, delta=tenth)      # exactly 1/10
    assert sq_rules_out(50, 3, 10, 97, samples=1, delta=tenth)          # 1940/19600 < 1/10
    # A float is the binary number it denotes, just above 1/10: one more sample is needed.
    assert sq_solve(50, 3, "samples", params=10, steps=98, delta=0.1).value == 2


@pytest.mark.parametrize("text,message", [("1/0", "--delta: must be a finite number or fraction"),
                                          ("abc", "--delta: must be a finite number or fraction"),
                                          ("1", "(0, 1)"), ("0", "(0, 1)")])
def test_bound_delta_bad_values_one_line(capsys, text, message):
    from parity_frontiers.cli import main

    try:
        code = main(["bound", "--n", "50", "--k", "3", "--params", "10", "--steps", "98",
                     "--delta", text, "--solve-for", "samples"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


# --- SQ check: every parameter of deeper nets ---------------------------------------------------

@pytest.mark.parametrize("depth", [1, 2, 3])
def test_sq_check_counts_every_layer(depth):
    from parity_frontiers.verify.config import RunConfig
    from parity_frontiers.verify.training.model import param_count

    n, width = 30, 16
    row = sq_check([_cell(n, 3, width, 100, depth=depth, max_steps=20)])[0]
    expected = width * (n + 1) + (depth - 1) * width * (width + 1) + width + 1
    assert row["params"] == expected
    assert row["params"] == param_count(RunConfig(n=n, k=3, width=width, depth=depth))
    exact = min(Fraction(1), Fraction(2 * expected * 20 * 100, math.comb(n, 3)))
    assert row["bound"] == pytest.approx(float(exact), rel=1e-12)
    if depth == 2:  # the first two layers alone would be r(n + 2) + 1 = 513
        assert row["params"] == 513 + 16 * 17


# --- verdicts of the predictions -----------------------------------------------------------------

def test_sq_verdict_not_testable_consistent_refuted():
    from parity_frontiers.verify.analysis.prediction_verdicts import sq_verdict

    # The cpu grid's smallest cell: 2 r T m / C(50, 3) = 2 * 833 * 20000 * 100 / 19600 = 1.7e5.
    cpu = _cell(50, 3, 16, 100, rate=1.0, ci_low=0.8, max_steps=20_000)
    out = sq_verdict([cpu])
    assert out["verdict"] == "not testable here"
    assert out["problems"][0]["smallest_ratio"] == pytest.approx(1.7e5, rel=1e-12)
    # (1000, 8): bound ~ 1e-15; a cell that fails is consistent, one that succeeds refutes.
    quiet = _cell(1000, 8, 1, 10, rate=0.0, ci_low=0.0, max_steps=10)
    assert sq_verdict([quiet])["verdict"] == "consistent"
    loud = _cell(1000, 8, 1, 10, rate=0.9, ci_low=0.6, max_steps=10)
    out = sq_verdict([quiet, loud])
    assert out["verdict"] == "refuted" and len(out["problems"][0]["contradictions"]) == 1


def _fit_row(n, width, wins, init="sparse", s=2, target=0.5):
    from parity_frontiers.verify.analysis.frontier import frontier_table

    cells = [{**BASE, "n": n, "k": 3, "width": width, "init": init, "s": s, "samples": m,
              "runs": 16, "successes": w} for m, w in zip((100, 300, 1000, 3000), wins,
                                                           strict=True)]
    return frontier_table(cells, target)[0]


def test_measured_interval_at_95_is_the_frontier_interval():
    from parity_frontiers.verify.analysis.prediction_verdicts import _measured_interval

    row = _fit_row(30, 16, (0, 5, 12, 16))
    low, high = _measured_interval(row, 1.959963984540054)
    assert (low, high) == pytest.approx((row["ci_low"], row["ci_high"]), rel=1e-9)


def _onestep(n, width, probabilities, init="sparse", s=2, band=0.05):
    cells = [{**BASE, "n": n, "k": 3, "width": width, "init": init, "s": s, "samples": m,
              "predicted": p, "ci_low": max(0.0, p - band), "ci_high": min(1.0, p + band)}
             for m, p in zip((100, 300, 1000, 3000), probabilities, strict=True)]
    status, m_star = crossing([c["samples"] for c in cells], probabilities)
    curve = {**{f: cells[0][f] for f in CURVE_FIELDS}, "status": status, "m_star": m_star,
             "m_min": 100, "m_max": 3000}
    return {"cells": cells, "curves": [curve], "skipped": [], "target": 0.5}


def test_onestep_verdict_refuted_consistent_untestable():
    from parity_frontiers.verify.analysis.prediction_verdicts import onestep_verdict

    measured = [_fit_row(30, 16, (0, 5, 12, 16))]  # m* near 400
    never = onestep_verdict(_onestep(30, 16, (0.0, 0.05, 0.1, 0.2)), measured)
    assert never["verdict"] == "refuted"
    curve = never["problems"][0]["curves"][0]
    assert curve["predicted_interval"] == [3000.0, None] and curve["refuted"]
    assert 0 < curve["p_any_lucky"] < 1
    close = onestep_verdict(_onestep(30, 16, (0.0, 0.3, 0.9, 1.0)), measured)
    assert close["verdict"] == "consistent"
    early = onestep_verdict(_onestep(30, 16, (0.9, 1.0, 1.0, 1.0)), measured)
    assert early["verdict"] == "refuted"  # predicts m* < 100, measured ~ 400
    falling = [_fit_row(30, 16, (16, 12, 5, 0))]  # no crossing from below
    assert onestep_verdict(_onestep(30, 16, (0.0, 0.3, 0.9, 1.0)), falling)["verdict"] == \
        "not testable here"


def _threshold_runs(n, thresholds, width=16, init="sparse", s=2):
    """Seed i succeeds at every m >= thresholds[i] (nested training sets)."""
    from parity_frontiers.verify.config import RunConfig, RunResult

    runs = []
    for m in (100, 200, 300, 500, 1000, 2000, 3000):
        for seed, t in enumerate(thresholds):
            config = RunConfig(n=n, k=3, width=width, samples=m, init=init, s=s, seed=seed,
                               max_steps=1000)
            ok = m >= t
            runs.append(RunResult(config, ok, 500 if ok else None, 0.0, 0.0,
                                  "success" if ok else "max_steps", 500 if ok else 1000))
    return runs


def test_n_scaling_verdict_consistent_refuted_untestable():
    from parity_frontiers.verify.analysis.frontier import frontier_table, success_points
    from parity_frontiers.verify.analysis.prediction_verdicts import n_scaling_verdict

    rng = np.random.default_rng(11)
    base = np.exp(rng.uniform(np.log(150), np.log(1500), 16))

    def verdict(factor, boot=200):
        runs = _threshold_runs(30, base) + _threshold_runs(50, base * factor)
        theorem = theorem_frontier(frontier_table(success_points(runs)))
        return n_scaling_verdict(runs, theorem, seed=3, bootstrap=boot)

    same = verdict(1.0)  # Thm 5 (s = 2 < k = 3) predicts a ratio of 1
    group = same["groups"][0]
    assert same["verdict"] == "consistent" and group["predicted_ratio"] == pytest.approx(1.0)
    assert group["interval"][0] <= 1.0 <= group["interval"][1]
    assert "k = 3 is odd (Thm 5 assumes k even)" in group["outside_conditions"]
    assert verdict(1.0) == same  # seeded bootstrap
    moved = verdict(4.0)
    assert moved["verdict"] == "refuted" and moved["groups"][0]["interval"][0] > 1.0
    one_n = _threshold_runs(30, base)
    theorem = theorem_frontier(frontier_table(success_points(one_n)))
    assert n_scaling_verdict(one_n, theorem, bootstrap=10)["verdict"] == "not testable here"


def test_n_scaling_reads_a_sparse_gaussian_group_as_sparse():
    from parity_frontiers.verify.analysis.frontier import frontier_table, success_points
    from parity_frontiers.verify.analysis.prediction_verdicts import n_scaling_verdict

    base = np.exp(np.random.default_rng(12).uniform(np.log(150), np.log(1500), 16))
    runs = (_threshold_runs(30, base, init="sparse-gaussian")
            + _threshold_runs(50, base, init="sparse-gaussian"))
    theorem = theorem_frontier(frontier_table(success_points(runs)))
    [group] = n_scaling_verdict(runs, theorem, seed=3, bootstrap=50)["groups"]
    # Support s = 2 < k = 3: Theorem 5, predicted ratio 1, never "covered by neither theorem".
    assert (group["init"], group["s"], group["theorem"]) == ("sparse-gaussian", 2, "Thm 5")
    assert group["predicted_ratio"] == pytest.approx(1.0)
    assert not any("neither theorem" in c for c in group["outside_conditions"])
