"""Real-time pricing with a planning unit and bill-vs-welfare fronts (Front. Energy Res. 2021): model family ``rtp``.

The price rule of :mod:`gridgames.models.rtp.pricing` is re-exported here, where
the flat module ``gridgames.models.rtp`` kept it before the family became a package.
"""
from gridgames.models.rtp.pricing import (PriceRule, average_load, fluctuation_coefficient, rtp_prices,
                                          step_tariff_bill, step_tariff_marginal)

__all__ = ["PriceRule", "average_load", "fluctuation_coefficient", "rtp_prices", "step_tariff_bill",
           "step_tariff_marginal"]
