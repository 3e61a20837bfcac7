"""Exact dynamic-programming tools on a compiled game.

- :func:`policy_value`: the value of a policy table against a given mean-field flow,
  V_t(s) = sum_a pi_t(a|s) Q_t(s, a), Q_t = R_t + beta E[V_{t+1} | s, a].
- :func:`best_response`: V*_t(s) = max_a Q*_t(s, a) by backward induction against a given flow;
  Q is computed once per date (not once per action).
- :func:`exploitability`: sum_s mu_0(s) [V*_0(s) - V^pi_0(s)] on the flow the policy itself
  generates. With common noise the best response is computed per sampled path, so it sees that
  path's future noise: a *clairvoyant upper bound* on the true (non-anticipative) exploitability.
  Without common noise it is exact.
- :func:`solve_equilibrium` (``hm.solve(model, method="dp")``): the exact Nash equilibrium of a
  finite-horizon game without common noise, by fictitious play with exact best responses
  (or plain best-response iteration), stopping when exploitability falls below ``tol``.

Reference: Perrin, Perolat, Lauriere, Geist, Elie, Pietquin (2020), "Fictitious play for mean field
games: continuous time analysis and applications", NeurIPS.
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..game import Flow, Game, compile
from ..results import DPResult
from ..solution import Solution

__all__ = ["best_response", "exploitability", "policy_value", "solve_equilibrium"]


def _backward(game: Game, flow: Flow, pi=None):
    """Backward induction along one flow. Returns (V (T+1, n, m), policy (T, n, m, A))."""
    aggs = flow.aggs
    now = jax.tree.map(lambda x: x[:-1], aggs)
    nxt = jax.tree.map(lambda x: x[1:], aggs)
    v_T = game.terminal_value(jax.tree.map(lambda x: x[-1], aggs))

    def body(v_next, xs):
        agg, agg_next, pi_t = xs
        q = game.q_values(agg, agg_next, v_next)
        if pi_t is None:
            v = q.max(axis=-1)
            return v, (v, jax.nn.one_hot(jnp.argmax(q, axis=-1), game.A, dtype=q.dtype))
        v = jnp.sum(pi_t * q, axis=-1)
        return v, (v, pi_t)

    _, (vs, pis) = jax.lax.scan(body, v_T, (now, nxt, pi), reverse=True)
    return jnp.concatenate([vs, v_T[None]]), pis


def policy_value(game: Game, flow: Flow, pi=None):
    """V^pi_t(s), shape (T + 1, n, m), of policy ``pi`` (T, n, m, A) (default: the flow's own)."""
    return _backward(game, flow, flow.pi if pi is None else pi)[0]


def best_response(game: Game, flow: Flow):
    """Best response to a mean-field flow: (V* (T + 1, n, m), pi* (T, n, m, A) one-hot)."""
    return _backward(game, flow, None)


def exploitability(game: Game, flow: Flow):
    """mu_0-weighted gain of the best response over the flow's own policy, on that flow.

    Returns (exploitability, policy return, best-response return), each in utility units of one
    household at date 0. Clairvoyant (an upper bound) when the flow is one path of a game with
    common noise; exact otherwise. vmap over a leading path axis for several paths.
    """
    v_pi = policy_value(game, flow)[0]
    v_br = best_response(game, flow)[0][0]
    mu0 = flow.aggs.mu[0]
    ret_pi, ret_br = jnp.sum(mu0 * v_pi), jnp.sum(mu0 * v_br)
    return ret_br - ret_pi, ret_pi, ret_br


@eqx.filter_jit
def _iterate(game: Game, key, pi, weight):
    """One fictitious-play step: flow of pi, its best response, exploitability, averaged policy."""
    flow = game.rollout_table(key, pi)
    expl, ret_pi, _ = exploitability(game, flow)
    _, br = best_response(game, flow)
    # The best response's own flow, so that the averaged policy generates the averaged flow.
    br_flow = game.rollout_table(key, br)
    mu_old = flow.aggs.mu[:-1, :, :, None]
    mu_br = br_flow.aggs.mu[:-1, :, :, None]
    num = (1 - weight) * mu_old * pi + weight * mu_br * br
    den = (1 - weight) * mu_old + weight * mu_br
    # Where neither flow has mass the policy is irrelevant for the flow: take the best response.
    new_pi = jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), br)
    return new_pi, expl, ret_pi, flow


