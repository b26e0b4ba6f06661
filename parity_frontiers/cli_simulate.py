"""Subcommands of the simulate/ layer (registered by :func:`parity_frontiers.cli.build_parser`)."""

from __future__ import annotations


def register(sub) -> None:
    """Add this layer's subcommands to the top-level subparsers sub."""
