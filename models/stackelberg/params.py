"""Parameters of the Stackelberg pricing game and one day of its data.

:class:`StackelbergParams` holds the company's and the users' coefficients
(defaults: the paper's Section 5.3 values), :class:`UserClass` one class of
users (the paper has one; "beyond the paper" allows several), and
:class:`DayData` the day's consumption before the scheme ``orl_k`` and the
forecast demand ``d_k``.  :func:`validate_params` reports every bad value at
once as an :class:`~gridgames.models.instance.InstanceError` naming the field.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from gridgames.models.instance import InstanceError, name_entries
from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)

#: How the paper's constraint "p_k >= C_k" is read (see docs/stackelberg.md).
PRICE_FLOORS = ("average", "marginal", "none")


@dataclass(frozen=True)
class UserClass:
    """One class of users (the follower).

    Parameters are given for the whole population (intensive): a class with
    load share ``share`` = σ has satisfaction ``η l − η l² / (2 σ z_max)`` and
    comfort dissatisfaction ``ϖ1 (θ/σ) (l − σ orl)²``, so that splitting one
    population into identical classes leaves the game unchanged.

    Attributes
    ----------
    eta : float
        Satisfaction coefficient η > 0.
    theta : float
        Comfort coefficient θ > 0.
    w1, w2 : float
        Comfort and economic weights ϖ1, ϖ2 > 0 with ϖ1 + ϖ2 = 1.
    alpha : float
        Absolute price elasticity α > 0.
    z_max : float
        Largest consumption the population can use (MW), > 0.
    share : float
        Share σ of the consumption before the scheme, 0 < σ <= 1.
    name : str
        Label in tables and plots.
    """

    eta: float = 195.0
    theta: float = 0.015
    w1: float = 0.7
    w2: float = 0.3
    alpha: float = 10.0
    z_max: float = 10000.0
    share: float = 1.0
    name: str = "users"


@dataclass(frozen=True)
class StackelbergParams:
    """Coefficients of the game (defaults: Symmetry 2023, 15, 443, Section 5.3).

    Attributes
    ----------
    a1, a2, a3 : float
        Generation cost ``C(l) = a1 l² + a2 l + a3`` ($ per hour; a1 > 0, a2, a3 >= 0).
    mu : float
        Load-fluctuation cost coefficient μ >= 0.
    ir : float
        Incentive rate ($/MWh moved), >= 0.  ``ir = 0`` is the pure price model.
    r : float
        Price before the scheme r_k ($/MWh), the same every period, > 0.
    users : tuple of UserClass
        The follower classes; shares must sum to 1.
    l_min : float
        Least aggregate consumption per period (MW), >= 0 (paper: not given, 0).
    d_max : float or None
        Generation capacity; ``l_max = min(d_max, z_max)``.  None: the day's
        peak forecast demand (the paper gives no number).
    p_max : float
        Upper bound of the price variables ($/MWh).  It never binds when
        ``l_min = 0``: above the users' choke price the load is 0 and the
        company's utility is ``−a3 − μ Σ d_avg²``, far below the interior optimum.
    price_floor : str
        Reading of "p_k >= C_k": ``"average"`` (p_k l_k >= C(l_k), revenue
        covers cost each period; default), ``"marginal"`` (p_k >= 2 a1 l_k + a2)
        or ``"none"``.
    """

    a1: float = 0.01
    a2: float = 0.02
    a3: float = 0.0
    mu: float = 10.0
    ir: float = 0.0
    r: float = 100.0
    users: tuple[UserClass, ...] = field(default_factory=lambda: (UserClass(),))
    l_min: float = 0.0
    d_max: float | None = None
    p_max: float = 1000.0
    price_floor: str = "average"

    def with_(self, **changes: Any) -> StackelbergParams:
        """A copy with some fields changed (validated)."""
        new = replace(self, **changes)
        validate_params(new)
        return new

    @property
    def n_classes(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class DayData:
    """One day (N periods) of the game's data.

    Attributes
    ----------
    orl : ndarray, shape (N,)
        Consumption before the scheme (MW, hourly means = MWh per hour).
    d : ndarray, shape (N,)
        Forecast demand d_k (MW).
    label : str
        The day, e.g. ``"2021-01-30"``.
    index : DatetimeIndex or None
        Local hour-ending timestamps of the N periods.
    """

    orl: np.ndarray
    d: np.ndarray
    label: str = "day"
    index: pd.DatetimeIndex | None = None

    def __post_init__(self) -> None:
        orl = np.asarray(self.orl, dtype=float)
        d = np.asarray(self.d, dtype=float)
        problems = []
        if orl.ndim != 1 or orl.size == 0:
            problems.append(f"orl: must be a non-empty 1-D array, got shape {orl.shape}")
        elif d.shape != orl.shape:
            problems.append(f"d: must have the shape of orl {orl.shape}, got {d.shape}")
        for name, arr in (("orl", orl), ("d", d)):
            bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0)) if arr.ndim == 1 else []
            if len(bad):
                problems.append(f"{name}: " + name_entries(bad, arr.tolist(), "must be finite and >= 0"))
        if problems:
            raise InstanceError(problems, f"day {self.label}")
        object.__setattr__(self, "orl", orl)
        object.__setattr__(self, "d", d)

    @property
    def n(self) -> int:
        return int(self.orl.size)

    @property
    def d_avg(self) -> float:
        """Mean forecast demand of the day."""
        return float(self.d.mean())

    @property
    def sign(self) -> np.ndarray:
        """s_k = +1 where d_k < d_avg (valley: the incentive pays for more load), else −1."""
        return np.where(self.d < self.d_avg, 1.0, -1.0)


def l_max_of(params: StackelbergParams, day: DayData) -> float:
    """Aggregate upper bound ``l_max = min(d_max, z_max)`` (z_max of the population)."""
    d_max = float(day.d.max()) if params.d_max is None else float(params.d_max)
    z_max = min(u.z_max for u in params.users)
    return min(d_max, z_max)


def bound_violation(params: StackelbergParams, day: DayData) -> str | None:
    """Why the followers' load bounds are infeasible on ``day`` (``l_min > l_max``), or None.

    With ``d_max`` unset, ``l_max`` is the day's forecast peak, so the same
    parameters can be feasible on one day and infeasible on another.

    Examples
    --------
    >>> day = DayData(label="d", orl=np.ones(2), d=np.array([1.0, 3.0]))
    >>> bound_violation(StackelbergParams(l_min=5.0), day)
    'l_min = 5 exceeds l_max = min(d_max, z_max) = 3 on d: no load satisfies l_min <= l <= l_max'
    """
    l_max = l_max_of(params, day)
    if params.l_min > l_max:
        return (f"l_min = {params.l_min:g} exceeds l_max = min(d_max, z_max) = {l_max:g} on {day.label}: "
                "no load satisfies l_min <= l <= l_max")
    return None


def stopped_error(method: str, day: DayData, params: StackelbergParams, status: str, message: str) -> ModelError:
    """The one error every method raises when it has no equilibrium (same wording for all methods)."""
    return ModelError(f"{method} on {day.label} (ir = {params.ir:g}) stopped with status {status}: {message}")


def check_bounds(params: StackelbergParams, day: DayData, method: str) -> None:
    """Raise the ``infeasible`` :class:`ModelError` when ``l_min > l_max`` on ``day`` (the closed form
    would otherwise clip to an empty interval and return loads below ``l_min``)."""
    problem = bound_violation(params, day)
    if problem is not None:
        raise stopped_error(method, day, params, "infeasible", problem)


def validate_params(params: StackelbergParams, source: str = "parameters") -> None:
    """Check every coefficient; raise one InstanceError listing all problems.

    Raises
    ------
    InstanceError
        E.g. ``[users].theta: must be > 0, got -1`` or
        ``[users].w1 + w2: must equal 1, got 0.9``.
    """
    problems: list[str] = []

    def need(ok: bool, path: str, msg: str) -> None:
        if not ok:
            problems.append(f"{path}: {msg}")

    def finite(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    checks = (("a1", "> 0", lambda v: v > 0), ("a2", ">= 0", lambda v: v >= 0),
              ("a3", ">= 0", lambda v: v >= 0), ("mu", ">= 0", lambda v: v >= 0),
              ("ir", ">= 0", lambda v: v >= 0), ("r", "> 0", lambda v: v > 0),
              ("l_min", ">= 0", lambda v: v >= 0), ("p_max", "> 0", lambda v: v > 0))
    for name, word, ok in checks:
        v = getattr(params, name)
        section = "[game]" if name not in ("l_min", "p_max") else "[bounds]"
        if not finite(v):
            problems.append(f"{section}.{name}: must be a finite number, got {v!r}")
        elif not ok(v):
            problems.append(f"{section}.{name}: must be {word}, got {v:g}")
    if params.d_max is not None:
        need(finite(params.d_max) and params.d_max > 0, "[bounds].d_max",
             f"must be > 0, got {params.d_max!r}")
    need(params.price_floor in PRICE_FLOORS, "[game].price_floor",
         f"must be one of {', '.join(map(repr, PRICE_FLOORS))}, got {params.price_floor!r}")
    if not params.users:
        problems.append("[users]: at least one user class is required")
    multi = len(params.users) > 1
    for i, u in enumerate(params.users):
        path = f"[[users]] #{i + 1}" if multi else "[users]"
        for name in ("eta", "theta", "w1", "w2", "alpha", "z_max"):
            v = getattr(u, name)
            if not finite(v):
                problems.append(f"{path}.{name}: must be a finite number, got {v!r}")
            elif v <= 0:
                problems.append(f"{path}.{name}: must be > 0, got {v:g}")
        if finite(u.w1) and finite(u.w2) and abs(u.w1 + u.w2 - 1.0) > 1e-9:
            problems.append(f"{path}.w1 + w2: must equal 1, got {u.w1 + u.w2:g}")
        if not finite(u.share) or not 0 < u.share <= 1:
            problems.append(f"{path}.share: must be in (0, 1], got {u.share!r}")
    shares = [u.share for u in params.users if finite(u.share)]
    if multi and len(shares) == len(params.users) and abs(sum(shares) - 1.0) > 1e-9:
        problems.append(f"[[users]].share: the shares must sum to 1, got {sum(shares):g}")
    if finite(params.l_min) and params.users and all(finite(u.z_max) for u in params.users):
        zmax = min(u.z_max for u in params.users)
        need(params.l_min < zmax, "[bounds].l_min", f"must be below z_max = {zmax:g}, got {params.l_min:g}")
    if finite(params.l_min) and params.d_max is not None and finite(params.d_max):
        need(params.l_min <= params.d_max, "[bounds].l_min",
             f"must be <= [bounds].d_max = {params.d_max:g} (no load can lie between them), got {params.l_min:g}")
    if problems:
        raise InstanceError(problems, source)
