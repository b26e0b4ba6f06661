"""The local executor's loop: configs grouped by shape, cut into ensembles that fit in memory,
trained one ensemble after another in this process.

:func:`plan_ensembles` is the plan every executor shares (the Dask executor ships the same
chunks to its workers); :func:`train_runs` trains it here.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence

from parity_frontiers.simulate.budget import check_seconds
from parity_frontiers.simulate.progress import progress_bar
from parity_frontiers.theory.checks import check_int
from parity_frontiers.verify.config import RunConfig, RunResult, group_by_shape, unique_configs
from parity_frontiers.verify.experiments.grid import describe_point
from parity_frontiers.verify.experiments.handoff import ResultHandoff
from parity_frontiers.verify.experiments.limits import (
    available_memory_bytes,
    check_memory_fits,
    estimate_ensemble_seconds,
    note_estimate,
)
from parity_frontiers.verify.training.device import check_device, default_memory_cap

__all__ = ["plan_ensembles", "train_runs"]


def _trainer_module():
    # Imported on first use: torch is slow to import, and `results export`, a fully
    # finished sweep or a Dask driver without a GPU should not pay for it.
    return importlib.import_module("parity_frontiers.verify.training.trainer")


def plan_ensembles(configs: Sequence[RunConfig], device: str = "auto",
                   memory_cap_bytes: int | None = None,
                   max_ensemble: int | None = None) -> list[list[RunConfig]]:
    """Cut configs into the ensembles :func:`train_runs` trains, in order.

    Configs are grouped by :meth:`RunConfig.shape_key` (first-seen order, duplicates dropped)
    and each group is cut into consecutive chunks of at most
    :func:`verify.trainer.max_ensemble_size` runs for ``device`` and ``memory_cap_bytes``, and
    at most ``max_ensemble``. Executors that ship chunks elsewhere (:mod:`verify.executors`)
    use the same plan.

    Raises ValueError when one run alone does not fit in the memory cap.
    """
    configs = unique_configs(configs)
    if max_ensemble is not None:
        max_ensemble = check_int("max_ensemble", max_ensemble, strict=True)
    if not configs:
        return []
    trainer = _trainer_module()
    plan = []
    for group in group_by_shape(configs):
        size = int(trainer.max_ensemble_size(group[0], memory_cap_bytes, device=device))
        # Refuse with both numbers: over the cap, or over what this machine has free now.
        one = trainer.estimate_ensemble_bytes(group[0], 1, device)
        cap = default_memory_cap(device) if memory_cap_bytes is None else memory_cap_bytes
        check_memory_fits(one, cap, f"one run of {describe_point(group[0].as_dict())}", device)
        if size < 1:  # pragma: no cover - check_memory_fits refused above
            raise ValueError(f"one run of {describe_point(group[0].as_dict())} does not fit in the "
                             "memory cap")
        available = available_memory_bytes(device)
        if available is not None:
            while size > 1 and trainer.estimate_ensemble_bytes(group[0], size, device) > available:
                size = max(1, size // 2)
        note_estimate(trainer.estimate_ensemble_bytes(group[0], size, device),
                      f"an ensemble of {size} run(s) of {describe_point(group[0].as_dict())}",
                      device)
        if max_ensemble is not None:
            size = min(size, max_ensemble)
        # The longest stretch between two stored results: refused up front past --max-seconds.
        seconds = estimate_ensemble_seconds(group[0], min(size, len(group)), device)
        check_seconds(seconds, f"training an ensemble of {min(size, len(group))} run(s) of "
                               f"{describe_point(group[0].as_dict())} for up to "
                               f"{group[0].max_steps:,} steps",
                      "estimated worst case, no run stopping early")
        plan.extend(group[i:i + size] for i in range(0, len(group), size))
    return plan


def train_runs(configs: Sequence[RunConfig], device: str = "auto",
               on_result: Callable[[RunResult], None] | None = None, progress: bool = True,
               memory_cap_bytes: int | None = None, max_ensemble: int | None = None,
               _bar=None) -> list[RunResult]:
    """Train every config, ensemble by ensemble; results in the order of ``configs``.

    Configs are grouped by :meth:`RunConfig.shape_key` and each group is cut into ensembles of
    at most :func:`verify.trainer.max_ensemble_size` runs (and ``max_ensemble``, if given).

    Parameters
    ----------
    configs : sequence of RunConfig
        Duplicates (same key) are trained once.
    device : {"auto", "cpu", "cuda"} or "cuda:N"
    on_result : callable, optional
        Called with each :class:`RunResult` as its run finishes (e.g. ``store.add``).
    progress : bool
        Show a progress bar of runs done / total with ETA on stderr (never when stderr is not a
        terminal).
    memory_cap_bytes : int, optional
        Memory cap passed to the trainer (its default when None).
    max_ensemble : int, optional
        Upper bound on the runs trained together (smaller ensembles store results sooner).
    """
    check_device(device)
    configs = unique_configs(configs)
    if not configs:
        return []
    trainer = _trainer_module()
    plan = plan_ensembles(configs, device, memory_cap_bytes, max_ensemble)

    bar = _bar if _bar is not None else progress_bar(len(configs), unit="run", desc="train",
                                                      enabled=progress)
    finished = ResultHandoff(on_result, bar)

    state = {"steps": 0, "shown": 0.0, "of": "", "T": 0}

    def tick(steps: int) -> None:
        # The trainer reports the steps every active run advanced since its last call. Show
        # them, at most twice a second: a long ensemble then still moves the elapsed time and
        # the ETA, though no run has finished yet.
        state["steps"] += steps
        now = time.monotonic()
        if now - state["shown"] >= 0.5:
            state["shown"] = now
            bar.set_postfix_str(f"{state['of']} step {state['steps']}/{state['T']}",
                                refresh=True)

    try:
        for chunk in plan:
            state["steps"] = 0
            state["of"] = f"ensemble of {len(chunk)}:"
            state["T"] = chunk[0].max_steps
            returned = trainer.train_ensemble(chunk, device=device, on_result=finished,
                                              progress=tick, memory_cap_bytes=memory_cap_bytes)
            for result in returned:  # in case a result was returned but not reported
                finished(result)
    finally:
        if _bar is None:
            bar.close()
    return finished.in_order(configs, "trainer")
