"""Variable values copied out of a Pyomo model, so a result keeps them after the model changes.

A solver loads its answer into the Pyomo model, and the model may be
re-solved (or edited) afterwards.  :func:`capture` copies the current value of
every variable of one block, so the result it is stored in keeps its own,
read-only copy: one :class:`AgentValues` per leader, follower or player.
:func:`values_frame` turns a list of them into one tidy ``DataFrame`` with the
columns ``agent, role, variable, index, value``.

Examples
--------
>>> import pyomo.environ as pyo
>>> m = pyo.ConcreteModel()
>>> m.p = pyo.Var(initialize=5.0)
>>> m.q = pyo.Var([0, 1], initialize={0: 1.0, 1: 2.0})
>>> values = capture(m, agent="leader", role="leader")
>>> values["p"], values["q"].tolist(), values.index("q")
(5.0, [1.0, 2.0], [0, 1])
>>> m.p.set_value(7.0)          # the copy does not follow the model
>>> values["p"]
5.0
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:   # pandas and Pyomo are imported by the functions that need them
    import pandas as pd
    from pyomo.core.base.block import BlockData

log = logging.getLogger(__name__)

#: the columns of every tidy values frame, in order
VALUE_COLUMNS = ("agent", "role", "variable", "index", "value")


class AgentValues(Mapping[str, Any]):
    """The values of one agent's variables at the moment they were captured.

    A read-only mapping from variable name (relative to the agent's block,
    e.g. ``"q"`` or ``"battery.soc"``) to its value: a ``float`` for a scalar
    variable, a read-only 1-d ``numpy`` array in Pyomo's index order for an
    indexed one (``nan`` where the variable had no value).

    Attributes
    ----------
    agent : str
        The agent's name: its block's name (``"users"``, ``"F[0]"``), ``"leader"``
        for the part of a bilevel model outside the followers, ``"shared"`` for
        variables of a game outside every player.
    role : str
        ``leader``, ``follower``, ``player``, ``shared`` or ``model``.
    """

    def __init__(self, agent: str, role: str, arrays: Mapping[str, np.ndarray],
                 labels: Mapping[str, list[Any]], scalars: Iterable[str] = ()) -> None:
        self.agent, self.role = agent, role
        self._arrays = dict(arrays)
        self._labels = {name: list(labels[name]) for name in self._arrays}
        self._scalars = frozenset(scalars)
        for array in self._arrays.values():
            array.flags.writeable = False

    def __getitem__(self, name: str) -> float | np.ndarray:
        if name not in self._arrays:
            raise KeyError(f"{self.role} '{self.agent}' has no variable {name!r}; "
                           f"its variables: {', '.join(self._arrays) or 'none'}")
        array = self._arrays[name]
        return float(array[0]) if name in self._scalars else array

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def index(self, name: str) -> list[Any]:
        """The Pyomo index of each entry of variable ``name`` (``[None]`` for a scalar variable)."""
        self[name]   # the KeyError naming the known variables
        return list(self._labels[name])

    def records(self) -> Iterator[tuple[str, str, str, Any, float]]:
        """``(agent, role, variable, index, value)`` for every entry."""
        for name, array in self._arrays.items():
            for label, value in zip(self._labels[name], array):
                yield self.agent, self.role, name, label, float(value)

    def to_frame(self) -> pd.DataFrame:
        """One tidy row per variable entry: ``agent, role, variable, index, value``."""
        return values_frame([self])

    def __repr__(self) -> str:
        return (f"AgentValues(agent={self.agent!r}, role={self.role!r}, "
                f"variables=[{', '.join(self._arrays)}])")


def capture(block: BlockData, agent: str, role: str, skip: Iterable[BlockData] = ()) -> AgentValues:
    """Copy the current values of every variable declared in ``block``, at any depth.

    Parameters
    ----------
    block : Pyomo block
        The agent's block (or the whole model for a leader).
    agent, role : str
        Stored with the values (see :class:`AgentValues`).
    skip : iterable of blocks
        Sub-blocks whose variables belong to other agents (the followers, when
        ``block`` is the whole bilevel model).

    Returns
    -------
    AgentValues
        Fixed variables are included (they are part of the answer); a variable
        without a value is ``nan``.
    """
    import pyomo.environ as pyo

    skipped = {id(var) for other in skip for var in other.component_objects(pyo.Var, descend_into=True)}
    arrays: dict[str, np.ndarray] = {}
    labels: dict[str, list[Any]] = {}
    scalars = []
    for var in block.component_objects(pyo.Var, descend_into=True):
        if id(var) in skipped or not len(var):
            continue
        name = var.getname(fully_qualified=True, relative_to=block)
        items = list(var.items())
        arrays[name] = np.array([np.nan if data.value is None else data.value for _, data in items], dtype=float)
        labels[name] = [key for key, _ in items]
        if not var.is_indexed():
            scalars.append(name)
    return AgentValues(agent, role, arrays, labels, scalars)


def values_frame(values: Iterable[AgentValues]) -> pd.DataFrame:
    """A tidy ``DataFrame`` of captured values, columns :data:`VALUE_COLUMNS` (empty when none)."""
    import pandas as pd

    rows = [row for agent in values for row in agent.records()]
    frame = pd.DataFrame(rows, columns=list(VALUE_COLUMNS))
    return frame.astype({"agent": str, "role": str, "variable": str, "value": float})
