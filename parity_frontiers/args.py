"""Shared pieces of the console command: the parser class, argument types, output flags.

Every subcommand module (``cli.py`` for theory, ``cli_simulate.py``, ``cli_verify.py``) builds
its parsers from these, so sizes are parsed and errors reported the same way everywhere.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import stat
from fractions import Fraction
from pathlib import Path

from parity_frontiers.theory import symbolic
from parity_frontiers.theory.checks import check_int, check_rational, check_real

from .flag_names import option_flags
from .output import dumps_json

PROG = "parity-frontiers"


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit status 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Let values such as --bias -1/2 or --bias -1e3 through as numbers, not options.
        self._negative_number_matcher = re.compile(
            r"^-(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^-\d+/\d+$")

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        # Options with a hidden old spelling cannot be argparse-required (either spelling
        # satisfies them): checked here, with argparse's own wording.
        missing = [flag for dest, flag in getattr(self, "_required_renamed", ())
                   if getattr(namespace, dest, None) is None]
        if missing:
            self.error("the following arguments are required: " + ", ".join(missing))
        return namespace, extras

    def error(self, message):  # noqa: D401 - argparse API
        # One line, whatever the offending value holds (newlines, 300 characters ...).
        flat = " ".join(str(message).split())
        if len(flat) > 600:
            flat = flat[:597] + "..."
        self.exit(2, f"{self.prog}: error: {flat}\n")

    def _print_message(self, message, file=None):
        # --help and --version on a closed pipe or an unencodable terminal: no traceback.
        if message:
            try:
                super()._print_message(message, file)
            except (BrokenPipeError, OSError, UnicodeEncodeError):
                pass


# --- argument types: integral sizes may be written 1e6 --------------------------------------
# Each parses the text, then validates with parity_frontiers.theory.checks (the library's
# vocabulary); argparse prefixes the message with the flag ("argument --n: must be ...").

_NAME = "value"


def _checked(check, value, *args, **kwargs):
    """``check(name, value, ...)`` of theory.checks; its ValueError as argparse's error, worded
    without the placeholder name."""
    try:
        return check(_NAME, value, *args, **kwargs)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(_NAME + " ")) from None


def size_arg(text: str) -> int:
    """An integer, also written as an integral float (``1e6``); ranges are checked where the
    value is used."""
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    return _checked(check_int, value, minimum=-math.inf)


def real_arg(text: str) -> float:
    """A finite real number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    return float(_checked(check_real, value))


def rational_arg(text: str) -> Fraction:
    """A number read exactly, or a fraction such as ``1/2``."""
    return _checked(check_rational, text.strip())


def probability_arg(text: str) -> Fraction:
    """A probability read exactly: ``0.1`` and ``1/10`` are both the rational 1/10, never the
    binary float nearest to it, so a bound solved at an exact boundary is not off by one.
    The range (0, 1) is checked where the value is used, which names the option."""
    return rational_arg(text)


def positive_int_arg(text: str) -> int:
    """An integer >= 1 (trials, threads, seeds...); accepts 1e4."""
    return _checked(check_int, size_arg(text), minimum=1)


def seed_arg(text: str) -> int:
    """A seed: an integer in [0, 2**63), the store's integer range; accepts 1e6."""
    value = _checked(check_int, size_arg(text), minimum=0)
    if value >= SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**63), got {text!r}")
    return value


def add_renamed(parser, group, flag: str, old: str, *, required: bool = False, **kwargs):
    """Add option ``flag`` to ``group`` (a parser or argument group of ``parser``) with its
    former spelling ``old`` accepted but not shown in ``--help`` (kept for one release).

    Examples
    --------
    >>> p = Parser(prog="x")
    >>> add_renamed(p, p, "--out", "--plot", metavar="DIR", help="where figures go")
    >>> p.parse_args(["--plot", "figs"]).out, p.parse_args(["--out", "figs"]).out
    ('figs', 'figs')
    >>> "--plot" in p.format_help()
    False
    """
    dest = kwargs.pop("dest", flag.lstrip("-").replace("-", "_"))
    group.add_argument(flag, dest=dest, **kwargs)
    group.add_argument(old, dest=dest, **{**kwargs, "help": argparse.SUPPRESS})
    if required:
        parser._required_renamed = (*getattr(parser, "_required_renamed", ()), (dest, flag))


