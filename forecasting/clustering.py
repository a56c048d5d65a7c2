"""Fuzzy C-means (FCM) clustering of daily load profiles, with validity indices.

The TOU paper classifies controllable load by FCM on feature vectors of the
users' daily load curves (its equations (2)-(5) were lost in extraction; this
is the standard Bezdek algorithm it describes)::

    min  J_m = Σ_i Σ_j u_ij^m ‖x_j − v_i‖²     s.t. Σ_i u_ij = 1, u_ij ≥ 0
    v_i  = Σ_j u_ij^m x_j / Σ_j u_ij^m                                  (centres)
    u_ij = 1 / Σ_k (‖x_j − v_i‖ / ‖x_j − v_k‖)^{2/(m−1)}                (memberships)

iterated until the memberships change by less than ``tol``.  The number of
classes is chosen by a validity index: the partition coefficient
``PC = Σ u_ij² / n`` (larger is crisper) and Xie-Beni
``XB = J_2 / (n · min_{i≠k} ‖v_i − v_k‖²)`` (smaller is better).

Implemented with numpy rather than scikit-fuzzy: scikit-fuzzy is not
installed, and the algorithm is twenty vectorised lines.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridgames.solvers.errors import ModelError


@dataclass
class FCMResult:
    """A fuzzy partition.

    Attributes
    ----------
    centers : ndarray (c, d)
    membership : ndarray (c, n)
        ``u_ij``, columns sum to 1.
    labels : ndarray (n,)
        Class of largest membership.
    objective : float
        ``J_m`` at the end.
    iterations : int
    pc, xb : float
        Partition coefficient and Xie-Beni index.
    """

    centers: np.ndarray
    membership: np.ndarray
    labels: np.ndarray
    objective: float
    iterations: int
    pc: float
    xb: float

    @property
    def sizes(self) -> np.ndarray:
        """Crisp class sizes."""
        return np.bincount(self.labels, minlength=self.centers.shape[0])


def _sq_distances(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """‖x_j − v_i‖², shape (c, n)."""
    return np.maximum(((centers[:, None, :] - x[None, :, :]) ** 2).sum(axis=2), 0.0)


def _memberships(d2: np.ndarray, m: float) -> np.ndarray:
    d2 = np.maximum(d2, 1e-300)
    inv = d2 ** (-1.0 / (m - 1.0))
    return inv / inv.sum(axis=0, keepdims=True)


def partition_coefficient(u: np.ndarray) -> float:
    """``PC = Σ u² / n`` in [1/c, 1]."""
    return float((u ** 2).sum() / u.shape[1])


def xie_beni(x: np.ndarray, u: np.ndarray, centers: np.ndarray, m: float = 2.0) -> float:
    """Xie-Beni index ``Σ u^m ‖x − v‖² / (n · min separation²)``."""
    sep = _sq_distances(centers, centers)
    np.fill_diagonal(sep, np.inf)
    return float(((u ** m) * _sq_distances(x, centers)).sum() / (x.shape[0] * max(sep.min(), 1e-300)))


def fuzzy_cmeans(x: np.ndarray, c: int, *, m: float = 2.0, tol: float = 1e-6, max_iter: int = 300,
                 seed: int | None = 0, n_init: int = 3) -> FCMResult:
    """Fuzzy C-means on the rows of ``x``.

    Parameters
    ----------
    x : array (n, d)
        Feature vectors.
    c : int
        Number of classes (2 ≤ c ≤ n).
    m : float
        Fuzzifier (> 1).
    tol : float
        Stop when ``max |ΔU| < tol``.
    n_init : int
        Random starts (k-means++-like seeding from data points); the lowest ``J_m`` is kept.

    Raises
    ------
    ModelError
        Bad shapes or parameters.
    """
    x = np.asarray(x, float)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise ModelError(f"fuzzy_cmeans: x must be a finite 2-D array, got shape {x.shape}")
    n = x.shape[0]
    if not 2 <= c <= n:
        raise ModelError(f"fuzzy_cmeans: need 2 <= c <= n = {n}, got c = {c}")
    if m <= 1:
        raise ModelError(f"fuzzy_cmeans: the fuzzifier m must be > 1, got {m}")
    rng = np.random.default_rng(seed)
    best: FCMResult | None = None
    for _ in range(max(1, n_init)):
        # seeding: first centre at random, next ones far from the chosen (k-means++)
        idx = [int(rng.integers(n))]
        for _k in range(1, c):
            d2 = _sq_distances(x, x[idx]).min(axis=0)
            p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
            idx.append(int(rng.choice(n, p=p)))
        u = _memberships(_sq_distances(x, x[idx]), m)
        it = 0
        for it in range(1, max_iter + 1):
            um = u ** m
            centers = um @ x / um.sum(axis=1, keepdims=True)
            new = _memberships(_sq_distances(x, centers), m)
            delta = float(np.abs(new - u).max())
            u = new
            if delta < tol:
                break
        um = u ** m
        centers = um @ x / um.sum(axis=1, keepdims=True)
        obj = float((um * _sq_distances(x, centers)).sum())
        if best is None or obj < best.objective:
            best = FCMResult(centers, u, u.argmax(axis=0), obj, it, partition_coefficient(u),
                             xie_beni(x, u, centers, m))
    assert best is not None
    return best


def choose_classes(x: np.ndarray, candidates: range | list[int] = range(2, 7), *, index: str = "xb",
                   m: float = 2.0, seed: int | None = 0) -> tuple[FCMResult, dict[int, dict[str, float]]]:
    """Run FCM for each candidate ``c`` and keep the best by ``index`` ('xb': smallest, 'pc': largest).

    Returns ``(best result, {c: {"pc": ..., "xb": ..., "objective": ...}})``.
    """
    if index not in ("xb", "pc"):
        raise ModelError(f"validity index must be 'xb' or 'pc', got {index!r}")
    n = np.asarray(x).shape[0]
    table: dict[int, dict[str, float]] = {}
    results: dict[int, FCMResult] = {}
    for c in candidates:
        if c > n:
            break
        r = fuzzy_cmeans(x, c, m=m, seed=seed)
        results[c] = r
        table[c] = {"pc": r.pc, "xb": r.xb, "objective": r.objective}
    if not results:
        raise ModelError(f"choose_classes: no candidate number of classes fits {n} samples")
    key = (lambda c: table[c]["xb"]) if index == "xb" else (lambda c: -table[c]["pc"])
    return results[min(results, key=key)], table


#: Named features of a daily profile (hours of the default TOU periods).
FEATURE_NAMES = ("load_factor", "min_max_ratio", "valley_share", "morning_share", "day_share", "evening_share",
                 "log_level")


def profile_features(profiles: np.ndarray, *, standardise: bool = True) -> np.ndarray:
    """Load-shape features of daily profiles (rows of 24 hourly kW values).

    Seven features (:data:`FEATURE_NAMES`): load factor (mean / max),
    min / max, the shares of the daily energy in the valley (23-7 h), morning
    (7-12 h), day (12-17 h) and evening (17-23 h), and the log of the daily
    mean; columns standardised to zero mean and unit spread.  A compact
    feature vector rather than the 24 raw values: in 24+ dimensions FCM with
    m = 2 tends to collapse every centre onto the grand mean (Xie-Beni then
    explodes), a known weakness of fuzzy C-means in high dimension.
    """
    p = np.asarray(profiles, float)
    if p.ndim != 2 or p.shape[1] != 24:
        raise ModelError(f"profile_features: need an (n, 24) array of daily profiles, got shape {p.shape}")
    p = np.maximum(p, 0.0)
    total = np.maximum(p.sum(axis=1), 1e-9)
    peak = np.maximum(p.max(axis=1), 1e-9)
    hours = np.arange(24)
    valley = (hours >= 23) | (hours < 7)
    morning = (hours >= 7) & (hours < 12)
    day = (hours >= 12) & (hours < 17)
    evening = (hours >= 17) & (hours < 23)
    feats = np.column_stack([total / 24 / peak, p.min(axis=1) / peak,
                             p[:, valley].sum(axis=1) / total, p[:, morning].sum(axis=1) / total,
                             p[:, day].sum(axis=1) / total, p[:, evening].sum(axis=1) / total,
                             np.log(total / 24)])
    if standardise and feats.shape[0] > 1:
        feats = (feats - feats.mean(axis=0)) / np.maximum(feats.std(axis=0), 1e-9)
    return feats
