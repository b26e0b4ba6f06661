r"""Extension points of the trainer: activations, init laws and losses, one class per law.

Three registries map the name a :class:`~parity_frontiers.verify.config.RunConfig` field holds
to one object that knows everything the toolkit needs of that law (like scipy.stats' one class
per distribution):

* :data:`ACTIVATION_REGISTRY` (``RunConfig.activation``): an :class:`Activation` knows
  :math:`\phi` and :math:`\phi'`, which the fused SGD step (:mod:`.step`) calls in its
  hand-written backward pass, and the evaluation and reference forward passes call;
* :data:`INIT_REGISTRY` (``RunConfig.init``): an :class:`InitLaw` draws one layer (dense, or
  s-sparse with its support size s) from a numpy generator; :mod:`.model` draws the first layer
  of a run with it, and the tabular estimator every first layer;
* :data:`LOSS_REGISTRY` (``RunConfig.loss``): a :class:`Loss` knows its value (reference loops,
  tests) and the gradient of the minibatch mean with respect to the outputs (the fused step).

The names in :mod:`~parity_frontiers.verify.config` (``ACTIVATIONS``, ``INITS``, ``LOSSES``) are
the registries' keys; validation, the CLI choices, the grid and the tabular estimator all read
them from here, so an entry exists in one place.

Entries
-------
========================  ============================================================
``relu`` (default)        :math:`\max(z, 0)`, derivative :math:`1[z > 0]` (0 at 0, as autograd)
``abs``                   :math:`|z|`, derivative :math:`\mathrm{sign}(z)` (0 at 0, as autograd)
``dense`` (default)       PyTorch's ``nn.Linear`` law, :math:`U(\pm 1/\sqrt{\text{fan\_in}})`
``sparse``                uniform s-subset support, weights and bias :math:`U(\pm 1/\sqrt{s})`
``sparse-gaussian``       uniform s-subset support, weights and bias :math:`N(0, 1/s)`
``hinge`` (default)       :math:`\max(0, 1 - y f)`
``square``                :math:`(f - y)^2 / 2`
``logistic``              :math:`\log(1 + e^{-y f})`
========================  ============================================================

The two sparse laws share the support law (so :func:`init_supports` of a config is the same for
both) and differ in the values on it: ``sparse`` gives a neuron the pre-activation variance of a
dense one, :math:`s \cdot \frac{1}{3s} = \frac13` from the weights (plus :math:`\frac{1}{3s}`
from the bias); ``sparse-gaussian`` is LeCun-normal on the s connected inputs, variance
:math:`s \cdot \frac1s = 1` (plus :math:`\frac1s`), three times larger, with Gaussian rather
than bounded weights (docs/theory.md §3.1 for the sparse initialisation; the value scale is not
the paper's, which gives none).

Adding an entry
---------------
Subclass, give it a unique ``name`` and register an instance, before building configs that use
it (the CLI offers the entries registered when it starts)::

    class Softplus(Activation):
        name = "softplus"
        formula = "log(1 + e^z); derivative sigmoid(z) = 1 - e^(-h)"
        grad_from_output = True

        def forward(self, z, out):
            return out.copy_(torch.nn.functional.softplus(z))

        def backward(self, grad, saved, out):
            return torch.mul(grad, -torch.expm1(-saved), out=out)

        def __call__(self, z):
            return torch.nn.functional.softplus(z)

    register_activation(Softplus())

A registered name becomes a valid ``RunConfig`` value and enters the run's store key (only when
not the default, see :meth:`RunConfig.key`), so a store holding such runs needs the entry
registered again to be read back as configs. Everything here is torch-free at import: the torch
operations are imported inside the methods that use them (planning code validates names
without loading torch).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "Activation", "InitLaw", "Loss", "ACTIVATION_REGISTRY", "INIT_REGISTRY", "LOSS_REGISTRY",
    "DEFAULT_ACTIVATION", "DEFAULT_INIT", "DEFAULT_LOSS", "register_activation",
    "register_init", "register_loss", "get_activation", "get_init", "get_loss",
    "uniform_values", "sparse_supports",
]

DEFAULT_ACTIVATION = "relu"
DEFAULT_INIT = "dense"
DEFAULT_LOSS = "hinge"

# Neurons per block when drawing sparse supports, so the random keys stay a few MB at any width.
_MASK_BLOCK_ELEMENTS = 1 << 22


# --- activations ------------------------------------------------------------------------------

class Activation:
    r"""A hidden-layer nonlinearity :math:`h = \phi(z)` and its derivative.

    Subclasses set ``name`` and ``formula`` and implement :meth:`forward`, :meth:`backward`
    and :meth:`__call__`. The fused step computes, per layer, ``z`` (into a reused buffer),
    ``h = forward(z, out)``, and on the way back ``backward(grad, saved, out)`` =
    :math:`\text{grad} \odot \phi'(z)`.
    """

    name: str = ""
    formula: str = ""
    #: True when :math:`\phi'(z)` is a function of :math:`h = \phi(z)` (ReLU: :math:`1[h > 0]`):
    #: the step then keeps h only and ``backward`` gets h. Otherwise the step also keeps the
    #: pre-activation z (one more float32 ``[E, B, r]`` buffer per layer) and passes z.
    grad_from_output: bool = False

    def forward(self, z, out):
        """:math:`\\phi(z)` written into ``out`` (which may be ``z``: in place); returns it."""
        raise NotImplementedError

    def backward(self, grad, saved, out):
        """``grad`` times :math:`\\phi'(z)` into ``out`` (which may be ``grad``); returns it.
        ``saved`` is h when :attr:`grad_from_output`, else z; ``grad`` may be an expanded view."""
        raise NotImplementedError

    def __call__(self, z):
        """:math:`\\phi(z)` out of place, differentiable by autograd (reference nets, the
        tabular estimator); its autograd derivative must be the one :meth:`backward` uses."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<activation {self.name!r}: {self.formula}>"


