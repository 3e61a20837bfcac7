"""The N-agent environment (:mod:`hetmacro.mfg.env`) against the analytic push-forward and the model's timing.

Statistical test. Given the aggregate path, the N households are independent Markov chains with the kernel of
``push``, so their histogram at date t is Multinomial(N, mu_t) / N. On R independent replications (fixed seed)
the sum of Pearson's statistics (cells expecting < 5 households pooled) is chi-square with the sum of the
degrees of freedom; it must stay below its upper 1e-6 quantile (a false alarm for a random seed at most
1e-6 per comparison; the seed is fixed, so a pass is reproducible). Convergence: the mean L1 distance
||hist - mu||_1 shrinks like N^(-1/2), the fitted slope of log distance on log N must be in [-0.6, -0.4].
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import hetmacro as hm
from hetmacro.mfg.dp import policy_value
from hetmacro.mfg.env import AgentEnv
from hetmacro.models import LinearQuadratic

R = 16  # replications (noise paths) per N
ALPHA = 1e-6


def _tiny(**kw):
    return hm.compile(LinearQuadratic(n_states=21, T=10, max_move=1, shock_atoms=2, **kw))


def _uniform(game):
    return lambda k, obs: jax.random.randint(k, obs.index.shape, 0, game.A)


def _pearson(counts, mu, n):
    """(statistic, df) of counts against n * mu, smallest expected cells pooled until each expects >= 5."""
    exp = np.asarray(mu, np.float64).reshape(-1) * n
    obs = np.asarray(counts, np.float64).reshape(-1)
    assert np.all(obs[exp <= 0] == 0), "households in a cell the flow gives no mass"
    bo, be, ao, ae = [], [], 0.0, 0.0
    for k in np.argsort(exp):
        ao, ae = ao + obs[k], ae + exp[k]
        if ae >= 5:
            bo.append(ao)
            be.append(ae)
            ao = ae = 0.0
    bo[-1] += ao
    be[-1] += ae
    o, e = np.array(bo), np.array(be)
    return float(np.sum((o - e) ** 2 / e)), len(o) - 1


@eqx.filter_jit
def _empirical_and_pushed(env: AgentEnv, keys):
    """Per replication: every household's state at dates 1..T (T, N), the households' own histogram at
    dates 1..T (empirical mean field), and the push of the same (uniform) policy from the same z_0."""
    game = env.game
    pi = jnp.full((game.n, game.m, game.A), 1.0 / game.A, game.dtype)

    def one(k):
        _, _, _, _, info, states = env.rollout(k, _uniform(game))
        z0 = jax.tree.map(lambda z: z[0], states.agg.z)
        agg0 = game.aggregate_state(jnp.asarray(game.model.initial_distribution(z0), game.dtype), z0, 0)
        flow = game.rollout(k, lambda c, a: (c, pi), agg0=agg0)
        return info["next_index"], info["next_agg"].mu, flow.aggs.mu[1:]

    return jax.vmap(one)(keys)


def test_empirical_flow_converges_to_push():
    """The N-agent game's own histogram (N = 10,000) is a sample of push's flow at dates 1, 5 and T, and the
    histogram of its first n households (exchangeable, independent given the noise path: the LQ kernel does
    not depend on the histogram) approaches the flow at the rate n^(-1/2)."""
    game = _tiny()
    N = 10_000
    keys = jax.random.split(jax.random.PRNGKey(0), R)
    idx, hist, mu = (np.asarray(x) for x in _empirical_and_pushed(AgentEnv(game, N), keys))
    mu = mu.astype(np.float64)
    for t in (0, 4, game.T - 1):  # dates 1, 5, T
        pairs = [_pearson(hist[r, t] * N, mu[r, t], N) for r in range(R)]
        stat, df = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
        assert stat < stats.chi2.ppf(1 - ALPHA, df), (t, stat, df)
    sizes = (100, 1_000, N)
    l1 = []
    for n in sizes:
        counts = np.stack(
            [[np.bincount(idx[r, t, :n], minlength=game.S) for t in range(game.T)] for r in range(R)]
        )
        l1.append(np.abs(counts / n - mu.reshape(R, game.T, -1)).sum(-1).mean())
    slope = np.polyfit(np.log(sizes), np.log(l1), 1)[0]
    assert -0.6 <= slope <= -0.4, (slope, l1)


def test_households_facing_a_flow_sample_it():
    """With an imposed flow, the learners' histogram at every date is a sample of the flow's mu_t."""
    game = _tiny()
    env = AgentEnv(game, 20_000)
    key = jax.random.PRNGKey(1)
    pi = jnp.full((game.n, game.m, game.A), 1.0 / game.A, game.dtype)
    flow = game.rollout(key, lambda c, a: (c, pi))
    _, _, _, _, info, states = jax.jit(lambda k: env.rollout(k, _uniform(game), env.tables(flow)))(key)
    idx = np.asarray(info["next_index"])
    for t in (0, 5, game.T - 1):
        counts = np.bincount(idx[t], minlength=game.S)
        stat, df = _pearson(counts, np.asarray(flow.aggs.mu[t + 1]), env.n_agents)
        assert stat < stats.chi2.ppf(1 - ALPHA, df), (t, stat, df)


@pytest.mark.parametrize("mode", ["empirical", "flow"])
def test_clocks_reach_the_horizon_and_episodes_terminate(mode):
    game = _tiny()
    env = AgentEnv(game, 64)
    key = jax.random.PRNGKey(2)
    tables = None
    if mode == "flow":
        pi = jnp.full((game.n, game.m, game.A), 1.0 / game.A, game.dtype)
        tables = env.tables(game.rollout(key, lambda c, a: (c, pi)))
    T = game.T
    obs, _, _, done, info, states = jax.jit(
        lambda k: env.rollout(k, _uniform(game), tables, steps=2 * T + 3)
    )(key)
    t = np.asarray(info["t"])
    expected = np.arange(2 * T + 3) % T
    assert np.all(t == expected[:, None])  # every clock advances by one and restarts at 0
    assert np.all(np.asarray(obs.t) == t)
    assert np.all(np.asarray(done) == (expected == T - 1)[:, None])  # done exactly at the horizon
    assert np.all(np.asarray(states.episode)[-1] == 2)


def test_each_household_has_its_own_clock():
    """Facing a flow, households at different dates read the flow at their own date and reset on their own."""
    game = _tiny()
    env = AgentEnv(game, 30)
    key = jax.random.PRNGKey(3)
    pi = jnp.full((game.n, game.m, game.A), 1.0 / game.A, game.dtype)
    flow = game.rollout(key, lambda c, a: (c, pi))
    tables = env.tables(flow)
    _, state = env.reset(key, tables)
    clocks = jnp.arange(30, dtype=jnp.int32) % game.T
    state = eqx.tree_at(lambda s: s.t, state, clocks)
    a = jnp.zeros(30, jnp.int32)
    obs, nxt, reward, done, _ = env.step(jax.random.PRNGKey(4), state, a, tables)
    assert np.all(np.asarray(done) == (np.asarray(clocks) == game.T - 1))
    assert np.all(np.asarray(nxt.t) == np.where(np.asarray(done), 0, np.asarray(clocks) + 1))
    # the signal each one sees is the flow's at its own (new) clock
    assert np.allclose(np.asarray(obs.signal), np.asarray(tables.signals)[np.asarray(nxt.t)])
    # its reward is R at its own date
    R = np.asarray(tables.R)
    s = np.asarray(state.i)
    assert np.allclose(np.asarray(reward), R[np.asarray(clocks), s, 0, 0])


@pytest.mark.parametrize("timing", ["paper", "textbook"])
def test_terminal_rewards_at_the_terminal_step(timing):
    """Rewards against the LQ formulas written out, with m_{t+1} the households' own histogram mean."""
    game = _tiny(timing=timing, aggregate_risk=False)
    lq = game.model
    env = AgentEnv(game, 500)
    _, a, r, _, info, states = jax.jit(lambda k: env.rollout(k, _uniform(game)))(jax.random.PRNGKey(5))
    x = np.asarray(states.i, np.float64)  # grid points are the integers
    x_next = np.asarray(info["next_index"], np.float64)
    move = np.asarray(a, np.float64) - 1.0
    m_next = np.asarray(info["next_agg"].values["m"], np.float64)[:, None]
    gap = m_next - x
    step = -float(lq.c_action) * move**2 + float(lq.q) * move * gap - 0.5 * float(lq.kappa) * gap**2
    T, beta, c_T = game.T, float(game.beta), float(lq.c_term)
    if timing == "paper":  # the last transition pays the terminal cost at the pre-move position instead
        expected_last = -0.5 * c_T * gap[-1] ** 2
    else:  # the step reward, then beta V_T(x_T) with V_T = -(c_T/2)(m_T - x_T)^2
        expected_last = step[-1] + beta * (-0.5 * c_T * (m_next[-1] - x_next[-1]) ** 2)
    r = np.asarray(r, np.float64)
    np.testing.assert_allclose(r[: T - 1], step[: T - 1], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(r[T - 1], expected_last, rtol=1e-5, atol=1e-4)
    assert not np.allclose(r[T - 1], step[T - 1])  # the terminal reward is really different


def test_monte_carlo_return_matches_the_policy_value():
    """Discounted returns of households facing a flow average to the exact value sum_s mu_0 V^pi_0
    (within 4 standard errors): rewards are paid at the right step and the terminal value on the last one."""
    game = _tiny(timing="textbook")
    env = AgentEnv(game, 40_000)
    key = jax.random.PRNGKey(6)
    pi = jnp.broadcast_to(jnp.asarray([0.2, 0.3, 0.5], game.dtype), (game.n, game.m, game.A))
    flow = game.rollout(key, lambda c, a: (c, pi))
    exact = float(jnp.sum(flow.aggs.mu[0] * policy_value(game, flow)[0]))

    def policy(k, obs):
        return jax.random.categorical(k, jnp.log(pi[obs.index // game.m, 0]))

    _, _, r, _, info, _ = jax.jit(lambda k: env.rollout(k, policy, env.tables(flow)))(key)
    disc = float(game.beta) ** np.asarray(info["t"], np.float64)
    ret = np.sum(disc * np.asarray(r, np.float64), axis=0)
    se = ret.std(ddof=1) / np.sqrt(ret.size)
    assert abs(ret.mean() - exact) < 4 * se, (ret.mean(), exact, se)


def test_bad_environment_input():
    game = _tiny()
    with pytest.raises(ValueError, match="n_agents"):
        AgentEnv(game, 0)
    with pytest.raises(ValueError, match="episode length"):
        AgentEnv(game, 10, horizon=0)
