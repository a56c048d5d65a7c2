"""The honest status of a game answer: optimal only when every agent's gap is within tolerance.

A bilevel or Nash method reports how its *reformulation* ended (SCIP proved
its MINLP optimal, Ipopt converged, the GA ran its generations).  Whether the
answer is a bilevel solution or an equilibrium is a separate question, which
the agents' re-solves answer (:func:`~gridgames.solvers.verify`,
:func:`~gridgames.solvers.nash_gap`).  :func:`judge` combines the two:

* a gap above ``gap_tol · max(1, |agent objective|)`` (or a re-solve that
  failed) turns the status into ``FOLLOWER_NOT_OPTIMAL`` / ``NOT_EQUILIBRIUM``
  with a message giving the agent and its gap;
* a heuristic's status is ``FEASIBLE`` (nothing certifies optimality);
* ``on_error="raise"`` turns any status that is not ``is_ok`` into
  :class:`~gridgames.solvers.errors.SolveFailedError`.
"""
from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gridgames.solvers.errors import ModelError, SolveFailedError
from gridgames.solvers.result import SolveResult, SolveStatus

#: default gap tolerance, relative to ``max(1, |agent objective|)``: SCIP's feasibility tolerance
#: (1e-6) times multipliers of order 1-10 leaves gaps of a few 1e-6 at a correct global answer
GAP_TOL = 1e-5
#: default feasibility tolerance of the agents' re-solves (absolute, plus relative to the bound)
FEAS_TOL = 1e-6
ON_ERROR = ("return", "raise")


def gap_limit(value: float, gap_tol: float) -> float:
    """The largest gap accepted for an agent whose objective value is ``value``."""
    return gap_tol * max(1.0, abs(value)) if math.isfinite(value) else gap_tol


def judge(result: SolveResult, gaps: Mapping[str, tuple[float, float]], *, gap_tol: float,
          failed: SolveStatus, role: str) -> None:
    """Downgrade ``result.status`` to ``failed`` when some agent's gap exceeds its limit.

    Parameters
    ----------
    gaps : mapping
        Agent name → ``(gap, objective value)``; a ``nan`` gap (re-solve failed) fails.
    failed : SolveStatus
        ``FOLLOWER_NOT_OPTIMAL`` or ``NOT_EQUILIBRIUM``.
    role : str
        ``follower`` or ``player``, for the message.
    """
    result.extra["gap_tol"] = gap_tol      # the summary's tolerance column, whatever the verdict
    if not result.status.is_ok:
        return
    bad = [(name, gap, gap_limit(value, gap_tol)) for name, (gap, value) in gaps.items()
           if not (gap <= gap_limit(value, gap_tol))]
    if not bad:
        return
    worst = max(bad, key=lambda b: b[1] if math.isfinite(b[1]) else math.inf)
    result.message = (f"{role} '{worst[0]}' is not optimal at the returned point: gap {worst[1]:.3g} > "
                      f"tolerance {worst[2]:.3g}" + (f" ({len(bad) - 1} more {role}s)" if len(bad) > 1 else "")
                      + f"; the method itself reported {result.status.value}: {result.message}")
    result.status = failed


#: an agent's own constraints violated by more than this × ``feas_tol`` (relative to ``1 + |bound|``; 1e-4
#: by default, Ipopt's own ``constr_viol_tol``) at the returned point make the point infeasible for it
VIOLATION_FACTOR = 100


