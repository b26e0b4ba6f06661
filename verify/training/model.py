r"""MLPs of an ensemble as stacked parameter tensors, with dense or s-sparse init.

Architecture (docs/theory.md §5.1: 2-layer ReLU MLP; deeper ones for the tabular proxy):
:math:`h_0 = x \in \{-1,+1\}^n`, :math:`h_l = \phi(W_l h_{l-1} + b_l)` for
:math:`l = 1..L` (``depth`` = L hidden layers of width r), output
:math:`f(x) = a^\top h_L + c`. For an ensemble of E runs the parameters are stacked along a
leading run axis, in this order::

    W1 [E, r, n], b1 [E, r], (W_l [E, r, r], b_l [E, r] for l = 2..L), a [E, r], c [E]

(each W in ``nn.Linear``'s [out, in] layout, so run i is exactly the ``nn.Sequential`` that
:func:`to_sequential` builds). :math:`\phi` is the config's activation (``relu`` by default;
:data:`~parity_frontiers.verify.training.registry.ACTIVATION_REGISTRY`).

Init law
--------
The first layer is drawn by the config's init law
(:data:`~parity_frontiers.verify.training.registry.INIT_REGISTRY`); the others are dense.

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

Sparse Gaussian (``init="sparse-gaussian"``, support size s): the same supports (the same draw),
but the s non-zero weights and the bias are i.i.d. :math:`N(0, 1/s)` (LeCun-normal on the s
connected inputs): pre-activation variance 1 from the weights, three times the ``sparse`` law's
1/3, and unbounded values. Deeper layers and the output as for ``sparse``.

Draw order (``STREAM_INIT`` of :mod:`.data`, float32 via ``Generator.random``, or
``Generator.standard_normal`` for Gaussian values): the sparse supports (if any), W1, b1, then
W_l, b_l for deeper layers, then a, c. A value :math:`U(-B, B)` is :math:`(2u - 1) B` with u
uniform on [0, 1) in float32.

Examples
--------
>>> from parity_frontiers.verify.config import RunConfig
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
from torch import nn

from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.training.data import STREAM_INIT, stream_rng
from parity_frontiers.verify.training.registry import (
    DEFAULT_ACTIVATION,
    DEFAULT_INIT,
    get_activation,
    get_init,
    uniform_values,
)

__all__ = [
    "init_layer",
    "param_shapes",
    "param_count",
    "init_params",
    "init_supports",
    "stack_params",
    "mlp_forward",
    "ensemble_forward",
    "ActivationModule",
    "to_sequential",
]


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


def init_layer(rng: np.random.Generator, fan_out: int, fan_in: int, s: int | None = None,
               init: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""One layer's float32 (W ``[fan_out, fan_in]``, b ``[fan_out]``) by an init law.

    ``init`` names the law in :data:`~parity_frontiers.verify.training.registry.INIT_REGISTRY`;
    by default ``"dense"`` without ``s`` (PyTorch's ``nn.Linear`` default) and ``"sparse"``
    with it (each row non-zero on a uniform s-subset of the inputs, those weights and the bias
    :math:`U(-1/\sqrt{s}, 1/\sqrt{s})`, as a fresh ``nn.Linear(s, 1)``). The draws come from
    ``rng`` in a fixed order (supports, weights, bias), so one generator gives one layer.
    """
    if init is None:
        init = DEFAULT_INIT if s is None else "sparse"
    return get_init(init).draw_layer(rng, fan_out, fan_in, s)


def init_params(config: RunConfig) -> list[np.ndarray]:
    """Initial float32 parameters of one run (host arrays), drawn from its seed.

    See the module docstring for the laws: the config's init law for the first layer
    (:data:`~parity_frontiers.verify.training.registry.INIT_REGISTRY`), PyTorch's default for
    the others.
    """
    rng = stream_rng(config.seed, STREAM_INIT)
    r, n = config.width, config.n
    params = list(get_init(config.init).draw_layer(rng, r, n, config.s))
    bound = 1 / math.sqrt(r)
    for _ in range(config.depth - 1):
        params += [uniform_values(rng, (r, r), bound), uniform_values(rng, (r,), bound)]
    params += [uniform_values(rng, (r,), bound), uniform_values(rng, (), bound)]
    return params


