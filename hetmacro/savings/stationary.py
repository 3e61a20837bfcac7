r"""Stationary equilibrium of Aiyagari-type economies (no common noise).

A stationary recursive competitive equilibrium is an interest rate r*, a savings policy a'(a, e) and a
distribution mu over (a, e) such that

1. the policy solves the household problem at prices (r*, w(r*)) (:mod:`hetmacro.savings.egm`);
2. mu is stationary under the policy and the income chain: mu = A(a')^T mu, where A is Young's
   (2010) transition: a' is split onto its two neighbouring grid points (the lottery), then the income
   chain moves e. The operator is the compiled Game's ``push`` with a one-action kernel
   (:func:`policy_kernel`), so the stationary solver and the mean-field solvers share one transition;
3. the asset market clears: K^s(r*) = sum mu a = K^d(r*) = (K/L)(r*) L, where the firm's
   first-order condition r = alpha Z (K/L)^(alpha - 1) - delta gives K/L.

**Root-finding on r with no user bracket.** Every equilibrium lies in (-delta, 1/beta - 1): at
r -> -delta the firm demands unbounded capital, and as r -> 1/beta - 1 households' precautionary
saving diverges (Chamberlain and Wilson 2000), so supply exceeds demand on a large enough grid. The
solver never evaluates those ends. It solves G(r) = r - r^d(K^s(r)) = 0, where r^d(K) is the rate at
which the firm demands K: G has the same root as the excess supply K^s - K^d, is increasing, and stays
bounded near 1/beta - 1 (where K^s is capped by the grid's top, a_max). A point with G < 0 bounds the
root from below and its cobweb image r^d(K^s(r)) bounds it from above (and vice versa), which brackets
the root in a few evaluations; Brent's method then converges superlinearly. Each evaluation warm-starts
the household (extrapolating the consumption policy linearly in r from the two nearest solves) and the
distribution from the nearest r already solved. Points far from the root (|G| > 1e-4) are solved with
loose inner tolerances, enough for the sign of G; every point with |G| below that, and r* itself, with
the requested ones.

**The distribution** at each r is the fixed point of the Game's ``push`` under the savings policy,
found by BiCGSTAB on the linear system with ``push`` as its matrix-vector product (a few hundred
pushes where plain iteration needs thousands, and over 10^5 near 1/beta - 1), then polished by plain
``push`` iteration until one push moves no cell by more than ``dist_tol``.

When no root exists on the grid (supply below demand all the way up to 1/beta - 1 because a_max caps
savings) the solver says so and what to change.

References: Aiyagari (1994), QJE 109(3); Young (2010), JEDC 34(1); Chamberlain and Wilson (2000),
"Optimal intertemporal consumption under uncertainty", RED 3(3); Brent (1973), *Algorithms for
Minimization without Derivatives*, ch. 4.
"""

from __future__ import annotations

import dataclasses
import math
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import optimize

from ..game import Game, Kernel, compile
from ..grids import lottery
from ..solution import Solution
from . import egm

__all__ = [
    "ConvergenceError",
    "DistributionSolution",
    "HouseholdSolution",
    "NoEquilibriumError",
    "SteadyStateProblem",
    "distribution",
    "excess_demand",
    "household",
    "policy_kernel",
    "rate_bounds",
    "solve_stationary",
    "steady_state_problem",
]


class ConvergenceError(RuntimeError):
    """An inner loop (household or distribution) did not converge within its iteration cap."""


class NoEquilibriumError(RuntimeError):
    """No interest rate in (-delta, 1/beta - 1) clears the asset market on this grid."""


class SteadyStateProblem(eqx.Module):
    """The arrays of a stationary problem, in float64: the compiled Game and what EGM needs.

    Attributes:
        game: the model compiled with ``dtype=float64`` (its ``push`` moves the distribution).
        a: (n,) asset grid; a[0] is the borrowing limit a_min.
        e: (m,) income states; P: (m, m) their transition; pi_e: (m,) its stationary distribution.
        beta, sigma: discount factor and CRRA coefficient.
    """

    game: Game
    a: jnp.ndarray
    e: jnp.ndarray
    P: jnp.ndarray
    pi_e: jnp.ndarray
    beta: jnp.ndarray
    sigma: jnp.ndarray

    @property
    def model(self):
        return self.game.model

    def prices(self, r) -> dict:
        """The firm's and government's side at rate r (see ``Aiyagari.steady_state_prices``)."""
        return self.model.steady_state_prices(r, self.e, self.pi_e)