def solve_equilibrium(model, config) -> Solution:
    """Exact equilibrium of a finite-horizon game without common noise.

    Best-response iteration (``scheme="best response"``): pi^{k+1} = BR(mu^{pi_k}), which reaches
    an exact fixed point in few iterations when it converges; fictitious play
    (``scheme="fictitious play"``): pi^{k+1} generates the flow
    mu^{k+1} = (1 - 1/(j+2)) mu^k + 1/(j+2) mu^{BR_k}, which converges (at rate O(1/j)) in
    monotone games where best responses cycle. ``"auto"`` (default) iterates best responses and
    switches to fictitious play as soon as a best response repeats an earlier one (a cycle). Stops when the exploitability of pi^k (exact, in utility units) is below ``tol``.

    Args:
        model: a model with ``common_noise().deterministic`` and a finite horizon.
        config: a :class:`hetmacro.DP` (tol: exploitability tolerance, utility units per household;
            max_iter; scheme; precision "float64" (scoped x64) or "float32"; seed; verbose).

    Returns:
        Solution with policy (T, n, m, A), flows (one path), values V (T + 1, n, m), exploitability
        (kind "exact"), history (iteration, exploitability, policy return, seconds).
    """
    tol, max_iter, scheme, precision = config.tol, config.max_iter, config.scheme, config.precision
    seed, verbose = config.seed, config.verbose
    with jax.enable_x64(precision == "float64"):
        t0 = time.perf_counter()
        game = compile(model)
        if game.T is None:
            raise ValueError(
                f"{type(model).__name__} has an infinite horizon: method='dp' solves finite-horizon games. "
                "Use method='stationary' for a stationary equilibrium, or set a finite horizon T."
            )
        if not game.noise.deterministic:
            raise ValueError(
                f"{type(model).__name__} has common noise ({type(game.noise).__name__}): method='dp' is exact only "
                "without it. Switch the aggregate risk off in the model (e.g. aggregate_risk=False, "
                "closure=False, a fixed bar) or use method='rspg'."
            )
        key = jax.random.PRNGKey(seed)
        pi = jnp.full((game.T, game.n, game.m, game.A), 1.0 / game.A, game.dtype)
        rows, expl, seen = [], np.inf, set()
        fp_start = 0 if scheme == "fictitious play" else None
        t_start = time.perf_counter()
        for k in range(max_iter):
            weight = 1.0 if fp_start is None else 1.0 / (k - fp_start + 2)
            new_pi, expl_k, ret_k, flow = _iterate(game, key, pi, jnp.asarray(weight, game.dtype))
            expl = float(expl_k)
            if not np.isfinite(expl):
                raise FloatingPointError(
                    f"exploitability is {expl} at iteration {k}: the game produced non-finite rewards or values."
                )
            rows.append(
                {
                    "iteration": k,
                    "exploitability": expl,
                    "return": float(ret_k),
                    "scheme": "best response" if fp_start is None else "fictitious play",
                    "seconds": time.perf_counter() - t_start,
                }
            )
            if verbose:
                print(f"dp iteration {k}: exploitability {expl:.3e}")
            if expl < tol:
                break
            if scheme == "auto" and fp_start is None:
                digest = np.asarray(jnp.argmax(new_pi, axis=-1)).tobytes()
                if digest in seen:
                    fp_start = k + 1  # best responses cycle: average from here on
                seen.add(digest)
            pi = new_pi
        values = policy_value(game, flow)
        solve_time = time.perf_counter() - t_start
    return Solution(
        method="dp",
        model=model,
        game=game,
        policy=np.asarray(pi),
        flows=jax.tree.map(lambda x: np.asarray(x)[None], flow),
        values=np.asarray(values),
        exploitability=expl,
        exploitability_kind="exact (no common noise)",
        history=pd.DataFrame(rows),
        timings={"total": time.perf_counter() - t0, "iterations": solve_time},
        result=DPResult(
            converged=bool(expl < tol),
            iterations=len(rows),
            tol=tol,
            scheme=scheme,
            precision=precision,
            seed=seed,
        ),
    )
