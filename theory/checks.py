"""Argument validation shared by the theory modules.

Every public function validates its inputs up front (scikit-learn style) and raises a
``ValueError`` whose message starts with the offending parameter's name, so that the CLI can
print it as one line. Values are accepted as Python scalars or numpy arrays; integral floats
such as ``1e6`` count as integers because users write sample sizes that way.
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Integral, Real

import numpy as np

__all__ = [
    "LN10",
    "as_result",
    "MAX_EXACT_SIZE",
    "check_size",
    "check_in_interval",
    "check_int",
    "check_probability",
    "check_positive",
    "check_subset_size",
    "check_real",
    "check_rational",
]


LN10 = math.log(10.0)


def as_result(arr):
    """float64 array for array input, Python float for scalar input (the numpy convention)."""
    arr = np.asarray(arr, dtype=np.float64)
    return arr if arr.ndim else float(arr)


def _first_bad(arr: np.ndarray, bad: np.ndarray):
    """Return the first offending element of ``arr`` (as a Python scalar) for messages.

    Object arrays (Python ints beyond 2**64, say) hold plain Python numbers, which have no
    ``.item()``: they are returned as they are.
    """
    value = np.broadcast_to(arr, bad.shape)[bad].flat[0]
    return value.item() if isinstance(value, np.generic) else value


def _show(value) -> str:
    """A number for a one-line message: exact up to 16 digits, else about 6 significant ones
    (a 300-digit integer says nothing a reader can use)."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and abs(value) >= 10**16:
        digits = len(str(abs(value)))
        lead = str(abs(value))[:6]
        sign = "-" if value < 0 else ""
        return f"{sign}{lead[0]}.{lead[1:]}e+{digits - 1}"
    return str(value)


#: Largest integer below which every integer is exact in float64. Combinatorial sizes (n, k,
#: s, j) beyond it would be silently rounded, so :func:`check_size` refuses them when asked.
MAX_EXACT_SIZE = 2**53


def _contains_bool(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_bool(v) for v in value)
    return False


def _as_real_array(name: str, value) -> np.ndarray:
    # numpy silently upcasts [2, True] to [2, 1]: a bool among numbers is refused up front.
    if _contains_bool(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):  # e.g. ragged nested lists
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    kind = raw.dtype.kind
    if kind == "O":
        items = raw.ravel().tolist()
        if not all(isinstance(v, Real) and not isinstance(v, (bool, np.bool_)) for v in items):
            bad = next(v for v in items
                       if not isinstance(v, Real) or isinstance(v, (bool, np.bool_)))
            raise ValueError(f"{name} must be a number, got {bad!r}")
    elif kind not in "iuf":  # bool, str, bytes, complex, dates ...
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        arr = raw.astype(np.float64)
    except OverflowError:
        raise ValueError(f"{name} is too large for floating point (over 1e308)") from None
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} must be finite, got {_first_bad(arr, bad)!r}")
    return arr


def check_size(name: str, value, minimum: int = 1, exact: bool = False) -> np.ndarray:
    """Validate a size (integer >= ``minimum``), scalar or array; return it as float64 array.

    Float64 holds every integer up to 2**53 exactly. With ``exact=True`` (combinatorial sizes
    such as n, k, s) larger values are refused rather than rounded; resource counts (params,
    steps, samples, width) may exceed it, as only their logarithms matter.
    """
    arr = _as_real_array(name, value)
    bad = arr != np.floor(arr)
    if bad.any():
        raise ValueError(f"{name} must be an integer, got {_first_bad(arr, bad)!r}")
    bad = arr < minimum
    if bad.any():
        raise ValueError(f"{name} must be >= {minimum}, got {_first_bad(arr, bad):g}")
    if exact:
        raw = np.asarray(value)
        # Compare integers before the float conversion, which rounds 2**53 + 1 down.
        source = raw if raw.dtype.kind in "iuO" else arr
        bad = np.asarray(source > MAX_EXACT_SIZE, dtype=bool)
        if bad.any():
            shown = _show(_first_bad(source, bad))
            raise ValueError(f"{name} must be <= 2**53 = {MAX_EXACT_SIZE} (exact in floating "
                             f"point), got {shown}")
    return arr


def check_int(name: str, value, minimum: int = 1, strict: bool = False) -> int:
    """Validate one integer >= ``minimum`` and return it as an exact Python ``int``.

    Integral floats (``3.0``) are accepted unless ``strict``: seeds, trial counts and hashed
    run settings take integers only, so that a float is never silently taken for one.
    """
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, Integral):
        result = int(value)
    elif not strict and isinstance(value, Real) and math.isfinite(value) \
            and float(value).is_integer():
        result = int(value)
    else:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if result < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {_show(result)}")
    return result


def check_probability(name: str, value) -> np.ndarray:
    """Validate a probability in the open interval (0, 1)."""
    arr = _as_real_array(name, value)
    bad = (arr <= 0) | (arr >= 1)
    if bad.any():
        raise ValueError(f"{name} must lie in (0, 1), got {_first_bad(arr, bad)!r}")
    return arr


def check_positive(name: str, value) -> np.ndarray:
    """Validate a strictly positive real number (e.g. a tolerance tau)."""
    arr = _as_real_array(name, value)
    bad = arr <= 0
    if bad.any():
        raise ValueError(f"{name} must be > 0, got {_first_bad(arr, bad)!r}")
    return arr


def check_real(name: str, value) -> np.ndarray:
    """Validate a finite real number (scalar or array)."""
    return _as_real_array(name, value)


def check_in_interval(name: str, value, low: float, high: float | None = None,
                      low_open: bool = False, high_open: bool = False) -> float:
    """Validate one finite real in an interval and return it as a float.

    The interval is ``[low, high]``, each end open when ``low_open`` / ``high_open``, and
    unbounded above when ``high`` is None (learning rates, fractions, decay factors).

    >>> check_in_interval("momentum", 0.9, 0, 1, high_open=True)
    0.9
    >>> check_in_interval("lr", 0, 0, low_open=True)
    Traceback (most recent call last):
    ValueError: lr must be in (0, inf), got 0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    bad_low = value <= low if low_open else value < low
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        interval = ("(" if low_open else "[") + f"{low:g}, " + (
            "inf)" if high is None else f"{high:g}" + (")" if high_open else "]"))
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return float(value)


def check_rational(name: str, value) -> Fraction:
    """Validate one finite real given as int, float, Fraction or string such as ``"1/3"``.

    Returns the exact ``Fraction``; a float converts exactly (``0.1`` is the binary float it
    denotes), so pass a string to mean the decimal.
    """
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError
        return Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        raise ValueError(
            f"{name} must be a finite number or fraction like 1/3, got {value!r}") from None


def check_subset_size(name: str, value: np.ndarray, n: np.ndarray, n_name: str = "n") -> None:
    """Check ``value <= n`` elementwise (e.g. k <= n, s <= n)."""
    bad = np.asarray(value) > np.asarray(n)
    if bad.any():
        v = _first_bad(np.asarray(value, dtype=float), bad)
        m = _first_bad(np.asarray(n, dtype=float), bad)
        raise ValueError(f"{name} must be <= {n_name}, got {name}={v:g} > {n_name}={m:g}")
