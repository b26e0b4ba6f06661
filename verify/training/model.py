r"""ReLU MLPs of an ensemble as stacked parameter tensors, with dense or s-sparse init.

Architecture (PAPER.md Sec. 5: 2-layer ReLU MLP; deeper ones for the tabular proxy):
:math:`h_0 = x \in \{-1,+1\}^n`, :math:`h_l = \mathrm{ReLU}(W_l h_{l-1} + b_l)` for
:math:`l = 1..L` (``depth`` = L hidden layers of width r), output
:math:`f(x) = a^\top h_L + c`. For an ensemble of E runs the parameters are stacked along a
leading run axis, in this order::

    W1 [E, r, n], b1 [E, r], (W_l [E, r, r], b_l [E, r] for l = 2..L), a [E, r], c [E]

(each W in ``nn.Linear``'s [out, in] layout, so run i is exactly the ``nn.Sequential`` that
:func:`to_sequential` builds).

Init law
--------
Dense (``init="dense"``): PyTorch's default ``nn.Linear`` law for every layer: weights and
biases i.i.d. :math:`U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})` (kaiming-uniform
with a = sqrt(5) reduces to this bound), fan_in = n for the first layer and r after it.

Sparse (``init="sparse"``, support size s): each first-layer neuron is connected to s inputs
chosen uniformly without replacement (independently per neuron); it is initialised as if it were
a fresh ``nn.Linear(s, 1)``: its s non-zero weights *and its bias* are i.i.d.
:math:`U(-1/\sqrt{s}, 1/\sqrt{s})`; every other first-layer weight is 0. So a sparse neuron's
pre-activation has the same scale as a dense neuron's (variance 1/3 at init, from the weights),
and the bias keeps the dense layer's bias-to-weight ratio. The paper (Sec. 5) does not give the
value scale; this is our choice. Layers after the first and the output layer use the dense
law. The mask only shapes the *initialisation*: training updates every weight, so the first
layer may become dense (as in the paper's sparse initialisation).

Draw order (``STREAM_INIT`` of :mod:`verify.data`, float32 via ``Generator.random``): the
sparse supports (if any), W1, b1, then W_l, b_l for deeper layers, then a, c. A value
:math:`U(-B, B)` is :math:`(2u - 1) B` with u uniform on [0, 1) in float32.

Examples
--------
>>> from verify.config import RunConfig
>>> cfg = RunConfig(n=6, k=2, width=4, init="sparse", s=2, seed=0)
>>> p = init_params(cfg)
>>> [w.shape for w in p]
[(4, 6), (4,), (4,), ()]
>>> (p[0] != 0).sum(axis=1).tolist()
[2, 2, 2, 2]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.training.data import STREAM_INIT, stream_rng
from torch import nn

__all__ = [
    "init_layer",
    "param_shapes",
    "param_count",
    "init_params",
    "init_supports",
    "stack_params",
    "ensemble_forward",
    "to_sequential",
]

# Neurons per block when drawing sparse supports, so the random keys stay a few MB at any width.
_MASK_BLOCK_ELEMENTS = 1 << 22


def param_shapes(config: RunConfig) -> list[tuple[int, ...]]:
    """Per-run shapes, in stacking order: W1, b1, (W_l, b_l)..., a, c."""
    r, n = config.width, config.n
    shapes: list[tuple[int, ...]] = [(r, n), (r,)]
    for _ in range(config.depth - 1):
        shapes += [(r, r), (r,)]
    return shapes + [(r,), ()]


def param_count(config: RunConfig) -> int:
    """Number of trainable parameters of one run: r(n + 1) + (L - 1) r(r + 1) + r + 1."""
    return sum(math.prod(shape) for shape in param_shapes(config))


def _uniform(rng: np.random.Generator, shape, bound: float) -> np.ndarray:
    u = rng.random(shape, dtype=np.float32)
    return (np.float32(2) * u - np.float32(1)) * np.float32(bound)


def _sparse_supports(rng: np.random.Generator, rows: int, n: int, s: int) -> np.ndarray:
    """``rows`` independent uniform s-subsets of range(n), as int64 ``[rows, s]``."""
    if s * s <= n:
        # s independent uniform draws, rows with a repeat redrawn: uniform over ordered
        # s-tuples of distinct inputs, hence over s-subsets; O(rows s), a repeat has chance
        # < s^2 / 2n <= 1/2.
        support = rng.integers(0, n, size=(rows, s))
        bad = np.arange(rows)
        while True:
            ordered = np.sort(support[bad], axis=1)
            bad = bad[(ordered[:, 1:] == ordered[:, :-1]).any(axis=1)]
            if not len(bad):
                return support
            support[bad] = rng.integers(0, n, size=(len(bad), s))
    # Otherwise: the s smallest of n i.i.d. uniform keys sit at a uniformly random s-subset.
    block = max(1, _MASK_BLOCK_ELEMENTS // n)
    parts = []
    for start in range(0, rows, block):
        keys = rng.random((min(block, rows - start), n))
        parts.append(np.argpartition(keys, s - 1, axis=1)[:, :s] if s < n
                     else np.tile(np.arange(n), (keys.shape[0], 1)))
    return np.concatenate(parts)


def init_layer(rng: np.random.Generator, fan_out: int, fan_in: int,
               s: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""One ReLU layer's float32 (W ``[fan_out, fan_in]``, b ``[fan_out]``) by this module's law.

    ``s=None``: PyTorch's ``nn.Linear`` default, every weight and the bias
    :math:`U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`. Otherwise s-sparse: each
    row non-zero on a uniform s-subset of the inputs, those weights and the bias
    :math:`U(-1/\sqrt{s}, 1/\sqrt{s})`, as a fresh ``nn.Linear(s, 1)``. The draws come from
    ``rng`` in a fixed order (supports, weights, bias), so one generator gives one layer.
    """
    if s is None:
        bound = 1 / math.sqrt(fan_in)
        return _uniform(rng, (fan_out, fan_in), bound), _uniform(rng, (fan_out,), bound)
    support = _sparse_supports(rng, fan_out, fan_in, s)
    w = np.zeros((fan_out, fan_in), dtype=np.float32)
    np.put_along_axis(w, support, _uniform(rng, (fan_out, s), 1 / math.sqrt(s)), axis=1)
    return w, _uniform(rng, (fan_out,), 1 / math.sqrt(s))


