"""Multi-objective particle swarm optimisation (MOPSO) as a pymoo ``Algorithm``.

pymoo ships single-objective PSO only.  This is the usual archive-based MOPSO
(Coello Coello, Pulido & Lechuga, IEEE TEVC 8(3), 2004, with the crowding-distance leader
selection of Raquel & Naval, GECCO 2005), the scheme the RTP paper's "improved MOPSO" builds on:

* an external archive keeps the non-dominated solutions found so far; when it overflows, the
  most crowded members (smallest crowding distance, pymoo's ``calc_crowding_distance``) go;
* each particle's leader is drawn from the archive by a binary tournament on crowding distance
  (less crowded wins), which spreads the swarm along the front;
* velocity ``v ← w v + c1 r1 (pbest − x) + c2 r2 (leader − x)`` clipped to ``±v_max (xu − xl)``,
  position clipped to the bounds (velocity reflected there);
* "improved": the inertia falls linearly from ``w_start`` to ``w_end`` over the run, and a
  polynomial mutation of a decreasing fraction of the swarm (turbulence) keeps diversity;
* personal best: replaced when the new position dominates it, kept when dominated, and
  replaced with probability 1/2 when neither dominates.

Use it like any pymoo algorithm::

    res = minimize(problem, MOPSO(pop_size=60, archive_size=100), ("n_gen", 200), seed=1)
    res.F  # the archive

Constraints are handled by pymoo's constraint-domination (``CV``) in the dominance tests.

Two options for hard combinatorial problems (both off by default, so the plain scheme above is
what ``MOPSO()`` runs):

* ``leaders="decomposition"``: particle i keeps a fixed weight vector λ_i (evenly spread) and
  follows the archive member with the smallest Tchebycheff value
  ``max_j (Z_j / λ_ij) / Σ_k 1/λ_ik`` on archive-normalised objectives Z (ideal → 0, nadir → 1;
  the inverse weights put the optima of evenly spread λ on evenly spread rays), as in dMOPSO
  (Martínez & Coello Coello, GECCO 2011).  Every particle has its own region of the front instead
  of a random crowded-tournament leader, so the swarm spreads along the whole front;
* ``archive_mutants=k``: each generation k archive members, chosen by a binary tournament on
  crowding distance, are copied, mutated with ``mutation`` and evaluated; they compete for the
  archive only (the leader-mutation / local-search step of archive-based MOPSOs such as OMOPSO,
  Sierra & Coello Coello, EMO 2005).  With a problem-specific neighbourhood as ``mutation``
  (e.g. :class:`gridgames.models.rtp.solve.ScheduleMoves`) this is a memetic MOPSO.
  The evaluations per generation are ``pop_size + archive_mutants``.
"""
from __future__ import annotations

import numpy as np
from pymoo.core.algorithm import Algorithm
from pymoo.core.initialization import Initialization
from pymoo.core.mutation import Mutation
from pymoo.core.population import Population
from pymoo.operators.mutation.pm import PM
from pymoo.operators.sampling.lhs import LHS
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
from pymoo.util.display.multi import MultiObjectiveOutput
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from gridgames.solvers.errors import ModelError


def _dominance(fa: np.ndarray, fb: np.ndarray, cva: np.ndarray, cvb: np.ndarray) -> np.ndarray:
    """+1 where row a dominates row b, −1 where b dominates a, 0 otherwise (constraint-domination)."""
    out = np.zeros(len(fa), int)
    feas_a, feas_b = cva <= 0, cvb <= 0
    both = feas_a & feas_b
    a_dom = np.all(fa <= fb, axis=1) & np.any(fa < fb, axis=1)
    b_dom = np.all(fb <= fa, axis=1) & np.any(fb < fa, axis=1)
    out[both & a_dom] = 1
    out[both & b_dom] = -1
    out[feas_a & ~feas_b] = 1
    out[~feas_a & feas_b] = -1
    infeas = ~feas_a & ~feas_b
    out[infeas & (cva < cvb)] = 1
    out[infeas & (cvb < cva)] = -1
    return out


def _cv(pop: Population) -> np.ndarray:
    cv = pop.get("CV")
    return np.zeros(len(pop)) if cv is None else np.asarray(cv, float).reshape(len(pop))


