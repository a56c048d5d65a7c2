"""A household as data, and the Pyomo block that schedules it.

The household's problem (one follower of a pricing game, or a model of its own)::

    min  Σ_t dt·(price_t·buy_t − feed_in_t·sell_t)            (bill)
       + ω Σ_t dt·(x_t − x⁰_t)²                               (comfort, the TOU paper's user term)
       + Σ_devices penalties                                  (e.g. thermostat discomfort)
    s.t. buy_t − sell_t = Σ_devices power_t                   (net: purchases +, sales −)
         |x_t − x⁰_t| ≤ shift_limit · X_ref                   (the paper's 15 % limit)
         device constraints,  0 ≤ buy ≤ import limit,  0 ≤ sell ≤ export limit

with ``x_t`` the controllable devices' net power, ``x⁰_t`` their original
(uncontrolled) schedule from :meth:`Device.baseline`, and ``X_ref`` the
"consumption of all controllable loads in one hour": the sum of their power
ratings (kW; override with ``shift_reference_kw``).  ``dt`` is the period
length in hours, so energies and the comfort integral do not depend on the
time resolution.

Prices may be numbers (stored in a mutable Param of the block) or the
parent's Pyomo Vars/Params/Expressions (referenced, never copied), so the game
engine treats them as the leader's decision.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.modeling import unique_component_name
from pyomo.core.base.block import BlockData

from gridgames.models.households.devices import Device, FixedLoad
from gridgames.models.households.timegrid import TimeGrid
from gridgames.solvers.errors import ModelError
from gridgames.solvers.result import SolveResult

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


#: Component names of the household block; devices may not use them.
RESERVED_NAMES = frozenset({"price", "feed_in", "buy", "sell", "net", "balance", "shift", "shift_def", "bill",
                            "comfort_cost", "cost", "comfort_epi", "comfort_epi_def",
                            "penalty"})


class HouseholdInfeasibleError(ModelError):
    """A household whose devices cannot all be satisfied; ``problems`` names each device."""

    def __init__(self, household: str, problems: Sequence[str]) -> None:
        self.household = household
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"household '{household}' is infeasible:\n{lines}")


@dataclass
class Household:
    """One household: a time grid, a base load, devices and comfort settings.

    Parameters
    ----------
    name : str
        Used in block names and messages.
    devices : list of Device
        Controllable and fixed devices (see :mod:`gridgames.models.households.devices`).
    grid : TimeGrid
        Step and horizon (hourly, 24 h by default).
    base_load : array, optional
        Uncontrollable load (kW, one value per ``base_step`` hours); added as a
        :class:`FixedLoad` named ``base``.
    base_step : float
        Hours per ``base_load`` value.
    comfort : float
        ω, the comfort coefficient (currency per kW²·h of squared deviation).
    shift_limit : float or None
        Largest change of the controllable load in a period, as a fraction of
        ``shift_reference_kw``; None switches the limit off.
    shift_reference_kw : float, optional
        Default: the sum of the controllable devices' ratings.
    feed_in : float or sequence
        Price paid for exported energy (per kWh), used when the block builder
        gets no ``feed_in``.
    import_limit_kw, export_limit_kw : float
        Grid connection limits.
    """

    name: str
    devices: list[Device] = field(default_factory=list)
    grid: TimeGrid = field(default_factory=TimeGrid)
    base_load: np.ndarray | None = None
    base_step: float = 1.0
    comfort: float = 0.0
    shift_limit: float | None = 0.15
    shift_reference_kw: float | None = None
    feed_in: float | Sequence[float] = 0.0
    import_limit_kw: float = 20.0
    export_limit_kw: float = 20.0

    def all_devices(self) -> list[Device]:
        """The devices, with the base load first when there is one."""
        base = [] if self.base_load is None else [FixedLoad("base", np.asarray(self.base_load, float),
                                                            self.base_step)]
        return base + list(self.devices)

    @property
    def integer(self) -> bool:
        """True when some device needs binaries (a MILP/MIQP unless relaxed)."""
        return any(d.integer for d in self.devices)

    def reference_kw(self) -> float:
        """``X_ref`` of the shift limit."""
        if self.shift_reference_kw is not None:
            return float(self.shift_reference_kw)
        return float(sum(d.rated_kw for d in self.devices if d.controllable))

    def baseline(self) -> np.ndarray:
        """Original net power (kW per period): every device on its uncontrolled schedule."""
        return np.sum([d.baseline(self.grid) for d in self.all_devices()], axis=0) if self.all_devices() \
            else np.zeros(self.grid.n)

    def controllable_baseline(self) -> np.ndarray:
        """``x⁰``: the controllable devices' original net power."""
        parts = [d.baseline(self.grid) for d in self.devices if d.controllable]
        return np.sum(parts, axis=0) if parts else np.zeros(self.grid.n)

    def precheck(self) -> list[str]:
        """Infeasibilities found without a solver (each message names its device)."""
        names = [d.name for d in self.all_devices()]
        problems = [f"device name '{n}' is used twice" for n in sorted(set(names)) if names.count(n) > 1]
        problems += [f"device name '{n}' is reserved for the household block's own components"
                     for n in sorted(set(names) & RESERVED_NAMES)]
        for d in self.all_devices():
            problems += d.precheck(self.grid)
        return problems


