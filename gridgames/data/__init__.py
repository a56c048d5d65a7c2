"""The data layer: every time-series reader and the shipped datasets, imported by models and forecasting alike.

* :mod:`gridgames.data.series`: CSV time series, with the one policy for clock
  changes, gaps and NaNs (stated there);
* :mod:`gridgames.data.bpat`: the EIA-930 BPAT demand files;
* :mod:`gridgames.data.households`: daily profiles of the real household files;
* :mod:`gridgames.data.bundled`: the instance files and datasets shipped in the
  package (:mod:`importlib.resources`), by name or path;
* :mod:`gridgames.data.errors`: :class:`InstanceError`, every problem of the input at once.

It imports nothing of ``gridgames`` but :mod:`gridgames.solvers.errors`
(``docs/architecture.md``).
"""
