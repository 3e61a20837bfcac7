"""The N-household simulator against the analytic push-forward.

Given the aggregate path, households are independent Markov chains with the kernel of ``push``, so the
histogram of N households at date t is Multinomial(N, mu_t) / N exactly. The tests compare them by
Pearson's chi-square (cells with fewer than 5 expected households pooled), with the threshold the
Wilson-Hilferty quantile of the chi-square distribution at a false-alarm probability of ``ALPHA`` per
comparison. A test compares ``len(DATES)`` = 4 dates, so its false-alarm probability is at most
4 x ALPHA = 4e-7 for a random seed (the seeds are fixed, so a pass is reproducible). A real bug (a lottery
weight on the wrong side, a transposed chain, an off-by-one date) shifts whole cells of mass and
gives statistics orders of magnitude above the threshold; ``test_chi_square_has_power`` checks that.
"""

from __future__ import annotations

import statistics

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetmacro.simulate import AgentSimulation, simulate_agents

N_AGENTS = 200_000
ALPHA = 1e-7
DATES = (0, 1, 5, -1)  # -1: the last date of the simulation


def _chi2_quantile(df: int, alpha: float) -> float:
    """Upper alpha quantile of chi-square(df), Wilson-Hilferty approximation."""
    z = statistics.NormalDist().inv_cdf(1 - alpha)
    return df * (1 - 2 / (9 * df) + z * np.sqrt(2 / (9 * df))) ** 3


def _chi_square(hist, mu, n_agents):
    """(statistic, degrees of freedom) of the counts n_agents * hist against the probabilities mu.

    Cells are sorted by expected count and the smallest are pooled until each bin expects >= 5.
    Cells with mu = 0 must be empty (checked by the caller).
    """
    obs = np.asarray(hist, np.float64).reshape(-1) * n_agents
    exp = np.asarray(mu, np.float64).reshape(-1)
    exp = exp / exp.sum() * n_agents
    order = np.argsort(exp)
    bins_o, bins_e, acc_o, acc_e = [], [], 0.0, 0.0
    for k in order:
        acc_o, acc_e = acc_o + obs[k], acc_e + exp[k]
        if acc_e >= 5.0:
            bins_o.append(acc_o)
            bins_e.append(acc_e)
            acc_o = acc_e = 0.0
    bins_o[-1] += acc_o  # a remainder under 5 joins the largest bin
    bins_e[-1] += acc_e
    o, e = np.array(bins_o), np.array(bins_e)
    return float(np.sum((o - e) ** 2 / e)), len(o) - 1


def _assert_histogram_is_sample_of(hist, mu, n_agents, what):
    hist, mu = np.asarray(hist, np.float64), np.asarray(mu, np.float64)
    assert np.all(hist[mu == 0.0] == 0.0), f"{what}: households where push puts no mass"
    stat, df = _chi_square(hist, mu, n_agents)
    q = _chi2_quantile(df, ALPHA)
    assert stat <= q, f"{what}: chi-square {stat:.1f} > {q:.1f} (df {df})"


def _sim_horizon(game):
    return min(game.T or 30, 30)


# One model per way of moving households: the LQ drift with the common noise, the Beach Bar projection
# (the crowd variant shares its compiled code, so it is nearly free), the tiny economy (lottery, shock
# atoms, a chain that depends on (z, z')) and the macro game. lq_no_noise and beach_bar_no_closure move
# households with the same code as lq and beach_bar; Krusell-Smith is Aiyagari with a (z, z')-dependent
# chain, both covered here. Left out to keep the suite fast.
@pytest.mark.models("lq", "beach_bar", "beach_bar_crowd", "tiny_aiyagari", "aiyagari")
def test_simulator_matches_push(game32, ops):
    """Households facing the push flow's aggregates: their histogram at dates 0, 1, 5 and the last is a
    multinomial sample of the pushed distribution (random time-varying policy)."""
    game = game32
    T = _sim_horizon(game)
    pi = ops.random_policy(np.random.default_rng(11), game, (T,))
    key = jax.random.PRNGKey(12)
    flow = ops.rollout_table(game, key, pi)
    sim = simulate_agents(game, key, pi, N_AGENTS, flow=flow)
    assert isinstance(sim, AgentSimulation)
    assert sim.i.shape == sim.j.shape == (T + 1, N_AGENTS) and sim.a.shape == (T, N_AGENTS)
    assert sim.hist.shape == (T + 1, game.n, game.m)
    for t in DATES:
        _assert_histogram_is_sample_of(sim.hist[t], flow.aggs.mu[t], N_AGENTS, f"date {t % (T + 1)}")
    # The households faced the flow's aggregate states.
    np.testing.assert_array_equal(np.asarray(sim.aggs.mu), np.asarray(flow.aggs.mu))


