r"""Stationary equilibrium of a savings economy (no aggregate risk): the fast path of ``method="stationary"``.

A stationary recursive competitive equilibrium is an interest rate r*, a savings policy a'(a, e) and a
distribution mu over (a, e) such that

1. the policy solves the household problem at the prices p(r*) the economy's market gives
   (:meth:`hetmacro.market.Market.at_rate`: the model's own ``prices``), by the endogenous grid method
   (:func:`hetmacro.savings.egm.solve_egm`) with the economy's utility, income and borrowing limit;
2. mu is stationary under the policy and the income chain: mu = A(a')^T mu, Young's (2010) transition
   through the compiled Game's ``push`` (:mod:`hetmacro.savings.distribution`), found by
   :func:`hetmacro.markov.stationary_distribution`;
3. the market clears: the households' assets A(r*) = sum mu a equal what the market needs, a firm's
   capital demand K^d(r*) or an asset's supply S (:mod:`hetmacro.market`).

The rate search (:mod:`hetmacro.equilibrium`) needs no bracket: every equilibrium lies in
(r_lo, 1/beta - 1), r_lo the market's lowest rate (-delta for a Cobb–Douglas firm, -1 for an asset in
given supply); as r -> 1/beta - 1 precautionary saving diverges (Chamberlain and Wilson 2000); with
borrowing (a_min < 0) the upper end is lowered to the natural borrowing limit, min_e y(e) + r a_min > 0.
Each evaluation warm-starts the household (extrapolating the consumption policy linearly in r from the
two nearest solves) and the distribution from the nearest rate already solved.

Aggregates other than the market's unknown (the labour input E[e], ...) are read from the distribution;
each evaluation checks that the household's prices at its own stationary distribution equal those it
was solved at (to 1e-9), and solves again from there when they do not.

When no root exists on the grid (supply below demand all the way up to 1/beta - 1 because the top of the
grid caps savings) the solver says so and what to change.

References: Aiyagari (1994), QJE 109(3); Huggett (1993), JEDC 17(5); Carroll (2006), Economics Letters
91(3); Young (2010), JEDC 34(1); Chamberlain and Wilson (2000), RED 3(3).
"""

from __future__ import annotations

import dataclasses
import math
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize

from ..equilibrium import ConvergenceError, NoEquilibriumError, RateSearch, find_rate
from ..game import Game, compile
from ..market import CapitalMarket, Market
from ..markov import stationary_distribution
from ..solution import Solution
from . import egm
from .distribution import push_savings
from .economy import SavingsEconomy, consumption_from
from .utility import Utility

__all__ = [
    "ConvergenceError",
    "DistributionSolution",
    "HouseholdSolution",
    "NoEquilibriumError",
    "SavingsProblem",
    "distribution",
    "excess_supply",
    "household",
    "rate_bounds",
    "savings_problem",
    "solve_stationary",
]


class SavingsProblem(eqx.Module):
    """A savings economy compiled in float64: the Game and the arrays EGM needs.

    Attributes:
        game: the model compiled with ``dtype=float64`` (its ``push`` moves the distribution).
        market: the economy's market (:mod:`hetmacro.market`).
        utility: its utility (:mod:`hetmacro.savings.utility`).
        a: (n,) asset grid; a_min: the borrowing limit (= a[0]).
        e: (m,) income states; P: (m, m) their transition; pi_e: (m,) its stationary distribution.
        beta: the discount factor.
        mu0: (n, m) uniform over assets times pi_e: the first distribution the rate search reads
            aggregates from.
        r_lo: the market's lowest rate (the lower end of the rate search).
    """

    game: Game
    market: Market
    utility: Utility
    a: jnp.ndarray
    a_min: jnp.ndarray
    e: jnp.ndarray
    P: jnp.ndarray
    pi_e: jnp.ndarray
    beta: jnp.ndarray
    mu0: jnp.ndarray
    r_lo: jnp.ndarray  # an array, not static: economies that differ in it share compiled solvers

    @property
    def model(self):
        return self.game.model


@dataclasses.dataclass
class HouseholdSolution:
    """A household solve at one interest rate.

    Attributes: r; prices (the aggregate state's values at r: w, ...); c (n, m) consumption (the
    utility's argument); a_next (n, m) end-of-period assets; y (m,) non-asset income; Va (n, m) the
    marginal value of assets; iterations; error (estimated distance of a' to the fixed point, in assets);
    seconds (wall, compiled).
    """

    r: float
    prices: dict
    c: np.ndarray
    a_next: np.ndarray
    y: np.ndarray
    Va: np.ndarray
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


