"""Every figure reads right: a layout check of each plot function of figures/.

Each ``draw_*`` function is rendered on small synthetic rows or on a copy of a small committed
store (never the committed file itself) and checked, after ``fig.canvas.draw()``, for

(a) tick labels whose boxes overlap on any axis (and annotations that cover a tick label, or
    a boxed note that hides a data marker);
(b) a panel without data in view (an empty panel);
(c) a legend entry that names nothing drawn;
(d) the notebook API: it accepts ``ax=`` and returns the Figure it drew on.

Plus the specific promises of the figures: the heatmap's true log m axis with "online" set
apart, cell labels clear of every interval cap, theory drawn for its shape only where the
theorem does not apply, absolute row counts on the tabular figure.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from parity_frontiers.figures import (
    frontier_plots,
    heatmap,
    lottery_plots,
    lottery_ticket,
    search_plots,
    sq_visible,
    tabular,
    theory_plots,
)
from parity_frontiers.figures.layout import log_ticks
from parity_frontiers.figures.style import add_caveat, subplots

REFERENCE = Path(__file__).resolve().parents[1] / "figures" / "reference"
M_GRID = (100, 200, 300, 500, 700, 1000, 2000, 3000, 10000)
WIDTHS = (16, 64, 256, 1024)


# --- the checks --------------------------------------------------------------------------------

def _renderer(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _all_axes(fig):
    out = []
    for ax in fig.axes:
        out += [ax, *getattr(ax, "child_axes", [])]
    return list(dict.fromkeys(out))


def _inside(points, box, pad=1.0) -> bool:
    points = np.asarray(points, float).reshape(-1, 2)
    ok = np.isfinite(points).all(axis=1)
    points = points[ok]
    return bool(np.any((points[:, 0] >= box.x0 - pad) & (points[:, 0] <= box.x1 + pad)
                       & (points[:, 1] >= box.y0 - pad) & (points[:, 1] <= box.y1 + pad)))


def _overlap(a, b, pad=0.5) -> bool:
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > pad) and (min(a.y1, b.y1) - max(a.y0, b.y0) > pad)


def _shows_data(artist, ax, renderer) -> bool:
    """Whether an artist has data inside the axes' box."""
    from matplotlib.collections import PathCollection
    from matplotlib.container import Container
    from matplotlib.lines import Line2D

    if isinstance(artist, Container):
        return any(_shows_data(child, ax, renderer) for child in artist.get_children()
                   if child is not None)
    if not artist.get_visible():
        return False
    if isinstance(artist, Line2D):
        xy = artist.get_xydata()
        return len(xy) > 0 and _inside(artist.get_transform().transform(xy), ax.bbox)
    if isinstance(artist, PathCollection):
        offsets = artist.get_offsets()
        return len(offsets) > 0 and _inside(
            artist.get_offset_transform().transform(offsets), ax.bbox)
    box = artist.get_window_extent(renderer)
    return box.width > 0.5 and box.height > 0.5 and _overlap(box, ax.bbox)


def _marker_points(ax):
    """(label, display coordinates) of every drawn marker of ``ax``: line markers, scatters."""
    from matplotlib.collections import PathCollection

    for line in ax.lines:
        if line.get_visible() and line.get_marker() not in (None, "None", "", " "):
            yield line.get_label(), line.get_transform().transform(line.get_xydata())
    for collection in ax.collections:
        if isinstance(collection, PathCollection) and collection.get_visible() \
                and len(collection.get_offsets()):
            yield collection.get_label(), collection.get_offset_transform().transform(
                collection.get_offsets())


def _data_artists(ax):
    return [*ax.lines, *ax.collections, *ax.patches, *ax.images, *ax.containers]


def _drawn_labels(fig, renderer) -> set:
    labels = set()
    for ax in _all_axes(fig):
        for artist in _data_artists(ax):
            label = str(artist.get_label())
            if label and not label.startswith("_") and _shows_data(artist, ax, renderer):
                labels.add(label)
    return labels


