r"""Exact Fourier gaps of sparse ReLU neurons at initialisation (PAPER.md section 4, derived).

A neuron a * relu(w.x + b) with support U (|U| = s), weights w_j = +-1 on U and zero elsewhere,
bias b. Under the correlation loss (equal to the hinge loss while |output| < 1) the population
gradient on input weight i, for target chi_S, is

.. math:: \partial_{w_i} = -a\, \mathbb{E}[\chi_S(x)\, x_i\, g(x)],
          \qquad g(x) = \mathbf{1}[w\cdot x + b > 0],

the Fourier coefficient of g on D = S xor {i}. As g depends on x_U only, it vanishes unless
D lies inside U, and then equals ``prod_{j in D} w_j * kappa(s, b, |D|)``, where kappa is the
degree-|D| coefficient of the symmetric threshold z -> 1[z_1 + ... + z_s + b > 0]:

.. math:: \kappa(s, b, d) = 2^{-s} \sum_{h:\, s - 2h + b > 0}\; \sum_q (-1)^q
          \binom{d}{q}\binom{s-d}{h-q}

(h counts the -1 entries of z, q those inside a fixed d-set; the inner sum is the Krawtchouk
polynomial K_h(d; s)). Check: kappa(3, 0, 1) = 1/4.

Coordinates fall in four classes relative to S and U; with overlap j = |U n S|:

=====================  ==========================  ==================================
class                  non-zero only when          magnitude
=====================  ==========================  ==================================
``in_S_in_U``          j = k                       |a kappa(s, b, k-1)|
``in_S_off_U``         j = k - 1                   |a kappa(s, b, k-1)|
``in_U_off_S``         j = k                       |a kappa(s, b, k+1)|
``outside``            never                       0
=====================  ==========================  ==================================
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ._checks import check_int, check_probability, check_rational, check_real, check_size

__all__ = [
    "COORDINATE_CLASSES",
    "threshold_count",
    "kappa_exact",
    "kappa_row_exact",
    "kappa",
    "neuron_gradient_by_class",
    "neuron_population_gradient",
    "fourier_gap",
    "selection_gap",
    "hoeffding_sample_size",
]

#: The coordinate classes of :func:`neuron_gradient_by_class`, in table order.
COORDINATE_CLASSES = ("in_S_in_U", "in_S_off_U", "in_U_off_S", "outside")


def threshold_count(s: int, bias) -> int:
    """Number H of values h in 0..s with s - 2h + b > 0, i.e. h < (s + b)/2.

    The threshold neuron fires on exactly the inputs with fewer than H entries equal to -1.
    """
    s = check_int("s", s)
    b = check_rational("bias", bias)
    return max(0, min(s + 1, math.ceil((s + b) / 2)))


def _check_degree(s: int, d) -> int:
    d = check_int("d", d, minimum=0)
    if d > s:
        raise ValueError(f"d must be <= s, got d={d} > s={s}")
    return d


def kappa_exact(s, bias, d) -> Fraction:
    """Exact degree-d Fourier coefficient kappa(s, b, d) of z -> 1[sum(z) + b > 0].

    Computed by the double sum in the module docstring (PAPER.md section 4) in integers.

    Parameters
    ----------
    s : int
        Support size (number of +-1 inputs), >= 1.
    bias : int, Fraction, float or str
        Threshold offset b; converted exactly (a string ``"1/2"`` is the rational 1/2).
    d : int
        Degree, 0 <= d <= s.

    Examples
    --------
    >>> kappa_exact(3, 0, 1)
    Fraction(1, 4)
    >>> kappa_exact(4, 0, 2)
    Fraction(1, 16)
    """
    s = check_int("s", s)
    d = _check_degree(s, d)
    H = threshold_count(s, bias)
    total = 0
    for h in range(H):
        total += sum((-1) ** q * math.comb(d, q) * math.comb(s - d, h - q)
                     for q in range(max(0, h - (s - d)), min(d, h) + 1))
    return Fraction(total, 2**s)


def kappa_row_exact(s, bias) -> list[Fraction]:
    """[kappa(s, b, d) for d = 0..s] exactly (see :func:`kappa_exact`)."""
    s = check_int("s", s)
    return [kappa_exact(s, bias, d) for d in range(s + 1)]


def kappa(s, bias, d):
    """kappa(s, b, d) as float64, vectorised over broadcast arrays.

    Each distinct (s, H, d), with H from :func:`threshold_count`, is computed once exactly and
    rounded, so grids with many repeated values are fast and every value is correctly rounded.

    Examples
    --------
    >>> kappa([3, 3, 4], 0, [1, 3, 2])
    array([ 0.25  , -0.25  ,  0.0625])
    """
    s_arr = check_size("s", s)
    b_arr = check_real("bias", bias)
    d_arr = check_size("d", d, minimum=0)
    s_arr, b_arr, d_arr = np.broadcast_arrays(s_arr, b_arr, d_arr)
    if np.any(d_arr > s_arr):
        raise ValueError("d must be <= s")
    # H = #{h : 2h - s < b}. The float (s + b)/2 can round across an integer (b = 1e-17,
    # s = 2), so settle the ceiling against that comparison, which is exact in float64.
    H = np.ceil((s_arr + b_arr) / 2.0)
    H = np.where(2.0 * (H - 1.0) - s_arr >= b_arr, H - 1.0, H)
    H = np.where(2.0 * H - s_arr < b_arr, H + 1.0, H)
    H = np.clip(H, 0, s_arr + 1)
    # One int64 key per point, so that np.unique runs on a flat array (10x faster than rows).
    s_int, h_int, d_int = (x.ravel().astype(np.int64) for x in (s_arr, H, d_arr))
    span = int(s_int.max()) + 2
    keys = (s_int * span + h_int) * span + d_int
    unique, inverse = np.unique(keys, return_inverse=True)
    values = np.empty(len(unique))
    for i, key in enumerate(unique.tolist()):
        s_u, rest = divmod(key, span * span)
        h_u, d_u = divmod(rest, span)
        # Bias 2H - s - 1 (an integer) reproduces the same threshold count H exactly.
        values[i] = float(kappa_exact(s_u, 2 * h_u - s_u - 1, d_u))
    out = values[inverse.ravel()].reshape(s_arr.shape)
    return out if out.ndim else float(out)


def _check_skj(s, k, overlap):
    s = check_int("s", s)
    k = check_int("k", k)
    if overlap is None:
        overlap = min(s, k)
    overlap = check_int("overlap", overlap, minimum=0)
    if overlap > min(s, k):
        raise ValueError(f"overlap must be <= min(s, k) = {min(s, k)}, got {overlap}")
    return s, k, overlap


def neuron_gradient_by_class(s, k, bias, overlap=None, output_weight=1):
    """Population-gradient magnitude of a +-1 s-sparse ReLU neuron, per coordinate class.

    See the table in the module docstring (derived here from PAPER.md section 4). Classes that
    cannot occur for this overlap (e.g. ``in_S_in_U`` when overlap = 0) are omitted.

    Parameters
    ----------
    s, k : int
        Support size and parity degree.
    bias : rational-like
        Neuron bias b.
    overlap : int, optional
        j = |U n S|; defaults to the luckiest, min(s, k).
    output_weight : rational-like, default 1
        Output weight a; magnitudes scale with |a|.

    Returns
    -------
    dict[str, Fraction]
        Exact magnitudes |d loss / d w_i| by class name.

    Examples
    --------
    >>> neuron_gradient_by_class(4, 2, 0)
    {'in_S_in_U': Fraction(3, 16), 'in_U_off_S': Fraction(1, 16), 'outside': Fraction(0, 1)}
    """
    s, k, j = _check_skj(s, k, overlap)
    a = abs(check_rational("output_weight", output_weight))
    zero = Fraction(0)
    out = {}
    if j >= 1:
        out["in_S_in_U"] = a * abs(kappa_exact(s, bias, k - 1)) if j == k else zero
    if j < k:
        out["in_S_off_U"] = a * abs(kappa_exact(s, bias, k - 1)) if j == k - 1 else zero
    if s - j >= 1:
        out["in_U_off_S"] = a * abs(kappa_exact(s, bias, k + 1)) if j == k else zero
    out["outside"] = zero
    return out


def neuron_population_gradient(n, target, support, weights, bias, output_weight=1):
    r"""Exact population gradient of the correlation loss on every input weight of one neuron.

    .. math:: \partial_{w_i} = -a \Bigl(\prod_{j \in D} w_j\Bigr) \kappa(s, b, |D|)
              \text{ if } D = S \triangle \{i\} \subseteq U, \text{ else } 0.

    Parameters
    ----------
    n : int
        Input dimension.
    target : sequence of int
        The parity set S (0-based coordinates).
    support : sequence of int
        The neuron's support U.
    weights : sequence of int
        +-1 weights on ``support``, in the same order.
    bias, output_weight : rational-like

    Returns
    -------
    list[Fraction]
        Length-n gradient.
    """
    n = check_int("n", n)
    S = _check_index_set("target", target, n)
    U = _check_index_set("support", support, n)
    if len(weights) != len(U):
        raise ValueError(f"weights must have one entry per support coordinate ({len(U)})")
    if any(isinstance(w, (bool, np.bool_)) or w not in (-1, 1) for w in weights):
        raise ValueError("weights must be +1 or -1")
    w = dict(zip(support, weights, strict=True))
    a = check_rational("output_weight", output_weight)
    s = len(U)
    grad = []
    for i in range(n):
        D = S ^ {i}
        if D <= U:
            sign = math.prod(w[j] for j in D)
            grad.append(-a * sign * kappa_exact(s, bias, len(D)))
        else:
            grad.append(Fraction(0))
    return grad


def _check_index_set(name, values, n):
    values = list(values)
    out = set()
    for v in values:
        v = check_int(name, v, minimum=0)
        if v >= n:
            raise ValueError(f"{name} coordinates must be < n = {n}, got {v}")
        out.add(v)
    if len(out) != len(values):
        raise ValueError(f"{name} must not repeat coordinates")
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out


def fourier_gap(s, k, bias, overlap=None, output_weight=1) -> Fraction:
    """Fourier gap: smallest |gradient| on S minus largest |gradient| off S (PAPER.md sec. 4).

    For the lucky over-sparse neuron (overlap = k) this is
    ``|kappa(s, b, k-1)| - |kappa(s, b, k+1)|`` (the second term absent when s = k). A gap
    <= 0 means the neuron cannot single out S from its gradient. The largest off-S magnitude
    is 0 when no coordinate lies off S.

    Examples
    --------
    >>> fourier_gap(4, 2, 0)
    Fraction(1, 8)
    """
    by_class = neuron_gradient_by_class(s, k, bias, overlap, output_weight)
    on_s = [by_class[c] for c in ("in_S_in_U", "in_S_off_U") if c in by_class]
    off_s = [by_class[c] for c in ("in_U_off_S", "outside") if c in by_class]
    return min(on_s) - max(off_s, default=Fraction(0))


def selection_gap(s, k, bias, output_weight=1) -> Fraction:
    """Gap of the luckiest neuron for the selection it can make (derived here).

    * s >= k (over-sparse): the Fourier gap of a neuron with S inside U, which separates S
      from all other coordinates.
    * s < k (under-sparse): a neuron with U inside S can only discover the missing k - s
      coordinates of S among those off its support; the gap is their smallest |gradient|
      minus the largest on coordinates outside U and S, which is ``|kappa(s, b, s)|`` when
      s = k - 1 and 0 otherwise (a +-1 sparse neuron sees nothing when s < k - 1: Theorem 5
      needs the small non-zero weights of its initialisation for that).

    Examples
    --------
    >>> selection_gap(2, 3, 1)
    Fraction(1, 4)
    """
    s = check_int("s", s)
    k = check_int("k", k)
    if s >= k:
        return fourier_gap(s, k, bias, overlap=k, output_weight=output_weight)
    by_class = neuron_gradient_by_class(s, k, bias, overlap=s, output_weight=output_weight)
    return by_class["in_S_off_U"] - by_class["outside"]


def hoeffding_sample_size(gap, n, delta) -> int:
    r"""Samples that separate S by its gradient with probability >= 1 - delta.

    Each empirical gradient coordinate is a mean of m terms in [-1, 1]; Hoeffding plus a
    union bound over the n coordinates gives (PAPER.md section 4)

    .. math:: m = \Bigl\lceil \frac{8 \ln(2n/\delta)}{\mathrm{gap}^2} \Bigr\rceil .

    Raises ValueError when gap <= 0 (no finite sample separates S).

    Examples
    --------
    >>> hoeffding_sample_size(0.25, 50, 0.01)
    1179
    """
    g = check_rational("gap", gap)
    if g <= 0:
        raise ValueError(f"gap must be > 0 to separate S by its gradient, got {float(g):g}")
    n = check_int("n", n)
    d = float(check_probability("delta", delta))
    return math.ceil(8.0 * math.log(2.0 * n / d) / float(g) ** 2)
