"""``pyomo:<name>``: any solver plug-in of Pyomo's ``SolverFactory`` as a backend.

The common options are translated into the plug-in's own names (``time_limit``
becomes ``seconds`` for CBC, ``tmlim`` for GLPK, ``TimeLimit`` for Gurobi ...,
see :mod:`gridgames.solvers.plugins`); other options go to the plug-in as
they are (Pyomo cannot list a plug-in's options, so their names are checked
by the solver at solve time; a refusal comes back as an ``error`` result with
the solver's message).  Models are checked like every backend's: the declared
problem classes of known plug-ins, and finite data.

>>> from gridgames.solvers import get_solver
>>> get_solver("pyomo:nonsense")
Traceback (most recent call last):
...
gridgames.solvers.errors.UnknownSolverError: Pyomo has no solver plug-in 'nonsense' ...
"""
from __future__ import annotations

import difflib
import logging
import math
import time
from typing import Any

import pyomo.environ as pyo
from pyomo.opt import TerminationCondition as LegacyTC

from gridgames.solvers.errors import SolverOptionError, UnknownSolverError
from gridgames.solvers.options import COMMON_OPTIONS, check_common_values
from gridgames.solvers.plugins import (KNOWN_PLUGINS, plugin_available, plugin_exists, plugin_facts, pyomo_plugin_names,
                                       similar_plugins)
from gridgames.solvers.result import SolveResult, SolveStatus
from gridgames.solvers.validate import check_finite, validate_model

log = logging.getLogger(__name__)

_LEGACY_STATUS = {
    LegacyTC.optimal: SolveStatus.OPTIMAL,
    LegacyTC.globallyOptimal: SolveStatus.OPTIMAL,
    LegacyTC.locallyOptimal: SolveStatus.LOCALLY_OPTIMAL,
    LegacyTC.infeasible: SolveStatus.INFEASIBLE,
    LegacyTC.unbounded: SolveStatus.UNBOUNDED,
    LegacyTC.infeasibleOrUnbounded: SolveStatus.INFEASIBLE,
    LegacyTC.maxIterations: SolveStatus.ITERATION_LIMIT,
    LegacyTC.maxTimeLimit: SolveStatus.TIME_LIMIT,
}

#: Pyomo plug-ins running HiGHS (its option names are known; its thread pool is per process)
_HIGHS_PLUGINS = ("highs", "appsi_highs")

#: Problem classes claimed in listings for a plug-in whose features are unknown.
UNKNOWN_FEATURES: frozenset[str] = frozenset()


