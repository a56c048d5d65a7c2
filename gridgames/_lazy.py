"""Lazy re-exports for package ``__init__`` modules: a name's module is imported on first use.

>>> __getattr__, __dir__ = lazy_exports(__name__, globals(), {"solve_nash": "gridgames.solvers.games.nash"})
...                                                              # doctest: +SKIP
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any], names: dict[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` that import ``names[name]`` when ``name`` is first used.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (named in the ``AttributeError``).
    namespace : dict
        The package's ``globals()``; a resolved name is cached there.
    names : dict of str to str
        Public name -> module defining it.
    """
    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
