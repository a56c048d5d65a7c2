"""Forecast-equilibrium loop of the paper's Figure 4: LSTM price forecast → buyers respond → equilibrium.

Reading of Figure 4 ("the LSTM prediction module is predicting the new values
for the stakeholders; based on the new data a new Nash equilibrium can be
reached; then new iterations of the LSTM and the Nash equilibrium"):

1. Buyers' demand follows a real hourly load profile: in hour t buyer i wants
   ``X_i · d_t`` with ``d_t`` the PJM Dayton load divided by its mean.
2. A history of equilibrium prices is built by solving the market hour by hour
   (vectorised solver); the LSTM (``get_forecaster("lstm")``) is trained on the
   buyer-weighted average equilibrium *clearing* price ``p_m(r_m) + μ_m``
   (price plus scarcity surcharge: what a buyer pays at the margin), and
   seller m's forecast is the average forecast times seller m's mean ratio
   over the history.
3. Each period of the horizon: the LSTM forecasts the next hour's prices, the
   buyers plan their requests as price takers at the forecast (one
   ``price-taking`` response), the planned requests are priced by the real
   price functions, then the equilibrium of that hour is recomputed and the
   observed equilibrium price is fed back to the LSTM (``update``, no refit).

Reported per period: forecast error of the average price, the planned
consumption's distance to the equilibrium, the capacity overshoot of the plan,
and the buyers' payoff loss from acting on the forecast instead of at the
equilibrium.  ``perfect_forecast_deviation_pct`` is the same price-taking plan
at the true clearing prices: it isolates what price-taking (ignoring one's own
price impact) costs, so the rest of the deviation is the forecast error's.
The last line correlates ``|forecast error|`` with the deviation.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from gridgames.data.series import LOCAL_TZ, read_local_hourly
from gridgames.models.instance import Checker, Instance, InstanceError
from gridgames.models.microgrid.config import MAX_BUYERS, Market, MarketSource
from gridgames.models.microgrid.solve import MarketSolution, buyer_payoffs, equilibrium

log = logging.getLogger(__name__)


def scaled_market(market: Market, scale: float) -> Market:
    """The market with every buyer's demand multiplied by ``scale``."""
    return market.with_(X=market.X * scale)


def clearing_prices(market: Market, sol: MarketSolution) -> np.ndarray:
    """What a buyer pays at the margin in equilibrium: ``p_m(r_m) + μ_m`` (price + scarcity surcharge)."""
    return market.price(sol.totals) + sol.mu


def equilibrium_prices(market: Market, scales: np.ndarray) -> np.ndarray:
    """Equilibrium clearing prices (T, M) for each demand scale."""
    out = []
    for s in scales:
        mk = scaled_market(market, s)
        out.append(clearing_prices(mk, equilibrium(mk, check=False)))
    return np.array(out)