def price_terms(values: Any, grid: TimeGrid, what: str = "prices") -> list[Any]:
    """One price term per period from numbers or Pyomo components (referenced, not copied).

    ``values`` may be a number, a sequence (numbers or Pyomo objects) or an
    indexed Pyomo component; ``m`` values on ``n`` periods (``n`` a multiple of
    ``m``) are held over ``n/m`` consecutive periods (24 hourly prices on a
    15-minute grid).
    """
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        return [float(values)] * grid.n
    if hasattr(values, "is_indexed") and values.is_indexed():
        terms = [values[k] for k in sorted(values.keys())]
    elif hasattr(values, "is_indexed"):
        terms = [values]
    else:
        try:
            terms = list(values.ravel()) if isinstance(values, np.ndarray) else list(values)
        except TypeError:
            raise ModelError(f"{what}: expected a number, a sequence or an indexed Pyomo component, "
                             f"got {type(values).__name__}") from None
    m = len(terms)
    if m == 0 or grid.n % m:
        raise ModelError(f"{what}: {m} values do not fit {grid.n} periods (give {grid.n} values, "
                         f"or a number of values dividing {grid.n})")
    hold = grid.n // m
    out = []
    for term in terms:
        if isinstance(term, (np.floating, np.integer)):
            term = float(term)
        if isinstance(term, float) and not np.isfinite(term):
            raise ModelError(f"{what}: value {term} is not finite")
        out.extend([term] * hold)
    return out


def _as_param(block: BlockData, name: str, terms: list[Any], grid: TimeGrid) -> list[Any]:
    """Numbers go into a mutable Param of the block; Pyomo terms are kept as references."""
    if all(isinstance(t, (int, float)) for t in terms):
        block.add_component(name, pyo.Param(grid.periods, initialize=dict(enumerate(terms)), mutable=True))
        comp = block.component(name)
        return [comp[t] for t in grid.periods]
    return terms


