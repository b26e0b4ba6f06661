"""The device state of one ensemble: data of all its runs, stacked parameters of the active ones.

:class:`Ensemble` holds, on the training device, every run's packed test set (and training
set, offline) and the trainer state (:mod:`.step`'s layout, filled by :func:`init_state` from
:func:`.model.init_params` or given parameters); it trains a window of steps
(:func:`.step.sgd_step` with the config's loss and activation), counts errors
(:func:`.evaluation.count_errors`) and drops finished runs. :func:`.trainer.train_ensemble`
drives it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.training.data import (
    BatchStream,
    make_run_data,
    packed_width,
    parity_labels,
)
from parity_frontiers.verify.training.evaluation import (
    Buffers,
    count_errors,
    params_finite,
    unpack_into,
)
from parity_frontiers.verify.training.memory import draw_steps, eval_chunk, stage_steps
from parity_frontiers.verify.training.model import init_params
from parity_frontiers.verify.training.registry import get_activation, get_loss
from parity_frontiers.verify.training.step import Workspace, sgd_step

__all__ = ["Ensemble", "init_state", "from_state", "TRACE_TRAIN_STEPS", "MIN_CHECK_SAMPLES"]


#: Steps at the end of each evaluation window whose minibatch mistakes give a trace's train
#: error (all of the window when it is shorter; 0: not measured, NaN in the trace).
TRACE_TRAIN_STEPS = 16
#: Fewest test samples between two checks of whether a count may stop (a host sync each).
MIN_CHECK_SAMPLES = 1024


class Ensemble:
    """Device state of the runs of one call: data of all runs, parameters of the active ones.

    The runs share :meth:`RunConfig.ensemble_key` and may differ in k, m, init and s: the
    parity sets are padded to the largest k and masked (used online, where labels are
    computed on the device), the training sets are one flat concatenation with per-run
    offsets (no padding to the largest m), and each run's init is drawn by its own law.
    """

    def __init__(self, configs: list[RunConfig], device: torch.device,
                 initial_params: list | None = None, batch_seeds: list[int] | None = None):
        cfg = configs[0]
        self.cfg, self.configs, self.device = cfg, configs, device
        e, nb = len(configs), packed_width(cfg.n)
        self.online = cfg.samples is None
        kmax = max(run.k for run in configs)
        self.parity_set = torch.zeros((e, kmax), dtype=torch.int64, device=device)
        self.parity_mask = torch.zeros((e, kmax), dtype=torch.uint8, device=device)
        self.test_packed = torch.empty((e, cfg.test_size, nb), dtype=torch.uint8, device=device)
        self.test_y = torch.empty((e, cfg.test_size), dtype=torch.int8, device=device)
        sizes = np.array([run.samples or 0 for run in configs], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.offsets = torch.from_numpy(offsets).to(device)
        self.train_packed = self.train_y = None
        if not self.online:
            self.train_packed = torch.empty((int(sizes.sum()), nb), dtype=torch.uint8,
                                            device=device)
            self.train_y = torch.empty(int(sizes.sum()), dtype=torch.int8, device=device)
        # One run at a time on the host, so host memory holds one run's data, not E.
        for i, run in enumerate(configs):
            data = make_run_data(run)
            self.parity_set[i, :run.k].copy_(torch.from_numpy(data.parity_set))
            self.parity_mask[i, :run.k] = 1
            self.test_packed[i].copy_(torch.from_numpy(data.test_packed))
            self.test_y[i].copy_(torch.from_numpy(data.test_y))
            if not self.online:
                rows = slice(int(offsets[i]), int(offsets[i] + sizes[i]))
                self.train_packed[rows].copy_(torch.from_numpy(data.train_packed))
                self.train_y[rows].copy_(torch.from_numpy(data.train_y))
        self.state = init_state(configs, device, initial_params)
        if batch_seeds is None:
            self.streams = [BatchStream(run) for run in configs]
        else:
            # Only the minibatch stream is reseeded: S and the test set stay the config's.
            self.streams = [BatchStream(dataclasses.replace(run, seed=seed))
                            for run, seed in zip(configs, batch_seeds, strict=True)]
        self.active = list(range(e))
        self.rows = torch.arange(e, device=device)
        self.activation, self.loss = get_activation(cfg.activation), get_loss(cfg.loss)
        self.work = Workspace(self.state, cfg.batch_size, self.activation)
        self.bufs = Buffers(device)
        self.last_window = None
        self.correct, self.traced_steps = None, 0

    def train_window(self, steps: int):
        """Train every active run for ``steps`` SGD steps (one evaluation window), counting
        the minibatch mistakes of its last :data:`TRACE_TRAIN_STEPS` steps."""
        block = draw_steps(self.cfg)
        self.traced_steps = min(steps, TRACE_TRAIN_STEPS)
        self.correct = torch.zeros(len(self.active), dtype=torch.float32, device=self.device)
        for start in range(0, steps, block):
            self._train_block(min(block, steps - start), steps - self.traced_steps - start)

    def train_trace(self) -> np.ndarray:
        """Per active run: the error on the minibatches of the last window's traced steps."""
        if not self.traced_steps:
            return np.full(len(self.active), np.nan)
        seen = self.traced_steps * self.cfg.batch_size
        return 1.0 - self.correct.cpu().numpy().astype(np.float64) / seen

    def _train_block(self, steps: int, count_from: int):
        cfg, dev = self.cfg, self.device
        draws = np.stack([self.streams[g].next(steps) for g in self.active])
        window = torch.from_numpy(draws).to(dev)
        e = len(self.active)
        if self.online:
            labels = parity_labels(window.view(e, steps * cfg.batch_size, -1),
                                   self.parity_set.index_select(0, self.rows),
                                   self.parity_mask.index_select(0, self.rows))
            labels = labels.view(e, steps, cfg.batch_size)
            self.last_window = (window.view(e, steps * cfg.batch_size, -1),
                                labels.view(e, steps * cfg.batch_size))
        else:
            offsets = self.offsets.index_select(0, self.rows).view(1, -1, 1)
        inv_batch = 1.0 / cfg.batch_size
        per_stage = stage_steps(cfg, e)
        bufs = self.bufs
        for start in range(0, steps, per_stage):
            stop = min(steps, start + per_stage)
            shape = (stop - start, e, cfg.batch_size)
            ys = bufs.get("y", shape)
            if self.online:
                packed = bufs.get("packed", (*shape, window.shape[-1]), torch.uint8)
                packed.copy_(window[:, start:stop].transpose(0, 1))
                ys.copy_(labels[:, start:stop].transpose(0, 1))
            else:
                # rows of the flat training sets, in step-major order
                flat = bufs.get("flat", shape, torch.int64)
                torch.add(window[:, start:stop].transpose(0, 1), offsets, out=flat)
                flat = flat.view(-1)
                packed = bufs.get("packed", (flat.numel(), self.train_packed.shape[1]),
                                  torch.uint8)
                torch.index_select(self.train_packed, 0, flat, out=packed)
                packed = packed.view(*shape, -1)
                labels8 = bufs.get("labels8", (flat.numel(),), torch.int8)
                torch.index_select(self.train_y, 0, flat, out=labels8)
                ys.copy_(labels8.view(shape))
            xs = unpack_into(packed, cfg.n, bufs)
            for j in range(stop - start):
                sgd_step(self.state, self.work, xs[j], ys[j], self.loss, self.activation,
                         cfg.lr, cfg.weight_decay, inv_batch,
                         self.correct if start + j >= count_from else None)

    def params_finite(self) -> np.ndarray:
        return params_finite(self.state).cpu().numpy()

    def params(self) -> list[torch.Tensor]:
        """The parameters in :mod:`.model`'s layout (views of the state)."""
        return from_state(self.state)

    def _select(self, local: list[int] | None):
        """State and data rows of the given active runs (default: all, no copy)."""
        if local is None:
            return self.state, self.rows
        pick = torch.tensor(local, dtype=torch.int64, device=self.device)
        return [p.index_select(0, pick) for p in self.state], self.rows.index_select(0, pick)

    def test_errors(self, local: list[int] | None = None, success_error=None, exact=None,
                    drop_success: bool = False):
        """(errors, samples counted) on the test sets of the given active runs (default:
        all); with ``success_error``, counts stop once a run's decision is certain
        (:func:`.evaluation.count_errors`)."""
        state, rows = self._select(local)
        if len(rows) == self.test_packed.shape[0]:
            rows = None  # every run, in order: no gather needed
        chunk = eval_chunk(self.cfg, len(state[0]), self.device)
        # Check every eighth of the test set (a host synchronisation each time): runs at
        # chance level are then settled after about 2 of 8 parts.
        check_every = max(MIN_CHECK_SAMPLES, -(-self.cfg.test_size // 8))
        return count_errors(state, self.test_packed, self.test_y, rows, self.cfg.n, chunk,
                            self.bufs, self.activation, success_error, check_every, exact,
                            drop_success)

    def train_errors(self, local: list[int]):
        """(errors, samples) per given active run, on its training data: offline its first
        min(m, test_size) training samples, online the last block of fresh samples."""
        cfg = self.cfg
        state, rows = self._select(local)
        if self.online:
            pick = torch.tensor(local, dtype=torch.int64, device=self.device)
            packed, labels = (t.index_select(0, pick) for t in self.last_window)
            wrong, _ = count_errors(state, packed, labels, None, cfg.n,
                                    eval_chunk(cfg, len(local), self.device), self.bufs,
                                    self.activation)
            return wrong, np.full(len(local), packed.shape[1], dtype=np.int64)
        counts = np.array([min(self.configs[self.active[j]].samples, cfg.test_size)
                           for j in local], dtype=np.int64)
        wrong = np.zeros(len(local), dtype=np.int64)
        for count in np.unique(counts):
            members = np.flatnonzero(counts == count)
            pick = torch.from_numpy(members).to(self.device)
            starts = self.offsets.index_select(0, rows.index_select(0, pick))
            index = (starts.view(-1, 1) + torch.arange(int(count), device=self.device)).view(-1)
            packed = self.train_packed.index_select(0, index).view(len(members), int(count), -1)
            labels = self.train_y.index_select(0, index).view(len(members), int(count))
            wrong[members], _ = count_errors(
                [p.index_select(0, pick) for p in state], packed, labels, None, cfg.n,
                eval_chunk(cfg, len(members), self.device), self.bufs, self.activation)
        return wrong, counts

    def remove(self, local: list[int]):
        drop = set(local)
        keep = [j for j in range(len(self.active)) if j not in drop]
        self.active = [self.active[j] for j in keep]
        if not keep:
            self.state, self.work = [], None
            return
        pick = torch.tensor(keep, dtype=torch.int64, device=self.device)
        self.state = [p.index_select(0, pick) for p in self.state]
        self.rows = self.rows.index_select(0, pick)
        self.work = Workspace(self.state, self.cfg.batch_size, self.activation)


def init_state(configs: list[RunConfig], device: torch.device,
                initial_params: list | None = None) -> list[torch.Tensor]:
    """The stacked trainer state, filled run by run (one run's host arrays at a time).

    ``initial_params[i]``, when given, replaces :func:`.model.init_params` of run i (model
    layout, already checked by :func:`.trainer._check_initial_params`).
    """
    cfg = configs[0]
    e, n, r = len(configs), cfg.n, cfg.width
    kw = {"dtype": torch.float32, "device": device}
    state = [torch.empty((e, n + 1, r), **kw)]
    for _ in range(cfg.depth - 1):
        state += [torch.empty((e, r, r), **kw), torch.empty((e, r), **kw)]
    state += [torch.empty((e, r), **kw), torch.empty(e, **kw)]
    for i, run in enumerate(configs):
        given = None if initial_params is None else initial_params[i]
        params = [torch.from_numpy(np.asarray(p, dtype=np.float32))
                  for p in (_init_run_params(run) if given is None else given)]
        state[0][i, :n].copy_(params[0].T)
        state[0][i, n].copy_(params[1])
        for j in range(1, len(state) - 2, 2):
            state[j][i].copy_(params[j + 1].T)
            state[j + 1][i].copy_(params[j + 2])
        state[-2][i].copy_(params[-2])
        state[-1][i].copy_(params[-1])
    return state


def from_state(state: list[torch.Tensor]) -> list[torch.Tensor]:
    """Trainer state -> model layout (views)."""
    n = state[0].shape[1] - 1
    params = [state[0][:, :n].transpose(1, 2), state[0][:, n]]
    for i in range(1, len(state) - 2, 2):
        params += [state[i].transpose(1, 2), state[i + 1]]
    return params + [state[-2], state[-1]]


def _init_run_params(config: RunConfig) -> list[np.ndarray]:
    # Indirection so tests can inject faults into one run's initial parameters.
    return init_params(config)