@dataclasses.dataclass
class HouseholdSolution:
    """A household solve at one interest rate.

    Attributes: r, w; c (n, m) consumption; a_next (n, m) end-of-period assets; y (m,) non-asset
    income; iterations; error (last sup-norm change of a', in assets); seconds (wall, compiled).
    """

    r: float
    w: float
    c: np.ndarray
    a_next: np.ndarray
    y: np.ndarray
    iterations: int
    error: float
    seconds: float


@dataclasses.dataclass
class DistributionSolution:
    """A stationary distribution under a fixed savings policy.

    Attributes: mu (n, m), sums to 1; iterations (pushes); error (last sup-norm change of mu per
    push); seconds (wall, compiled).
    """

    mu: np.ndarray
    iterations: int
    error: float
    seconds: float


def steady_state_problem(model) -> SteadyStateProblem:
    """Compile ``model`` in float64 and collect what the stationary solver needs.

    Raises:
        TypeError: the model is not a savings economy (it has no ``steady_state_prices``).
        ValueError: it has aggregate risk, or beta >= 1.
    """
    name = type(model).__name__
    if not (hasattr(model, "steady_state_prices") and hasattr(model, "sigma")):
        raise TypeError(
            f"the stationary solver solves savings economies of the Aiyagari family; {name} has no "
            "steady_state_prices(r, e, pi_e) and CRRA sigma. Subclass hetmacro.models.Aiyagari, or use "
            "method='dp' for a finite-horizon game."
        )
    with jax.enable_x64(True):
        game = compile(model, dtype=jnp.float64)
        if not game.noise.deterministic:
            raise ValueError(
                f"{name} has aggregate risk (common noise {type(game.noise).__name__}); a stationary "
                "equilibrium exists only without it. Fix: solve the model with aggregate_risk=False "
                "(its deterministic steady state), or use a solver for aggregate risk."
            )
        beta = float(game.beta)
        if not beta < 1.0:
            raise ValueError(
                f"{name}: beta = {beta}: a stationary equilibrium needs beta < 1 (values and the "
                "bound 1/beta - 1 on r are infinite otherwise). Fix: lower beta."
            )
        chain = game.chain
        return SteadyStateProblem(
            game=game,
            a=game.grid.points,
            e=chain.values,
            P=chain.P,
            pi_e=jnp.asarray(chain.stationary(), jnp.float64),
            beta=game.beta,
            sigma=jnp.asarray(game.model.sigma, jnp.float64),
        )


def _as_problem(model_or_problem) -> SteadyStateProblem:
    if isinstance(model_or_problem, SteadyStateProblem):
        return model_or_problem
    return steady_state_problem(model_or_problem)


def policy_kernel(game: Game, a_next) -> Kernel:
    """The Game kernel of a deterministic savings policy: one action, one shock atom.

    a_next (n, m) is split onto the asset grid by Young's lottery (capped at the ends), then the
    income chain applies: ``game.push(mu, ones((n, m, 1)), policy_kernel(game, a_next))`` is one step
    of the stationary distribution's iteration, and ``game.expect`` its adjoint.
    """
    i, t = lottery(game.grid.points, a_next)
    return Kernel(i[:, :, None, None], t[:, :, None, None], jnp.ones((1,), a_next.dtype), game.chain.P)


# --- compiled cores ------------------------------------------------------------------------------
def _household_core(problem: SteadyStateProblem, r, c_init, tol, max_iter):
    p = problem.prices(r)
    c, a_next, k, err = egm.solve_egm(
        problem.a, problem.P, p["y"], r, problem.beta, problem.sigma, c_init, tol, max_iter
    )
    return c, a_next, p["y"], p["w"], k, err


