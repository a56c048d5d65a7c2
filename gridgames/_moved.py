"""Module names from before the per-family packages and the data layer keep importing.

``import gridgames.models.tou_solve`` finds :mod:`gridgames.models.tou.solve`,
``import gridgames.forecasting.data`` finds :mod:`gridgames.data.bpat`, each with
one :class:`DeprecationWarning` naming the new path.  Nothing in the package
itself uses the old names (``tests/test_layering.py`` checks that).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from importlib.machinery import ModuleSpec
from types import ModuleType

#: old module (under ``gridgames.models``) -> new module (under ``gridgames.models``)
_MODELS_MOVED: dict[str, str] = {
    "household": "households.model", "household_data": "households.config",
    "household_devices": "households.devices", "household_time": "households.timegrid",
    "stackelberg_config": "stackelberg.config", "stackelberg_params": "stackelberg.params",
    "stackelberg_data": "stackelberg.data", "stackelberg_model": "stackelberg.model",
    "stackelberg_analytic": "stackelberg.analytic", "stackelberg_solve": "stackelberg.solve",
    "stackelberg_report": "stackelberg.report", "stackelberg_plots": "stackelberg.plots",
    "stackelberg_pricing": "stackelberg.study",
    "tou_config": "tou.config", "tou_data": "tou.data", "tou_model": "tou.model", "tou_solve": "tou.solve",
    "tou_report": "tou.report", "tou_city": "tou.city", "tou_pricing": "tou.study",
    "microgrid_data": "microgrid.config", "microgrid_solve": "microgrid.solve",
    "microgrid_pyomo": "microgrid.model", "microgrid_analytic": "microgrid.analytic",
    "microgrid_baselines": "microgrid.baselines", "microgrid_forecast": "microgrid.forecast",
    "microgrid_leaders": "microgrid.leaders",
    "microgrid_market": "microgrid.study",
    "rtp_appliances": "rtp.appliances", "rtp_config": "rtp.config", "rtp_district": "rtp.district",
    "rtp_multiobjective": "rtp.solve", "rtp_objectives": "rtp.objectives", "rtp_plots": "rtp.report",
    "rtp_study": "rtp.study", "rtp_unit": "rtp.model",
    "economic_dispatch": "dispatch.study",
}
#: old full module name -> new full module name
MOVED: dict[str, str] = {
    **{f"gridgames.models.{old}": f"gridgames.models.{new}" for old, new in _MODELS_MOVED.items()},
    "gridgames.models.tou_data": "gridgames.data.households",
    "gridgames.models.tou.data": "gridgames.data.households",
    "gridgames.models.rtp.multiobjective": "gridgames.models.rtp.solve",
    "gridgames.forecasting.data": "gridgames.data.bpat",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} moved to {self.target}", DeprecationWarning, stacklevel=3)
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The target module is already executed."""


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Resolves an old module name to the module it became."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(MOVED[fullname]))


def install() -> None:
    """Put the finder on :data:`sys.meta_path` (once)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
