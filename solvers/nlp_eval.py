"""Numpy callbacks (value, gradient, Jacobian, Hessian) of a compiled model.

:class:`NLPEvaluator` is the ``problem_obj`` handed to :class:`cyipopt.Problem`.
Its sparsity structure is computed once per :class:`CompiledNLP`; its numbers
are refreshed by :meth:`NLPEvaluator.bind` at the start of each solve (mutable
Params and fixed Vars are read there).  Each callback is a handful of numpy
operations: gathers ``x[cols]``, one call per term group, and one
``np.bincount`` to scatter every contribution into its sparse slot.

Sign convention: the evaluator always describes a *minimisation*; for a
maximisation ``bind(sense=-1)`` negates the objective and its derivatives.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
from cyipopt import CyIpoptEvaluationError

from gridgames.solvers.nlp_compile import CompiledNLP, TermGroup

logger = logging.getLogger(__name__)


def _bincount(index: np.ndarray, weights: np.ndarray, minlength: int) -> np.ndarray:
    """``np.bincount`` that stays float when empty (numpy returns int64 then, which SLSQP refuses)."""
    return np.bincount(index, weights=weights, minlength=minlength).astype(float, copy=False)


def _slots(rows: np.ndarray, cols: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (row, col) pairs and, for each input pair, its slot number."""
    keys = rows.astype(np.int64) * n + cols.astype(np.int64)
    uniq, inv = np.unique(keys, return_inverse=True)
    return uniq // n, uniq % n, inv.astype(np.int64)