# --- the problem -------------------------------------------------------------------------------------------
def savings_problem(model) -> SavingsProblem:
    """Compile a savings economy in float64 and collect what the stationary solver needs.

    Raises:
        TypeError: the model is not a :class:`~hetmacro.savings.SavingsEconomy`.
        ValueError: it has aggregate risk, or beta >= 1.
    """
    name = type(model).__name__
    if not isinstance(model, SavingsEconomy):
        raise TypeError(
            f"{name} is not a hetmacro.SavingsEconomy: the EGM path needs the household's utility, "
            "income and borrowing limit declared. Use hm.Stationary(algorithm='policy iteration') (or "
            "method='stationary', which picks it) for a model that writes transition and reward itself."
        )
    with jax.enable_x64(True):
        game = compile(model, dtype=jnp.float64)
        game.check_stationary()
        beta = float(game.beta)
        if not beta < 1.0:
            raise ValueError(
                f"{name}: beta = {beta}: a stationary equilibrium needs beta < 1 (values and the "
                "bound 1/beta - 1 on r are infinite otherwise). Fix: lower beta."
            )
        chain = game.chain
        pi_e = jnp.asarray(chain.stationary(), jnp.float64)
        n = game.n
        market = game.model.market()
        mu0 = jnp.full((n, 1), 1.0 / n, jnp.float64) * pi_e[None, :]
        return SavingsProblem(
            game=game,
            market=market,
            utility=game.model.utility(),
            a=game.grid.points,
            a_min=jnp.asarray(game.model.borrowing_limit(), jnp.float64),
            e=chain.values,
            P=chain.P,
            pi_e=pi_e,
            beta=game.beta,
            mu0=mu0,
            r_lo=jnp.asarray(float(market.lowest_rate(game, mu0)), jnp.float64),
        )


def _as_problem(model_or_problem) -> SavingsProblem:
    if isinstance(model_or_problem, SavingsProblem):
        return model_or_problem
    return savings_problem(model_or_problem)


# --- compiled cores ------------------------------------------------------------------------------------------
def _income(game: Game, values):
    """y(e) (m,): the economy's non-asset income in every income state at the prices ``values``."""
    return jax.vmap(lambda e: game.model.income(e, values))(game.chain.values)


def _prices_at(problem: SavingsProblem, r, mu):
    """(game, aggregate state, income y (m,)) at trial rate r, other aggregates read from mu."""
    game_r, agg = problem.market.at_rate(problem.game, r, mu)
    return game_r, agg, _income(game_r, agg.values)


def _household_core(problem: SavingsProblem, r, mu, c_init, cold, tol, max_iter):
    """EGM at trial rate r from the consumption policy c_init, or (``cold``) from eating income plus the
    return on wealth."""
    game_r, agg, y = _prices_at(problem, r, mu)
    r_p = agg.values[problem.market.rate]
    c0 = jnp.where(cold, egm.initial_consumption(problem.a, problem.a_min, y, r_p), c_init)
    Va, c, a_next, k, err = egm.solve_egm(
        problem.utility,
        problem.a,
        problem.a_min,
        problem.P,
        y,
        r_p,
        problem.beta,
        egm.marginal_value(problem.utility, c0, r_p),
        tol,
        max_iter,
    )
    return game_r, agg, y, Va, c, a_next, k, err


def _distribution_core(problem: SavingsProblem, a_next, mu_init, tol, max_iter):
    return stationary_distribution(lambda mu: push_savings(problem.game, mu, a_next), mu_init, tol, max_iter)


