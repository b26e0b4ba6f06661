"""Tests of figures.style and figures.theory_plots (the SQ frontier and lottery figures).

Independent routes: the plotted SQ boundary is checked against exact integers (math.comb,
Fraction) and against the Line2D data actually drawn; the lottery lines against exact rational
enumeration; the Monte Carlo points against theory within a standard-error tolerance.
"""

from __future__ import annotations

import doctest
import math
from fractions import Fraction

import numpy as np
import pytest

import parity_frontiers.figures.layout as layout
import parity_frontiers.figures.lottery_plots as lottery_plots
import parity_frontiers.figures.style as style
import parity_frontiers.figures.theory_plots as theory_plots
from parity_frontiers.figures.style import figure_path, save_figure, subplots
from parity_frontiers.figures.theory_plots import (
    lottery_figure,
    sq_boundary_curve,
    sq_frontier_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_files(paths, out_dir, stem):
    assert [p.name for p in paths] == [f"{stem}.png", f"{stem}.pdf"]
    png, pdf = (p.read_bytes() for p in paths)
    assert png.startswith(PNG_MAGIC) and len(png) > 1000
    assert pdf.startswith(b"%PDF-") and len(pdf) > 1000
    # Atomic writes leave no temporary files behind.
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in paths)


@pytest.fixture
def captured(monkeypatch):
    """Figures handed to save_figure by theory_plots and lottery_plots, with their axes'
    contents and title copied."""
    seen = []

    def capture(fig, out_dir, stem):
        seen.append({"axes": [{"lines": [(np.asarray(line.get_xdata(), float),
                                          np.asarray(line.get_ydata(), float))
                                         for line in ax.get_lines()],
                               "texts": [t.get_text() for t in ax.texts],
                               "collections": len(ax.collections)}
                              for ax in fig.axes],
                     "title": fig.get_suptitle()})
        return save_figure(fig, out_dir, stem)

    monkeypatch.setattr(theory_plots, "save_figure", capture)
    monkeypatch.setattr(lottery_plots, "save_figure", capture)
    return seen


# --- figures.style -------------------------------------------------------------------------

def test_doctests_of_figure_modules():
    # pyproject's testpaths do not list figures/, so run their doctests here.
    for module in (style, layout, theory_plots, lottery_plots):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_palette_is_okabe_ito():
    assert style.PALETTE == ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
                             "#F0E442", "#000000")
    assert len(style.MARKERS) == len(style.PALETTE)


def test_save_figure_writes_png_and_pdf_and_closes_pyplot_figures(tmp_path):
    plt = style.pyplot()
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 4])
    paths = save_figure(fig, tmp_path / "new" / "dir", "demo")
    _check_files(paths, tmp_path / "new" / "dir", "demo")
    assert fig.number not in plt.get_fignums()


def test_save_figure_pdf_is_reproducible(tmp_path):
    blobs = []
    for run in range(2):
        fig, ax = subplots()
        ax.plot([1, 2], [1, 4])
        blobs.append(save_figure(fig, tmp_path / str(run), "same")[1].read_bytes())
    assert blobs[0] == blobs[1]


def test_save_figure_failure_leaves_nothing(tmp_path, monkeypatch):
    fig, ax = subplots()
    ax.plot([1, 2], [1, 4])

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(fig, tmp_path, "broken")
    assert list(tmp_path.iterdir()) == []
    assert fig.axes == []  # closed (cleared) even on failure


@pytest.mark.parametrize("stem", ["", "a/b", ".", 3])
def test_figure_path_rejects_bad_stems(stem):
    with pytest.raises(ValueError, match="stem"):
        figure_path("out", stem)
    with pytest.raises(ValueError, match="fmt"):
        figure_path("out", "ok", "svg")


# --- SQ frontier -------------------------------------------------------------------------

@pytest.mark.parametrize("n, k", [(10, 3), (20, 4), (50, 3), (60, 7)])
@pytest.mark.parametrize("delta", [1.0, 0.5, 0.1])
def test_sq_boundary_matches_exact_integers(n, k, delta):
    widths = [1, 7, 100, 12345]
    steps = 13
    curve = sq_boundary_curve(n, k, widths, steps, delta)
    c = math.comb(n, k)
    for width, log10_m in zip(widths, curve["log10_samples"], strict=True):
        r = width * (n + 2) + 1
        assert curve["params"][widths.index(width)] == r
        # 2 r T m = delta C(n, k), compared in log space with the exact integers' logs.
        lhs = math.log10(2 * r * steps) + log10_m
        rhs = math.log10(c) + math.log10(delta)
        assert abs(lhs - rhs) <= 1e-12 * abs(rhs)
        # ... and m itself against the exact rational delta C / (2 r T).
        exact = Fraction(delta) * c / (2 * r * steps)
        assert 10.0 ** log10_m == pytest.approx(float(exact), rel=1e-12)


