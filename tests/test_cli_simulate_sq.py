"""``parity-frontiers simulate sq {visible,guess,noisy-gd}``: JSON keys with ``bound``, tables,
the figure, and one-line errors (exit status 2, no traceback, nothing written)."""

from __future__ import annotations

import json
import math

import pytest

from parity_frontiers.cli import main
from parity_frontiers.simulate.sq import (
    simulate_sq_guess,
    simulate_sq_noisy_gd,
    simulate_sq_visible,
)

REQUIRED = {"estimate", "stderr", "ci_low", "ci_high", "trials", "seed", "bound"}


def _reject_constant(name):
    raise AssertionError(f"non-standard JSON constant {name}")


def run_json(capsys, *argv):
    assert main(["simulate", "sq", *argv, "--json", "--no-progress"]) == 0
    return json.loads(capsys.readouterr().out, parse_constant=_reject_constant)


def run_error(capsys, *argv):
    try:
        code = main(["simulate", "sq", *argv])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check_row(row, trials, seed):
    assert REQUIRED <= set(row)
    for key in ("estimate", "stderr", "ci_low", "ci_high", "bound"):
        assert isinstance(row[key], float) and math.isfinite(row[key])
    assert 0 <= row["ci_low"] <= row["estimate"] <= row["ci_high"] <= 1
    assert row["estimate"] <= row["bound"]
    assert row["trials"] == trials and row["seed"] == seed


VISIBLE = ["visible", "--n", "8", "--k", "2", "--width", "4", "--tau", "0.01", "0.1",
           "--trials", "3", "--seed", "5"]


def test_visible_json_matches_library(capsys):
    out = run_json(capsys, *VISIBLE)
    assert len(out["rows"]) == 2
    for row in out["rows"]:
        _check_row(row, 3, 5)
        assert row["energy_bound"] is not None and row["estimate"] <= row["energy_bound"]
    assert out.pop("figures") == []  # no --out
    assert out == json.loads(json.dumps(simulate_sq_visible(8, 2, [4], [0.01, 0.1], trials=3,
                                                            seed=5)))