def init_params(config: RunConfig) -> list[np.ndarray]:
    """Initial float32 parameters of one run (host arrays), drawn from its seed.

    See the module docstring for the law: dense PyTorch default, or s-sparse first layer with
    non-zero weights and bias :math:`U(-1/\\sqrt{s}, 1/\\sqrt{s})`.
    """
    rng = stream_rng(config.seed, STREAM_INIT)
    r, n = config.width, config.n
    params = list(init_layer(rng, r, n, config.s if config.init == "sparse" else None))
    bound = 1 / math.sqrt(r)
    for _ in range(config.depth - 1):
        params += [_uniform(rng, (r, r), bound), _uniform(rng, (r,), bound)]
    params += [_uniform(rng, (r,), bound), _uniform(rng, (), bound)]
    return params


def init_supports(config: RunConfig) -> np.ndarray:
    """First-layer supports that :func:`init_params` draws for a sparse-init run.

    Row j is the sorted set of the s inputs neuron j is connected to at initialisation (int64
    ``[width, s]``), from the same draw as :func:`init_params`, so it is exact even where a
    non-zero weight's value happens to be 0.0 (probability about 2^-24 each).

    Examples
    --------
    >>> cfg = RunConfig(n=6, k=2, width=3, init="sparse", s=2, seed=0)
    >>> support = init_supports(cfg)
    >>> support.tolist()
    [[2, 5], [1, 3], [0, 2]]
    >>> mask = np.zeros((3, 6), dtype=bool)
    >>> np.put_along_axis(mask, support, True, axis=1)
    >>> bool((mask == (init_params(cfg)[0] != 0)).all())
    True
    """
    if config.init != "sparse":
        raise ValueError("init_supports needs a sparse-init config (a dense neuron's support "
                         "is every input)")
    rng = stream_rng(config.seed, STREAM_INIT)
    return np.sort(_sparse_supports(rng, config.width, config.n, config.s), axis=1)


def stack_params(runs: Sequence[Sequence[np.ndarray]], device="cpu") -> list[torch.Tensor]:
    """Stack per-run parameter lists into ensemble tensors ``[E, ...]`` on ``device``."""
    if not runs:
        raise ValueError("stack_params needs at least one run")
    out = []
    for j, first in enumerate(runs[0]):
        stacked = torch.empty((len(runs), *np.shape(first)), dtype=torch.float32, device=device)
        for i, run in enumerate(runs):
            stacked[i].copy_(torch.as_tensor(np.asarray(run[j], dtype=np.float32)))
        out.append(stacked)
    return out


def ensemble_forward(params: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    r"""Outputs :math:`f_e(x_{e,j})` of every run on its own inputs: ``[E, N]``.

    ``x`` is float32 ``[E, N, n]`` (run e sees ``x[e]``); the layers are batched matmuls over
    the run axis.
    """
    h = x
    hidden = params[:-2]
    for w, b in zip(hidden[0::2], hidden[1::2], strict=True):
        h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)).clamp_(min=0)
    a, c = params[-2], params[-1]
    return torch.baddbmm(c.view(-1, 1, 1), h, a.unsqueeze(2)).squeeze(2)


def to_sequential(params: Sequence[torch.Tensor], i: int) -> nn.Sequential:
    """The single ``nn.Sequential`` (Linear, ReLU, ..., Linear(r, 1)) equal to run ``i``.

    Its parameters are float32 copies of run i's, on the same device; ``model(x)[:, 0]`` equals
    ``ensemble_forward(params, ...)[i]``.
    """
    hidden = params[:-2]
    layers: list[nn.Module] = []
    for w, b in zip(hidden[0::2], hidden[1::2], strict=True):
        out_features, in_features = w.shape[1:]
        lin = nn.Linear(in_features, out_features, device=w.device)
        with torch.no_grad():
            lin.weight.copy_(w[i])
            lin.bias.copy_(b[i])
        layers += [lin, nn.ReLU()]
    a, c = params[-2], params[-1]
    head = nn.Linear(a.shape[1], 1, device=a.device)
    with torch.no_grad():
        head.weight.copy_(a[i].unsqueeze(0))
        head.bias.copy_(c[i].view(1))
    layers.append(head)
    return nn.Sequential(*layers)
