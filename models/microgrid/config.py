"""Data of the microgrid market game (Energies 2021, 14, 5246, Section 3): sellers, buyers, satisfaction.

Reading of the paper's garbled Section 3.1-3.2
-----------------------------------------------
* Seller (microgrid) m: capacity ``G_m`` (MWh), unit cost ``c_m``, unit margin
  ``ε_m`` and the quadratic dynamic price of eq. (9),
  ``q_m(r) = A_m + B_m r + C_m r²``, floored at ``c_m + ε_m`` (eq. (7):
  ``K = c_m + ε_m when q < c_m + ε_m``), so ``p_m(r) = max(q_m(r), c_m + ε_m)``.
  Eq. (6) makes the price infinite past the capacity (``θ → ∞`` when
  ``r_m > G_m``): we read it as the shared constraint ``r_m ≤ G_m``.
  We require ``B_m, C_m ≥ 0`` so that ``p_m`` is nondecreasing and convex; then
  ``x · p_m(R + x)`` is convex in a buyer's own request ``x`` (its marginal
  cost ``p + x p'`` is nondecreasing), which keeps every buyer's problem convex
  even with the floor's kink.
* Buyer i with demand ``X_i`` requests ``r_im ≥ 0`` from its available sellers
  ``M_i`` (eq. (1)); eq. (2) fixes ``Σ_m r_im = X_i`` in the paper's evolutionary
  game, but its Figure 5 shows consumption falling below demand as buyers
  multiply, so we use ``Σ_m r_im ≤ X_i``.
* Payoff (eqs. (13)-(18)): ``U_i = Σ_m [f(r_im) − p_m(r_m) r_im]``.  The
  satisfaction ``f(r_im, N_m)`` of eq. (14) is garbled
  (``r_im p_m G_m / Σ_{m∈M_i} r_im``); the text asks for a strictly increasing,
  non-negative, concave function "related to the seller's generation and the
  buyer's demand".  Our default is the demand-scaled logarithm
  ``f(x) = w_i X_i ln(1 + x / X_i)`` (marginal value ``w_i`` at 0, ``w_i/2`` at
  the full demand); the ``G_m / Σ r`` factor is read as the seller's capacity
  share and enters as the capacity constraint (rationing), not inside ``f``.
  :class:`QuadraticSatisfaction` is a second form, and any object with the
  :class:`Satisfaction` methods can be plugged in.
* Seller revenue (eq. (19)): ``ψ_m = p_m(r_m) r_m − c_m G_m``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from gridgames.models.instance import Checker, InstanceError, name_entries


# --------------------------------------------------------------------------
# Satisfaction functions (pluggable)
# --------------------------------------------------------------------------
class Satisfaction(Protocol):
    """A buyer's satisfaction ``f(x; X, w)`` from ``x`` MWh bought from one seller.

    ``X`` is the buyer's demand and ``w`` its marginal value of the first MWh;
    all methods broadcast over numpy arrays.  ``f`` must be strictly increasing
    and concave on ``[0, X]`` with ``f(0) = 0``.
    """

    name: str

    def value(self, x: np.ndarray, X: np.ndarray, w: np.ndarray) -> np.ndarray: ...

    def d1(self, x: np.ndarray, X: np.ndarray, w: np.ndarray) -> np.ndarray: ...

    def d2(self, x: np.ndarray, X: np.ndarray, w: np.ndarray) -> np.ndarray: ...

    def solve_foc(self, k: np.ndarray, s: np.ndarray, X: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The ``x ≥ 0`` with ``f'(x) − s x = k`` (0 when ``f'(0) ≤ k``), ``s ≥ 0``."""
        ...

    def pyomo(self, x: Any, X: float, w: float) -> Any: ...


