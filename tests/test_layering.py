"""The import layering of docs/architecture.md, checked on the source with ``ast``.

Every ``import``/``from ... import`` of a ``gridgames`` module anywhere in a
module (top level or inside a function) is an edge; each package may only
import the packages its row in :data:`ALLOWED` names.  Old module names (kept
importable for users by ``gridgames/_moved.py``) must not be used inside the
package.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gridgames._moved import MOVED

ROOT = Path(__file__).resolve().parents[1]
#: source folder -> installed package name (pyproject.toml's package-dir)
FOLDERS = {"gridgames": "gridgames", "models": "gridgames.models", "solvers": "gridgames.solvers",
           "forecasting": "gridgames.forecasting", "benchmarks": "gridgames.benchmarks"}
BASE = ("gridgames.solvers.errors", "gridgames._lazy", "gridgames.io")
FAMILY_SHARED = ("gridgames.models.instance", "gridgames.models.report", "gridgames.models.study",
                 "gridgames.models.schema", "gridgames.models.households")
#: layer -> the layers it may import (besides itself); the longest matching prefix decides the layer
ALLOWED: dict[str, tuple[str, ...]] = {
    "gridgames.solvers.errors": (),
    "gridgames._lazy": (),
    "gridgames.io": ("gridgames.solvers.errors",),
    "gridgames.plotting": (),
    "gridgames.data": BASE,
    "gridgames.solvers": ("gridgames.solvers", "gridgames._lazy"),
    "gridgames.forecasting": (*BASE, "gridgames.data", "gridgames.plotting"),
    "gridgames.models": (*BASE, "gridgames.solvers", "gridgames.data", "gridgames.plotting",
                         "gridgames.forecasting"),
    "gridgames.models.households": (*BASE, "gridgames.solvers", "gridgames.models.instance",
                                    "gridgames.models.schema", "gridgames.data"),
    **{f"gridgames.models.{family}": (*BASE, "gridgames.solvers", "gridgames.data", "gridgames.plotting",
                                      "gridgames.forecasting", *FAMILY_SHARED)
       for family in ("dispatch", "stackelberg", "tou", "microgrid", "rtp")},
    "gridgames.benchmarks": (*BASE, "gridgames.solvers", "gridgames.data", "gridgames.plotting",
                             "gridgames.forecasting", "gridgames.models"),
    "gridgames.cli": ("gridgames",),
    "gridgames": ("gridgames",),
}


def _modules() -> dict[str, Path]:
    out = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            out[".".join((package, *parts))] = path
    return out


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.add(name)
            found |= {f"{name}.{alias.name}" for alias in node.names}   # `from pkg import submodule`
    return {name for name in found if name == "gridgames" or name.startswith("gridgames.")}


def _layer(name: str) -> str:
    return max((layer for layer in ALLOWED if name == layer or name.startswith(layer + ".")), key=len)


def _inside(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


MODULES = _modules()


def crossings(imports: dict[str, set[str]]) -> list[str]:
    """``importer -> imported`` edges that the layering forbids."""
    bad = set()
    for module, names in imports.items():
        layer = _layer(module)
        for name in sorted(names):
            if name in MODULES or any(m.startswith(name + ".") for m in MODULES):
                target = name
            else:   # `from pkg import attribute`: the edge is to pkg
                target = name.rpartition(".")[0]
            if _inside(target, (layer, *ALLOWED[layer])) or target == "gridgames" and layer == "gridgames":
                continue
            bad.add(f"{module} -> {target}")
    return sorted(bad)


def test_no_import_crosses_the_layering():
    imports = {module: _imports(path, module) for module, path in MODULES.items()}
    bad = crossings(imports)
    assert not bad, "imports across the layering (docs/architecture.md):\n" + "\n".join(bad)


def test_old_module_names_are_not_used_inside_the_package():
    used = [f"{module} -> {name}" for module, path in MODULES.items() for name in _imports(path, module)
            if name in MOVED]
    assert not used, used


@pytest.mark.parametrize("edge", [("gridgames.solvers.registry", "gridgames.models.instance"),
                                  ("gridgames.forecasting.api", "gridgames.models.tou.solve"),
                                  ("gridgames.models.tou.city", "gridgames.cli.run"),
                                  ("gridgames.models.rtp.study", "gridgames.models.stackelberg.solve"),
                                  ("gridgames.data.series", "gridgames.forecasting.validation")])
def test_the_check_catches_a_crossing(edge):
    importer, imported = edge
    assert crossings({importer: {imported}}) == [f"{importer} -> {imported}"]
