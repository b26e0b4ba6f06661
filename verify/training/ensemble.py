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

__all__ = ["Ensemble", "init_state", "from_state"]


class Ensemble:
    """Device state of the runs of one call: data of all runs, parameters of the active ones."""

    def __init__(self, configs: list[RunConfig], device: torch.device,
                 initial_params: list | None = None, batch_seeds: list[int] | None = None):
        cfg = configs[0]
        self.cfg, self.device = cfg, device
        e, nb = len(configs), packed_width(cfg.n)
        self.parity_set = torch.empty((e, cfg.k), dtype=torch.int64, device=device)
        self.test_packed = torch.empty((e, cfg.test_size, nb), dtype=torch.uint8, device=device)
        self.test_y = torch.empty((e, cfg.test_size), dtype=torch.int8, device=device)
        self.train_packed = self.train_y = None
        if cfg.samples is not None:
            self.train_packed = torch.empty((e, cfg.samples, nb), dtype=torch.uint8,
                                            device=device)
            self.train_y = torch.empty((e, cfg.samples), dtype=torch.int8, device=device)
        # One run at a time on the host, so host memory holds one run's data, not E.
        for i, run in enumerate(configs):
            data = make_run_data(run)
            self.parity_set[i].copy_(torch.from_numpy(data.parity_set))
            self.test_packed[i].copy_(torch.from_numpy(data.test_packed))
            self.test_y[i].copy_(torch.from_numpy(data.test_y))
            if self.train_packed is not None:
                self.train_packed[i].copy_(torch.from_numpy(data.train_packed))
                self.train_y[i].copy_(torch.from_numpy(data.train_y))
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

    def train_window(self, steps: int):
        """Train every active run for ``steps`` SGD steps (one evaluation window)."""
        block = draw_steps(self.cfg)
        for start in range(0, steps, block):
            self._train_block(min(block, steps - start))

    def _train_block(self, steps: int):
        cfg, dev = self.cfg, self.device
        draws = np.stack([self.streams[g].next(steps) for g in self.active])
        window = torch.from_numpy(draws).to(dev)
        e = len(self.active)
        if cfg.samples is None:
            labels = parity_labels(window.view(e, steps * cfg.batch_size, -1),
                                   self.parity_set.index_select(0, self.rows))
            labels = labels.view(e, steps, cfg.batch_size)
            self.last_window = (window.view(e, steps * cfg.batch_size, -1),
                                labels.view(e, steps * cfg.batch_size))
        inv_batch = 1.0 / cfg.batch_size
        per_stage = stage_steps(cfg, e)
        bufs = self.bufs
        for start in range(0, steps, per_stage):
            stop = min(steps, start + per_stage)
            shape = (stop - start, e, cfg.batch_size)
            ys = bufs.get("y", shape)
            if cfg.samples is None:
                packed = bufs.get("packed", (*shape, window.shape[-1]), torch.uint8)
                packed.copy_(window[:, start:stop].transpose(0, 1))
                ys.copy_(labels[:, start:stop].transpose(0, 1))
            else:
                # rows of the flattened [runs * m] training sets, in step-major order
                flat = bufs.get("flat", shape, torch.int64)
                torch.add(window[:, start:stop].transpose(0, 1),
                          (self.rows * cfg.samples).view(1, -1, 1), out=flat)
                flat = flat.view(-1)
                train = self.train_packed.view(-1, self.train_packed.shape[-1])
                packed = bufs.get("packed", (flat.numel(), train.shape[1]), torch.uint8)
                torch.index_select(train, 0, flat, out=packed)
                packed = packed.view(*shape, -1)
                labels8 = bufs.get("labels8", (flat.numel(),), torch.int8)
                torch.index_select(self.train_y.view(-1), 0, flat, out=labels8)
                ys.copy_(labels8.view(shape))
            xs = unpack_into(packed, cfg.n, bufs)
            for j in range(stop - start):
                sgd_step(self.state, self.work, xs[j], ys[j], self.loss, self.activation,
                         cfg.lr, cfg.weight_decay, inv_batch)

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

    def test_errors(self, local: list[int] | None = None, give_up_above=None):
        """(errors, complete) on the test sets of the given active runs (default: all)."""
        state, rows = self._select(local)
        if len(rows) == self.test_packed.shape[0]:
            rows = None  # every run, in order: no gather needed
        chunk = eval_chunk(self.cfg, len(state[0]), self.device)
        # Check for giving up every eighth of the test set (a host synchronisation each time):
        # runs at chance level are then given up after about 2 of 8 parts.
        check_every = max(1024, -(-self.cfg.test_size // 8))
        return count_errors(state, self.test_packed, self.test_y, rows, self.cfg.n, chunk,
                            self.bufs, self.activation, give_up_above, check_every)

    def train_errors(self, local: list[int]):
        """(errors, samples) on the training data of the given active runs."""
        cfg = self.cfg
        state, rows = self._select(local)
        if cfg.samples is None:
            pick = torch.tensor(local, dtype=torch.int64, device=self.device)
            packed, labels = (t.index_select(0, pick) for t in self.last_window)
            rows = None
        else:
            count = min(cfg.samples, cfg.test_size)
            packed, labels = self.train_packed[:, :count], self.train_y[:, :count]
        wrong, _ = count_errors(state, packed, labels, rows, cfg.n,
                                eval_chunk(cfg, len(local), self.device), self.bufs,
                                self.activation)
        return wrong, packed.shape[1]

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