def forecast_loop(market: Market, load: pd.Series, *, periods: int = 24, history_hours: int = 336,
                  forecaster: str = "lstm", forecaster_params: dict | None = None) -> pd.DataFrame:
    """Run the loop on the last ``history_hours + periods`` hours of ``load``.

    Parameters
    ----------
    market : Market
        Buyers' demands are the base values scaled by the load profile.
    load : pandas.Series
        Hourly load; only its shape (divided by its mean) is used.
    periods, history_hours : int
        Hours played and hours of history before them (``load`` needs their sum at least).
    forecaster : str
        A :func:`gridgames.forecasting.get_forecaster` name (the paper's ``lstm``).

    Returns
    -------
    DataFrame
        One row per period (see the module docstring).
    """
    from gridgames.forecasting import get_forecaster

    if len(load) < history_hours + periods:
        raise InstanceError([f"forecast loop: the load has {len(load)} hours; history_hours + periods = "
                             f"{history_hours} + {periods} = {history_hours + periods} are needed"], "forecast loop")
    window = load.iloc[-(history_hours + periods):]
    scales = (window / window.mean()).to_numpy()
    prices = equilibrium_prices(market, scales[:history_hours])
    weights = np.bincount(np.nonzero(market.avail)[1], minlength=market.n_sellers).astype(float)
    avg = prices @ weights / weights.sum()
    ratio = (prices / avg[:, None]).mean(axis=0)
    history = pd.Series(avg, index=window.index[:history_hours], name="price")
    params = {"lookback": 48, "output_len": 1, "seasonal_residual": 24, "hidden": 16, "epochs": 15,
              "max_windows": 400} if forecaster == "lstm" else {}
    params.update(forecaster_params or {})
    fitted = get_forecaster(forecaster, **params).fit(history)
    rows = []
    for t in range(periods):
        k = history_hours + t
        mk = scaled_market(market, float(scales[k]))
        guess = float(fitted.predict(1).iloc[0])
        plan = equilibrium(mk, mode="price-taking", prices=guess * ratio)
        eq = equilibrium(mk)
        p_star = clearing_prices(mk, eq)
        perfect = equilibrium(mk, mode="price-taking", prices=p_star)   # same behaviour, no forecast error
        avg_star = float(p_star @ weights / weights.sum())
        u_eq = buyer_payoffs(mk, eq.r).sum()
        rows.append({"time": window.index[k], "demand_scale": scales[k], "forecast_avg_price": guess,
                     "equilibrium_avg_price": avg_star, "forecast_error_pct": 100 * (guess - avg_star) / avg_star,
                     "plan_consumption_MWh": plan.r.sum(), "equilibrium_consumption_MWh": eq.r.sum(),
                     "consumption_deviation_pct": 100 * (plan.r.sum() - eq.r.sum()) / eq.r.sum(),
                     "perfect_forecast_deviation_pct": 100 * (perfect.r.sum() - eq.r.sum()) / eq.r.sum(),
                     "plan_capacity_overshoot_MWh": float(np.maximum(plan.totals - mk.G, 0).sum()),
                     "buyer_payoff_loss_pct": 100 * (u_eq - buyer_payoffs(mk, plan.r).sum()) / abs(u_eq),
                     "equilibrium_rel_gap": eq.rel_gap})
        fitted = fitted.update(pd.Series([avg_star], index=[window.index[k]]))
    return pd.DataFrame(rows).set_index("time")


def forecast_settings(chk: Checker, explicit_buyers: int | None = None) -> dict[str, Any]:
    """The ``[forecast]`` section, checked (problems recorded in ``chk``); ``{}`` when absent.

    With explicit ``[buyers]`` arrays (``explicit_buyers`` of them) the loop runs on
    those buyers: ``n_buyers`` defaults to their number and is cut to it (noted).
    """
    if "forecast" not in chk.data:
        return {}
    settings = {"n_buyers": buyers_within(chk, "forecast", 60, MAX_BUYERS, explicit_buyers),
                "buyers_note": buyers_note(chk, "forecast", explicit_buyers),
                "periods": chk.number("forecast", "periods", 24, ge=1, le=24 * 366, integer=True),
                "history_hours": chk.number("forecast", "history_hours", 336, ge=100, integer=True),
                "load_file": chk.string("forecast", "load_file"),
                "time_column": chk.string("forecast", "time_column", "Datetime"),
                "timezone": chk.timezone("forecast", "timezone", LOCAL_TZ),
                "load_column": chk.string("forecast", "load_column", "DAYTON_MW"),
                "forecaster": chk.string("forecast", "forecaster", "lstm")}
    chk.unknown_keys("forecast", [k for k in settings if k != "buyers_note"])
    return settings