def _visible_ticklabels(axis):
    low, high = sorted(axis.get_view_interval())
    out = []
    for label in axis.get_ticklabels(which="both"):
        if not label.get_visible() or not label.get_text().strip():
            continue
        loc = label.get_position()[0 if axis.axis_name == "x" else 1]
        if low - 1e-9 * abs(low) <= loc <= high + 1e-9 * abs(high):
            out.append(label)
    return out


def check_layout(fig, *, allow_empty=()):
    """(a), (b) and (c) of the module docstring; returns the renderer."""
    renderer = _renderer(fig)
    problems = []
    ticklabels = []
    for ax in _all_axes(fig):
        if not ax.get_visible():
            continue
        for axis in ("xaxis", "yaxis"):
            if not getattr(ax, axis).get_visible() or not ax.axison:
                continue
            labels = _visible_ticklabels(getattr(ax, axis))
            boxes = [(lab.get_text(), lab.get_window_extent(renderer)) for lab in labels]
            ticklabels += boxes
            for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
                if _overlap(a, b):
                    problems.append(f"{ax.get_title()!r} {axis}: tick labels {ta!r} and "
                                    f"{tb!r} overlap")
    for ax in _all_axes(fig):  # (a) annotations never cover a tick label
        for text in ax.texts:
            if not text.get_visible() or not text.get_text().strip():
                continue
            box = text.get_window_extent(renderer)
            patch = text.get_bbox_patch()
            if patch is not None:
                box = patch.get_window_extent(renderer)
            for label, tick in ticklabels:
                if _overlap(box, tick):
                    problems.append(f"text {text.get_text()[:40]!r} covers tick label "
                                    f"{label!r}")
    for ax in _all_axes(fig):  # (a) a boxed note never hides a data marker
        boxes = [text.get_bbox_patch().get_window_extent(renderer) for text in ax.texts
                 if text.get_visible() and text.get_bbox_patch() is not None]
        for box in boxes:
            for label, points in _marker_points(ax):
                if _inside(points, box, pad=-1.0):
                    problems.append(f"{ax.get_title()!r}: a boxed note hides a marker of "
                                    f"{label!r}")
    for ax in fig.axes:  # (b) no empty panel
        if not ax.get_visible() or not ax.axison or ax.get_label() == "<colorbar>":
            continue
        if ax.get_title() in allow_empty:
            continue
        if not any(_shows_data(a, ax, renderer) for a in _data_artists(ax)):
            problems.append(f"empty panel {ax.get_title()!r}")
    drawn = _drawn_labels(fig, renderer)  # (c) legends name only what is drawn
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    for legend in legends:
        for text in legend.get_texts():
            if text.get_text() not in drawn:
                problems.append(f"legend entry {text.get_text()!r} names nothing drawn")
    assert not problems, "\n".join(problems)
    return renderer


def check_notebook_api(draw, panels: int, *args, **kwargs):
    """(d): ``draw(..., ax=axes)`` draws into the given axes and returns their Figure."""
    from matplotlib.figure import Figure

    fig, axes = subplots(1, panels, figsize=(4.5 * panels, 4), squeeze=False)
    given = list(axes.flat) if panels > 1 else axes.flat[0]
    out = draw(*args, ax=given, **kwargs)
    assert isinstance(out, Figure) and out is fig
    for ax in axes.flat:
        assert _data_artists(ax) or not ax.axison, "an axes given as ax= was left blank"
    return out


# --- synthetic rows ----------------------------------------------------------------------------

def _rate(m, width, init, m50):
    """A made-up success curve: steep in log m, earlier for wider and sparse nets."""
    centre = m50 * (1.0 if init == "dense" else 0.7) * (16 / width) ** 0.15
    return 1 / (1 + (centre / m) ** 6)