def household_block(parent: pyo.Block, household: Household, prices: Any, name: str | None = None, *,
                    feed_in: Any = None, relax: bool = False, precheck: bool = True,
                    comfort_form: str = "quadratic") -> BlockData:
    """Add the household's scheduling problem to ``parent`` as a block with one objective.

    Parameters
    ----------
    parent : pyomo Block
        Model (or block) to attach to.
    household : Household
    prices : number, sequence or indexed Pyomo component
        Purchase price per kWh per period (see :func:`price_terms`); Pyomo
        Vars of the parent make the block a follower of a pricing leader.
    name : str, optional
        Component name (default: the household's name, made unique).
    feed_in : number, sequence or Pyomo component, optional
        Export price per kWh (default ``household.feed_in``).
    relax : bool
        Binaries become continuous in [0, 1] (pure LP/QP, for KKT methods).
    precheck : bool
        Run :meth:`Household.precheck` first.
    comfort_form : {'quadratic', 'epigraph'}
        ``quadratic``: the comfort term sits in the objective (what KKT methods
        need).  ``epigraph``: one ``z_t ≥ shift_t²`` constraint per period and
        ``ω Σ dt z_t`` in the objective, the same optimum; SCIP's outer
        approximation converges on it in 0.1 s where the single quadratic
        objective (moved into one constraint by SCIP) ran past 120 s on a
        six-device MIQP household.  ``comfort_cost`` is the quadratic value
        either way.

    Returns
    -------
    BlockData
        With ``buy[t]``, ``sell[t]`` (kW), ``net[t]`` (kW, Expression),
        ``shift[t]`` (controllable deviation, kW, a Var), ``bill``, ``comfort_cost``,
        one sub-block per device (named after it) and the objective ``cost``.

    Raises
    ------
    HouseholdInfeasibleError
        A device that cannot be satisfied (found without solving).
    ModelError
        Prices of the wrong length.
    """
    grid = household.grid
    if precheck:
        problems = household.precheck()
        if problems:
            raise HouseholdInfeasibleError(household.name, problems)
    price = price_terms(prices, grid, f"household '{household.name}' prices")
    feed = price_terms(household.feed_in if feed_in is None else feed_in, grid,
                       f"household '{household.name}' feed_in")
    name = unique_component_name(parent, name or household.name)
    parent.add_component(name, pyo.Block())
    b = parent.component(name)
    price = _as_param(b, "price", price, grid)
    feed = _as_param(b, "feed_in", feed, grid)

    powers: dict[str, list[Any]] = {}
    penalty: Any = 0.0
    for device in household.all_devices():
        sub = pyo.Block()
        b.add_component(device.name, sub)
        powers[device.name] = device.add_to(sub, grid, relax)
        penalty = penalty + device.penalty(sub, grid)

    b.buy = pyo.Var(grid.periods, bounds=(0.0, household.import_limit_kw), initialize=0.0)
    b.sell = pyo.Var(grid.periods, bounds=(0.0, household.export_limit_kw), initialize=0.0)
    b.net = pyo.Expression(grid.periods, rule=lambda b_, t: b_.buy[t] - b_.sell[t])
    b.balance = pyo.Constraint(grid.periods, rule=lambda b_, t: b_.buy[t] - b_.sell[t]
                               == sum(p[t] for p in powers.values()))
    x0 = household.controllable_baseline()
    ctrl = [d.name for d in household.devices if d.controllable]
    # the deviation is a variable of its own: the comfort Hessian is then diagonal (HiGHS' QP
    # solver stalled on the dense-in-devices form sum((Σ power − x⁰)²))
    # the shift limit is the bound of that variable: |x_t − x⁰_t| ≤ shift_limit · X_ref
    limit = None if household.shift_limit is None or not ctrl else \
        household.shift_limit * household.reference_kw()
    b.shift = pyo.Var(grid.periods, initialize=0.0, bounds=(None, None) if limit is None else (-limit, limit))
    b.shift_def = pyo.Constraint(grid.periods, rule=lambda b_, t: b_.shift[t]
                                 == sum(powers[n][t] for n in ctrl) - float(x0[t]))
    b.bill = pyo.Expression(expr=grid.dt * sum(price[t] * b.buy[t] - feed[t] * b.sell[t] for t in grid.periods))
    omega = float(household.comfort)
    b.comfort_cost = pyo.Expression(
        expr=omega * grid.dt * sum(b.shift[t] ** 2 for t in grid.periods) if omega > 0 and ctrl else 0.0)
    if comfort_form == "epigraph" and omega > 0 and ctrl:
        b.comfort_epi = pyo.Var(grid.periods, bounds=(0.0, None), initialize=0.0)
        b.comfort_epi_def = pyo.Constraint(grid.periods, rule=lambda b_, t: b_.comfort_epi[t] >= b_.shift[t] ** 2)
        comfort = omega * grid.dt * sum(b.comfort_epi[t] for t in grid.periods)
    elif comfort_form in ("quadratic", "epigraph"):
        comfort = b.comfort_cost
    else:
        raise ModelError(f"comfort_form must be 'quadratic' or 'epigraph', got {comfort_form!r}")
    b.penalty = pyo.Expression(expr=penalty)
    b.cost = pyo.Objective(expr=b.bill + comfort + b.penalty, sense=pyo.minimize)
    b._gg_household = household
    b._gg_powers = powers
    log.debug("household block %s: %d devices, %d periods, relax=%s", b.name, len(powers), grid.n, relax)
    return b


