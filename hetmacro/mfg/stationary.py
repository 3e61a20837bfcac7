r"""Stationary equilibrium of any game without aggregate risk, on its discrete actions (the generic path).

``method="stationary"`` uses this for a model that writes ``transition`` and ``reward`` itself (not a
:class:`~hetmacro.SavingsEconomy`), and for any model with ``hm.Stationary(algorithm="policy iteration")``.
It reads nothing but the compiled Game and the model's market, so it is slower than the savings
economy's endogenous grid method and exact on the game's own discretisation: households choose among
the game's A actions, next states are split onto the grid by the game's lottery, and the expectation and
the distribution move through the game's ``expect`` and ``push``.

At a trial interest rate r (the market's aggregate state, :mod:`hetmacro.market`):

1. **Households** by policy iteration (Howard 1960) on the infinite-horizon problem against the constant
   aggregate state: Q(s, a) = R(s, a) + beta E[V(s') | s, a] with the game's rewards and ``expect_q``;
   the policy is greedy in Q (ties to the lowest action); its value solves (I - beta E_pi) V = R_pi, a
   Krylov solve with ``expect`` as the matrix-vector product. It stops when no action improves on the
   policy by more than ``hh_tol`` (utility units): the policy is then optimal up to ``hh_tol / (1 - beta)``.
2. **The distribution**: the stationary distribution of that policy through the game's ``push``
   (:func:`hetmacro.markov.stationary_distribution`).
3. **The market**: the same gap and the same rate search as the savings economies' fast path
   (:mod:`hetmacro.equilibrium`), its last steps bisections: on discrete actions the gap jumps where a
   household switches action, and the root is such a jump.

A model without a market (``market()`` None) has no price to search: its stationary equilibrium would
be a fixed point of the distribution itself, which on discrete actions may need mixed policies; this
solver refuses it and says what to declare (a market) or which method to use instead (``dp`` on a finite
horizon).

**Accuracy against the fast path.** With a continuous choice the household's savings are exact; here
they are restricted to the action grid, so the policy differs by up to half an action cell (for the
consumption-share action, s x / 2 in assets at cash on hand x) and r* by about the change of r that
moves aggregate assets by that much: finer action grids converge to the fast path's r*.

References: Howard (1960), *Dynamic Programming and Markov Processes*; Puterman (1994), *Markov Decision
Processes*, ch. 6.
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..equilibrium import ConvergenceError, RateSearch, find_rate
from ..game import Game, compile
from ..market import AssetSupply, Market
from ..markov import bicgstab, stationary_distribution
from ..solution import Solution

__all__ = ["best_response", "solve_stationary_game"]


def _greedy(q):
    A = q.shape[-1]
    return jax.nn.one_hot(jnp.argmax(q, axis=-1), A, dtype=q.dtype)


def best_response(game: Game, agg, V_init, tol, max_iter):
    """The stationary best response to a constant aggregate state, by policy iteration.

    Args:
        game: the compiled game; agg: the aggregate state (read by the rewards and the kernel at every date).
        V_init: (n, m) starting value; tol: stop when max_s [max_a Q(s, a) - Q(s, pi(s))] <= tol.
        max_iter: cap on policy improvements.

    Returns:
        (V (n, m), pi (n, m, A) one-hot, kernel, improvements, last improvement gap).
    """
    z = agg.z
    kern = game.kernel(agg, z)
    R = game.rewards(agg, agg)
    beta = game.beta

    def evaluate(pi, V0):
        R_pi = jnp.sum(pi * R, axis=-1)
        V, _, _ = bicgstab(lambda V: V - beta * game.expect(V, pi, kern), R_pi, V0, 1e-3 * tol, 20_000)
        # A few plain steps make the residual a true one (Krylov iterates may stop on breakdown).
        return jax.lax.fori_loop(0, 3, lambda _, v: R_pi + beta * game.expect(v, pi, kern), V)

    def q_of(V):
        return R + beta * game.expect_q(V, kern)

    def cond(state):
        _, _, gap, k = state
        return (gap > tol) & (k < max_iter)

    def body(state):
        V, _, _, k = state
        pi = _greedy(q_of(V))
        V_new = evaluate(pi, V)
        q = q_of(V_new)
        gap = jnp.max(jnp.max(q, -1) - jnp.sum(pi * q, -1))
        return V_new, pi, gap, k + 1

    pi0 = _greedy(q_of(V_init))
    init = (V_init, pi0, jnp.asarray(jnp.inf, V_init.dtype), jnp.asarray(0, jnp.int32))
    V, pi, gap, k = jax.lax.while_loop(cond, body, init)
    return V, pi, kern, k, gap


def _initial_value(game: Game, agg):
    R = game.rewards(agg, agg)
    return jnp.max(R, axis=-1) / (1.0 - game.beta)


def _stationary_under(game, pi, kern, mu_init, tol, max_iter):
    return stationary_distribution(lambda mu: game.push(mu, pi, kern), mu_init, tol, max_iter)


def _evaluate_core(game: Game, market: Market, r, V_init, mu_init, hh_tol, hh_max, dist_tol, dist_max):
    game_r, agg = market.at_rate(game, r, mu_init)
    V, pi, kern, hh_k, hh_gap = best_response(game_r, agg, V_init, hh_tol, hh_max)
    mu, d_k, d_err = _stationary_under(game_r, pi, kern, mu_init, dist_tol, dist_max)
    # The same rate, the other aggregates read from the policy's own stationary distribution.
    agg_new = market.rebase(game_r, agg, mu)
    A, S = market.excess_supply(game_r, agg_new, mu)
    implied = market.implied_rate(game_r, A, agg_new)
    implied = jnp.asarray(jnp.nan if implied is None else implied, mu.dtype)
    drift = jnp.max(
        jnp.stack(
            [
                jnp.abs(agg_new.values[k] - agg.values[k]) / jnp.maximum(jnp.abs(agg.values[k]), 1.0)
                for k in agg.values
                if jnp.ndim(agg.values[k]) == 0
            ]
        )
    )
    return {
        "V": V,
        "pi": pi,
        "mu": mu,
        "A": A,
        "S": S,
        "implied_rate": implied,
        "gap": market.gap(r, A, S, implied),
        "prices_drift": drift,
        "hh_iterations": hh_k,
        "hh_error": hh_gap,
        "dist_iterations": d_k,
        "dist_error": d_err,
    }


_evaluate_jit = eqx.filter_jit(_evaluate_core)
_at_rate_jit = eqx.filter_jit(lambda market, game, r, mu: market.at_rate(game, r, mu))


def _initial_value_at(game, market, r, mu):
    game_r, agg = market.at_rate(game, r, mu)
    return _initial_value(game_r, agg)


_initial_value_jit = eqx.filter_jit(_initial_value_at)


def _mu0(game: Game):
    """Uniform over the grid times the chain's stationary distribution (the right chain marginal)."""
    pi_e = jnp.asarray(game.chain.stationary(), game.dtype)
    return jnp.full((game.n, 1), 1.0 / game.n, game.dtype) * pi_e[None, :]


