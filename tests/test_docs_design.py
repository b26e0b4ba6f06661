"""docs/design.md's module map lists every module of the library.

A module added without a line in the map (``  name.py   what it does``) fails here, so the
architecture page stays a complete map.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAP = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
LAYERS = ("theory", "simulate", "verify", "figures", "parity_frontiers")
MODULES = sorted(str(p.relative_to(ROOT)) for layer in LAYERS
                 for p in (ROOT / layer).rglob("*.py")
                 if p.name != "__init__.py" and "__pycache__" not in p.parts
                 and "reference" not in p.parts)


def test_the_walk_finds_the_modules():
    assert "verify/experiments/store.py" in MODULES
    assert len(MODULES) > 80


@pytest.mark.parametrize("path", MODULES)
def test_every_module_is_in_the_map(path):
    name = Path(path).name
    assert re.search(rf"^ +{re.escape(name)} +\S", MAP, flags=re.M), \
        f"docs/design.md's module map has no line for {path}"
