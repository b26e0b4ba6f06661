r"""Train an ensemble of independent sparse-parity MLP runs at once (DESIGN.md, ``verify/``).

E runs that share every config field but the seed (:meth:`RunConfig.shape_key`) are trained
together: their parameters are stacked along a leading run axis (:mod:`verify.model`) and each
SGD step is a handful of batched matmuls over that axis, so an ensemble costs a few large
kernels per step instead of E sets of tiny ones.

Optimisation (PAPER.md Sec. 5: SGD, lr 0.1, weight decay 0.01, batch 32, T = 1e5)
------------------------------------------------------------------------------------
Each run minimises its own minibatch loss :math:`\frac1B \sum_{j} \ell(y_j f(x_j))`, with

* ``hinge`` (default, as Barak et al. 2022): :math:`\ell = \max(0, 1 - y f)`, subgradient 0 at
  the kink (as ``relu(1 - y * f)`` under autograd);
* ``square``: :math:`\ell = (f - y)^2 / 2 = (1 - y f)^2 / 2` (y = +-1);
* ``logistic``: :math:`\ell = \mathrm{softplus}(-y f) = \log(1 + e^{-y f})`.

The step is ``torch.optim.SGD(lr, weight_decay)`` without momentum, for every parameter
(biases included): :math:`g \leftarrow \nabla + \lambda \theta`,
:math:`\theta \leftarrow \theta - \eta g`. The gradients are computed by hand (backpropagation
through the batched layers, ReLU derivative 0 at 0 as in autograd) rather than by autograd:
it needs no graph and fewer passes over memory, and each weight matrix is updated inside the
GEMM of its gradient (see ``_sgd_step``). The tests check the trajectory against
``nn.Sequential`` + ``torch.optim.SGD`` on the same batches: equal to float32 rounding
(relative 1e-5 after 50 steps). Runs share no tensor element, so a NaN or inf in one run cannot
reach another run's parameters.

Minibatches and data: see :mod:`verify.data` (offline: indices drawn with replacement from the m
training samples each step; online: fresh samples each step). They are drawn on the host per
*window* (the steps between two evaluation points), moved to the device once, and unpacked to
float32 in sub-chunks of at most :data:`STAGE_BYTES`; the step loop itself makes no host
transfer and no host synchronisation.

Evaluation and stopping
-----------------------
At every multiple of ``eval_every`` and at ``max_steps`` (:func:`eval_steps`) each active run
is evaluated on its held-out test set (test error = fraction of the ``test_size`` samples with
:math:`y f(x) \le 0`; a non-finite output counts as an error). A run

* *diverges* when any of its parameters is NaN or inf: end ``"diverged"`` (an overflowing
  output is followed by non-finite parameters at the next step, so this catches it too);
* *succeeds* at the first evaluation step with test error <= ``success_error``: that step is
  ``steps_to_success``; with ``early_stop`` (default) it ends there, ``"success"``;
* otherwise ends at ``max_steps``: ``"max_steps"`` (or ``"success"`` when ``early_stop=False``
  and it succeeded at some earlier evaluation; its errors are then the final ones).

``success`` and ``steps_to_success`` say whether and when the test error first reached
``success_error``, whatever the end reason (with ``early_stop`` a run that succeeded has ended
there, so only ``early_stop=False`` can show a success followed by divergence).

Before ``max_steps`` the test set is read in chunks and the evaluation stops once every active
run has more errors than ``success_error * test_size``: none of them can succeed at this step,
and no exact count is needed for a run that goes on. This is exact (the decision is the one the
full count gives) and cuts the cost of evaluating runs at chance level about fourfold -- with
the paper's test set of 1e4 and evaluation every 100 steps, full evaluations would cost about
as much as the training steps themselves.

Finished runs are removed from the ensemble (the stacked parameters are compacted with
``index_select``), so they stop costing compute; ``on_result`` gets each result at once.

The train error is measured when a run ends: offline, on the first ``min(m, test_size)``
training samples (the training set is i.i.d., so this is an unbiased estimate of the error on
all m samples at a bounded cost when m is large -- up to 1e6 in the paper); online, on the
``batch_size * (steps of the last block)`` fresh samples the run was trained on last (a block
is the last evaluation window, or its last part of at most :data:`DRAW_BYTES_PER_RUN` of
draws).
``extra["train_error_samples"]`` records how many samples that was.

``wall_seconds`` is the time from the call's start to the run's end: compute is shared by the
ensemble, so these times do not add up across runs.

Examples
--------
>>> from verify.config import RunConfig
>>> cfgs = [RunConfig(n=8, k=2, width=16, samples=100, seed=s, max_steps=60, eval_every=30,
...                   test_size=100) for s in range(2)]
>>> results = train_ensemble(cfgs, device="cpu")
>>> [r.config.seed for r in results], all(r.steps_run <= 60 for r in results)
([0, 1], True)
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from parity_frontiers.theory.checks import check_int
from parity_frontiers.verify.config import MAX_SEED, RunConfig, RunResult
from parity_frontiers.verify.training.data import (
    BatchStream,
    make_run_data,
    packed_width,
    parity_labels,
    pm1_table,
)
from parity_frontiers.verify.training.device import default_memory_cap, resolve_device
from parity_frontiers.verify.training.model import init_params, param_count, param_shapes

__all__ = [
    "DRAW_BYTES_PER_RUN",
    "STAGE_BYTES",
    "EVAL_CHUNK_BYTES",
    "eval_steps",
    "estimate_ensemble_bytes",
    "max_ensemble_size",
    "train_ensemble",
]

#: Largest float32 staging buffer of minibatches unpacked ahead of the steps (bytes).
STAGE_BYTES = 64 * 2**20
#: Largest block of host-drawn minibatches (indices or packed online samples) per run moved to
#: the device at once (bytes): an evaluation window longer than this is drawn in several
#: blocks, so memory does not grow with ``eval_every``. Per run, not per ensemble, so that the
#: cut (and with it the online train-error sample) does not depend on the ensemble's size.
DRAW_BYTES_PER_RUN = 2**20
#: Target size of the temporaries of one evaluation chunk of the test set, by device type
#: (bytes): cache-sized on the CPU (evaluation ran 1.45x faster with 4 MB of activations than
#: with 40 MB), large on a GPU, where small kernels waste the device.
EVAL_CHUNK_BYTES = {"cpu": 8 * 2**20, "cuda": 256 * 2**20}






def eval_steps(config: RunConfig) -> Iterator[int]:
    """Evaluation points: every multiple of ``eval_every`` below ``max_steps``, then it.

    A generator: a budget of 1e9 steps evaluated every step must not build a list first.
    """
    yield from range(config.eval_every, config.max_steps, config.eval_every)
    yield config.max_steps


def _stage_step_bytes(config: RunConfig, ensemble_size: int) -> int:
    # One step's unpacked minibatch: packed rows, their int32 codes (with the bias column),
    # float32 +-1, labels, index.
    nb, nba = packed_width(config.n), packed_width(config.n + 1)
    return ensemble_size * config.batch_size * (nb + nba * (4 + 32) + 4 + 1 + 8)


def _draw_step_bytes(config: RunConfig) -> int:
    # One run's step of host draws and their device copy: int64 indices, or packed online
    # samples (with their labels and the train-error copy).
    per_sample = 8 if config.samples is not None else 2 * packed_width(config.n) + 2
    return config.batch_size * per_sample


def _draw_steps(config: RunConfig) -> int:
    return max(1, min(config.eval_every, DRAW_BYTES_PER_RUN // _draw_step_bytes(config)))


def _stage_steps(config: RunConfig, ensemble_size: int) -> int:
    return max(1, min(config.eval_every, STAGE_BYTES // _stage_step_bytes(config, ensemble_size)))


def _eval_sample_bytes(config: RunConfig, ensemble_size: int) -> int:
    nb, nba = packed_width(config.n), packed_width(config.n + 1)
    return ensemble_size * (nb + nba * (4 + 32) + 2 * 4 * config.width + 16)


def _eval_chunk(config: RunConfig, ensemble_size: int, device: torch.device) -> int:
    per = _eval_sample_bytes(config, ensemble_size)
    chunk = EVAL_CHUNK_BYTES["cuda" if device.type == "cuda" else "cpu"] // per
    return min(config.test_size, max(config.batch_size, chunk))


def estimate_ensemble_bytes(config: RunConfig, ensemble_size: int,
                            device: str | torch.device = "auto") -> int:
    """Estimated peak memory (bytes, on the training device) of an ensemble of this shape.

    Sum of: the packed data of every run (test set and, offline, training set: ceil(n/8) + 1
    bytes a sample); three float32 copies of the parameters (the parameters, the copy made when
    they are laid out at the start or compacted when runs end, and a margin for the vector
    gradients); one step's activations and backpropagated signals (about 3 L r + n floats per
    sample); one window of host-drawn minibatches; the staging buffer (<= :data:`STAGE_BYTES`)
    and one evaluation chunk (about :data:`EVAL_CHUNK_BYTES` of the device; ``"auto"`` as in
    :func:`train_ensemble`); plus 15% and 16 MiB for allocator slack and temporaries. On the
    CPU it was 1.2x-1.7x the measured growth of peak resident memory on five configs (n 50 to
    300, width 256 to 2e4, m 1e3 to 1e6 and online). The estimate is affine in the ensemble
    size except for the two capped buffers.
    """
    if not isinstance(config, RunConfig):
        raise ValueError(f"config must be a RunConfig, got {type(config).__name__}")
    e = check_int("ensemble_size", ensemble_size, strict=True)
    nb = packed_width(config.n)
    rows = config.test_size + (config.samples or 0)
    data = e * (rows * (nb + 1) + 8 * config.k)
    params = 3 * 4 * e * param_count(config)
    step = 4 * e * config.batch_size * (3 * config.depth * config.width + config.n + 8)
    window = e * _draw_steps(config) * _draw_step_bytes(config)
    stage = _stage_steps(config, e) * _stage_step_bytes(config, e)
    evaluation = _eval_chunk(config, e, resolve_device(device)) * _eval_sample_bytes(config, e)
    total = data + params + step + window + stage + evaluation
    # allocator slack, temporaries and library pages touched on the way
    return int(1.15 * total) + 16 * 2**20


def max_ensemble_size(config: RunConfig, memory_cap_bytes: int | None = None,
                      device: str | torch.device = "auto") -> int:
    """Largest ensemble size whose :func:`estimate_ensemble_bytes` is within the cap.

    ``memory_cap_bytes`` defaults to :func:`default_memory_cap` of ``device``. Returns 0 when
    not even one run fits.
    """
    cap = default_memory_cap(device) if memory_cap_bytes is None else memory_cap_bytes
    cap = _check_cap(cap)
    if estimate_ensemble_bytes(config, 1, device) > cap:
        return 0
    lo, hi = 1, 2
    while estimate_ensemble_bytes(config, hi, device) <= cap:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if estimate_ensemble_bytes(config, mid, device) <= cap:
            lo = mid
        else:
            hi = mid
    return lo


def _check_cap(cap) -> int:
    return check_int("memory_cap_bytes", cap, strict=True)


def _format_bytes(value: int) -> str:
    return f"{value / 2**30:.3g} GiB ({value} bytes)"


def _check_configs(configs: Sequence[RunConfig]) -> list[RunConfig]:
    configs = list(configs)
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, RunConfig):
            raise ValueError(f"configs[{i}] must be a RunConfig, got {type(cfg).__name__}")
    if configs:
        first = configs[0]
        shape = first.shape_key()
        for i, cfg in enumerate(configs[1:], start=1):
            if cfg.shape_key() != shape:
                differ = [name for name, value in cfg.as_dict().items()
                          if name != "seed" and value != getattr(first, name)]
                raise ValueError(
                    "all configs of an ensemble must share shape_key() (every field but the "
                    f"seed); configs[{i}] differs from configs[0] in: {', '.join(differ)}")
    return configs


# --------------------------------------------------------------------------------------------
# One SGD step of the whole ensemble, by hand.


def _loss_grad(loss: str, f: torch.Tensor, y: torch.Tensor, inv_batch: float) -> torch.Tensor:
    """d(mean loss)/df, ``[E, B]``."""
    if loss == "hinge":
        return torch.where(f * y < 1, y, 0.0).mul_(-inv_batch)
    if loss == "square":
        return (f - y).mul_(inv_batch)
    # logistic: d softplus(-y f) / df = -y sigmoid(-y f)
    return torch.sigmoid(f * y).sub_(1).mul_(y).mul_(inv_batch)


class _Workspace:
    """Per-step buffers, allocated once per ensemble size: fresh megabyte-sized tensors every
    step would cost page faults on the CPU (glibc returns large blocks to the OS on free)."""

    def __init__(self, state: list[torch.Tensor], batch_size: int):
        e, inputs, width = state[0].shape
        layers = (len(state) - 1) // 2
        kw = {"dtype": torch.float32, "device": state[0].device}
        self.acts = [torch.empty((e, batch_size, width), **kw) for _ in range(layers)]
        self.deltas = [torch.empty((e, batch_size, width), **kw) for _ in range(layers)]
        self.scaled_x = torch.empty((e, batch_size, inputs), **kw)
        self.scaled_h = torch.empty((e, batch_size, width), **kw) if layers > 1 else None
        self.out = torch.empty((e, batch_size), **kw)
        self.vector_grads = [torch.empty_like(v) for v in _vectors(state)]


def _layers(state: list[torch.Tensor]) -> tuple[list[torch.Tensor], list]:
    """Weight matrices (input-major) and biases of the hidden layers (None: in the matrix)."""
    return [state[0], *state[1:-2:2]], [None, *state[2:-2:2]]


def _vectors(state: list[torch.Tensor]) -> list[torch.Tensor]:
    """The state's vectors (biases of layers 2..L, a, c): updated by a plain SGD step."""
    return [*state[2:-2:2], state[-2], state[-1]]


