"""BOLIB linear and quadratic bilevel test problems as Pyomo models for ``solve_bilevel``.

Source: S. Zhou, A. B. Zemkoho and A. Tin, "BOLIB: Bilevel Optimization
LIBrary of test problems", in *Bilevel Optimization*, Springer 2020
(arXiv:1812.00230), version 2 of the library (``biopt.github.io/bolib``).
Each problem's name is BOLIB's key, the first author and year of the paper it
comes from (e.g. ``CandlerTownsley1982``: Candler & Townsley, "A linear
two-level programming problem", Comput. Oper. Res. 9, 1982); the full
references are in BOLIB's paper.  The formulas were transcribed from the
library's MATLAB files (through the Julia conversion BOLIB.jl, which keeps
the expressions verbatim and writes every constraint as ``≥ 0``), and the
known values ``F*`` (leader) and ``f*`` (follower) from the library's
``InfomAllExamp.m``; ``flag`` is BOLIB's: 1 = the optimum published in the
source, 2 = the best value known.

Every problem reads (both levels minimise)::

    min_x F(x, y)   s.t.  G(x, y) ≥ 0,   y ∈ argmin_y { f(x, y) : g(x, y) ≥ 0 }

and :func:`build_bolib` writes it the engine's way: the leader's variables
``m.x[1..nx]`` and constraints at the top, the follower block ``m.follower``
holding ``y[1..ny]``, ``g`` and ``f``.  A row of ``G`` or ``g`` that is a
bound on one variable (``x[1] ≥ 0``, ``20 − y[2] ≥ 0``) becomes that
variable's bound, which is how the papers state them.

Known values: where a global method finds a better leader value than the
library's at a point whose follower gap a certified re-solve puts at 0 (7
problems: local values published as optima, rounding, the optimistic reading
of a tie), the value checked is the corrected one, with the point and a hand
derivation in :data:`~gridgames.benchmarks.bolib_problems.CORRECTIONS`;
``AnandalinghamWhite1990``'s ``f* = 15`` should read 17 (``3y − x`` at its own
optimum ``(16, 11)``).  ``TuyEtal2007Ex3`` is unbounded as transcribed and left
out.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyomo.environ as pyo
from pyomo.repn.standard_repn import generate_standard_repn

Rows = Callable[[object, object], Sequence[object]]


@dataclass(frozen=True)
class BolibProblem:
    """One BOLIB problem: dimensions, the four functions and the known values.

    ``F`` and ``f`` map ``(x, y)`` (1-indexed Pyomo variables) to an
    expression; ``G`` and ``g`` to a list of expressions that must be ``≥ 0``.
    """

    name: str
    nx: int
    ny: int
    F: Callable[[object, object], object]
    G: Rows
    f: Callable[[object, object], object]
    g: Rows
    F_star: float
    f_star: float
    flag: int
    kind: str = "linear"

    @property
    def exact(self) -> bool:
        """True when BOLIB marks ``F*`` as the published optimum (not only the best known value)."""
        return self.flag == 1


def _single_variable_bound(expr: object) -> tuple[object, float, float] | None:
    """``(var, coefficient, constant)`` when ``expr`` is ``a·v + b`` for one variable, else None."""
    repn = generate_standard_repn(expr, quadratic=False)
    if repn.nonlinear_expr is not None or len(repn.linear_vars) != 1:
        return None
    return repn.linear_vars[0], float(repn.linear_coefs[0]), float(repn.constant)


def _add_rows(owner: pyo.Block, name: str, rows: Sequence[object]) -> None:
    """Rows ``r ≥ 0``: single-variable rows tighten that variable's bounds, the rest become constraints."""
    kept = []
    for row in rows:
        bound = _single_variable_bound(row)
        if bound is None:
            kept.append(row)
            continue
        var, a, b = bound                      # a·v + b ≥ 0
        if a > 0:
            value = -b / a
            var.setlb(value if var.lb is None else max(var.lb, value))
        else:
            value = -b / a
            var.setub(value if var.ub is None else min(var.ub, value))
    owner.add_component(name, pyo.Constraint(range(len(kept)), rule=lambda _, i: kept[i] >= 0))


def build_bolib(problem: BolibProblem | str) -> pyo.ConcreteModel:
    """The problem as a Pyomo bilevel model: leader ``m.x``, follower block ``m.follower``.

    Examples
    --------
    >>> from gridgames.solvers import solve_bilevel
    >>> m = build_bolib("LiuHart1994")
    >>> res = solve_bilevel(m, m.follower, method="kkt-bigm")   # F* = -16
    """
    if isinstance(problem, str):
        from gridgames.benchmarks.bolib_problems import get_problem
        problem = get_problem(problem)
    m = pyo.ConcreteModel(name=problem.name)
    m.x = pyo.Var(pyo.RangeSet(problem.nx), initialize=0.0)
    m.follower = pyo.Block()
    m.follower.y = pyo.Var(pyo.RangeSet(problem.ny), initialize=0.0)
    x, y = m.x, m.follower.y
    _add_rows(m, "G", problem.G(x, y))
    _add_rows(m.follower, "g", problem.g(x, y))
    m.follower.objective = pyo.Objective(expr=problem.f(x, y))
    m.objective = pyo.Objective(expr=problem.F(x, y))
    return m