@dataclass(frozen=True)
class LogSatisfaction:
    """``f(x) = w X ln(1 + x / X)``: ``f'(x) = w X / (X + x)`` (default form)."""

    name: str = "log"

    def value(self, x, X, w):
        return w * X * np.log1p(x / X)

    def d1(self, x, X, w):
        return w * X / (X + x)

    def d2(self, x, X, w):
        return -w * X / (X + x) ** 2

    def solve_foc(self, k, s, X, w):
        # w X / (X + x) = k + s x  <=>  s x² + (k + s X) x + (k − w) X = 0; positive root,
        # written without cancellation: x = 2 (w − k) X / (b + sqrt(b² + 4 s (w − k) X)).
        gain = np.maximum(w - k, 0.0) * X
        b = k + s * X
        with np.errstate(divide="ignore", invalid="ignore"):
            x = 2.0 * gain / (b + np.sqrt(b * b + 4.0 * s * gain))
        return np.where(gain > 0.0, x, 0.0)

    def pyomo(self, x, X, w):
        import pyomo.environ as pyo
        return w * X * pyo.log(1.0 + x / X)


@dataclass(frozen=True)
class QuadraticSatisfaction:
    """``f(x) = w (x − x² / (2 κ X))``, increasing on ``[0, κ X]``; ``κ > 1``."""

    kappa: float = 2.0
    name: str = "quadratic"

    def __post_init__(self) -> None:
        if not self.kappa > 1.0:
            raise InstanceError([f"satisfaction kappa: must be > 1 (f increasing on [0, X]), got {self.kappa}"],
                                "QuadraticSatisfaction")

    def value(self, x, X, w):
        return w * (x - x * x / (2.0 * self.kappa * X))

    def d1(self, x, X, w):
        return w * (1.0 - x / (self.kappa * X))

    def d2(self, x, X, w):
        return -w / (self.kappa * X) + 0.0 * x

    def solve_foc(self, k, s, X, w):
        return np.maximum(w - k, 0.0) / (w / (self.kappa * X) + s)

    def pyomo(self, x, X, w):
        return w * (x - x * x / (2.0 * self.kappa * X))


SATISFACTIONS = {"log": LogSatisfaction(), "quadratic": QuadraticSatisfaction()}


def satisfaction_by_name(name: str, **params: float) -> Satisfaction:
    """A built-in satisfaction form: ``"log"`` or ``"quadratic"`` (``kappa=``)."""
    if name == "log":
        return LogSatisfaction()
    if name == "quadratic":
        return QuadraticSatisfaction(**params)
    raise InstanceError([f"[buyers].satisfaction: must be one of 'log', 'quadratic', got {name!r}"])


# --------------------------------------------------------------------------
# Market data
# --------------------------------------------------------------------------
@dataclass
class Market:
    """One microgrid market: M sellers, N buyers, availability graph.

    Attributes
    ----------
    G, c, eps, A, B, C : ndarray, shape (M,)
        Seller capacity, unit cost, margin and price coefficients.
    X, w : ndarray, shape (N,)
        Buyer demand and marginal value of the first MWh.
    avail : ndarray of bool, shape (N, M)
        ``avail[i, m]``: buyer i may request from seller m.
    satisfaction : Satisfaction
    """

    G: np.ndarray
    c: np.ndarray
    eps: np.ndarray
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    X: np.ndarray
    w: np.ndarray
    avail: np.ndarray
    satisfaction: Satisfaction = field(default_factory=LogSatisfaction)
    seller_names: list[str] = field(default_factory=list)
    buyer_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("G", "c", "eps", "A", "B", "C", "X", "w"):
            setattr(self, name, np.asarray(getattr(self, name), dtype=float))
        self.avail = np.asarray(self.avail, dtype=bool)
        if not self.seller_names:
            self.seller_names = [f"MG{m + 1}" for m in range(self.n_sellers)]
        if not self.buyer_names:
            self.buyer_names = [f"buyer{i + 1}" for i in range(self.n_buyers)]
        validate(self)

    @property
    def n_sellers(self) -> int:
        return int(self.G.size)

    @property
    def n_buyers(self) -> int:
        return int(self.X.size)

    @property
    def floor(self) -> np.ndarray:
        """``c_m + ε_m``: the price floor of eq. (7)."""
        return self.c + self.eps

    @property
    def kink(self) -> np.ndarray:
        """``r̄_m``: total request below which the floor is active (0 when ``A_m ≥ c_m + ε_m``)."""
        gap = self.floor - self.A
        out = np.zeros_like(gap)
        pos = gap > 0
        B, C = self.B[pos], self.C[pos]
        with np.errstate(divide="ignore", invalid="ignore"):
            quad = 2.0 * gap[pos] / (B + np.sqrt(B * B + 4.0 * C * gap[pos]))
        out[pos] = quad
        return out

    @property
    def floor_inactive(self) -> bool:
        """True when ``A_m ≥ c_m + ε_m`` for every seller: ``p_m = q_m`` for all ``r ≥ 0``."""
        return bool(np.all(self.A >= self.floor))

    def price(self, r: np.ndarray) -> np.ndarray:
        """``p_m(r) = max(A + B r + C r², c + ε)`` (broadcasts over the last axis)."""
        return np.maximum(self.A + self.B * r + self.C * r * r, self.floor)

    def price_slope(self, r: np.ndarray) -> np.ndarray:
        """Right derivative of ``p_m`` at ``r`` (0 on the floor, ``B + 2 C r`` above it)."""
        return np.where(r >= self.kink, self.B + 2.0 * self.C * r, 0.0)

    def with_(self, **changes: Any) -> "Market":
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)


