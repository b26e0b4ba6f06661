"""Exports that load on first use (PEP 562), shared by the subpackages' ``__init__`` files.

A package lists its public names and the submodule of each; importing the package then loads
nothing, so the console command does not pay for torch or the Numba kernels when it only
evaluates a bound, and ``dir(package)`` still lists every name for tab completion.
"""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, str]):
    """``(__getattr__, __dir__, __all__)`` for ``package`` from ``{name: submodule}``.

    Examples
    --------
    >>> getattr_, dir_, all_ = lazy_exports("parity_frontiers.theory", {"log_comb": "binomial"})
    >>> getattr_("log_comb").__name__
    'log_comb'
    >>> all_
    ['log_comb']
    """
    names = sorted(exports)

    def __getattr__(name: str):
        if name in exports:
            return getattr(importlib.import_module(f".{exports[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(names) | set(globals_of(package)))

    return __getattr__, __dir__, names


def globals_of(package: str) -> list[str]:
    """The names already bound in ``package`` (its submodules once imported, its constants)."""
    module = importlib.import_module(package)
    return [name for name in vars(module) if not name.startswith("_")]