_relu_backward_ = torch.ops.aten.threshold_backward.grad_input


def _sgd_step(state: list[torch.Tensor], work: _Workspace, x: torch.Tensor, y: torch.Tensor,
              loss: str, lr: float, weight_decay: float, inv_batch: float):
    r"""Forward, hand backward and SGD update of every run on its minibatch.

    ``x [E, B, n + 1]`` is the minibatch with a last column of ones; ``state`` (see
    :func:`_init_state`) holds the first layer as ``[W1^T; b1] [E, n + 1, r]``, deeper layers as
    ``W_l^T [E, r, r]`` and ``b_l``, then ``a`` and ``c``.

    With :math:`g_j = \partial L / \partial f(x_j)` and the ReLU mask :math:`M`, the top
    signal is :math:`\delta = \mathrm{diag}(g)\,(M \odot a)`; we keep
    :math:`\delta' = M \odot a` (one pass over the activations) and put :math:`g` on the
    layer's input instead, :math:`\nabla W^T = (\mathrm{diag}(g) h_{below})^\top \delta'`
    (diag(g) commutes down through the layers too). Each weight matrix gets its SGD step inside
    that GEMM, :math:`W^T \leftarrow (1 - \eta\lambda) W^T - \eta \nabla W^T` (one
    ``baddbmm_``: no gradient buffer, no separate decay and update passes), after the signal
    below it has been computed from the old weights. The first layer's bias is its last input
    row, so it gets the same update (torch SGD decays biases too).
    """
    weights_t, biases = _layers(state)
    a, c = state[-2], state[-1]
    h = torch.bmm(x, weights_t[0], out=work.acts[0]).clamp_(min=0)
    for w_t, b, act in zip(weights_t[1:], biases[1:], work.acts[1:], strict=True):
        h = torch.baddbmm(b.unsqueeze(1), h, w_t, out=act).clamp_(min=0)
    # f = a . h + c; the [1, r] x [r, B] form: MKL's batched [B, r] x [r, 1] is ~10x slower
    f = torch.bmm(a.unsqueeze(1), h.transpose(1, 2), out=work.out.unsqueeze(1)).squeeze(1)
    f.add_(c.unsqueeze(1))
    g = _loss_grad(loss, f, y, inv_batch)
    g_row = g.unsqueeze(1)

    grads = work.vector_grads
    torch.bmm(g_row, h, out=grads[-2].unsqueeze(1))
    torch.sum(g, 1, out=grads[-1])
    delta = _relu_backward_(a.unsqueeze(1).expand_as(h), h, 0, grad_input=work.deltas[-1])
    decay = 1.0 - lr * weight_decay
    for layer in range(len(weights_t) - 1, 0, -1):
        below = work.acts[layer - 1]
        torch.bmm(g_row, delta, out=grads[layer - 1].unsqueeze(1))
        lower = torch.bmm(delta, weights_t[layer].transpose(1, 2), out=work.deltas[layer - 1])
        _relu_backward_(lower, below, 0, grad_input=lower)
        scaled = torch.mul(below, g.unsqueeze(2), out=work.scaled_h)
        weights_t[layer].baddbmm_(scaled.transpose(1, 2), delta, beta=decay, alpha=-lr)
        delta = lower
    scaled = torch.mul(x, g.unsqueeze(2), out=work.scaled_x)
    weights_t[0].baddbmm_(scaled.transpose(1, 2), delta, beta=decay, alpha=-lr)
    vectors = _vectors(state)
    if weight_decay:
        torch._foreach_add_(grads, vectors, alpha=weight_decay)
    torch._foreach_add_(vectors, grads, alpha=-lr)