def validate(market: Market) -> None:
    """Shapes, signs and the availability graph; raises :class:`InstanceError` naming the field."""
    problems: list[str] = []
    M, N = market.G.size, market.X.size
    for name in ("c", "eps", "A", "B", "C"):
        arr = getattr(market, name)
        if arr.shape != (M,):
            problems.append(f"[sellers].{name}: must have {M} entries (one per seller), got {arr.size}")
    if market.w.shape != (N,):
        problems.append(f"[buyers].w: must have {N} entries (one per buyer), got {market.w.size}")
    if market.avail.shape != (N, M):
        problems.append(f"availability: must be {N} buyers x {M} sellers, got {market.avail.shape}")
    for name, arr, cond, word in (("G", market.G, market.G > 0, "> 0"), ("c", market.c, market.c >= 0, ">= 0"),
                                  ("eps", market.eps, market.eps > 0, "> 0 (Definition 3)"),
                                  ("B", market.B, market.B >= 0, ">= 0 (price nondecreasing)"),
                                  ("C", market.C, market.C >= 0, ">= 0 (price convex)"),
                                  ("X", market.X, market.X > 0, "> 0"), ("w", market.w, market.w > 0, "> 0")):
        flat = arr.ravel().tolist() if arr.shape else []
        if flat and not np.all(np.isfinite(arr)):
            problems.append(f"{_where(name)}.{name}: "
                            + name_entries(np.flatnonzero(~np.isfinite(arr.ravel())), flat, "is not finite"))
        elif flat and not np.all(cond):
            problems.append(f"{_where(name)}.{name}: "
                            + name_entries(np.flatnonzero(~cond.ravel()), flat, f"must be {word}"))
    if not problems and market.avail.shape == (N, M):
        empty = np.flatnonzero(~market.avail.any(axis=1))
        if empty.size:
            names = [market.buyer_names[i] if market.buyer_names else f"buyer{i + 1}" for i in empty[:5]]
            more = f" (and {empty.size - 5} more)" if empty.size > 5 else ""
            problems.append(f"availability: {', '.join(names)}{more} has an empty set of available "
                            f"sellers M_i (every buyer needs at least one seller)")
        if market.floor.size and np.any(market.w.max() <= market.floor.min()) and N:
            problems.append("[buyers].w: every buyer's marginal value is below every seller's price floor "
                            "c + eps: nobody would buy")
    if problems:
        raise InstanceError(problems, "microgrid market")


def _where(name: str) -> str:
    return "[buyers]" if name in ("X", "w") else "[sellers]"


