"""Market models declared as Pyomo models, built from instance files.

Importing this package registers the built-in model families with
:func:`gridgames.models.instance.register_model`.
"""
from gridgames.models import _moved

_moved.install()

from gridgames.models.dispatch import study as _dispatch  # noqa: F401  (registers "economic_dispatch")
from gridgames.models.stackelberg import study as _stackelberg  # noqa: F401  (registers "stackelberg_pricing")
from gridgames.models.microgrid import study as _microgrid  # noqa: F401  (registers "microgrid_market")
from gridgames.models.tou import study as _tou  # noqa: F401  (registers "tou_pricing")
from gridgames.models.rtp import study as _rtp  # noqa: F401  (registers "rtp")
from gridgames.models.households.model import (Household, HouseholdInfeasibleError, household_block,
                                        household_schedule, solve_household)
from gridgames.models.households.config import household_from_dict, load_household
from gridgames.models.households.timegrid import TimeGrid
from gridgames.models.instance import Instance, InstanceError, load_instance, registered_models
from gridgames.models.report import RunReport

__all__ = ["Household", "HouseholdInfeasibleError", "Instance", "InstanceError", "RunReport", "TimeGrid",
           "household_block", "household_from_dict", "household_schedule", "load_household",
           "load_instance", "registered_models", "solve_household"]
