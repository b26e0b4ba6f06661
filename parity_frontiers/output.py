"""Printing helpers: aligned text tables and strict JSON."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction

__all__ = ["format_number", "format_fraction", "format_table", "dumps_json"]


def format_number(value, log10_value: float | None = None) -> str:
    """Readable number: ints in full up to 15 digits, floats to 6 significant digits.

    ``None`` with a ``log10_value`` prints as ``10^x`` (a number too large for a float).
    """
    if value is None:
        return f"10^{log10_value:.2f}" if log10_value is not None else "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, int):
        # Decimal rounds correctly where float(value) would overflow.
        return str(value) if abs(value) < 10**15 else f"{Decimal(value):.6e}"
    if isinstance(value, float):
        if value == 0 or (1e-4 <= abs(value) < 1e15 and value == int(value)):
            return f"{value:.0f}" if value == int(value) else f"{value:.6g}"
        return f"{value:.6g}"
    return str(value)


def format_fraction(text: str, max_denominator: int = 10**6) -> str:
    """A "p/q" string for reading: "0" and "1" for integers, "~0.0123" past ``max_denominator``
    (a 2^50 denominator helps nobody in a table; JSON keeps the exact value)."""
    value = Fraction(text)
    if value.denominator > max_denominator:
        return f"~{format_number(float(value))}"
    return str(value)


def format_table(headers: list[str], rows: list[list], title: str | None = None) -> str:
    """Left-aligned first column, right-aligned others, one space-padded line per row."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [title] if title else []
    for index, row in enumerate(cells):
        rest = zip(row[1:], widths[1:], strict=True)
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in rest]
        lines.append("  ".join(parts).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _default(value):
    if isinstance(value, Fraction):
        # An integer is written "0", not "0/1" (the form theory.summaries' str() gives).
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps_json(obj) -> str:
    """Strict JSON (no NaN/Infinity: a non-finite float here is a bug and raises)."""
    def check(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"internal error: non-finite value {value} in JSON output")
        if isinstance(value, dict):
            for v in value.values():
                check(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                check(v)
    check(obj)
    return json.dumps(obj, default=_default, allow_nan=False)