def check_load_file(chk: Checker, resolve: Any, cfg: dict[str, Any]) -> None:
    """``[forecast].load_file`` exists and has the time and load columns, checked when the instance loads
    (not after every market of the run is solved)."""
    file = cfg.get("load_file")
    if not file:
        return
    path = resolve(file)
    if not path.is_file():
        chk.fail("[forecast].load_file", f"no such file: {path}")
        return
    try:
        with open(path, encoding="utf-8") as handle:
            header = [c.strip().strip('"') for c in handle.readline().split(",")]
    except (OSError, UnicodeDecodeError) as exc:
        chk.fail("[forecast].load_file", f"cannot read {path.name}: {exc}")
        return
    for key in ("time_column", "load_column"):
        column = cfg.get(key)
        if column and column not in header:
            chk.fail(f"[forecast].{key}", f"{column!r} is not a column of {path.name} (columns: {', '.join(header)})")


def buyers_within(chk: Checker, section: str, default: int, largest: int, explicit: int | None) -> int | None:
    """``[section].n_buyers``, taken from the explicit ``[buyers]`` arrays when there are some.

    Without them: ``default`` if absent, at most ``largest``.  With ``explicit`` buyers the
    stage's market is cut from them (never drawn past them): the default is
    ``min(explicit, largest)`` and a larger value is cut to ``explicit`` (as ``[methods].n_buyers``
    is), which :func:`buyers_note` reports.
    """
    n = chk.number(section, "n_buyers", default if explicit is None else min(explicit, largest), ge=1, le=largest,
                   integer=True)
    return n if explicit is None or n is None else min(n, explicit)


def buyers_note(chk: Checker, section: str, explicit: int | None) -> str | None:
    """A note when ``[section].n_buyers`` asks for more buyers than the explicit ``[buyers]`` give."""
    asked = chk.data.get(section, {}).get("n_buyers")
    if explicit is None or not isinstance(asked, int) or asked <= explicit:
        return None
    return f"[{section}].n_buyers = {asked} cut to the {explicit} buyers given in [buyers]"


def forecast_loop_from_config(instance: Instance, source: MarketSource,
                              cfg: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """Run :func:`forecast_loop` with the settings of :func:`forecast_settings` (``[forecast]``) on the
    study's market of ``n_buyers`` buyers: the seeded draw with the explicit ``[sellers]``/``[buyers]``
    arrays replacing the drawn values (:class:`~gridgames.models.microgrid.config.MarketSource`)."""
    n, periods, hours, name = cfg["n_buyers"], cfg["periods"], cfg["history_hours"], cfg["forecaster"]
    file, tcol, vcol = cfg["load_file"], cfg["time_column"], cfg["load_column"]
    # clock changes in the PJM file: the data layer's policy (repeated hour averaged, missing hour interpolated)
    path = instance.resolve(file)
    load = read_local_hourly(path, tcol, vcol, field_name="[forecast].load_file", min_value=0.0,
                             tz=cfg.get("timezone") or LOCAL_TZ)
    need = int(hours) + int(periods)
    if len(load) < need:
        raise InstanceError([f"[forecast].load_file: {path.name} has {len(load)} hours ({load.index[0]} to "
                             f"{load.index[-1]}); history_hours + periods = {hours} + {periods} = {need} hours "
                             "are needed"], "[forecast]")
    table = forecast_loop(source.market(int(n)), load, periods=int(periods),
                          history_hours=int(hours), forecaster=name)
    err = table["forecast_error_pct"].abs()
    dev = table["consumption_deviation_pct"].abs()
    corr = float(np.corrcoef(err, dev)[0, 1]) if err.std() > 0 and dev.std() > 0 else float("nan")
    notes = [f"forecast loop ({name}, {n} buyers, {periods} h): mean |price forecast error| {err.mean():.2f} %, "
             f"mean |consumption deviation from equilibrium| {dev.mean():.2f} %, mean payoff loss "
             f"{table['buyer_payoff_loss_pct'].mean():.3f} %, corr(|error|, |deviation|) = {corr:.2f}"]
    if cfg.get("buyers_note"):
        notes.append(cfg["buyers_note"])
    return table, notes
