"""The datasets and instance files shipped inside the package, found through :mod:`importlib.resources`.

The repository's ``instances/`` folder installs as the package
``gridgames.instances`` (package data: the TOML files and ``data/*``), so a
wheel carries them and they are found from any working directory.  Instances
name a shipped dataset either by its path relative to the instance file
(``file = "data/eia930_bpat_2019_hourly.csv"``) or by name
(``file = "eia930_bpat_2019"``); see :data:`DATASETS`.

>>> dataset_path("pjm_dayton").name
'pjm_dayton_hourly.csv'
>>> instance_path("dispatch_small").name
'dispatch_small.toml'
"""
from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path

from gridgames.data.errors import InstanceError

log = logging.getLogger(__name__)

#: The package holding the shipped instance files (``data/`` inside it holds the datasets).
INSTANCES_PACKAGE = "gridgames.instances"

#: Shipped dataset name -> file in ``instances/data`` (provenance: ``instances/data/PROVENANCE.md``).
DATASETS: dict[str, str] = {
    "eia930_bpat_2019": "eia930_bpat_2019_hourly.csv",
    "eia930_bpat_2020_2022": "eia930_bpat_2020_2022_hourly.csv",
    "pjm_dayton": "pjm_dayton_hourly.csv",
    "prices_be_dayahead": "prices_be_dayahead_hourly_2022_2024.csv",
    "household_hue": "household_hue_residential1_hourly.csv",
    "household_openmv": "household_openmv_tou_hourly.csv",
    "household_uci": "household_uci_sceaux_2007h1_15min.csv",
}


def _resource(*parts: str) -> Path:
    resource = files(INSTANCES_PACKAGE).joinpath(*parts)
    path = Path(str(resource))
    if not path.exists():
        raise InstanceError([f"{'/'.join(parts)}: not shipped with this installation of gridgames"],
                            INSTANCES_PACKAGE)
    return path


def data_dir() -> Path:
    """The folder of the shipped datasets."""
    return _resource("data")


def dataset_path(name: str) -> Path:
    """The file of the shipped dataset ``name`` (a key of :data:`DATASETS`, or its file name)."""
    file = DATASETS.get(name, name)
    if file not in DATASETS.values():
        raise InstanceError([f"dataset {name!r}: unknown; shipped datasets: {', '.join(DATASETS)}"], "dataset")
    return _resource("data", file)


def instance_names() -> list[str]:
    """The shipped instance files, by name (``dispatch_small``, ...)."""
    return sorted(p.name[:-5] for p in files(INSTANCES_PACKAGE).iterdir() if p.name.endswith(".toml"))


def instance_path(name: str) -> Path:
    """The shipped instance file ``name`` (``"dispatch_small"`` or ``"dispatch_small.toml"``)."""
    stem = name[:-5] if name.endswith(".toml") else name
    if stem not in instance_names():
        raise InstanceError([f"no instance file {name!r} and no shipped instance of that name "
                             f"(shipped: {', '.join(instance_names())})"], name)
    return _resource(f"{stem}.toml")


def resolve_data(reference: str, base: Path) -> Path:
    """A data file named in an instance: a shipped dataset's name, or a path relative to ``base``."""
    if reference in DATASETS:
        return dataset_path(reference)
    return (base / reference).resolve()
