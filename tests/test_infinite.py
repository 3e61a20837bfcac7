"""(R)SPG on infinite-horizon economies: starting distributions, a memory warmed on the signal history,
a continuation value after the truncation, a warm start, and impulse responses from the ergodic set.

Oracles: autodiff of the backward induction (the structural gradient with a warmed memory and a
continuation value), the game's own rollout (ergodic starts), the stationary savings rule scored on the
same starts and noise paths (a warm-started RSPG must not be worse), and the s.d. over paths (IRF
standard errors).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hetmacro as hm
from hetmacro.mfg import infinite
from hetmacro.mfg import starts as st
from hetmacro.mfg.exploitability import policy_exploitability
from hetmacro.mfg.policies import NetworkPolicy, PolicyNetwork, state_features
from hetmacro.mfg.training import forward_flow, structural_gradient
from hetmacro.models import BeachBar, KrusellSmith, LinearQuadratic

QUIET = {"progress": False}


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _path(tree, t):
    return jax.tree.map(lambda x: x[t], tree)


def test_gradient_with_a_warmed_memory_and_a_continuation_equals_autodiff(x64):
    """The adjoint gradient flows through the memory's warm-up on the history and uses the
    continuation value after the last date: equal to autodiff of the backward induction."""
    game = hm.compile(BeachBar(n_cells=21, T=6, closure_date=3))
    rng = np.random.default_rng(0)
    game = game.with_continuation(rng.normal(size=(game.n, game.m)))
    feats = jnp.asarray(state_features(game))
    u = (np.asarray(game.actions.edges) - game.actions.low) / (game.actions.high - game.actions.low)
    d = game.signal(game.reset(jax.random.PRNGKey(0))).shape[0]
    net = PolicyNetwork(feats.shape[1], d, game.A, u, game.T, recurrent=True, head="kumaraswamy", width=16,
                        hidden=8, key=jax.random.PRNGKey(1))  # fmt: skip
    net = jax.tree.map(lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, net)
    E, L = 3, 4
    mu = rng.dirichlet(np.ones(game.S), E).reshape(E, game.n, game.m)
    hist = jnp.asarray(rng.normal(size=(E, L, d)))
    zs = jax.vmap(lambda k: game.noise_path(k, game.T))(jax.random.split(jax.random.PRNGKey(3), E))
    w = jnp.asarray([0.2, 0.3, 0.5])
    starts = (jnp.asarray(mu), hist)
    J, _, grads, ok = eqx.filter_jit(structural_gradient)(net, game, feats, zs, w, starts=starts)
    params, static = eqx.partition(net, eqx.is_inexact_array)

    def direct(p):
        n = eqx.combine(p, static)
        sp = n.state_part(feats)

        def one(z, w_e, mu0, h_e):
            aggs, signals, _, _, _, _ = forward_flow(n, game, sp, z, start=(mu0, h_e))
            h = n.signal.initial_carry(jnp.float64)
            for k in range(L):  # the warm-up, written out
                h, _ = n.signal.step(h, h_e[k], 0)

            def fwd(h, xs):
                return n.signal.step(h, *xs)

            _, svs = jax.lax.scan(fwd, h, (signals, jnp.arange(game.T)))

            def body(v, xs):
                agg, nxt, sv = xs
                pi = n.probs(sp, sv).reshape(game.n, game.m, game.A)
                return jnp.sum(pi * game.q_values(agg, nxt, v), -1), None

            now = jax.tree.map(lambda x: x[:-1], aggs)
            nxt = jax.tree.map(lambda x: x[1:], aggs)
            v0, _ = jax.lax.scan(body, game.terminal_value(_path(aggs, -1)), (now, nxt, svs), reverse=True)
            return w_e * jnp.sum(aggs.mu[0] * v0)

        return jnp.sum(jax.vmap(one)(zs, w, *starts))

    J_direct, g_direct = jax.jit(jax.value_and_grad(direct))(params)
    assert bool(ok[0]) and bool(ok[1])
    np.testing.assert_allclose(float(J), float(J_direct), rtol=1e-12)
    flat = lambda g: np.concatenate([np.ravel(x) for x in jax.tree.leaves(g)])  # noqa: E731
    g_sig = flat(grads.signal)
    assert np.abs(g_sig).max() > 0  # the warm-up's parameters do receive a gradient
    np.testing.assert_allclose(
        flat(grads), flat(g_direct), atol=1e-10 * max(1.0, np.abs(flat(g_direct)).max())
    )


def test_continuation_value_replaces_the_terminal_value():
    game = hm.compile(LinearQuadratic(n_states=11, T=4))
    agg = game.reset(jax.random.PRNGKey(0))
    V = np.arange(game.S, dtype=np.float64).reshape(game.n, game.m)
    np.testing.assert_allclose(np.asarray(game.with_continuation(V).terminal_value(agg)), V)
    assert game.with_continuation(V).with_continuation(None).continuation is None
    with pytest.raises(ValueError, match="one value per state"):
        game.with_continuation(np.zeros(3))
    with pytest.raises(ValueError, match="not finite"):
        game.with_continuation(np.full((game.n, game.m), np.nan))


@pytest.mark.parametrize(
    "mu, message",
    [
        (np.ones((3, 4)), r"shape \(n, m\)"),
        (-np.ones((11, 1)) / 11, "negative mass"),
        (np.ones((11, 1)), "must sum to one"),
        (np.full((2, 11, 1), np.nan), "non-finite"),
    ],
)
def test_bad_initial_distributions_are_refused(mu, message):
    game = hm.compile(LinearQuadratic(n_states=11, T=4, aggregate_risk=False))
    with pytest.raises(ValueError, match=message):
        st.given_starts(game, mu)
    with pytest.raises(ValueError, match=message):
        hm.solve(
            LinearQuadratic(n_states=11, T=4, aggregate_risk=False),
            method="rspg",
            initial=mu,
            iterations=1,
            **QUIET,
        )


@pytest.fixture(scope="module")
def ks():
    """A small Krusell-Smith economy (AR(1) TFP), its game with the stationary continuation value, the
    stationary solution and ergodic starts under the stationary savings rule."""
    with jax.enable_x64(True):
        model = KrusellSmith.from_calibration("krusell_smith_1998:ssj", grid_kind="geometric", n_a=40)
        game = hm.compile(model)
        stat = infinite.stationary_solution(model, game)
        game = game.with_continuation(stat.values)
        rule, carry = infinite.stationary_policy(game, stat)
        first = st.stationary_start(game, stat)
        starts = st.ergodic_starts(
            game, rule, carry, jax.random.PRNGKey(5), 6, start=first, burn_in=60, spacing=5, warmup=20
        )
    return model, game, stat, rule, starts


def test_ergodic_starts_are_the_simulation_at_their_dates(ks, x64):
    model, game, stat, rule, starts = ks
    assert starts.mu.shape == (6, game.n, game.m) and starts.history.shape[:2] == (6, 20)
    np.testing.assert_allclose(np.asarray(starts.mu.sum(axis=(1, 2))), 1.0, atol=1e-12)
    flow = game.rollout(jax.random.PRNGKey(5), rule, None, T=90, agg0=game.aggregate_state(
        jnp.asarray(stat.stationary), jax.tree.map(jnp.zeros_like, starts.z[0]), 0))  # fmt: skip
    np.testing.assert_allclose(np.asarray(starts.mu[0]), np.asarray(flow.aggs.mu[65]), atol=1e-14)
    np.testing.assert_allclose(np.asarray(starts.z[2]), np.asarray(flow.aggs.z[75]), atol=1e-14)
    sig = jax.vmap(game.signal)(jax.tree.map(lambda x: x[45:65], flow.aggs))
    np.testing.assert_allclose(np.asarray(starts.history[0]), np.asarray(sig), atol=1e-14)
    assert float(jnp.std(starts.z)) > 0  # the economy moved with aggregate shocks


@pytest.mark.slow
def test_warm_started_rspg_improves_on_the_stationary_rule_from_the_ergodic_set(ks, x64, tmp_path):
    """Trained from ergodic starts with the stationary continuation value and warm-started on the
    stationary savings rule, RSPG's exploitability on the same starts and noise paths is below the
    rule's. On this economy the rule scores 0.028 with geometric consumption shares (0.08 with equal
    cells, where most of it was the cells' coarseness); RSPG after 15 iterations 0.020, after 40 0.0054."""
    model, game, stat, rule, starts = ks
    sol = hm.solve(model, method="rspg", horizon=20, iterations=40, eval_paths=4, keep_paths=1, n_starts=16,
                   burn_in=60, spacing=5, warmup=20, init_steps=200, **QUIET)  # fmt: skip
    r = sol.result
    assert (
        r.initial == "ergodic (stationary)"
        and r.continuation == "stationary"
        and r.init_policy == "stationary"
    )
    assert r.interior_until == 10 and r.exploitability_interior <= sol.exploitability + 1e-12
    keys = jax.random.split(jax.random.PRNGKey(11), 6)
    e_rule, _ = policy_exploitability(game, rule, None, starts, keys, 20)
    e_rspg, _ = policy_exploitability(game, sol.policy, None, starts, keys, 20)
    assert e_rspg.mean() < 0.5 * e_rule.mean(), (e_rspg.mean(), e_rule.mean())
    # Impulse responses start where the policy was evaluated, with standard errors over paths.
    irf = sol.irf("z", 0.01, horizon=8, paths=6, se=True)
    assert irf.attrs["starts"] == "ergodic"
    dev = irf["K (%)"].to_numpy()
    assert dev[0] == 0 and np.all(dev[1:] > 0)  # capital rises after a TFP rise
    assert np.all(irf["K (%) se"].to_numpy()[1:] > 0)
    # Saved and reloaded, the Solution keeps its starts and its continuation value: the same IRF, the
    # same exploitability of its policy (before, a reloaded RSPG started from the model's distribution).
    back = hm.load(sol.save(tmp_path / "ks.hmx"))
    assert back.result.starts.kind == "ergodic"
    np.testing.assert_array_equal(np.asarray(back.result.starts.mu), np.asarray(sol.result.starts.mu))
    np.testing.assert_array_equal(np.asarray(back.game.continuation), np.asarray(sol.game.continuation))
    pd.testing.assert_frame_equal(back.irf("z", 0.01, horizon=8, paths=6, se=True), irf)


