"""Test helper: a microgrid instance file with explicit ``[sellers]``/``[buyers]`` arrays.

Shared by the schema tests and the explicit-stage tests (not a test module itself).
"""
from __future__ import annotations

from pathlib import Path

from gridgames.models.schema import _toml_value


def explicit_microgrid(tmp_path: Path, market, extra: str = "") -> Path:
    """Write ``market``'s arrays (and ``extra`` TOML) to ``tmp_path / "explicit.toml"``; return its path."""
    text = f"""model = "microgrid_market"
[market]
seed = 3
n_sellers = {market.n_sellers}
availability = [1, {market.n_sellers}]
[sellers]
capacity = {_toml_value(market.G)}
cost = {_toml_value(market.c)}
margin = {_toml_value(market.eps)}
price_a = {_toml_value(market.A)}
price_b = {_toml_value(market.B)}
price_c = {_toml_value(market.C)}
[buyers]
demand = {_toml_value(market.X)}
value = {_toml_value(market.w)}
available = {_toml_value(market.avail.astype(int))}
{extra}"""
    file = tmp_path / "explicit.toml"
    file.write_text(text, encoding="utf-8")
    return file