class NLPEvaluator:
    """Callbacks of one compiled model in the form cyipopt expects.

    Parameters
    ----------
    nlp : CompiledNLP
        The translated model.

    Attributes
    ----------
    iterations : int
        Last iteration count reported by Ipopt's intermediate callback.
    """

    def __init__(self, nlp: CompiledNLP) -> None:
        self.nlp = nlp
        n, m = nlp.n, nlp.m
        self.n, self.m = n, m
        self.obj_groups = [g for g in nlp.groups if g.is_objective]
        self.con_groups = [g for g in nlp.groups if not g.is_objective]
        self.xcols = {id(g): [np.ascontiguousarray(g.cols[:, a]) for a in range(g.fn.n_x)]
                      for g in nlp.groups}

        # ---- constraint values: one bincount over all row contributions
        self._g_rows = np.concatenate([nlp.con_lin_rows, nlp.con_quad_rows]
                                      + [g.rows for g in self.con_groups]).astype(np.int64)
        # ---- objective gradient: one bincount over all column contributions
        self._grad_cols = np.concatenate(
            [nlp.obj_lin_cols, nlp.obj_quad_i, nlp.obj_quad_j]
            + [self.xcols[id(g)][a] for g in self.obj_groups for a in range(g.fn.n_x)]).astype(np.int64)

        # ---- Jacobian structure: linear block first, then the x-dependent blocks
        jr = [nlp.con_lin_rows, nlp.con_quad_rows, nlp.con_quad_rows]
        jc = [nlp.con_lin_cols, nlp.con_quad_i, nlp.con_quad_j]
        for g in self.con_groups:
            for a in range(g.fn.n_x):
                jr.append(g.rows)
                jc.append(self.xcols[id(g)][a])
        rows = np.concatenate(jr).astype(np.int64) if jr else np.zeros(0, np.int64)
        cols = np.concatenate(jc).astype(np.int64) if jc else np.zeros(0, np.int64)
        self.jac_rows, self.jac_cols, inv = _slots(rows, cols, max(n, 1))
        n_lin = len(nlp.con_lin_rows)
        self._jac_lin_slots, self._jac_dyn_slots = inv[:n_lin], inv[n_lin:]
        self.jac_nnz = len(self.jac_rows)

        # ---- Hessian structure (lower triangle)
        hr, hc = [], []
        for i, j in ((nlp.obj_quad_i, nlp.obj_quad_j), (nlp.con_quad_i, nlp.con_quad_j)):
            hr.append(np.maximum(i, j))
            hc.append(np.minimum(i, j))
        self._obj_quad_diag = np.where(nlp.obj_quad_i == nlp.obj_quad_j, 2.0, 1.0)
        self._con_quad_diag = np.where(nlp.con_quad_i == nlp.con_quad_j, 2.0, 1.0)
        for g in nlp.groups:
            xc = self.xcols[id(g)]
            for a, b in g.fn.hess_pairs:
                hr.append(np.maximum(xc[a], xc[b]))
                hc.append(np.minimum(xc[a], xc[b]))
        hrows = np.concatenate(hr).astype(np.int64)
        hcols = np.concatenate(hc).astype(np.int64)
        self.hess_rows, self.hess_cols, self._hess_slots = _slots(hrows, hcols, max(n, 1))
        self.hess_nnz = len(self.hess_rows)

        self.sense = 1.0
        self.iterations = 0
        self._bound = False

    # ------------------------------------------------------------------
    def bind(self, sense: float = 1.0) -> None:
        """Read Param / fixed-Var values and the objective sense (once per solve).

        Parameters
        ----------
        sense : float
            +1 to minimise the model objective, -1 to maximise it.
        """
        nlp = self.nlp
        s = float(sense)
        self.sense = s
        self.obj_const = s * float(nlp.obj_const.evaluate()[0])
        self.obj_lin = s * nlp.obj_lin_coef.evaluate()
        self.obj_quad = s * nlp.obj_quad_coef.evaluate()
        self.con_lin = nlp.con_lin_coef.evaluate()
        self.con_quad = nlp.con_quad_coef.evaluate()
        self.pcols: dict[int, list[np.ndarray]] = {}
        for g in nlp.groups:
            vals = g.data.evaluate().reshape(g.size, g.fn.n_p)
            self.pcols[id(g)] = [np.ascontiguousarray(vals[:, k]) for k in range(g.fn.n_p)]
        self._jac_base = _bincount(self._jac_lin_slots, weights=self.con_lin, minlength=self.jac_nnz)
        self._hq_obj = self.obj_quad * self._obj_quad_diag
        self._hq_con = self.con_quad * self._con_quad_diag
        self.iterations = 0
        self._bound = True

    def _args(self, g: TermGroup, x: np.ndarray) -> list[np.ndarray]:
        return [x[c] for c in self.xcols[id(g)]] + self.pcols[id(g)]

    # ------------------------------------------------------------------ values
    def objective(self, x: np.ndarray) -> float:
        """Objective (sense-adjusted) at x."""
        nlp = self.nlp
        with np.errstate(all="ignore"):
            # einsum, not `@`: a BLAS call on short vectors is slow when its
            # threads compete for busy cores
            val = self.obj_const + np.einsum("i,i->", self.obj_lin, x[nlp.obj_lin_cols]) \
                + np.einsum("i,i,i->", self.obj_quad, x[nlp.obj_quad_i], x[nlp.obj_quad_j])
            for g in self.obj_groups:
                val += self.sense * float(np.sum(g.fn.full(g.fn.value(*self._args(g, x)), g.size)))
        if not np.isfinite(val):
            raise CyIpoptEvaluationError("objective is not finite")
        return float(val)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Objective gradient (dense, length n)."""
        nlp = self.nlp
        w = [self.obj_lin, self.obj_quad * x[nlp.obj_quad_j], self.obj_quad * x[nlp.obj_quad_i]]
        with np.errstate(all="ignore"):
            for g in self.obj_groups:
                for d in g.fn.grad(*self._args(g, x)):
                    w.append(self.sense * g.fn.full(d, g.size))
        out = _bincount(self._grad_cols, weights=np.concatenate(w), minlength=self.n)
        if not np.all(np.isfinite(out)):
            raise CyIpoptEvaluationError("objective gradient is not finite")
        return out

    def constraints(self, x: np.ndarray) -> np.ndarray:
        """Constraint bodies without their constant part (length m)."""
        nlp = self.nlp
        w = [self.con_lin * x[nlp.con_lin_cols], self.con_quad * x[nlp.con_quad_i] * x[nlp.con_quad_j]]
        with np.errstate(all="ignore"):
            for g in self.con_groups:
                w.append(g.fn.full(g.fn.value(*self._args(g, x)), g.size))
        out = _bincount(self._g_rows, weights=np.concatenate(w), minlength=self.m)
        if not np.all(np.isfinite(out)):
            raise CyIpoptEvaluationError("constraint values are not finite")
        return out

    # ------------------------------------------------------------------ derivatives
    def jacobianstructure(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the Jacobian nonzeros, fixed for the compiled structure."""
        return self.jac_rows, self.jac_cols

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """Constraint Jacobian values in :meth:`jacobianstructure` order."""
        nlp = self.nlp
        w = [self.con_quad * x[nlp.con_quad_j], self.con_quad * x[nlp.con_quad_i]]
        with np.errstate(all="ignore"):
            for g in self.con_groups:
                for d in g.fn.grad(*self._args(g, x)):
                    w.append(g.fn.full(d, g.size))
        out = self._jac_base + _bincount(self._jac_dyn_slots, weights=np.concatenate(w),
                                           minlength=self.jac_nnz)
        if not np.all(np.isfinite(out)):
            raise CyIpoptEvaluationError("Jacobian is not finite")
        return out

    def hessianstructure(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the lower-triangle Hessian nonzeros (rows >= cols)."""
        return self.hess_rows, self.hess_cols

    def hessian(self, x: np.ndarray, lagrange: np.ndarray, obj_factor: float) -> np.ndarray:
        """Lower triangle of ``obj_factor * H_f + sum_i lagrange_i * H_gi``."""
        nlp = self.nlp
        w = [obj_factor * self._hq_obj, lagrange[nlp.con_quad_rows] * self._hq_con]
        with np.errstate(all="ignore"):
            for g in self.nlp.groups:
                if g.fn.hess is None:
                    continue
                mult = obj_factor * self.sense if g.is_objective else lagrange[g.rows]
                for d in g.fn.hess(*self._args(g, x)):
                    w.append(mult * g.fn.full(d, g.size))
        out = _bincount(self._hess_slots, weights=np.concatenate(w), minlength=self.hess_nnz)
        if not np.all(np.isfinite(out)):
            raise CyIpoptEvaluationError("Hessian is not finite")
        return out

    def row_hessian_structure(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, i, j) of every second derivative of every constraint body, both triangles.

        Unlike :meth:`hessian`, rows are kept apart (entries of different rows
        are not summed), which is what Newton's method on a system built from
        several bodies needs (e.g. stacked KKT conditions of a game, where
        each player differentiates its own objective).  Entries may repeat;
        summing duplicates gives the row's Hessian.
        """
        nlp = self.nlp
        off = nlp.con_quad_i != nlp.con_quad_j
        rows = [nlp.con_quad_rows, nlp.con_quad_rows[off]]
        ii = [nlp.con_quad_i, nlp.con_quad_j[off]]
        jj = [nlp.con_quad_j, nlp.con_quad_i[off]]
        for g in self.con_groups:
            if g.fn.hess is None:
                continue
            xc = self.xcols[id(g)]
            for a, b in g.fn.hess_pairs:
                rows.append(g.rows)
                ii.append(xc[a])
                jj.append(xc[b])
                if a != b:
                    rows.append(g.rows)
                    ii.append(xc[b])
                    jj.append(xc[a])
        cat = lambda parts: np.concatenate(parts).astype(np.int64)  # noqa: E731
        return cat(rows), cat(ii), cat(jj)

    def row_hessian_values(self, x: np.ndarray) -> np.ndarray:
        """Values in :meth:`row_hessian_structure` order at x (call :meth:`bind` first)."""
        nlp = self.nlp
        off = nlp.con_quad_i != nlp.con_quad_j
        w = [self._hq_con, self.con_quad[off]]
        with np.errstate(all="ignore"):
            for g in self.con_groups:
                if g.fn.hess is None:
                    continue
                values = g.fn.hess(*self._args(g, x))
                for (a, b), d in zip(g.fn.hess_pairs, values):
                    full = g.fn.full(d, g.size)
                    w.append(full)
                    if a != b:
                        w.append(full)
        return np.concatenate(w) if w else np.zeros(0)

    def intermediate(self, alg_mod: int, iter_count: int, *args: Any) -> bool:
        """Record the iteration count; never stops the solve."""
        self.iterations = int(iter_count)
        return True

    # ------------------------------------------------------------------ helpers for tests
    def dense_jacobian(self, x: np.ndarray) -> np.ndarray:
        """The Jacobian as a dense (m, n) array (for checks, not for solving)."""
        out = np.zeros((self.m, self.n))
        np.add.at(out, (self.jac_rows, self.jac_cols), self.jacobian(x))
        return out

    def dense_hessian(self, x: np.ndarray, lagrange: np.ndarray, obj_factor: float = 1.0) -> np.ndarray:
        """The full symmetric Hessian of the Lagrangian as a dense (n, n) array."""
        low = np.zeros((self.n, self.n))
        np.add.at(low, (self.hess_rows, self.hess_cols), self.hessian(x, lagrange, obj_factor))
        return low + np.tril(low, -1).T
