"""The paper's toy games reproduce the reference numbers of shared/reference/mfax_spec.md §C1, §C2."""

from __future__ import annotations

import statistics

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

# z quantile of a one-sided false-alarm probability 1e-7 (two-sided 2e-7): 5.2 standard deviations.
Z_ALARM = statistics.NormalDist().inv_cdf(1 - 1e-7)


@eqx.filter_jit
def _rollout_from(game, pi, z0):
    """Mean-field flow under the fixed policy pi (n, m, A) from mu_0 with the common noise set to z0."""
    agg0 = game.reset(jax.random.PRNGKey(0))
    agg0 = game.aggregate_state(agg0.mu, z0, 0)
    return game.rollout(jax.random.PRNGKey(1), lambda c, agg: (c, pi), agg0=agg0)


@eqx.filter_jit
def _rewards(game, agg, next_agg):
    return game.rewards(agg, next_agg)


@eqx.filter_jit
def _kernel_at(game, z, z_next, t):
    agg = game.reset(jax.random.PRNGKey(0))
    return game.kernel(game.aggregate_state(agg.mu, z, t), z_next)


# --- Linear-Quadratic (§C1) ----------------------------------------------------------------------------


def test_lq_shock_atoms(games, x64):
    game = games.get("lq", x64=True)
    np.testing.assert_array_equal(np.asarray(game.eps), np.arange(-3.0, 4.0))
    paper = [0.004433, 0.054006, 0.242036, 0.399050, 0.242036, 0.054006, 0.004433]
    np.testing.assert_allclose(np.asarray(game.eps_p), paper, rtol=0, atol=5e-7)  # the spec's 6 decimals


def test_lq_example_atoms(games, x64):
    """From x = 50 with a = 0 on a path with z = -1 (index 0): the drift is +5 for t < 8 (atoms
    52..58), 0 for 8 <= t <= 20 (47..53) and -5 for t > 20 (42..48); the edges of each window too."""
    game = games.get("lq", x64=True)
    z = jnp.int32(0)  # sign -1
    a0 = int(np.flatnonzero(np.asarray(game.actions.values) == 0.0)[0])
    for t, lo in [(0, 52), (7, 52), (8, 47), (20, 47), (21, 42), (29, 42)]:
        kern = _kernel_at(game, z, z, jnp.int32(t))
        atoms = np.asarray(kern.i[50, 0, a0]) + np.asarray(kern.t[50, 0, a0])
        np.testing.assert_array_equal(atoms, np.arange(lo, lo + 7), err_msg=f"t = {t}")
        np.testing.assert_allclose(np.asarray(kern.p), np.asarray(game.eps_p))
    # With z = +1 the drift is mirrored: -5 before t = 8.
    kern = _kernel_at(game, jnp.int32(1), jnp.int32(1), jnp.int32(0))
    np.testing.assert_array_equal(np.asarray(kern.i[50, 0, a0] + kern.t[50, 0, a0]), np.arange(42, 49))


def test_lq_kernel_clips_at_the_edges(games, x64):
    """Mid-period (no drift) the atoms are x + a + k clipped to the grid, with lottery weights 0 or 1."""
    game = games.get("lq", x64=True)
    kern = _kernel_at(game, jnp.int32(0), jnp.int32(0), jnp.int32(10))
    assert kern.i.shape == (99, 1, 7, 7) and kern.t.shape == (99, 1, 7, 7)
    nxt = np.asarray(kern.i) + np.asarray(kern.t)
    np.testing.assert_array_equal(nxt[98, 0, 6], [95, 96, 97, 98, 98, 98, 98])  # x = 98, a = +3
    np.testing.assert_array_equal(nxt[0, 0, 0], [0, 0, 0, 0, 1, 2, 3])  # x = 0, a = -3
    np.testing.assert_array_equal(nxt[40, 0, 4], np.arange(38, 45))  # x = 40, a = +1
    # Integer moves land on grid points: the lottery weight is exactly 0 or 1.
    assert set(np.unique(np.asarray(kern.t))) <= {0.0, 1.0}