def test_chi_square_has_power(games, ops):
    """The same statistic rejects the histogram against the distribution one date earlier (an
    off-by-one date) by a wide margin."""
    game = games.get("lq")
    pi = jnp.full((game.T, game.n, game.m, game.A), 1.0 / game.A)
    key = jax.random.PRNGKey(13)
    flow = ops.rollout_table(game, key, pi)
    sim = simulate_agents(game, key, pi, N_AGENTS, flow=flow)
    stat, df = _chi_square(sim.hist[10], flow.aggs.mu[9], N_AGENTS)
    assert stat > 10 * _chi2_quantile(df, ALPHA)


def test_simulator_with_own_aggregates_lq(games, ops):
    """Without a flow the households make their own aggregates; the LQ transition does not depend on
    them, so the common-noise path is game.rollout's and the empirical mean position m_t is within
    Z standard errors of the pushed m_t at every date (Z for a false alarm of 1e-7 over all dates)."""
    game = games.get("lq")
    pi = np.full((game.T, game.n, game.m, game.A), 1.0 / game.A, np.float32)
    signs = set()
    for seed in (14, 16):
        key = jax.random.PRNGKey(seed)
        flow = ops.rollout_table(game, key, pi)
        sim = simulate_agents(game, key, pi, N_AGENTS)
        signs.add(int(sim.aggs.z[0]))
        np.testing.assert_array_equal(np.asarray(sim.aggs.z), np.asarray(flow.aggs.z))
        np.testing.assert_array_equal(np.asarray(sim.aggs.t), np.arange(game.T + 1))
        # The aggregates were computed from the particles' histogram.
        x = np.arange(game.n, dtype=np.float64)
        np.testing.assert_allclose(np.asarray(sim.aggs.m), np.asarray(sim.hist)[:, :, 0] @ x, rtol=1e-5)
        np.testing.assert_allclose(np.asarray(sim.aggs.m), np.asarray(sim.i).mean(axis=1), rtol=1e-5)
        mu = np.asarray(flow.aggs.mu, np.float64)[:, :, 0]
        mean = mu @ x
        se = np.sqrt(mu @ x**2 - mean**2) / np.sqrt(N_AGENTS)
        z = statistics.NormalDist().inv_cdf(1 - 1e-7 / (2 * (game.T + 1)))
        assert np.all(np.abs(np.asarray(sim.aggs.m) - mean) <= z * se), (np.asarray(sim.aggs.m) - mean) / se
    assert signs == {0, 1}  # the seeds cover both signs of the common noise


@pytest.mark.models("beach_bar", "beach_bar_crowd")
def test_simulated_households_never_reach_the_bar(games, ops, model_name):
    """Every household, at every date, stays on its side of the bar and never stands on it."""
    game = games.get(model_name)
    pi = ops.random_policy(np.random.default_rng(16), game, (game.T,))
    for seed in (17, 18):
        sim = simulate_agents(game, jax.random.PRNGKey(seed), pi, 20_000)
        b = np.asarray(game.model.bar_location(jax.tree.map(lambda x: x[0], sim.aggs.z)))
        i = np.asarray(sim.i)
        assert np.all(i != b)
        assert np.all((i < b) == (i[0] < b)[None, :])
        assert np.all(np.asarray(sim.hist)[:, b, 0] == 0.0)


def test_simulator_is_reproducible_and_consistent(games):
    game = games.get("beach_bar")
    pi = np.full((game.n, game.m, game.A), 1.0 / game.A, np.float32)
    n = 20_000
    a = simulate_agents(game, jax.random.PRNGKey(19), pi, n)
    b = simulate_agents(game, jax.random.PRNGKey(19), pi, n)
    c = simulate_agents(game, jax.random.PRNGKey(20), pi, n)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert not np.array_equal(np.asarray(a.i), np.asarray(c.i))
    i, j, hist = np.asarray(a.i), np.asarray(a.j), np.asarray(a.hist)
    for t in range(game.T + 1):
        counts = np.bincount(i[t] * game.m + j[t], minlength=game.S).reshape(game.n, game.m)
        np.testing.assert_allclose(hist[t], counts / n, rtol=1e-6)
    assert np.asarray(a.a).min() >= 0 and np.asarray(a.a).max() < game.A
    assert a.hist.dtype == game.dtype


def test_simulator_rejects_bad_input(games, ops):
    game = games.get("lq")
    pi = np.full((game.n, game.m, game.A), 1.0 / game.A, np.float32)
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match=r"pi_table has shape \(99, 7\); expected \(T, n, m, A\)"):
        simulate_agents(game, key, pi[:, 0], 10)
    with pytest.raises(ValueError, match="n_agents = 0 must be a positive integer"):
        simulate_agents(game, key, pi, 0)
    flow = ops.rollout_table(game, key, np.broadcast_to(pi, (game.T,) + pi.shape))
    short = eqx.tree_at(lambda f: f.aggs, flow, jax.tree.map(lambda x: x[:5], flow.aggs))
    with pytest.raises(ValueError, match="the flow has 5 dates but a 30-step policy table needs 31"):
        simulate_agents(game, key, pi, 10, flow=short)
    bad = pi.copy()
    bad[3, 0, 2] = np.nan
    with pytest.raises(Exception, match="NaN"):
        jax.block_until_ready(simulate_agents(game, key, bad, N_AGENTS).hist)  # N: compiled already
