"""Market models declared as Pyomo models, built from instance files.

Importing this package registers the built-in model families with
:func:`gridgames.models.instance.register_model`.
"""
from gridgames.models import economic_dispatch  # noqa: F401  (registers "economic_dispatch")
from gridgames.models import stackelberg_pricing  # noqa: F401  (registers "stackelberg_pricing")
from gridgames.models import microgrid_market  # noqa: F401  (registers "microgrid_market")
from gridgames.models import tou_pricing  # noqa: F401  (registers "tou_pricing")
from gridgames.models import rtp_study  # noqa: F401  (registers "rtp")
from gridgames.models.household import (Household, HouseholdInfeasibleError, household_block,
                                        household_schedule, solve_household)
from gridgames.models.household_data import household_from_dict, load_household
from gridgames.models.household_time import TimeGrid
from gridgames.models.instance import Instance, InstanceError, load_instance, registered_models
from gridgames.models.report import RunReport

__all__ = ["Household", "HouseholdInfeasibleError", "Instance", "InstanceError", "RunReport", "TimeGrid",
           "household_block", "household_from_dict", "household_schedule", "load_household",
           "load_instance", "registered_models", "solve_household"]
