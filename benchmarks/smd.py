"""The SMD bilevel test problems (SMD1-SMD12) as Pyomo models for ``solve_bilevel``.

Sinha, Malo and Deb, "Test problem construction for single-objective bilevel
optimization", Evolutionary Computation 22(3), 2014 (arXiv:1401.1942).  The
leader decides ``xu = (xu1, xu2)`` (``p`` and ``r`` variables), the follower
``xl = (xl1, xl2)`` (``q`` — ``q + s`` for SMD6 — and ``r`` variables); both
objectives are sums of three parts,

    F = F1(xu1) + F2(xl1) + F3(xu2, xl2),     f = f1(xu1, xu2) + f2(xl1) + f3(xu2, xl2),

where ``F1``/``f1`` control convergence in the leader's space, ``F2``/``f2`` in
the follower's, and ``F3``/``f3`` couple the two levels.  The formulas were
transcribed from two independent public implementations that agree with each
other — PlatEMO's ``SMD*.m`` and HardTestProblems.jl's ``SMD.jl`` — and with
the optima they state.  Where a third (Python) transcription differs we
follow the two: ``f`` contains ``f1 = Σ xu1²`` (``Σ xu1³`` for SMD7, ``Σ|xu1|``
for SMD8); SMD10's ``F3`` has ``−Σ(xu2 − tan xl2)²``; the reverse-convex
follower constraint of SMD11/SMD12 reads ``Σ(xu2 − ·)² ≥ 1``.

Reading of the paper's open or non-smooth pieces
------------------------------------------------
* Open intervals are closed: ``xl2 ∈ (−π/2, π/2)`` becomes
  ``[−π/2 + TAN_DELTA, π/2 − TAN_DELTA]`` (tan reaches ±1000, beyond every
  follower optimum, e.g. ``tan xl2 = xu2² ≤ 100`` in SMD3); ``xl2 ∈ (0, e]``
  becomes ``[e^LOG_FLOOR, e]`` and SMD9's ``(−1, −1 + e]`` becomes
  ``[−1 + e^LOG_FLOOR, −1 + e]`` (``log`` reaches −10; the follower optimum
  ``log xl2 = xu2 ≥ −5`` stays inside).  SMD12's ``xl2 ∈ (−1.5, 1.5)``,
  ``xu2 ∈ [−14.1, 14.1]`` are PlatEMO's (HardTestProblems.jl notes its own
  SMD12 bounds as inconsistent with the paper).
* SMD9's constraints ``S − ⌊S + ½⌋ ≥ 0`` (``S`` a sum of squares; ``a = b = 1``)
  hold when ``S`` lies in ``[k, k + ½)`` for an integer ``k``.  The leader's
  is written with Pyomo's ``floor`` (only evaluated, by ``nested``); the
  follower's with an integer variable ``k``: ``k ≤ S ≤ k + ½`` (closing the
  interval), which SCIP solves.
* ``|xu2|`` (SMD4, SMD5) and ``|xu1|`` (SMD8's follower) are written
  ``sqrt(x²)``: equal in value and, the argument being the leader's (fixed
  while the follower is solved), accepted by Ipopt and SCIP, which refuse
  ``abs()`` inside a nonlinear term.  SMD12's ``tan|xl2|`` is only evaluated
  (by ``nested``), never differentiated.

Two forms of the same problems
------------------------------
``form="original"`` keeps the paper's variables.  ``form="reparam"`` replaces
``xl2`` by its image ``z = g(xl2)`` where ``g`` is the strictly increasing
function the problem applies to it (``tan``, ``log``, ``log(1 + ·)``, ``(·)³``)
with bounds ``g(bounds)``.  A bijection of the follower's variables maps its
argmin set onto the argmin set of the transformed follower, so the bilevel
problems are equivalent and ``xl2 = g⁻¹(z)``.  It makes SMD1, SMD2, SMD7 (and
SMD10 with ``q = 1``) followers convex QPs with linear constraints, which is
what the engine's KKT methods need; SMD6's follower is a convex QP as stated.

Known optima (minimisation at both levels; checked in ``tests/test_smd.py``)
----------------------------------------------------------------------------
SMD1-SMD9: ``F* = f* = 0`` at ``xu = 0``, ``xl1 = 0`` (``1`` for SMD5, SMD8),
``xl2 = g⁻¹(0)``.  SMD10: ``xu = t``, ``xl1 = σ``, ``tan xl2 = t`` with
``t = (p + r − 1)^(−½)`` and ``σ = (q − 1)^(−½)`` (``σ = 2`` when ``q = 1``,
where the follower's constraint reduces to ``xl1 ≥ 0``).  SMD11: ``F* = −1``,
``f* = 1`` at ``xu = 0``, ``xl1 = 0``, ``xl2 = exp(−1/√r)``.  SMD12: the
literature point ``xu = t``, ``xl1 = σ``, ``tan xl2 = t − 1/√r`` is optimal for
``p = 1`` (then ``tan xl2 = 0``); for ``p > 1`` a better bilevel-feasible point
exists (any split of the follower's unit sphere ``Σ(xu2 − tan xl2)² = 1``
with smaller ``Σ|tan xl2|``), so :attr:`SMDProblem.exact_optimum` is False.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from gridgames.models.instance import InstanceError

#: distance kept from ±π/2 by the closed bounds of a ``tan``-mapped variable
TAN_DELTA = 1e-3
#: ``log`` of the smallest value of a ``log``-mapped variable (paper: open at 0)
LOG_FLOOR = -10.0
FORMS = ("original", "reparam")
NUMBERS = tuple(range(1, 13))

_TAN_BOUNDS = (-math.pi / 2 + TAN_DELTA, math.pi / 2 - TAN_DELTA)
_LOG_BOUNDS = (math.exp(LOG_FLOOR), math.e)

#: (xu1, xu2, xl1, xl2) bounds and the map ``g`` applied to xl2 (None: xl2 enters as it is)
_SPEC: dict[int, tuple[tuple[float, float], tuple[float, float], tuple[float, float],
                       tuple[float, float], str | None]] = {
    1: ((-5, 10), (-5, 10), (-5, 10), _TAN_BOUNDS, "tan"),
    2: ((-5, 10), (-5, 1), (-5, 10), _LOG_BOUNDS, "log"),
    3: ((-5, 10), (-5, 10), (-5, 10), _TAN_BOUNDS, "tan"),
    4: ((-5, 10), (-1, 1), (-5, 10), (0.0, math.e), "log1p"),
    5: ((-5, 10), (-5, 10), (-5, 10), (-5, 10), None),
    6: ((-5, 10), (-5, 10), (-5, 10), (-5, 10), None),
    7: ((-5, 10), (-5, 1), (-5, 10), _LOG_BOUNDS, "log"),
    8: ((-5, 10), (-5, 10), (-5, 10), (-5, 10), "cube"),
    9: ((-5, 10), (-5, 1), (-5, 10), (-1 + math.exp(LOG_FLOOR), -1 + math.e), "log1p"),
    10: ((-5, 10), (-5, 10), (-5, 10), _TAN_BOUNDS, "tan"),
    11: ((-5, 10), (-1, 1), (-5, 10), (1 / math.e, math.e), "log"),
    12: ((-5, 10), (-14.1, 14.1), (-5, 10), (-1.5, 1.5), "tan"),
}

#: g as (Pyomo expression builder, float function, float inverse)
_MAPS: dict[str, tuple[Callable, Callable[[float], float], Callable[[float], float]]] = {
    "tan": (pyo.tan, math.tan, math.atan),
    "log": (pyo.log, math.log, math.exp),
    "log1p": (lambda v: pyo.log(1 + v), math.log1p, math.expm1),
    "cube": (lambda v: v ** 3, lambda x: x ** 3, np.cbrt),
}

#: Why the engine's KKT methods (kkt, kkt-bigm; strong-duality needs a linear follower, which
#: no SMD has) do not apply, per problem in form ``reparam``; None where they do.
#: ``tests/test_smd.py`` checks this table against the engine's own convexity check.
KKT_APPLICABILITY: dict[int, str | None] = {
    1: None, 2: None, 6: None, 7: None,
    3: "follower has the Rastrigin term Σ(xl1² − cos 2π xl1): non-convex, multimodal",
    4: "follower has the Rastrigin term Σ(xl1² − cos 2π xl1): non-convex, multimodal",
    5: "follower has Rosenbrock in xl1 and (|xu2| − xl2²)² (quartic, two minima per component)",
    8: "follower has Rosenbrock in xl1: non-convex quartic",
    9: "follower has an integer variable (the ⌊·⌋ constraint) and a nonlinear constraint",
    10: "follower constraints xl1_i − Σ_{j≠i} xl1_j³ ≥ 0 are cubic (linear only when q = 1)",
    11: "follower constraint Σ(xu2 − log xl2)² ≥ 1 is reverse-convex (multiple follower optima)",
    12: "cubic and reverse-convex follower constraints",
}


def kkt_reason(number: int, q: int) -> str | None:
    """Why the KKT methods do not apply to SMD``number`` (None when they do)."""
    if number == 10 and q == 1:
        return None
    return KKT_APPLICABILITY[number]


@dataclass
class SMDProblem:
    """One SMD instance: the Pyomo model and what is known about its optimum.

    Attributes
    ----------
    model : ConcreteModel
        Leader variables ``xu1``, ``xu2``, objective ``obj`` and constraints
        ``G`` (if any); the follower block ``f`` with ``xl1`` and ``xl2`` (or its
        image ``z`` in form ``reparam``), objective ``f.obj``, constraints ``f.g``.
    follower : Block
        ``model.f``, to pass to ``solve_bilevel``.
    leader_vars, follower_vars : list of VarData
        ``xu1 + xu2`` and the follower's continuous variables (``xl1 + xl2`` or
        ``xl1 + z``), in the paper's order.
    leader_optimum, follower_optimum : float
        ``F*`` and ``f*``.
    optimal_leader : ndarray
        ``xu*``.
    optimal_lower : ndarray
        ``xl*`` in the paper's variables.
    optimal_follower : ndarray
        The values of :attr:`follower_vars` at the optimum (``z* = g(xl2*)`` in form ``reparam``).
    exact_optimum : bool
        False where the literature point is not optimal (SMD12 with ``p > 1``).
    """

    number: int
    p: int
    q: int
    r: int
    s: int
    form: str
    model: pyo.ConcreteModel
    follower: pyo.Block
    leader_vars: list
    follower_vars: list
    leader_optimum: float
    follower_optimum: float
    optimal_leader: np.ndarray
    optimal_lower: np.ndarray
    optimal_follower: np.ndarray
    exact_optimum: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"smd{self.number}"

    @property
    def kkt_reason(self) -> str | None:
        """Why KKT methods do not apply (None when they do, in form ``reparam``)."""
        reason = kkt_reason(self.number, self.q)
        if reason is None and self.form == "original" and _SPEC[self.number][4] is not None:
            return (f"form 'original' has {_SPEC[self.number][4]}(xl2) in the follower (not quadratic); "
                    "use form='reparam'")
        return reason

    def load_optimum(self) -> None:
        """Set every variable to the known optimal point (SMD9's ``k`` to ``⌊S⌋``)."""
        for v, x in zip(self.leader_vars + self.follower_vars, np.r_[self.optimal_leader,
                                                                    self.optimal_follower]):
            v.set_value(float(x), skip_validation=True)
        if self.number == 9:
            self.follower.k.set_value(math.floor(pyo.value(self.follower.S)))

    def objectives(self) -> tuple[float, float]:
        """``(F, f)`` at the current variable values."""
        return float(pyo.value(self.model.obj.expr)), float(pyo.value(self.follower.obj.expr))

    def leader_values(self) -> np.ndarray:
        """The current ``xu`` as an array."""
        return np.array([v.value for v in self.leader_vars], dtype=float)

    def max_violation(self) -> float:
        """Largest violation of any active constraint or variable bound at the current point."""
        worst = 0.0
        for con in self.model.component_data_objects(pyo.Constraint, active=True):
            body = pyo.value(con.body)
            if con.has_lb():
                worst = max(worst, pyo.value(con.lower) - body)
            if con.has_ub():
                worst = max(worst, body - pyo.value(con.upper))
        for v in self.model.component_data_objects(pyo.Var):
            lo, hi = v.bounds
            worst = max(worst, (lo - v.value) if lo is not None else 0.0,
                        (v.value - hi) if hi is not None else 0.0)
        return float(worst)


def _ssq(terms: Sequence) -> object:
    return sum(t ** 2 for t in terms)


def _rosenbrock(x: Sequence) -> object:
    return sum((x[i + 1] - x[i] ** 2) ** 2 + (x[i] - 1) ** 2 for i in range(len(x) - 1))


def _check(number: int, p: int, q: int, r: int, s: int, form: str) -> None:
    problems = []
    if number not in NUMBERS:
        problems.append(f"number: must be one of 1..12, got {number!r}")
    for name, value, least in (("p", p, 1), ("q", q, 0 if number == 6 else 1), ("r", r, 1)):
        if not isinstance(value, (int, np.integer)) or value < least:
            problems.append(f"{name}: must be an integer >= {least}, got {value!r}")
    if number == 6:
        if not isinstance(s, (int, np.integer)) or s < 2 or s % 2:
            problems.append(f"s: SMD6 needs an even s >= 2 (pairs of follower variables), got {s!r}")
    elif s != 0:
        problems.append(f"s: only SMD6 uses s; must be 0 for SMD{number}, got {s!r}")
    if number in (5, 8) and isinstance(q, (int, np.integer)) and q < 2:
        problems.append(f"q: SMD{number}'s Rosenbrock term needs q >= 2, got {q}")
    if form not in FORMS:
        problems.append(f"form: must be one of {', '.join(FORMS)}, got {form!r}")
    if problems:
        raise InstanceError(problems, source=f"build_smd(SMD{number})")


def build_smd(number: int, p: int, q: int, r: int, s: int = 0, *, form: str = "reparam") -> SMDProblem:
    """Build SMD``number`` with ``p``, ``q``, ``r`` (and ``s`` for SMD6) variables.

    Parameters
    ----------
    number : int
        1 to 12.
    p, q, r : int
        Sizes of ``xu1``, ``xl1`` and of ``xu2``/``xl2`` (all >= 1; SMD6 allows
        ``q = 0``; SMD5 and SMD8 need ``q >= 2``).
    s : int
        SMD6 only: the even number of extra follower variables with a
        continuum of optima (paired, ``(xl1_{i+1} − xl1_i)²``).
    form : {'reparam', 'original'}
        ``reparam`` replaces ``xl2`` by ``z = g(xl2)`` (see the module notes);
        ``original`` keeps the paper's variables.

    Returns
    -------
    SMDProblem

    Raises
    ------
    InstanceError
        Naming every invalid argument.
    """
    _check(number, p, q, r, s, form)
    bu1, bu2, bl1, bl2, gname = _SPEC[number]
    m = pyo.ConcreteModel(name=f"SMD{number}")
    m.xu1 = pyo.Var(range(p), bounds=bu1, initialize=0.5 * (bu1[0] + bu1[1]))
    m.xu2 = pyo.Var(range(r), bounds=bu2, initialize=0.5 * (bu2[0] + bu2[1]))
    m.f = f = pyo.Block()
    nl1 = q + s
    f.xl1 = pyo.Var(range(nl1), bounds=bl1, initialize=0.0)
    reparam = form == "reparam" and gname is not None
    g_expr, g_float, g_inv = _MAPS[gname] if gname else (None, None, None)
    if reparam:
        zb = (g_float(bl2[0]), g_float(bl2[1]))
        f.z = pyo.Var(range(r), bounds=zb, initialize=0.0)
        image = [f.z[i] for i in range(r)]
        l2vars = f.z
    else:
        f.xl2 = pyo.Var(range(r), bounds=bl2, initialize=0.5 * (bl2[0] + bl2[1]))
        image = [g_expr(f.xl2[i]) for i in range(r)] if gname else [f.xl2[i] for i in range(r)]
        l2vars = f.xl2
    xu1 = [m.xu1[i] for i in range(p)]
    xu2 = [m.xu2[i] for i in range(r)]
    xl1 = [f.xl1[i] for i in range(nl1)]
    F, fl = _objectives(number, m, f, xu1, xu2, xl1, image, p, q, r, reparam)
    m.obj = pyo.Objective(expr=F, sense=pyo.minimize)
    f.obj = pyo.Objective(expr=fl, sense=pyo.minimize)
    _constraints(number, m, f, xu1, xu2, xl1, image, q, r, reparam)

    xu_star, xl1_star, img_star, F_star, f_star, exact, notes = _optimum(number, p, q, r, s)
    xl2_star = np.array([g_inv(v) for v in img_star]) if gname else np.asarray(img_star, float)
    follower_l2 = np.asarray(img_star, float) if reparam else xl2_star
    leader_vars = xu1 + xu2
    follower_vars = xl1 + [l2vars[i] for i in range(r)]
    return SMDProblem(number, p, q, r, s, form, m, f, leader_vars, follower_vars, F_star, f_star,
                      np.asarray(xu_star, float), np.r_[xl1_star, xl2_star], np.r_[xl1_star, follower_l2],
                      exact, notes)


def _objectives(n: int, m, f, xu1, xu2, xl1, T, p: int, q: int, r: int, reparam: bool):
    """``(F, f)`` of SMD``n``; ``T`` holds g(xl2) (the variable z itself in form reparam)."""
    two_pi = 2 * math.pi
    if n == 1:
        return (_ssq(xu1) + _ssq(xl1) + _ssq(xu2) + _ssq([u - t for u, t in zip(xu2, T)]),
                _ssq(xu1) + _ssq(xl1) + _ssq([u - t for u, t in zip(xu2, T)]))
    if n in (2, 9, 11):
        d = _ssq([u - t for u, t in zip(xu2, T)])
        return _ssq(xu1) - _ssq(xl1) + _ssq(xu2) - d, _ssq(xu1) + _ssq(xl1) + d
    if n == 3:
        d = _ssq([u ** 2 - t for u, t in zip(xu2, T)])
        rastrigin = q + sum(x ** 2 - pyo.cos(two_pi * x) for x in xl1)
        return _ssq(xu1) + _ssq(xl1) + _ssq(xu2) + d, _ssq(xu1) + rastrigin + d
    if n == 4:
        d = _ssq([_abs(u) - t for u, t in zip(xu2, T)])
        rastrigin = q + sum(x ** 2 - pyo.cos(two_pi * x) for x in xl1)
        return _ssq(xu1) - _ssq(xl1) + _ssq(xu2) - d, _ssq(xu1) + rastrigin + d
    if n == 5:
        d = _ssq([_abs(u) - t ** 2 for u, t in zip(xu2, T)])
        ros = _rosenbrock(xl1)
        return _ssq(xu1) - ros + _ssq(xu2) - d, _ssq(xu1) + ros + d
    if n == 6:
        d = _ssq([u - t for u, t in zip(xu2, T)])
        head, tail = xl1[:q], xl1[q:]
        pairs = sum((tail[i + 1] - tail[i]) ** 2 for i in range(0, len(tail) - 1, 2))
        return (_ssq(xu1) - _ssq(head) + _ssq(tail) + _ssq(xu2) - d,
                _ssq(xu1) + _ssq(head) + pairs + d)
    if n == 7:
        d = _ssq([u - t for u, t in zip(xu2, T)])
        griewank = 1 + _ssq(xu1) / 400 - _prod([pyo.cos(x / math.sqrt(i + 1)) for i, x in enumerate(xu1)])
        return griewank - _ssq(xl1) + _ssq(xu2) - d, sum(x ** 3 for x in xu1) + _ssq(xl1) + d
    if n == 8:
        d = _ssq([u - t for u, t in zip(xu2, T)])
        ackley = (20 + math.e - 20 * pyo.exp(-0.2 * pyo.sqrt(_ssq(xu1) / p))
                  - pyo.exp(sum(pyo.cos(two_pi * x) for x in xu1) / p))
        ros = _rosenbrock(xl1)
        return ackley - ros + _ssq(xu2) - d, sum(_abs(x) for x in xu1) + ros + d
    if n == 10:
        d = _ssq([u - t for u, t in zip(xu2, T)])
        return (_ssq([x - 2 for x in xu1]) + _ssq(xl1) + _ssq([x - 2 for x in xu2]) - d,
                _ssq(xu1) + _ssq([x - 2 for x in xl1]) + d)
    if n == 12:
        d = _ssq([u - t for u, t in zip(xu2, T)])
        # tan|xl2| = |tan xl2| (tan is odd and increasing on the interval)
        tan_abs = sum(abs(t) for t in T) if reparam else sum(pyo.tan(abs(f.xl2[i])) for i in range(r))
        return (_ssq([x - 2 for x in xu1]) + _ssq(xl1) + _ssq([x - 2 for x in xu2]) + tan_abs - d,
                _ssq(xu1) + _ssq([x - 2 for x in xl1]) + d)
    raise AssertionError(n)


def _abs(x: object) -> object:
    """``|x|`` of a leader variable, written ``sqrt(x²)`` (equal in value).

    In a follower's objective the leader's variables are fixed, so this is a
    constant there; but the Ipopt bridge and SCIP's Pyomo interface refuse
    ``abs()`` inside a nonlinear term even when its argument is fixed.
    """
    return pyo.sqrt(x ** 2)


def _prod(items: list) -> object:
    out = 1
    for item in items:
        out = out * item
    return out


def _cubic_rows(xs: list) -> list:
    """``x_i − Σ_{j≠i} x_j³`` (the paper's SMD10/SMD12 rows, ≥ 0)."""
    return [xs[i] - sum(xs[j] ** 3 for j in range(len(xs)) if j != i) for i in range(len(xs))]


def _constraints(n: int, m, f, xu1, xu2, xl1, T, q: int, r: int, reparam: bool) -> None:
    if n == 9:
        su = _ssq(xu1 + xu2)
        m.G = pyo.Constraint(expr=su - pyo.floor(su + 0.5) >= 0)
        xl2 = [pyo.exp(f.z[i]) - 1 for i in range(r)] if reparam else [f.xl2[i] for i in range(r)]
        f.S = pyo.Expression(expr=_ssq(xl1) + _ssq(xl2))
        k_max = math.floor(q * max(b * b for b in _SPEC[9][2]) + r * max(b * b for b in _SPEC[9][3]))
        f.k = pyo.Var(within=pyo.Integers, bounds=(0, k_max), initialize=0)
        f.g = pyo.ConstraintList()
        f.g.add(f.S >= f.k)
        f.g.add(f.S <= f.k + 0.5)
    elif n in (10, 12):
        rows = _cubic_rows(xu1 + xu2)
        m.G = pyo.Constraint(range(len(rows)), rule=lambda _, i: rows[i] >= 0)
        lrows = _cubic_rows(xl1)
        f.g = pyo.Constraint(range(len(lrows)), rule=lambda _, i: lrows[i] >= 0)
        if n == 12:
            m.G_link = pyo.Constraint(range(r), rule=lambda _, i: xu2[i] - T[i] >= 0)
            f.g_sphere = pyo.Constraint(expr=_ssq([u - t for u, t in zip(xu2, T)]) >= 1)
    elif n == 11:
        m.G = pyo.Constraint(range(r), rule=lambda _, i: xu2[i] - T[i] >= 1 / math.sqrt(r))
        f.g = pyo.Constraint(expr=_ssq([u - t for u, t in zip(xu2, T)]) >= 1)


def _optimum(n: int, p: int, q: int, r: int, s: int):
    """``(xu*, xl1*, g(xl2)*, F*, f*, exact, notes)``."""
    notes: list[str] = []
    if n <= 9:
        xl1 = np.ones(q) if n in (5, 8) else np.zeros(q + s)
        return np.zeros(p + r), xl1, np.zeros(r), 0.0, 0.0, True, notes
    if n == 11:
        return (np.zeros(p + r), np.zeros(q), np.full(r, -1 / math.sqrt(r)), -1.0, 1.0, True, notes)
    t = 1 / math.sqrt(p + r - 1)
    sigma = 2.0 if q == 1 else 1 / math.sqrt(q - 1)
    if q == 1:
        notes.append("q = 1: the follower's cubic constraint reduces to xl1 >= 0, inactive at xl1 = 2")
    base_F = (p + r) * (t - 2) ** 2 + q * sigma ** 2
    base_f = p * t ** 2 + q * (sigma - 2) ** 2
    if n == 10:
        return np.full(p + r, t), np.full(q, sigma), np.full(r, t), base_F, base_f, True, notes
    shift = t - 1 / math.sqrt(r)           # SMD12: tan xl2 = t − 1/√r, on the follower's unit sphere
    exact = p == 1
    if not exact:
        notes.append("SMD12 with p > 1: the literature point is not optimal (see module notes)")
    return (np.full(p + r, t), np.full(q, sigma), np.full(r, shift),
            base_F + r * abs(shift) - 1.0, base_f + 1.0, exact, notes)