def test_sq_boundary_is_finite_for_huge_binomials():
    curve = sq_boundary_curve(1000, 8, [10, 10**5], 10**5)
    expected = math.log10(math.comb(1000, 8)) - np.log10(2.0 * curve["params"] * 10**5)
    np.testing.assert_allclose(curve["log10_samples"], expected, rtol=1e-12)
    # C(1e6, 500) ~ 1e1860 overflows float64; math.log10 of the exact integer does not.
    far = sq_boundary_curve(10**6, 500, [10**5], 10**5)
    r = 10**5 * (10**6 + 2) + 1
    expected = math.log10(math.comb(10**6, 500)) - math.log10(2 * r * 10**5)
    assert far["log10_samples"][0] == pytest.approx(expected, rel=1e-12)


def test_sq_frontier_figure_draws_the_formula(tmp_path, captured):
    problems = [(20, 3), (1000, 8)]
    steps = [1, 1000]
    cells = [(20, 3, 100, 50, 1000, 0.9),
             {"n": 1000, "k": 8, "width": 10**4, "samples": 1e6, "steps": 10**5,
              "success_rate": 0.0}]
    paths = sq_frontier_figure(problems, [10, 10**5], steps, (1, 1e12), tmp_path,
                               stem="frontier", cells=cells)
    _check_files(paths, tmp_path, "frontier")
    (figure,) = captured
    # Two data panels (plus the colour bar); the cells' T = 1e5 joins the line family.
    panels = figure["axes"][:2]
    all_steps, deltas = [1, 1000, 10**5], [1.0, 0.5]
    for (n, k), panel in zip(problems, panels, strict=True):
        lines = [ln for ln in panel["lines"] if ln[0].size > 2]
        assert len(lines) == len(all_steps) * len(deltas)
        c = math.comb(n, k)
        for (t, delta), (m, width) in zip(
                [(t, d) for t in all_steps for d in deltas], lines, strict=True):
            # Every drawn point (m, w) solves 2 r(w) T m = delta C(n, k).
            r = width * (n + 2) + 1
            np.testing.assert_allclose(2 * r * t * m / (delta * c), 1.0, rtol=1e-12)
    # (20, 3): the cell scatter only (the shaded region of T = 1e5 lies left of the axes, so
    # it is not drawn); (1000, 8): the shading and the cell scatter.
    assert [panel["collections"] for panel in panels] == [1, 2]


def test_sq_frontier_leaves_out_empty_panels_and_notes_vacuous_bounds(tmp_path, captured):
    # C(50, 3) = 19600: with T = 1e5 even one neuron and m = 1 clear the bound, and without
    # cells the (50, 3) panel would be empty: it is left out and named in the title.
    sq_frontier_figure([(50, 3), (1000, 8)], [10, 1000], [10**5], (100, 1e12), tmp_path)
    (figure,) = captured
    panels = [ax for ax in figure["axes"] if ax["lines"]]
    assert len(panels) == 1
    assert ("n = 50, k = 3 not drawn: Prop. 3 rules out only m < 0.00019 there (under one "
            "sample: vacuous)") in figure["title"]
    # With a cell to show, the (50, 3) panel is drawn, with the note inside it.
    sq_frontier_figure([(50, 3), (1000, 8)], [10, 1000], [10**5], (100, 1e12), tmp_path,
                       cells=[(50, 3, 100, 1000, 10**5, 1.0)])
    texts = [" ".join(ax["texts"]) for ax in captured[1]["axes"]]
    assert "vacuous" in texts[0]
    assert "vacuous" not in texts[1]
    assert "not drawn" not in captured[1]["title"]


@pytest.mark.parametrize("kwargs, message", [
    ({"problems": [(3, 5)]}, "k must be <= n"),
    ({"problems": []}, "at least one"),
    ({"problems": [(5, 2), (5, 2)]}, "twice"),
    ({"widths": []}, "widths must not be empty"),
    ({"widths": [0, 10]}, "widths must be >= 1"),
    ({"steps": []}, "steps must not be empty"),
    ({"samples_range": (10, 10)}, "low < high"),
    ({"samples_range": (0, 10)}, "samples_range must be > 0"),
    ({"deltas": [1.5]}, r"deltas must lie in \(0, 1\]"),
    ({"cells": [(7, 2, 10, 10, 10, 0.5)]}, "not in problems"),
    ({"cells": [(5, 2, 10, 10, 10, 1.5)]}, r"success_rate must lie in \[0, 1\]"),
    ({"cells": [{"n": 5, "k": 2}]}, "lacks width"),
    ({"steps": list(range(1, 10))}, "at most 8"),
])
def test_sq_frontier_rejects_bad_input_without_writing(tmp_path, kwargs, message):
    args = {"problems": [(5, 2)], "widths": [1, 10], "steps": [1], "samples_range": (1, 100),
            "out_dir": tmp_path / "out"} | kwargs
    with pytest.raises(ValueError, match=message):
        sq_frontier_figure(**args)
    assert not (tmp_path / "out").exists()


