"""A bilevel LP from the literature, solved three exact ways and checked against its published optimum.

Bard (1998), *Practical Bilevel Optimization*, Example 5.1.1 (also the first
example of BilevelJuMP's documentation), by the three global methods:

    min_x  F = x - 4 y                      (leader)
    s.t.   x >= 0
           y in argmin_y { y :              (follower)
                 -x -  y <= -3,
                -2x +  y <=  0,
                 2x +  y <= 12,
                 3x - 2y <=  4,  y >= 0 }

Published optimum: (x, y) = (4, 4), F = -12.  Why: for x >= 2 the follower's
lowest feasible y is (3x - 4)/2, so F = 8 - 5x, falling in x until the row
2x + y <= 12 stops it at x = 4 (y = 4).  For x < 2, y = 3 - x and F = 5x - 12 >= -7.

Run:  python examples/bilevel_literature.py
"""
import pyomo.environ as pyo

import gridgames as gg

PUBLISHED = {"x": 4.0, "y": 4.0, "F": -12.0}


def build() -> pyo.ConcreteModel:
    """The leader's variable and objective at the top, the follower in its own Block."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 10))                      # leader; a finite box keeps big-M derivable
    m.follower = pyo.Block()
    f = m.follower
    f.y = pyo.Var(bounds=(0, 10))
    f.c1 = pyo.Constraint(expr=-m.x - f.y <= -3)
    f.c2 = pyo.Constraint(expr=-2 * m.x + f.y <= 0)
    f.c3 = pyo.Constraint(expr=2 * m.x + f.y <= 12)
    f.c4 = pyo.Constraint(expr=3 * m.x - 2 * f.y <= 4)
    f.obj = pyo.Objective(expr=f.y, sense=pyo.minimize)  # exactly one objective per follower
    m.F = pyo.Objective(expr=m.x - 4 * f.y, sense=pyo.minimize)
    return m


def main() -> None:
    print(f"{'method':<16}{'status':<10}{'x':>8}{'y':>8}{'F':>10}{'follower gap':>14}")
    for method in ("kkt-bigm", "kkt-sos1", "strong-duality"):
        m = build()
        # No bound from us: kkt-bigm proves its big-M bounds (or uses SOS1 where it cannot), and a
        # bound we gave would only make the answer 'feasible' (a bound given is not proved).
        res = gg.solve_bilevel(m, m.follower, method=method)
        x, y = pyo.value(m.x), pyo.value(m.follower.y)
        print(f"{method:<16}{res.status.value:<10}{x:>8.4f}{y:>8.4f}{res.objective:>10.4f}"
              f"{res.follower_gap:>14.2e}")
        # All three methods are global: they must reach the published optimum, certified.
        assert res.status is gg.SolveStatus.OPTIMAL, res.message
        assert abs(x - PUBLISHED["x"]) < 1e-6 and abs(y - PUBLISHED["y"]) < 1e-6, (x, y)
        assert abs(res.objective - PUBLISHED["F"]) < 1e-6, res.objective
        assert res.follower_gap < 1e-6, res.follower_gap   # y is really the follower's optimum
    print("published optimum (Bard 1998, Ex. 5.1.1): x = 4, y = 4, F = -12 -- matched")


if __name__ == "__main__":
    main()
