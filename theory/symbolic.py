"""Symbolic layer: the theory's formulas as sympy expressions.

For users who want to manipulate, differentiate or typeset the formulas (``latex(expr)``), and
as an independent route for the tests: the numeric modules are checked against these
expressions evaluated in exact arithmetic at random points.

Every function returns a fresh sympy expression over the module's named symbols
(:data:`SYMBOLS`); substitute numbers with ``expr.subs({...})`` or :func:`evaluate`.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "SYMBOLS",
    "sq_max_success_expr",
    "sq_cost_expr",
    "sq_threshold_expr",
    "sq_min_resource_expr",
    "two_layer_param_count_expr",
    "overlap_pmf_expr",
    "p_lucky_expr",
    "p_at_least_one_expr",
    "width_needed_expr",
    "kappa_expr",
    "hoeffding_expr",
    "thm4_width_expr",
    "thm4_samples_expr",
    "thm4_steps_expr",
    "thm5_width_expr",
    "thm5_samples_expr",
    "evaluate",
    "latex",
]

_pos = {"positive": True}
_int = {"integer": True, "nonnegative": True}

n, k, s, j, h, q, d = sp.symbols("n k s j h q d", **_int)
r, T, m, w = sp.symbols("r T m w", positive=True, integer=True)
tau, delta, p, gap, b = sp.symbols("tau delta p gap b", real=True)
c2, c3, c4, epsilon = sp.symbols("c_2 c_3 c_4 epsilon", **_pos)

#: Symbols by name: n, k, s, j (overlap), r (parameters or width), T (steps), m (samples),
#: w (width), tau, delta, p, gap, b (bias), d (degree), c2, c3, c4, epsilon.
SYMBOLS = {
    "n": n, "k": k, "s": s, "j": j, "h": h, "q": q, "d": d, "r": r, "T": T, "m": m, "w": w,
    "tau": tau, "delta": delta, "p": p, "gap": gap, "b": b,
    "c2": c2, "c3": c3, "c4": c4, "epsilon": epsilon,
}


def sq_max_success_expr(in_samples: bool = False) -> sp.Expr:
    """min(1, 2 r T / (tau^2 C(n, k))) (Prop. 3); with ``in_samples``, tau^2 = 1/m."""
    prec = m if in_samples else 1 / tau**2
    return sp.Min(1, 2 * r * T * prec / sp.binomial(n, k))


def sq_cost_expr(with_delta: bool = True) -> sp.Expr:
    """The cost r T m / delta that Prop. 3 compares with C(n, k)/2."""
    return r * T * m / delta if with_delta else r * T * m


def sq_threshold_expr() -> sp.Expr:
    """C(n, k) / 2."""
    return sp.binomial(n, k) / 2


def sq_min_resource_expr(resource: str) -> sp.Expr:
    """Solve 2 r T m / C(n, k) = delta for ``resource`` (params, steps, samples or delta).

    Derived by ``sympy.solve``, not typed in, so it cross-checks the numeric formulas.
    """
    unknown = {"params": r, "steps": T, "samples": m, "delta": delta}
    if resource not in unknown:
        raise ValueError(f"resource must be one of {', '.join(unknown)}, got {resource!r}")
    equation = sp.Eq(2 * r * T * m / sp.binomial(n, k), delta)
    (solution,) = sp.solve(equation, unknown[resource])
    return solution


def two_layer_param_count_expr() -> sp.Expr:
    """w n + w + w + 1: a 2-layer MLP's parameters with biases and one output."""
    return sp.expand(w * n + w + w * 1 + 1)


def overlap_pmf_expr() -> sp.Expr:
    """C(k, j) C(n-k, s-j) / C(n, s): hypergeometric overlap law of U and S."""
    return sp.binomial(k, j) * sp.binomial(n - k, s - j) / sp.binomial(n, s)


def p_lucky_expr() -> sp.Expr:
    """C(s, k)/C(n, k) if s >= k (S inside U), else C(k, s)/C(n, s) (U inside S)."""
    return sp.Piecewise((sp.binomial(s, k) / sp.binomial(n, k), s >= k),
                        (sp.binomial(k, s) / sp.binomial(n, s), True))


def p_at_least_one_expr() -> sp.Expr:
    """1 - (1 - p)^r: at least one lucky neuron among r."""
    return 1 - (1 - p) ** r


def width_needed_expr() -> sp.Expr:
    """ceiling(log(delta) / log(1 - p)): smallest r with (1 - p)^r <= delta."""
    return sp.ceiling(sp.log(delta) / sp.log(1 - p))


def kappa_expr(s_value=None, bias_value=None) -> sp.Expr:
    """kappa(s, b, d) = 2^-s sum_{h < H} sum_q (-1)^q C(d, q) C(s-d, h-q).

    H = number of h in 0..s with s - 2h + b > 0. With ``s_value`` and ``bias_value`` given
    the sum has concrete limits and ``.subs(d, ...).doit()`` evaluates it exactly; otherwise
    H stays symbolic as ``ceiling((s + b)/2)`` (valid for -s <= b <= s + 2, where the clip
    to [0, s + 1] is inactive).
    """
    s_sym = s if s_value is None else sp.Integer(s_value)
    if s_value is None or bias_value is None:
        upper = sp.ceiling((s_sym + b) / 2) - 1
    else:
        threshold = sp.ceiling((sp.Integer(s_value) + sp.Rational(str(bias_value))) / 2)
        upper = max(0, min(int(s_value) + 1, int(threshold))) - 1
    inner = sp.Sum((-1) ** q * sp.binomial(d, q) * sp.binomial(s_sym - d, h - q), (q, 0, d))
    return sp.Sum(inner, (h, 0, upper)) / 2**s_sym


def hoeffding_expr() -> sp.Expr:
    """8 ln(2n/delta) / gap^2 (ceiling taken by the numeric layer)."""
    return 8 * sp.log(2 * n / delta) / gap**2


def thm4_width_expr() -> sp.Expr:
    """c2 (n/s)^k."""
    return c2 * (n / s) ** k


def thm4_samples_expr() -> sp.Expr:
    """c3 (s/k)^(k-1) n^2 ln n."""
    return c3 * (s / k) ** (k - 1) * n**2 * sp.log(n)


def thm4_steps_expr() -> sp.Expr:
    """c4 / epsilon^2."""
    return c4 / epsilon**2


def thm5_width_expr() -> sp.Expr:
    """c2 (n/k)^s."""
    return c2 * (n / k) ** s


def thm5_samples_expr() -> sp.Expr:
    """c3 (n/k)^(k-s-1)."""
    return c3 * (n / k) ** (k - s - 1)


def evaluate(expr: sp.Expr, **values) -> sp.Expr:
    """Substitute values by symbol name (floats made exact rationals) and evaluate exactly.

    Examples
    --------
    >>> evaluate(p_lucky_expr(), n=10, k=2, s=4)
    2/15
    """
    subs = {}
    for name, value in values.items():
        if name not in SYMBOLS:
            raise ValueError(f"unknown symbol {name!r}; known: {', '.join(SYMBOLS)}")
        subs[SYMBOLS[name]] = sp.Rational(value) if isinstance(value, float) else value
    result = expr.subs(subs).doit()
    # A closed number is already exact (and simplify() can take minutes factoring logs of
    # integers, e.g. 8 log(2n/delta)/gap^2): simplify only what still has free symbols.
    return sp.simplify(result) if result.free_symbols else result


def latex(expr: sp.Expr) -> str:
    """LaTeX of an expression (``sympy.latex``)."""
    return sp.latex(expr)