def test_init_policy_from_another_model_is_refused(x64):
    model = KrusellSmith.from_calibration("krusell_smith_1998:ssj", grid_kind="geometric", n_a=40)
    other = hm.solve(LinearQuadratic(n_states=11, T=4, aggregate_risk=False), method="dp")
    with pytest.raises(ValueError, match="another game"):
        hm.solve(model, method="rspg", horizon=10, iterations=1, init_policy=other, n_starts=2, burn_in=40,
                 warmup=10, **QUIET)  # fmt: skip


def test_network_policy_warms_its_memory_on_a_history(x64):
    game = hm.compile(LinearQuadratic(n_states=11, T=4))
    d = int(game.signal(game.reset(jax.random.PRNGKey(0))).shape[0])
    u = (np.asarray(game.actions.edges) - game.actions.low) / (game.actions.high - game.actions.low)
    spec = {"n_features": 1, "d_signal": d, "n_actions": game.A, "u_edges": [float(x) for x in u], "horizon": 4,
            "width": 8, "hidden": 8}  # fmt: skip
    pol = NetworkPolicy.from_spec(game, **spec)
    hist = jnp.ones((3, d))
    h = pol.init_carry()
    for k in range(3):
        h, _ = pol.network.signal.step(h, hist[k], 0)
    np.testing.assert_allclose(np.asarray(pol.carry_after(hist)), np.asarray(h), atol=1e-12)


