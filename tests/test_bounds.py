"""``bounds_arrays`` gives what ``VarData.bounds`` gives, for every kind of bound."""
import math

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.solvers.bounds import bounds_arrays


def _reference(variables):
    b = [v.bounds for v in variables]
    return (np.array([-math.inf if lo is None else lo for lo, _ in b]),
            np.array([math.inf if hi is None else hi for _, hi in b]))


def test_matches_pyomo_on_mixed_bounds_and_domains():
    m = pyo.ConcreteModel()
    m.P = pyo.Param(mutable=True, initialize=3.0)
    m.x = pyo.Var(range(3), bounds=(-1.0, 5))
    m.y = pyo.Var(domain=pyo.NonNegativeReals, bounds=(-2.0, 4.0))  # the domain is tighter below
    m.z = pyo.Var(domain=pyo.Binary)
    m.w = pyo.Var(bounds=(m.P, 2 * m.P))                            # Params: evaluated by Pyomo
    m.u = pyo.Var()                                                # free
    m.n = pyo.Var(domain=pyo.NonPositiveIntegers, bounds=(-7, 3))
    variables = list(m.x.values()) + [m.y, m.z, m.w, m.u, m.n]
    lb, ub = bounds_arrays(variables)
    ref_lb, ref_ub = _reference(variables)
    np.testing.assert_array_equal(lb, ref_lb)
    np.testing.assert_array_equal(ub, ref_ub)
    assert lb[5] == 3.0 and ub[5] == 6.0 and lb[3] == 0.0 and ub[-1] == 0.0
    m.P.set_value(4.0)                                             # read at call time, not cached
    assert bounds_arrays([m.w])[0][0] == 4.0


def test_infinite_bounds_follow_pyomo():
    m = pyo.ConcreteModel()
    m.a = pyo.Var(bounds=(-math.inf, math.inf))
    m.b = pyo.Var(bounds=(0.0, 1.0))
    lb, ub = bounds_arrays([m.a, m.b])
    assert lb.tolist() == [-math.inf, 0.0] and ub.tolist() == [math.inf, 1.0]
    m.c = pyo.Var(bounds=(math.inf, None))                         # Pyomo's own error, not a silent answer
    with pytest.raises(ValueError, match="non-finite"):
        bounds_arrays([m.b, m.c])


def test_empty():
    lb, ub = bounds_arrays([])
    assert lb.shape == ub.shape == (0,)


def test_all_continuous_asks_every_domain():
    from gridgames.solvers.bounds import all_continuous
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), domain=pyo.NonNegativeReals)
    m.y = pyo.Var(domain=pyo.Reals)
    m.b = pyo.Var(domain=pyo.Binary)
    m.r = pyo.Var(domain=pyo.RangeSet(0, 10))    # integer range
    assert all_continuous(list(m.x.values()) + [m.y])
    assert not all_continuous(list(m.x.values()) + [m.y, m.b])
    assert not all_continuous([m.r, m.y])
    assert all_continuous([])


def test_a_nan_bound_is_an_error_not_a_missing_bound():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(0.0, 1.0))
    m.x[1].setub(float("nan"))
    with pytest.raises(ValueError):
        m.x[1].bounds                      # Pyomo's own answer ...
    with pytest.raises(ValueError):
        bounds_arrays(list(m.x.values()))  # ... and ours