def init_supports(config: RunConfig) -> np.ndarray:
    """First-layer supports that :func:`init_params` draws for a sparse-init run (any sparse
    law of the registry: they all draw the supports first, by the same sampler).

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
    law = get_init(config.init)
    if not law.sparse:
        raise ValueError(f"init_supports needs a sparse-init config, got init={config.init!r} "
                         "(a dense neuron's support is every input)")
    rng = stream_rng(config.seed, STREAM_INIT)
    return np.sort(law.supports(rng, config.width, config.n, config.s), axis=1)


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


def mlp_forward(layers: Sequence[torch.Tensor], x: torch.Tensor,
                activation: str = DEFAULT_ACTIVATION) -> torch.Tensor:
    r"""The MLP whose (W, b) pairs are ``layers`` on inputs ``x``: :math:`\phi` after every
    layer but the last (the one forward pass of the toolkit's reference and tabular nets).

    Two layouts, both ``nn.Linear``'s [out, in]: one network (W ``[out, in]``, b ``[out]``,
    ``x [N, in]`` -> ``[N, out]``, by ``F.linear`` in any dtype) or an ensemble (W
    ``[E, out, in]``, b ``[E, out]``, ``x [E, N, in]`` -> ``[E, N, out]``, batched matmuls over
    the run axis). Out of place, so autograd can differentiate it. The trainer's fused step and
    its evaluation compute the same function in their own layout, in reused buffers
    (:mod:`.step`, :mod:`.evaluation`).
    """
    phi = get_activation(activation)
    last = len(layers) - 2
    h = x
    for index in range(0, len(layers), 2):
        w, b = layers[index], layers[index + 1]
        if w.dim() == 2:
            h = torch.nn.functional.linear(h, w, b)
        else:
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if index < last:
            h = phi(h)
    return h


def ensemble_forward(params: Sequence[torch.Tensor], x: torch.Tensor,
                     activation: str = DEFAULT_ACTIVATION) -> torch.Tensor:
    r"""Outputs :math:`f_e(x_{e,j})` of every run on its own inputs: ``[E, N]``.

    ``params`` in this module's layout; ``x`` is float32 ``[E, N, n]`` (run e sees ``x[e]``).
    :func:`mlp_forward` with the output layer as a ``[E, 1, r]`` matrix.
    """
    a, c = params[-2], params[-1]
    layers = [*params[:-2], a.unsqueeze(1), c.unsqueeze(1)]
    return mlp_forward(layers, x, activation).squeeze(2)


class ActivationModule(nn.Module):
    """A registered activation as an ``nn.Module`` (for ``nn.Sequential``)."""

    def __init__(self, name: str = DEFAULT_ACTIVATION):
        super().__init__()
        self.activation = name
        self._phi = get_activation(name)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self._phi(z)

    def extra_repr(self) -> str:
        return repr(self.activation)


def to_sequential(params: Sequence[torch.Tensor], i: int,
                  activation: str = DEFAULT_ACTIVATION) -> nn.Sequential:
    """The single ``nn.Sequential`` (Linear, activation, ..., Linear(r, 1)) equal to run ``i``.

    Its parameters are float32 copies of run i's, on the same device; ``model(x)[:, 0]`` equals
    ``ensemble_forward(params, ..., activation)[i]``.
    """
    hidden = params[:-2]
    layers: list[nn.Module] = []
    for w, b in zip(hidden[0::2], hidden[1::2], strict=True):
        out_features, in_features = w.shape[1:]
        lin = nn.Linear(in_features, out_features, device=w.device)
        with torch.no_grad():
            lin.weight.copy_(w[i])
            lin.bias.copy_(b[i])
        layers += [lin, ActivationModule(activation)]
    a, c = params[-2], params[-1]
    head = nn.Linear(a.shape[1], 1, device=a.device)
    with torch.no_grad():
        head.weight.copy_(a[i].unsqueeze(0))
        head.bias.copy_(c[i].view(1))
    layers.append(head)
    return nn.Sequential(*layers)