def test_signal_standardisation_is_fixed_and_survives_the_spec(x64):
    """The ergodic set's signal centre and scale are applied before the GRU, are not trained (static),
    and a network rebuilt from its spec (a saved Solution) applies the same."""
    kw = dict(recurrent=True, time_feature=False, horizon=10, key=jax.random.PRNGKey(0))
    plain = hm.policies.SignalEncoder(2, 8, 4, 1, **kw)
    std = hm.policies.SignalEncoder(2, 8, 4, 1, signal_center=[1.0, 2.0], signal_scale=[0.01, 0.5], **kw)
    o = jnp.asarray([1.02, 1.5])
    h0 = plain.initial_carry(jnp.float64)
    np.testing.assert_allclose(
        np.asarray(std.step(h0, o, 0)[1]),
        np.asarray(plain.step(h0, jnp.asarray([2.0, -1.0]), 0)[1]),
        atol=1e-12,
    )
    leaves = lambda m: jax.tree.leaves(eqx.filter(m, eqx.is_inexact_array))  # noqa: E731
    assert len(leaves(std)) == len(leaves(plain)) and isinstance(std.signal_center, tuple)  # nothing to train
    game = hm.compile(LinearQuadratic(n_states=11, T=4))
    d = int(game.signal(game.reset(jax.random.PRNGKey(0))).shape[0])
    u = (np.asarray(game.actions.edges) - game.actions.low) / (game.actions.high - game.actions.low)
    spec = {"n_features": 1, "d_signal": d, "n_actions": game.A, "u_edges": [float(x) for x in u], "horizon": 4,
            "signal_center": [0.5] * d, "signal_scale": [2.0] * d}  # fmt: skip
    pol = NetworkPolicy.from_spec(game, **spec)
    assert pol.network.signal.signal_center == (0.5,) * d and pol.spec()["signal_scale"] == [2.0] * d


