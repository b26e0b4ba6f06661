r"""One SGD step of a whole ensemble, by hand: forward, backward and update in a few GEMMs.

Optimisation (docs/theory.md §5.1: SGD, lr 0.1, weight decay 0.01, batch 32, T = 1e5)
------------------------------------------------------------------------------------
Each run minimises its own minibatch loss :math:`\frac1B \sum_{j} \ell(y_j f(x_j))`, with the
config's loss (:data:`~parity_frontiers.verify.training.registry.LOSS_REGISTRY`):

* ``hinge`` (default, as Barak et al. 2022): :math:`\ell = \max(0, 1 - y f)`, subgradient 0 at
  the kink (as ``relu(1 - y * f)`` under autograd);
* ``square``: :math:`\ell = (f - y)^2 / 2 = (1 - y f)^2 / 2` (y = +-1);
* ``logistic``: :math:`\ell = \mathrm{softplus}(-y f) = \log(1 + e^{-y f})`.

The step is ``torch.optim.SGD(lr, weight_decay)`` without momentum, for every parameter
(biases included): :math:`g \leftarrow \nabla + \lambda \theta`,
:math:`\theta \leftarrow \theta - \eta g`. The gradients are computed by hand (backpropagation
through the batched layers with the activation's derivative,
:meth:`~parity_frontiers.verify.training.registry.Activation.backward`: for ReLU 0 at 0 as in
autograd) rather than by autograd: it needs no graph and fewer passes over memory, and each
weight matrix is updated inside the GEMM of its gradient (see :func:`sgd_step`). The tests check
the trajectory against ``nn.Sequential`` + ``torch.optim.SGD`` on the same batches, for every
registered activation and loss: equal to float32 rounding (relative 1e-5 after 50 steps). Runs
share no tensor element, so a NaN or inf in one run cannot reach another run's parameters.

State layout
------------
The first layer is kept as ``[W1^T; b1] [E, n + 1, r]`` (the inputs carry a last column of
ones, so its bias is one more input row), deeper layers as ``W_l^T [E, r, r]`` and ``b_l``,
then ``a [E, r]`` and ``c [E]`` (:func:`~parity_frontiers.verify.training.trainer.init_state`).
"""

from __future__ import annotations

import torch

from parity_frontiers.verify.training.registry import Activation, Loss

__all__ = ["Workspace", "layers", "vectors", "sgd_step"]


class Workspace:
    """Per-step buffers, allocated once per ensemble size: fresh megabyte-sized tensors every
    step would cost page faults on the CPU (glibc returns large blocks to the OS on free).

    ``pre`` holds the pre-activations when the activation's derivative needs them
    (:attr:`Activation.grad_from_output` False), else is None.
    """

    def __init__(self, state: list[torch.Tensor], batch_size: int, activation: Activation):
        e, inputs, width = state[0].shape
        count = (len(state) - 1) // 2
        kw = {"dtype": torch.float32, "device": state[0].device}
        self.acts = [torch.empty((e, batch_size, width), **kw) for _ in range(count)]
        self.pre = None if activation.grad_from_output else [
            torch.empty((e, batch_size, width), **kw) for _ in range(count)]
        self.deltas = [torch.empty((e, batch_size, width), **kw) for _ in range(count)]
        self.scaled_x = torch.empty((e, batch_size, inputs), **kw)
        self.scaled_h = torch.empty((e, batch_size, width), **kw) if count > 1 else None
        self.out = torch.empty((e, batch_size), **kw)
        self.vector_grads = [torch.empty_like(v) for v in vectors(state)]


def layers(state: list[torch.Tensor]) -> tuple[list[torch.Tensor], list]:
    """Weight matrices (input-major) and biases of the hidden layers (None: in the matrix)."""
    return [state[0], *state[1:-2:2]], [None, *state[2:-2:2]]


def vectors(state: list[torch.Tensor]) -> list[torch.Tensor]:
    """The state's vectors (biases of layers 2..L, a, c): updated by a plain SGD step."""
    return [*state[2:-2:2], state[-2], state[-1]]


