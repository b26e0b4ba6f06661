"""Shared pieces of the console command: the parser class, argument types, output flags.

Every subcommand module (``cli.py`` for theory, ``cli_simulate.py``, ``cli_verify.py``) builds
its parsers from these, so sizes are parsed and errors reported the same way everywhere.
"""

from __future__ import annotations

import argparse
import math
import re
from fractions import Fraction

from parity_frontiers.theory import symbolic

from .output import dumps_json

PROG = "parity-frontiers"


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit status 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Let values such as --bias -1/2 or --bias -1e3 through as numbers, not options.
        self._negative_number_matcher = re.compile(
            r"^-(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^-\d+/\d+$")

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


# --- argument types: integral sizes may be written 1e6 --------------------------------------

def size_arg(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not math.isfinite(value) or not value.is_integer():
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}")
    return int(value)


def real_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def rational_arg(text: str) -> Fraction:
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"must be a number or a fraction like 1/2, got {text!r}") from None


def probability_arg(text: str) -> Fraction:
    """A probability read exactly: ``0.1`` and ``1/10`` are both the rational 1/10, never the
    binary float nearest to it, so a bound solved at an exact boundary is not off by one.
    The range (0, 1) is checked where the value is used, which names the option."""
    try:
        return Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"must be a number or a fraction like 1/10, got {text!r}") from None


def add_output_flags(parser, latex: bool = True):
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout instead of a table")
    if latex:
        parser.add_argument("--latex", action="store_true",
                            help="also print the formulas used, as LaTeX (sympy)")


def positive_int_arg(text: str) -> int:
    """An integer >= 1 (trials, threads, seeds...); accepts 1e4."""
    value = size_arg(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def latex_block(formulas: dict) -> str:
    return "\n".join(f"{name}: {symbolic.latex(expr)}" for name, expr in formulas.items())


def emit(args, result: dict, table: str, formulas: dict | None = None) -> str:
    """The table, or with ``--json`` one strict JSON object (plus LaTeX when asked)."""
    if args.json:
        if formulas and getattr(args, "latex", False):
            result = {**result, "latex": {k: symbolic.latex(v) for k, v in formulas.items()}}
        return dumps_json(result)
    if formulas and getattr(args, "latex", False):
        table += "\n\nFormulas (LaTeX):\n" + latex_block(formulas)
    return table


_GIB = 2**30
#: Largest ``--memory-cap`` in GiB (1 PiB): more is a typo (a byte count, say), not a machine.
MAX_MEMORY_CAP_GIB = 2**20


def memory_gib_arg(text: str) -> int:
    """A memory cap given in GiB (a positive real number, 0.5 allowed), returned in bytes."""
    value = real_arg(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of GiB, got {text!r}")
    if value > MAX_MEMORY_CAP_GIB:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_MEMORY_CAP_GIB} GiB (the cap is in GiB, e.g. 0.5 or 8), got "
            f"{text!r}")
    cap = int(value * _GIB)
    if cap < 1:
        raise argparse.ArgumentTypeError(f"{text!r} GiB rounds to 0 bytes")
    return cap
