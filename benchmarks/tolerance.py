"""What a benchmark row must show to pass: per-family, per-method tolerances and the verdict.

A family declares its tolerances where it registers (``@case_family("smd",
tolerance=...)``): one :class:`Tolerance`, or a mapping from method patterns
(shell style, first match wins) to tolerances, e.g. exact methods held to
``1e-6`` of the reference and a genetic algorithm judged only on its
certificate::

    @case_family("engine", tolerance={"analytic": EXACT, "kkt": LOCAL, "*": HEURISTIC})

The runner stores the tolerance that applies in each case's record, so a
results folder can be reported without the family's code.  The report's
``check`` column then says, per row:

``pass``
    status allowed, ``|leader_gap| <= objective``, ``eq_gap <= eq_gap``
    (each only where the row and the tolerance have it);
``fail: ...``
    a method that promises the reference (``guaranteed=True``) missed it, or
    the status is not one the tolerance allows — a regression;
``miss: ...``
    a local or heuristic method (``guaranteed=False``) ended outside the
    tolerance: expected now and then, reported, not a suite failure;
``-``
    the family declares no tolerance.

Example
-------
>>> check_row({"status": "optimal", "leader_gap": 3e-9, "eq_gap": 0.0}, EXACT)
'pass'
>>> check_row({"status": "optimal", "leader_gap": 0.02}, EXACT)
'fail: leader_gap 0.02 > 1e-06'
>>> check_row({"status": "feasible", "leader_gap": 0.3, "eq_gap": 0.0}, HEURISTIC)
'miss: leader_gap 0.3 > 0.001'
"""
from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Tolerance:
    """How close a row must come to its reference.

    Parameters
    ----------
    objective : float or None
        Largest ``|leader_gap|`` (the row's relative gap to the reference);
        None: the objective is reported, not judged (heuristics, forecasts).
    eq_gap : float or None
        Largest equilibrium / follower gap (``eq_gap``); None: not judged.
    statuses : tuple of str
        Statuses that pass.
    guaranteed : bool
        The method promises the tolerance (global or exact): a miss is a
        ``fail``.  False for local and heuristic methods: a miss is a ``miss``.
    """

    objective: float | None = 1e-6
    eq_gap: float | None = 1e-5
    statuses: tuple[str, ...] = ("optimal",)
    guaranteed: bool = True

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["statuses"] = list(self.statuses)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Tolerance":
        return cls(objective=data.get("objective"), eq_gap=data.get("eq_gap"),
                   statuses=tuple(data.get("statuses", ("optimal",))),
                   guaranteed=bool(data.get("guaranteed", True)))


#: a global or closed-form method: the reference to 1e-6, a certified optimum
EXACT = Tolerance()
#: a closed form loaded by ``solve_bilevel(method="analytic", equilibrium=...)``: the reference to 1e-6, the
#: followers checked, the leader's choice the closed form's claim (``feasible``)
CLOSED_FORM = Tolerance(statuses=("feasible",))
#: a global method under a time limit: a miss (e.g. ``time_limit``) is reported, not a regression
GLOBAL_LIMITED = Tolerance(guaranteed=False)
#: a local method on a problem where local is global (a concave game, a convex follower): a miss is a regression
CONVEX_LOCAL = Tolerance(statuses=("optimal", "locally_optimal"))
#: a local method (Ipopt, Newton) on a non-convex problem: the reference to 1e-6 when it gets there
LOCAL = Tolerance(statuses=("optimal", "locally_optimal"), guaranteed=False)
#: a heuristic (GA, PSO, evolutionary front): within 0.1 % of the reference, a certified follower/player gap
HEURISTIC = Tolerance(objective=1e-3, statuses=("optimal", "locally_optimal", "feasible"), guaranteed=False)
#: accuracy reported, not judged (forecasts, whole-instance runs)
REPORTED = Tolerance(objective=None, eq_gap=None, statuses=("ok",))

FamilyTolerance = Union[Tolerance, Mapping[str, Tolerance], None]


def tolerance_for(declared: FamilyTolerance, method: str | None) -> Tolerance | None:
    """The tolerance that applies to a row of ``method`` (None: the family declares none)."""
    if declared is None or isinstance(declared, Tolerance):
        return declared
    for pattern, tol in declared.items():
        if fnmatch.fnmatchcase(str(method or ""), pattern):
            return tol
    return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def check_row(row: Mapping[str, Any], tolerance: Tolerance | Mapping[str, Any] | None) -> str:
    """``pass``, ``fail: why``, ``miss: why`` or ``-`` for one case row (see the module docstring)."""
    if tolerance is None:
        return "-"
    if not isinstance(tolerance, Tolerance):
        tolerance = Tolerance.from_dict(tolerance)
    status = str(row.get("status", ""))
    problems = []
    if status not in tolerance.statuses:
        problems.append(f"status {status or 'missing'} (allowed: {', '.join(tolerance.statuses)})")
    gap = _number(row.get("leader_gap"))
    if tolerance.objective is not None and gap is not None and not abs(gap) <= tolerance.objective:
        problems.append(f"leader_gap {gap:.3g} > {tolerance.objective:g}")
    eq = _number(row.get("eq_gap"))
    if tolerance.eq_gap is not None and eq is not None and not eq <= tolerance.eq_gap:
        problems.append(f"eq_gap {eq:.3g} > {tolerance.eq_gap:g}")
    if not problems:
        return "pass"
    return ("fail: " if tolerance.guaranteed else "miss: ") + "; ".join(problems)
