r"""Evaluation of an ensemble: reused buffers, unpacking, the forward pass, error counts.

Test error is the fraction of the ``test_size`` held-out samples with :math:`y f(x) \le 0`, a
non-finite output counting as an error whatever its sign (docs/theory.md §5.2). The test set is
read in chunks (:func:`~parity_frontiers.verify.training.memory.eval_chunk`) and, for a run
that goes on after this evaluation, the count may stop as soon as the run's decision is certain
(:func:`count_errors`' ``success_error``): more errors than ``success_error * test_size``
already (it fails this step whatever the rest says), or, for a run that does not end at its
success, too few left to fail. This is exact per run (the decision is the one the full count
gives) and cuts the cost of evaluating runs at chance level about fourfold -- with the paper's
test set of 1e4 and evaluation every 100 steps, full evaluations would cost about as much as
the training steps themselves.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from parity_frontiers.verify.training.data import packed_width, pm1_table
from parity_frontiers.verify.training.registry import Activation
from parity_frontiers.verify.training.step import layers

__all__ = ["Buffers", "unpack_into", "forward_into", "count_errors", "params_finite"]


class Buffers:
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


def unpack_into(packed: torch.Tensor, n: int, bufs: Buffers) -> torch.Tensor:
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


def forward_into(state: list[torch.Tensor], x: torch.Tensor, bufs: Buffers,
                 activation: Activation) -> torch.Tensor:
    """Outputs ``[E, N]`` of every run on its inputs ``x [E, N, n + 1]`` (evaluation; the
    trainer's state layout, :mod:`.step`), the activation applied in place."""
    weights_t, biases = layers(state)
    e, count = x.shape[:2]
    h = x
    for layer, (w_t, b) in enumerate(zip(weights_t, biases, strict=True)):
        out = bufs.get(f"eval_h{layer % 2}", (e, count, w_t.shape[2]))
        z = (torch.bmm(h, w_t, out=out) if b is None
             else torch.baddbmm(b.unsqueeze(1), h, w_t, out=out))
        h = activation.forward(z, out=z)
    f = bufs.get("eval_f", (e, 1, count))
    torch.bmm(state[-2].unsqueeze(1), h.transpose(1, 2), out=f)
    return f.squeeze(1).add_(state[-1].unsqueeze(1))


@torch.no_grad()
def count_errors(state, packed, labels, rows, n, chunk, bufs, activation, success_error=None,
                 check_every=None, exact=None, drop_success=False):
    """Errors (y f <= 0, a non-finite f counting as an error) of each run over its samples.

    ``packed``/``labels`` are indexed by ``rows`` along the run axis (None: already aligned
    with ``state``). Without ``success_error`` every sample is counted. With it, the count
    stops for a run as soon as its decision at this evaluation is certain, checked after each
    ``check_every`` samples (a host synchronisation each time, so they stay rare): *failure*
    once its errors so far already exceed ``success_error * total`` (errors / total >
    success_error, the trainer's test), and, with ``drop_success``, *success* once even all
    the remaining samples wrong would keep it within (the full count then gives the same
    decision). Runs set in ``exact`` (bool, one per run) are always counted in full. Settled
    runs are dropped from the rest of the count by selecting the rows still counted, so the
    cost follows the runs still undecided.

    The check points are multiples of ``check_every`` whatever ``chunk`` is, so where a run's
    count stops does not depend on the ensemble it is in.

    Returns (errors, samples counted): int64 host arrays, one entry per run; the samples
    counted are ``total`` wherever the count was complete.
    """
    e = state[0].shape[0]
    total = packed.shape[1]
    errors = np.zeros(e, dtype=np.int64)
    counted = np.full(e, total, dtype=np.int64)
    must = np.zeros(e, dtype=bool) if exact is None else np.asarray(exact, dtype=bool)
    live = np.arange(e)
    wrong = torch.zeros(e, dtype=torch.int64, device=packed.device)
    segment = check_every if success_error is not None and check_every else total
    for seg_start in range(0, total, segment):
        seg_stop = min(total, seg_start + segment)
        for start in range(seg_start, seg_stop, chunk):
            stop = min(seg_stop, start + chunk)
            p, y = packed[:, start:stop], labels[:, start:stop]
            if rows is not None:
                p, y = p.index_select(0, rows), y.index_select(0, rows)
            f = forward_into(state, unpack_into(p, n, bufs), bufs, activation)
            # A non-finite output is an error whatever its sign (inf * y > 0 would pass).
            wrong += ((f * y > 0) & torch.isfinite(f)).logical_not_().sum(1)
        if seg_stop == total or success_error is None:
            continue
        host = wrong.cpu().numpy()
        settled = host / total > success_error
        if drop_success:
            settled |= (host + (total - seg_stop)) / total <= success_error
        settled &= ~must[live]
        if not settled.any():
            continue
        errors[live[settled]] = host[settled]
        counted[live[settled]] = seg_stop
        keep = np.flatnonzero(~settled)
        if not len(keep):
            return errors, counted
        pick = torch.from_numpy(keep).to(packed.device)
        state = [t.index_select(0, pick) for t in state]
        rows = pick if rows is None else rows.index_select(0, pick)
        wrong = wrong.index_select(0, pick)
        live = live[keep]
    errors[live] = wrong.cpu().numpy()
    return errors, counted


def params_finite(params) -> torch.Tensor:
    """Per run (bool ``[E]``): whether every one of its parameters is finite."""
    e = params[0].shape[0]
    flags = [torch.isfinite(p.reshape(e, -1)).all(1) for p in params]
    return torch.stack(flags).all(0)
