"""The contract every model family implements once: a :class:`Study`.

A study declares its ``name`` (the ``model = "..."`` of instance files), its
solution ``methods``, the ``solvers`` it can use and its ``options`` (typed,
with defaults and help).  Running it is always the same three steps::

    config = study.load(instance, options)                 # instance sections, checked
    report = study.solve(config, method=..., solver=..., options=..., out=...)
    report.write(out)                                       # by the caller, once

:meth:`Study.run` does the first two after :meth:`Study.validate` has checked
method, solver and options against the declaration (an undeclared option is an
error naming the declared ones).  The CLI builds ``gridgames run INSTANCE``'s
family flags from :attr:`Study.options` (:meth:`Option.add_to`).

Examples
--------
>>> class Toy(Study):
...     name = "toy"
...     options = (Option("day", str, help="one day (YYYY-MM-DD)"),)
...     def solve(self, config, *, method, solver, options, out=None):
...         return RunReport(f"toy on {options['day']}")
>>> Toy().validate(None, None, {"days": 3})      # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
ModelError: model 'toy' has no option 'days'; its options: day
"""
from __future__ import annotations

import abc
import argparse
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from gridgames.models.instance import Instance, get_model, load_instance
from gridgames.models.report import RunReport
from gridgames.models.schema import Schema
from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Option:
    """One family-specific option of a study (a ``gridgames run`` flag and a keyword of ``run``).

    Parameters
    ----------
    name : str
        Keyword name (``demand_forecast``); the flag is ``--demand-forecast``.
    type : callable
        Converts a command-line string (``str``, ``int``, ``float``, ``bool``).
    default : Any
        Value when not given (``None``: the instance file decides).
    help : str
        One line for ``gridgames run INSTANCE --help``.
    choices : tuple, optional
        The allowed values.
    nargs : int, optional
        Number of values (``days FIRST LAST`` is ``nargs=2``).
    metavar : str or tuple, optional
        Placeholder(s) in the help text.
    """

    name: str
    type: Callable[[str], Any] = str
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] | None = None
    nargs: int | None = None
    metavar: str | tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def add_to(self, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        """Add this option as a flag of ``parser`` (a bool becomes ``--x/--no-x``)."""
        text = self.help + (f" (default: {self.default})" if self.default is not None else "")
        if self.type is bool:
            parser.add_argument(self.flag, dest=self.name, action=argparse.BooleanOptionalAction,
                                default=None, help=text)
            return
        parser.add_argument(self.flag, dest=self.name, type=self.type, default=None, help=text,
                            choices=self.choices, nargs=self.nargs, metavar=self.metavar)

    def check(self, value: Any, study: str) -> Any:
        """``value`` converted and checked; a :class:`ModelError` naming the option otherwise."""
        if self.nargs is not None:
            if not isinstance(value, (list, tuple)) or len(value) != self.nargs:
                raise ModelError(f"model '{study}': option {self.name!r} takes {self.nargs} values, got {value!r}")
            return [self._one(v, study) for v in value]
        return self._one(value, study)

    def _one(self, value: Any, study: str) -> Any:
        if self.type is bool:
            if not isinstance(value, bool):
                raise ModelError(f"model '{study}': option {self.name!r} must be true or false, got {value!r}")
        elif not (self.type in (str, int, float) and isinstance(value, self.type)):
            try:
                value = self.type(value)
            except (TypeError, ValueError) as exc:
                raise ModelError(f"model '{study}': option {self.name!r}: {exc}") from None
        if self.choices is not None and value not in self.choices:
            raise ModelError(f"model '{study}': option {self.name!r} must be one of "
                             f"{', '.join(map(str, self.choices))}, got {value!r}")
        return value


class Study(abc.ABC):
    """A model family: what an instance with ``model = name`` runs.

    Class attributes
    ----------------
    name : str
        The instance files' ``model`` value.
    description : str
        One line for ``gridgames run --help`` and the registry.
    methods : tuple of str
        Solution methods (empty: one solution path, ``--method`` is refused).
    default_method : str or None
        Used when no method is given (the instance may decide when None).
    solvers : tuple of str or None
        Solvers the family accepts (``None``: any registered solver).
    options : tuple of Option
        Family-specific options; anything else is refused.
    fields : Schema or None
        The declared instance fields (:mod:`gridgames.models.schema`): the keys the
        family's reader accepts, ``gridgames schema MODEL`` and ``gridgames new``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    methods: ClassVar[tuple[str, ...]] = ()
    default_method: ClassVar[str | None] = None
    solvers: ClassVar[tuple[str, ...] | None] = None
    options: ClassVar[tuple[Option, ...]] = ()
    fields: ClassVar[Schema | None] = None

    # -- the contract --------------------------------------------------------------
    def load(self, instance: Instance, options: Mapping[str, Any]) -> Any:
        """Parse and check the instance's sections (all problems at once); default: the instance itself."""
        return instance

    @abc.abstractmethod
    def solve(self, config: Any, *, method: str | None, solver: str | None, options: Mapping[str, Any],
              out: Path | None = None) -> RunReport:
        """Solve the loaded instance and return its report (the caller writes it)."""

    # -- shared by every family ------------------------------------------------------
    def option_names(self) -> list[str]:
        return [o.name for o in self.options]

    def validate(self, method: str | None, solver: str | None,
                 options: Mapping[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
        """Check method, solver and options against the declaration; the options with defaults filled in.

        Raises
        ------
        ModelError
            An undeclared option (naming the declared ones), a method the family
            does not have, or a solver it cannot use.
        """
        declared = {o.name: o for o in self.options}
        unknown = sorted(k for k, v in options.items() if v is not None and k not in declared)
        if unknown:
            known = ", ".join(self.option_names()) or "none (only --method/--solver/--out)"
            raise ModelError(f"model '{self.name}' has no option{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(map(repr, unknown))}; its options: {known}")
        if method is not None:
            if not self.methods:
                raise ModelError(f"model '{self.name}' has one solution path; --method does not apply "
                                 "(use --solver to pick the solver)")
            if method not in self.methods:
                raise ModelError(f"model '{self.name}' has no method {method!r}; "
                                 f"choose one of {', '.join(self.methods)}")
        if solver is not None and self.solvers is not None and solver not in self.solvers:
            raise ModelError(f"model '{self.name}' runs with solver {', '.join(self.solvers)} only; "
                             f"--solver {solver!r} is not supported")
        if solver is not None:
            from gridgames.solvers.registry import solver_info
            solver_info(solver)   # an unknown name is refused here, whether or not the method uses a solver
        values = {name: (opt.default if options.get(name) is None else opt.check(options[name], self.name))
                  for name, opt in declared.items()}
        return method if method is not None else self.default_method, solver, values

    def run(self, instance: Instance, *, method: str | None = None, solver: str | None = None,
            out: str | Path | None = None, **options: Any) -> RunReport:
        """Validate, load, solve: the report of one instance (not written; see :meth:`RunReport.write`)."""
        method, solver, values = self.validate(method, solver, options)
        config = self.load(instance, values)
        log.info("%s: solving %s (method %s, solver %s)", self.name, instance.path.name, method, solver)
        return self.solve(config, method=method, solver=solver, options=values,
                          out=Path(out) if out is not None else None)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The family's flags, in a group named after the study."""
        if self.options:
            group = parser.add_argument_group(f"options of model '{self.name}'")
            for option in self.options:
                option.add_to(group)


def run_file(path: str | Path, *, method: str | None = None, solver: str | None = None, **options: Any
             ) -> RunReport:
    """Load an instance file (or a shipped instance by name) and run its model family's study.

    The report is returned unwritten: ``report.write(out)`` writes its tables
    and figures (``gridgames run --out`` does exactly this).  ``out`` among
    ``options`` goes to families that write while they run (the TOU city).

    Examples
    --------
    >>> report = run_file("dispatch_small", solver="highs")     # doctest: +SKIP
    >>> print(report.format())                                  # doctest: +SKIP
    """
    instance = load_instance(path)
    entry = get_model(instance.model)
    if entry.study is not None:
        return entry.study.run(instance, method=method, solver=solver, **options)
    extra = {"method": method} if method else {}
    return entry.run(instance, solver=solver, **extra, **options)