# --------------------------------------------------------------------------
# Random paper-like markets (Section 5.2)
# --------------------------------------------------------------------------
#: Size guard of ``[market].buyer_counts`` and ``[methods].n_buyers``: the vectorised solver needs
#: O(buyers x sellers) memory per iteration; 100,000 buyers x 10 sellers takes about a minute.
MAX_BUYERS = 100_000
#: Size guard of ``[methods].n_buyers`` (every Pyomo method solves one model per buyer and round).
MAX_SMALL_BUYERS = 500

@dataclass(frozen=True)
class MarketSpec:
    """How to draw a Section 5.2 market; every field has the paper's value or our documented choice."""

    n_sellers: int = 10
    capacity: tuple[float, float] = (200.0, 500.0)     # MWh, "installed capacity 200-500 MWh"
    cost: tuple[float, float] = (45.0, 55.0)           # yuan/MWh, "generation cost about 50 yuan/MWh"
    margin: tuple[float, float] = (5.0, 15.0)          # ε_m, yuan/MWh (ours)
    base_markup: float = 10.0                          # A_m = c_m + ε_m + base_markup (floor inactive)
    slope_at_capacity: tuple[float, float] = (150.0, 250.0)   # q(G) - A: price rise over the capacity (ours)
    curvature_share: float = 0.3                       # share of that rise from C r² (ours)
    demand: tuple[float, float] = (20.0, 90.0)         # MWh, "load demand between 20-90 MWh"
    value: tuple[float, float] = (300.0, 500.0)        # w_i, yuan/MWh (ours)
    availability: tuple[int, int] = (2, 6)             # |M_i| drawn uniformly (ours)
    satisfaction: str = "log"
    kappa: float = 2.0


def random_market(n_buyers: int, spec: MarketSpec = MarketSpec(), seed: int = 0) -> Market:
    """A seeded random market following Section 5.2 (sellers drawn from their own stream).

    The sellers depend only on ``seed`` (not on ``n_buyers``), so markets of
    different sizes share the same sellers and the first buyers coincide.
    """
    if n_buyers < 1:
        raise InstanceError([f"n_buyers: must be >= 1, got {n_buyers}"], "microgrid market")
    rs = np.random.default_rng([seed, 1])
    M = spec.n_sellers
    G = rs.uniform(*spec.capacity, M)
    c = rs.uniform(*spec.cost, M)
    eps = rs.uniform(*spec.margin, M)
    A = c + eps + spec.base_markup
    rise = rs.uniform(*spec.slope_at_capacity, M)
    B = (1.0 - spec.curvature_share) * rise / G
    C = spec.curvature_share * rise / G ** 2
    rb = np.random.default_rng([seed, 2])
    X = rb.uniform(*spec.demand, n_buyers)
    w = rb.uniform(*spec.value, n_buyers)
    k = np.minimum(rb.integers(spec.availability[0], spec.availability[1] + 1, n_buyers), M)
    order = np.argsort(rb.random((n_buyers, M)), axis=1)
    avail = np.zeros((n_buyers, M), dtype=bool)
    rows = np.repeat(np.arange(n_buyers), k)
    cols = np.concatenate([order[i, :k[i]] for i in range(n_buyers)])
    avail[rows, cols] = True
    sat = satisfaction_by_name(spec.satisfaction, **({"kappa": spec.kappa} if spec.satisfaction == "quadratic"
                                                     else {}))
    return Market(G=G, c=c, eps=eps, A=A, B=B, C=C, X=X, w=w, avail=avail, satisfaction=sat)


