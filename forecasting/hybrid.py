"""SARIMA-ANN hybrid of the Stackelberg paper (section 4.3, Algorithms 1-2, Table 5).

SARIMA forecasts the linear part; a one-hidden-layer tanh network (torch)
learns SARIMA's forecast *error* from the 12 inputs of Table 5 and the
hybrid forecast is ``SARIMA forecast + predicted error``.

Table 5 inputs for a target hour t (lags in observations, hourly data):

======  =============================================  =====
x1/2    SARIMA forecast / error, same hour day before  t-24
x3/4    ... one hour after, day before                 t-23
x5/6    ... one hour before, day before                t-25
x7/8    ... same hour week before                      t-168
x9/10   ... one hour after, week before                t-167
x11/12  ... one hour before, week before               t-169
======  =============================================  =====

"SARIMA forecast" means the forecast SARIMA issued for that hour in the same
mode it is used in: day-ahead (``mode="day"``: 24 values issued at the start
of each day, errors of leads 0-23) or hour-ahead (``mode="hour"``: one-step
forecasts). The training history is produced by replaying the fitted SARIMA
over the window with fixed parameters (``apply`` + ``extend``), exactly as
the rolling forecast later produces it. A lag that is not yet observed when
the forecast is issued (t-23 for the last hour of a day-ahead block) is
replaced by the latest observed hour. Inputs and target are min-max scaled
to [-1, 1] (section 5.2.1). Training is full-batch Adam on the MSE.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import torch

from gridgames.forecasting.base import FittedForecaster, Forecaster, register_forecaster
from gridgames.forecasting.sarima import FittedSarima, SarimaForecaster
from gridgames.forecasting.torch_utils import MinMaxScaler, limit_threads, seed_everything, torch_device
from gridgames.forecasting.validation import ForecastError, check_positive_float, check_positive_int

logger = logging.getLogger(__name__)

#: Lags of Table 5, in input order (x1..x12 are forecast, error at each lag).
TABLE5_LAGS = (24, 23, 25, 168, 167, 169)


class SarimaAnnForecaster(Forecaster):
    """SARIMA + tanh MLP on SARIMA's forecast errors.

    Parameters
    ----------
    hidden : int
        Hidden-layer width (paper: 169).
    learning_rate : float
        Adam step size (paper: 0.000348).
    epochs : int
        Full-batch training epochs (paper: 90,000 "cycles"; the default is
        smaller, see ``docs/forecasting.md``).
    train_days : int
        Days of targets the network is trained on (paper: 7, "7 × N samples";
        default 21: with 7 days the network overfits and loses to SARIMA on
        BPAT, see ``docs/forecasting.md``).
    mode : {"day", "hour"}
        Day-ahead blocks of ``block`` values, or one-step-ahead forecasts.
    block : int
        Length of a day-ahead block (24 for hourly data).
    retrain_on_update : bool
        Re-train the network (warm start, ``update_epochs``) after each update.
    update_epochs : int, optional
        Epochs of a warm-start retraining (default ``epochs // 5``).
    weight_decay : float
        L2 penalty of Adam (0 = none, as in the paper).
    validation_fraction : float
        Latest share of the training samples held out for early stopping: the
        weights with the smallest validation error (checked every 25 epochs)
        are kept, and training stops after ``patience`` checks without
        improvement. 0 trains for all ``epochs`` (the paper's procedure).
    patience : int
        Checks without improvement before stopping.
    seed : int
        Seed of the weights' initialisation (runs are reproducible).
    device : str, optional
        torch device (default: ``cuda`` if present, else ``cpu``).
    threads : int
        torch CPU threads.
    **sarima_params
        Passed to :class:`~gridgames.forecasting.sarima.SarimaForecaster`.
    """

    name = "sarima-ann"

    def __init__(self, *, hidden: int = 169, learning_rate: float = 0.000348, epochs: int = 3000,
                 train_days: int = 21, mode: str = "day", block: int = 24,
                 retrain_on_update: bool = False, update_epochs: int | None = None,
                 weight_decay: float = 0.0, validation_fraction: float = 0.2, patience: int = 20,
                 seed: int = 0,
                 device: str | None = None, threads: int = 1, **sarima_params) -> None:
        self.hidden = check_positive_int(hidden, "hidden")
        self.learning_rate = check_positive_float(learning_rate, "learning_rate")
        self.epochs = check_positive_int(epochs, "epochs")
        self.train_days = check_positive_int(train_days, "train_days")
        if mode not in ("day", "hour"):
            raise ForecastError(f"parameter 'mode' must be 'day' or 'hour', got {mode!r}")
        self.mode = mode
        self.block = check_positive_int(block, "block")
        self.retrain_on_update = bool(retrain_on_update)
        self.update_epochs = check_positive_int(update_epochs if update_epochs is not None
                                                else max(1, epochs // 5), "update_epochs")
        if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
            raise ForecastError(f"parameter 'weight_decay' must be a number >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, (int, float)) \
                or not 0 <= validation_fraction < 1:
            raise ForecastError("parameter 'validation_fraction' must be in [0, 1), "
                                f"got {validation_fraction!r}")
        self.validation_fraction = float(validation_fraction)
        self.patience = check_positive_int(patience, "patience")
        self.seed = int(seed)
        self.device = device
        self.threads = check_positive_int(threads, "threads")
        self.sarima = SarimaForecaster(**sarima_params)
        self.sarima.name = "sarima-ann (sarima part)"

    @property
    def _chunk(self) -> int:
        return self.block if self.mode == "day" else 1

    @property
    def _replay_length(self) -> int:
        n = self.train_days * self.block + max(TABLE5_LAGS)
        return -(-n // self._chunk) * self._chunk

    @property
    def min_history(self) -> int:
        return self._replay_length + max(3 * self.sarima.seasonal_period, 48)

    def _min_history_reason(self) -> str:
        return (f"{self.train_days} training days plus a week of lags ({self._replay_length} "
                f"replayed forecasts) after a SARIMA burn-in")

    def _fit(self, y: pd.Series) -> FittedSarimaAnn:
        base = self.sarima._fit(y)
        res_full = base.results
        n = len(y)
        n0 = n - self._replay_length
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.mode == "hour":
                fitted = np.asarray(res_full.fittedvalues)[n0:]
                rows = pd.DataFrame({"forecast": fitted, "lead": 0}, index=y.index[n0:])
            else:
                ex = self.sarima.exog(y.index)
                r = res_full.apply(y.to_numpy()[:n0], exog=None if ex is None else ex[:n0])
                parts = []
                for start in range(n0, n, self.block):
                    stop = min(start + self.block, n)
                    exb = None if ex is None else ex[start:stop]
                    f = np.asarray(r.forecast(stop - start, exog=exb))
                    parts.append(pd.DataFrame({"forecast": f, "lead": np.arange(stop - start)},
                                              index=y.index[start:stop]))
                    r = r.extend(y.to_numpy()[start:stop], exog=exb)
                rows = pd.concat(parts)
                base.results = r
        rows["error"] = y.to_numpy()[n0:] - rows["forecast"].to_numpy()
        fitted_model = FittedSarimaAnn(self, y, base, rows)
        fitted_model.train(self.epochs, reset=True)
        return fitted_model


class FittedSarimaAnn(FittedForecaster):
    """Fitted hybrid: a rolling SARIMA plus the error network.

    Attributes
    ----------
    base : FittedSarima
        The SARIMA part (rolls with ``extend``).
    errors : pandas.DataFrame
        SARIMA forecasts, their lead within the issued block and errors.
    train_loss : float
        Training MSE of the kept weights (scaled units; the validation samples
        excluded).
    val_loss : float
        Validation MSE of the kept weights (NaN without early stopping).
    """

    def __init__(self, forecaster: SarimaAnnForecaster, history: pd.Series, base: FittedSarima,
                 errors: pd.DataFrame) -> None:
        super().__init__(forecaster, history)
        self.base = base
        self.errors = errors
        self.keep_history = 24 * 7 * 8
        self.device = torch_device(forecaster.device)
        self.net: torch.nn.Module | None = None
        self.train_loss = float("nan")

    # -- features -------------------------------------------------------------
    def _features(self, times: pd.DatetimeIndex, leads: np.ndarray,
                  future: pd.Series | None = None) -> np.ndarray:
        """Table 5 inputs for targets at ``times`` issued with the given ``leads``.

        ``future`` holds SARIMA forecasts of hours not yet in :attr:`errors`;
        it only places the target hours on the time axis.  No input is ever
        taken from a target hour or a later one: a lag that is not observed at
        issue time (``lag <= lead``) is replaced by the latest observed hour
        (``lead + 1`` back), so unknown errors are never used.
        """
        fc = self.errors["forecast"]
        err = self.errors["error"]
        if future is not None:
            fc = pd.concat([fc, future])
            err = pd.concat([err, pd.Series(0.0, index=future.index)])
        pos_of = pd.Series(np.arange(len(fc)), index=fc.index)
        fcv, erv = fc.to_numpy(), err.to_numpy()
        tpos = pos_of.reindex(times).to_numpy()
        cols = []
        for lag in TABLE5_LAGS:
            eff = np.where(lag > leads, lag, leads + 1)  # unobserved at issue time -> latest observed
            src = tpos - eff
            if np.any(src < 0):
                raise ForecastError("sarima-ann: not enough SARIMA forecast history for the Table 5 lags")
            cols += [fcv[src.astype(int)], erv[src.astype(int)]]
        return np.column_stack(cols)

    # -- training ---------------------------------------------------------------
    def train(self, epochs: int, *, reset: bool = False) -> float:
        """(Re)train the network on the latest ``train_days`` of SARIMA errors."""
        fc: SarimaAnnForecaster = self.forecaster
        limit_threads(fc.threads)
        n_train = fc.train_days * fc.block
        rows = self.errors.iloc[-n_train:]
        x = self._features(rows.index, rows["lead"].to_numpy())
        yv = rows["error"].to_numpy()[:, None]
        if reset or self.net is None:
            seed_everything(fc.seed)
            self.xs, self.ys = MinMaxScaler().fit(x), MinMaxScaler().fit(yv)
            self.net = torch.nn.Sequential(torch.nn.Linear(12, fc.hidden), torch.nn.Tanh(),
                                           torch.nn.Linear(fc.hidden, 1)).to(self.device)
            self.opt = torch.optim.Adam(self.net.parameters(), lr=fc.learning_rate,
                                        weight_decay=fc.weight_decay)
        xt = torch.as_tensor(self.xs.transform(x), dtype=torch.float32, device=self.device)
        yt = torch.as_tensor(self.ys.transform(yv), dtype=torch.float32, device=self.device)
        n_val = int(round(fc.validation_fraction * len(yv)))
        if n_val:
            xt, xv, yt, yv_t = xt[:-n_val], xt[-n_val:], yt[:-n_val], yt[-n_val:]
        loss_fn = torch.nn.MSELoss()
        best, best_state, bad = float("inf"), None, 0
        self.epochs_run = 0
        for epoch in range(epochs):
            self.net.train()
            self.opt.zero_grad()
            loss = loss_fn(self.net(xt), yt)
            loss.backward()
            self.opt.step()
            self.epochs_run = epoch + 1
            if n_val and (epoch % 25 == 24 or epoch == epochs - 1):
                self.net.eval()
                with torch.no_grad():
                    val = float(loss_fn(self.net(xv), yv_t))
                if val < best:
                    best, bad = val, 0
                    best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
                else:
                    bad += 1
                    if bad >= fc.patience:
                        break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.val_loss = best if n_val else float("nan")
        self.net.eval()
        with torch.no_grad():  # the loss of the weights kept, not of the last epoch
            self.train_loss = float(loss_fn(self.net(xt), yt))
        logger.info("sarima-ann: trained %d epochs on %d samples, MSE %.4g, validation MSE %.4g (scaled)",
                    self.epochs_run, len(yv), self.train_loss, self.val_loss)
        return self.train_loss

    def predict_error(self, x: np.ndarray) -> np.ndarray:
        """The network's error forecast for Table 5 inputs ``x`` (original units)."""
        self.net.eval()
        with torch.no_grad():
            z = self.net(torch.as_tensor(self.xs.transform(x), dtype=torch.float32, device=self.device))
        return self.ys.inverse(z.cpu().numpy()).ravel()

    # -- forecasting ------------------------------------------------------------
    def predict_components(self, horizon: int) -> pd.DataFrame:
        """SARIMA forecast, predicted error and hybrid forecast for the next ``horizon`` steps."""
        idx = self.future_index(horizon)
        f = pd.Series(self.base._predict(horizon), index=idx)
        x = self._features(idx, np.arange(horizon), future=f)
        e = self.predict_error(x)
        return pd.DataFrame({"sarima": f.to_numpy(), "error": e, "forecast": f.to_numpy() + e}, index=idx)

    def _predict(self, horizon: int) -> np.ndarray:
        return self.predict_components(horizon)["forecast"].to_numpy()

    def _update(self, new: pd.Series) -> None:
        fc: SarimaAnnForecaster = self.forecaster
        parts = []
        if fc.mode == "hour":
            ext = self.base.extended(new)
            f = np.asarray(ext.fittedvalues)
            self.base.results = ext
            self.base.history = pd.concat([self.base.history, new]).iloc[-self.base.keep_history:]
            parts.append(pd.DataFrame({"forecast": f, "lead": 0}, index=new.index))
        else:
            for start in range(0, len(new), fc.block):
                chunk = new.iloc[start:start + fc.block]
                f = self.base._predict(len(chunk))
                self.base.update(chunk)
                parts.append(pd.DataFrame({"forecast": f, "lead": np.arange(len(chunk))},
                                          index=chunk.index))
        rows = pd.concat(parts)
        rows["error"] = new.to_numpy() - rows["forecast"].to_numpy()
        keep = fc._replay_length + fc.block
        self.errors = pd.concat([self.errors, rows]).iloc[-keep:]
        if fc.retrain_on_update:
            self.train(fc.update_epochs)


register_forecaster("sarima-ann", SarimaAnnForecaster)
