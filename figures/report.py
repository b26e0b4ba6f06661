"""The theory-vs-experiment report of a results store: figures and files.

The analysis lives in :mod:`verify.analysis.report_tables` (:func:`analyze` turns stored runs
into every table: cells, measured frontier, its power law in the width, the three predictions
and their verdicts, the findings judged per (n, k), completeness) and the Markdown in
:mod:`figures.report_text`; this module only draws and writes: :func:`make_figures` draws the
tables and :func:`write_report` writes ``report.md`` (figures embedded) and ``report.json``
(every number) into one folder. ``parity-frontiers report`` is the CLI. ``analyze``,
``load_results``, ``completeness`` and ``render_markdown`` are re-exported here for the
callers that import them from this module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from parity_frontiers.figures.report_text import render_markdown
from parity_frontiers.verify.analysis.report_tables import analyze, completeness, load_results
from parity_frontiers.verify.experiments.export import write_replacing

__all__ = ["PLOT_KINDS", "analyze", "completeness", "make_figures", "render_markdown",
           "write_report", "load_results", "check_out_dir"]

#: What ``parity-frontiers plot KIND`` draws.
PLOT_KINDS = ("heatmap", "success", "steps", "sq", "lottery", "all")


def check_out_dir(out_dir, create: bool = True, option: str = "--out") -> Path:
    """Create the output folder (and parents); a clear ValueError when that is impossible, so
    that a bad --out fails before any analysis is done, never with a traceback after. With
    ``create=False`` only check: the folder exists, or its nearest existing parent is one.
    ``option`` names the command-line option in the message."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{option} {out} is a file, not a folder")
    if not create:
        parent = next((p for p in out.absolute().parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise ValueError(f"cannot create the output folder {out}: {parent} is a file")
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the output folder {out}: {exc.strerror}") from None
    return out


def make_figures(analysis: dict, out_dir, kinds: Sequence[str] = ("all",), *,
                 lottery_trials: int = 2000, seed: int = 0) -> list[Path]:
    """Draw the report's figures (any of :data:`PLOT_KINDS`) into ``out_dir``."""
    from parity_frontiers.figures import frontier_plots, theory_plots

    unknown = sorted(set(kinds) - set(PLOT_KINDS))
    if unknown:
        raise ValueError(f"unknown plot kind(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(PLOT_KINDS)}")
    want = set(PLOT_KINDS[:-1]) if "all" in kinds else set(kinds)
    check_out_dir(out_dir)
    points = analysis["points"]
    paths: list[Path] = []
    if "heatmap" in want:
        paths += frontier_plots.success_heatmap(
            points, out_dir, frontier=analysis["frontier"],
            onestep=analysis["onestep"]["curves"], theorem=analysis["theorem"]["rows"])
    if "success" in want:
        paths += frontier_plots.success_curves(points, out_dir)
    if "steps" in want:
        paths += frontier_plots.steps_curves(points, out_dir)
    problems = sorted({(p["n"], p["k"]) for p in points})
    if "sq" in want:
        # The sweep's own problems, and two where the bound bites (docs/theory.md §2).
        sq_problems = sorted(set(problems) | {(300, 4), (1000, 8)})[:4]
        widths = sorted({p["width"] for p in points} | {10, 100_000})
        steps = sorted({p["max_steps"] for p in points} | {100_000})
        cells = [{"n": p["n"], "k": p["k"], "width": p["width"],
                  "samples": p["samples"] if p["samples"] is not None
                  else p["max_steps"] * p["batch_size"],
                  "steps": p["max_steps"], "success_rate": p["success_rate"]} for p in points]
        paths += theory_plots.sq_frontier_figure(problems=sq_problems, widths=widths,
                                                 steps=steps, samples_range=(1.0, 1e12),
                                                 cells=cells, out_dir=out_dir)
    if "lottery" in want:
        n, k = problems[0]
        s_values = sorted({p["s"] for p in points if p["s"] is not None} | {1, k, k + 1})
        s_values = [s for s in s_values if s <= n]
        widths = sorted({p["width"] for p in points})
        paths += theory_plots.lottery_figure(n=n, k=k, s_values=s_values, widths=widths,
                                             trials=lottery_trials, seed=seed,
                                             out_dir=out_dir)["paths"]
    return paths


def _write_atomic(path: Path, text: str) -> None:
    write_replacing(path, lambda tmp: Path(tmp).write_text(text))


def write_report(analysis: dict, out_dir, *, title: str = "parity-frontiers report",
                 command: str | None = None, store: str | None = None,
                 lottery_trials: int = 2000, seed: int = 0) -> dict:
    """Draw every figure and write ``report.md`` and ``report.json`` into ``out_dir``.

    Returns ``{"report": Path, "json": Path, "figures": [Path, ...]}``.
    """
    out = check_out_dir(out_dir)
    figures = make_figures(analysis, out, lottery_trials=lottery_trials, seed=seed)
    report = out / "report.md"
    _write_atomic(report, render_markdown(analysis, figures, title=title, command=command,
                                          store=store))
    data = out / "report.json"
    _write_atomic(data, json.dumps({k: v for k, v in analysis.items() if k != "points"}
                                   | {"cells": analysis["points"]}, indent=1, default=str))
    return {"report": report, "json": data, "figures": figures}
