r"""Train an ensemble of independent sparse-parity MLP runs at once (docs/design.md, ``verify/``).

E runs that share :meth:`RunConfig.ensemble_key` (every setting but k, m, init, s and the seed;
online and offline runs apart) are trained together, whatever their parity set, training set or
init law (:class:`~.ensemble.Ensemble`): their parameters are stacked along a leading run
axis (:mod:`.model`) and each SGD step is a handful of batched matmuls over that axis
(:mod:`.step`: the loss, the activation's hand-written backward pass and the optimiser), so an
ensemble costs a few large kernels per step instead of E sets of tiny ones. Evaluation is
:mod:`.evaluation`; the memory plan and the evaluation points are :mod:`.memory` (torch-free).

Minibatches and data: see :mod:`.data` (offline: indices drawn with replacement from the m
training samples each step; online: fresh samples each step). They are drawn on the host per
*window* (the steps between two evaluation points), moved to the device once, and unpacked to
float32 in sub-chunks of at most :data:`~.memory.STAGE_BYTES`; the step loop itself makes no
host transfer and no host synchronisation.

Evaluation and stopping
-----------------------
At every multiple of ``eval_every`` and at ``max_steps`` (:func:`~.memory.eval_steps`) each
active run is evaluated on its held-out test set (:mod:`.evaluation`). A run

* *diverges* when any of its parameters is NaN or inf: end ``"diverged"`` (an overflowing
  output is followed by non-finite parameters at the next step, so this catches it too);
* *succeeds* at the first evaluation step with test error <= ``success_error``: that step is
  ``steps_to_success``; with ``early_stop`` (default) it ends there, ``"success"``;
* otherwise ends at ``max_steps``: ``"max_steps"`` (or ``"success"`` when ``early_stop=False``
  and it succeeded at some earlier evaluation; its errors are then the final ones).

``success`` and ``steps_to_success`` say whether and when the test error first reached
``success_error``, whatever the end reason (with ``early_stop`` a run that succeeded has ended
there, so only ``early_stop=False`` can show a success followed by divergence). Before
``max_steps`` an evaluation stops counting a run once its decision is certain and the run goes
on (exact per run: :mod:`.evaluation`); a run that ends is always counted in full.

Finished runs are removed from the ensemble (the stacked parameters are compacted with
``index_select``), so they stop costing compute; ``on_result`` gets each result at once.

The train error is measured when a run ends: offline, on the first ``min(m, test_size)``
training samples (the training set is i.i.d., so this is an unbiased estimate of the error on
all m samples at a bounded cost when m is large -- up to 1e6 in the paper); online, on the
``batch_size * (steps of the last block)`` fresh samples the run was trained on last (a block
is the last evaluation window, or its last part of at most :data:`~.memory.DRAW_BYTES_PER_RUN`
of draws). ``extra["train_error_samples"]`` records how many samples that was.

``wall_seconds`` is the time from the call's start to the run's end: compute is shared by the
ensemble, so these times do not add up across runs. ``compute_seconds`` is the run's share:
each stretch between two evaluation points (the setup for the first) divided equally among
the runs active in it (:mod:`.records`); summed over the runs it is the call's wall time.

Every result carries ``trace`` (:class:`~parity_frontiers.verify.config.RunTrace`), one entry
per evaluation point: the step; the test error (exact when the count was complete, else the
fraction over the ``test_samples`` counted before the decision was certain); and a cheap train
error -- the fraction of mistakes (y f <= 0, NaN a mistake) on the minibatches of the last
:data:`~.ensemble.TRACE_TRAIN_STEPS` SGD steps of the window (16 x batch size samples), counted
from each step's own forward pass *before* its update: offline these are training samples
drawn with replacement, online fresh samples. It is not the final ``train_error`` above.

Examples
--------
>>> from parity_frontiers.verify.config import RunConfig
>>> cfgs = [RunConfig(n=8, k=2, width=16, samples=100, seed=s, max_steps=60, eval_every=30,
...                   test_size=100) for s in range(2)]
>>> results = train_ensemble(cfgs, device="cpu")
>>> [r.config.seed for r in results], all(r.steps_run <= 60 for r in results)
([0, 1], True)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from parity_frontiers.theory.checks import check_int
from parity_frontiers.verify.config import MAX_SEED, RunConfig, RunResult
from parity_frontiers.verify.training.device import default_memory_cap, resolve_device
from parity_frontiers.verify.training.ensemble import Ensemble, from_state, init_state
from parity_frontiers.verify.training.memory import (
    check_cap,
    estimate_configs_bytes,
    estimate_ensemble_bytes,
    eval_steps,
    format_bytes,
    max_ensemble_size,
)
from parity_frontiers.verify.training.model import param_shapes
from parity_frontiers.verify.training.records import RunRecord

__all__ = ["train_ensemble", "estimate_ensemble_bytes", "max_ensemble_size", "eval_steps"]

# The names these had when this module held them all (benchmarks and tests reach for them).
_Ensemble, _init_state, _from_state = Ensemble, init_state, from_state


def _check_configs(configs: Sequence[RunConfig]) -> list[RunConfig]:
    configs = list(configs)
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, RunConfig):
            raise ValueError(f"configs[{i}] must be a RunConfig, got {type(cfg).__name__}")
    if configs:
        first = configs[0]
        key = first.ensemble_key()
        for i, cfg in enumerate(configs[1:], start=1):
            if cfg.ensemble_key() != key:
                differ = [name for name, value in cfg.as_dict().items()
                          if name not in ("k", "samples", "init", "s", "seed")
                          and value != getattr(first, name)]
                if (cfg.samples is None) != (first.samples is None):
                    differ.append("samples (online vs offline)")
                raise ValueError(
                    "all configs of an ensemble must share ensemble_key() (every field but k, "
                    "samples, init, s and the seed; online and offline apart); "
                    f"configs[{i}] differs from configs[0] in: {', '.join(differ)}")
    return configs


def _check_initial_params(configs: list[RunConfig], initial_params) -> list:
    """Per-run parameter lists in :mod:`.model`'s layout and shapes (None: the config's
    own init), as float32 host arrays; one clear ValueError otherwise."""
    initial_params = list(initial_params)
    if len(initial_params) != len(configs):
        raise ValueError(f"initial_params must have one entry per config ({len(configs)}), "
                         f"got {len(initial_params)}")
    shapes = param_shapes(configs[0]) if configs else []
    out = []
    for i, run in enumerate(initial_params):
        if run is None:
            out.append(None)
            continue
        run = list(run)
        got = [tuple(np.shape(p)) for p in run]
        if got != shapes:
            raise ValueError(f"initial_params[{i}] must have the shapes {shapes} (W1, b1, ..., "
                             f"a, c), got {got}")
        out.append([np.asarray(p, dtype=np.float32) for p in run])
    return out


def _check_batch_seeds(configs: list[RunConfig], batch_seeds) -> list[int]:
    batch_seeds = list(batch_seeds)
    if len(batch_seeds) != len(configs):
        raise ValueError(f"batch_seeds must have one entry per config ({len(configs)}), got "
                         f"{len(batch_seeds)}")
    seeds = [check_int(f"batch_seeds[{i}]", seed, 0, strict=True)
             for i, seed in enumerate(batch_seeds)]
    for i, seed in enumerate(seeds):
        if seed >= MAX_SEED:
            raise ValueError(f"batch_seeds[{i}] must be < 2**63, got {seed}")
    return seeds



def train_ensemble(configs: Sequence[RunConfig], device: str = "auto",
                   on_result: Callable[[RunResult], None] | None = None,
                   progress: Callable[[int], None] | None = None,
                   memory_cap_bytes: int | None = None, *,
                   early_stop: bool = True, initial_params: Sequence | None = None,
                   batch_seeds: Sequence[int] | None = None, record_curve: bool = False,
                   return_params: bool = False, checkpoint_every: int | None = None,
                   on_checkpoint: Callable | None = None) -> list[RunResult]:
    """Train independent runs of one ensemble key together; one :class:`RunResult` per config.

    Parameters
    ----------
    configs : sequence of RunConfig
        Runs with a common :meth:`RunConfig.ensemble_key` (they may differ in k, samples,
        init, s and seed; online and offline runs apart). Each run's result is the one it gets
        trained alone.
    device : {"auto", "cpu", "cuda", "cuda:i"}
        ``"auto"``: CUDA if available, else CPU. Results do not depend on the device beyond
        float rounding (all randomness is drawn on the host).
    on_result : callable, optional
        Called with each run's result as soon as it ends (success, divergence, max_steps).
    progress : callable, optional
        Called at each evaluation point with the number of SGD steps every active run advanced
        since the previous call.
    memory_cap_bytes : int, optional
        Refuse (ValueError, before allocating) when :func:`estimate_configs_bytes` exceeds it;
        default :func:`default_memory_cap` of the device.
    early_stop : bool, keyword-only
        End a run at its first successful evaluation (default). False trains every run for
        ``max_steps`` (benchmarks; curves past success) while still recording
        ``steps_to_success``.
    initial_params : sequence, keyword-only, optional
        One entry per config: that run's initial parameters as a list of arrays in
        :mod:`.model`'s layout and shapes (W1, b1, ..., a, c; :func:`param_shapes`), or
        None for the config's own :func:`init_params`. For training from given weights (the
        lottery-ticket experiment's rewound subnetworks). The arrays are copied (float32).
    batch_seeds : sequence of int, keyword-only, optional
        One entry per config: the seed of that run's minibatch stream (:mod:`.data`'s
        ``STREAM_BATCHES``) instead of ``config.seed``. S, the training and test sets and the
        default init still come from ``config.seed``, so several SGD seeds can share one task.
    record_curve : bool, keyword-only
        Count every evaluation in full (no early stop of the count), and put each run's test
        errors at its evaluation points in ``extra["curve_steps"]`` and
        ``extra["curve_test_error"]`` too (the same as its ``trace``).
    return_params : bool, keyword-only
        Put each run's final parameters (float32 host arrays, model layout) in
        ``extra["final_params"]``. Such results are not meant for the results store.
    checkpoint_every, on_checkpoint : keyword-only, optional
        At each evaluation step that is a multiple of ``checkpoint_every``, call
        ``on_checkpoint(config, step, params)`` for every run active there (those ending there
        included), ``params`` its float32 host arrays in :mod:`.model`'s layout: 4 bytes per
        parameter, :func:`~.model.param_count`. Both or neither.

    With ``initial_params`` or ``batch_seeds`` a run is no longer a function of its config
    alone: :meth:`RunConfig.key` does not describe it, so do not store such results.

    Returns
    -------
    list of RunResult
        In the order of ``configs``, with ``trace`` and ``compute_seconds`` (module
        docstring). ``extra`` holds ``device``, ``ensemble_size`` and ``train_error_samples``
        (and the curves and parameters when asked).
    """
    configs = _check_configs(configs)
    for name, flag in (("early_stop", early_stop), ("record_curve", record_curve),
                       ("return_params", return_params)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be a bool, got {flag!r}")
    if (checkpoint_every is None) != (on_checkpoint is None):
        raise ValueError("checkpoint_every and on_checkpoint go together (give both or neither)")
    if checkpoint_every is not None:
        checkpoint_every = check_int("checkpoint_every", checkpoint_every, 1, strict=True)
    if initial_params is not None:
        initial_params = _check_initial_params(configs, initial_params)
    if batch_seeds is not None:
        batch_seeds = _check_batch_seeds(configs, batch_seeds)
    dev = resolve_device(device)
    if not configs:
        return []
    cap = check_cap(default_memory_cap(dev) if memory_cap_bytes is None else memory_cap_bytes)
    estimate = estimate_configs_bytes(configs, dev)
    if estimate > cap:
        raise ValueError(
            f"estimated memory of an ensemble of {len(configs)} runs is "
            f"{format_bytes(estimate)}, over the cap of {format_bytes(cap)}; train fewer "
            f"runs at once (max_ensemble_size gives {max_ensemble_size(configs[0], cap, dev)} "
            "for the first run's shape) or raise memory_cap_bytes")
    start_time = time.perf_counter()
    with torch.no_grad():
        ens = Ensemble(configs, dev, initial_params, batch_seeds)
        return _train(ens, configs, dev, start_time, on_result, progress, early_stop,
                      record_curve, return_params, checkpoint_every, on_checkpoint)


def _train(ens, configs, dev, start_time, on_result, progress, early_stop, record_curve,
           return_params, checkpoint_every, on_checkpoint) -> list[RunResult]:
    cfg = configs[0]
    results: list[RunResult | None] = [None] * len(configs)
    records = [RunRecord() for _ in configs]
    done, last = 0, start_time
    for step in eval_steps(cfg):
        ens.train_window(step - done)
        if progress is not None:
            progress(step - done)
        done = step
        finite = ens.params_finite()
        train_trace = ens.train_trace()
        final = step == cfg.max_steps
        # A run that ends here (diverged, or success under early_stop) is counted in full;
        # the count of one that goes on may stop once its decision is certain.
        wrong, counted = ens.test_errors(
            success_error=None if final or record_curve else cfg.success_error,
            exact=~finite, drop_success=not early_stop)
        ending: list[tuple[int, str]] = []
        for j, g in enumerate(ens.active):
            records[g].add(step, wrong[j], counted[j], train_trace[j])
            if not finite[j]:
                ending.append((j, "diverged"))
                continue
            # exact whether or not the count stopped early (evaluation.count_errors)
            if records[g].first_success is None and \
                    wrong[j] / cfg.test_size <= cfg.success_error:
                records[g].first_success = step
            if records[g].first_success is not None and early_stop:
                ending.append((j, "success"))
            elif final:
                ending.append((j, "max_steps" if records[g].first_success is None
                               else "success"))
        if checkpoint_every is not None and step % checkpoint_every == 0:
            params = ens.params()
            for j, g in enumerate(ens.active):
                on_checkpoint(configs[g], step, [p[j].cpu().numpy().copy() for p in params])
        local = [j for j, _ in ending]
        short = [j for j in local if counted[j] < cfg.test_size]
        if short:  # never expected (ending runs are counted in full); exact all the same
            wrong = wrong.copy()
            wrong[short] = ens.test_errors(short)[0]
        if local:
            train_wrong, train_count = ens.train_errors(local)
        final_params = None
        if return_params and local:
            params = ens.params()
            final_params = [[p[j].cpu().numpy().copy() for p in params] for j in local]
        now = time.perf_counter()
        share, last = (now - last) / len(ens.active), now
        for g in ens.active:
            records[g].compute_seconds += share
        for index, (j, reason) in enumerate(ending):
            g, record = ens.active[j], records[ens.active[j]]
            extra = {"device": str(dev), "ensemble_size": len(configs),
                     "train_error_samples": int(train_count[index])}
            if record_curve:
                extra["curve_steps"] = list(record.steps)
                extra["curve_test_error"] = list(record.test_error)
            if final_params is not None:
                extra["final_params"] = final_params[index]
            result = RunResult(
                config=configs[g], success=record.first_success is not None,
                steps_to_success=record.first_success,
                test_error=float(wrong[j]) / cfg.test_size,
                train_error=float(train_wrong[index]) / int(train_count[index]),
                end_reason=reason, steps_run=step, wall_seconds=now - start_time, extra=extra,
                compute_seconds=record.compute_seconds, trace=record.trace())
            results[g] = result
            if on_result is not None:
                on_result(result)
        if local:
            ens.remove(local)
            if not ens.active:
                break
    return results
