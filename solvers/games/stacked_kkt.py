"""The stacked KKT system of a Nash game, assembled numerically as a mixed complementarity problem.

No Pyomo component is written per KKT condition.  The players' objectives and
constraints are translated once by the Ipopt bridge's compiler
(:func:`~gridgames.solvers.nlp_compile.compile_model`: exact symbolic
derivatives of every term template, evaluated by vectorised numpy), and the
system below is assembled from its sparse Jacobian and per-row Hessians, so
building and evaluating it costs time linear in the size of the game.

For player i with own variables ``x_i`` (box ``[l_i, u_i]``), objective
``f_i`` (minimised; a maximisation is negated), its own constraints and the
shared constraints ``g_k``, the MCP over ``z = (x, t, λ)`` is

    F_{x_i} = ∇_{x_i} f_i + Σ_k ω_k λ_k ∇_{x_i} g_k        ⊥  l_i ≤ x_i ≤ u_i
    F_{λ_k} = bound_k − g_k (``≤`` row) or g_k − bound_k    ⊥  λ_k ≥ 0 (free for equalities)
    F_{t_j} = t_j − e_j(x)                                  ⊥  t_j free

where the sum runs over player i's own constraints and the shared ones.  One
multiplier per shared constraint serves every player (they are *tied*), which
selects the **variational equilibrium** of a generalized Nash game: the
equilibrium where the shared resource has one shadow price for everyone.

Aggregates.  A named Pyomo ``Expression`` outside the player blocks that is
linear and mixes several players' variables (a market total ``Σ_i q_i``) is
*lifted*: it is replaced by a variable ``t_j`` and the definition
``t_j = e_j(x)`` joins the system.  The chain rule ``∂f_i/∂x_a +
Σ_j ∂f_i/∂t_j ∂e_j/∂x_a`` restores the players' true gradients.  Without it
every player's stationarity would depend on every other player's variables
and the Newton matrix would be dense (N² entries for N buyers of one market);
with it, it has a few entries per variable.  Write market totals as named
Expressions to profit from this.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from cyipopt import CyIpoptEvaluationError
from pyomo.core.base.block import BlockData

from gridgames.solvers.errors import ModelError, UnsupportedModelError
from gridgames.solvers.games.game_parts import (Aggregates, constraint_sides, find_aggregates, find_players,
                                               integer_variable, lift)
from gridgames.solvers.nlp_compile import compile_model
from gridgames.solvers.nlp_eval import NLPEvaluator

log = logging.getLogger(__name__)

SHARED = -1  #: owner of a shared constraint row
LIFTED = -2  #: owner of a lifted aggregate column
PARAM = -3   #: owner of a parameter column (a variable held fixed in the system, e.g. a leader's decision)


class _ChainMap:
    """Maps a derivative w.r.t. column p of row k onto the stationarity components it feeds.

    An own column p (owner = row owner, or any player for a shared row) feeds
    itself; a lifted column t_j feeds every x_a with ``E[j, a] ≠ 0`` whose
    owner is the row's owner (all owners for a shared row).
    """

    def __init__(self, col_owner: np.ndarray, lifted_col: np.ndarray, E: sp.csr_matrix, n_owners: int) -> None:
        self.col_owner = col_owner
        self.lifted_col = lifted_col     # column -> j (or −1)
        coo = E.tocoo()
        owner_of = col_owner[coo.col]
        key = coo.row.astype(np.int64) * (n_owners + 1) + owner_of
        order = np.argsort(key, kind="stable")
        self.e_col, self.e_val, self.key = coo.col[order], coo.data[order], key[order]
        self.width = n_owners + 1

    def expand(self, row_owner: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For entries (k, p): (source entry index, target column a, factor)."""
        direct = ((self.lifted_col[cols] < 0) & (self.col_owner[cols] >= 0)
                  & ((row_owner == SHARED) | (self.col_owner[cols] == row_owner)))
        src = [np.flatnonzero(direct)]
        tgt = [cols[direct]]
        fac = [np.ones(int(direct.sum()))]
        via = np.flatnonzero(self.lifted_col[cols] >= 0)
        if via.size:
            j = self.lifted_col[cols[via]]
            own = row_owner[via]
            lo_key = np.where(own == SHARED, j * self.width, j * self.width + own)
            hi_key = np.where(own == SHARED, (j + 1) * self.width - 1, j * self.width + own)
            start = np.searchsorted(self.key, lo_key, side="left")
            stop = np.searchsorted(self.key, hi_key, side="right")
            counts = stop - start
            rep = np.repeat(np.arange(via.size), counts)
            pos = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + start[rep]
            src.append(via[rep])
            tgt.append(self.e_col[pos])
            fac.append(self.e_val[pos])
        return np.concatenate(src), np.concatenate(tgt).astype(np.int64), np.concatenate(fac)