def test_lq_uniform_policy_mean_path(games, x64):
    """Uniform policy, z = +1: mean 49 -> 17.6 at t = 8, about 18-20 until t = 21, then +5 a step to
    59.7 at t = 29 (spec §C1, verified by running the reference code). Tolerances: half a unit in
    the last digit the spec gives."""
    game = games.get("lq", x64=True)
    pi = jnp.full((game.n, game.m, game.A), 1.0 / game.A)
    m = np.asarray(_rollout_from(game, pi, jnp.int32(1)).aggs.m)
    assert m.shape == (31,)
    assert abs(m[0] - 49.0) <= 1e-12
    assert abs(m[8] - 17.6) <= 0.05, m[8]
    assert abs(m[29] - 59.7) <= 0.05, m[29]
    assert np.all(np.diff(m[:9]) < 0)  # pushed down for 8 steps
    assert np.all((m[8:22] >= 17.55) & (m[8:22] <= 20.1)), m[8:22]  # "near 18-20 until t = 21"
    np.testing.assert_allclose(np.diff(m[21:26]), 5.0, atol=0.01)  # +5 a step while away from the top
    # z = -1 is the mirror image: positions x -> 98 - x.
    m_minus = np.asarray(_rollout_from(game, pi, jnp.int32(0)).aggs.m)
    np.testing.assert_allclose(m_minus, 98.0 - m, rtol=0, atol=1e-9)


def test_lq_rewards_paper_timing(games, x64):
    """Step reward -c a^2 + q a (m' - x) - kappa/2 (m' - x)^2; at t = T - 1 it is replaced by
    -(c_T / 2)(m_T - x)^2 at the pre-move position, with no action cost."""
    game = games.get("lq", x64=True)
    agg = game.reset(jax.random.PRNGKey(0))
    nxt = game.aggregate_state(agg.mu, agg.z, 1)
    m_next = float(nxt.m)
    x = np.arange(99.0)[:, None, None]
    a = np.arange(-3.0, 4.0)[None, None, :]
    step = -0.5 * a**2 + 0.1 * a * (m_next - x) - 0.25 * (m_next - x) ** 2
    np.testing.assert_allclose(np.asarray(_rewards(game, agg, nxt)), step, rtol=1e-12)
    last = game.aggregate_state(agg.mu, agg.z, game.T - 1)
    final = np.broadcast_to(-0.5 * (m_next - x) ** 2, step.shape)
    np.testing.assert_allclose(np.asarray(_rewards(game, last, nxt)), final, rtol=1e-12)


def test_lq_common_noise_draws(games, ops):
    """z = +1 or -1 with probability 1/2 each, drawn once and constant over the episode."""
    game = games.get("lq")
    n_paths = 4000
    zs = np.asarray(ops.noise_paths(game, jax.random.split(jax.random.PRNGKey(7), n_paths), game.T))
    assert zs.shape == (n_paths, game.T + 1)
    assert set(np.unique(zs)) <= {0, 1}
    assert np.all(zs == zs[:, :1])  # constant along each path
    share = zs[:, 0].mean()
    assert abs(share - 0.5) <= Z_ALARM * np.sqrt(0.25 / n_paths), share
    assert set(np.unique(np.asarray(games.get("lq_no_noise").reset(jax.random.PRNGKey(0)).z))) == {0}


# --- Beach Bar (§C2) ---------------------------------------------------------------------------------


def _bar_cells(game, z):
    return np.asarray(jax.vmap(game.model.bar_location)(z))