@dataclass
class HouseholdSchedule:
    """A solved household block, as numbers.

    Attributes
    ----------
    buy, sell, net : ndarray
        Grid purchase, sale (kW, ≥ 0) and ``net = buy − sell`` per period.
    baseline_net : ndarray
        Net power of the original (uncontrolled) schedule, with PV export.
    device_power : dict of str to ndarray
        Net power of each device.
    energy_bought, energy_sold : float
        kWh over the horizon.
    bill, comfort_cost, objective : float
        ``objective = bill + comfort_cost + device penalties`` (the quadratic
        form, whichever ``comfort_form`` the block was built with).
    dt : float
        Hours per period (the household's time grid).
    """

    buy: np.ndarray
    sell: np.ndarray
    net: np.ndarray
    baseline_net: np.ndarray
    device_power: dict[str, np.ndarray]
    energy_bought: float
    energy_sold: float
    bill: float
    comfort_cost: float
    objective: float
    dt: float = 1.0

    def to_frame(self) -> pd.DataFrame:
        """The schedule per period: one row per period, power in kW.

        Returns
        -------
        pandas.DataFrame
            Index ``period`` (0, 1, ...); columns ``hour`` (start of the period,
            h), ``buy``, ``sell``, ``net``, ``baseline_net`` and ``device:<name>``
            (each device's net power).  The totals (``energy_bought``, ``bill``,
            ...) stay attributes.

        Examples
        --------
        >>> household_schedule(block).to_frame()[["buy", "net"]].sum()   # doctest: +SKIP
        """
        import pandas as pd

        columns = {"hour": np.arange(self.buy.size) * self.dt, "buy": self.buy, "sell": self.sell,
                   "net": self.net, "baseline_net": self.baseline_net,
                   **{f"device:{name}": power for name, power in self.device_power.items()}}
        return pd.DataFrame(columns, index=pd.RangeIndex(self.buy.size, name="period"))


def household_schedule(block: BlockData) -> HouseholdSchedule:
    """Read the current values of a block built by :func:`household_block`."""
    household: Household = block._gg_household
    grid = household.grid
    buy = np.array([pyo.value(block.buy[t]) for t in grid.periods])
    sell = np.array([pyo.value(block.sell[t]) for t in grid.periods])
    powers = {n: np.array([pyo.value(p) for p in terms], dtype=float) for n, terms in block._gg_powers.items()}
    return HouseholdSchedule(buy, sell, buy - sell, household.baseline(), powers,
                             float(buy.sum() * grid.dt), float(sell.sum() * grid.dt),
                             float(pyo.value(block.bill)), float(pyo.value(block.comfort_cost)),
                             float(pyo.value(block.bill + block.comfort_cost + block.penalty)), grid.dt)


def solve_household(household: Household, prices: Any, *, feed_in: Any = None, relax: bool = False,
                    solver: str | None = None, **solver_options: Any
                    ) -> tuple[pyo.ConcreteModel, HouseholdSchedule, SolveResult]:
    """Schedule one household alone at given prices.

    The solver defaults to HiGHS for LP/MILP, Ipopt for continuous QPs
    (comfort term, no binaries: HiGHS' active-set QP stalled past its time
    limit on a household with EV, battery, PV, AC and a pump at ω = 400, where
    Ipopt took 0.4 s) and SCIP for MIQP (comfort term with binaries), given
    the comfort term in ``epigraph`` form with ``numerics/feastol = 1e-9`` (at
    ω = 400 SCIP's default 1e-6 on ``z ≥ shift²`` is worth 0.005 of objective).
    ``schedule.objective`` is always the quadratic objective's value.

    Raises
    ------
    HouseholdInfeasibleError
        From the pre-check, or when the solver reports the block infeasible
        (the message then lists the devices and the shift limit to look at).
    """
    from gridgames.solvers import default_solver_for
    from gridgames.solvers.model_class import classify
    from gridgames.solvers.registry import available_solvers, get_solver
    from gridgames.solvers.result import SolveStatus

    model = pyo.ConcreteModel(name=f"household {household.name}")
    miqp = household.integer and not relax and household.comfort > 0
    epigraph = miqp and solver in (None, "scip")
    block = household_block(model, household, prices, "household", feed_in=feed_in, relax=relax,
                            comfort_form="epigraph" if epigraph else "quadratic")
    if epigraph:
        solver_options = {"numerics/feastol": 1e-9, **solver_options}
        solver = "scip"
    elif solver is None and classify(block).kind == "qp" and "ipopt" in available_solvers():
        solver = "ipopt"
    name = solver or default_solver_for(block)
    result = get_solver(name, **solver_options).solve(block)
    if result.status is SolveStatus.INFEASIBLE:
        kinds = ", ".join(d.label() for d in household.devices)
        limit = ("" if household.shift_limit is None else
                 f"; the shift limit allows ±{household.shift_limit * household.reference_kw():g} kW per period")
        raise HouseholdInfeasibleError(household.name, [
            f"solver '{name}' reports no feasible schedule for the devices together ({kinds}){limit}"])
    if not result.ok:
        raise ModelError(f"household '{household.name}': solver '{name}' stopped with status {result.status} "
                         f"({result.message})")
    return model, household_schedule(block), result
