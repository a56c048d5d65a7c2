"""The error of bad input data: every problem of an instance file or a data file, at once."""
from __future__ import annotations

from collections.abc import Iterable

from gridgames.solvers.errors import GridGamesError


class InstanceError(GridGamesError, ValueError):
    """An instance file (or parameter set) with one or more problems.

    Attributes
    ----------
    problems : list of str
        One line per problem, each starting with the field path or file name.
    source : str
        The instance file (or a description of where the values came from).
    """

    def __init__(self, problems: Iterable[str], source: str = "instance") -> None:
        self.problems = list(problems)
        self.source = str(source)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        n = len(self.problems)
        super().__init__(f"{self.source}: {n} problem{'s' if n != 1 else ''}\n{lines}")