class _PolicyIterationSearch(RateSearch):
    """The rate search with policy-iteration households on the game's actions (see :class:`RateSearch`)."""

    def __init__(self, game: Game, market: Market, hh_tol, dist_tol, max_hh_iter, max_dist_iter):
        super().__init__(type(game.model).__name__, market.gap_scale(game))
        self.game, self.market = game, market
        self.hh_tol, self.dist_tol = hh_tol, dist_tol
        self.max_hh_iter, self.max_dist_iter = max_hh_iter, max_dist_iter
        self.mu0 = _mu0(game)

    def check_rate(self, r: float) -> None:
        beta = float(self.game.beta)
        if not beta * (1.0 + r) < 1.0 and isinstance(self.market, AssetSupply):
            raise ValueError(f"{self.model_name}: beta (1 + r) >= 1 at r = {r}: no stationary distribution.")

    def warm_start(self, r: float):
        if not self.cache:
            with jax.enable_x64(self.game.dtype == jnp.float64):
                return _initial_value_jit(self.game, self.market, r, self.mu0), self.mu0
        near = min(self.cache, key=lambda x: abs(x - r))
        return self.cache[near]["V"], self.cache[near]["mu"]

    def solve(self, r: float, start, loose: bool) -> dict:
        dtype = self.game.dtype

        def evaluate(start):
            V0, mu0 = start
            controls = (
                jnp.asarray(self.hh_tol, dtype),
                jnp.asarray(self.max_hh_iter, jnp.int32),
                jnp.asarray(self.dist_tol, dtype),
                jnp.asarray(self.max_dist_iter, jnp.int32),
            )
            return _evaluate_jit(self.game, self.market, jnp.asarray(r, dtype), V0, mu0, *controls)

        with jax.enable_x64(dtype == jnp.float64):
            rec, _ = self.settle(r, evaluate, start, lambda out: (out["V"], out["mu"]))
        if not rec["hh_error"] <= self.hh_tol:
            raise ConvergenceError(
                f"{self.model_name}: policy iteration did not converge at r = {r:.10g} ({rec['hh_iterations']} "
                f"improvements, gap {rec['hh_error']:.3g} > {self.hh_tol:.3g}). Fix: raise max_hh_iter."
            )
        if not rec["dist_error"] <= self.dist_tol:
            raise ConvergenceError(
                f"{self.model_name}: the stationary distribution did not converge at r = {r:.10g} "
                f"({rec['dist_iterations']} pushes, change {rec['dist_error']:.3g}). Fix: raise max_dist_iter."
            )
        rec["start_next"] = (rec["V"], rec["mu"])
        return rec


