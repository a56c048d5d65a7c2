"""Declared fields of household device tables (``[[...devices]]``), generated from the device dataclasses.

One :class:`~gridgames.models.schema.Field` per device key (the union over the
device types; ``help`` says which types read it); the reader
(:mod:`~gridgames.models.households.config`) accepts each type's own keys.
"""
from __future__ import annotations

import dataclasses

from gridgames.models.households.devices import DEVICE_TYPES
from gridgames.models.schema import REQUIRED, Field

_UNITS = {"capacity": "kWh", "p_max": "kW", "p_min": "kW", "energy": "kWh", "energy_arrival": "kWh",
          "energy_departure": "kWh", "peak_kw": "kW", "start": "h", "end": "h", "arrival": "h", "departure": "h",
          "preferred_start": "h", "step": "h", "profile": "kW", "t_out": "°C", "t_init": "°C", "t_min": "°C",
          "t_max": "°C", "t_pref": "°C", "r": "°C/kW", "c": "kWh/°C", "discomfort": "per °C² h"}


def device_fields(section: str) -> tuple[Field, ...]:
    """The keys of a device table in ``section`` (``"followers.devices"``, ``"users.devices"`` ...)."""
    used: dict[str, dict[str, object]] = {}
    for kind, cls in DEVICE_TYPES.items():
        for f in dataclasses.fields(cls):
            if f.name != "name":
                default = f.default if f.default is not dataclasses.MISSING else None
                used.setdefault(f.name, {})[kind] = default
    out = [Field(section, "type", "string", REQUIRED, choices=tuple(sorted(DEVICE_TYPES)), help="device type"),
           Field(section, "name", "string", REQUIRED, help="device name")]
    for key, per_type in used.items():
        values = set(map(repr, per_type.values()))
        default = next(iter(per_type.values())) if len(values) == 1 else None
        text = ", ".join(f"{k} {v:g}" if isinstance(v, float) else k for k, v in per_type.items())
        out.append(Field(section, key, "number or list" if key in ("profile", "shape", "t_out") else "value",
                         default if isinstance(default, (int, float, str, bool)) else None,
                         units=_UNITS.get(key, ""), help=f"types: {text}"))
    return tuple(out)