class ReLU(Activation):
    name = "relu"
    formula = "max(z, 0); derivative 1[z > 0] (0 at 0)"
    grad_from_output = True  # z > 0 exactly where h > 0

    def forward(self, z, out):
        if out is z:
            return z.clamp_(min=0)
        import torch
        return torch.clamp(z, min=0, out=out)

    def backward(self, grad, saved, out):
        import torch
        # grad where h > 0 else 0: autograd's ReLU backward, one pass, no mask tensor.
        return torch.ops.aten.threshold_backward.grad_input(grad, saved, 0, grad_input=out)

    def __call__(self, z):
        import torch
        return torch.relu(z)


class Abs(Activation):
    name = "abs"
    formula = "|z|; derivative sign(z) (0 at 0)"
    grad_from_output = False  # sign(z) is lost in |z|

    def forward(self, z, out):
        import torch
        return torch.abs(z, out=out)

    def backward(self, grad, saved, out):
        import torch
        # autograd's abs backward is grad * sgn(z); same product, same rounding
        return torch.mul(grad, torch.sgn(saved), out=out)

    def __call__(self, z):
        import torch
        return torch.abs(z)


# --- init laws --------------------------------------------------------------------------------

def uniform_values(rng: np.random.Generator, shape, bound: float) -> np.ndarray:
    """float32 :math:`U(-B, B)` as :math:`(2u - 1) B`, u uniform on [0, 1) in float32."""
    u = rng.random(shape, dtype=np.float32)
    return (np.float32(2) * u - np.float32(1)) * np.float32(bound)


def sparse_supports(rng: np.random.Generator, rows: int, n: int, s: int) -> np.ndarray:
    """``rows`` independent uniform s-subsets of range(n), as int64 ``[rows, s]`` (unsorted)."""
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


