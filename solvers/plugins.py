"""What gridgames knows about Pyomo's own solver plug-ins (``pyomo:<name>``).

For the common plug-ins: the problem classes each solves (so a QP is refused
before it reaches GLPK), how to install the solver behind it (a Debian
package, a conda package, a pip wheel or a vendor binary), and the plug-in's
native names of the common options ``time_limit``, ``mip_gap`` and
``threads``.  Plug-ins not listed here pass through with *unknown* features:
their model class is not checked and the common options cannot be translated.

>>> plugin_facts("glpk").features == frozenset({"lp", "milp"})
True
>>> plugin_facts("gurobi_persistent").hint.startswith("pip install gurobipy")
True
"""
from __future__ import annotations

import difflib
import logging
import shutil
from dataclasses import dataclass
from functools import cache

log = logging.getLogger(__name__)

_MIP_QP = frozenset({"lp", "qp", "milp", "miqp", "duals"})
_NLP = frozenset({"lp", "qp", "nlp", "duals"})
_ALL = frozenset({"lp", "qp", "milp", "miqp", "nlp", "minlp"})


@dataclass(frozen=True)
class PluginFacts:
    """Known facts about one Pyomo solver plug-in.

    Attributes
    ----------
    features : frozenset of str or None
        Problem classes it solves (see ``registry.FEATURES``); None when unknown.
    hint : str
        How to install what the plug-in runs.
    options : dict
        Native names of the common options it has (``time_limit``, ``mip_gap``,
        ``threads``); a common option missing here cannot be passed to it.
    """

    features: frozenset[str] | None
    hint: str
    options: dict[str, str]


_GUROBI = PluginFacts(_MIP_QP, "pip install gurobipy (size-limited licence included; larger models need a "
                               "Gurobi licence); pyomo:gurobi runs gurobi.sh of a full Gurobi install, "
                               "pyomo:gurobi_direct needs only gurobipy",
                      {"time_limit": "TimeLimit", "mip_gap": "MIPGap", "threads": "Threads"})
_CPLEX = PluginFacts(_MIP_QP, "pip install cplex (Community Edition, size-limited) and use pyomo:cplex_direct; "
                              "pyomo:cplex runs the cplex binary of a full CPLEX install",
                     {"time_limit": "timelimit", "mip_gap": "mip_tolerances_mipgap", "threads": "threads"})
_XPRESS = PluginFacts(_MIP_QP, "pip install xpress (community licence, size-limited)",
                      {"time_limit": "maxtime", "mip_gap": "miprelstop", "threads": "threads"})
_MOSEK = PluginFacts(_MIP_QP, "pip install mosek (a MOSEK licence is needed)",
                     {"time_limit": "dparam.optimizer_max_time", "mip_gap": "dparam.mio_tol_rel_gap",
                      "threads": "iparam.num_threads"})
_HIGHS = PluginFacts(frozenset({"lp", "qp", "milp", "duals"}),
                     "pip install highspy (or use gridgames' own 'highs')",
                     {"time_limit": "time_limit", "mip_gap": "mip_rel_gap", "threads": "threads"})
_SCIP_PY = PluginFacts(_ALL | {"global"}, "pip install pyscipopt (or use gridgames' own 'scip')",
                       {"time_limit": "limits/time", "mip_gap": "limits/gap", "threads": "lp/threads"})
_IPOPT_ASL = PluginFacts(_NLP, "the ipopt binary: conda install -c conda-forge ipopt, or pip install idaes-pse "
                               "&& idaes get-extensions (gridgames' own 'ipopt' needs neither)",
                         {"time_limit": "max_cpu_time"})