# --------------------------------------------------------------------------------------------
# Evaluation.


class _Buffers:
    """Flat tensors reused from window to window and evaluation to evaluation.

    On the CPU a fresh tensor of tens of MB costs page faults on every first touch (about
    10 ms for 20 MB here), as much as the copy itself; reusing the memory avoids them.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.store: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype=torch.float32) -> torch.Tensor:
        numel = math.prod(shape)
        buf = self.store.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != dtype:
            buf = torch.empty(numel, dtype=dtype, device=self.device)
            self.store[name] = buf
        return buf[:numel].view(shape)


def _unpack_into(packed: torch.Tensor, n: int, bufs: _Buffers) -> torch.Tensor:
    """Float32 +-1 inputs with a last column of ones, ``[..., n + 1]``, in reused buffers.

    The ones are free: coordinate n of the unpacked row is a zero padding bit (+1), or the
    first bit of an extra zero byte when 8 divides n.
    """
    nb, nba = packed.shape[-1], packed_width(n + 1)
    rows = packed.numel() // nb
    codes = bufs.get("codes", (rows, nba), torch.int32)
    codes.view(*packed.shape[:-1], nba)[..., :nb].copy_(packed)
    if nba > nb:
        codes[:, nb:].zero_()
    x = bufs.get("x", (rows * nba, 8))
    torch.index_select(pm1_table(packed.device), 0, codes.view(-1), out=x)
    return x.view(*packed.shape[:-1], nba * 8)[..., :n + 1]


def _forward_into(state: list[torch.Tensor], x: torch.Tensor, bufs: _Buffers) -> torch.Tensor:
    """Outputs ``[E, N]`` of every run on its inputs ``x [E, N, n + 1]`` (evaluation)."""
    weights_t, biases = _layers(state)
    e, count = x.shape[:2]
    h = x
    for layer, (w_t, b) in enumerate(zip(weights_t, biases, strict=True)):
        out = bufs.get(f"eval_h{layer % 2}", (e, count, w_t.shape[2]))
        h = (torch.bmm(h, w_t, out=out) if b is None
             else torch.baddbmm(b.unsqueeze(1), h, w_t, out=out)).clamp_(min=0)
    f = bufs.get("eval_f", (e, 1, count))
    torch.bmm(state[-2].unsqueeze(1), h.transpose(1, 2), out=f)
    return f.squeeze(1).add_(state[-1].unsqueeze(1))


@torch.no_grad()
def _count_errors(state, packed, labels, rows, n, chunk, bufs, give_up_above=None,
                  check_every=None):
    """Errors (y f <= 0, a non-finite f counting as an error) of each run over its samples.

    ``packed``/``labels`` are indexed by ``rows`` along the run axis (None: already aligned).
    With ``give_up_above`` (a fraction of all the samples), stop as soon as every run's errors
    so far exceed it (checked every ``check_every`` samples): each has then failed the success
    test whatever the remaining samples say, and its exact count is not needed. Returns
    (errors on host, whether complete).
    """
    e = state[0].shape[0]
    total = packed.shape[1]
    wrong = torch.zeros(e, dtype=torch.int64, device=packed.device)
    next_check = check_every or total
    for start in range(0, total, chunk):
        stop = min(total, start + chunk)
        p, y = packed[:, start:stop], labels[:, start:stop]
        if rows is not None:
            p, y = p.index_select(0, rows), y.index_select(0, rows)
        f = _forward_into(state, _unpack_into(p, n, bufs), bufs)
        # A non-finite output is an error whatever its sign (inf * y > 0 would pass).
        wrong += ((f * y > 0) & torch.isfinite(f)).logical_not_().sum(1)
        if give_up_above is not None and next_check <= stop < total:
            next_check = stop + check_every
            if bool((wrong.double() / total > give_up_above).all()):
                return wrong.cpu().numpy(), False
    return wrong.cpu().numpy(), True


def _params_finite(params) -> torch.Tensor:
    e = params[0].shape[0]
    flags = [torch.isfinite(p.reshape(e, -1)).all(1) for p in params]
    return torch.stack(flags).all(0)


# --------------------------------------------------------------------------------------------


class _Ensemble:
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
        self.state = _init_state(configs, device, initial_params)
        if batch_seeds is None:
            self.streams = [BatchStream(run) for run in configs]
        else:
            # Only the minibatch stream is reseeded: S and the test set stay the config's.
            self.streams = [BatchStream(dataclasses.replace(run, seed=seed))
                            for run, seed in zip(configs, batch_seeds, strict=True)]
        self.active = list(range(e))
        self.rows = torch.arange(e, device=device)
        self.work = _Workspace(self.state, cfg.batch_size)
        self.bufs = _Buffers(device)
        self.last_window = None

    def train_window(self, steps: int):
        """Train every active run for ``steps`` SGD steps (one evaluation window)."""
        block = _draw_steps(self.cfg)
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
        per_stage = _stage_steps(cfg, e)
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
            xs = _unpack_into(packed, cfg.n, bufs)
            for j in range(stop - start):
                _sgd_step(self.state, self.work, xs[j], ys[j], cfg.loss, cfg.lr,
                          cfg.weight_decay, inv_batch)

    def params_finite(self) -> np.ndarray:
        return _params_finite(self.state).cpu().numpy()

    def params(self) -> list[torch.Tensor]:
        """The parameters in :mod:`verify.model`'s layout (views of the state)."""
        return _from_state(self.state)

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
        chunk = _eval_chunk(self.cfg, len(state[0]), self.device)
        # Check for giving up every eighth of the test set (a host synchronisation each time):
        # runs at chance level are then given up after about 2 of 8 parts.
        check_every = max(1024, -(-self.cfg.test_size // 8))
        return _count_errors(state, self.test_packed, self.test_y, rows, self.cfg.n, chunk,
                             self.bufs, give_up_above, check_every)

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
        wrong, _ = _count_errors(state, packed, labels, rows, cfg.n,
                                 _eval_chunk(cfg, len(local), self.device), self.bufs)
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
        self.work = _Workspace(self.state, self.cfg.batch_size)


def _init_state(configs: list[RunConfig], device: torch.device,
                initial_params: list | None = None) -> list[torch.Tensor]:
    """The stacked trainer state, filled run by run (one run's host arrays at a time).

    ``initial_params[i]``, when given, replaces :func:`verify.model.init_params` of run i (model
    layout, already checked by :func:`_check_initial_params`).
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


def _from_state(state: list[torch.Tensor]) -> list[torch.Tensor]:
    """Trainer state -> model layout (views)."""
    n = state[0].shape[1] - 1
    params = [state[0][:, :n].transpose(1, 2), state[0][:, n]]
    for i in range(1, len(state) - 2, 2):
        params += [state[i].transpose(1, 2), state[i + 1]]
    return params + [state[-2], state[-1]]


def _init_run_params(config: RunConfig) -> list[np.ndarray]:
    # Indirection so tests can inject faults into one run's initial parameters.
    return init_params(config)


def _check_initial_params(configs: list[RunConfig], initial_params) -> list:
    """Per-run parameter lists in :mod:`verify.model`'s layout and shapes (None: the config's
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
                   return_params: bool = False) -> list[RunResult]:
    """Train independent runs of one shape together; one :class:`RunResult` per config.

    Parameters
    ----------
    configs : sequence of RunConfig
        Runs with a common :meth:`RunConfig.shape_key` (they may differ only by seed).
    device : {"auto", "cpu", "cuda", "cuda:i"}
        ``"auto"``: CUDA if available, else CPU. Results do not depend on the device beyond
        float rounding (all randomness is drawn on the host).
    on_result : callable, optional
        Called with each run's result as soon as it ends (success, divergence, max_steps).
    progress : callable, optional
        Called at each evaluation point with the number of SGD steps every active run advanced
        since the previous call.
    memory_cap_bytes : int, optional
        Refuse (ValueError, before allocating) when :func:`estimate_ensemble_bytes` exceeds it;
        default :func:`default_memory_cap` of the device.
    early_stop : bool, keyword-only
        End a run at its first successful evaluation (default). False trains every run for
        ``max_steps`` (benchmarks; curves past success) while still recording
        ``steps_to_success``.
    initial_params : sequence, keyword-only, optional
        One entry per config: that run's initial parameters as a list of arrays in
        :mod:`verify.model`'s layout and shapes (W1, b1, ..., a, c; :func:`param_shapes`), or
        None for the config's own :func:`init_params`. For training from given weights (the
        lottery-ticket experiment's rewound subnetworks). The arrays are copied (float32).
    batch_seeds : sequence of int, keyword-only, optional
        One entry per config: the seed of that run's minibatch stream (:mod:`verify.data`'s
        ``STREAM_BATCHES``) instead of ``config.seed``. S, the training and test sets and the
        default init still come from ``config.seed``, so several SGD seeds can share one task.
    record_curve : bool, keyword-only
        Record every run's test error at each of its evaluation points, in
        ``extra["curve_steps"]`` and ``extra["curve_test_error"]``. The evaluations are then
        always complete counts (no early give-up, so somewhat slower).
    return_params : bool, keyword-only
        Put each run's final parameters (float32 host arrays, model layout) in
        ``extra["final_params"]``. Such results are not meant for the results store.

    With ``initial_params`` or ``batch_seeds`` a run is no longer a function of its config
    alone: :meth:`RunConfig.key` does not describe it, so do not store such results.

    Returns
    -------
    list of RunResult
        In the order of ``configs``. ``extra`` holds ``device``, ``ensemble_size`` and
        ``train_error_samples`` (and the curves and parameters when asked).

    Notes
    -----
    The loss, optimiser, evaluation and stopping rules are in the module docstring.
    """
    configs = _check_configs(configs)
    for name, flag in (("early_stop", early_stop), ("record_curve", record_curve),
                       ("return_params", return_params)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be a bool, got {flag!r}")
    if initial_params is not None:
        initial_params = _check_initial_params(configs, initial_params)
    if batch_seeds is not None:
        batch_seeds = _check_batch_seeds(configs, batch_seeds)
    dev = resolve_device(device)
    if not configs:
        return []
    cap = _check_cap(default_memory_cap(dev) if memory_cap_bytes is None else memory_cap_bytes)
    estimate = estimate_ensemble_bytes(configs[0], len(configs), dev)
    if estimate > cap:
        raise ValueError(
            f"estimated memory of an ensemble of {len(configs)} runs is "
            f"{_format_bytes(estimate)}, over the cap of {_format_bytes(cap)}; train fewer "
            f"runs at once (max_ensemble_size gives {max_ensemble_size(configs[0], cap, dev)}) or "
            "raise memory_cap_bytes")

    start_time = time.perf_counter()
    cfg = configs[0]
    results: list[RunResult | None] = [None] * len(configs)
    first_success: list[int | None] = [None] * len(configs)
    with torch.no_grad():
        ens = _Ensemble(configs, dev, initial_params, batch_seeds)
        curves: list[list[float]] = [[] for _ in configs]
        done = 0
        for step in eval_steps(cfg):
            ens.train_window(step - done)
            if progress is not None:
                progress(step - done)
            done = step
            finite = ens.params_finite()
            final = step == cfg.max_steps
            wrong, complete = ens.test_errors(
                give_up_above=None if final or record_curve else cfg.success_error)
            if record_curve:
                for j, g in enumerate(ens.active):
                    curves[g].append(float(wrong[j]) / cfg.test_size)
            ending: list[tuple[int, str]] = []
            for j, g in enumerate(ens.active):
                if not finite[j]:
                    ending.append((j, "diverged"))
                    continue
                if first_success[g] is None and wrong[j] / cfg.test_size <= cfg.success_error:
                    first_success[g] = step
                if first_success[g] is not None and early_stop:
                    ending.append((j, "success"))
                elif final:
                    ending.append((j, "max_steps" if first_success[g] is None else "success"))
            if not ending:
                continue
            local = [j for j, _ in ending]
            if not complete:
                # only diverged runs can end on a cut count: count their errors in full
                wrong = wrong.copy()
                wrong[local] = ens.test_errors(local)[0]
            train_wrong, train_count = ens.train_errors(local)
            final_params = None
            if return_params:
                final_params = [[p[j].cpu().numpy().copy() for p in ens.params()]
                                for j in local]
            elapsed = time.perf_counter() - start_time
            for index, ((j, reason), tw) in enumerate(zip(ending, train_wrong, strict=True)):
                g = ens.active[j]
                extra = {"device": str(dev), "ensemble_size": len(configs),
                         "train_error_samples": int(train_count)}
                if record_curve:
                    extra["curve_steps"] = list(range(cfg.eval_every, step, cfg.eval_every))
                    extra["curve_steps"].append(step)
                    extra["curve_test_error"] = curves[g]
                if final_params is not None:
                    extra["final_params"] = final_params[index]
                result = RunResult(
                    config=configs[g], success=first_success[g] is not None,
                    steps_to_success=first_success[g],
                    test_error=float(wrong[j]) / cfg.test_size,
                    train_error=float(tw) / train_count, end_reason=reason, steps_run=step,
                    wall_seconds=elapsed, extra=extra)
                results[g] = result
                if on_result is not None:
                    on_result(result)
            ens.remove(local)
            if not ens.active:
                break
    return results