def _cells(n=30, k=3, m50=450, runs=16, inits=(("dense", None), ("sparse", 2))):
    rows = []
    for (init, s), width, m in itertools.product(inits, WIDTHS, (*M_GRID, None)):
        p = 1.0 if m is None else _rate(m, width, init, m50)
        wins = int(round(p * runs))
        rate = wins / runs
        median = None if wins * 2 < runs else 2000 + 30000 / (m or 1e5) ** 0.5
        rows.append({"n": n, "k": k, "init": init, "s": s, "width": width, "samples": m,
                     "runs": runs, "successes": wins, "success_rate": rate,
                     "ci_low": max(0.0, rate - 0.25), "ci_high": min(1.0, rate + 0.25),
                     "max_steps": 20000, "batch_size": 32,
                     "median_steps_to_success": median,
                     "median_ci_low": median and median * 0.7,
                     "median_ci_high": median and (None if rate < 0.8 else median * 1.4)})
    return rows


def _overlays(n, k, m50, theorem_name="Thm 4"):
    frontier, onestep, theorem = [], [], []
    for init, s in (("dense", None), ("sparse", 2)):
        for width in WIDTHS:
            m_star = m50 * (1.0 if init == "dense" else 0.7) * (16 / width) ** 0.15
            key = {"n": n, "k": k, "init": init, "s": s, "width": width}
            frontier.append(key | {"status": "fitted", "m_star": m_star,
                                   "ci_low": m_star / 1.25, "ci_high": m_star * 1.25,
                                   "m_min": 100, "m_max": 10000})
            onestep.append(key | {"status": "above_grid", "m_star": None, "m_min": 100,
                                  "m_max": 10000})
            theorem.append(key | {"theorem": theorem_name, "predicted": m50 * 1.1,
                                  "measured": m_star})
    return frontier, onestep, theorem


# --- frontier plots ----------------------------------------------------------------------------

def test_heatmap_true_log_axis_online_apart_labels_clear_of_caps():
    cells = _cells()
    frontier, onestep, theorem = _overlays(30, 3, 450)
    fig = frontier_plots.draw_success_heatmap(cells, frontier=frontier, onestep=onestep,
                                              theorem=theorem)
    renderer = check_layout(fig)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2
    for ax in panels:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        # "online" is its own column, right of a gap after the last finite cell's edge.
        [online] = [t for t in ax.get_xticklabels() if t.get_text() == "online"]
        last_edge = 10000 * math.sqrt(10000 / 3000)
        assert online.get_position()[0] > last_edge * 1.2
        numbers = [float(t.get_text()) for t in _visible_ticklabels(ax.xaxis)
                   if t.get_text() != "online"]
        assert numbers and all(100 <= v <= 10000 for v in numbers)
        # The measured m* sits at its own value on the axis, not at an interpolated index.
        [measured] = [ln for ln in ax.lines if ln.get_label().startswith("measured")]
        mine = [r for r in frontier if r["init"] == ("dense" if "dense" in ax.get_title()
                                                     else "sparse")]
        np.testing.assert_allclose(sorted(measured.get_xdata()),
                                   sorted(r["m_star"] for r in mine))
        # Cell labels ("16/16") never touch an interval cap, a marker or an interval line.
        labels = [t for t in ax.texts if re.fullmatch(r"\d+/\d+", t.get_text())]
        assert len(labels) == len(WIDTHS) * (len(M_GRID) + 1)
        boxes = [t.get_window_extent(renderer) for t in labels]
        dpi = fig.dpi
        for line in ax.lines:
            if line.get_marker() in (None, "None", "", " "):
                continue
            half = (line.get_markersize() + line.get_markeredgewidth()) * dpi / 72 / 2
            for x, y in line.get_transform().transform(line.get_xydata()):
                for box in boxes:
                    assert not (box.x0 - half < x < box.x1 + half
                                and box.y0 - half < y < box.y1 + half), \
                        f"a {line.get_marker()!r} marker touches a cell label"
        for collection in ax.collections:
            for segment in getattr(collection, "get_segments", lambda: [])():
                (x0, y0), (x1, y1) = collection.get_transform().transform(segment)
                for box in boxes:
                    assert not (min(x0, x1) < box.x1 and max(x0, x1) > box.x0
                                and box.y0 - 1 < y0 < box.y1 + 1), "an interval crosses a label"