def symmetric_market(n_buyers: int, *, X: float = 50.0, w: float = 400.0, A: Any = (70.0, 80.0, 90.0),
                     B: Any = (0.05, 0.04, 0.06), G: float | Any = 1e6, cost: float = 50.0,
                     eps: float = 10.0, satisfaction: Satisfaction | None = None) -> Market:
    """Identical buyers, linear-price sellers, full availability: the closed-form case."""
    A = np.atleast_1d(np.asarray(A, float))
    M = A.size
    return Market(G=np.broadcast_to(np.asarray(G, float), (M,)).copy(), c=np.full(M, cost),
                  eps=np.full(M, eps), A=A, B=np.broadcast_to(np.asarray(B, float), (M,)).copy(),
                  C=np.zeros(M), X=np.full(n_buyers, X), w=np.full(n_buyers, w),
                  avail=np.ones((n_buyers, M), bool), satisfaction=satisfaction or QuadraticSatisfaction())


def market_spec_from_checker(chk: Checker) -> tuple[MarketSpec, list[int], int]:
    """Read ``[market]`` of an instance: the spec, the buyer counts and the seed."""
    sec = "market"
    chk.section(sec)
    base = MarketSpec()

    def pair(key: str, default: tuple) -> tuple:   # a capacity of 0 leaves a seller nothing to sell
        got = chk.numbers(sec, key, list(default), length=2, **({"gt": 0} if key == "capacity" else {"ge": 0}))
        return tuple(float(v) for v in got) if got is not None else default

    spec = MarketSpec(
        n_sellers=chk.number(sec, "n_sellers", base.n_sellers, ge=1, integer=True) or base.n_sellers,
        capacity=pair("capacity", base.capacity), cost=pair("cost", base.cost),
        margin=pair("margin", base.margin),
        base_markup=chk.number(sec, "base_markup", base.base_markup, ge=0) or 0.0,
        slope_at_capacity=pair("slope_at_capacity", base.slope_at_capacity),
        curvature_share=chk.number(sec, "curvature_share", base.curvature_share, ge=0, le=1) or 0.0,
        demand=pair("demand", base.demand), value=pair("value", base.value),
        availability=tuple(int(v) for v in pair("availability", base.availability)),
        satisfaction=chk.string(sec, "satisfaction", base.satisfaction, choices=["log", "quadratic"]) or "log",
        kappa=chk.number(sec, "kappa", base.kappa, gt=1) or base.kappa)
    counts = chk.numbers(sec, "buyer_counts", [200, 400, 600, 800, 1000], gt=0, le=MAX_BUYERS, integer=True,
                         min_length=1)
    seed = chk.number(sec, "seed", 0, ge=0, integer=True) or 0
    from gridgames.models.microgrid.fields import FIELDS  # noqa: PLC0415  (fields import MarketSpec from here)
    chk.declared_keys(FIELDS, [sec])
    for key in ("capacity", "cost", "margin", "slope_at_capacity", "demand", "value", "availability"):
        lo, hi = getattr(spec, key)
        chk.check(lo <= hi, f"[market].{key}", f"low end {lo:g} exceeds high end {hi:g}")
    if "availability" in (chk.data.get(sec) or {}):   # the default (2, 6) is clipped to the sellers when drawn
        chk.check(spec.availability[1] <= spec.n_sellers and spec.availability[0] >= 1, "[market].availability",
                  f"must lie in [1, n_sellers={spec.n_sellers}]")
    return spec, [int(n) for n in (counts if counts is not None else [])], int(seed)



# --------------------------------------------------------------------------
# Explicit per-seller / per-buyer values ([sellers], [buyers]) beside the draws
# --------------------------------------------------------------------------
_SELLER_ARRAYS = {"capacity": "G", "cost": "c", "margin": "eps", "price_a": "A", "price_b": "B", "price_c": "C"}


@dataclass
class MarketSource:
    """Where a study's markets come from: the seeded draw of ``spec``, with the explicit
    ``[sellers]`` and ``[buyers]`` arrays (when given) replacing the drawn values.

    :meth:`market` of ``n`` buyers: explicit buyers are cut to their first ``n``.
    """

    spec: MarketSpec
    seed: int
    sellers: dict[str, np.ndarray] = field(default_factory=dict)
    buyers: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_buyers(self) -> int | None:
        """Number of explicit buyers (None: drawn)."""
        return int(self.buyers["X"].size) if self.buyers else None

    def market(self, n: int) -> Market:
        """The market of ``n`` buyers (``n`` <= the explicit buyers when they are given)."""
        drawn = random_market(n, self.spec, self.seed)
        buyers = {k: v[:n] for k, v in self.buyers.items()}
        return drawn.with_(**self.sellers, **buyers)