@pytest.mark.models("beach_bar", "beach_bar_no_closure", "beach_bar_crowd")
def test_beach_bar_nobody_on_or_across_the_bar(games, ops, model_name):
    """Under random policies no mass ever stands on the bar cell, and nobody crosses it: the mass on
    each side of the bar is constant over the episode."""
    game = games.get(model_name)
    rng = np.random.default_rng(8)
    bars, closed = set(), []
    for seed in range(4):
        pi = ops.random_policy(rng, game, (game.T,))
        flow = ops.rollout_table(game, jax.random.PRNGKey(seed), pi)
        mu = np.asarray(flow.aggs.mu[:, :, 0], np.float64)
        b = _bar_cells(game, flow.aggs.z)
        assert np.all(b == b[0]) and 25 <= b[0] <= 75
        bars.add(int(b[0]))
        closed.append(np.asarray(flow.aggs.z["closed"]))
        assert np.all(mu[:, b[0]] == 0.0), mu[:, b[0]].max()
        left = mu[:, : b[0]].sum(axis=1)
        np.testing.assert_allclose(left, left[0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(left[0], b[0] / 100.0, rtol=1e-6)  # mu_0 uniform off the bar
    assert len(bars) > 1  # the bar location really varies with the key
    closed = np.array(closed)
    assert np.all(closed[:, :15] == 0)
    if model_name == "beach_bar_no_closure":
        assert np.all(closed == 0)


def test_beach_bar_common_noise_draws(games, ops):
    """Bar uniform on 25..75 and fixed; the bar closes only on the step into date 15, with
    probability 1/2, for good. (Never without closure: see the test above.)"""
    game = games.get("beach_bar")
    n_paths = 51 * 100
    zs = ops.noise_paths(game, jax.random.split(jax.random.PRNGKey(9), n_paths), game.T)
    bar, closed = np.asarray(zs["bar"]), np.asarray(zs["closed"])
    assert np.all(bar == bar[:, :1]) and np.all(np.isin(closed, [0, 1]))
    cells = 25 + bar[:, 0]
    np.testing.assert_array_equal(_bar_cells(game, jax.tree.map(lambda x: x[:, 0], zs)), cells)
    counts = np.bincount(cells - 25, minlength=51)
    assert counts.size == 51  # nothing outside 25..75
    # Chi-square goodness of fit to uniform, 50 degrees of freedom; Wilson-Hilferty quantile at a
    # false-alarm probability of 1e-7.
    expected = n_paths / 51
    chi2 = np.sum((counts - expected) ** 2 / expected)
    df = 50
    q = df * (1 - 2 / (9 * df) + Z_ALARM * np.sqrt(2 / (9 * df))) ** 3
    assert chi2 <= q, (chi2, q)
    assert np.all(closed[:, :15] == 0)
    assert np.all(closed[:, 15:] == closed[:, 15:16])  # absorbing from date 15 on
    share = closed[:, 15].mean()
    assert abs(share - 0.5) <= Z_ALARM * np.sqrt(0.25 / n_paths), share


def test_beach_bar_rewards_and_signals(games, x64):
    """-|b - x| while open, -101 when adjacent on a closing step, -|a|/101; signals (1 - m/101, o, 1 - b/101)."""
    game = games.get("beach_bar", x64=True)
    agg = game.reset(jax.random.PRNGKey(0))
    b = int(game.model.bar_location(agg.z))
    closed = {"bar": agg.z["bar"], "closed": jnp.int32(1)}
    nxt_open = game.aggregate_state(agg.mu, agg.z, 15)
    nxt_closed = game.aggregate_state(agg.mu, closed, 15)
    now = game.aggregate_state(agg.mu, agg.z, 14)
    x = np.arange(101.0)[:, None, None]
    a = np.arange(-5.0, 6.0)[None, None, :]
    base = -np.abs(b - x) - np.abs(a) / 101
    np.testing.assert_allclose(np.asarray(_rewards(game, now, nxt_open)), base, rtol=1e-12)
    np.testing.assert_allclose(
        np.asarray(_rewards(game, now, nxt_closed)), base - 101.0 * (np.abs(b - x) == 1), rtol=1e-12
    )
    after = game.aggregate_state(agg.mu, closed, 20)
    np.testing.assert_allclose(
        np.asarray(_rewards(game, after, game.aggregate_state(agg.mu, closed, 21))),
        -np.abs(a) / 101 - 101.0 * (np.abs(b - x) == 1),
        rtol=1e-12,
    )
    m = float(np.arange(101.0) @ np.asarray(agg.mu[:, 0]))
    np.testing.assert_allclose(np.asarray(game.signal(agg)), [1 - m / 101, 1.0, 1 - b / 101], rtol=1e-12)