def _evaluate_core(problem, r, c_init, cold, mu_init, hh_tol, hh_max, dist_tol, dist_max):
    game_r, agg, y, Va, c, a_next, hh_k, hh_err = _household_core(
        problem, r, mu_init, c_init, cold, hh_tol, hh_max
    )
    mu, d_k, d_err = _distribution_core(problem, a_next, mu_init, dist_tol, dist_max)
    market = problem.market
    # The same rate, the other aggregates read from the policy's own stationary distribution: the prices
    # households face there equal those they were solved at unless such an aggregate depends on assets.
    agg_new = market.rebase(game_r, agg, mu)
    y_new = _income(game_r, agg_new.values)
    A, S = market.excess_supply(game_r, agg_new, mu)
    implied = market.implied_rate(game_r, A, agg_new)
    implied = jnp.asarray(jnp.nan if implied is None else implied, jnp.float64)
    goods = jax.vmap(
        lambda c_j, e: game_r.model.consumption(c_j, e, agg_new.values), in_axes=(1, 0), out_axes=1
    )(c, problem.e)
    return {
        "Va": Va,
        "c": c,
        "c_goods": goods,
        "a_next": a_next,
        "mu": mu,
        "y": y_new,
        "values": {k: v for k, v in agg_new.values.items() if jnp.ndim(v) == 0},
        "A": A,
        "S": S,
        "implied_rate": implied,
        "gap": market.gap(r, A, S, implied),
        "prices_drift": jnp.max(jnp.abs(y_new - y) / jnp.maximum(jnp.abs(y), 1.0)),
        "hh_iterations": hh_k,
        "hh_error": hh_err,
        "dist_iterations": d_k,
        "dist_error": d_err,
    }


def _values_core(problem, y, r, a_next, tol, max_iter):
    c0 = consumption_from(problem.a[:, None], a_next, y[None, :], r)
    V0 = problem.utility.u(c0) / (1.0 - problem.beta)
    return egm.policy_value(
        problem.utility, problem.a, problem.P, y, r, problem.beta, a_next, V0, tol, max_iter
    )


def _min_income(problem, r):
    return jnp.min(_prices_at(problem, r, problem.mu0)[2])


def _household_public(problem, r, mu, c_init, cold, tol, max_iter):
    _, agg, y, Va, c, a_next, k, err = _household_core(problem, r, mu, c_init, cold, tol, max_iter)
    return Va, c, a_next, y, {k_: v for k_, v in agg.values.items() if jnp.ndim(v) == 0}, k, err


_min_income_jit = jax.jit(_min_income)
_household_jit = jax.jit(_household_public)
_distribution_jit = jax.jit(_distribution_core)
_evaluate_jit = jax.jit(_evaluate_core)
_values_jit = jax.jit(_values_core)


def _declared_order(problem: SavingsProblem) -> list:
    """The model's aggregates and prices in the order it declares them (a trace, no computation):
    compiled functions return dicts with sorted keys, tables keep the model's order."""
    names: list = []
    with jax.enable_x64(True):
        jax.eval_shape(
            lambda pb: names.extend(_prices_at(pb, jnp.float64(0.0), pb.mu0)[1].values) or 0, problem
        )
    return names


def _f64(x):
    return jnp.asarray(x, jnp.float64)


def _i32(x):
    return jnp.asarray(x, jnp.int32)


# --- checks ----------------------------------------------------------------------------------------
def rate_bounds(model_or_problem) -> tuple[float, float]:
    """The open interval (r_lo, r_hi) that contains every stationary equilibrium rate.

    r_lo is the market's lowest rate (-delta for a Cobb–Douglas firm: its capital demand diverges);
    r_hi = 1/beta - 1 (precautionary saving diverges), lowered to the natural borrowing limit's bound
    when a_min < 0: households at the limit must be able to repay, min_e y(e) + r a_min > 0.
    """
    problem = _as_problem(model_or_problem)
    r_lo = float(problem.r_lo)
    r_hi = 1.0 / float(problem.beta) - 1.0
    a_min = float(problem.a_min)
    if a_min < 0:

        def slack(r):
            with jax.enable_x64(True):
                return float(_min_income_jit(problem, _f64(r))) + r * a_min

        if slack(r_hi) <= 0:
            r_nat = optimize.brentq(slack, max(r_lo, 0.0) + 1e-12, r_hi, xtol=1e-14)
            r_hi = r_nat - 1e-9
    return r_lo, r_hi


def _name_natural_limit(F: RateSearch, problem: SavingsProblem, r_hi: float) -> None:
    """Where the natural borrowing limit sets the search's upper end, say so (with a_min and the limit's
    value) in the error raised when no rate below it clears the market."""
    a_min, beta = float(problem.a_min), float(problem.beta)
    if not (a_min < 0 and r_hi < 1.0 / beta - 1.0 - 1e-8):
        return
    with jax.enable_x64(True):
        y_min = float(_min_income_jit(problem, _f64(r_hi)))
    r_top = 1.0 / beta - 1.0
    with jax.enable_x64(True):
        y_top = float(_min_income_jit(problem, _f64(r_top)))
    F.upper_end = (
        f"the natural borrowing limit: above r = {r_hi:.6g} a household at the borrowing limit a_min = {a_min:g} "
        f"cannot repay its debt (lowest income {y_min:.4g} <= -r a_min)"
    )
    F.upper_fix = (
        f"The borrowing limit a_min = {a_min:g} is so loose that no rate at which households can repay clears "
        f"the market. Fix: raise a_min above the natural limit at 1/beta - 1, -y_min / r = {-y_top / r_top:.6g} "
        "(tighter still to leave room), or raise the grid's top (a_max)."
    )


