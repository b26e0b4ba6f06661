"""The theory-vs-experiment report of a results store: figures and files.

The analysis lives in :mod:`verify.analysis.report_tables` (:func:`analyze` turns stored runs
into every table: cells, measured frontier, its power law in the width, the three predictions
and their verdicts, the findings judged per (n, k), completeness) and the Markdown in
:mod:`figures.report_text`; this module only draws and writes: :func:`make_figures` draws the
tables and :func:`write_report` writes ``report.md`` (figures embedded) and ``report.json``
(every number) into one folder. ``parity-frontiers report`` is the CLI. ``analyze``,
``load_results``, ``completeness`` and ``render_markdown`` are re-exported here for the
callers that import them from this module.

A store whose runs differ in a training setting (learning rate, depth, activation ...: the
fields of :data:`verify.analysis.settings_groups.SETTING_FIELDS`) is analysed per group of
equal settings (:func:`analyze_groups`) and written as one report with a section per group
(:func:`write_group_report`); figure names carry the group (``success_vs_m_lr0.05_n30_k3``).
With one group the files are exactly those of :func:`write_report`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from parity_frontiers.figures.report_text import render_markdown
from parity_frontiers.simulate.progress import progress_bar
from parity_frontiers.verify.analysis.report_tables import analyze, completeness
from parity_frontiers.verify.analysis.settings_groups import (
    SettingsGroup,
    settings_text,
    split_by_settings,
)
from parity_frontiers.verify.experiments.export import write_replacing
from parity_frontiers.verify.experiments.stored_runs import load_results

__all__ = ["PLOT_KINDS", "analyze", "analyze_groups", "completeness", "make_figures",
           "missing_groups", "render_markdown", "write_report", "write_group_report",
           "load_results", "check_out_dir"]

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
                 lottery_trials: int = 2000, seed: int = 0, suffix: str = "") -> list[Path]:
    """Draw the report's figures (any of :data:`PLOT_KINDS`) into ``out_dir``; a ``suffix``
    (a settings group's) goes into every file name after the figure kind."""
    def stem(name: str) -> str:
        return f"{name}_{suffix}" if suffix else name

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
            onestep=analysis["onestep"]["curves"], theorem=analysis["theorem"]["rows"],
            stem=stem("success_heatmap"))
    if "success" in want:
        paths += frontier_plots.success_curves(points, out_dir, stem=stem("success_vs_m"))
    if "steps" in want:
        paths += frontier_plots.steps_curves(points, out_dir, stem=stem("steps_vs_m"))
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
                                                 cells=cells, out_dir=out_dir,
                                                 stem=stem("sq_frontier"))
    if "lottery" in want:
        n, k = problems[0]
        s_values = sorted({p["s"] for p in points if p["s"] is not None} | {1, k, k + 1})
        s_values = [s for s in s_values if s <= n]
        widths = sorted({p["width"] for p in points})
        paths += theory_plots.lottery_figure(n=n, k=k, s_values=s_values, widths=widths,
                                             trials=lottery_trials, seed=seed,
                                             out_dir=out_dir, stem=stem("lottery"))["paths"]
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
    _write_atomic(data, json.dumps(_json_of(analysis), indent=1, default=str))
    return {"report": report, "json": data, "figures": figures}


# --- a store mixing training settings: one analysis and one section per group -----------------

def analyze_groups(groups: Sequence[SettingsGroup], *, expected=None, progress: bool = False,
                   **kwargs) -> list[dict]:
    """:func:`analyze` of each settings group (:func:`~parity_frontiers.verify.analysis.
    settings_groups.split_by_settings` of the runs).

    ``expected`` (the sweep's configs) is split the same way, so each group's completeness is
    judged against its own part of the grid. Returns one dict per group: ``settings`` (every
    setting), ``varying`` (those that differ between the groups), ``label``, ``suffix`` and
    ``analysis``. ``kwargs`` go to :func:`analyze`.
    """
    wanted = {}
    if expected is not None:
        for part in split_by_settings(expected, config=lambda c: c):
            wanted[tuple(part.settings.values())] = part.items
    out = []
    with progress_bar(len(groups), unit="group", desc="report: settings groups",
                      enabled=progress and len(groups) > 1) as bar:
        for group in groups:
            mine = wanted.get(tuple(group.settings.values()), []) if expected is not None \
                else None
            analysis = analyze(group.items, expected=mine, progress=progress, **kwargs)
            out.append({"settings": group.settings, "varying": group.varying,
                        "label": group.label, "suffix": group.suffix, "analysis": analysis})
            bar.update(1)
    return out