def test_heatmap_theory_only_where_it_applies():
    from matplotlib.colors import to_hex

    # k = 3: the theorems need k even, so their m* is grey, dashed, "shape only, k odd".
    cells = _cells()
    frontier, onestep, theorem = _overlays(30, 3, 450)
    fig = frontier_plots.draw_success_heatmap(cells, frontier=frontier, onestep=onestep,
                                              theorem=theorem)
    check_layout(fig)
    [odd] = {ln.get_label() for ax in fig.axes for ln in ax.lines if "Thm" in ln.get_label()
             and ax.get_label() != "<colorbar>" and "dense" in ax.get_title()}
    assert "shape only, k odd" in odd and "fitted to these m*" in odd
    line = next(ln for ax in fig.axes for ln in ax.lines if ln.get_label() == odd)
    assert to_hex(line.get_color()) == "#777777" and line.get_linestyle() != "-"
    # k = 4, n = 30 (even), dense: the theorem applies; it still says what it was fitted to.
    cells = _cells(n=30, k=4, inits=(("dense", None),))
    frontier, onestep, theorem = _overlays(30, 4, 450)
    frontier = [r for r in frontier if r["init"] == "dense"] + \
        [dict(r, n=40) for r in frontier if r["init"] == "dense"]
    fig = frontier_plots.draw_success_heatmap(cells, frontier=frontier, onestep=onestep,
                                              theorem=theorem)
    check_layout(fig)
    labels = {ln.get_label() for ax in fig.axes for ln in ax.lines}
    [even] = [lab for lab in labels if "Thm" in lab]
    assert "shape only" not in even and "fitted to the m* of n = 30, 40" in even
    # Legends list what is drawn: every one-step prediction lies above the grid here.
    legend = {t.get_text() for lg in fig.legends for t in lg.get_texts()}
    assert "one-step: m* > grid" in legend
    assert not legend & {"one-step prediction", "one-step: m* < grid", "no runs"}


def test_heatmap_grey_cells_thin_cells_and_notebook_api():
    cells = [c for c in _cells(runs=4) if not (c["width"] == 64 and c["samples"] == 300)]
    fig = check_notebook_api(frontier_plots.draw_success_heatmap, 2, cells)
    check_layout(fig)
    entries = {t.get_text() for ax in fig.axes if ax.get_legend()
               for t in ax.get_legend().get_texts()}
    assert "no runs" in entries and any(e.startswith("hatched: < 5 runs") for e in entries)
    with pytest.raises(ValueError, match="2 panel"):
        frontier_plots.draw_success_heatmap(cells, ax=subplots()[1])
    with pytest.raises(ValueError, match="choose one with n= and k="):
        frontier_plots.draw_success_heatmap(cells + _cells(n=50))