class StackedKKT:
    """The MCP of a game's stacked KKT conditions (see the module docstring).

    Parameters
    ----------
    model : Block
        The game.
    players : Block or iterable of Blocks
    parameters : sequence of VarData, optional
        Unfixed variables outside the players that their problems may use (a leader's
        decisions): columns of the compiled system held at the values :attr:`p`
        (:meth:`set_parameters`) instead of solved for; :meth:`jacobians` also returns
        ``∂F/∂p``.  Without them such a variable is an error (it belongs to no player).

    Attributes
    ----------
    lb, ub : ndarray
        The complementarity box of ``z = (y, λ)``, ``y`` = players' variables and lifted aggregates.
    p : ndarray
        Current parameter values (from the variables' values at construction).
    timings : dict
        Seconds spent analysing, lifting, compiling and assembling the structure.
    """

    def __init__(self, model: pyo.Block, players: BlockData | Iterable[BlockData],
                 parameters: Sequence[Any] = ()) -> None:
        self.timings: dict[str, float] = {}
        t0 = time.perf_counter()
        self.game = game = find_players(model, players)
        integer = integer_variable(zip(game.names, game.variables))
        if integer is not None:
            raise UnsupportedModelError(f"the stacked KKT conditions need continuous variables: '{integer[0]}' has the "
                                        f"integer variable '{integer[1].name}' (for a game use method='gauss-seidel' "
                                        "or 'jacobi', for a bilevel follower method='nested': each best response "
                                        "by a MILP/MINLP solver)")
        owner = {id(v): i for i, vs in enumerate(game.variables) for v in vs}
        self.parameters = list(parameters)
        self._param_ids = {id(v): j for j, v in enumerate(self.parameters)}
        clash = [v for v in self.parameters if id(v) in owner]
        if clash:
            raise ModelError(f"parameter '{clash[0].name}' is a variable of a player")
        self.p = np.array([v.value if v.value is not None else 0.0 for v in self.parameters], float)
        self.timings["analyse"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        lifted = find_aggregates(model, game.blocks, owner, exclude=set(self._param_ids),
                                 parts=list(zip(game.objectives, game.constraints)))
        self.scratch = scratch = pyo.ConcreteModel(name="stacked KKT rows")
        scratch.t = pyo.Var(range(len(lifted.expressions)))
        sub = {id(e): scratch.t[j] for j, e in enumerate(lifted.expressions)}

        bodies, row_owner, con_rows, bounds = [], [], [], []
        for i, obj in enumerate(game.objectives):
            bodies.append(lift(obj.expr, sub))
            row_owner.append(i)
        sources = [(i, c) for i, cs in enumerate(game.constraints) for c in cs] + [(SHARED, c) for c in game.shared]
        for who, con in sources:
            lower, body, upper = con.to_bounded_expression(evaluate_bounds=True)
            con_rows.append(len(bodies))
            bounds.append((-np.inf if lower is None else float(lower), np.inf if upper is None else float(upper)))
            bodies.append(lift(body, sub))
            row_owner.append(who)
        self.constraints = [c for _, c in sources]
        scratch.rows = pyo.Constraint(range(len(bodies)), rule=lambda _, k: bodies[k] == 0.0)
        scratch.obj = pyo.Objective(expr=0.0)
        self.timings["lift"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        self.nlp = nlp = compile_model(scratch)
        self.timings["compile"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if nlp.trivial:
            raise ModelError(f"row '{nlp.trivial[0].name}' of the stacked system has no free variable "
                             "(a player's objective that none of its variables enter?)")
        self._assemble(nlp, lifted, owner, np.array(row_owner, np.int64), np.array(con_rows, np.int64),
                       np.array(bounds, float).reshape(-1, 2))
        self.timings["assemble"] = time.perf_counter() - t0

    # ------------------------------------------------------------------ structure (once)
    def _assemble(self, nlp, lifted: Aggregates, owner: dict[int, int], row_owner: np.ndarray,
                  con_rows: np.ndarray, bounds: np.ndarray) -> None:
        params = self._param_ids
        columns = [v for v in nlp.variables if id(v) not in params]
        index = {id(v): k for k, v in enumerate(columns)}
        n_comp = len(columns)
        t_ids = {id(self.scratch.t[j]): j for j in range(len(lifted.expressions))}
        extra = list(lifted.vars) + [self.scratch.t[j] for j in range(len(lifted.expressions))]
        for v in extra:  # variables met only through an aggregate, aggregates no row uses
            if id(v) not in index and (id(v) in owner or id(v) in t_ids):
                index[id(v)] = len(columns)
                columns.append(v)
        stray = [v for v in columns if id(v) not in owner and id(v) not in t_ids]
        if stray:
            raise ModelError(f"variable '{stray[0].name}' enters the players' problems but belongs to no "
                             "player block: declare it inside the player that decides it, fix it (a parameter), "
                             "or write it as an Expression of the players' variables")
        self.columns, self.n_comp = columns, n_comp
        n_y = len(columns)
        n_p = len(self.parameters)
        # compiled column -> unified column: players and lifted 0..n_y-1, parameters n_y..n_y+n_p-1
        unified = np.array([index[id(v)] if id(v) in index else n_y + params[id(v)] for v in nlp.variables],
                           np.int64).reshape(-1)
        self._cy = np.flatnonzero(unified < n_y)
        self._cy_src = unified[self._cy]
        self._cp = np.flatnonzero(unified >= n_y)
        self._cp_src = unified[self._cp] - n_y
        self._identity = n_p == 0   # compiled columns are y[:n_comp]
        col_owner = np.array([owner.get(id(v), LIFTED) for v in columns] + [PARAM] * n_p, np.int64)
        lifted_col = np.array([t_ids.get(id(v), -1) for v in columns] + [-1] * n_p, np.int64)
        self.t_cols = np.array([index[id(self.scratch.t[j])] for j in range(len(lifted.expressions))], np.int64)
        keep = np.array([id(v) in index for v in lifted.vars], bool)
        E = sp.csr_matrix((lifted.coef[keep], (lifted.rows[keep], [index[id(v)] for v, k in
                                                                    zip(lifted.vars, keep) if k])),
                          shape=(len(lifted.expressions), n_y))
        self.E, self.e0 = E, lifted.const
        self.col_owner, self.n_y = col_owner, n_y
        chain = _ChainMap(col_owner, lifted_col, E, len(self.game.blocks))

        self.ev = ev = NLPEvaluator(nlp)
        ev.bind(1.0)
        self.row_const = nlp.con_const.evaluate()
        n_obj = len(self.game.objectives)
        self.sides = sides = constraint_sides(con_rows, bounds[:, 0], bounds[:, 1])
        self.n_mult = n_mult = len(sides.row)
        # row weights: objective rows carry the player's sense, constraint rows Σ ω λ over their sides
        self.row_sense = np.zeros(nlp.m)
        self.row_sense[:n_obj] = self.game.senses
        # first-derivative map: Jacobian slot -> stationarity component
        jr, jc = ev.jac_rows, unified[ev.jac_cols]
        self.d_src, self.d_tgt, self.d_fac = chain.expand(row_owner[jr], jc)
        self.d_row = jr[self.d_src]
        own_cols = np.flatnonzero((lifted_col < 0) & (col_owner >= 0))
        if np.setdiff1d(own_cols, self.d_tgt).size:
            bad = columns[int(np.setdiff1d(own_cols, self.d_tgt)[0])]
            raise ModelError(f"variable '{bad.name}' enters none of its own player's objective or constraints")
        # multiplier slots of each row (≤ 2 sides per row)
        first, second = np.full(nlp.m, -1, np.int64), np.full(nlp.m, -1, np.int64)
        for s, k in enumerate(sides.row):
            if first[k] < 0:
                first[k] = s
            else:
                second[k] = s
        self.side_first, self.side_second = first, second
        # second-derivative map
        hk, hp, hq = ev.row_hessian_structure()
        self.h_src, h_tgt, self.h_fac = chain.expand(row_owner[hk], unified[hp])
        self.h_row, self.h_tgt, h_col = hk[self.h_src], h_tgt, unified[hq[self.h_src]]
        # multiplier rows: F_λ = c (g − bound): derivative c ∂g/∂y on every compiled column (t independent)
        slot_side = [(np.flatnonzero(first[jr] >= 0), first), (np.flatnonzero(second[jr] >= 0), second)]
        self.m_slots = np.concatenate([s for s, _ in slot_side])
        self.m_side = np.concatenate([m[jr[s]] for s, m in slot_side])
        # Jacobian columns: z = (y, λ) first, then the parameters
        n_z = n_y + n_mult
        self.h_col = np.where(h_col < n_y, h_col, h_col - n_y + n_z)
        self.m_cols = np.where(jc[self.m_slots] < n_y, jc[self.m_slots], jc[self.m_slots] - n_y + n_z)
        # lifted rows: F_t = t − E x − e0
        self.t_rows = self.t_cols
        # box and start
        lb = np.array([v.lb if v.lb is not None else -np.inf for v in columns], float)
        ub = np.array([v.ub if v.ub is not None else np.inf for v in columns], float)
        lb[lifted_col[:n_y] >= 0], ub[lifted_col[:n_y] >= 0] = -np.inf, np.inf
        self.lb = np.concatenate([lb, np.where(sides.free, -np.inf, 0.0)])
        self.ub = np.concatenate([ub, np.full(n_mult, np.inf)])
        if (self.lb > self.ub).any():
            bad = columns[int(np.flatnonzero(self.lb[:n_y] > self.ub[:n_y])[0])]
            raise ModelError(f"variable '{bad.name}' has a lower bound above its upper bound")

    # ------------------------------------------------------------------ evaluation
    def start(self) -> np.ndarray:
        """z from the variables' current values (clipped into their bounds), aggregates consistent, λ = 0."""
        y = np.array([v.value if v.value is not None else np.nan for v in self.columns], float)
        y = np.where(np.isnan(y), np.where(np.isfinite(self.lb[:self.n_y]), self.lb[:self.n_y], 0.0), y)
        y = np.clip(y, self.lb[:self.n_y], self.ub[:self.n_y])
        y[self.t_cols] = self.E @ y + self.e0
        return np.concatenate([y, np.zeros(self.n_mult)])

    def _row_weights(self, lam: np.ndarray) -> np.ndarray:
        w = self.row_sense.copy()
        np.add.at(w, self.sides.row, self.sides.omega * lam)
        return w

    def set_parameters(self, p: np.ndarray) -> None:
        """Values of the parameter columns used by :meth:`F`, :meth:`J` and :meth:`jacobians`."""
        p = np.asarray(p, float).ravel()
        if p.shape != self.p.shape:
            raise ModelError(f"expected {self.p.size} parameter values, got {p.size}")
        self.p = p.copy()

    def _x(self, y: np.ndarray) -> np.ndarray:
        """The compiled model's variable vector from y and the parameters."""
        if self._identity:
            return y[:self.n_comp]
        x = np.empty(self.nlp.n)
        x[self._cy] = y[self._cy_src]
        x[self._cp] = self.p[self._cp_src]
        return x

    def F(self, z: np.ndarray) -> np.ndarray:
        """The MCP function at z (non-finite where the players' functions are undefined)."""
        y, lam = z[:self.n_y], z[self.n_y:]
        yc = self._x(y)
        try:
            jac = self.ev.jacobian(yc)
            g = self.ev.constraints(yc) + self.row_const
        except CyIpoptEvaluationError:
            return np.full(z.size, np.nan)
        w = self._row_weights(lam)
        dval = jac[self.d_src] * self.d_fac
        Fy = np.bincount(self.d_tgt, weights=w[self.d_row] * dval, minlength=self.n_y)
        Fy[self.t_rows] = y[self.t_cols] - self.E @ y - self.e0
        Fl = self.sides.c * (g[self.sides.row] - self.sides.bound)
        return np.concatenate([Fy, Fl])

    def J(self, z: np.ndarray) -> sp.csc_matrix:
        """The Jacobian of :meth:`F` (sparse, assembled from the compiled derivatives)."""
        return self.jacobians(z)[0]

    def jacobians(self, z: np.ndarray) -> tuple[sp.csc_matrix, sp.csc_matrix]:
        """``(∂F/∂z, ∂F/∂p)`` at z and the current parameters (both sparse, CSC)."""
        n_y = self.n_y
        y, lam = z[:n_y], z[n_y:]
        yc = self._x(y)
        jac = self.ev.jacobian(yc)
        hess = self.ev.row_hessian_values(yc)
        w = self._row_weights(lam)
        dval = jac[self.d_src] * self.d_fac
        rows, cols, vals = [self.h_tgt], [self.h_col], [w[self.h_row] * hess[self.h_src] * self.h_fac]
        for side_of in (self.side_first, self.side_second):   # ∂F_x/∂λ = ω ∂g/∂x
            s = side_of[self.d_row]
            ok = s >= 0
            rows.append(self.d_tgt[ok])
            cols.append(n_y + s[ok])
            vals.append(self.sides.omega[s[ok]] * dval[ok])
        rows.append(n_y + self.m_side)                          # ∂F_λ/∂y = c ∂g/∂y
        cols.append(self.m_cols)
        vals.append(self.sides.c[self.m_side] * jac[self.m_slots])
        coo = self.E.tocoo()                                    # ∂F_t/∂(x, t) = (−E, I)
        rows += [self.t_rows[coo.row], self.t_rows]
        cols += [coo.col, self.t_cols]
        vals += [-coo.data, np.ones(self.t_cols.size)]
        # the lifted rows were overwritten in F: drop what the objective rows put there
        r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        n = n_y + self.n_mult
        full = sp.csc_matrix((v, (r, c)), shape=(n, n + self.p.size))
        if not self.p.size:
            return full, sp.csc_matrix((n, 0))
        return full[:, :n], full[:, n:]

    def load(self, z: np.ndarray) -> None:
        """Write the players' variables of z into the model."""
        for v, x, own in zip(self.columns, z[:self.n_y], self.col_owner):
            if own >= 0:
                v.set_value(float(x), skip_validation=True)

    def player_values(self, z: np.ndarray) -> dict[str, float]:
        """Each player's objective at z, from the compiled rows (no Pyomo expression walk)."""
        g = self.ev.constraints(self._x(z[:self.n_y])) + self.row_const
        return {b.name: float(v) for b, v in zip(self.game.blocks, g[:len(self.game.blocks)])}

    def shared_multipliers(self, z: np.ndarray) -> dict[str, float]:
        """Multiplier of each shared constraint side (one for all players: the variational equilibrium)."""
        lam = z[self.n_y:]
        n_own = sum(len(c) for c in self.game.constraints)
        out = {}
        for s, k in enumerate(self.sides.row):
            idx = k - len(self.game.objectives)
            if idx >= n_own:
                name = self.constraints[idx].name
                out[name] = out.get(name, 0.0) + float(self.sides.omega[s] * lam[s])
        return out

