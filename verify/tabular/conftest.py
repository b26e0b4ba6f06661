"""pytest: skip this package's doctests when scikit-learn (the ``[tabular]`` extra) is absent.

The default test run collects every module here with ``--doctest-modules``, and
``estimator.py`` / ``forest.py`` import scikit-learn at module level: without it collection
would error instead of skipping. The tests under ``tests/`` skip themselves
(``pytest.importorskip``).
"""

import importlib.util

collect_ignore_glob = ["*.py"] if importlib.util.find_spec("sklearn") is None else []