def test_sparse_gaussian_panels_are_labelled_and_judged_as_sparse():
    inits = (("dense", None), ("sparse-gaussian", 2), ("sparse", 2))
    cells = _cells(k=4, inits=inits)
    fig = frontier_plots.draw_success_heatmap(cells)
    check_layout(fig)
    titles = [ax.get_title() for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert titles == ["dense", "sparse, s = 2", "sparse-gaussian, s = 2"]
    for draw in (frontier_plots.draw_success_curves, frontier_plots.draw_steps_curves):
        assert [ax.get_title() for ax in draw(cells).axes if ax.get_title()] == titles
    # Theorem 5's parity condition reads the support s of a sparse-gaussian row, not n.
    assert heatmap.theorem_applies({"n": 30, "k": 4, "init": "sparse-gaussian", "s": 2}) == \
        (True, "")
    assert heatmap.theorem_applies({"n": 31, "k": 4, "init": "sparse-gaussian", "s": 3}) == \
        (False, "s odd")


@pytest.mark.parametrize("draw", [frontier_plots.draw_success_curves,
                                  frontier_plots.draw_steps_curves])
def test_curves(draw):
    cells = _cells(runs=6)
    check_layout(draw(cells))
    fig = check_notebook_api(draw, 2, cells)
    check_layout(fig)
    for ax in fig.axes:
        if ax.get_xscale() == "log":
            assert "online" in [t.get_text() for t in ax.get_xticklabels()]


def test_steps_legend_explains_only_glyphs_drawn():
    cells = [dict(c, median_ci_high=(c["median_steps_to_success"] or 0) * 1.4 or None)
             for c in _cells() if c["median_steps_to_success"] is not None]
    fig = frontier_plots.draw_steps_curves(cells)
    check_layout(fig)
    (legend,) = fig.legends
    assert legend.get_title().get_text() == ""  # no triangle, no open-ended interval drawn


def test_file_writing_wrappers_still_write_one_pair_per_problem(tmp_path):
    cells = _cells() + _cells(n=50, m50=1200)
    frontier, onestep, theorem = _overlays(30, 3, 450)
    paths = frontier_plots.success_heatmap(cells, tmp_path, frontier=frontier,
                                           onestep=onestep, theorem=theorem)
    assert sorted(p.name for p in paths) == sorted(
        f"success_heatmap_n{n}_k3.{ext}" for n in (30, 50) for ext in ("png", "pdf"))


# --- theory ------------------------------------------------------------------------------------

def _report_like_sq_call(cells):
    """The SQ figure as figures/report.py asks for it: the sweep's problems and two more."""
    problems = sorted({(c["n"], c["k"]) for c in cells})
    return dict(problems=sorted(set(problems) | {(300, 4), (1000, 8)})[:4],
                widths=sorted({c["width"] for c in cells} | {10, 100_000}),
                steps=[20000, 100_000], samples_range=(1.0, 1e12),
                cells=[{"n": c["n"], "k": c["k"], "width": c["width"],
                        "samples": c["samples"] or 640000, "steps": 20000,
                        "success_rate": c["success_rate"]} for c in cells])


def test_sq_frontier_no_empty_panel_notes_inside_and_clear_of_ticks():
    cells = _cells() + _cells(n=50, m50=1200)
    fig = theory_plots.draw_sq_frontier(**_report_like_sq_call(cells))
    check_layout(fig)
    titles = [ax.get_title() for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(titles) == 3 and not any("n = 300" in t for t in titles)
    assert "n = 300, k = 4 not drawn" in fig.get_suptitle()
    for ax in fig.axes:  # the notes wrap inside their panel
        for text in ax.texts:
            box = text.get_bbox_patch().get_window_extent(fig.canvas.get_renderer())
            assert ax.bbox.x0 <= box.x0 and box.x1 <= ax.bbox.x1
    # ax=: one axes per problem; the one left out is turned off and says why.
    fig = check_notebook_api(theory_plots.draw_sq_frontier, 4, **_report_like_sq_call(cells))
    check_layout(fig)
    off = [ax for ax in fig.axes if not ax.axison]
    assert len(off) == 1 and "not drawn" in off[0].texts[0].get_text()


@pytest.mark.parametrize("widths", [[30, 40, 50], [16, 64, 256, 1024]])
def test_lottery_axis_readable(widths):
    # 30 .. 50 once labelled "3x10^1 4x10^1" on top of each other.
    curves = theory_plots.lottery_curves(30, 3, [1, 2, 3, 4], widths, trials=60, seed=0,
                                         threads=1)
    fig = check_notebook_api(theory_plots.draw_lottery, 1, curves)
    check_layout(fig)
    labels = [t.get_text() for t in _visible_ticklabels(fig.axes[0].xaxis)]
    assert len(labels) >= 2 and all(re.fullmatch(r"\d+", t) for t in labels), labels


def test_log_ticks_label_the_whole_range():
    # m* near 2000 on an axis from 500 must be readable: labels beyond 1000.
    ticks = log_ticks(500, 2300, max_ticks=6)
    assert ticks[0] == 500 and ticks[-1] == 2000
    assert log_ticks(30, 50)[:3] == [30.0, 35.0, 40.0]


# --- frontier search ---------------------------------------------------------------------------

def test_search_figure_from_a_copy_of_the_committed_store(tmp_path):
    from parity_frontiers.verify.experiments.frontier_search import (
        SearchSettings,
        curve_templates,
    )

    store = tmp_path / "frontier_n30.db"
    shutil.copy(REFERENCE / "frontier_search" / "cpu_n30" / "frontier_n30.db", store)
    templates = curve_templates(30, 3, [64, 1024], ["dense", "sparse"], 2, max_steps=20000,
                                eval_every=200, test_size=4000)
    found = search_plots.stored_search(store, templates, SearchSettings(
        m_min=100, m_max=10000, tol=0.07, seed_start=16))
    assert [f.status for f in found] == ["converged"] * 4
    fig = check_notebook_api(search_plots.draw_search, 4, found)
    check_layout(fig)
    right = fig.axes[1]
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["converged"]
    low, high = right.get_ylim()
    labelled = [float(t.get_text()) for t in _visible_ticklabels(right.yaxis)]
    assert len(labelled) >= 3 and labelled[-1] > math.sqrt(low * high)  # across the range
    with pytest.raises(ValueError, match="nothing was trained"):
        search_plots.stored_search(store, templates, SearchSettings(
            m_min=100, m_max=10000, tol=0.01, seed_start=16))
    check_layout(search_plots.draw_search(found))
    # The same curves read as sparse-gaussian runs are titled with that law and its s.
    relabelled = [dataclasses.replace(f, curve=dict(f.curve, init="sparse-gaussian"))
                  if f.curve["init"] == "sparse" else f for f in found]
    titles = [ax.get_title() for ax in search_plots.draw_search(relabelled).axes]
    assert sum("sparse-gaussian init s = 2" in t for t in titles) == 2
    assert sum("dense init" in t for t in titles) == 2


# --- SQ visible, lottery ticket, tabular ---------------------------------------------------------

@pytest.mark.parametrize("folder", ["n14_k3", "n16_k4"])
def test_sq_visible(folder):
    result = json.loads((REFERENCE / "sq" / folder / "result.json").read_text())
    fig = check_notebook_api(sq_visible.draw_sq_visible, 2, result)
    check_layout(fig)
    fig = sq_visible.draw_sq_visible(result)
    check_layout(fig)
    # Zero estimates over the same nets share an upper limit: each series' arrows stand apart
    # (at n = 16, k = 4 every sparse s = 2 estimate is zero, at every width and tau).
    for ax in fig.axes:
        seen = {}
        for line in ax.lines:
            if line.get_markerfacecolor() == "none" and len(line.get_xydata()):
                for point in map(tuple, np.round(line.get_xydata(), 12)):
                    assert point not in seen, f"{line.get_label()} hides {seen[point]}"
                    seen[point] = line.get_label()


def _ticket_result(seeds=10, steps=60):
    rng = np.random.default_rng(0)
    t = np.arange(1, steps + 1) * 100

    def curves(drop):
        return [list(np.where(t < drop + rng.integers(-800, 800), 0.5, 0.08)) for _ in
                range(seeds)]

    arms = {name: {"label": label, "successes": wins, "runs": [{}] * seeds,
                   "median_steps_to_success": median, "curve_steps": list(t),
                   "curve_test_error": curves(drop)}
            for name, label, wins, median, drop in (
                ("winners", "top-K by |a|*||w||, rewound", 8, 2900, 2500),
                ("random_rewound", "K random neurons, rewound", 3, None, 4500),
                ("fresh", "K fresh random sparse neurons", 2, None, 5200))}
    return {"config": {"n": 40, "k": 4, "width": 100, "s": 2, "keep": 5, "seed": 0,
                       "success_error": 0.1},
            "wide": {"curve_steps": list(t[:30]), "curve_test_error": [0.5] * 20 + [0.05] * 10,
                     "success": True},
            "arms": arms}


def test_lottery_ticket():
    fig = check_notebook_api(lottery_ticket.draw_lottery_ticket, 1, _ticket_result())
    check_layout(fig)
    check_layout(lottery_ticket.draw_lottery_ticket(_ticket_result(seeds=3)))
    committed = json.loads((REFERENCE / "lottery_ticket" / "result.json").read_text())
    fig = lottery_ticket.draw_lottery_ticket(committed)
    check_layout(fig)
    assert len(fig.axes[0].lines) == 5  # three arms, the wide net, the threshold


def test_tabular_from_a_copy_of_the_committed_store(tmp_path):
    from matplotlib.collections import PolyCollection

    store = tmp_path / "runs.db"
    shutil.copy(REFERENCE / "tabular" / "runs.db", store)
    fig = tabular.draw_tabular(store)
    check_layout(fig)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 4
    for ax in panels:
        # Intervals as dodged error bars in the models' colours, not blended bands.
        assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(ax.containers) == 4
        # Absolute training rows on the top axis.
        (top,) = ax.child_axes
        rows = [t.get_text() for t in _visible_ticklabels(top.xaxis)]
        assert rows and all(re.fullmatch(r"\d+", r) for r in rows)
    assert [t.get_text() for t in _visible_ticklabels(panels[0].child_axes[0].xaxis)] == \
        ["5", "22", "225", "2250"]
    fig = check_notebook_api(tabular.draw_tabular, 2, store, datasets=["wine", "axis_rule"])
    check_layout(fig)


def test_the_checks_catch_what_they_claim():
    from matplotlib.lines import Line2D

    fig, (crowded, empty) = subplots(1, 2, figsize=(4, 3))
    crowded.plot([1, 2], [1, 2], label="drawn")
    crowded.set_xticks([1, 1.02], ["one thousand", "two thousand"])
    crowded.legend(handles=[Line2D([], [], label="never drawn")])
    crowded.plot([1.5], [1.9], marker="o", label="under the note")
    crowded.set_ylim(0, 2)
    add_caveat(crowded, "a note over the data")
    with pytest.raises(AssertionError) as caught:
        check_layout(fig)
    message = str(caught.value)
    assert "overlap" in message and "empty panel" in message and "never drawn" in message
    assert "hides a marker of 'under the note'" in message


def test_fig_subfigure_and_save_without_closing(tmp_path):
    """fig= fills an empty (sub)figure; save_figure(close=False) keeps it for the notebook."""
    from matplotlib.figure import Figure

    from parity_frontiers.figures.style import save_figure

    root, _ = subplots(figsize=(12, 8))
    root.clear()
    top, bottom = root.subfigures(2, 1)
    out = frontier_plots.draw_success_curves(_cells(runs=6), fig=top)
    assert out is root and isinstance(out, Figure) and len(top.axes) == 2
    lottery_ticket.draw_lottery_ticket(_ticket_result(), ax=bottom.subplots())
    check_layout(root)
    paths = save_figure(root, tmp_path, "both", close=False)
    assert [p.name for p in paths] == ["both.png", "both.pdf"] and root.axes
    with pytest.raises(ValueError, match="empty figure"):
        frontier_plots.draw_success_curves(_cells(), fig=top)
    with pytest.raises(ValueError, match="not both"):
        frontier_plots.draw_success_curves(_cells(), fig=bottom, ax=root.axes[0])


def test_old_entry_points_are_the_new_functions():
    """figures/report.py calls frontier_plots.* and theory_plots.*: they stay there."""
    assert frontier_plots.draw_success_heatmap is heatmap.draw_success_heatmap
    assert theory_plots.lottery_figure is lottery_plots.lottery_figure
    assert theory_plots.draw_lottery is lottery_plots.draw_lottery


# --- the committed cpu grid, drawn as the report draws it ---------------------------------------

def test_frontier_figures_of_the_committed_cpu_store(tmp_path):
    """Real data, not made-up curves: every frontier figure of the committed cpu grid reads
    right (a copy of the store; the committed file is never opened)."""
    from parity_frontiers.verify.analysis.frontier import success_points
    from parity_frontiers.verify.experiments.stored_runs import load_results

    store = tmp_path / "runs.db"
    shutil.copy(REFERENCE / "cpu" / "runs.db", store)
    points = success_points(load_results(store))
    problems = sorted({(p["n"], p["k"]) for p in points})
    assert problems == [(30, 3), (50, 3)]
    for n, k in problems:
        for draw in (frontier_plots.draw_success_heatmap, frontier_plots.draw_success_curves,
                     frontier_plots.draw_steps_curves):
            fig = draw(points, n=n, k=k)
            check_layout(fig)
            titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
            assert titles == ["dense", "sparse, s = 2"]