def check_rate(problem: SavingsProblem, r: float) -> None:
    """Refuse a rate at which the household problem has no stationary solution, saying why (the natural
    borrowing limit, which needs the income at r, is checked with it: :func:`check_natural_limit`)."""
    name = type(problem.model).__name__
    beta = float(problem.beta)
    if not r > -1.0:
        raise ValueError(f"{name}: r = {r}: need 1 + r > 0.")
    if not r > float(problem.r_lo):
        raise ValueError(
            f"{name}: r = {r} is at or below the market's lowest rate {float(problem.r_lo):.8g} (for a firm: -delta, "
            "where its demand for capital is unbounded). Try r in the interval rate_bounds() gives."
        )
    if not beta * (1.0 + r) < 1.0:
        raise ValueError(
            f"{name}: beta (1 + r) = {beta * (1.0 + r):.6g} >= 1 at r = {r}: households' assets grow "
            "without bound, so there is no stationary savings policy or distribution. Fix: take "
            f"r < 1/beta - 1 = {1.0 / beta - 1.0:.6g} (every stationary equilibrium does)."
        )


def check_natural_limit(problem: SavingsProblem, r: float, y) -> None:
    """Refuse a borrowing limit at or below the natural one at r: min_e y(e) + r a_min must be positive."""
    a_min, y_min = float(problem.a_min), float(np.min(np.asarray(y)))
    if not y_min + r * a_min > 0:
        raise ValueError(
            f"{type(problem.model).__name__}: at r = {r} the borrowing limit a_min = {a_min} is at or below the "
            f"natural borrowing limit -y_min / r = {-y_min / r if r != 0 else -math.inf:.6g} (lowest income "
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
    model_or_problem,
    r: float,
    *,
    tol: float = 1e-12,
    max_iter: int = 100_000,
    mu=None,
    c_init=None,
    throw=True,
) -> HouseholdSolution:
    """Solve the household problem by EGM at interest rate r (and the other prices the market gives at r).

    Args:
        model_or_problem: a savings economy, or a :class:`SavingsProblem` (no recompile).
        r: net interest rate per period; needs beta (1 + r) < 1.
        tol: estimated distance of the savings policy to its fixed point at which to stop (assets).
        max_iter: cap on EGM steps.
        mu: (n, m) the distribution the other aggregates are read from (default: uniform assets times
            the chain's stationary distribution).
        c_init: (n, m) warm start, a consumption policy (default:
            :func:`hetmacro.savings.egm.initial_consumption`).
        throw: raise :class:`ConvergenceError` when the cap is hit (else return the last iterate).
    """
    problem = _as_problem(model_or_problem)
    check_rate(problem, r)
    with jax.enable_x64(True):
        r_ = _f64(r)
        mu = problem.mu0 if mu is None else jnp.asarray(mu, jnp.float64)
        cold = c_init is None
        c0 = jnp.zeros_like(problem.mu0) if cold else jnp.asarray(c_init, jnp.float64)
        t0 = time.perf_counter()
        Va, c, a_next, y, values, k, err = jax.block_until_ready(
            _household_jit(problem, r_, mu, c0, jnp.asarray(cold), _f64(tol), _i32(max_iter))
        )
        seconds = time.perf_counter() - t0
    k, err = int(k), float(err)
    check_natural_limit(problem, r, y)
    if throw and not err <= tol:
        raise ConvergenceError(_convergence_message("household problem (EGM)", r, k, err, tol, "max_iter"))
    prices = {k_: float(v) for k_, v in values.items() if np.ndim(v) == 0}
    return HouseholdSolution(
        float(r), prices, np.asarray(c), np.asarray(a_next), np.asarray(y), np.asarray(Va), k, err, seconds
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
    """The stationary distribution of a savings policy a'(a, e) through the Game's ``push``.

    Args:
        a_next: (n, m) end-of-period assets (e.g. ``household(...).a_next``).
        tol: stop when one push moves no grid cell's mass by more than ``tol``.
        max_iter: cap on pushes.
        mu_init: (n, m) warm start (default uniform assets times the chain's stationary distribution).
        throw: raise :class:`ConvergenceError` when the cap is hit.
    """
    problem = _as_problem(model_or_problem)
    with jax.enable_x64(True):
        mu0 = problem.mu0 if mu_init is None else jnp.asarray(mu_init, jnp.float64)
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


def excess_supply(model_or_problem, r: float, **options) -> float:
    """The market's excess supply A(r) - S(r) at rate r (negative: households hold too little).

    Options as :func:`solve_stationary` (``hh_tol``, ``dist_tol``, ``max_hh_iter``, ``max_dist_iter``).
    """
    problem = _as_problem(model_or_problem)
    rec = _EGMSearch(problem, **options)(r)
    return float(rec["A"] - rec["S"])


# --- the equilibrium -------------------------------------------------------------------------------
# Far from the root only the sign of G matters: there the inner loops stop at these tolerances.
LOOSE_HH_TOL = 1e-7
LOOSE_DIST_TOL = 1e-9


class _EGMSearch(RateSearch):
    """The rate search with EGM households and Young's distribution (see :class:`RateSearch`)."""

    def __init__(
        self,
        problem: SavingsProblem,
        hh_tol: float = 1e-12,
        dist_tol: float = 1e-13,
        max_hh_iter: int = 100_000,
        max_dist_iter: int = 2_000_000,
    ):
        super().__init__(type(problem.model).__name__, problem.market.gap_scale(problem.game))
        self.problem = problem
        self.hh_tol, self.dist_tol = hh_tol, dist_tol
        self.max_hh_iter, self.max_dist_iter = max_hh_iter, max_dist_iter

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

    def check_rate(self, r: float) -> None:
        check_rate(self.problem, r)

    def warm_start(self, r: float):
        """(c, mu, cold): the nearest rate's solution, its consumption extrapolated linearly in r from the
        two nearest (the warm start's error falls from O(dr) to O(dr^2), which saves EGM steps near the
        root); cold (the initial guess) for the first rate."""
        problem = self.problem
        if not self.cache:
            return jnp.zeros_like(problem.mu0), problem.mu0, True
        near = sorted(self.cache, key=lambda x: abs(x - r))
        rec = self.cache[near[0]]
        if len(near) == 1:
            return rec["c"], rec["mu"], False
        r0, r1 = near[1], near[0]
        c0, c1 = np.asarray(self.cache[r0]["c"]), np.asarray(rec["c"])
        guess = c1 + (r - r1) / (r1 - r0) * (c1 - c0)
        return (guess if np.all(guess > 0) else c1), rec["mu"], False

    def solve(self, r: float, start, loose: bool) -> dict:
        hh_tol, dist_tol = self.tolerances(loose)

        def evaluate(start):
            c0, mu0, cold = start
            controls = self.controls(loose=loose)
            return _evaluate_jit(self.problem, _f64(r), _f64(c0), jnp.asarray(cold), mu0, *controls)

        with jax.enable_x64(True):
            rec, _ = self.settle(r, evaluate, start, lambda out: (out["c"], out["mu"], False))
        check_natural_limit(self.problem, r, rec["y"])
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
        rec["start_next"] = (rec["c"], rec["mu"], False)
        return rec


def solve_stationary(model, config) -> Solution:
    """Stationary equilibrium of a savings economy without aggregate risk, by EGM (see the module docstring).

    Args:
        model: a :class:`~hetmacro.savings.SavingsEconomy`, e.g. ``Aiyagari.from_calibration(
            "aiyagari_1994")`` (build it inside ``with jax.enable_x64(True):`` to keep its parameters in
            float64). Everything runs in float64.
        config: a :class:`hetmacro.Stationary` resolved for "egm" (its options: tol on r*, hh_tol on the
            savings policy in assets, dist_tol, max_hh_iter, max_dist_iter, max_evaluations, values,
            verbose).

    Returns:
        A :class:`~hetmacro.Solution`: ``aggregates`` (r, every aggregate and price the economy's market
        gives at r*, A the households' assets, S what they clear against, C, excess_supply, and with a
        depreciating capital stock I, saving_rate, goods_market_residual), ``policy`` (dict of (n, m)
        arrays: a_next, c, consumption_share), ``values`` (V, (n, m)), ``stationary`` (mu (n, m)),
        ``result`` (:class:`StationaryResult`) and ``history`` (one row per evaluation). For an asset in
        given supply the Solution's ``model`` is the economy at the equilibrium rate.

    Raises:
        NoEquilibriumError: no r in the interval clears the market on this grid (says what to change).
        ConvergenceError: an inner loop hit its cap (says which and what to change).
        ValueError / TypeError: the model cannot have a stationary equilibrium (aggregate risk,
            beta >= 1, not a savings economy).
    """
    t_start = time.perf_counter()
    tol, hh_tol, dist_tol = config.tol, config.hh_tol, config.dist_tol
    values, verbose, max_evaluations = config.values, config.verbose, config.max_evaluations
    problem = savings_problem(model)
    F = _EGMSearch(problem, hh_tol, dist_tol, config.max_hh_iter, config.max_dist_iter)
    r_lo, r_hi = rate_bounds(problem)
    _name_natural_limit(F, problem, r_hi)
    # Compile the evaluation once (a zero-iteration call), so that "compile" and "solve" time apart.
    with jax.enable_x64(True):
        r_mid = _f64(r_hi - 0.25 * (r_hi - r_lo))
        zero = jnp.zeros_like(problem.mu0)
        jax.block_until_ready(
            _evaluate_jit(problem, r_mid, zero, jnp.asarray(True), problem.mu0, *F.controls(0))
        )
        if values:
            y0 = jnp.ones_like(problem.e)
            jax.block_until_ready(_values_jit(problem, y0, r_mid, problem.mu0, _f64(1.0), _i32(0)))
    t_compiled = time.perf_counter()
    if verbose:
        print(f"stationary: r in ({r_lo:.6g}, {r_hi:.8g}); compiled in {t_compiled - t_start:.2f} s")

    r_star, bracket = find_rate(F, r_lo, r_hi, tol, max_evaluations)
    rec = F(r_star)
    t_solved = time.perf_counter()
    if verbose:
        for row in F.rows:
            print(
                f"  r = {row['r']:.12f}  A - S = {row['excess_supply']: .3e}  "
                f"EGM {row['hh_iterations']:6d}  push {row['dist_iterations']:7d}  {row['seconds']:.3f} s"
            )
    p = {k: float(v) for k, v in rec["values"].items()}
    y = np.asarray(rec["y"])
    V = None
    if values:
        with jax.enable_x64(True):
            V, _, _ = jax.block_until_ready(
                _values_jit(
                    problem, rec["y"], _f64(p[problem.market.rate]), rec["a_next"], _f64(1e-11), _i32(100_000)
                )
            )
        V = np.asarray(V)
    with jax.enable_x64(True):
        game_star = problem.market.game_at(problem.game, r_star)
    t_values = time.perf_counter()
    a = np.asarray(problem.a)
    mu = np.asarray(rec["mu"])
    a_next, c_util, c = np.asarray(rec["a_next"]), np.asarray(rec["c"]), np.asarray(rec["c_goods"])
    cash = np.asarray(consumption_from(a[:, None], float(problem.a_min), y[None, :], p[problem.market.rate]))
    aggregates = {"r": r_star, **{k: p[k] for k in _declared_order(problem) if k in p and k != "r"}}
    aggregates.update(A=rec["A"], S=rec["S"], C=float(np.sum(mu * c)), excess_supply=rec["A"] - rec["S"])
    delta = game_star.model.depreciation()
    if delta is not None and isinstance(problem.market, CapitalMarket):
        K, Y, delta = rec["A"], p.get("Y"), float(delta)
        aggregates["I"] = delta * K
        if Y is not None:
            aggregates["saving_rate"] = delta * K / Y
            aggregates["goods_market_residual"] = Y - aggregates["C"] - delta * K
    tolerances = {"r": tol, "household": hh_tol, "distribution": dist_tol}
    result, history = F.result("egm", problem.market, rec, (r_lo, r_hi), bracket, tolerances)
    timings = {
        "compile": t_compiled - t_start,
        "solve": t_solved - t_compiled,
        "evaluations": F.seconds,
        "values": t_values - t_solved,
    }
    policy = {"a_next": a_next, "c": c, "consumption_share": c_util / cash}
    return Solution(
        method="stationary",
        model=problem.market.model_at(model, r_star),
        game=game_star,
        policy=policy,
        values=V,
        aggregates=aggregates,
        history=history,
        timings=timings,
        stationary=mu,
        result=result,
    )
