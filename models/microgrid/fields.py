"""Declared instance fields of the ``microgrid_market`` family (read by :mod:`~gridgames.models.microgrid.config`
and the study's loader)."""
from __future__ import annotations

from gridgames.models.microgrid.config import MarketSpec
from gridgames.models.schema import REQUIRED, Field, Schema, envelope

_S = MarketSpec()
_RANGE = "[low, high]"
#: [sellers] arrays: key, units, help, range, starter example (None: optional)
_SELLERS = (
    ("capacity", "MWh", "capacity G_m per seller", "> 0", [300.0, 450.0, 250.0]),
    ("cost", "yuan/MWh", "unit cost c_m per seller", ">= 0", [50.0, 47.0, 53.0]),
    ("margin", "yuan/MWh", "margin ε_m per seller", "> 0", [10.0, 8.0, 12.0]),
    ("price_a", "yuan/MWh", "price intercept A_m (absent: cost + margin + [market].base_markup)", "", None),
    ("price_b", "yuan/MWh²", "price slope B_m", ">= 0", [0.4, 0.3, 0.5]),
    ("price_c", "yuan/MWh³", "price curvature C_m", ">= 0", [0.0005, 0.0003, 0.001]),
)

FIELDS = Schema(
    "microgrid_market",
    "microgrid sellers x buyers Nash game with dynamic prices (Energies 2021, 14, 5246)",
    (
        *envelope("microgrid_market"),
        Field("market", "seed", "integer", 0, help="seed of the random draws (sellers and buyers)", range=">= 0"),
        Field("market", "n_sellers", "integer", _S.n_sellers, help="number of sellers drawn (with [sellers]: their number)", range=">= 1"),
        Field("market", "capacity", _RANGE, list(_S.capacity), units="MWh", help="seller capacity G_m range"),
        Field("market", "cost", _RANGE, list(_S.cost), units="yuan/MWh", help="seller unit cost c_m range"),
        Field("market", "margin", _RANGE, list(_S.margin), units="yuan/MWh", help="seller margin ε_m range"),
        Field("market", "base_markup", "number", _S.base_markup, units="yuan/MWh",
              help="A_m = c_m + ε_m + base_markup (also the default of [sellers].price_a)", range=">= 0"),
        Field("market", "slope_at_capacity", _RANGE, list(_S.slope_at_capacity), units="yuan/MWh",
              help="price rise q_m(G_m) - A_m over the capacity"),
        Field("market", "curvature_share", "number", _S.curvature_share, help="share of that rise from C_m r²",
              range="0 to 1"),
        Field("market", "demand", _RANGE, list(_S.demand), units="MWh", help="buyer demand X_i range"),
        Field("market", "value", _RANGE, list(_S.value), units="yuan/MWh",
              help="buyer marginal value w_i of the first MWh, range"),
        Field("market", "availability", "[low, high] integers", list(_S.availability),
              help="number of sellers |M_i| available to a buyer, drawn uniformly"),
        Field("market", "satisfaction", "string", _S.satisfaction, choices=("log", "quadratic"),
              help="satisfaction form f: w X ln(1 + x/X) or w (x - x²/(2 κ X))"),
        Field("market", "kappa", "number", _S.kappa, help="κ of the quadratic satisfaction", range="> 1"),
        Field("market", "buyer_counts", "list of integers", [200, 400, 600, 800, 1000],
              help="market sizes solved (Figures 5-8); with [buyers]: the number of buyers given"),
        *(Field("sellers", key, "list of numbers", REQUIRED if example else None, units=units, help=text,
                range=rng if example else "", example=example) for key, units, text, rng, example in _SELLERS),
        Field("buyers", "demand", "list of numbers", REQUIRED, units="MWh", help="demand X_i per buyer",
              range="> 0", example=[40.0, 60.0, 25.0, 80.0]),
        Field("buyers", "value", "list of numbers", REQUIRED, units="yuan/MWh",
              help="marginal value w_i of the first MWh per buyer", range="> 0",
              example=[350.0, 420.0, 300.0, 480.0]),
        Field("buyers", "available", "list of lists of 0/1", None,
              help="available[i][m] = 1: buyer i may buy from seller m (absent: every seller)"),
        Field("baselines", "storage_share", "number", 0.3, help="storage baseline: battery size as a share "
              "of the buyer's demand", range="0 to 1"),
        Field("baselines", "offpeak_price", "number", 60.0, units="yuan/MWh",
              help="storage baseline: price paid to charge off-peak", range="> 0"),
        Field("methods", "compare", "list of methods", ["vectorised", "gauss-seidel", "kkt-nlp"],
              help="equilibrium methods compared on a small market ([] skips the comparison)"),
        Field("methods", "n_buyers", "integer", 12, help="buyers of that small market (the first ones)",
              range="1 to 500"),
        Field("methods", "pso_generations", "integer", 60, help="PSO budget in the comparison", range=">= 1"),
        Field("forecast", "n_buyers", "integer", 60, help="buyers of the forecast loop's market", range=">= 1"),
        Field("forecast", "periods", "integer", 24, units="h", help="hours forecast and played", range=">= 1"),
        Field("forecast", "history_hours", "integer", 336, units="h", help="history before the first period",
              range=">= 100"),
        Field("forecast", "load_file", "file", REQUIRED, help="hourly load CSV (path or shipped dataset name)",
              example="pjm_dayton"),
        Field("forecast", "time_column", "string", "Datetime", help="column of local time stamps (wall clock, "
              "or ISO 8601 with UTC offsets)"),
        Field("forecast", "timezone", "string", "America/New_York", help="IANA time zone of stamps without "
              "offsets: only its autumn clock-change hour may repeat"),
        Field("forecast", "load_column", "string", "DAYTON_MW", units="MW", help="column of the load"),
        Field("forecast", "forecaster", "string", "lstm", help="forecaster of the average price"),
        Field("margins", "n_buyers", "integer", 10, help="buyers of the margin stage's market", range="1 to 200"),
        Field("margins", "method", "string", "diagonalisation", choices=("diagonalisation", "joint"),
              help="EPEC method of the sellers' margin stage: each seller's MPEC in turn, or all sellers' "
                   "conditions stacked (models/microgrid/margins.py)"),
        Field("margins", "gap_tol", "number", 1e-3, help="relative leaders' gap accepted as an equilibrium",
              range="> 0"),
        Field("margins", "numpy_reference", "boolean", True,
              help="also run the numpy diagonalisation (leaders.py) as an independent check"),
    ),
    sections={"market": "random paper-like markets (Section 5.2): ranges drawn with the seed",
              "sellers": "optional: explicit per-seller values instead of the drawn sellers (equal lengths)",
              "buyers": "optional: explicit per-buyer values instead of the drawn buyers (equal lengths)",
              "baselines": "the Section 5.3 baselines", "methods": "every method on a small market",
              "forecast": "optional: the LSTM forecast-equilibrium loop of Figure 4 (absent: not run)",
              "margins": "optional: the sellers' margin stage, a multi-leader game (EPEC) over the buyers' "
                         "equilibrium (absent: not run)"},
    optional=("sellers", "buyers", "forecast", "margins"),
)