def explicit_arrays(chk: Checker, spec: MarketSpec, seed: int) -> MarketSource:
    """Read the optional ``[sellers]`` and ``[buyers]`` arrays (length checks naming the field)."""
    from gridgames.models.microgrid.fields import FIELDS  # noqa: PLC0415
    chk.declared_keys(FIELDS, ["sellers", "buyers"])
    sellers: dict[str, np.ndarray] = {}
    if "sellers" in chk.data:
        G = chk.numbers("sellers", "capacity", gt=0)
        m = None if G is None else G.size
        for key, attr in _SELLER_ARRAYS.items():
            required = key not in ("price_a",)
            got = chk.numbers("sellers", key, **({} if required else {"default": None}), length=m,
                              **({"gt": 0} if key in ("capacity", "margin") else {"ge": 0}))
            if got is not None:
                sellers[attr] = got
        if {"c", "eps"} <= set(sellers) and "A" not in sellers:
            sellers["A"] = sellers["c"] + sellers["eps"] + spec.base_markup
    m = sellers["G"].size if "G" in sellers else spec.n_sellers
    buyers: dict[str, np.ndarray] = {}
    if "buyers" in chk.data:
        X = chk.numbers("buyers", "demand", gt=0)
        n = None if X is None else X.size
        w = chk.numbers("buyers", "value", gt=0, length=n)
        avail = _availability(chk, n, m)
        if X is not None and w is not None and avail is not None:
            buyers = {"X": X, "w": w, "avail": avail}
    # a value the user set that disagrees with the arrays (the defaults, as a starter file writes them, are
    # replaced by the arrays' sizes without a word)
    market = {k: v for k, v in (chk.data.get("market") or {}).items()
              if k in ("n_sellers", "buyer_counts") and v != FIELDS.default("market", k)}
    if "G" in sellers and "n_sellers" in market and market["n_sellers"] != m:
        chk.fail("[market].n_sellers", f"is {market['n_sellers']!r} but [sellers] gives {m} sellers: leave it out "
                 f"or set it to {m}")
    if buyers and "buyer_counts" in market and market["buyer_counts"] != [buyers["X"].size]:
        chk.fail("[market].buyer_counts", f"is {market['buyer_counts']!r} but [buyers] gives {buyers['X'].size} "
                 f"buyers (the market solved): leave it out or set it to [{buyers['X'].size}]")
    return MarketSource(replace(spec, n_sellers=m), seed, sellers, buyers)


def _availability(chk: Checker, n: int | None, m: int) -> np.ndarray | None:
    """``[buyers].available``: n rows of m 0/1 entries (absent: every seller)."""
    raw = chk.raw("buyers", "available", None)
    if raw is None:
        return None if n is None else np.ones((n, m), bool)
    path = "[buyers].available"
    if not isinstance(raw, list) or not all(isinstance(r, list) for r in raw):
        chk.fail(path, "must be a list of rows (one per buyer) of 0/1 entries (one per seller)")
        return None
    if n is not None and len(raw) != n:
        chk.fail(path, f"must have {n} rows (one per buyer of [buyers].demand), got {len(raw)}")
        return None
    for i, row in enumerate(raw):
        if len(row) != m or any(v not in (0, 1) or isinstance(v, float) for v in row):
            chk.fail(path, f"row {i} must hold {m} entries 0 or 1 (one per seller), got {row!r}")
            return None
        if not any(row):
            chk.fail(path, f"row {i} has no seller available: buyer {i} could buy from nobody (give at least one 1)")
            return None
    return np.asarray(raw, dtype=bool)
