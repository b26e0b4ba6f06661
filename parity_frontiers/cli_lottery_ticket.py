"""Subcommand ``lottery-ticket``: prune, rewind and retrain (issue 6; not yet implemented)."""

from __future__ import annotations


def register(sub) -> None:
    """Add the subcommand to ``sub`` (nothing yet: the issue-6 work replaces this module)."""