def _bicgstab(matvec, b, x0, tol, max_iter):
    """BiCGSTAB (van der Vorst 1992) for matvec(x) = b, stopping at max |residual| <= tol.

    Returns (x, matvecs, max |b - matvec(x)| of the recursive residual). Stops early on breakdown
    (a zero inner product); the caller checks the true residual and falls back to power iteration.
    """
    r = b - matvec(x0)
    rhat = r
    one = jnp.ones((), b.dtype)
    zero = jnp.zeros_like(b)

    def cond(state):
        _, r, _, _, _, _, _, k, ok = state
        return ok & (jnp.max(jnp.abs(r)) > tol) & (k < max_iter)

    def body(state):
        x, r, p, v, rho, alpha, omega, k, _ = state
        rho_new = jnp.vdot(rhat, r)
        beta = (rho_new / rho) * (alpha / omega)
        p = r + beta * (p - omega * v)
        v = matvec(p)
        alpha = rho_new / jnp.vdot(rhat, v)
        s = r - alpha * v
        t = matvec(s)
        omega = jnp.vdot(t, s) / jnp.vdot(t, t)
        x_new = x + alpha * p + omega * s
        r_new = s - omega * t
        ok = jnp.isfinite(omega) & (omega != 0) & jnp.isfinite(alpha) & jnp.all(jnp.isfinite(x_new))
        x_new = jnp.where(ok, x_new, x)
        r_new = jnp.where(ok, r_new, r)
        return x_new, r_new, p, v, rho_new, alpha, omega, k + 2, ok

    init = (x0, r, zero, zero, one, one, one, jnp.asarray(0, jnp.int32), jnp.asarray(True))
    x, r, *_, k, _ = jax.lax.while_loop(cond, body, init)
    return x, k, jnp.max(jnp.abs(r))


def _distribution_core(problem: SteadyStateProblem, a_next, mu_init, tol, max_iter):
    """Stationary mu of the policy a_next: mu = push(mu) with sum(mu) = 1.

    First a Krylov solve of the linear system (I - A^T + u 1^T) mu = u (u uniform; nonsingular when the
    stationary distribution is unique; its solution sums to 1), whose matrix-vector product is one
    ``game.push``; then plain iteration of ``push`` (Young's method proper) until one push moves no
    cell's mass by more than ``tol``. The Krylov step converges in a few hundred pushes where the plain
    iteration needs thousands (and over 10^5 when r is close to 1/beta - 1); when it breaks down, the
    plain iteration does all the work. Returns (mu, pushes, max |push(mu) - mu|).
    """
    game = problem.game
    kern = policy_kernel(game, a_next)
    pi = jnp.ones(a_next.shape + (1,), a_next.dtype)
    u = jnp.full(a_next.shape, 1.0 / a_next.size, a_next.dtype)

    def push(mu):
        return game.push(mu, pi, kern)

    def system(mu):
        return mu - push(mu) + jnp.sum(mu) * u

    mu0 = mu_init / jnp.sum(mu_init)
    mu, k_krylov, _ = _bicgstab(system, u, mu0, 0.01 * tol, jnp.minimum(max_iter, 20_000))
    mu = jnp.maximum(mu, 0.0)  # Krylov iterates may carry rounding-size negative masses
    mu = jnp.where(jnp.isfinite(jnp.sum(mu)) & (jnp.sum(mu) > 0), mu / jnp.sum(mu), mu0)

    def cond(state):
        mu_prev, mu, k = state
        first = k == k_krylov  # always take one push, so the reported change is a true residual
        return first | ((jnp.max(jnp.abs(mu - mu_prev)) > tol) & (k < max_iter))

    def body(state):
        _, mu, k = state
        return mu, push(mu), k + 1

    mu_prev, mu, k = jax.lax.while_loop(cond, body, (mu, mu, k_krylov))
    return mu, k, jnp.max(jnp.abs(mu - mu_prev))


