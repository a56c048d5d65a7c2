"""Microgrid sellers x buyers Nash market (Energies 2021, 14, 5246): model family ``microgrid_market``."""