#: Help of every ``--no-progress`` (simulate.progress decides how progress is shown).
NO_PROGRESS_HELP = ("no progress on stderr (by default: a bar on a terminal; in a log, a line "
                    "every ~10 s or 5%% of long work, whichever is rarer)")


def add_output_flags(parser, latex: bool = True):
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout instead of a table")
    if latex:
        parser.add_argument("--latex", action="store_true",
                            help="also print the formulas used, as LaTeX (sympy)")


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


# --- file paths: every OS-level problem is one line, found at parse time ---------------------

_NAME_MAX = 255
_PATH_MAX = 4096


def _shown_path(text: str, limit: int = 60) -> str:
    shown = text if len(text) <= limit else text[:limit // 2] + "..." + text[-limit // 3:]
    return repr(shown)


def _limit(directory: str, name: str, fallback: int) -> int:
    try:
        value = os.pathconf(directory or ".", name)
    except (OSError, ValueError):
        return fallback
    return value if value and value > 0 else fallback


def path_problem(text: str) -> str | None:
    """Why ``text`` cannot name a file (to read, or to create with its folders), or None.

    Never touches the filesystem beyond ``stat``: an empty string, a NUL byte, a name that
    cannot be encoded, a component longer than the filesystem allows (``ENAMETOOLONG``), a
    path longer than ``PATH_MAX``, a parent that is a file rather than a folder, a folder that
    cannot be searched. Anything else ``stat`` reports is worded from its ``strerror``.

    Examples
    --------
    >>> path_problem("results/runs.db") is None
    True
    >>> path_problem("")
    'must not be empty'
    >>> path_problem("x" * 300 + ".db")[:40]
    "the name 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    """
    if not text:
        return "must not be empty"
    if "\x00" in text:
        return "must not contain a NUL byte"
    try:
        encoded = os.fsencode(text)
    except UnicodeError:
        return f"{_shown_path(text)} cannot be encoded as a file name here"
    if len(encoded) >= _limit("/", "PC_PATH_MAX", _PATH_MAX):
        return f"the path is {len(encoded)} bytes long, over this system's limit"
    path = Path(text)
    prefix = Path(path.anchor) if path.is_absolute() else Path()
    parts = path.parts[1:] if path.is_absolute() else path.parts
    exists = True  # while walking down: has every folder so far existed?
    for index, part in enumerate(parts):
        limit = _limit(str(prefix) if exists else "/", "PC_NAME_MAX", _NAME_MAX)
        if len(os.fsencode(part)) > limit:
            return (f"the name {_shown_path(part)} is {len(os.fsencode(part))} bytes long, over "
                    f"the filesystem's limit of {limit}")
        prefix = prefix / part
        if not exists:
            continue
        try:
            mode = os.stat(prefix).st_mode
        except FileNotFoundError:
            exists = False
            continue
        except NotADirectoryError:
            return f"{_shown_path(str(prefix.parent))} is not a directory"
        except PermissionError:
            return f"cannot look inside {_shown_path(str(prefix.parent))}: permission denied"
        except OSError as exc:
            return f"cannot use {_shown_path(str(prefix))}: {exc.strerror or exc}"
        except ValueError as exc:  # pragma: no cover - e.g. an unrepresentable name
            return f"cannot use {_shown_path(str(prefix))}: {exc}"
        if index < len(parts) - 1 and not stat.S_ISDIR(mode):
            return f"{_shown_path(str(prefix))} is a file, not a directory"
    return None


def path_arg(text: str) -> str:
    """A file or folder path, refused at parse time (one line) when it cannot name one."""
    problem = path_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


# --- checks that need several options: run by cli.main after parsing, before any work -----

#: Subcommands that write a results store (``--store``): they take ``--new-store``.
STORE_WRITERS = ("train", "sweep", "frontier", "reproduce", "tabular run")
#: Subcommands that take ``--max-seconds`` (a time estimate refuses longer work up front).
TIMED = ("simulate lottery", "simulate gradient", "simulate onestep", "simulate sq visible",
         "simulate sq guess", "simulate sq noisy-gd", "plot", "report", "train", "sweep",
         "frontier", "reproduce", "lottery-ticket")
#: Default of ``--max-seconds``.
DEFAULT_MAX_SECONDS = 3600.0
#: Seeds are integers in [0, 2**63) everywhere (the store's integer range).
SEED_LIMIT = 2**63


def max_seconds_arg(text: str) -> float:
    """A positive time budget in seconds; ``inf`` (or ``none``) turns the check off."""
    if text.strip().lower() in ("inf", "none", "infinity"):
        return math.inf
    value = real_arg(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text!r}")
    return value


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def _find(parser, command: str):
    found = parser
    for word in command.split():
        found = _subparsers(found).get(word)
        if found is None:
            return None
    return found


def _leaves(parser):
    children = _subparsers(parser)
    if not children:
        yield parser
    for child in dict.fromkeys(children.values()):
        yield from _leaves(child)


def add_safety_options(parser) -> None:
    """Add ``--new-store`` and ``--max-seconds`` to the subcommands that need them.

    Called once by :func:`parity_frontiers.cli.build_parser` after every subcommand is
    registered, so the options are spelled and checked the same way everywhere.
    """
    for command in STORE_WRITERS:
        p = _find(parser, command)
        if p is not None:
            p.add_argument("--new-store", action="store_true",
                           help="allow --store to be an existing empty (0-byte) file, made into "
                                "a new results store (without it such a file is refused: it "
                                "may be a store whose contents were lost)")
    for command in TIMED:
        p = _find(parser, command)
        if p is not None:
            p.add_argument("--max-seconds", type=max_seconds_arg, default=DEFAULT_MAX_SECONDS,
                           metavar="S",
                           help=f"refuse work estimated to take longer than this (default "
                                f"{DEFAULT_MAX_SECONDS:g} s; 'inf' to turn off); estimates "
                                "over a minute are printed")
    # Library messages name parameters; guard.py rewrites them with these flags.
    for leaf in _leaves(parser):
        leaf.set_defaults(flag_names=option_flags(leaf))


def command_name(args) -> str:
    """``"simulate sq visible"``, ``"tabular run"``, ``"train"`` ... from parsed arguments."""
    words = [args.command] + [getattr(args, name) for name in ("kind", "action")
                              if isinstance(getattr(args, name, None), str)]
    return " ".join(words)


def _check_store(args, command: str) -> None:
    store = getattr(args, "store", None)
    if store is None and command == "reproduce" and getattr(args, "out", None):
        store = os.path.join(args.out, "runs.db")
    if store is None:
        return
    try:
        info = os.stat(store)
    except OSError:
        return  # absent (created later) or reported by whoever opens it
    if stat.S_ISREG(info.st_mode) and info.st_size == 0 and command in STORE_WRITERS \
            and not getattr(args, "new_store", False):
        raise ValueError(f"--store {store} is an empty (0-byte) file, not a results store; pass "
                         "--new-store to make it a new one (or remove it)")


def validate_args(args) -> None:
    """Checks across options, before any work: raise ValueError (one line) on the first problem.

    * ``--store`` an empty file, for a command that writes a store, without ``--new-store``;
    * ``--depth`` above :data:`verify.experiments.limits.MAX_DEPTH`;
    * ``--seed`` outside [0, 2**63), so that a report or a reproduce refuses it before its
      analysis or training, not after.
    """
    command = command_name(args)
    _check_store(args, command)
    depth = getattr(args, "depth", None)
    if isinstance(depth, int):
        from parity_frontiers.verify.experiments.limits import MAX_DEPTH

        if depth > MAX_DEPTH:
            raise ValueError(f"--depth must be at most {MAX_DEPTH} hidden layers, got "
                             f"{_short_int(depth)}")
    # --seed: report, plot, reproduce, tabular run and lottery-ticket use it after long work
    # (analysis, training). --seed-start is checked by RunConfig / the search settings, which
    # every training command builds before it trains.
    value = getattr(args, "seed", None)
    if isinstance(value, int) and not 0 <= value < SEED_LIMIT:
        raise ValueError(f"--seed must be an integer in [0, 2**63), got {_short_int(value)}")


def _short_int(value: int) -> str:
    digits, sign = str(abs(value)), "-" if value < 0 else ""
    return sign + (digits if len(digits) <= 16 else f"{digits[0]}.{digits[1:5]}e+{len(digits) - 1}")