def _rate_for_capital(problem: SteadyStateProblem, K):
    """r^d(K): the rate at which the firm demands capital K (K^d is decreasing in r).

    Bisection on log(r + delta) over [1e-14, 1e4], 200 halvings (exact to rounding); +inf for K <= 0.
    """
    delta = problem.model.delta
    Kpos = jnp.maximum(K, 1e-300)

    def step(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        too_much = problem.prices(jnp.exp(mid) - delta)["K"] > Kpos  # demand above K: raise r
        return jnp.where(too_much, mid, lo), jnp.where(too_much, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 200, step, (jnp.log(1e-14), jnp.log(1e4)))
    return jnp.where(K > 0, jnp.exp(0.5 * (lo + hi)) - delta, jnp.inf)


def _evaluate_core(problem, r, c_init, mu_init, hh_tol, hh_max, dist_tol, dist_max):
    c, a_next, y, w, hh_k, hh_err = _household_core(problem, r, c_init, hh_tol, hh_max)
    mu, d_k, d_err = _distribution_core(problem, a_next, mu_init, dist_tol, dist_max)
    K_s = jnp.sum(mu * problem.a[:, None])
    K_d = problem.prices(r)["K"]
    r_d = _rate_for_capital(problem, K_s)
    return {
        "c": c,
        "a_next": a_next,
        "mu": mu,
        "K_supply": K_s,
        "K_demand": K_d,
        "rate_gap": r - r_d,
        "r_demand": r_d,
        "hh_iterations": hh_k,
        "hh_error": hh_err,
        "dist_iterations": d_k,
        "dist_error": d_err,
    }


def _values_core(problem, r, a_next, tol, max_iter):
    p = problem.prices(r)
    c0 = (1.0 + r) * problem.a[:, None] + p["y"][None, :] - a_next
    V0 = egm.utility(c0, problem.sigma) / (1.0 - problem.beta)
    return egm.policy_value(
        problem.a, problem.P, p["y"], r, problem.beta, problem.sigma, a_next, V0, tol, max_iter
    )


def _min_income(problem, r):
    return jnp.min(problem.prices(r)["y"])


def _initial_consumption(problem, r):
    return egm.initial_consumption(problem.a, problem.prices(r)["y"], r)


def _prices(problem, r):
    return problem.prices(r)


_prices_jit = jax.jit(_prices)
_min_income_jit = jax.jit(_min_income)
_initial_consumption_jit = jax.jit(_initial_consumption)
_household_jit = jax.jit(_household_core)
_distribution_jit = jax.jit(_distribution_core)
_evaluate_jit = jax.jit(_evaluate_core)
_values_jit = jax.jit(_values_core)


def _f64(x):
    return jnp.asarray(x, jnp.float64)


def _i32(x):
    return jnp.asarray(x, jnp.int32)


# --- checks ----------------------------------------------------------------------------------------
def rate_bounds(model_or_problem) -> tuple[float, float]:
    """The open interval (r_lo, r_hi) that contains every stationary equilibrium rate.

    r_lo = -delta (the firm's demand for capital diverges); r_hi = 1/beta - 1 (precautionary saving
    diverges), lowered to the natural borrowing limit's bound when a_min < 0: households must be able
    to repay, min_e y(e) + r a_min > 0.
    """
    problem = _as_problem(model_or_problem)
    with jax.enable_x64(True):
        r_lo = -float(problem.model.delta)
        r_hi = 1.0 / float(problem.beta) - 1.0
        a_min = float(problem.a[0])
        if a_min < 0:

            def slack(r):
                return float(_min_income_jit(problem, _f64(r))) + r * a_min

            if slack(r_hi) <= 0:
                r_nat = optimize.brentq(slack, max(r_lo, 0.0) + 1e-12, r_hi, xtol=1e-14)
                r_hi = r_nat - 1e-9
    return r_lo, r_hi


def _check_rate(problem: SteadyStateProblem, r: float) -> None:
    name = type(problem.model).__name__
    beta, delta = float(problem.beta), float(problem.model.delta)
    if not r > -1.0:
        raise ValueError(f"{name}: r = {r}: need 1 + r > 0.")
    if not r > -delta:
        raise ValueError(
            f"{name}: r = {r} <= -delta = {-delta}: the firm's capital demand is unbounded (its marginal "
            "product net of depreciation cannot be this low). Try r in (-delta, 1/beta - 1)."
        )
    if not beta * (1.0 + r) < 1.0:
        raise ValueError(
            f"{name}: beta (1 + r) = {beta * (1.0 + r):.6g} >= 1 at r = {r}: households' assets grow "
            "without bound, so there is no stationary savings policy or distribution. Fix: take "
            f"r < 1/beta - 1 = {1.0 / beta - 1.0:.6g} (every stationary equilibrium does)."
        )
    a_min = float(problem.a[0])
    with jax.enable_x64(True):
        y_min = float(_min_income_jit(problem, _f64(r)))
    if not y_min + r * a_min > 0:
        raise ValueError(
            f"{name}: at r = {r} the borrowing limit a_min = {a_min} is at or below the natural "
            f"borrowing limit -y_min / r = {-y_min / r if r != 0 else -math.inf:.6g} (lowest income "
            f"y_min = {y_min:.6g}): a household at the limit cannot consume. Fix: raise a_min, or give "
            "every state positive income (e.g. unemployment benefits)."
        )


def _convergence_message(what: str, r: float, k: int, err: float, tol: float, option: str) -> str:
    return (
        f"the {what} did not converge at r = {r:.10g}: {k} iterations, last change {err:.3g} > tol "
        f"{tol:.3g}. Fix: raise {option}, loosen the tolerance, or check the calibration (beta (1 + r) "
        "close to 1 makes both loops slow; a grid too short for the wealthiest households piles mass at "
        "its top)."
    )


# --- public single-step functions ------------------------------------------------------------------
def household(
    model_or_problem, r: float, *, tol: float = 1e-12, max_iter: int = 100_000, c_init=None, throw=True
) -> HouseholdSolution:
    """Solve the household problem by EGM at interest rate r (and the wage the firm pays at r).

    Args:
        model_or_problem: an Aiyagari-family model, or a :class:`SteadyStateProblem` (no recompile).
        r: net interest rate per period; needs beta (1 + r) < 1.
        tol: sup-norm change of the savings policy at which to stop (units of assets).
        max_iter: cap on EGM steps.
        c_init: (n, m) warm start (default: :func:`hetmacro.savings.egm.initial_consumption`).
        throw: raise :class:`ConvergenceError` when the cap is hit (else return the last iterate).
    """
    problem = _as_problem(model_or_problem)
    _check_rate(problem, r)
    with jax.enable_x64(True):
        r_ = _f64(r)
        if c_init is None:
            c_init = _initial_consumption_jit(problem, r_)
        t0 = time.perf_counter()
        c, a_next, y, w, k, err = jax.block_until_ready(
            _household_jit(problem, r_, jnp.asarray(c_init, jnp.float64), _f64(tol), _i32(max_iter))
        )
        seconds = time.perf_counter() - t0
    k, err = int(k), float(err)
    if throw and not err <= tol:
        raise ConvergenceError(_convergence_message("household problem (EGM)", r, k, err, tol, "max_iter"))
    return HouseholdSolution(
        float(r), float(w), np.asarray(c), np.asarray(a_next), np.asarray(y), k, err, seconds
    )


def distribution(
    model_or_problem,
    a_next,
    *,
    tol: float = 1e-13,
    max_iter: int = 2_000_000,
    mu_init=None,
    throw: bool = True,
) -> DistributionSolution:
    """The stationary distribution of a savings policy a'(a, e) by iterating the Game's ``push``.

    Args:
        a_next: (n, m) end-of-period assets (e.g. ``household(...).a_next``).
        tol: stop when one push moves no grid cell's mass by more than ``tol``.
        max_iter: cap on pushes.
        mu_init: (n, m) warm start (default uniform).
        throw: raise :class:`ConvergenceError` when the cap is hit.
    """
    problem = _as_problem(model_or_problem)
    n, m = problem.a.shape[0], problem.e.shape[0]
    with jax.enable_x64(True):
        mu0 = (
            jnp.full((n, m), 1.0 / (n * m), jnp.float64)
            if mu_init is None
            else jnp.asarray(mu_init, jnp.float64)
        )
        t0 = time.perf_counter()
        mu, k, err = jax.block_until_ready(
            _distribution_jit(problem, jnp.asarray(a_next, jnp.float64), mu0, _f64(tol), _i32(max_iter))
        )
        seconds = time.perf_counter() - t0
    k, err = int(k), float(err)
    if throw and not err <= tol:
        raise ConvergenceError(
            _convergence_message("stationary distribution", math.nan, k, err, tol, "max_iter")
        )
    return DistributionSolution(np.asarray(mu), k, err, seconds)


def excess_demand(model_or_problem, r: float, **options) -> float:
    """Excess supply of assets K^s(r) - K^d(r) at rate r (negative: households save too little).

    Options as :func:`solve_stationary` (``hh_tol``, ``dist_tol``, ``max_hh_iter``, ``max_dist_iter``).
    """
    problem = _as_problem(model_or_problem)
    _check_rate(problem, r)
    rec = _Evaluator(problem, **options)(r)
    return float(rec["K_supply"] - rec["K_demand"])


# --- the equilibrium -------------------------------------------------------------------------------
# Far from the root only the sign of G matters: there the inner loops stop at these tolerances, and a
# point is kept loose when |G| (in units of r) exceeds the gate, 10^3 times the error the loose
# tolerances can cause in G.
LOOSE_HH_TOL = 1e-7
LOOSE_DIST_TOL = 1e-9
LOOSE_GATE = 1e-4


class _Evaluator:
    """G(r) with warm starts, a cache of every evaluation and one history row per evaluation."""

    def __init__(
        self,
        problem: SteadyStateProblem,
        hh_tol: float = 1e-12,
        dist_tol: float = 1e-13,
        max_hh_iter: int = 100_000,
        max_dist_iter: int = 2_000_000,
    ):
        self.problem = problem
        self.hh_tol, self.dist_tol = hh_tol, dist_tol
        self.max_hh_iter, self.max_dist_iter = max_hh_iter, max_dist_iter
        self.cache: dict[float, dict] = {}
        self.rows: list[dict] = []
        self.seconds = 0.0

    def controls(self, cap: int | None = None, loose: bool = False):
        """(hh_tol, hh_max, dist_tol, dist_max) as fixed-dtype scalars (one compiled signature)."""
        hh_max = self.max_hh_iter if cap is None else cap
        dist_max = self.max_dist_iter if cap is None else cap
        hh_tol, dist_tol = self.tolerances(loose)
        return _f64(hh_tol), _i32(hh_max), _f64(dist_tol), _i32(dist_max)

    def tolerances(self, loose: bool) -> tuple[float, float]:
        """Inner tolerances: the requested ones, or looser ones (1e-7 in assets, 1e-9 in mass) for
        points far from the root, where only the sign of G and a rough value matter."""
        if loose:
            return max(self.hh_tol, LOOSE_HH_TOL), max(self.dist_tol, LOOSE_DIST_TOL)
        return self.hh_tol, self.dist_tol

    def warm_start(self, r: float):
        problem = self.problem
        if not self.cache:
            n, m = problem.a.shape[0], problem.e.shape[0]
            c0 = _initial_consumption_jit(problem, _f64(r))
            return c0, jnp.full((n, m), 1.0 / (n * m), jnp.float64)
        near = sorted(self.cache, key=lambda x: abs(x - r))
        rec = self.cache[near[0]]
        if len(near) == 1:
            return rec["c"], rec["mu"]
        # Linear extrapolation in r of the consumption policy from the two nearest solves: the
        # warm start's error falls from O(dr) to O(dr^2), which saves EGM steps near the root.
        r0, r1 = near[1], near[0]
        c0, c1 = self.cache[r0]["c"], rec["c"]
        guess = c1 + (r - r1) / (r1 - r0) * (c1 - c0)
        return jnp.where(jnp.all(guess > 0), guess, c1), rec["mu"]

    def __call__(self, r: float, loose: bool = False) -> dict:
        """Solve at r. ``loose``: first with loose inner tolerances, and keep that when |G| exceeds
        LOOSE_GATE (a sign far from the root); else continue to the tight tolerances from there. A
        tight request for a point cached loosely continues it likewise."""
        r = float(r)
        cached = self.cache.get(r)
        if cached is not None and (loose or not cached["loose"]):
            return cached
        if cached is None:
            _check_rate(self.problem, r)
            with jax.enable_x64(True):
                start = self.warm_start(r)
        else:
            start = cached["c"], cached["mu"]
        if loose and cached is None:
            rec = self._solve(r, start, loose=True)
            if abs(rec["rate_gap"]) > LOOSE_GATE:
                return rec
            start = rec["c"], rec["mu"]
        return self._solve(r, start, loose=False)

    def _solve(self, r: float, start, loose: bool) -> dict:
        hh_tol, dist_tol = self.tolerances(loose)
        with jax.enable_x64(True):
            c0, mu0 = start
            t0 = time.perf_counter()
            out = jax.block_until_ready(
                _evaluate_jit(self.problem, _f64(r), c0, mu0, *self.controls(loose=loose))
            )
            seconds = time.perf_counter() - t0
        self.seconds += seconds
        rec = dict(out)
        rec["loose"] = loose
        for key in ("K_supply", "K_demand", "rate_gap", "r_demand", "hh_error", "dist_error"):
            rec[key] = float(rec[key])
        for key in ("hh_iterations", "dist_iterations"):
            rec[key] = int(rec[key])
        if not rec["hh_error"] <= hh_tol:
            raise ConvergenceError(
                _convergence_message(
                    "household problem (EGM)", r, rec["hh_iterations"], rec["hh_error"], hh_tol, "max_hh_iter"
                )
            )
        if not rec["dist_error"] <= dist_tol:
            raise ConvergenceError(
                _convergence_message(
                    "stationary distribution",
                    r,
                    rec["dist_iterations"],
                    rec["dist_error"],
                    dist_tol,
                    "max_dist_iter",
                )
            )
        self.cache[r] = rec
        self.rows.append(
            {
                "evaluation": len(self.rows) + 1,
                "r": r,
                "excess_supply": rec["K_supply"] - rec["K_demand"],
                "rate_gap": rec["rate_gap"],
                "K_supply": rec["K_supply"],
                "K_demand": rec["K_demand"],
                "tolerance": "loose" if loose else "tight",
                "hh_iterations": rec["hh_iterations"],
                "dist_iterations": rec["dist_iterations"],
                "seconds": seconds,
            }
        )
        return rec

    def gap(self, r: float) -> float:
        """G(r) for the root-finder: loose where |G| is large (its sign is all that matters there)."""
        return self(r, loose=True)["rate_gap"]


def _bracket(F: _Evaluator, r_lo: float, r_hi: float, max_evaluations: int):
    """Find lo < hi with G(lo) < 0 < G(hi) inside (r_lo, r_hi), never evaluating the ends.

    A point with G < 0 (supply short) bounds the root below; its cobweb image r^d(K^s) bounds it above.
    Steps toward an unevaluated end shrink the distance to it fourfold, so a root near 1/beta - 1 is
    reached geometrically without ever solving at 1/beta - 1 itself.
    """
    lo = hi = None
    r = r_hi - 0.25 * (r_hi - r_lo)
    width = r_hi - r_lo
    for _ in range(max_evaluations):
        rec = F(r, loose=True)
        g = rec["rate_gap"]
        if g == 0.0:
            return r, r
        if g < 0:
            lo = r
        else:
            hi = r
        if lo is not None and hi is not None:
            return lo, hi
        if hi is None:  # root in (lo, min(r_demand, r_hi))
            r_next = min(rec["r_demand"], r_hi - 0.25 * (r_hi - lo))
            if r_hi - lo < 1e-13 * max(width, 1.0):
                break
        else:  # root in (max(r_demand, r_lo), hi)
            r_next = max(rec["r_demand"], r_lo + 0.25 * (hi - r_lo))
            if hi - r_lo < 1e-13 * max(width, 1.0):
                break
        r = r_next
    model = type(F.problem.model).__name__
    a_max = float(F.problem.a[-1])
    if hi is None:
        raise NoEquilibriumError(
            f"{model}: asset supply stays below the firm's demand for every r up to 1/beta - 1 = {r_hi:.8g} "
            f"(last tried r = {lo:.10g}: supply {F.cache[lo]['K_supply']:.6g} vs demand {F.cache[lo]['K_demand']:.6g}). "
            f"The grid's top a_max = {a_max:g} caps what households can save. Fix: raise a_max (or n_a), "
            "or lower the demand for capital (alpha, Z)."
        )
    raise NoEquilibriumError(
        f"{model}: asset supply exceeds the firm's demand for every r down to -delta = {r_lo:.8g} "
        f"(last tried r = {hi:.10g}). Fix: check the borrowing limit a_min and the income process."
    )


def solve_stationary(
    model,
    *,
    tol: float = 1e-13,
    hh_tol: float = 1e-12,
    dist_tol: float = 1e-13,
    max_hh_iter: int = 100_000,
    max_dist_iter: int = 2_000_000,
    max_evaluations: int = 60,
    values: bool = True,
    verbose: bool = False,
) -> Solution:
    """Stationary equilibrium of an Aiyagari-family model without aggregate risk.

    Household by EGM, distribution by Young's method through the Game's ``push``, market clearing by
    a bracketing root-finder on r over (-delta, 1/beta - 1) that needs no bracket from the user (see
    the module docstring). Everything runs in float64.

    Args:
        model: e.g. ``Aiyagari.from_calibration("aiyagari_1994")`` (build it inside
            ``with jax.enable_x64(True):`` to keep its parameters in float64).
        tol: absolute tolerance on r* (Brent's xtol).
        hh_tol: EGM stops when the savings policy moves by less than this (assets).
        dist_tol: the distribution iteration stops when one push moves less mass than this per cell.
        max_hh_iter, max_dist_iter: iteration caps of the two inner loops.
        max_evaluations: cap on (r -> excess demand) evaluations.
        values: also compute the value function V(a, e) of the equilibrium policy.
        verbose: print one line per evaluation.

    Returns:
        A :class:`~hetmacro.Solution` with ``aggregates`` (r, w, K, L, Y, C, I, T, saving_rate,
        excess_supply, goods_market_residual), ``policy`` (dict of (n, m) arrays: a_next, c,
        consumption_share), ``values`` (V, (n, m)), ``flows`` None, ``info`` (mu, counts, tolerances,
        bracket) and ``history`` (one row per evaluation).

    Raises:
        NoEquilibriumError: no r in the interval clears the market on this grid (says what to change).
        ConvergenceError: an inner loop hit its cap (says which and what to change).
        ValueError / TypeError: the model cannot have a stationary equilibrium (aggregate risk,
            beta >= 1, not a savings economy).
    """
    t_start = time.perf_counter()
    problem = steady_state_problem(model)
    F = _Evaluator(problem, hh_tol, dist_tol, max_hh_iter, max_dist_iter)
    r_lo, r_hi = rate_bounds(problem)
    # Compile the evaluation once (a zero-iteration call), so that "compile" and "solve" time apart.
    with jax.enable_x64(True):
        r_mid = _f64(0.5 * (r_lo + r_hi))
        c0, mu0 = F.warm_start(float(r_mid))
        jax.block_until_ready(_evaluate_jit(problem, r_mid, c0, mu0, *F.controls(0)))
        if values:
            jax.block_until_ready(_values_jit(problem, r_mid, c0, _f64(1.0), _i32(0)))
        jax.block_until_ready((_prices_jit(problem, r_mid), _min_income_jit(problem, r_mid)))
    t_compiled = time.perf_counter()
    if verbose:
        print(f"stationary: r in ({r_lo:.6g}, {r_hi:.8g}); compiled in {t_compiled - t_start:.2f} s")

    lo, hi = _bracket(F, r_lo, r_hi, max_evaluations)
    if lo == hi:
        r_star = lo
    else:
        remaining = max(max_evaluations - len(F.rows), 1)
        try:
            r_star = optimize.brentq(F.gap, lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps, maxiter=remaining)
        except RuntimeError as err:
            raise NoEquilibriumError(
                f"{type(model).__name__}: the root-finder did not converge within max_evaluations = "
                f"{max_evaluations} ({err}). Last bracket [{lo:.12g}, {hi:.12g}]. Fix: raise max_evaluations "
                "or loosen tol."
            ) from err
    rec = F(r_star)
    t_solved = time.perf_counter()
    if verbose:
        for row in F.rows:
            print(
                f"  r = {row['r']:.12f}  K^s - K^d = {row['excess_supply']: .3e}  "
                f"EGM {row['hh_iterations']:6d}  push {row['dist_iterations']:7d}  {row['seconds']:.3f} s"
            )

    with jax.enable_x64(True):
        r_ = jnp.asarray(r_star, jnp.float64)
        p = {k: np.asarray(v) for k, v in _prices_jit(problem, r_).items()}
        V = None
        if values:
            V, _, _ = jax.block_until_ready(
                _values_jit(problem, r_, rec["a_next"], _f64(1e-11), _i32(100_000))
            )
            V = np.asarray(V)
    t_values = time.perf_counter()
    a = np.asarray(problem.a)
    mu, a_next, c_tilde = (np.asarray(rec[k]) for k in ("mu", "a_next", "c"))
    c = c_tilde + p["v"][None, :]
    K, delta = rec["K_supply"], float(problem.model.delta)
    Y = float(p["Y"])
    C = float(np.sum(mu * c))
    cash = (1.0 + r_star) * a[:, None] + p["y"][None, :] - a[0]
    aggregates = {
        "r": r_star,
        "w": float(p["w"]),
        "K": K,
        "K_demand": rec["K_demand"],
        "L": float(p["L"]),
        "Y": Y,
        "C": C,
        "I": delta * K,
        "T": float(p["T"]),
        "saving_rate": delta * K / Y,
        "excess_supply": K - rec["K_demand"],
        "goods_market_residual": Y - C - delta * K,
    }
    history = pd.DataFrame(F.rows).set_index("evaluation")
    info = {
        "mu": mu,
        "mass": float(mu.sum()),
        "top_mass": float(mu[-1].sum()),
        "evaluations": len(F.rows),
        "hh_iterations": int(history["hh_iterations"].sum()),
        "dist_iterations": int(history["dist_iterations"].sum()),
        "hh_iterations_last": rec["hh_iterations"],
        "dist_iterations_last": rec["dist_iterations"],
        "hh_error": rec["hh_error"],
        "dist_error": rec["dist_error"],
        "rate_bounds": (r_lo, r_hi),
        "bracket": (lo, hi),
        "tolerances": {"r": tol, "household": hh_tol, "distribution": dist_tol},
        "dtype": "float64",
    }
    timings = {
        "compile": t_compiled - t_start,
        "solve": t_solved - t_compiled,
        "evaluations": F.seconds,
        "values": t_values - t_solved,
    }
    policy = {"a_next": a_next, "c": c, "consumption_share": c_tilde / cash}
    return Solution(
        method="stationary",
        model=model,
        game=problem.game,
        policy=policy,
        values=V,
        aggregates=aggregates,
        history=history,
        timings=timings,
        info=info,
    )
