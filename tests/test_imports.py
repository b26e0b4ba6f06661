"""The console command stays quick: torch and the Numba kernels load only when used."""

from __future__ import annotations

import subprocess
import sys


def test_cli_import_does_not_load_torch_or_kernels():
    code = ("import sys, parity_frontiers.cli; "
            "print(sorted(m for m in ('torch', 'numba', 'parity_frontiers.simulate.lottery', "
            "'parity_frontiers.verify.training.trainer') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_package_exports_resolve():
    from parity_frontiers import simulate, verify
    for package in (simulate, verify):
        for name in package.__all__:
            assert getattr(package, name) is not None
    try:
        verify.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("unknown attribute must raise AttributeError")


def test_lazy_packages_list_their_exports_for_tab_completion():
    from parity_frontiers import simulate, verify
    from parity_frontiers.verify import analysis, experiments, training

    for package in (simulate, verify, training, experiments, analysis):
        assert set(package.__all__) <= set(dir(package))
