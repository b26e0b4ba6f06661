"""Running one parsed subcommand so that it never ends in a traceback.

:func:`run_command` is the body of :func:`parity_frontiers.cli.main` after parsing:

* :func:`parity_frontiers.args.validate_args` first (checks across options, before any work);
* the handler inside :func:`simulate.budget.time_budget` (``--max-seconds``), so every
  estimate made on the way is checked against it;
* every way out as one line on stderr: ``ValueError`` (bad input, exit 2); ``OSError`` (a file
  the system refused: exit 2, with its ``strerror`` and file name); an allocation that failed
  although the estimate was accepted (exit 2, naming the estimate,
  :func:`verify.experiments.limits.out_of_memory_message`); Ctrl-C (exit 130, with how to
  resume); anything else is a bug, reported in one line as an internal error (exit 1) unless
  ``PARITY_FRONTIERS_DEBUG`` is set, or ``main`` was given an explicit argument list (tests),
  which re-raise it with its traceback;
* the output printed so that a pipe closed early, or a terminal that cannot encode a file name,
  is not an error.
"""

from __future__ import annotations

import math
import os
import signal
import sys

from .args import PROG, command_name, validate_args
from .flag_names import flag_message

__all__ = ["run_command", "one_line", "interrupt_message"]

#: Exit statuses.
OK, INTERNAL, USAGE, INTERRUPTED = 0, 1, 2, 130

_RESUMABLE = ("train", "sweep", "frontier", "reproduce", "tabular run", "demo")


def one_line(text: str, limit: int = 600) -> str:
    """Text for one line of stderr: newlines folded, at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def interrupt_message(args) -> str:
    """What Ctrl-C leaves behind and how to carry on, for this command."""
    command = command_name(args)
    store = getattr(args, "store", None)
    if command in _RESUMABLE:
        where = f" in {store}" if store else ""
        return (f"interrupted; every finished run is safe{where}: run the same command again to "
                "resume")
    out = getattr(args, "out", None) or getattr(args, "plot", None)
    if out:
        return (f"interrupted; files written so far in {out} may be incomplete: run the same "
                "command again")
    return "interrupted; nothing was written: run the same command again to start over"


def _write(stream, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        data = text.encode(encoding, errors="backslashreplace")
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            stream.flush()
            buffer.write(data)
        else:
            stream.write(data.decode(encoding, errors="replace"))
    stream.flush()


def _error(where: str, message: str) -> None:
    try:
        _write(sys.stderr, f"{where}: error: {one_line(message)}\n")
    except (OSError, ValueError):  # stderr closed: nothing more to say
        pass


def _os_message(exc: OSError) -> str:
    name = exc.filename if exc.filename is not None else None
    shown = "" if name is None else f"{one_line(repr(str(name)), 80)}: "
    return f"{shown}{exc.strerror or exc}"


def _budget(args):
    from parity_frontiers.simulate.budget import time_budget

    seconds = getattr(args, "max_seconds", None)
    if seconds is not None and math.isinf(seconds):
        seconds = None
    return time_budget(seconds)


def run_command(args, catch_all: bool = True) -> int:
    """Run ``args.handler(args)``, print its text; the exit status (module docstring).

    ``catch_all=False`` lets an unexpected exception (a bug) propagate with its traceback:
    :func:`parity_frontiers.cli.main` passes it when called with an explicit argument list
    (tests, embedding programs), so that a bug is seen rather than turned into status 1.
    """
    where = " ".join([PROG, command_name(args)])
    debug = bool(os.environ.get("PARITY_FRONTIERS_DEBUG"))
    try:
        validate_args(args)
        with _budget(args):
            text = args.handler(args)
    except ValueError as exc:
        _error(where, flag_message(str(exc), getattr(args, "flag_names", None) or {}))
        return USAGE
    except KeyboardInterrupt:
        _error(where, interrupt_message(args))
        return INTERRUPTED
    except OSError as exc:
        if debug:
            raise
        _error(where, _os_message(exc))
        return USAGE
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        from parity_frontiers.verify.experiments.limits import (
            is_out_of_memory,
            out_of_memory_message,
        )

        if is_out_of_memory(exc):
            _error(where, out_of_memory_message(exc))
            return USAGE
        if debug or not catch_all:
            raise
        _error(where, f"internal error ({type(exc).__name__}: {exc}); please report it with "
                      "the command line (PARITY_FRONTIERS_DEBUG=1 shows the traceback)")
        return INTERNAL
    try:
        _write(sys.stdout, f"{text}\n")
    except BrokenPipeError:  # e.g. piped into `head`
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        try:
            sys.stderr.close()
        except (OSError, ValueError):
            pass
    except KeyboardInterrupt:
        return INTERRUPTED
    return OK


def install_interrupt_handler() -> None:
    """SIGINT raises KeyboardInterrupt again even if a library replaced the handler."""
    try:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    except (ValueError, OSError):  # not the main thread
        pass