def missing_groups(groups: Sequence[dict], expected) -> list[dict]:
    """The settings of ``expected`` configs that no analysed group has (the store holds none
    of their runs)."""
    have = {tuple(g["settings"].values()) for g in groups}
    return [part.settings for part in split_by_settings(expected, config=lambda c: c)
            if tuple(part.settings.values()) not in have]


def _json_of(analysis: dict) -> dict:
    return {k: v for k, v in analysis.items() if k != "points"} | {"cells": analysis["points"]}


def _demoted(markdown: str) -> str:
    """Every heading one level down (outside code fences): a report becomes a section."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        lines.append("#" + line if not fenced and line.startswith("#") else line)
    return "\n".join(lines)


def write_group_report(groups: Sequence[dict], out_dir, *,
                       title: str = "parity-frontiers report", command: str | None = None,
                       store: str | None = None, where: str = "", missing: Sequence = (),
                       lottery_trials: int = 2000, seed: int = 0) -> dict:
    """Write the report of :func:`analyze_groups`' groups into ``out_dir``.

    One group: :func:`write_report`'s files. Several: ``report.md`` with a section per group
    headed by its settings, figures named by group, and ``report.json`` with ``groups`` (each
    ``settings``, ``varying``, ``label``, ``figures`` and the single-group keys), ``runs``,
    ``target`` and ``varying`` (the names of the settings that differ). Either way a
    ``where`` filter (:func:`~parity_frontiers.verify.experiments.where.describe_where`) and
    the ``missing`` settings groups of the grid (:func:`missing_groups`), when given, are
    stated under the title and in the JSON (``where``, ``missing_groups``).
    Returns ``{"report", "json", "figures"}``.
    """
    notes = [f"Runs filtered by `--where {where}`."] if where else []
    if missing:
        every = [*missing, *(g["settings"] for g in groups)]
        differ = [name for name in every[0] if len({str(s[name]) for s in every}) > 1]
        notes.append("**Missing:** the store holds no run of the grid's settings "
                     + "; ".join(settings_text({k: s[k] for k in differ}) for s in missing)
                     + ".")
    extra = ({"where": where} if where else {}) | \
        ({"missing_groups": list(missing)} if missing else {})
    if len(groups) == 1:
        (group,) = groups
        written = write_report(group["analysis"], out_dir, title=title, command=command,
                               store=store, lottery_trials=lottery_trials, seed=seed)
        if notes:  # under the title, and in the JSON
            head, _, rest = written["report"].read_text().partition("\n\n")
            _write_atomic(written["report"], "\n\n".join([head, *notes, rest]))
            data = json.loads(written["json"].read_text())
            _write_atomic(written["json"], json.dumps(data | extra, indent=1, default=str))
        return written
    out = check_out_dir(out_dir)
    varying = sorted({name for g in groups for name in g["varying"]})
    runs = sum(g["analysis"]["runs"] for g in groups)
    lines = [f"# {title}", ""]
    if command:
        lines += ["Made by:", "", "```", command, "```", ""]
    lines += [(f"Store: `{store}`. " if store else "") + f"{runs} runs in {len(groups)} "
              f"groups of training settings, which differ in {', '.join(varying)}. Each group "
              "is analysed on its own: runs with different settings are never pooled.", ""]
    for note in notes:
        lines += [note, ""]
    lines += [f"- {g['label']}: {g['analysis']['runs']} runs" for g in groups] + [""]
    figures, entries = [], []
    for group in groups:
        paths = make_figures(group["analysis"], out, lottery_trials=lottery_trials, seed=seed,
                             suffix=group["suffix"])
        figures += paths
        section = render_markdown(group["analysis"], paths,
                                  title=f"Settings: {group['label']}")
        every = settings_text(group["settings"])
        head, _, rest = _demoted(section).partition("\n\n")
        lines += [head, "", f"All settings of this group: {every}.", "", rest.lstrip("\n")]
        entries.append({"settings": group["settings"], "varying": group["varying"],
                        "label": group["label"], "figures": [p.name for p in paths],
                        **_json_of(group["analysis"])})
    report = out / "report.md"
    _write_atomic(report, "\n".join(lines).rstrip("\n") + "\n")
    data = out / "report.json"
    _write_atomic(data, json.dumps({"runs": runs, "target": groups[0]["analysis"]["target"],
                                    "varying": varying, **extra, "groups": entries},
                                   indent=1, default=str))
    return {"report": report, "json": data, "figures": figures}
