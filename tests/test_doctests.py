"""Every docstring example of the installed package runs and prints what it shows.

Modules are imported by their installed names (``parity_frontiers.theory.lottery``), so the
examples see the same objects as users do. A module whose optional extra is missing (pandas,
scikit-learn, Dask) is skipped, not failed.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import parity_frontiers

OPTIONAL = {"sklearn", "pandas", "pyarrow", "dask", "distributed"}


def _module_names() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(parity_frontiers.__path__, "parity_frontiers."):
        names.append(info.name)
    for sub in ("theory", "simulate", "verify", "figures"):
        package = importlib.import_module(f"parity_frontiers.{sub}")
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            names.append(info.name)
    # __main__ runs the command on import
    return sorted(name for name in set(names) if not name.endswith(".__main__"))


@pytest.mark.parametrize("name", _module_names())
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in OPTIONAL:
            pytest.skip(f"{name} needs the optional {exc.name}")
        raise
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    if not tests:
        pytest.skip("no examples")
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
