"""docs/tutorial.ipynb runs from top to bottom and its key outputs say what the prose says.

The notebook is executed on a copy, in a temporary working directory, by nbclient with a
kernel that runs this interpreter (``sys.executable``): a ``python3`` kernel spec installed
elsewhere (a user's Jupyter, another virtual environment) would test a different install.
nbclient and ipykernel come with the dev extras (``pip install -e ".[dev]"``), so a missing
one fails the test instead of skipping it; ``PARITY_FRONTIERS_SKIP_NOTEBOOK=1`` skips it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"

#: Seconds one cell may take before the run fails (the whole notebook takes about a minute).
CELL_TIMEOUT = 300

#: The kernel spec written for the test: ipykernel on the interpreter running pytest.
KERNEL_NAME = "parity-frontiers-tutorial"


def _imports():
    try:
        import ipykernel  # noqa: F401  (the kernel must be importable by sys.executable)
        import nbclient
        import nbformat
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager
    except ImportError as exc:
        pytest.fail(f"executing the tutorial needs {exc.name}: pip install -e '.[dev]' (or set "
                    "PARITY_FRONTIERS_SKIP_NOTEBOOK=1 to skip this test)")
    return nbclient, nbformat, KernelSpecManager, KernelManager


def execute_notebook(source: Path, workdir: Path, kernel_dir: Path):
    """Execute ``source`` with the kernel running ``sys.executable``, cwd ``workdir``.

    Returns the executed notebook; a cell that raises fails with nbclient's
    ``CellExecutionError`` (the cell's source and traceback in its message).
    """
    nbclient, nbformat, KernelSpecManager, KernelManager = _imports()
    spec = kernel_dir / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({sys.executable})", "language": "python"}))
    # Only this folder is searched: no other kernel spec can stand in for this interpreter.
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir / "kernels")])
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    notebook = nbformat.read(source, as_version=4)
    client = nbclient.NotebookClient(notebook, km=manager, kernel_name=KERNEL_NAME,
                                     timeout=CELL_TIMEOUT, allow_errors=False,
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return notebook


def _text(cell) -> str:
    """Everything a code cell printed or returned, as plain text."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif "data" in output and "text/plain" in output["data"]:
            parts.append(output["data"]["text/plain"])
    return "".join(parts)


def _tagged(notebook, tag: str):
    cells = [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    if os.environ.get("PARITY_FRONTIERS_SKIP_NOTEBOOK") == "1":
        pytest.skip("PARITY_FRONTIERS_SKIP_NOTEBOOK=1")
    workdir = tmp_path_factory.mktemp("tutorial-run")
    kernel_dir = tmp_path_factory.mktemp("tutorial-kernel")
    with pytest.MonkeyPatch.context() as env:
        # Connection files and IPython's profile and history go to the temporary folder, not
        # to a home directory that a CI sandbox may not let us write (the kernel inherits it).
        env.setenv("JUPYTER_RUNTIME_DIR", str(kernel_dir / "runtime"))
        env.setenv("IPYTHONDIR", str(kernel_dir / "ipython"))
        return execute_notebook(NOTEBOOK, workdir, kernel_dir), workdir


def test_every_cell_runs_and_writes_nothing_outside_its_temporary_folder(executed):
    notebook, workdir = executed
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code)
    assert not any(o["output_type"] == "error" for c in code for o in c.get("outputs", []))
    assert list(workdir.iterdir()) == []  # the store and report went to a tempfile folder


def test_monte_carlo_interval_covers_the_exact_value(executed):
    text = _text(_tagged(executed[0], "montecarlo"))
    assert "exact value inside the 95% interval: True" in text


def test_sweep_stores_every_run_of_the_grid_once(executed):
    text = _text(_tagged(executed[0], "sweep"))
    # 2 widths x 4 sizes x (dense + sparse s = 2) x 3 seeds
    assert re.search(r"trained 48 runs in \d+ s, \d+ succeeded; 48 runs in the store", text), text
    assert "second call: trained 0, skipped 48" in text


def test_every_stored_run_has_a_learning_curve(executed):
    text = _text(_tagged(executed[0], "curves"))
    match = re.search(r"(\d+) runs, (\d+) evaluations", text)
    assert match, text
    runs, evaluations = map(int, match.groups())
    # each run is evaluated every 50 steps until it succeeds or reaches its 1500 steps
    assert runs == 48 and runs <= evaluations <= runs * 1500 // 50


def test_summary_has_one_row_per_cell(executed):
    html = "".join(o["data"].get("text/html", "")
                   for o in _tagged(executed[0], "summary").outputs if "data" in o)
    body = html.split("<tbody>")[-1]
    assert body.count("<tr") == 16  # 2 widths x 4 sizes x (dense + sparse)


def test_report_writes_its_files(executed):
    names = _text(_tagged(executed[0], "report")).split()
    assert {"report.md", "report.json", "success_heatmap_n16_k3.png",
            "success_heatmap_n16_k3.pdf"} <= set(names)


def test_frontier_search_finds_m_star_inside_its_lattice(executed):
    text = _text(_tagged(executed[0], "search"))
    match = re.search(r"status (\w+): m\* = (\d+) \[(\d+), (\d+)\] from (\d+) runs", text)
    assert match, text
    status, m_star, low, high, runs = match.groups()
    assert status in ("converged", "budget")
    assert 30 <= int(low) <= int(m_star) <= int(high) <= 3000
    assert 0 < int(runs) <= 48


def test_committed_notebook_is_executed_and_small():
    """The notebook reads on GitHub (outputs kept) without bloating the repository."""
    notebook = json.loads(NOTEBOOK.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code)
    assert not any(o["output_type"] == "error" for c in code for o in c["outputs"])
    assert NOTEBOOK.stat().st_size < 400_000
