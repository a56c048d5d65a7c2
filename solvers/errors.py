"""Exceptions of the solver layer, each with a message that names the fix."""
from __future__ import annotations


class GridGamesError(Exception):
    """Base class of every error gridgames raises on purpose."""


class SolverNotAvailableError(GridGamesError):
    """The solver's Python package (or binary) is not installed."""

    def __init__(self, name: str, package: str, detail: str = "", *, hint: str = "") -> None:
        how = f"to install it: {hint}" if hint else f"install the '{package}' package (pip install {package})"
        msg = f"solver '{name}' is not available: {how}"
        if detail:
            msg += f" [{detail}]"
        super().__init__(msg)
        self.name, self.package = name, package


class UnknownSolverError(GridGamesError, KeyError):
    """A solver name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class UnsupportedModelError(GridGamesError):
    """The model needs a feature the chosen solver does not have."""


class ModelError(GridGamesError):
    """The model cannot be solved as stated (infeasible, unbounded, malformed)."""


class SolverOptionError(GridGamesError, ValueError):
    """An option a backend does not know, or a value it cannot take."""


class SolverRegistrationError(GridGamesError, ValueError):
    """A ``register_solver`` call that would break the registry (bad factory, name clash)."""


class SolveFailedError(GridGamesError):
    """A solve that did not succeed, raised on request (``on_error="raise"``).

    ``result`` is the result that would have been returned (status, message, gaps).
    """

    def __init__(self, result: object) -> None:
        status = getattr(result, "status", "?")
        super().__init__(f"{getattr(result, 'method', 'solve')}: {status}: {getattr(result, 'message', '')}")
        self.result = result