def judge_feasibility(result: SolveResult, points: Mapping[str, tuple[float, float, float, bool]], *,
                      gap_tol: float, feas_tol: float, failed: SolveStatus, role: str) -> None:
    """Downgrade ``result.status`` to ``failed`` when the returned point is not feasible for some agent.

    A gap check alone cannot see this: an infeasible point may beat every
    feasible response, so its gap is *negative* and passes.

    Parameters
    ----------
    points : mapping
        Agent name → ``(violation, gap, objective value, certified)``: the largest
        violation of its own constraints and bounds at the point (relative), its gap, and
        whether its re-solve was proven optimal.  Failed: a violation above
        ``VIOLATION_FACTOR · feas_tol``, or a certified gap below
        ``−gap_tol · max(1, |value|)`` (the point does better than the agent's
        proven optimum, so it is outside the agent's feasible set).  An uncertified
        (local) re-solve that much worse than the point did not find the agent's best
        response, so its gap certifies nothing: an optimal status becomes ``feasible``.
    """
    if not result.status.is_ok:
        return
    bad, unreached = [], []
    for name, (violation, gap, value, certified) in points.items():
        if violation > VIOLATION_FACTOR * feas_tol:
            bad.append((name, f"violates its own constraints or bounds by {violation:.3g} at the returned point "
                              f"(tolerance {VIOLATION_FACTOR * feas_tol:.0e})"))
        elif gap < -gap_limit(value, gap_tol):
            if certified:
                bad.append((name, f"does better at the returned point than its proven optimum (gap {gap:.3g}): "
                                  "the point is outside its feasible set"))
            else:
                unreached.append((name, gap))
    if bad:
        more = f" ({len(bad) - 1} more {role}s)" if len(bad) > 1 else ""
        result.message = (f"{role} '{bad[0][0]}' {bad[0][1]}{more}; the method itself reported "
                          f"{result.status.value}: {result.message}")
        result.status = failed
    elif unreached and result.status.is_optimal:
        name, gap = unreached[0]
        more = f" ({len(unreached) - 1} more {role}s)" if len(unreached) > 1 else ""
        result.message = (f"{role} '{name}''s re-solve is worse than the returned point by {-gap:.3g}{more}: the "
                          "local solver did not reach its best response there (a payoff with several local optima, "
                          "or undefined nearby), so its gap certifies nothing; the method itself reported "
                          f"{result.status.value}: {result.message}")
        result.status = SolveStatus.FEASIBLE