class MOPSO(Algorithm):
    """Archive-based multi-objective PSO (see the module docstring).

    Parameters
    ----------
    pop_size : int
        Swarm size.
    archive_size : int
        Largest external archive (crowding-distance truncation).
    w_start, w_end : float
        Inertia at the first and last generation (linear decrease; needs an ``n_gen``
        termination to know the last, else ``w_start`` is kept).
    c1, c2 : float
        Cognitive and social coefficients.
    v_max : float
        Velocity limit as a fraction of ``xu − xl``.
    mutation_rate : float
        Fraction of particles mutated in the first generation (falls to 0 at the end).
    mutation_eta : float
        Distribution index of the polynomial mutation (smaller = larger jumps).
    sampling : pymoo Sampling, array or Population
        Initial positions (Latin hypercube by default); an ``(pop_size, n_var)`` array seeds the swarm.
    leaders : {'crowding', 'decomposition'}
        Leader choice: binary tournament on crowding distance, or each particle's Tchebycheff
        best archive member for its own weight vector (module docstring).
    mutation : pymoo Mutation, optional
        Operator for the turbulence and the archive mutants (default: polynomial mutation with
        ``mutation_eta``).
    archive_mutants : int
        Archive members mutated and evaluated per generation (0: none).
    """

    def __init__(self, pop_size: int = 50, archive_size: int = 100, w_start: float = 0.7, w_end: float = 0.3,
                 c1: float = 1.5, c2: float = 1.5, v_max: float = 0.25, mutation_rate: float = 0.3,
                 mutation_eta: float = 20.0, sampling=None, leaders: str = "crowding",
                 mutation: Mutation | None = None, archive_mutants: int = 0, output=None, **kwargs) -> None:
        super().__init__(output=output or MultiObjectiveOutput(), **kwargs)
        bad = [f"{n}: must be > 0, got {v}" for n, v in (("pop_size", pop_size), ("archive_size", archive_size),
                                                        ("v_max", v_max)) if not v > 0]
        bad += [f"{n}: must be >= 0, got {v}" for n, v in (("c1", c1), ("c2", c2), ("w_end", w_end),
                                                           ("mutation_rate", mutation_rate),
                                                           ("archive_mutants", archive_mutants)) if not v >= 0]
        if leaders not in ("crowding", "decomposition"):
            bad.append(f"leaders: must be 'crowding' or 'decomposition', got {leaders!r}")
        if bad:
            raise ModelError("MOPSO: " + "; ".join(bad))
        self.pop_size, self.archive_size = int(pop_size), int(archive_size)
        self.w_start, self.w_end, self.c1, self.c2 = w_start, w_end, c1, c2
        self.v_max, self.mutation_rate, self.mutation_eta = v_max, mutation_rate, mutation_eta
        self.leader_mode, self.archive_mutants = leaders, int(archive_mutants)
        self.mutation = mutation if mutation is not None else PM(prob=1.0, eta=mutation_eta)
        self.initialization = Initialization(LHS() if sampling is None else sampling)
        self.weights: np.ndarray | None = None
        self.particles: Population | None = None
        self.leaders: Population | None = None
        self.V: np.ndarray | None = None

    # -- pymoo hooks -------------------------------------------------------------------------------
    def _setup(self, problem, **kwargs) -> None:
        if problem.n_obj < 2:
            raise ModelError(f"MOPSO needs at least two objectives, the problem has {problem.n_obj}")
        if not problem.has_bounds():
            raise ModelError("MOPSO needs finite variable bounds xl, xu")
        self.V_max = self.v_max * (problem.xu - problem.xl)

    def _initialize_infill(self) -> Population:
        return self.initialization.do(self.problem, self.pop_size, algorithm=self, random_state=self.random_state)

    def _initialize_advance(self, infills=None, **kwargs) -> None:
        self.particles = infills
        self.pop = infills.copy()          # personal bests
        self.V = np.zeros((len(infills), self.problem.n_var))
        self.leaders = Population.empty()
        self._update_archive(infills)

    def _progress(self) -> float:
        n_max = getattr(self.termination, "n_max_gen", None)
        return 0.0 if not n_max else min(1.0, (self.n_iter - 1) / max(1, n_max - 1))

    def _infill(self) -> Population:
        rng = self.random_state
        xl, xu = self.problem.xl, self.problem.xu
        X, P = self.particles.get("X"), self.pop.get("X")
        L = self._select_leaders(len(X))
        frac = self._progress()
        w = self.w_start + (self.w_end - self.w_start) * frac
        r1, r2 = rng.random(X.shape), rng.random(X.shape)
        V = w * self.V + self.c1 * r1 * (P - X) + self.c2 * r2 * (L - X)
        V = np.clip(V, -self.V_max, self.V_max)
        Xn = X + V
        low, high = Xn < xl, Xn > xu
        V[low | high] *= -0.5
        Xn = np.clip(Xn, xl, xu)
        rate = self.mutation_rate * (1.0 - frac)
        chosen = np.flatnonzero(rng.random(len(Xn)) < rate)
        if chosen.size:
            off = self.mutation(self.problem, Population.new(X=Xn[chosen]), random_state=rng)
            Xn[chosen] = off.get("X")
        self.V = V
        swarm = Population.new(X=Xn)
        if not self.archive_mutants:
            return swarm
        pick = self._crowding_tournament(self.archive_mutants)
        mutants = self.mutation(self.problem, Population.new(X=self.leaders.get("X")[pick].copy()), random_state=rng)
        return Population.merge(swarm, mutants)

    def _advance(self, infills=None, **kwargs) -> None:
        if infills is None:
            raise ModelError("MOPSO uses the ask-and-tell interface: advance() needs the evaluated infills")
        self.particles = infills[:len(self.pop)]          # the rest are archive mutants
        dom = _dominance(self.particles.get("F"), self.pop.get("F"), _cv(self.particles), _cv(self.pop))
        coin = self.random_state.random(len(dom)) < 0.5
        replace = (dom == 1) | ((dom == 0) & coin)
        self.pop[replace] = self.particles[replace]
        self._update_archive(infills)

    def _set_optimum(self) -> None:
        self.opt = self.leaders

    # -- archive -----------------------------------------------------------------------------------
    def _update_archive(self, new: Population) -> None:
        merged = Population.merge(self.leaders, new) if len(self.leaders) else new
        F, cv = merged.get("F"), _cv(merged)
        feasible = np.flatnonzero(cv <= 0)
        if feasible.size == 0:       # keep the least infeasible while nothing is feasible
            self.leaders = merged[[int(np.argmin(cv))]]
            return
        merged, F = merged[feasible], F[feasible]
        # drop exact duplicates in objective space, then keep the first front
        _, uniq = np.unique(np.round(F, 12), axis=0, return_index=True)
        merged, F = merged[np.sort(uniq)], F[np.sort(uniq)]
        front = NonDominatedSorting().do(F, only_non_dominated_front=True)
        merged, F = merged[front], F[front]
        while len(merged) > self.archive_size:
            cd = calc_crowding_distance(F)
            drop = int(np.argmin(cd))
            keep = np.delete(np.arange(len(merged)), drop)
            merged, F = merged[keep], F[keep]
        self.leaders = merged

    def _crowding_tournament(self, n: int) -> np.ndarray:
        """Indices of ``n`` archive members, binary tournament on crowding distance (larger wins)."""
        a = self.random_state.integers(0, len(self.leaders), n)
        if len(self.leaders) <= 2:
            return a
        cd = calc_crowding_distance(self.leaders.get("F"))
        b = self.random_state.integers(0, len(self.leaders), n)
        return np.where(cd[a] >= cd[b], a, b)

    def _select_leaders(self, n: int) -> np.ndarray:
        """Leader positions for ``n`` particles (crowding tournament or Tchebycheff decomposition)."""
        A = self.leaders.get("X")
        if len(A) == 1:
            return np.repeat(A, n, axis=0)
        if self.leader_mode == "crowding":
            return A[self._crowding_tournament(n)]
        F = self.leaders.get("F")
        ideal, nadir = F.min(axis=0), F.max(axis=0)
        Z = (F - ideal) / np.where(nadir - ideal > 1e-12, nadir - ideal, 1.0)
        if self.weights is None or len(self.weights) != n:
            self.weights = _spread_weights(n, F.shape[1])
        inv = 1.0 / np.maximum(self.weights, 1e-6)
        inv /= inv.sum(axis=1, keepdims=True)
        tcheby = np.max(inv[:, None, :] * Z[None, :, :], axis=2)          # (particles, archive)
        return A[np.argmin(tcheby, axis=1)]


def _spread_weights(n: int, n_obj: int) -> np.ndarray:
    """``n`` weight vectors evenly spread on the simplex (a line for two objectives, Riesz energy above)."""
    if n_obj == 2:
        w = np.linspace(0.0, 1.0, n)
        return np.column_stack([w, 1.0 - w])
    from pymoo.util.ref_dirs import get_reference_directions
    return get_reference_directions("energy", n_obj, n, seed=1)
