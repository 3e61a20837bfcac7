r"""The sample-based side of a Game: N households as a batched, jitted reinforcement-learning environment.

:class:`AgentEnv` moves N households on a :class:`~hetmacro.game.Game`'s kernel, one sampled action
and one sampled shock per household and date, with the conventions of JAX reinforcement-learning
environments (gymnax): ``reset(key, flow) -> (obs, state)`` and
``step(key, state, actions, flow) -> (obs, state, reward, done, info)`` are pure functions, jittable
and vmappable over keys, states and flows, and a household whose episode ends is reset inside ``step``
(the observation returned is then the new episode's first).

**Mean field.** Two settings, chosen by the ``flow`` argument:

- ``flow=None`` (the N-agent game, the paper's RL setting): the households face the aggregate state
  computed from their own empirical histogram, hist_t(s) = (1/N) #{k : s_k = s}, and a common noise
  drawn inside ``step``; every household's reward depends on the others' moves through
  hist_{t+1}. Given the aggregate path the households are independent Markov chains with the kernel
  of ``Game.push``, so hist_t is Multinomial(N, mu_t)/N and converges to the pushed flow at rate
  N^{-1/2} (``tests/test_env.py``).
- ``flow=FlowTables`` (:meth:`AgentEnv.tables` of a :class:`~hetmacro.game.Flow`, e.g. the exact push
  of a policy): the households face that flow, each at its own clock t_k (it reads the flow's
  aggregate state, signal, kernel and rewards at date t_k): a representative agent learning against a
  frozen mean field, the inner problem of the fictitious-play-style outer loop of
  :mod:`hetmacro.mfg.ppo`.

**Timing** (the model's, as in ``Game.push`` and the dynamic programme of :mod:`hetmacro.mfg.dp`).
Household k at date t = t_k in state s takes action a; the next state is drawn from the kernel of
(agg_t, z_{t+1}) with the lottery :func:`hetmacro.simulate.draw_next` (shared with
:func:`~hetmacro.simulate.simulate_agents`); the reward is R_t(s, a) = ``game.rewards(agg_t,
agg_{t+1})[s, a]`` (the model's final reward at t = T - 1) and, on the terminal step t = T - 1 only,
plus beta V_T(s_T), the model's terminal value at the household's final state. The discounted sum
of a household's rewards, sum_{t < T} beta^t r_t = sum_{t < T} beta^t R_t + beta^T V_T, is then the
return whose expectation the game's backward induction computes. ``done`` is 1{t + 1 = T}; the clock advances by one
every step (and restarts at 0 on reset).

**Observation** (:class:`AgentObs`): each household's state features (the normalised grid and chain
values of :func:`hetmacro.mfg.policies.state_features`) and flat state index s = i m + j, the shared
signal ``game.signal(agg_t)`` at its own date, and its clock t.

Cost of one step: the kernel and the reward table on the (n, m, A) mesh (as one ``push``; with a flow,
precomputed once per flow by :meth:`AgentEnv.tables`) plus O(N (k + m + A)) for the households.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..game import Flow, Game
from ..model import AggState
from ..simulate import draw_next
from .policies import state_features

__all__ = ["AgentEnv", "AgentObs", "EnvState", "FlowTables"]


class AgentObs(eqx.Module):
    """What each of the N households observes.

    Attributes:
        features: (N, F) normalised features of its own state (:func:`~hetmacro.mfg.policies.state_features`).
        index: (N,) int32, its flat state index s = i m + j.
        signal: (N, d) the shared signal at its own date (the same row for households on one date).
        t: (N,) int32, its clock.
    """

    features: jnp.ndarray
    index: jnp.ndarray
    signal: jnp.ndarray
    t: jnp.ndarray


class EnvState(eqx.Module):
    """The environment's state.

    Attributes:
        i, j: (N,) int32 grid and chain index of each household.
        t: (N,) int32 clock of each household (all equal without an imposed flow).
        agg: the aggregate state at the households' date computed from their histogram (no flow), or
            the flow's date-0 state (ignored) with an imposed flow.
        episode: (N,) int32, number of episodes each household has completed.
    """

    i: jnp.ndarray
    j: jnp.ndarray
    t: jnp.ndarray
    agg: AggState
    episode: jnp.ndarray


class FlowTables(eqx.Module):
    """An imposed flow, tabulated by date for the households to read at their own clocks.

    Attributes:
        lo, w: (T, n, m, A, k) the kernel's lottery (lower grid index, weight on the next point).
        p: (k,) shock atom probabilities; P: (T, m, m) chain matrices.
        R: (T, n, m, A) rewards R_t(s, a), with beta V_T(s') to add on the last step.
        V_T: (n, m) terminal value; beta: the discount factor.
        signals: (T + 1, d) the shared signal at each date; mu0: (n, m) the date-0 distribution.
        aggs: the flow's aggregate states (T + 1 dates).
    """

    lo: jnp.ndarray
    w: jnp.ndarray
    p: jnp.ndarray
    P: jnp.ndarray
    R: jnp.ndarray
    V_T: jnp.ndarray
    beta: jnp.ndarray
    signals: jnp.ndarray
    mu0: jnp.ndarray
    aggs: AggState


def _at(tree, t):
    return jax.tree.map(lambda x: x[t], tree)


class AgentEnv(eqx.Module):
    """N households on a compiled game; see the module docstring.

    Args:
        game: the compiled game (finite horizon, or give ``horizon``).
        n_agents: N, households per environment (static: a new N recompiles).
        horizon: the episode length T (default: the game's).
        grid_scaling: state features, as :func:`~hetmacro.mfg.policies.state_features`.

    Example (a uniform random policy on 8 noise paths at once)::

        env = AgentEnv(game, 1000)
        obs, state = jax.vmap(env.reset)(keys)
        actions = jax.random.randint(key, (8, 1000), 0, game.A)
        obs, state, reward, done, info = jax.vmap(env.step)(keys2, state, actions)
    """

    game: Game
    features: jnp.ndarray
    n_agents: int = eqx.field(static=True)
    T: int = eqx.field(static=True)

    def __init__(self, game: Game, n_agents: int, horizon: int | None = None, grid_scaling: str = "auto"):
        if int(n_agents) != n_agents or n_agents < 1:
            raise ValueError(f"AgentEnv: n_agents = {n_agents!r} must be a positive integer.")
        T = game.T if horizon is None else horizon
        if T is None or int(T) != T or T < 1:
            raise ValueError(
                f"AgentEnv: the episode length T = {T!r} must be a positive integer; an infinite-horizon "
                "game needs horizon=T."
            )
        self.game, self.n_agents, self.T = game, int(n_agents), int(T)
        self.features = jnp.asarray(state_features(game, grid_scaling), game.dtype)

    @property
    def num_actions(self) -> int:
        return self.game.A

    # --- an imposed flow --------------------------------------------------------------------------
    def tables(self, flow: Flow) -> FlowTables:
        """Tabulate a flow (T + 1 dates; e.g. ``game.rollout(...)``) for :meth:`reset` / :meth:`step`."""
        g, T = self.game, self.T
        aggs = jax.tree.map(lambda x: x[: T + 1], flow.aggs)
        now, nxt = jax.tree.map(lambda x: x[:-1], aggs), jax.tree.map(lambda x: x[1:], aggs)
        kern = jax.vmap(g.kernel)(now, nxt.z)
        R = jax.vmap(g.rewards)(now, nxt)
        return FlowTables(
            lo=kern.i,
            w=kern.t,
            p=g.eps_p,
            P=kern.P,
            R=R,
            V_T=g.terminal_value(_at(aggs, T)),
            beta=g.beta,
            signals=jax.vmap(g.signal)(aggs),
            mu0=aggs.mu[0],
            aggs=aggs,
        )

    # --- the gymnax-style interface -----------------------------------------------------------------
    def _histogram(self, i, j):
        g = self.game
        counts = jnp.bincount(i * g.m + j, length=g.n * g.m)
        return (counts.astype(g.dtype) / self.n_agents).reshape(g.n, g.m)

    def _draw_states(self, key, mu):
        """N states i.i.d. from mu (n, m) by inverse CDF: (i, j)."""
        c = jnp.cumsum(mu.reshape(-1))
        u = jax.random.uniform(key, (self.n_agents,), c.dtype)
        s = jnp.minimum(jnp.searchsorted(c, (1 - u) * c[-1], side="left"), c.shape[0] - 1).astype(jnp.int32)
        return s // self.game.m, s % self.game.m

    def _observe(self, state: EnvState, flow: FlowTables | None) -> AgentObs:
        g = self.game
        s = state.i * g.m + state.j
        if flow is None:
            o = g.signal(state.agg)
            sig = jnp.broadcast_to(o, (self.n_agents,) + o.shape)
        else:
            sig = flow.signals[state.t]
        return AgentObs(self.features[s], s, sig, state.t)

    def reset(self, key, flow: FlowTables | None = None) -> tuple[AgentObs, EnvState]:
        """Date 0: a common noise z_0 and mu_0 from the model (or the flow's), N households drawn from mu_0.

        Returns (obs, state); every clock is 0.
        """
        k_agg, k_s = jax.random.split(key)
        agg = self.game.reset(k_agg) if flow is None else _at(flow.aggs, 0)
        i, j = self._draw_states(k_s, agg.mu)
        if flow is None:
            agg = self.game.aggregate_state(self._histogram(i, j), agg.z, 0)
        zeros = jnp.zeros((self.n_agents,), jnp.int32)
        state = EnvState(i, j, zeros, agg, zeros)
        return self._observe(state, flow), state

    def step(self, key, state: EnvState, actions, flow: FlowTables | None = None):
        """Every household takes its action; returns (obs, state, reward, done, info).

        Args:
            key: PRNG key of this step (common noise, shocks, lotteries, resets).
            state: the current :class:`EnvState`.
            actions: (N,) int action indices in 0..A-1.
            flow: None (the households' own histogram) or a :class:`FlowTables` to face instead.

        Returns:
            obs (:class:`AgentObs`, after any reset), the next state, reward (N,) (R_t, plus beta V_T on
            the terminal step), done (N,) bool (the step ended the household's episode), and info with
            ``t`` (N,) the clock at which the step was taken, ``next_index`` (N,) the state reached
            before any reset, ``terminal_value`` (N,) the V_T(s_T) included in a terminal reward
            (0 elsewhere) and, without a flow, ``next_agg`` the date t + 1 aggregate state from the
            households' new histogram (before the population's reset at the end of an episode).
        """
        g, T = self.game, self.T
        actions = jnp.asarray(actions, jnp.int32)
        k_z, k_u, k_reset = jax.random.split(key, 3)
        u = jax.random.uniform(k_u, (self.n_agents, 3), g.dtype)
        t = state.t
        last = t == T - 1
        if flow is None:
            agg = state.agg
            z_next = g.noise_step(k_z, agg.z, agg.t)
            kern = g.kernel(agg, z_next)

            def move(i, j, a, u):
                return draw_next(kern.i[i, j, a], kern.t[i, j, a], kern.p, kern.P[j], u)

            i_next, j_next = jax.vmap(move)(state.i, state.j, actions, u)
            agg_next = g.aggregate_state(self._histogram(i_next, j_next), z_next, agg.t + 1)
            R = g.rewards(agg, agg_next)
            V_T = g.terminal_value(agg_next)
            reward = R[state.i, state.j, actions]
        else:

            def move(t, i, j, a, u):
                return draw_next(flow.lo[t, i, j, a], flow.w[t, i, j, a], flow.p, flow.P[t, j], u)

            i_next, j_next = jax.vmap(move)(t, state.i, state.j, actions, u)
            agg_next = state.agg
            V_T = flow.V_T
            reward = flow.R[t, state.i, state.j, actions]
        terminal = jnp.where(last, V_T[i_next, j_next], 0.0).astype(g.dtype)
        reward = reward + g.beta * terminal
        done = last

        # Auto-reset: the households whose episode ended start a new one at date 0.
        if flow is None:  # the whole population shares one date: it restarts together
            _, fresh = self.reset(k_reset)
            keep = lambda new, old: jnp.where(done[0], new, old)  # noqa: E731
            nxt = EnvState(
                keep(fresh.i, i_next),
                keep(fresh.j, j_next),
                jnp.where(done, 0, t + 1),
                jax.tree.map(keep, fresh.agg, agg_next),
                state.episode + done,
            )
        else:
            i0, j0 = self._draw_states(k_reset, flow.mu0)
            nxt = EnvState(
                jnp.where(done, i0, i_next),
                jnp.where(done, j0, j_next),
                jnp.where(done, 0, t + 1),
                agg_next,
                state.episode + done,
            )
        info = {"t": t, "next_index": i_next * g.m + j_next, "terminal_value": terminal}
        if flow is None:
            info["next_agg"] = agg_next
        return self._observe(nxt, flow), nxt, reward, done, info

    def rollout(self, key, policy, flow: FlowTables | None = None, steps: int | None = None):
        """Run ``steps`` (default T) steps from a reset under ``policy(key, obs) -> actions (N,)``.

        One jitted ``lax.scan``; returns (obs, actions, rewards, dones, info, states) each with a leading
        time axis, where states[t] is the state *before* step t.
        """
        steps = self.T if steps is None else int(steps)
        k0, k1 = jax.random.split(key)
        obs, state = self.reset(k0, flow)

        def body(carry, k):
            obs, state = carry
            ka, ks = jax.random.split(k)
            a = policy(ka, obs)
            obs2, state2, r, d, info = self.step(ks, state, a, flow)
            return (obs2, state2), (obs, a, r, d, info, state)

        _, out = jax.lax.scan(body, (obs, state), jax.random.split(k1, steps))
        return out