def judge_local(result: SolveResult, names: Sequence[str], *, role: str) -> None:
    """``OPTIMAL`` becomes ``LOCALLY_OPTIMAL`` when the agents ``names`` were re-solved locally only
    (and the message of any optimal status says so).

    Their gaps are within tolerance, but a local solver's re-solve of a problem
    not proved convex cannot rule out a better response elsewhere.
    """
    if not names or not result.status.is_ok:
        return
    shown = ", ".join(f"'{n}'" for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    if not result.status.is_optimal:   # feasible (a heuristic's answer): its gap needs the same caveat
        result.message += (f"; {role} {shown} {'is' if len(names) == 1 else 'are'} nonlinear, not proved convex, "
                           "and re-solved by a local solver: a gap of 0 rules out a better response nearby "
                           "only (pass solver='scip' to verify globally)")
        return
    result.status = SolveStatus.LOCALLY_OPTIMAL
    result.message += (f"; locally optimal only: {role} {shown} {'is' if len(names) == 1 else 'are'} nonlinear, "
                       "not proved convex, and re-solved by a local solver (pass solver='scip' to verify "
                       "globally)")


#: a variable with no bound on the side it ran to, beyond this × max(10, the agent's largest finite bound),
#: marks a problem that looks unbounded: a local solver stops where the gradient falls under its
#: tolerance (max log(1 + x) over x >= 0 ends "optimal" at x ~ 1e8 with gain 0 from re-solving)
RUNAWAY_FACTOR = 1e6


def runaway_variables(variables: Iterable[Any]) -> list[tuple[str, float]]:
    """``(name, value)`` of each variable beyond ``RUNAWAY_FACTOR × max(10, largest finite bound)`` on
    a side where it has no bound (one agent's variables)."""
    variables = [v for v in variables if v.value is not None]
    bounds = [abs(b) for v in variables for b in (v.lb, v.ub) if b is not None and math.isfinite(b)]
    limit = RUNAWAY_FACTOR * max([10.0] + bounds)
    return [(v.name, float(v.value)) for v in variables
            if (v.value > limit and v.ub is None) or (v.value < -limit and v.lb is None)]


def judge_runaway(result: SolveResult, variables: Mapping[str, Iterable[Any]], *, failed: SolveStatus,
                  role: str) -> None:
    """Downgrade a successful status to ``failed`` when an agent's variable ran away to a huge value
    on an unbounded side (:func:`runaway_variables`): the agent's problem looks unbounded, and a
    re-solve that stops at the same huge value certifies nothing.  The message names the variable."""
    found = [(agent, *far[0]) for agent, vs in variables.items() if (far := runaway_variables(vs))]
    if not found:
        return
    agent, name, value = found[0]
    more = f" ({len(found) - 1} more {role}s)" if len(found) > 1 else ""
    note = (f"{role} '{agent}''s problem looks unbounded: its variable '{name}' = {value:.3g} has no "
            f"{'upper' if value > 0 else 'lower'} bound{more}; a local solver stops where the gradient is "
            "below its tolerance, so a gain of 0 certifies nothing here: bound the variable or check the "
            "objective")
    if result.status.is_ok:
        result.message = f"{note}; the method itself reported {result.status.value}: {result.message}"
        result.status = failed
    else:
        result.message += f"; {note}"


def check_options(method: str, given: Iterable[str], allowed: Iterable[str], common: Iterable[str]) -> None:
    """Refuse options the method does not take, naming the closest known ones and the keywords every
    method takes (``gap_toll`` → did you mean ``gap_tol``?)."""
    unknown = sorted(set(given) - set(allowed))
    if not unknown:
        return
    known = sorted(set(allowed)) + sorted(set(common))
    close = {k: difflib.get_close_matches(k, known, n=2) for k in unknown}
    hints = "; ".join(f"'{k}': did you mean {' or '.join(repr(c) for c in near)}?" for k, near in close.items() if near)
    raise ModelError(f"unknown option(s) for method '{method}': {', '.join(unknown)}"
                     + (f" ({hints})" if hints else "")
                     + f"; known: {', '.join(sorted(set(allowed))) or 'none'}, and for every method: "
                     + ", ".join(sorted(set(common))))


def check_tolerances(gap_tol: float, options: Mapping[str, object]) -> None:
    """Refuse values no method can honour, naming the option: a negative or non-finite ``gap_tol``, a
    non-positive ``tol``, ``bigm``, ``multiplier_bound`` or Scholtes ``eps_*``, an ``eps_factor`` outside
    (0, 1), a ``damping`` outside (0, 1], and counts (``max_iter``, ``n_gen``, ``pop_size``) that are not
    positive integers.

    Raises
    ------
    ModelError
    """
    if not (isinstance(gap_tol, numbers.Real) and math.isfinite(gap_tol) and gap_tol >= 0):
        raise ModelError(f"gap_tol must be a finite number >= 0, got {gap_tol!r}")
    given = options.get("solver_options")
    if given is not None and not (isinstance(given, Mapping) and all(isinstance(k, str) for k in given)):
        raise ModelError(f"solver_options must be a dict of option names to values (e.g. {{'time_limit': 60}}), "
                         f"got {given!r}")
    tol = options.get("tol")
    if tol is not None and not (isinstance(tol, numbers.Real) and math.isfinite(tol) and tol > 0):
        raise ModelError(f"tol must be a finite number > 0, got {tol!r}")
    for name in ("max_iter", "n_gen", "pop_size"):
        value = options.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
            raise ModelError(f"{name} must be a positive integer, got {value!r}")
    for name in ("bigm", "multiplier_bound", "eps_start", "eps_final"):
        value = options.get(name)
        if value is not None and not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
            raise ModelError(f"{name} must be a finite number > 0, got {value!r}")
    damping = options.get("damping")
    if damping is not None and not (isinstance(damping, numbers.Real) and not isinstance(damping, bool)
                                    and 0 < damping <= 1):
        raise ModelError(f"damping must be in (0, 1], got {damping!r}")
    seed = options.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ModelError(f"seed must be an integer (or None), got {seed!r}")
    factor = options.get("eps_factor")
    if factor is not None and not (isinstance(factor, numbers.Real) and 0 < factor < 1):
        raise ModelError(f"eps_factor must lie in (0, 1) (each Scholtes step shrinks eps), got {factor!r}")
    if options.get("eps_final") is not None and options.get("eps_start") is not None \
            and options["eps_final"] > options["eps_start"]:
        raise ModelError(f"eps_final ({options['eps_final']!r}) must not exceed eps_start ({options['eps_start']!r})")


def check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ModelError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")


def finish(result: SolveResult, on_error: str) -> SolveResult:
    """Return ``result``, or raise :class:`SolveFailedError` when asked and it is not ``is_ok``."""
    if on_error == "raise" and not result.status.is_ok:
        raise SolveFailedError(result)
    return result
