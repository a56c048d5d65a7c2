"""The Stackelberg pricing game declared as a Pyomo bilevel model.

Layout (the contract with :func:`gridgames.solvers.solve_bilevel`):

* ``m.K``: periods 0..N−1; ``m.C``: user classes 0..C−1.
* Leader (on the model itself): prices ``m.p[k]`` in ``[0, p_max]``; the active
  objective ``m.company`` (maximise U1); the price floor ``m.price_floor[k]``
  (the reading of "p_k >= C_k", see :class:`StackelbergParams`), which uses the
  followers' variables.
* Followers: for one class a scalar Block ``m.users`` with ``m.users.l[k]``
  (bounds ``l_min <= l <= l_max``) and one active objective ``m.users.utility``
  (maximise U2, referencing ``m.p``).  For C > 1 classes ``m.users`` is an
  *indexed* Block over ``m.C``: ``m.users[c].l[k]``, each with its own
  objective.  :func:`follower_blocks` returns the list either way.
* Every number a sweep changes is a mutable Param (``ir``, ``mu``, ``a1..a3``,
  ``r``, ``orl[k]``, ``d[k]``, ``d_avg``, ``s[k]``, ``l_min``, ``l_max``,
  ``p_max`` and the class coefficients), so a sweep updates them with
  :func:`set_params` / :func:`set_day` and re-solves the same model.

The price bound ``p_max`` (default 1000 $/MWh = 10 r) never binds at the
optimum when ``l_min = 0``: above the users' choke price (about 330 $/MWh with
the paper's values) their load is 0 and U1_k = −a3 − μ d_avg², far below the
interior optimum.  With ``l_min > 0`` the load stays at ``l_min`` above the
choke price, where the revenue ``p l_min`` grows with p: in a period where
that beats the interior optimum (``l_min`` close to the load) the equilibrium
sits at ``p_max``, otherwise it stays interior (the analytic method handles
both; the ``nested`` search box then reaches ``p_max``, see
:func:`~gridgames.models.stackelberg.solve.choke_prices`).
"""
from __future__ import annotations

import logging

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.block import BlockData
from pyomo.common.collections import ComponentMap

from gridgames.models.stackelberg.analytic import solve_periods
from gridgames.models.stackelberg.params import (DayData, StackelbergParams, UserClass,
                                                 l_max_of, validate_params)
from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)

_CLASS_FIELDS = ("eta", "theta", "w1", "w2", "alpha", "z_max", "share")


def _user_block(b: BlockData, m: pyo.ConcreteModel, u: UserClass) -> None:
    for name in _CLASS_FIELDS:
        setattr(b, name, pyo.Param(initialize=float(getattr(u, name)), mutable=True))
    b.l = pyo.Var(m.K, bounds=lambda b_, k: (b_.share * m.l_min, b_.share * m.l_max),
                  initialize=lambda b_, k: pyo.value(b_.share * m.orl[k]))

    def u2(b_: BlockData) -> pyo.Expression:
        total = 0
        for k in m.K:
            l, orl_c = b_.l[k], b_.share * m.orl[k]
            # eco_k = α l (p − r)/r written expanded, (α/r) l p − α l: a product
            # l·p with a constant coefficient, so KKT methods see a quadratic.
            total += (b_.eta * l - (b_.eta / (2 * b_.share * b_.z_max)) * l ** 2
                      + m.ir * m.s[k] * (l - orl_c) - m.p[k] * l
                      - (b_.w1 * b_.theta / b_.share) * (l - orl_c) ** 2
                      - (b_.w2 * b_.alpha / m.r) * l * m.p[k] + b_.w2 * b_.alpha * l)
        return total

    b.utility = pyo.Objective(rule=u2, sense=pyo.maximize)


