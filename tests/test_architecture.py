"""The layout holds: one namespace, no import cycles, no private names across modules, torch
only in verify.training, and a theory layer that loads neither torch nor numba.

The import graph is read from the source with :mod:`ast` (every ``import``, function-local ones
included), so a cycle hidden inside a function still counts.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Installed package name of each source folder (pyproject.toml's package-dir mapping).
FOLDERS = {"parity_frontiers": "parity_frontiers", "theory": "parity_frontiers.theory",
           "simulate": "parity_frontiers.simulate", "verify": "parity_frontiers.verify",
           "figures": "parity_frontiers.figures"}
#: Optional or heavy libraries that only the training subpackage may import.
TRAINING_ONLY = ("torch",)


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import statement of a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.append((base, [alias.name for alias in node.names], node.lineno))
    return out


def _edges() -> dict[str, set[str]]:
    graph = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, names, _ in _imports(name, path):
            for target in [f"{module}.{n}" for n in names] + [module]:
                if target in MODULES and target != name:
                    graph[name].add(target)
                    break
    return graph


def test_no_import_cycles():
    graph = _edges()
    # Tarjan's strongly connected components, iteratively small enough to recurse here.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node, counter=[0]):  # noqa: B006 - a counter shared by the recursion
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            # a package importing its own submodules lazily is not a cycle of modules
            if len(component) > 1 and not all(
                    c.startswith(min(component, key=len) + ".") or c == min(component, key=len)
                    for c in component):
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []


def test_no_private_name_imported_across_modules():
    offenders = []
    for name, path in MODULES.items():
        for module, names, line in _imports(name, path):
            if not module.startswith("parity_frontiers"):
                continue
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if private and module != name:
                offenders.append(f"{path.relative_to(ROOT)}:{line} {module} {private}")
    assert offenders == []


def test_only_the_training_subpackage_imports_torch():
    offenders = []
    for name, path in MODULES.items():
        if name.startswith("parity_frontiers.verify.training"):
            continue
        for module, _, line in _imports(name, path):
            if module.split(".")[0] in TRAINING_ONLY:
                offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert offenders == []


@pytest.mark.parametrize("module, absent", [
    ("parity_frontiers.theory", ("torch", "numba")),
    ("parity_frontiers.cli", ("torch", "numba")),
    ("parity_frontiers.verify.analysis.frontier", ("torch",)),
    ("parity_frontiers.verify.experiments.grid", ("torch",)),
])
def test_fresh_interpreter_import_stays_light(module, absent):
    code = (f"import sys, {module}; "
            f"print(sorted(m for m in {absent!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_only_parity_frontiers_is_importable_at_the_top_level():
    # Run outside the repository, so the folders themselves are not on sys.path.
    code = ("import importlib.util as u; "
            "print([n for n in ('theory', 'simulate', 'verify', 'figures') if u.find_spec(n)])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(sys.prefix))
    assert out.stdout.strip() == "[]"


def test_no_module_over_the_size_limit():
    # About 400 lines is the project's limit; 460 leaves room for a docstring's growth.
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values()
            if (n := len(p.read_text().splitlines())) > 460}
    assert long == {}


def test_the_wheel_holds_every_module_under_one_top_level_name(tmp_path):
    # Built without isolation from the installed setuptools: no network needed.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert {n.split("/")[0] for n in names} == {"parity_frontiers",
                                                  wheel.name.split("-")[0] + "-"
                                                  + wheel.name.split("-")[1] + ".dist-info"}
    shipped = {n[:-3].replace("/", ".").removesuffix(".__init__") for n in names
               if n.endswith(".py")}
    assert set(MODULES) <= shipped
    assert "parity_frontiers/figures/scales/cpu.toml" in names
