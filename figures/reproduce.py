"""Reproduce the paper's grid experiment at a chosen scale: sweep, then report.

Scales are sweep files shipped in ``figures/scales/`` (schema: :mod:`verify.experiments.sweep`):

* ``smoke`` -- (20, 3), 2 widths, 120 runs, about a minute on a laptop CPU; CI runs it, and the
  demo draws its frontier figure from it;
* ``cpu`` -- (50, 3) and (30, 3), widths 16..1024, m = 100..1e4 and online, dense and s = 2,
  16 seeds, T = 2e4: 2560 runs for a 2-core CPU (the committed reference report in
  ``figures/reference/cpu/``);
* ``paper`` -- the grid of docs/theory.md §5 (about 1.3e5 runs), for a GPU or a cluster.

:func:`reproduce` trains what the store lacks (a killed run resumes where it stopped), then
analyses the scale's runs only (a store may hold other sweeps too) and writes the report.
"""

from __future__ import annotations

from pathlib import Path

from parity_frontiers.figures.report import analyze, write_report
from parity_frontiers.verify.experiments.grid import grid_from_toml
from parity_frontiers.verify.experiments.sweep import run_sweep

__all__ = ["SCALES", "REPORT_SETTINGS", "scale_path", "scale_grid", "reproduce"]

SCALES = ("smoke", "cpu", "paper")
#: Monte Carlo sizes of the predictions in each scale's report: one-step trials per cell and
#: lottery trials per point (the report's own cost stays a small part of the sweep's).
REPORT_SETTINGS = {"smoke": {"onestep_trials": 64, "lottery_trials": 400},
                   "cpu": {"onestep_trials": 200, "lottery_trials": 2000},
                   "paper": {"onestep_trials": 1000, "lottery_trials": 10000}}


def scale_path(scale: str) -> Path:
    """The sweep file of a scale (one of :data:`SCALES`)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
    return Path(__file__).with_name("scales") / f"{scale}.toml"


def scale_grid(scale: str) -> list:
    """The run configs of a scale.

    Examples
    --------
    >>> len(scale_grid("smoke"))
    120
    """
    return grid_from_toml(scale_path(scale))


def reproduce(scale: str, store_path, out_dir, *, device: str = "auto",
              progress: bool = True, memory_cap_bytes: int | None = None,
              max_ensemble: int | None = None, seed: int = 0,
              command: str | None = None) -> dict:
    """Train a scale's grid into ``store_path`` (skipping stored runs), then write the report.

    Parameters
    ----------
    scale : {"smoke", "cpu", "paper"}
    store_path : path
        Results store (SQLite), created if missing; may hold other sweeps.
    out_dir : path
        Where ``report.md``, ``report.json`` and the figures go.
    device, progress, memory_cap_bytes, max_ensemble
        As in :func:`verify.experiments.sweep.run_sweep`.
    seed : int
        Seed of the report's Monte Carlo predictions.
    command : str, optional
        The command line, quoted at the top of the report.

    Returns
    -------
    dict
        ``sweep`` (:class:`verify.experiments.sweep.SweepSummary` as a dict, without
        per-cell points), ``report``, ``json`` and ``figures`` (paths), and ``findings`` (id,
        claim, verdict).
    """
    from parity_frontiers.verify.experiments.store import ResultsStore

    configs = scale_grid(scale)
    settings = REPORT_SETTINGS[scale]
    with ResultsStore(store_path) as store:
        summary = run_sweep(configs, store, device=device, progress=progress,
                            memory_cap_bytes=memory_cap_bytes, max_ensemble=max_ensemble)
        results = store.results(keys=[c.key() for c in configs])
    analysis = analyze(results, expected=configs, onestep_trials=settings["onestep_trials"],
                       seed=seed, progress=progress)
    written = write_report(analysis, out_dir, title=f"parity-frontiers: reproduction at scale "
                           f"'{scale}'", command=command, store=str(store_path),
                           lottery_trials=settings["lottery_trials"], seed=seed)
    sweep = {k: v for k, v in summary.as_dict().items() if k != "points"}
    return {"scale": scale, "sweep": sweep, **written,
            "findings": [{k: f[k] for k in ("id", "claim", "verdict")}
                         for f in analysis["findings"]]}