# --- lottery -----------------------------------------------------------------------------

def _exact_any_lucky(n, k, s, r) -> Fraction:
    """1 - (1 - p)^r with p from exact binomials (S in U for s >= k, U in S otherwise)."""
    p = (Fraction(math.comb(s, k), math.comb(n, k)) if s >= k
         else Fraction(math.comb(k, s), math.comb(n, s)))
    return 1 - (1 - p) ** r


def test_lottery_figure_exact_rows_and_mc_points(tmp_path, captured):
    n, k, trials = 12, 3, 400
    out = lottery_figure(n, k, [2, 5], [1, 10, 100], trials=trials, seed=7, out_dir=tmp_path,
                         threads=1)
    _check_files(out["paths"], tmp_path, "lottery")
    # Lines: every row equals the exact rational value.
    for row in out["exact"]:
        exact = float(_exact_any_lucky(n, k, row["s"], row["width"]))
        assert row["p_exact"] == pytest.approx(exact, rel=1e-12, abs=1e-15)
    widths = {row["width"] for row in out["exact"]}
    assert min(widths) == 1 and max(widths) == 100 and len(widths) > 20
    # Points: one per (s, width), distinct seeds, |estimate - exact| within 4 standard errors
    # of the exact p (4 se: a two-sided normal tail of 6e-5 per point, so 6 points fail
    # together with probability < 1e-3 for any seed; the seed is fixed anyway).
    assert [(r["s"], r["width"]) for r in out["mc"]] == [(2, 1), (2, 10), (2, 100),
                                                         (5, 1), (5, 10), (5, 100)]
    assert len({r["seed"] for r in out["mc"]}) == 6
    for row in out["mc"]:
        exact = float(_exact_any_lucky(n, k, row["s"], row["width"]))
        assert row["exact"] == pytest.approx(exact, rel=1e-12)
        se = math.sqrt(exact * (1 - exact) / trials)
        assert abs(row["estimate"] - exact) <= 4 * se + 1e-12
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"]
        assert row["trials"] == trials
    assert out["too_few_trials"] is False
    assert captured[0]["axes"][0]["texts"] == []


def test_lottery_figure_says_when_trials_are_too_few(tmp_path, captured):
    out = lottery_figure(12, 3, [2], [10], trials=5, seed=0, out_dir=tmp_path, threads=1)
    assert out["too_few_trials"] is True
    (text,) = captured[0]["axes"][0]["texts"]
    assert "only 5 trials" in text and "too wide" in text
    # A single width still gets a line a decade either side.
    widths = [row["width"] for row in out["exact"]]
    assert min(widths) == 1 and max(widths) == 100


def test_lottery_figure_is_reproducible(tmp_path):
    first = lottery_figure(12, 3, [4], [3, 30], trials=50, seed=3, out_dir=tmp_path / "a",
                           threads=1)
    second = lottery_figure(12, 3, [4], [3, 30], trials=50, seed=3, out_dir=tmp_path / "b",
                            threads=1)
    assert first["mc"] == second["mc"]


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 13}, "k must be <= n"),
    ({"widths": []}, "widths must not be empty"),
    ({"s_values": []}, "s_values must not be empty"),
    ({"s_values": [13]}, "s_values must be <= n"),
    ({"trials": 0}, "trials must be >= 1"),
    ({"trials": -3}, "trials must be >= 1"),
    ({"trials": 2.5}, "trials"),
    ({"seed": -1}, "seed must be >= 0"),
    ({"seed": 2**63 - 1}, "seed must be < 2"),
])
def test_lottery_figure_rejects_bad_input_without_writing(tmp_path, kwargs, message):
    args = {"n": 12, "k": 3, "s_values": [2], "widths": [1, 10], "trials": 10, "seed": 0,
            "out_dir": tmp_path / "out"} | kwargs
    with pytest.raises(ValueError, match=message):
        lottery_figure(**args)
    assert not (tmp_path / "out").exists()


def test_lottery_curves_around_a_single_width():
    # one width: a decade either side of it, on integer widths (6.4 was refused)
    curves = lottery_plots.lottery_curves(20, 3, [3], [64], trials=10, seed=0)
    widths = sorted({row["width"] for row in curves["exact"]})
    assert widths[0] == 6 and widths[-1] == 640
