"""verify.predict: the SQ check against exact integer arithmetic, the one-step prediction
against a direct simulate_onestep call, and the fitted theorem constants on data built from
known constants."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from parity_frontiers.verify.analysis.frontier import CURVE_FIELDS
from parity_frontiers.verify.analysis.predictions import (
    crossing,
    onestep_predictions,
    sq_check,
    theorem_frontier,
)

BASE = dict(depth=1, max_steps=1000, eval_every=100, batch_size=32, lr=0.1, weight_decay=0.01,
            loss="hinge", test_size=1000, success_error=0.1)


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


@pytest.mark.parametrize("text,message", [("1/0", "fraction like 1/10"),
                                          ("abc", "fraction like 1/10"),
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
