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

import math
import numbers
from collections.abc import Mapping

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


def check_tolerances(gap_tol: float, options: Mapping[str, object]) -> None:
    """Refuse values no method can honour, naming the option: a negative or non-finite ``gap_tol``, a
    non-positive ``tol``, ``bigm``, ``multiplier_bound`` or Scholtes ``eps_*``, an ``eps_factor`` outside
    (0, 1), and counts (``max_iter``, ``n_gen``, ``pop_size``) that are not positive integers.

    Raises
    ------
    ModelError
    """
    if not (isinstance(gap_tol, numbers.Real) and math.isfinite(gap_tol) and gap_tol >= 0):
        raise ModelError(f"gap_tol must be a finite number >= 0, got {gap_tol!r}")
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