class InitLaw:
    """How one layer's float32 (W ``[fan_out, fan_in]``, b ``[fan_out]``) is drawn.

    Subclasses set ``name``, ``formula`` and ``sparse`` and implement :meth:`draw_layer`
    (sparse laws: :meth:`values` on the supports :meth:`supports` draws first). A law draws
    from the generator it is given, in a fixed order, so one generator gives one layer.
    """

    name: str = ""
    formula: str = ""
    #: Whether the law takes a support size s (each neuron connected to s inputs at init).
    sparse: bool = False

    def draw_layer(self, rng: np.random.Generator, fan_out: int, fan_in: int,
                   s: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if not self.sparse:
            if s is not None:
                raise ValueError(f"init {self.name!r} takes no support size s")
            return self.values(rng, (fan_out, fan_in), fan_in)
        if s is None:
            raise ValueError(f"init {self.name!r} needs a support size s")
        support = self.supports(rng, fan_out, fan_in, s)
        w_on, b = self.values(rng, (fan_out, s), s)
        w = np.zeros((fan_out, fan_in), dtype=np.float32)
        np.put_along_axis(w, support, w_on, axis=1)
        return w, b

    def supports(self, rng: np.random.Generator, rows: int, n: int, s: int) -> np.ndarray:
        """The first draw of a sparse law: ``rows`` uniform s-subsets of the n inputs."""
        return sparse_supports(rng, rows, n, s)

    def values(self, rng: np.random.Generator, shape: tuple[int, int],
               fan_in: int) -> tuple[np.ndarray, np.ndarray]:
        """(weights of ``shape``, biases ``[shape[0]]``) for neurons seeing ``fan_in`` inputs."""
        raise NotImplementedError

    def label(self, s: int | None = None) -> str:
        """Short text for tables and legends: ``dense``, ``sparse s=2``."""
        return self.name if not self.sparse else f"{self.name} s={s}"

    def __repr__(self) -> str:
        return f"<init {self.name!r}: {self.formula}>"


class Dense(InitLaw):
    name = "dense"
    formula = "W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (nn.Linear's default)"
    sparse = False

    def values(self, rng, shape, fan_in):
        bound = 1 / math.sqrt(fan_in)
        return uniform_values(rng, shape, bound), uniform_values(rng, shape[:1], bound)


class SparseUniform(InitLaw):
    name = "sparse"
    formula = ("uniform s-subset support per neuron; its s weights and bias ~ "
               "U(-1/sqrt(s), 1/sqrt(s)) (a fresh nn.Linear(s, 1))")
    sparse = True

    def values(self, rng, shape, fan_in):
        return Dense.values(self, rng, shape, fan_in)


class SparseGaussian(InitLaw):
    name = "sparse-gaussian"
    formula = ("uniform s-subset support per neuron; its s weights and bias ~ N(0, 1/s) "
               "(LeCun-normal on the s inputs)")
    sparse = True

    def values(self, rng, shape, fan_in):
        scale = np.float32(1 / math.sqrt(fan_in))
        w = rng.standard_normal(shape, dtype=np.float32) * scale
        return w, rng.standard_normal(shape[:1], dtype=np.float32) * scale


# --- losses -----------------------------------------------------------------------------------

class Loss:
    r"""A margin loss :math:`\ell(f, y)` on :math:`\pm 1` labels.

    :meth:`grad` is :math:`\partial (\frac1B \sum_j \ell(f_j, y_j)) / \partial f`, what the
    fused step backpropagates; :meth:`__call__` is the per-sample loss (autograd-friendly), what
    reference loops minimise.
    """

    name: str = ""
    formula: str = ""

    def grad(self, f, y, inv_batch: float):
        """d(mean loss)/df, ``[E, B]``, for outputs ``f`` and labels ``y`` (float, +-1)."""
        raise NotImplementedError

    def __call__(self, f, y):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<loss {self.name!r}: {self.formula}>"


class Hinge(Loss):
    name = "hinge"
    formula = "max(0, 1 - y f); subgradient 0 at the kink"

    def grad(self, f, y, inv_batch):
        import torch
        return torch.where(f * y < 1, y, 0.0).mul_(-inv_batch)

    def __call__(self, f, y):
        import torch
        return torch.relu(1 - y * f)


class Square(Loss):
    name = "square"
    formula = "(f - y)^2 / 2"

    def grad(self, f, y, inv_batch):
        return (f - y).mul_(inv_batch)

    def __call__(self, f, y):
        return (f - y) ** 2 / 2


class Logistic(Loss):
    name = "logistic"
    formula = "log(1 + exp(-y f))"

    def grad(self, f, y, inv_batch):
        import torch
        # d softplus(-y f) / df = -y sigmoid(-y f) = y (sigmoid(y f) - 1)
        return torch.sigmoid(f * y).sub_(1).mul_(y).mul_(inv_batch)

    def __call__(self, f, y):
        import torch
        return torch.nn.functional.softplus(-y * f)


# --- the registries ---------------------------------------------------------------------------

ACTIVATION_REGISTRY: dict[str, Activation] = {}
INIT_REGISTRY: dict[str, InitLaw] = {}
LOSS_REGISTRY: dict[str, Loss] = {}


def _register(registry: dict, kind: type, entry, what: str):
    if not isinstance(entry, kind):
        raise ValueError(f"a {what} must be an instance of {kind.__name__}, got "
                         f"{type(entry).__name__}")
    name = entry.name
    if not isinstance(name, str) or not name or any(c.isspace() or c == "," for c in name):
        raise ValueError(f"a {what} needs a non-empty name without spaces or commas, got "
                         f"{name!r}")
    if name in registry:
        raise ValueError(f"{what} {name!r} is already registered")
    registry[name] = entry
    return entry


def register_activation(entry: Activation) -> Activation:
    """Add an activation under ``entry.name`` (an error if the name is taken)."""
    return _register(ACTIVATION_REGISTRY, Activation, entry, "activation")


def register_init(entry: InitLaw) -> InitLaw:
    """Add an init law under ``entry.name`` (an error if the name is taken)."""
    return _register(INIT_REGISTRY, InitLaw, entry, "init")


def register_loss(entry: Loss) -> Loss:
    """Add a loss under ``entry.name`` (an error if the name is taken)."""
    return _register(LOSS_REGISTRY, Loss, entry, "loss")


def _get(registry: dict, name, what: str):
    entry = registry.get(name) if isinstance(name, str) else None
    if entry is None:
        raise ValueError(f"{what} must be one of {tuple(registry)}, got {name!r}")
    return entry


def get_activation(name: str) -> Activation:
    """The registered activation ``name`` (ValueError listing the names otherwise).

    >>> get_activation("abs")
    <activation 'abs': |z|; derivative sign(z) (0 at 0)>
    """
    return _get(ACTIVATION_REGISTRY, name, "activation")


def get_init(name: str) -> InitLaw:
    """The registered init law ``name`` (ValueError listing the names otherwise).

    >>> law = get_init("sparse-gaussian")
    >>> law.sparse, law.label(2)
    (True, 'sparse-gaussian s=2')
    >>> w, b = law.draw_layer(np.random.default_rng(0), fan_out=3, fan_in=6, s=2)
    >>> (w != 0).sum(axis=1).tolist(), w.dtype
    ([2, 2, 2], dtype('float32'))
    """
    return _get(INIT_REGISTRY, name, "init")


def get_loss(name: str) -> Loss:
    """The registered loss ``name`` (ValueError listing the names otherwise)."""
    return _get(LOSS_REGISTRY, name, "loss")


for _entry in (ReLU(), Abs()):
    register_activation(_entry)
for _entry in (Dense(), SparseUniform(), SparseGaussian()):
    register_init(_entry)
for _entry in (Hinge(), Square(), Logistic()):
    register_loss(_entry)
del _entry