@pytest.mark.parametrize("method", ["exact", "sample"])
def test_visible_tables_fit_in_100_columns(capsys, method):
    argv = ["visible", "--n", "14", "--k", "3", "--width", "4", "16", "--tau", "1e-3", "1e-2",
            "--init", "dense", "sparse", "--s", "2", "--trials", "3", "--method", method,
            "--no-progress"] + (["--samples", "256", "--parities", "4"] if method == "sample"
                                else [])
    assert main(["simulate", "sq", *argv]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    assert sum(line.startswith("sparse s=2") for line in lines) == 4 + 2  # per tau; per net


def test_visible_single_row_top_level_and_sampled(capsys):
    out = run_json(capsys, "visible", "--n", "24", "--k", "2", "--width", "3", "--tau", "0.1",
                   "--trials", "2", "--samples", "1024", "--parities", "4", "--init",
                   "sparse", "--s", "2")
    _check_row(out, 2, 0)
    assert out["method"] == "sample" and out["samples"] == 1024 and out["parities"] == 4
    assert out["init"] == "sparse" and out["s"] == 2 and out["eps"] > 0


def test_visible_table_and_plot(capsys, tmp_path):
    argv = [*VISIBLE, "--init", "dense", "sparse", "--s", "2", "--out", str(tmp_path / "fig")]
    assert main(["simulate", "sq", *argv]) == 0
    text = capsys.readouterr().out
    assert "Visible parities at init" in text and "energy bound" in text and "ratio" in text
    assert "sparse s=2" in text
    for suffix in ("png", "pdf"):
        path = tmp_path / "fig" / f"sq_visible.{suffix}"
        assert path.stat().st_size > 1000
    assert (tmp_path / "fig" / "sq_visible.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "fig" / "sq_visible.pdf").read_bytes()[:4] == b"%PDF"


def test_guess_json_and_table(capsys):
    argv = ["guess", "--n", "8", "--k", "2", "--queries", "1", "7", "--tau", "0.25",
            "--trials", "2000", "--seed", "3"]
    out = run_json(capsys, *argv)
    for row in out["rows"]:
        _check_row(row, 2000, 3)
        assert "exact" in row and row["asked"]["exact"] == row["queries"] / 28
    assert out == json.loads(json.dumps(simulate_sq_guess(8, 2, [1, 7], 0.25, trials=2000,
                                                          seed=3)))
    assert main(["simulate", "sq", *argv, "--oracle", "adversarial"]) == 0
    text = capsys.readouterr().out
    assert "Lucky-guess SQ learner" in text and "adversarial oracle" in text
    assert "q / C(n,k)" in text


def test_noisy_gd_json_and_table(capsys):
    argv = ["noisy-gd", "--n", "6", "--k", "2", "--width", "3", "--tau", "0.02", "0.2",
            "--steps", "3", "--trials", "2", "--seed", "1"]
    out = run_json(capsys, *argv)
    for row in out["rows"]:
        _check_row(row, 2, 1)
        assert len(row["by_step"]) == 3
    assert out == json.loads(json.dumps(simulate_sq_noisy_gd(6, 2, 3, [0.02, 0.2], 3,
                                                             trials=2, seed=1)))
    assert main(["simulate", "sq", *argv, "--init", "sparse", "--s", "2", "--lr", "0.5",
                 "--weight-decay", "0.01"]) == 0
    text = capsys.readouterr().out
    assert "Noisy GD leaving the target-free trajectory" in text and "delta*" in text


@pytest.mark.parametrize("argv,message", [
    (["visible", "--n", "5", "--k", "6", "--width", "2", "--tau", "0.1"], "k must be <= n"),
    (["visible", "--n", "5", "--k", "2", "--width", "2", "--tau", "0"], "tau must be > 0"),
    (["visible", "--n", "5", "--k", "2", "--width", "2", "--tau", "-0.5"], "tau must be > 0"),
    (["visible", "--n", "5", "--k", "2", "--width", "-2", "--tau", "0.1"], "width must be >= 1"),
    (["visible", "--n", "5", "--k", "2", "--width", "2", "--tau", "0.1", "--init", "sparse"],
     "s (the support size) is required"),
    (["visible", "--n", "5", "--k", "2", "--width", "2", "--tau", "0.1", "--s", "2"],
     "--s applies to sparse init only"),
    (["visible", "--n", "5", "--k", "2", "--width", "2", "--tau", "0.1", "--trials", "1"],
     "--trials must be >= 2"),
    (["visible", "--n", "21", "--k", "2", "--width", "2", "--tau", "0.1", "--method",
      "exact"], "n must be <= 20"),
    (["guess", "--n", "6", "--k", "2", "--queries", "16", "--tau", "0.1"],
     "queries must be <= C(n, k) = 15"),
    (["guess", "--n", "6", "--k", "2", "--queries", "0", "--tau", "0.1"], "queries must be >= 1"),
    (["guess", "--n", "8", "--k", "2", "--queries", "1", "--tau", "3"], "tau must be <= 1"),
    (["guess", "--n", "8", "--k", "2", "--queries", "1", "--tau", "0.5", "--trials", "1e12"],
     "operations, more than"),
    (["visible", "--n", "8", "--k", "2", "--width", "2", "--tau", "0.1", "--trials", "1e12"],
     "trials must be <= 1000000"),
    (["noisy-gd", "--n", "6", "--k", "2", "--width", "2", "--tau", "0.1", "--steps", "2",
      "--trials", "1e12"], "trials must be <= 1000000"),
    (["noisy-gd", "--n", "6", "--k", "2", "--width", "4", "--tau", "0.1", "--steps", "20",
      "--lr", "1e100"], "gradient descent diverged"),
    (["noisy-gd", "--n", "17", "--k", "2", "--width", "2", "--tau", "0.1", "--steps", "2"],
     "n must be <= 16"),
    (["noisy-gd", "--n", "6", "--k", "2", "--width", "2", "--tau", "0.1", "--steps", "2",
      "--lr", "-1"], "lr must be > 0"),
])
def test_errors_are_one_line(capsys, argv, message):
    code, out, err = run_error(capsys, *argv, "--trials", "2") if "--trials" not in argv \
        else run_error(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("parity-frontiers simulate sq ") and message in err


def test_argparse_errors(capsys):
    code, _, err = run_error(capsys, "visible", "--n", "x", "--k", "2", "--width", "2",
                             "--tau", "0.1")
    assert code == 2 and err.count("\n") == 1 and "must be an integer" in err
    code, _, err = run_error(capsys, "unknown")
    assert code == 2 and err.count("\n") == 1


@pytest.mark.parametrize("flag", ["--out", "--plot"])  # --plot: the hidden former spelling
def test_bad_plot_dir_writes_nothing(capsys, tmp_path, flag):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_error(capsys, *VISIBLE, flag, str(blocker))
    assert code == 2 and out == "" and "is a file" in err and err.count("\n") == 1
    assert "--out" in err
    assert blocker.read_text() == "x"


def test_visible_bound_underflow_is_a_value_not_a_traceback(capsys):
    argv = ["visible", "--n", "10", "--k", "5", "--width", "2", "--tau", "1e200", "--trials",
            "2"]
    out = run_json(capsys, *argv)
    assert out["bound"] == 0.0 and out["ratio"] == 0.0 and out["log10_bound"] < -400
    assert main(["simulate", "sq", *argv, "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "10^-401" in table and "tau half" in table


def test_visible_table_reports_tolerance_scales(capsys):
    out = run_json(capsys, *VISIBLE)
    for row in out["rows"]:
        assert row["tau_half"] == row["sup_norm"]["median"]
        assert math.isclose(row["tau_bound"], math.sqrt(2 * row["params"] / math.comb(8, 2)))
        assert math.isclose(row["energy_ratio"], row["energy_bound"] / row["bound"])
    assert main(["simulate", "sq", *VISIBLE, "--no-progress", "--method", "sample",
                 "--samples", "512"]) == 0
    assert "tau half (sampled)" in capsys.readouterr().out


def test_figure_arrows_caveat_bounds_and_layout():
    from parity_frontiers.figures.sq_visible import ZERO_CAVEAT, draw_sq_visible

    rows = []
    for init, widths in (("dense", [4]), ("sparse", [4, 16, 64, 256])):  # 16.. sparse only
        for width in widths:
            for tau in (0.01, 0.1):
                zero = tau == 0.1 and width == 4
                rows.append({"init": init, "width": width, "tau": tau,
                             "estimate": 0.0 if zero else 0.3, "ci_low": 0.0 if zero else 0.2,
                             "ci_high": 0.6 if zero else 0.4, "bound": min(1.0, width / 300),
                             "trials": 40})
    fig = draw_sq_visible(rows)
    left, right = fig.axes[:2]
    for ax in (left, right):
        assert [t.get_text() for t in ax.texts] == [ZERO_CAVEAT]
    # A bound line per width (left) and per tau (right), whichever init has the width.
    assert sum(str(line.get_label()).startswith("bound, width") for line in left.lines) == 4
    assert sum(str(line.get_label()).startswith("bound, tau") for line in right.lines) == 2
    # The zero estimate is an upper-limit arrow at ci_high, not silently dropped.
    arrows = [c for c in left.containers
              if list(c.lines[0].get_ydata()) == [0.6] and c.has_yerr and c.lines[1]]
    assert len(arrows) == 2  # dense and sparse, width 4, tau 0.1
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in (left, right):  # legends sit outside the data area
        assert ax.get_legend().get_window_extent(renderer).x0 >= \
            ax.get_window_extent(renderer).x1 - 1
    labels = [t.get_window_extent(renderer) for t in right.get_xticklabels() if t.get_text()]
    assert [t.get_text() for t in right.get_xticklabels()] == ["4", "16", "64", "256"]
    for a, b in zip(labels[:-1], labels[1:], strict=True):
        assert a.x1 < b.x0


def test_figure_width_panel_keeps_four_informative_taus():
    from parity_frontiers.figures.sq_visible import draw_sq_visible

    taus = [10.0**e for e in range(-4, 3)]  # 7 taus, the last two all zero
    rows = [{"init": "dense", "width": w, "tau": t, "estimate": 0.5 if t < 5 else 0.0,
             "ci_low": 0.0, "ci_high": 0.6, "bound": 1.0, "trials": 40}
            for w in (4, 8) for t in taus]
    right = draw_sq_visible(rows).axes[1]
    labels = [str(line.get_label()) for line in right.lines if "bound" in str(line.get_label())]
    assert labels == ["bound, tau 0.0001", "bound, tau 0.001", "bound, tau 0.1", "bound, tau 1"]
