"""Library messages in the words of the command line: parameter names written as flags.

The library's checks name Python parameters (``solve_for``, ``memory_cap_bytes``); a user
typed flags (``--solve-for``, ``--memory-cap``). :func:`option_flags` maps one subcommand's
parameter names to its flags (:func:`parity_frontiers.args.add_safety_options` stores the map
on every subcommand) and :func:`flag_message` rewrites a message with it
(:func:`parity_frontiers.guard.run_command`, for every ValueError).
"""

from __future__ import annotations

import argparse
import re

__all__ = ["option_flags", "flag_message"]

#: Library parameter names that differ from the option's dest: translated when the option
#: exists in the command.
_LIBRARY_NAMES = {"memory_cap_bytes": "memory_cap", "sgd_seeds": "seeds", "learning_rate": "lr",
                  "widths": "width", "model": "models"}


def option_flags(parser) -> dict:
    """dest -> its shown long flag, for every option of one (leaf) parser."""
    flags = {}
    for action in parser._actions:
        shown = [o for o in action.option_strings if o.startswith("--")]
        if shown and action.help is not argparse.SUPPRESS and action.dest not in flags:
            flags[action.dest] = shown[0]
    flags.pop("help", None)
    for library, dest in _LIBRARY_NAMES.items():
        if dest in flags:
            flags.setdefault(library, flags[dest])
    return flags


def flag_message(message: str, flags: dict) -> str:
    """A library's ValueError message with its Python parameter names written as the flags.

    Library checks name parameters (``"solve_for"``, ``"init needs s"``); at the command line
    the user typed flags. A name is replaced where a message names a parameter: at its start,
    before "must" or "is required", after "needs" or "than", and in "(NAME)" or
    "(... with NAME)".

    Examples
    --------
    >>> flags = {"s": "--s", "solve_for": "--solve-for", "steps": "--steps", "m_max": "--m-max",
    ...          "m_min": "--m-min"}
    >>> flag_message("steps is required (or solve for it with solve_for)", flags)
    '--steps is required (or solve for it with --solve-for)'
    >>> flag_message("sparse init needs s (the support size)", flags)
    'sparse init needs --s (the support size)'
    >>> flag_message("m_max must be larger than m_min, got s=2", flags)
    '--m-max must be larger than --m-min, got s=2'
    >>> flag_message("--steps must be > 0; the steps taken", flags)
    '--steps must be > 0; the steps taken'
    >>> flag_message("above the cap (steps) of 3", flags)
    'above the cap (--steps) of 3'
    >>> flag_message("12 point(s) x 4 seeds", {"s": "--s"})
    '12 point(s) x 4 seeds'
    """
    for name in sorted(flags, key=len, reverse=True):
        word = re.escape(name)
        pattern = (rf"(?<![-\w])(?:^{word}\b|{word}(?= must\b| is required\b)"
                   rf"|(?<=needs ){word}\b|(?<=than ){word}\b|(?<=with ){word}(?=\))"
                   rf"|(?<=\()(?<!\w\(){word}(?=\)))")
        message = re.sub(pattern, flags[name], message)
    return message
