r"""Monte Carlo of the statistical-query lower bound (Prop. 3 of Edelman et al. 2023).

Prop. 3 (docs/theory.md §2) rests on one quantity. For a model h with r parameters and a loss whose
derivative is :math:`\ell'(\hat y, y) = -y + \ell_0(\hat y)` (the half square loss
:math:`(\hat y - y)^2/2`, the correlation loss :math:`-y \hat y`, the hinge loss near
initialisation), the population gradients for the targets chi_S and 0 differ by

.. math:: g_S = \nabla L_D(h, \chi_S) - \nabla L_D(h, 0)
          = -\mathbb{E}_x[\chi_S(x)\, \nabla_\theta h(x)],

i.e. :math:`g_{S,i} = -\widehat{\partial_i h}(S)`, the Fourier coefficient on S of the i-th
parameter's gradient function (derived here; the unhalved square loss doubles it, which is the
same as halving tau). A gradient step is *informative* about S only if
:math:`\|g_S\|_\infty > \tau`: otherwise a tau-tolerant oracle may answer with the target-free
gradient. By Parseval, for each parameter :math:`\sum_S \widehat{\partial_i h}(S)^2 \le
\mathbb{E}[(\partial_i h)^2]`, so under the normalisation :math:`\mathbb{E}_x[(\partial_i h)^2]
\le 1` (implied by the paper's :math:`\|\nabla h(x)\|_\infty \le 1`) at most r / tau^2 of the
C(n, k) parities are visible:

.. math:: \frac{\#\{S : |S| = k,\ \|g_S\|_\infty > \tau\}}{\binom{n}{k}}
          \le \frac{\sum_i \sum_{|S|=k} \widehat{\partial_i h}(S)^2}{\tau^2 \binom{n}{k}}
          \le \min\Bigl(1, \frac{r}{\tau^2 \binom{n}{k}}\Bigr).

The middle term (``energy_bound``) holds for every net; the right one (``bound``) needs the
normalisation, which a net at initialisation can miss through dh/da_j = relu(w_j . x + b_j):
every row reports the fraction of nets that meet it (``normalised``).

Three experiments:

* :func:`simulate_sq_visible` -- the visible fraction of a real 2-layer ReLU net at
  initialisation, exactly (Walsh-Hadamard transform over all 2^n inputs, n <= 20) or from m
  samples and random S (any n), against both bounds, with the tolerance scales that say how
  loose the bound is (``tau_half``, where half the parities are visible, against
  ``tau_bound`` = sqrt(2 r / C(n, k)), where the bound is 1/2; measured in
  figures/reference/sq/);
* :func:`simulate_sq_guess` -- the lucky-guess learner with q correlation queries, against its
  exact success probability and the SQ bound 2 q / (tau^2 C(n, k)) (tau <= 1);
* :func:`simulate_sq_noisy_gd` -- gradient descent with a tau-tolerant oracle (Prop. 3's noisy
  GD): the probability that the run leaves the target-free trajectory within T steps, against
  delta* = 2 r T / (tau^2 C(n, k)).

Networks: h(x) = sum_j a_j relu(w_j . x + b_j) + c with the initialisation laws of
parity_frontiers.verify.training.model (dense: U(+-1/sqrt(n)) first layer; s-sparse: s random
inputs per neuron, weights and bias U(+-1/sqrt(s)); output layer
U(+-1/sqrt(width))), reimplemented in Numba.
Net t of a run is drawn from stream 2t of the seed whatever the width, the initialisation or the
method (common random numbers), so exact and sampled routes see the same nets.
"""

from parity_frontiers.simulate.sq.guess import guess_success_probability, simulate_sq_guess
from parity_frontiers.simulate.sq.networks import (
    INITS,
    MAX_EXACT_N,
    MAX_GD_N,
    draw_init_network,
    gradient_fourier_sup_norms,
    parseval_visible_bound,
)
from parity_frontiers.simulate.sq.noisy_gd import simulate_sq_noisy_gd
from parity_frontiers.simulate.sq.visible import simulate_sq_visible

__all__ = [
    "INITS", "MAX_EXACT_N", "MAX_GD_N", "draw_init_network", "gradient_fourier_sup_norms",
    "guess_success_probability", "parseval_visible_bound", "simulate_sq_visible",
    "simulate_sq_guess", "simulate_sq_noisy_gd",
]