@pytest.mark.slow
def test_a_warm_start_on_the_linear_rule(x64):
    """init_policy="linear" solves the model's first-order rule and fits the network to it before training:
    the fitted network's impulse response to a 1% TFP shock is the linear one (before any training step);
    names other than "stationary" and "linear" are refused before any work."""
    with pytest.raises(ValueError, match="init_policy"):
        hm.RSPG(init_policy="ks")
    model = KrusellSmith.from_calibration("krusell_smith_1998:ssj", grid_kind="geometric", n_a=40)
    sol = hm.solve(model, method="rspg", horizon=12, iterations=1, lr=1e-12, init_policy="linear",
                   ergodic_policy="linear", n_starts=8, burn_in=60, warmup=20, init_steps=400, eval_paths=4,
                   keep_paths=1, **QUIET)  # fmt: skip
    assert sol.result.init_policy == "Solution(linear)" and sol.result.initial == "ergodic (Solution(linear))"
    lin = hm.solve(model, method="linear", horizon=10).result.irf
    own = sol.irf("z", 0.01, horizon=10, paths=8)
    gap = {
        col: np.abs(own[col].to_numpy()[:4] - lin[col].to_numpy()[:4]) / np.max(np.abs(lin[col].to_numpy()))
        for col in ("C (%)", "K (%)", "r (pp)")
    }  # first 4 quarters, as a share of the linear peak (measured: at most 3%, 3%, 2%)
    assert gap["C (%)"][0] < 0.05 and gap["K (%)"].max() < 0.05 and gap["r (pp)"].max() < 0.05, gap


@pytest.mark.slow
def test_training_starts_redrawn_under_the_networks_own_policy(x64):
    """refresh_starts=k: every k iterations the training starts are a new simulation of the economy under
    the network being trained, from the latest previous start; same shapes (nothing recompiles), each a
    distribution, and the result says so."""
    from hetmacro.mfg import rspg as rspg_module
    from hetmacro.mfg.training import compiled_chunk

    model = KrusellSmith.from_calibration("krusell_smith_1998:ssj", grid_kind="geometric", n_a=40)
    options = dict(horizon=10, iterations=4, n_starts=4, burn_in=40, spacing=5, warmup=10, init_steps=50,
                   eval_paths=2, keep_paths=1, **QUIET)  # fmt: skip
    config = hm.RSPG(refresh_starts=2, **options)
    setup = rspg_module.configure(model, config)
    old = setup.trainer.starts
    new = rspg_module._redrawn_starts(setup, setup.params, 2).starts
    assert new.mu.shape == old.mu.shape and new.history.shape == old.history.shape
    np.testing.assert_allclose(np.asarray(new.mu).sum(axis=(1, 2)), 1.0, atol=1e-10)
    assert np.all(np.asarray(new.mu) >= 0) and not np.allclose(np.asarray(new.mu), np.asarray(old.mu))
    # the first re-drawn start is the network's own rollout from the last old start, at date burn_in + spacing
    policy = NetworkPolicy(
        eqx.combine(setup.params, setup.static), setup.features, setup.game, setup.net_spec
    )
    last = old.take(np.asarray([old.size - 1]))
    key = jax.random.fold_in(jax.random.fold_in(setup.k_train, 7), 2)
    flow = setup.game.rollout(key, policy, policy.carry_after(last.history[0]), T=45,
                              agg0=setup.game.aggregate_state(last.mu[0], jax.tree.map(lambda z: z[0], last.z), 0))  # fmt: skip
    np.testing.assert_allclose(np.asarray(new.mu[0]), np.asarray(flow.aggs.mu[45]), atol=1e-12)
    compiled_chunk(setup.trainer, setup.params, setup.opt_state, setup.k_train, 1)
    trainer2 = eqx.tree_at(lambda t: t.starts, setup.trainer, new)
    assert compiled_chunk(trainer2, setup.params, setup.opt_state, setup.k_train, 1)[1] == 0.0  # no compile
    sol = hm.solve(model, method="rspg", refresh_starts=2, **options)
    assert "re-drawn every 2 iterations" in sol.result.initial
    with pytest.raises(ValueError, match="refresh_starts = 0 must be positive"):
        hm.RSPG(refresh_starts=0)