def build_model(params: StackelbergParams, day: DayData) -> pyo.ConcreteModel:
    """The bilevel pricing game on one day as a Pyomo model.

    Parameters
    ----------
    params : StackelbergParams
        Coefficients; ``params.users`` gives the follower classes.
    day : DayData
        ``orl`` and ``d`` for the N periods.

    Returns
    -------
    pyomo.environ.ConcreteModel
        Leader variables, objective and constraints on the model; follower
        block(s) ``m.users`` (module docstring).
    """
    validate_params(params)
    m = pyo.ConcreteModel(name=f"stackelberg_pricing {day.label}")
    m.K = pyo.RangeSet(0, day.n - 1)
    m.C = pyo.RangeSet(0, params.n_classes - 1)
    m.price_floor_kind = params.price_floor
    for name in ("a1", "a2", "a3", "mu", "ir", "r"):
        setattr(m, name, pyo.Param(initialize=float(getattr(params, name)), mutable=True))
    m.orl = pyo.Param(m.K, initialize=dict(enumerate(day.orl)), mutable=True)
    m.d = pyo.Param(m.K, initialize=dict(enumerate(day.d)), mutable=True)
    m.d_avg = pyo.Param(initialize=day.d_avg, mutable=True)
    m.s = pyo.Param(m.K, initialize=dict(enumerate(day.sign)), mutable=True)
    m.l_min = pyo.Param(initialize=float(params.l_min), mutable=True)
    m.l_max = pyo.Param(initialize=l_max_of(params, day), mutable=True)
    m.d_max_given = params.d_max
    m.p_max = pyo.Param(initialize=float(params.p_max), mutable=True)
    m.p = pyo.Var(m.K, bounds=(0, m.p_max), initialize=float(params.r))

    if params.n_classes == 1:
        m.users = pyo.Block()
        _user_block(m.users, m, params.users[0])
        m.user_names = [params.users[0].name]
    else:
        m.users = pyo.Block(m.C, rule=lambda b, c: _user_block(b, m, params.users[c]))
        m.user_names = [u.name for u in params.users]

    def load(k: int) -> pyo.Expression:
        return sum(b.l[k] for b in follower_blocks(m))

    m.total_load = pyo.Expression(m.K, rule=lambda m_, k: load(k))

    def u1(m_: pyo.ConcreteModel) -> pyo.Expression:
        return sum(m_.p[k] * m_.total_load[k] - (m_.a1 * m_.total_load[k] ** 2 + m_.a2 * m_.total_load[k] + m_.a3)
                   - m_.mu * (m_.total_load[k] - m_.d_avg) ** 2 - m_.ir * m_.s[k] * (m_.total_load[k] - m_.orl[k])
                   for k in m_.K)

    m.company = pyo.Objective(rule=u1, sense=pyo.maximize)
    # The floor's form is fixed at build time; load_params/set_params refuse changes to it.
    m.floor_has_a3 = params.price_floor == "average" and params.a3 > 0
    if params.price_floor == "average":
        # p_k L_k >= C(L_k) divided by L_k > 0 (linear when a3 = 0).
        if params.a3 > 0:
            if params.l_min <= 0:
                raise ModelError("price_floor 'average' with a3 > 0 needs l_min > 0 (p >= C(L)/L)")
            m.price_floor = pyo.Constraint(m.K, rule=lambda m_, k: m_.p[k] >= m_.a1 * m_.total_load[k] + m_.a2
                                           + m_.a3 / m_.total_load[k])
        else:
            m.price_floor = pyo.Constraint(m.K, rule=lambda m_, k: m_.p[k] >= m_.a1 * m_.total_load[k] + m_.a2)
    elif params.price_floor == "marginal":
        m.price_floor = pyo.Constraint(m.K, rule=lambda m_, k: m_.p[k] >= 2 * m_.a1 * m_.total_load[k] + m_.a2)
    return m


def follower_blocks(m: pyo.ConcreteModel) -> list[BlockData]:
    """The follower blocks: ``[m.users]`` or ``[m.users[c] for c in m.C]``."""
    if m.users.is_indexed():
        return [m.users[c] for c in m.C]
    return [m.users]


def set_params(m: pyo.ConcreteModel, **values: float) -> None:
    """Change scalar game coefficients in place (``ir``, ``mu``, ``a1``, ``a2``, ``a3``, ``r``, ``l_min``, ``p_max``)."""
    allowed = {"ir", "mu", "a1", "a2", "a3", "r", "l_min", "p_max"}
    unknown = set(values) - allowed
    if unknown:
        raise ModelError(f"set_params: unknown parameter(s) {sorted(unknown)}; known: {sorted(allowed)}")
    if "a3" in values and float(values["a3"]) > 0 and m.price_floor_kind == "average" \
            and not m.floor_has_a3:
        raise ModelError("set_params: a3 > 0 changes the form of the 'average' price floor "
                         "(p >= a1 L + a2 + a3/L); build a new model for it")
    for name, value in values.items():
        getattr(m, name).set_value(float(value))


