r"""Exact Fourier gaps of sparse ReLU neurons at initialisation (docs/theory.md §4, derived).

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

from parity_frontiers.theory.checks import (
    check_int,
    check_probability,
    check_rational,
    check_real,
    check_size,
)

__all__ = [
    "COORDINATE_CLASSES",
    "MAX_KAPPA_S",
    "MAX_KAPPA_ROW_S",
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


#: Largest support size for exact kappa values (big-integer cost grows with s).
MAX_KAPPA_S = 100_000
#: Largest support size for a whole row d = 0..s (the ``gap`` table).
MAX_KAPPA_ROW_S = 5_000


def _check_kappa_s(s, limit=MAX_KAPPA_S) -> int:
    s = check_int("s", s)
    if s > limit:
        raise ValueError(f"s must be <= {limit} for exact Fourier coefficients, got {s}")
    return s


def _krawtchouk(t: int, e: int, N: int) -> int:
    """K_t(e; N) = sum_q (-1)^q C(e, q) C(N - e, t - q): coefficient of x^t in
    (1 - x)^e (1 + x)^(N - e)."""
    return sum((-1) ** q * math.comb(e, q) * math.comb(N - e, t - q)
               for q in range(max(0, t - (N - e)), min(e, t) + 1))


def kappa_exact(s, bias, d) -> Fraction:
    r"""Exact degree-d Fourier coefficient kappa(s, b, d) of z -> 1[sum(z) + b > 0].

    The double sum of docs/theory.md §4 (module docstring) telescopes (derived here): the
    partial sums of Krawtchouk polynomials are Krawtchouk polynomials,
    :math:`\sum_{h \le t} K_h(d; s) = K_t(d - 1; s - 1)` for d >= 1 (divide the generating
    function :math:`(1-x)^d (1+x)^{s-d}` by :math:`1 - x`), so with H the threshold count

    .. math:: \kappa(s, b, 0) = 2^{-s} \sum_{h < H} \binom{s}{h}, \qquad
              \kappa(s, b, d) = 2^{-s} K_{H-1}(d - 1;\, s - 1) \quad (d \ge 1),

    a single sum of O(d) terms. The tests check it against the double sum and against
    enumeration of {-1, 1}^s.

    Parameters
    ----------
    s : int
        Support size (number of +-1 inputs), 1 <= s <= :data:`MAX_KAPPA_S`.
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
    s = _check_kappa_s(s)
    d = _check_degree(s, d)
    H = threshold_count(s, bias)
    if d == 0:
        return Fraction(sum(math.comb(s, h) for h in range(H)), 2**s)
    if H == 0 or H == s + 1:  # constant neuron: no coefficient above degree 0
        return Fraction(0)
    return Fraction(_krawtchouk(H - 1, d - 1, s - 1), 2**s)


def kappa_row_exact(s, bias) -> list[Fraction]:
    r"""[kappa(s, b, d) for d = 0..s] exactly, in O(s) big-integer steps.

    Uses the three-term recurrence in the degree (derived here, checked in the tests)

    .. math:: (N - e) K_t(e + 1; N) = (N - 2t) K_t(e; N) - e K_t(e - 1; N),

    with N = s - 1, t = H - 1, K_t(0; N) = C(N, t), and :func:`kappa_exact`'s identity.
    s is limited to :data:`MAX_KAPPA_ROW_S`.
    """
    s = _check_kappa_s(s, MAX_KAPPA_ROW_S)
    H = threshold_count(s, bias)
    row = [kappa_exact(s, bias, 0)]
    N, t = s - 1, H - 1
    if t < 0 or t > N:
        return row + [Fraction(0)] * s
    previous, current = 0, math.comb(N, t)
    values = [current]
    for e in range(N):
        numerator = (N - 2 * t) * current - e * previous
        previous, current = current, numerator // (N - e)
        values.append(current)
    return row + [Fraction(v, 2**s) for v in values]


def kappa(s, bias, d):
    """kappa(s, b, d) as float64, vectorised over broadcast arrays.

    Each distinct (s, H, d), with H from :func:`threshold_count`, is computed once exactly and
    rounded, so grids with many repeated values are fast and every value is correctly rounded.

    Examples
    --------
    >>> kappa([3, 3, 4], 0, [1, 3, 2])
    array([ 0.25  , -0.25  ,  0.0625])
    """
    s_arr = check_size("s", s, exact=True)
    if np.any(s_arr > MAX_KAPPA_S):
        raise ValueError(f"s must be <= {MAX_KAPPA_S} for exact Fourier coefficients, "
                         f"got {float(np.max(s_arr)):g}")
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

    See the table in the module docstring (derived here from docs/theory.md §4). Classes that
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
    if np.ndim(weights) != 1:
        raise ValueError(f"weights must be a sequence of +1/-1, got {weights!r}")
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
    if np.ndim(values) != 1:
        raise ValueError(f"{name} must be a sequence of coordinates, got {values!r}")
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
    """Fourier gap: smallest |gradient| on S minus largest |gradient| off S (docs/theory.md §4).

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
    union bound over the n coordinates gives (docs/theory.md §4)

    .. math:: m = \Bigl\lceil \frac{8 \ln(2n/\delta)}{\mathrm{gap}^2} \Bigr\rceil .

    The ceiling is exact while m < 2**53; beyond, ln(2n/delta) in float64 fixes only the
    leading ~16 digits (there is nothing to be gained from more). The terms are
    a * y * g(x) * x_i, in [-1, 1] when the output weight has |a| <= 1 (the
    default of :func:`fourier_gap`); for |a| > 1 pass gap / |a|. Raises ValueError when
    gap <= 0 (no finite sample separates S).

    Examples
    --------
    >>> hoeffding_sample_size(0.25, 50, 0.01)
    1179
    """
    g = check_rational("gap", gap)
    if g <= 0:
        raise ValueError(f"gap must be > 0 to separate S by its gradient, got {float(g):g}")
    n = check_int("n", n)
    if np.ndim(delta) != 0:
        raise ValueError("delta must be a scalar")
    d = float(check_probability("delta", delta))
    # ln(2n/delta) as a sum of logs (2n/delta overflows for tiny delta or huge n), and the
    # division in exact rationals (gap**2 underflows for tiny gaps).
    log_term = math.log(2.0) + math.log(n) - math.log(d)
    return math.ceil(Fraction(8.0 * log_term) / (g * g))