def sgd_step(state: list[torch.Tensor], work: Workspace, x: torch.Tensor, y: torch.Tensor,
             loss: Loss, activation: Activation, lr: float, weight_decay: float,
             inv_batch: float, correct: torch.Tensor | None = None) -> None:
    r"""Forward, hand backward and SGD update of every run on its minibatch.

    ``x [E, B, n + 1]`` is the minibatch with a last column of ones, ``y [E, B]`` its float
    labels; ``state`` as in the module docstring; ``loss`` and ``activation`` registry entries.
    ``correct`` (float32 ``[E]``, exact below 2**24), when given, is increased by each run's
    count of minibatch samples with :math:`y f(x) > 0` before the update (NaN: not correct): the
    forward pass is the step's own, so this costs four small kernels on [E, B].

    With :math:`g_j = \partial L / \partial f(x_j)` and :math:`D = \phi'(z)` of the top layer,
    the top signal is :math:`\delta = \mathrm{diag}(g)\,(D \odot a)`; we keep
    :math:`\delta' = D \odot a` (one pass over the activations) and put :math:`g` on the
    layer's input instead, :math:`\nabla W^T = (\mathrm{diag}(g) h_{below})^\top \delta'`
    (diag(g) commutes down through the layers too, :math:`\phi'` acting elementwise). Each
    weight matrix gets its SGD step inside that GEMM,
    :math:`W^T \leftarrow (1 - \eta\lambda) W^T - \eta \nabla W^T` (one ``baddbmm_``: no
    gradient buffer, no separate decay and update passes), after the signal below it has been
    computed from the old weights. The first layer's bias is its last input row, so it gets the
    same update (torch SGD decays biases too).
    """
    weights_t, biases = layers(state)
    a, c = state[-2], state[-1]
    # z goes to its own buffer only when phi' needs it; otherwise phi is applied in place.
    pre = work.acts if work.pre is None else work.pre
    h = activation.forward(torch.bmm(x, weights_t[0], out=pre[0]), out=work.acts[0])
    for layer in range(1, len(weights_t)):
        z = torch.baddbmm(biases[layer].unsqueeze(1), h, weights_t[layer], out=pre[layer])
        h = activation.forward(z, out=work.acts[layer])
    # f = a . h + c; the [1, r] x [r, B] form: MKL's batched [B, r] x [r, 1] is ~10x slower
    f = torch.bmm(a.unsqueeze(1), h.transpose(1, 2), out=work.out.unsqueeze(1)).squeeze(1)
    f.add_(c.unsqueeze(1))
    if correct is not None:
        correct.add_(torch.mul(f, y).gt_(0).sum(1))
    g = loss.grad(f, y, inv_batch)
    g_row = g.unsqueeze(1)

    grads = work.vector_grads
    torch.bmm(g_row, h, out=grads[-2].unsqueeze(1))
    torch.sum(g, 1, out=grads[-1])
    delta = activation.backward(a.unsqueeze(1).expand_as(h), pre[-1], out=work.deltas[-1])
    decay = 1.0 - lr * weight_decay
    for layer in range(len(weights_t) - 1, 0, -1):
        below = work.acts[layer - 1]
        torch.bmm(g_row, delta, out=grads[layer - 1].unsqueeze(1))
        lower = torch.bmm(delta, weights_t[layer].transpose(1, 2), out=work.deltas[layer - 1])
        activation.backward(lower, pre[layer - 1], out=lower)
        scaled = torch.mul(below, g.unsqueeze(2), out=work.scaled_h)
        weights_t[layer].baddbmm_(scaled.transpose(1, 2), delta, beta=decay, alpha=-lr)
        delta = lower
    scaled = torch.mul(x, g.unsqueeze(2), out=work.scaled_x)
    weights_t[0].baddbmm_(scaled.transpose(1, 2), delta, beta=decay, alpha=-lr)
    vecs = vectors(state)
    if weight_decay:
        torch._foreach_add_(grads, vecs, alpha=weight_decay)
    torch._foreach_add_(vecs, grads, alpha=-lr)
