"""BLAS thread limit around the statsmodels / numpy work of the forecasters.

OpenBLAS starts one spinning worker per core; on this 2-core machine shared
by several jobs the small matrix products of a SARIMAX state-space fit then
run about ten times slower than on one thread (the Algorithm 1 grid of the
unit tests: 3 s idle, 50-70 s under load). The fits gain nothing from more
BLAS threads (state vectors of a few dozen), so
:meth:`~gridgames.forecasting.base.Forecaster.fit`, ``predict`` and
``update`` of every forecaster run inside :func:`blas_threads`.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

logger = logging.getLogger(__name__)

#: BLAS threads used by the forecasting fits, forecasts and updates.
BLAS_THREADS = 1

_CONTROLLER: ThreadpoolController | None = None


def _controller() -> ThreadpoolController:
    # built once: scanning the loaded libraries costs ~4 ms, re-limiting ~15 µs
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


@contextmanager
def blas_threads(n: int = BLAS_THREADS) -> Iterator[None]:
    """Limit the BLAS thread pools (OpenBLAS, MKL, BLIS) to ``n`` threads inside the block.

    Parameters
    ----------
    n : int
        Threads per BLAS library while the block runs; the previous limits
        are restored on exit.
    """
    with _controller().limit(limits=n, user_api="blas"):
        yield
