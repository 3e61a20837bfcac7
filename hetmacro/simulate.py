"""Sample-based simulation of N households on a compiled :class:`~hetmacro.game.Game`.

The analytic ``Game.push`` moves the whole histogram; this module moves N individual households
with sampled actions and shocks, on the same kernel, so the two can be checked against each other
(and model-free baselines can be trained on a particle population). Each date t, for every
household in grid/chain state (i, j):

1. an action a ~ pi_t(. | i, j);
2. a shock atom k ~ p (the model's ``shocks()`` probabilities);
3. the next grid point from the kernel's lottery: i' = lo with probability 1 - w, lo + 1 with
   probability w, where (lo, w) = ``kernel.i[i, j, a, k]``, ``kernel.t[i, j, a, k]``;
4. the chain state j' ~ P[j, .] with P the kernel's chain matrix for (z_t, z_{t+1}).

Households therefore always stand on grid points and their empirical histogram is an (n, m)
array, fed to ``Game.aggregate_state`` for the aggregates and prices when no flow is imposed.
Given the aggregate path, households are independent Markov chains with the kernel of ``push``,
so the histogram at date t is Multinomial(N, mu_t) / N with mu_t the pushed distribution: this is
the basis of the statistical cross-check in the tests.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .game import Flow, Game
from .model import AggState

__all__ = ["AgentSimulation", "draw_next", "simulate_agents"]

# fold_in constant for the households' random stream. Large, so that it never coincides with the
# counters jax.random.split uses for the common-noise keys (which follow game.rollout exactly).
_AGENT_STREAM = 0x5EEDA9E7


class AgentSimulation(eqx.Module):
    """N simulated households along one common-noise path, dates 0..T.

    Attributes:
        i: (T + 1, N) int32, each household's grid index at dates 0..T.
        j: (T + 1, N) int32, each household's chain index at dates 0..T.
        a: (T, N) int32, the action index each household took at dates 0..T-1.
        hist: (T + 1, n, m), the empirical histogram (share of households on each state).
        aggs: :class:`~hetmacro.model.AggState` with a leading time axis of length T + 1: the
            aggregate states the households faced (the imposed flow's, or those computed from
            ``hist`` and the sampled common noise).
    """

    i: jnp.ndarray
    j: jnp.ndarray
    a: jnp.ndarray
    hist: jnp.ndarray
    aggs: AggState


def simulate_agents(game: Game, key, pi_table, n_agents: int, flow: Flow | None = None) -> AgentSimulation:
    """Simulate ``n_agents`` households drawn from mu_0 under a policy table.

    Args:
        game: the compiled game.
        key: PRNG key. Without ``flow``, the common-noise path z_0..z_T is the one
            ``game.rollout(key, ...)`` draws with the same key (so the particle flow can be compared
            with the analytic flow path by path); the households' draws use a separate stream.
        pi_table: (T, n, m, A) policy per date, or (n, m, A) for every date of the game's horizon.
            Entries must be finite and non-negative (checked under jit); rows need not be exactly
            normalised (each row is sampled in proportion to its entries).
        n_agents: N, the number of households (static: a new N recompiles).
        flow: if given, the households face this flow's aggregate states (prices, z) at dates
            0..T instead of their own histogram's, and are drawn from the flow's mu_0: with
            ``flow = game.rollout_table(key, pi_table)`` the histogram at date t is a sample of
            ``flow.aggs.mu[t]``. Its time axis must have at least T + 1 dates.

    Returns:
        An :class:`AgentSimulation` with indices (T + 1, N), actions (T, N), histograms
        (T + 1, n, m) and the aggregate states faced (T + 1 dates).

    Cost per date: the kernel on the (n, m, A, k) mesh (as one ``push``) plus O(N (A + k + m)).
    The whole loop is one jitted ``lax.scan`` over dates with a ``vmap`` over households.
    """
    pi_table = jnp.asarray(pi_table, game.dtype)
    if pi_table.ndim == 3:
        if game.T is None:
            raise ValueError(
                "simulate_agents: an infinite-horizon game needs a (T, n, m, A) policy table to set T."
            )
        pi_table = jnp.broadcast_to(pi_table, (game.T,) + pi_table.shape)
    if pi_table.ndim != 4 or pi_table.shape[1:] != (game.n, game.m, game.A):
        raise ValueError(
            f"simulate_agents: pi_table has shape {pi_table.shape}; expected (T, n, m, A) = "
            f"(T, {game.n}, {game.m}, {game.A}) or (n, m, A)."
        )
    if int(n_agents) != n_agents or n_agents < 1:
        raise ValueError(f"simulate_agents: n_agents = {n_agents!r} must be a positive integer.")
    T = pi_table.shape[0]
    if flow is not None and flow.aggs.mu.shape[0] < T + 1:
        raise ValueError(
            f"simulate_agents: the flow has {flow.aggs.mu.shape[0]} dates but a {T}-step policy table "
            f"needs {T + 1}. Fix: pass a flow at least as long as the policy table (plus one date)."
        )
    return _simulate(game, key, pi_table, int(n_agents), flow)


def _pick(cum, u):
    """Index k with probability (cum[k] - cum[k-1]) / cum[-1], from one uniform u in [0, 1).

    ``cum`` is a cumulative sum of probabilities (computed once per date for the whole table, not per
    household). Inverse CDF on (0, total]: an entry of probability zero is never returned. For a few
    entries a vectorised count is much cheaper under vmap than a binary search.
    """
    k = jnp.sum(cum < (1 - u) * cum[-1], dtype=jnp.int32)
    return jnp.minimum(k, cum.shape[0] - 1)


def draw_next(lo, w, p, P_row, u):
    """One household's next (grid, chain) indices from its lottery at one date: the kernel step that
    :func:`simulate_agents` and the N-agent environment (:mod:`hetmacro.mfg.env`) share.

    Args:
        lo: (k,) int32, the lower grid index of each shock atom's next value, ``kernel.i[i, j, a]``.
        w: (k,), the lottery weight on ``lo + 1``, ``kernel.t[i, j, a]``.
        p: (k,), the shock atoms' probabilities, ``kernel.p``.
        P_row: (m,), the chain row of the household's chain state, ``kernel.P[j]``.
        u: (3,) uniforms on [0, 1): the shock atom, the grid lottery, the chain move.

    Returns:
        (i', j'): the atom k ~ p, i' = lo[k] + 1{u_1 < w[k]}, j' ~ P_row (int32 scalars).
    """
    k = _pick(jnp.cumsum(p), u[0])
    i_next = lo[k] + (u[1] < w[k]).astype(jnp.int32)
    return i_next, _pick(jnp.cumsum(P_row), u[2])


def _pick_many(key, probs, n_draws: int):
    """n_draws i.i.d. indices with probabilities probs / sum(probs) (inverse CDF as in :func:`_pick`,
    by binary search: probs may be long, the S states)."""
    c = jnp.cumsum(probs)
    u = jax.random.uniform(key, (n_draws,), probs.dtype)
    k = jnp.searchsorted(c, (1 - u) * c[-1], side="left")
    return jnp.minimum(k, probs.shape[0] - 1).astype(jnp.int32)


@eqx.filter_jit
def _simulate(game: Game, key, pi_table, n_agents: int, flow: Flow | None) -> AgentSimulation:
    T = pi_table.shape[0]
    n, m = game.n, game.m
    pi_table = eqx.error_if(
        pi_table,
        ~jnp.all(jnp.isfinite(pi_table)) | jnp.any(pi_table < 0),
        "simulate_agents: the policy table has NaN, Inf or negative probabilities.",
    )

    # Common-noise keys exactly as Game.rollout splits them; households on their own stream.
    k_reset, k_noise = jax.random.split(key)
    noise_keys = jax.random.split(k_noise, T)
    k_init, k_steps = jax.random.split(jax.random.fold_in(key, _AGENT_STREAM))
    agent_keys = jax.random.split(k_steps, T)

    if flow is None:
        agg0 = game.reset(k_reset)
        mu0, z0 = agg0.mu, agg0.z
        faced = None
    else:
        faced = jax.tree.map(lambda x: x[: T + 1], flow.aggs)
        mu0, z0 = faced.mu[0], jax.tree.map(lambda x: x[0], faced.z)

    def histogram(i, j):
        counts = jnp.bincount(i * m + j, length=n * m)
        return (counts.astype(game.dtype) / n_agents).reshape(n, m)

    s0 = _pick_many(k_init, mu0.reshape(-1), n_agents)
    i0, j0 = s0 // m, s0 % m
    hist0 = histogram(i0, j0)

    def body(carry, xs):
        i, j, z, hist = carry
        t, k_z, k_a = xs
        if faced is None:
            agg = game.aggregate_state(hist, z, t)
            z_next = game.noise_step(k_z, z, t)
        else:
            agg = jax.tree.map(lambda x: x[t], faced)
            z_next = jax.tree.map(lambda x: x[t + 1], faced.z)
        kern = game.kernel(agg, z_next)
        cum_pi = jnp.cumsum(pi_table[t], axis=-1)  # (n, m, A)
        u = jax.random.uniform(k_a, (n_agents, 4), game.dtype)

        def one(i, j, u):
            a = _pick(cum_pi[i, j], u[0])
            i_next, j_next = draw_next(kern.i[i, j, a], kern.t[i, j, a], kern.p, kern.P[j], u[1:])
            return i_next, j_next, a

        i_next, j_next, a = jax.vmap(one)(i, j, u)
        return (i_next, j_next, z_next, histogram(i_next, j_next)), (i, j, a, hist, agg)

    xs = (jnp.arange(T, dtype=jnp.int32), noise_keys, agent_keys)
    (i_T, j_T, z_T, hist_T), (i_s, j_s, a_s, hist_s, agg_s) = jax.lax.scan(body, (i0, j0, z0, hist0), xs)

    def append(xs, x):
        return jnp.concatenate([xs, x[None]])

    if faced is None:
        faced = jax.tree.map(append, agg_s, game.aggregate_state(hist_T, z_T, T))
    return AgentSimulation(
        i=append(i_s, i_T),
        j=append(j_s, j_T),
        a=a_s,
        hist=append(hist_s, hist_T),
        aggs=faced,
    )