def translate_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The common options of ``options`` renamed for the plug-in ``name``; others unchanged.

    Raises
    ------
    SolverOptionError
        A common option the plug-in has no known name for, a bad value, or a
        name one typo away from a common option.
    """
    facts = plugin_facts(name)
    check_common_values(f"pyomo:{name}", options)
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in COMMON_OPTIONS:
            if value is None:
                continue
            if key not in facts.options:
                raise SolverOptionError(
                    f"solver 'pyomo:{name}': gridgames does not know the plug-in's name for '{key}' "
                    f"({'it has none' if name in KNOWN_PLUGINS else 'unknown plug-in'}); pass the solver's own option "
                    "name instead")
            out[facts.options[key]] = value
            continue
        close = difflib.get_close_matches(key, list(COMMON_OPTIONS), n=1, cutoff=0.75)
        if close and key not in facts.options.values():
            raise SolverOptionError(f"solver 'pyomo:{name}': unknown option '{key}' (did you mean "
                                    f"'{close[0]}'?); common options: {', '.join(COMMON_OPTIONS)}; other names "
                                    "go to the plug-in unchanged")
        out[key] = value
    return out


class PyomoLegacySolver:
    """Any solver Pyomo's ``SolverFactory`` knows, as ``pyomo:<name>``.

    Parameters
    ----------
    pyomo_name : str
        The plug-in's name (``glpk``, ``cbc``, ``gurobi_direct`` ...).
    time_limit, mip_gap, threads : optional
        Common options, translated (see :func:`translate_options`).
    **options
        The plug-in's own options, passed unchanged.
    """

    def __init__(self, pyomo_name: str, **options: Any) -> None:
        self.pyomo_name = pyomo_name
        self.name = f"pyomo:{pyomo_name}"
        facts = plugin_facts(pyomo_name)
        #: None: the plug-in's problem classes are not known (then not checked)
        self.declared_features = facts.features
        self.features = facts.features if facts.features is not None else UNKNOWN_FEATURES
        if pyomo_name in _HIGHS_PLUGINS:   # HiGHS lists its options: a misspelled one is refused here
            from gridgames.solvers.options import check_names, highs_option_names
            check_names(self.name, options, highs_option_names())
        self.options = translate_options(pyomo_name, options)
        self._solver = pyo.SolverFactory(pyomo_name)

    def solve(self, model: pyo.Block, *, tee: bool = False, **overrides: Any) -> SolveResult:
        """Check the model, solve it with the plug-in, load the point when there is one."""
        validate_model(model, self.name, self.declared_features,
                       alternatives="Try 'highs' (LP/QP/MILP), 'scip' (MIQP/MINLP) or 'ipopt' (NLP).")
        options = {**self.options, **translate_options(self.pyomo_name, overrides)}
        if self.pyomo_name in _HIGHS_PLUGINS and options.get("threads") is not None:
            from gridgames.solvers.pyomo_backend import _highs_scheduler   # one HiGHS thread pool per process
            _highs_scheduler(int(options["threads"]))
        start = time.perf_counter()
        # a sub-block (a player's block, a view) has no ``solutions`` store to load from afterwards: Pyomo loads
        # the point itself then (and raises on a status without one, a status here)
        own_store = hasattr(model, "solutions")
        try:
            res = self._solver.solve(model, tee=tee, load_solutions=not own_store, options=options)
        except Exception as exc:  # noqa: BLE001 - a plug-in failure (bad option, crash) is a status
            first = (str(exc).strip().splitlines() or [""])[0]
            log.warning("%s raised %s: %s", self.name, type(exc).__name__, first)
            return SolveResult(SolveStatus.ERROR, None, time.perf_counter() - start, None, self.name,
                               f"{self.name} failed: {type(exc).__name__}: {first}")
        tc = res.solver.termination_condition
        status = _LEGACY_STATUS.get(tc, SolveStatus.ERROR)
        objective = None
        if status.is_ok and (len(res.solution) > 0 or not own_store):
            if own_store:
                model.solutions.load_from(res)
            obj = next(model.component_data_objects(pyo.Objective, active=True))
            objective = pyo.value(obj)
            if not math.isfinite(objective):
                check_finite(model)
                status, objective = SolveStatus.ERROR, None
        message = str(res.solver.message or "")
        if message.strip() in ("", "<undefined>", "None"):   # Pyomo's placeholder: say what is known instead
            message = f"termination condition: {tc}"
        return SolveResult(status, objective, time.perf_counter() - start, None, self.name, message)


def pyomo_passthrough_info(pyomo_name: str):
    """A registry entry built on demand for ``pyomo:<pyomo_name>``.

    Raises
    ------
    UnknownSolverError
        Pyomo has no such plug-in (nor is there an executable of that name
        for its AMPL interface); close names are suggested.
    """
    from gridgames.solvers.registry import SolverInfo

    if not pyomo_name or not plugin_exists(pyomo_name):
        close = similar_plugins(pyomo_name)
        raise UnknownSolverError(
            f"Pyomo has no solver plug-in {pyomo_name!r}"
            + (f" (did you mean {' or '.join('pyomo:' + c for c in close)}?)" if close else "")
            + f"; common ones: {', '.join(n for n in KNOWN_PLUGINS if n in pyomo_plugin_names())} "
            f"(Pyomo registers {len(pyomo_plugin_names())}; `gridgames solvers` shows the installed ones)")
    facts = plugin_facts(pyomo_name)

    def factory(**options: Any) -> PyomoLegacySolver:
        return PyomoLegacySolver(pyomo_name, **options)

    description = f"Pyomo's '{pyomo_name}' plug-in" + ("" if facts.features is not None else " (features unknown)")
    return SolverInfo(f"pyomo:{pyomo_name}", factory, pyomo_name,
                      facts.features if facts.features is not None else UNKNOWN_FEATURES,
                      description, lambda: plugin_available(pyomo_name), hint=facts.hint,
                      features_known=facts.features is not None, checks_model=True)


__all__ = ["PyomoLegacySolver", "pyomo_passthrough_info", "translate_options"]