#: Known plug-ins by Pyomo name.
KNOWN_PLUGINS: dict[str, PluginFacts] = {
    "glpk": PluginFacts(frozenset({"lp", "milp", "duals"}),
                        "GLPK's glpsol binary: Debian/Ubuntu apt install glpk-utils, "
                        "conda install -c conda-forge glpk",
                        {"time_limit": "tmlim", "mip_gap": "mipgap"}),
    "cbc": PluginFacts(frozenset({"lp", "milp", "duals"}),
                       "the cbc binary: Debian/Ubuntu apt install coinor-cbc, "
                       "conda install -c conda-forge coin-or-cbc",
                       {"time_limit": "seconds", "mip_gap": "ratioGap", "threads": "threads"}),
    "gurobi": _GUROBI, "gurobi_direct": _GUROBI, "gurobi_persistent": _GUROBI, "appsi_gurobi": _GUROBI,
    "cplex": _CPLEX, "cplex_direct": _CPLEX, "cplex_persistent": _CPLEX, "appsi_cplex": _CPLEX,
    "xpress": _XPRESS, "xpress_direct": _XPRESS, "xpress_persistent": _XPRESS,
    "mosek": _MOSEK, "mosek_direct": _MOSEK, "mosek_persistent": _MOSEK,
    "highs": _HIGHS,
    "appsi_highs": PluginFacts(frozenset({"lp", "milp", "duals"}), _HIGHS.hint, _HIGHS.options),  # no quadratics
    "scip_direct": _SCIP_PY, "scip_persistent": _SCIP_PY,
    "scip": PluginFacts(_ALL | {"global"}, "the scip binary: conda install -c conda-forge scip "
                                           "(or use gridgames' own 'scip', which needs only pyscipopt)",
                        {"time_limit": "limits/time", "mip_gap": "limits/gap"}),
    "ipopt": _IPOPT_ASL, "ipopt_v2": _IPOPT_ASL, "appsi_ipopt": _IPOPT_ASL,
    "cyipopt": PluginFacts(_NLP, "pip install cyipopt plus PyNumero's ASL library (pyomo build-extensions); "
                                 "gridgames' own 'ipopt' needs neither", {"time_limit": "max_cpu_time"}),
    "baron": PluginFacts(_ALL | {"global"}, "the BARON binary from https://minlp.com (licence needed)",
                         {"time_limit": "MaxTime", "mip_gap": "EpsR", "threads": "threads"}),
    "knitroampl": PluginFacts(_ALL, "the knitroampl binary of a Knitro install (licence needed)", {}),
    "conopt": PluginFacts(frozenset({"lp", "qp", "nlp"}), "the conopt AMPL binary (licence needed)", {}),
    "bonmin": PluginFacts(_ALL, "the bonmin AMPL binary: conda install -c conda-forge coin-or-bonmin", {}),
    "couenne": PluginFacts(_ALL | {"global"},
                           "the couenne AMPL binary: conda install -c conda-forge coin-or-couenne", {}),
    "cuopt": PluginFacts(frozenset({"lp", "milp"}), "NVIDIA cuOpt's Python package (needs an NVIDIA GPU)", {}),
    "gams": PluginFacts(None, "a GAMS installation with the gams binary on PATH", {}),
}

#: Plug-ins ``gridgames solvers`` probes (each probe is a PATH lookup or an import: fast).
DETECTED = ("glpk", "cbc", "gurobi_direct", "gurobi", "cplex_direct", "cplex", "xpress_direct", "mosek_direct",
            "highs", "appsi_highs", "ipopt", "scip", "baron", "knitroampl", "conopt", "bonmin", "couenne", "gams")


def plugin_facts(name: str) -> PluginFacts:
    """What gridgames knows about the plug-in ``name`` (features None when nothing)."""
    return KNOWN_PLUGINS.get(name) or PluginFacts(
        None, f"install the solver that Pyomo's '{name}' plug-in runs (see Pyomo's documentation)", {})


@cache
def pyomo_plugin_names() -> tuple[str, ...]:
    """Every plug-in name Pyomo's ``SolverFactory`` registers (private ``_*`` ones left out)."""
    import pyomo.environ as pyo

    return tuple(sorted(n for n in pyo.SolverFactory if not n.startswith("_")))


def plugin_exists(name: str) -> bool:
    """Pyomo registers ``name``, or it is an executable Pyomo can run through its AMPL (ASL) interface."""
    return name in pyomo_plugin_names() or shutil.which(name) is not None


def similar_plugins(name: str) -> list[str]:
    """Registered plug-in names close to ``name``."""
    return difflib.get_close_matches(name, pyomo_plugin_names(), n=3, cutoff=0.6)


def plugin_available(name: str) -> bool:
    """True when ``SolverFactory(name).available(False)`` says the solver is installed."""
    if not plugin_exists(name):
        return False
    import pyomo.environ as pyo

    try:
        return bool(pyo.SolverFactory(name).available(exception_flag=False))
    except Exception as exc:  # noqa: BLE001 - plug-ins raise many kinds of errors when probed
        log.debug("pyomo plug-in %s: availability probe raised %s", name, exc)
        return False


def detect_plugins(names: tuple[str, ...] = DETECTED) -> list[str]:
    """The plug-ins among ``names`` whose solver is installed here."""
    return [name for name in names if plugin_available(name)]


__all__ = ["DETECTED", "KNOWN_PLUGINS", "PluginFacts", "detect_plugins", "plugin_available", "plugin_exists",
           "plugin_facts", "pyomo_plugin_names", "similar_plugins"]
