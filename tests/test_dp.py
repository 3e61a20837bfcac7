"""Exact DP tools: best response, policy value, exploitability, equilibrium without common noise."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hetmacro as hm
from hetmacro.mfg.dp import best_response, exploitability, policy_value
from hetmacro.models import BeachBar, LinearQuadratic


@pytest.fixture(scope="module")
def lq_equilibrium():
    return hm.solve(LinearQuadratic(aggregate_risk=False), method="dp")


def test_lq_equilibrium_is_exact(lq_equilibrium):
    sol = lq_equilibrium
    assert sol.result.converged
    assert abs(sol.exploitability) < 1e-5
    assert sol.exploitability_kind.startswith("exact")


def test_lq_best_response_to_equilibrium_is_itself(lq_equilibrium):
    sol = lq_equilibrium
    with jax.enable_x64(True):
        game = hm.compile(sol.model)
        flow = game.rollout_table(jax.random.PRNGKey(0), jnp.asarray(sol.policy))
        v_br, pi_br = best_response(game, flow)
        v_pi = policy_value(game, flow)
    # Same values everywhere, and the same actions wherever a household can be.
    np.testing.assert_allclose(np.asarray(v_br), np.asarray(v_pi), atol=1e-8)
    mass = np.asarray(flow.aggs.mu[:-1]) > 1e-12
    same = np.argmax(np.asarray(pi_br), -1) == np.argmax(sol.policy, -1)
    assert same[mass].all()


def test_lq_equilibrium_by_symmetry_keeps_the_mean():
    # Without common noise the LQ game is symmetric around the centre cell 49: starting from the
    # uniform distribution the equilibrium mean stays at 49 for all dates.
    sol = hm.solve(LinearQuadratic(aggregate_risk=False, timing="textbook"), method="dp")
    assert sol.result.converged
    np.testing.assert_allclose(np.asarray(sol.flows.aggs.m[0]), 49.0, atol=1e-8)


def test_best_response_beats_every_policy_and_backward_values_match_forward_returns():
    # V* >= V^pi state by state, and the mu_0-weighted V^pi equals the forward expected return
    # sum_t beta^t <mu_t, sum_a pi R_t> computed from the flow (an independent forward check).
    with jax.enable_x64(True):
        game = hm.compile(LinearQuadratic(aggregate_risk=True, timing="textbook"))
        key = jax.random.PRNGKey(3)
        logits = jax.random.normal(key, (game.T, game.n, game.m, game.A))
        flow = game.rollout_table(key, jax.nn.softmax(logits, -1))
        v_pi = policy_value(game, flow)
        v_br, _ = best_response(game, flow)
        assert np.all(np.asarray(v_br) >= np.asarray(v_pi) - 1e-9)

        def period(t):
            now = jax.tree.map(lambda x: x[t], flow.aggs)
            nxt = jax.tree.map(lambda x: x[t + 1], flow.aggs)
            r = jnp.sum(flow.pi[t] * game.rewards(now, nxt), -1)
            return game.beta**t * jnp.sum(now.mu * r)

        forward = sum(period(t) for t in range(game.T))
        forward += game.beta**game.T * jnp.sum(
            flow.aggs.mu[-1] * game.terminal_value(jax.tree.map(lambda x: x[-1], flow.aggs))
        )
        np.testing.assert_allclose(float(jnp.sum(flow.aggs.mu[0] * v_pi[0])), float(forward), rtol=1e-10)


def test_uniform_policy_exploitability_is_in_the_reference_range():
    # The reference code reports 2281 for the uniform policy on LQ with common noise (8 paths,
    # clairvoyant). The per-path figure depends only on the sign z, so both branches bracket it.
    game = hm.compile(LinearQuadratic())
    pi = jnp.full((game.T, game.n, game.m, game.A), 1.0 / game.A)
    keys = jax.random.split(jax.random.PRNGKey(1), 8)
    flows = jax.vmap(lambda k: game.rollout_table(k, pi))(keys)
    expl, ret, br = eqx.filter_jit(jax.vmap(lambda f: exploitability(game, f)))(flows)
    assert np.allclose(np.asarray(expl), 2281.0, rtol=0.02)
    assert np.allclose(np.asarray(ret), -3170.8, rtol=0.02)
    assert np.allclose(np.asarray(br), -889.8, rtol=0.02)


def test_beach_bar_agents_concentrate_next_to_the_bar():
    sol = hm.solve(BeachBar(closure=False, bar=50), method="dp")
    assert sol.result.converged
    mu = np.asarray(sol.flows.aggs.mu[0, :, :, 0])
    distance = np.abs(np.arange(101) - 50)
    assert np.all(mu[:, 50] == 0.0)  # nobody ever stands on the bar itself
    # From a mean distance of 25.5 (uniform), households walk to the bar (5 cells a step at most)
    # and the idiosyncratic steps (30% chance of +-1 or +-2) are corrected every period, so from
    # date 10 on more than 90% stand within two cells and the mean distance stays below 1.5.
    assert (mu[0] @ distance) > 25
    assert np.all(mu[10:30] @ distance < 1.5)
    assert np.all(mu[10:30, 48:53].sum(axis=1) > 0.9)


def test_dp_refuses_common_noise_with_a_useful_message():
    with pytest.raises(ValueError, match="aggregate_risk=False"):
        hm.solve(LinearQuadratic(aggregate_risk=True), method="dp")