def load_params(m: pyo.ConcreteModel, params: StackelbergParams) -> None:
    """Load every coefficient of ``params`` into a model built by :func:`build_model`.

    Sets the scalar Params (:func:`set_params`), each class's coefficients and
    ``d_max``; call :func:`set_day` afterwards so that ``l_max`` follows.

    Raises
    ------
    ModelError
        When ``params`` needs another model structure: a different number of
        user classes or price floor reading, or ``a3 > 0`` on an ``average``
        floor built without the ``a3/L`` term.
    """
    validate_params(params)
    blocks = follower_blocks(m)
    problems = []
    if len(blocks) != params.n_classes:
        problems.append(f"{params.n_classes} user classes, the model has {len(blocks)}")
    if params.price_floor != m.price_floor_kind:
        problems.append(f"price_floor {params.price_floor!r}, the model has {m.price_floor_kind!r}")
    if problems:
        raise ModelError(f"load_params: the parameters need another model ({'; '.join(problems)}); "
                         "build a new model for them")
    set_params(m, ir=params.ir, mu=params.mu, a1=params.a1, a2=params.a2, a3=params.a3, r=params.r,
               l_min=params.l_min, p_max=params.p_max)
    for b, u in zip(blocks, params.users):
        for name in _CLASS_FIELDS:
            getattr(b, name).set_value(float(getattr(u, name)))
    m.user_names = [u.name for u in params.users]
    m.d_max_given = params.d_max


def set_day(m: pyo.ConcreteModel, day: DayData) -> None:
    """Load another day's ``orl``, ``d``, ``d_avg``, ``s`` and ``l_max`` into the model."""
    if day.n != len(m.K):
        raise ModelError(f"set_day: the model has {len(m.K)} periods, day {day.label} has {day.n}; "
                         "build a new model for it")
    for k in m.K:
        m.orl[k] = float(day.orl[k])
        m.d[k] = float(day.d[k])
        m.s[k] = float(day.sign[k])
    m.d_avg = day.d_avg
    d_max = float(day.d.max()) if m.d_max_given is None else float(m.d_max_given)
    z_max = min(pyo.value(b.z_max) for b in follower_blocks(m))
    m.l_max = min(d_max, z_max)


def params_from_model(m: pyo.ConcreteModel) -> tuple[StackelbergParams, DayData]:
    """The current Param values of a model built by :func:`build_model`."""
    users = tuple(UserClass(**{f: float(pyo.value(getattr(b, f))) for f in _CLASS_FIELDS}, name=n)
                  for b, n in zip(follower_blocks(m), m.user_names))
    params = StackelbergParams(a1=pyo.value(m.a1), a2=pyo.value(m.a2), a3=pyo.value(m.a3),
                               mu=pyo.value(m.mu), ir=pyo.value(m.ir), r=pyo.value(m.r), users=users,
                               l_min=pyo.value(m.l_min), d_max=pyo.value(m.l_max),
                               p_max=pyo.value(m.p_max), price_floor=m.price_floor_kind)
    orl = np.array([pyo.value(m.orl[k]) for k in m.K])
    d = np.array([pyo.value(m.d[k]) for k in m.K])
    return params, DayData(orl=orl, d=d, label=m.name)


def analytic_values(m: pyo.ConcreteModel) -> ComponentMap:
    """Closed-form equilibrium for ``solve_bilevel(..., method="analytic", equilibrium=analytic_values)``.

    Reads the model's current Params (so sweeps are honoured) and returns the
    values of every leader price ``m.p[k]`` and follower load ``l[k]`` as a
    :class:`~pyomo.common.collections.ComponentMap` (VarData -> float; Pyomo
    variables are not hashable, so a plain dict cannot hold them).
    """
    params, day = params_from_model(m)
    p, l = solve_periods(params, day.orl, day.d)
    values = ComponentMap((m.p[k], float(p[k])) for k in m.K)
    for c, b in enumerate(follower_blocks(m)):
        values.update((b.l[k], float(l[c, k])) for k in m.K)
    return values


def model_solution(m: pyo.ConcreteModel) -> tuple[np.ndarray, np.ndarray]:
    """Prices (N,) and per-class loads (C, N) currently loaded in the model."""
    p = np.array([pyo.value(m.p[k]) for k in m.K], dtype=float)
    l = np.array([[pyo.value(b.l[k]) for k in m.K] for b in follower_blocks(m)], dtype=float)
    return p, l
