"""Market models declared as Pyomo models, built from instance files.

One package per model family (``dispatch``, ``stackelberg``, ``tou``,
``microgrid``, ``rtp``) plus the household follower library (``households``),
each laid out the same way: ``config`` (instance sections, checked), ``model``
(Pyomo), ``solve`` (methods), ``report`` (tables, figures) and ``study`` (the
family's :class:`~gridgames.models.study.Study`, registered under its model
name).  A family is imported only when it is used:
:func:`~gridgames.models.instance.get_model` imports the one an instance names.

The names below are re-exported lazily (module ``__getattr__``), so importing
this package imports no family, solver or plotting library.
"""
from __future__ import annotations

from gridgames._lazy import lazy_exports

#: public name -> module that defines it
_LAZY = {
    "Household": "gridgames.models.households.model",
    "HouseholdInfeasibleError": "gridgames.models.households.model",
    "household_block": "gridgames.models.households.model",
    "household_schedule": "gridgames.models.households.model",
    "solve_household": "gridgames.models.households.model",
    "household_from_dict": "gridgames.models.households.config",
    "load_household": "gridgames.models.households.config",
    "TimeGrid": "gridgames.models.households.timegrid",
    "Instance": "gridgames.models.instance",
    "InstanceError": "gridgames.models.instance",
    "load_instance": "gridgames.models.instance",
    "registered_models": "gridgames.models.instance",
    "RunReport": "gridgames.models.report",
    "Option": "gridgames.models.study",
    "Study": "gridgames.models.study",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