@eqx.filter_jit
def _tables(game: Game, agg, pi):
    """Expected next grid value, model quantities and expected action under the policy, each (n, m)."""
    lo, hi = game.grid.points[0], game.grid.points[-1]
    model = game.model

    def next_value(s, a):
        x = jax.vmap(lambda e: model.transition(s, a, e, agg))(game.eps)
        return jnp.clip(x.astype(game.dtype), lo, hi) @ game.eps_p

    out = {"a_next": game._over_states_actions(next_value)}
    q = game._over_states_actions(lambda s, a: model.policy_quantities(s, a, agg))
    out.update({k: jnp.asarray(v, game.dtype) for k, v in q.items()})
    out = {k: jnp.sum(pi * v, axis=-1) for k, v in out.items()}
    out[game.actions.name.replace(" ", "_")] = jnp.sum(pi * game.actions.values, axis=-1)
    return out


def solve_stationary_game(model, config) -> Solution:
    """Stationary equilibrium of any game without aggregate risk by policy iteration on its actions.

    Args:
        model: any :class:`~hetmacro.Model` without aggregate risk (its horizon is ignored: the
            stationary equilibrium is of the infinite-horizon economy) that declares its market
            (``market()``): the rate that clears it is searched.
        config: a :class:`hetmacro.Stationary` resolved for "policy iteration" (tol on r*; hh_tol on the
            largest gain of another action, utility units; dist_tol; the caps; verbose).

    Returns:
        A :class:`~hetmacro.Solution` (method ``"stationary"``, ``result.algorithm`` "policy iteration"):
        ``aggregates`` (r, the aggregates and prices at r*, A, S, excess_supply), ``policy`` (dict of
        (n, m) arrays: ``a_next`` the expected next grid value, each policy quantity, the expected action,
        and ``pi`` (n, m, A) the policy), ``values`` V (n, m), ``stationary`` mu (n, m), ``history``.
    """
    t_start = time.perf_counter()
    tol, hh_tol, dist_tol, verbose = config.tol, config.hh_tol, config.dist_tol, config.verbose
    max_hh_iter, max_dist_iter = config.max_hh_iter, config.max_dist_iter
    max_evaluations = config.max_evaluations
    name = type(model).__name__
    with jax.enable_x64(True):
        game = compile(model, dtype=jnp.float64)
        game.check_stationary()
        if not float(game.beta) < 1.0:
            raise ValueError(f"{name}: beta = {float(game.beta)}: a stationary equilibrium needs beta < 1.")
        market = game.model.market()
        if market is None:
            raise ValueError(
                f"{name} declares no market (market() is None): a stationary equilibrium is then a fixed point "
                "of the distribution itself, which this solver does not search. Fix: declare what clears, "
                "def market(self): return hm.CapitalMarket('K') (or hm.AssetSupply(...)), or solve the "
                "finite-horizon game with method='dp'."
            )
        t_compiled = time.perf_counter()
        market.check(game, game.reset(jax.random.PRNGKey(0)))
        F = _PolicyIterationSearch(game, market, hh_tol, dist_tol, max_hh_iter, max_dist_iter)
        r_lo = float(market.lowest_rate(game, _mu0(game)))
        r_hi = 1.0 / float(game.beta) - 1.0
        r_star, bracket = find_rate(F, r_lo, r_hi, tol, max_evaluations, steps="bisect")
        rec = F(r_star)
        mu, V, pi = rec["mu"], rec["V"], rec["pi"]
        solved_game, agg = _at_rate_jit(market, game, jnp.asarray(r_star, jnp.float64), mu)
        tables = {k: np.asarray(v) for k, v in _tables(solved_game, agg, pi).items()}
    t_solved = time.perf_counter()
    tolerances = {"r": tol, "household": hh_tol, "distribution": dist_tol}
    result, history = F.result("policy iteration", market, rec, (r_lo, r_hi), bracket, tolerances)
    if verbose:
        print(history.to_string())
    mu = np.asarray(mu)
    values = {k: float(v) for k, v in agg.values.items() if np.ndim(v) == 0}
    aggregates = {"r": r_star, **{k: v for k, v in values.items() if k != "r"}}
    aggregates.update(A=rec["A"], S=rec["S"], excess_supply=rec["A"] - rec["S"])
    for k, v in tables.items():
        if len(k) == 1 and k.islower() and k.upper() not in aggregates:
            aggregates[k.upper()] = float(np.sum(mu * v))
    policy = {**tables, "pi": np.asarray(pi)}
    return Solution(
        method="stationary",
        model=market.model_at(model, r_star),
        game=solved_game,
        policy=policy,
        values=np.asarray(V),
        aggregates=aggregates,
        history=history,
        timings={"compile": t_compiled - t_start, "solve": t_solved - t_compiled},
        stationary=mu,
        result=result,
    )
