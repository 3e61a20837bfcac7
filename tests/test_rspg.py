"""RSPG and SPG (``hm.solve(model, method="rspg" | "spg")``): action heads, the structural gradient,
the noise tree and the non-anticipative best response, and what the solvers must show.

Oracles: scipy's regularised incomplete beta and a numerical integral for the action heads;
``jax.grad`` through the backward induction (the reference code's way) for the adjoint gradient; the
DP tools (exact equilibrium, best response, exploitability) for the trained policies; a per-branch
DP computation for the non-anticipative exploitability of the LQ game.

Sizes are the paper's games (LQ 99 x 7, Beach Bar 101 x 11, T = 30) with few iterations, and a
small macro economy; runs are shared through module fixtures. Seeds are fixed.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

import hetmacro as hm
from hetmacro.mfg.dp import best_response, exploitability, policy_value
from hetmacro.mfg.exploitability import _branches, enumerate_noise_paths
from hetmacro.mfg.policies import (
    NetworkPolicy,
    PolicyNetwork,
    beta_cell_probs,
    kumaraswamy_cell_probs,
    kumaraswamy_median_cell_probs,
    scale_values,
    state_features,
)
from hetmacro.mfg.rspg import default_options
from hetmacro.mfg.training import forward_flow, structural_gradient
from hetmacro.models import BeachBar, LinearQuadratic

QUIET = {"progress": False}


def _path(tree, p=0):
    """One path of a Flow (or any pytree) with a leading path axis, as JAX arrays."""
    return jax.tree.map(lambda x: jnp.asarray(x[p]), tree)


def _optimal_share(sol, tol: float):
    """Mass-weighted share of the policy on actions within ``tol`` of the best response's Q, along the
    first evaluation flow: sum_t sum_s mu_t(s) sum_a pi_t(a|s) 1{Q*_t(s, a) >= max Q*_t(s) - tol} / T."""
    game, flow = sol.game, _path(sol.flows)
    v_br, _ = best_response(game, flow)
    share = 0.0
    for t in range(game.T):
        agg, nxt = _path(flow.aggs, t), _path(flow.aggs, t + 1)
        q = np.asarray(game.q_values(agg, nxt, v_br[t + 1]))
        good = q >= q.max(-1, keepdims=True) - tol
        share += float(np.sum(np.asarray(flow.aggs.mu[t])[..., None] * np.asarray(flow.pi[t]) * good))
    return share / game.T


# --- action heads -------------------------------------------------------------------------------------------


def test_kumaraswamy_cells_are_exact_ordinal_distributions():
    u = jnp.linspace(0.0, 1.0, 21)
    a = jnp.asarray([1.0, 1.7, 3.0, 8.0, 40.0])
    b = jnp.asarray([1.0, 2.5, 3.0, 1.2, 60.0])
    p = np.asarray(kumaraswamy_cell_probs(a, b, u), np.float64)
    assert p.shape == (5, 20) and p.min() >= 0.0
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-6)
    # Exact cell masses: F(u) = 1 - (1 - u^a)^b in closed form, checked in float64.
    uu = np.linspace(0.0, 1.0, 21)
    for k in range(5):
        F = 1.0 - (1.0 - uu ** float(a[k])) ** float(b[k])
        np.testing.assert_allclose(p[k], np.diff(F), atol=2e-6)
    # Ordinal: unimodal over the ordered cells (a, b >= 1), and raising a moves mass to the right
    # (first-order stochastic dominance: the CDF falls everywhere).
    for k in range(5):
        d = np.sign(np.diff(p[k])[np.abs(np.diff(p[k])) > 1e-6])
        assert np.sum(d[1:] != d[:-1]) <= 1, p[k]
    cdf = np.cumsum(
        np.asarray(kumaraswamy_cell_probs(jnp.asarray([2.0, 4.0]), jnp.asarray([3.0, 3.0]), u)), -1
    )
    assert np.all(cdf[1, :-1] <= cdf[0, :-1] + 1e-7)


def test_median_parameterised_kumaraswamy_is_the_same_family_and_concentrates(x64):
    u = jnp.linspace(0.0, 1.0, 21)
    m = np.array([0.5, 0.15, 0.3, 0.8, 0.95])
    a = np.array([2.0, 3.0, 8.0, 1.5, 1.2])
    p = np.asarray(kumaraswamy_median_cell_probs(jnp.log(jnp.asarray(m)), jnp.asarray(a), u))
    # Same family: b from the closed-form median m = (1 - 2^(-1/b))^(1/a).
    b = -np.log(2.0) / np.log1p(-(m**a))
    q = np.asarray(kumaraswamy_cell_probs(jnp.asarray(a), jnp.asarray(b), u))
    np.testing.assert_allclose(p, q, atol=1e-12)
    # m is the median: the CDF at an edge placed at m is 1/2.
    edges = jnp.asarray([0.0, 0.37, 1.0])
    half = kumaraswamy_median_cell_probs(jnp.log(jnp.full(3, 0.37)), jnp.asarray([1.0, 5.0, 300.0]), edges)
    np.testing.assert_allclose(np.asarray(half)[:, 0], 0.5, atol=1e-12)
    # Precision on a log scale: at a = 400, m^a ~ 1e-330 underflows, yet the cell holding m gets
    # (almost) all the mass, the masses stay a distribution and the gradient in log m is finite.
    conc = np.asarray(kumaraswamy_median_cell_probs(jnp.log(jnp.asarray(0.12)), jnp.asarray(400.0), u))
    assert conc[2] > 0.99 and abs(conc.sum() - 1.0) < 1e-12
    g = jax.grad(lambda lm: kumaraswamy_median_cell_probs(lm, jnp.asarray(40.0), u)[2])(jnp.log(0.14))
    assert np.isfinite(float(g)) and float(g) < 0.0  # moving m right, towards the edge 0.15, loses mass


def test_kumaraswamy_head_gradients_stay_finite_at_extreme_outputs():
    # float32, as trained: every (median, shape) output from saturated-low to saturated-high.
    head = hm.policies.ActionHead(4, 20, "kumaraswamy", np.linspace(0.0, 1.0, 21), 0, key=jax.random.key(0))
    ys = jnp.asarray(
        [[y0, y1] for y0 in (-40.0, -5.0, -1.7, 0.0, 3.0, 12.0, 40.0) for y1 in (-20.0, 0.0, 4.0, 40.0)]
    )
    p = head.distribution(ys)
    np.testing.assert_allclose(np.asarray(p).sum(-1), 1.0, atol=1e-5)
    g = jax.grad(lambda y: jnp.sum(head.distribution(y) * jnp.arange(20.0)))(ys)
    assert np.all(np.isfinite(np.asarray(g)))


def test_beta_cells_exact_with_quadrature_gradients(x64):
    # float64: the masses are betainc's to rounding (in float32, to ~1e-5: differences of CDFs ~0.5).
    u = jnp.linspace(0.0, 1.0, 21)
    a = jnp.asarray([1.0, 1.5, 4.0, 20.0])
    b = jnp.asarray([1.0, 6.0, 4.0, 9.0])
    p = np.asarray(beta_cell_probs(a, b, u), np.float64)
    exact = np.diff(
        scipy.special.betainc(np.asarray(a)[:, None], np.asarray(b)[:, None], np.linspace(0, 1, 21))
    )
    np.testing.assert_allclose(p, exact, atol=1e-12)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-12)
    # Gradients in (a, b) are finite and agree with central differences of the exact masses.
    w = jnp.linspace(-1.0, 1.0, 20)

    def f(a, b):
        return jnp.sum(beta_cell_probs(a, b, u) * w)

    ga, gb = jax.grad(lambda a, b: jnp.sum(jax.vmap(f)(a, b)), argnums=(0, 1))(a, b)
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb))
    h = 1e-4
    for k in range(4):
        fa = [
            np.sum(
                np.diff(scipy.special.betainc(float(a[k]) + s, float(b[k]), np.linspace(0, 1, 21)))
                * np.asarray(w)
            )
            for s in (h, -h)
        ]
        assert abs(float(ga[k]) - (fa[0] - fa[1]) / (2 * h)) < 2e-3 * max(1.0, abs(float(ga[k])))


def test_categorical_and_continuous_heads_sum_to_one_on_a_policy_network():
    u = np.linspace(0.0, 1.0, 8)
    feats = jnp.linspace(-1.0, 1.0, 10)[:, None]
    for head in ("categorical", "kumaraswamy"):  # the Beta head: test_beta_cells_exact_...
        net = PolicyNetwork(1, 2, 7, u, 5, head=head, width=16, hidden=8, key=jax.random.PRNGKey(0))
        sp = net.state_part(feats)
        _, sv = net.signal.step(net.signal.initial_carry(), jnp.ones(2), 0)
        p = np.asarray(eqx.filter_jit(lambda n, s, v: n.probs(s, v))(net, sp, sv))
        assert p.shape == (10, 7) and p.min() >= 0.0
        np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)


# --- state features -------------------------------------------------------------------------------------


def test_state_features_use_the_papers_log_scaling_on_geometric_grids():
    pts = hm.geometric_grid(0.0, 99.0, 200, 0.25)
    lin, log = scale_values(pts).T
    np.testing.assert_allclose(lin, pts / 99.0, atol=1e-12)
    # mfax_spec.md §C3: u = log((k + 0.25) / 0.25) / log(99.25 / 0.25).
    np.testing.assert_allclose(log, np.log((pts + 0.25) / 0.25) / np.log(99.25 / 0.25), atol=1e-3)
    assert scale_values(np.arange(99.0)).shape == (99, 1)  # uniform grid: linear only
    game = hm.compile(LinearQuadratic())
    f = state_features(game)
    assert f.shape == (99, 1) and f.min() == -1.0 and f.max() == 1.0


# --- the structural gradient ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, head, recurrent",
    [
        (BeachBar(n_cells=21, T=6, closure_date=3), "kumaraswamy", True),
        pytest.param(LinearQuadratic(n_states=11, T=6), "categorical", False, marks=pytest.mark.slow),
        pytest.param(BeachBar(n_cells=21, T=6, closure_date=3), "beta", True, marks=pytest.mark.slow),
    ],
)
def test_adjoint_gradient_equals_autodiff_of_backward_induction(x64, model, head, recurrent):
    game = hm.compile(model)
    feats = jnp.asarray(state_features(game))
    u = (np.asarray(game.actions.edges) - game.actions.low) / (game.actions.high - game.actions.low)
    d = game.signal(game.reset(jax.random.PRNGKey(0))).shape[0]
    net = PolicyNetwork(
        feats.shape[1],
        d,
        game.A,
        u,
        game.T,
        recurrent=recurrent,
        head=head,
        width=16,
        hidden=8,
        time_feature=not recurrent,
        state_table=game.S,
        key=jax.random.PRNGKey(1),
    )
    net = jax.tree.map(lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, net)
    net = eqx.tree_at(
        lambda n: (n.head.out.weight, n.encoder.table),
        net,
        (net.head.out.weight * 100, jnp.linspace(-1, 1, game.S * 16).reshape(game.S, 16)),
    )
    zs = jax.vmap(lambda k: game.noise_path(k, game.T))(jax.random.split(jax.random.PRNGKey(3), 3))
    w = jnp.asarray([0.2, 0.3, 0.5])
    J, J_br, grads, ok = eqx.filter_jit(structural_gradient)(net, game, feats, zs, w)
    params, static = eqx.partition(net, eqx.is_inexact_array)

    def direct(p):  # the reference code's way: autodiff through the backward induction, flow fixed
        n = eqx.combine(p, static)
        sp = n.state_part(feats)

        def one(z, w_e):
            aggs, signals, _, _, _, _ = forward_flow(n, game, sp, z)
            svs = n.signal.sequence(signals, jnp.arange(game.T))

            def body(v, xs):
                agg, nxt, sv = xs
                pi = n.probs(sp, sv).reshape(game.n, game.m, game.A)
                return jnp.sum(pi * game.q_values(agg, nxt, v), -1), None

            now = jax.tree.map(lambda x: x[:-1], aggs)
            nxt = jax.tree.map(lambda x: x[1:], aggs)
            v0, _ = jax.lax.scan(body, game.terminal_value(_path(aggs, -1)), (now, nxt, svs), reverse=True)
            return w_e * jnp.sum(aggs.mu[0] * v0)

        return jnp.sum(jax.vmap(one)(zs, w))

    J_direct, g_direct = jax.jit(jax.value_and_grad(direct))(params)
    assert bool(ok[0]) and bool(ok[1])
    np.testing.assert_allclose(float(J), float(J_direct), rtol=1e-12)
    flat = lambda g: np.concatenate([np.ravel(x) for x in jax.tree.leaves(g)])  # noqa: E731
    np.testing.assert_allclose(
        flat(grads), flat(g_direct), atol=1e-10 * max(1.0, np.abs(flat(g_direct)).max())
    )
    assert float(J_br) >= float(J) - 1e-9


# --- the noise tree -----------------------------------------------------------------------------------------


def test_enumerate_noise_paths_of_the_papers_games():
    lq = hm.compile(LinearQuadratic())
    zs, p = enumerate_noise_paths(lq)
    assert zs.shape == (2, 31) and np.allclose(np.asarray(p), 0.5)
    assert set(np.asarray(zs[:, 0]).tolist()) == {0, 1} and np.all(np.asarray(zs) == np.asarray(zs[:, :1]))
    bb = hm.compile(BeachBar())
    zs, p = enumerate_noise_paths(bb)
    assert np.asarray(p).shape == (102,) and abs(float(p.sum()) - 1.0) < 1e-6
    closed = np.asarray(zs["closed"])
    assert np.all(closed[:, :15] == 0) and set(closed[:, 15].tolist()) == {0, 1}
    assert np.all(closed[:, 15:] == closed[:, 15:16])
    # Every sampled path is one of the branches.
    for k in range(5):
        z = bb.noise_path(jax.random.PRNGKey(k), 30)
        match = (np.asarray(zs["bar"]) == np.asarray(z["bar"])) & (closed == np.asarray(z["closed"]))
        assert match.all(axis=1).sum() == 1
    assert _branches(hm.AR1(0.9, 0.03), 4, 256) is None  # continuous noise: no tree
    chain = hm.MarkovChain([[0.9, 0.1], [0.2, 0.8]], [0.5, 0.5])
    assert len(_branches(chain, 3, 256)) == 16
    assert _branches(chain, 10, 256) is None  # more than max_branches


# --- LQ without common noise: RSPG / SPG reach the DP equilibrium ------------------------------------------


@pytest.fixture(scope="module")
def lq_runs():
    model = LinearQuadratic(aggregate_risk=False, timing="textbook")
    return {
        "dp": hm.solve(model, method="dp"),
        "rspg": hm.solve(model, method="rspg", iterations=200, **QUIET),
        "spg": hm.solve(model, method="spg", iterations=200, **QUIET),
    }


@pytest.mark.slow  # 26 s
def test_macro_game_without_noise_rspg_nears_the_dp_equilibrium_and_spends_at_the_end():
    """The paper's macro game without TFP noise, reduced (50 wealth points, T = 32): DP gives the exact
    equilibrium, an independent target. RSPG gets close to it, and, as the paper finds with noise,
    learns to spend near the horizon's end, which the memoryless SPG cannot express: at the end
    RSPG's consumption share and interest rate are higher and its wage lower than SPG's."""
    from hetmacro.models import Aiyagari

    model = Aiyagari.from_calibration("mfax_macro", aggregate_risk=False, n_a=50, T=32)
    dp = hm.solve(model, method="dp")
    runs = {m: hm.solve(model, method=m, iterations=60, seed=0, **QUIET) for m in ("rspg", "spg")}
    r_dp, T = dp.paths()["r"].to_numpy(), model.T
    first = float(runs["rspg"].history()["eval_exploitability"].iloc[0])
    assert dp.exploitability < 1e-6
    assert runs["rspg"].exploitability < 0.02 * first  # falls 50-fold in 60 iterations
    r = {m: s.paths()["r"].to_numpy() for m, s in runs.items()}
    w = {m: s.paths()["w"].to_numpy() for m, s in runs.items()}
    assert np.mean(np.abs(r["rspg"] - r_dp)[: T - 4]) < 0.005  # away from the end, on the DP path
    shares = np.asarray(runs["rspg"].game.actions.values, np.float64)

    def share(sol, t):
        pi, mu = np.asarray(sol.flows.pi[0, t], np.float64), np.asarray(sol.flows.aggs.mu[0, t], np.float64)
        return float(np.sum(mu * (pi @ shares)))

    assert share(runs["rspg"], T - 2) > share(runs["spg"], T - 2) + 0.05
    assert share(runs["rspg"], T - 2) > share(runs["rspg"], T // 2) + 0.05  # a rise, not a level
    assert r["rspg"][T - 1] > r["spg"][T - 1] + 0.01 and w["rspg"][T - 1] < w["spg"][T - 1]
    assert r_dp[T - 1] > r["rspg"][T - 1] > r_dp[T // 2]  # towards the equilibrium's end rise


@pytest.mark.parametrize("method", ["rspg", "spg"])
def test_lq_without_common_noise_reaches_the_dp_equilibrium(lq_runs, method):
    """Exploitability (exact here) within 0.05 of DP's (which is ~1e-13), i.e. 5e-5 of |J| ~ 931.

    The value agrees with DP's to 1.0 (0.1%): this coordination game has equilibria that differ only
    in how households exactly at the mean break the tie between neighbouring cells, which moves the
    mean by up to half a cell (DP's argmax keeps it at 49); every one of them has exploitability 0.
    The policy puts at least 99% of its mass (weighted by the flow) on actions that are optimal
    against its own flow, as the exact DP best response computes them.
    """
    dp, sol = lq_runs["dp"], lq_runs[method]
    assert sol.exploitability_kind.startswith("exact")
    assert abs(dp.exploitability) < 1e-7
    assert sol.exploitability <= dp.exploitability + 0.05
    j_dp = float(dp.history()["return"].iloc[-1])
    assert abs(sol.result.policy_return - j_dp) <= 1.0
    assert _optimal_share(sol, tol=1e-3) >= 0.99
    # Training reduced exploitability from the uniform policy's ~4800 by five orders of magnitude.
    hist = sol.history()
    assert hist["exploitability"].iloc[0] > 4000
    assert list(hist.columns[:7]) == [
        "iteration",
        "return",
        "exploitability",
        "best_response_return",
        "learning_rate",
        "grad_norm",
        "seconds",
    ]
    np.testing.assert_allclose(
        hist["learning_rate"].iloc[[0, -1]], [1e-2, 1e-2 * (1 - 0.9 * 199 / 200)], rtol=1e-5
    )


def test_lq_solution_agrees_with_the_dp_tools_and_rolls_out(lq_runs):
    sol = lq_runs["rspg"]
    game = sol.game
    flow = _path(sol.flows)
    expl, ret, _ = exploitability(game, flow)
    np.testing.assert_allclose(float(expl), sol.exploitability, atol=1e-3)
    np.testing.assert_allclose(float(ret), sol.result.policy_return, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(policy_value(game, flow)), sol.values[0], rtol=1e-5, atol=1e-3)
    # The returned network is a game.rollout policy that regenerates the stored flow.
    assert isinstance(sol.policy, NetworkPolicy)
    again = eqx.filter_jit(lambda g, p: g.rollout(jax.random.PRNGKey(0), p, p.init_carry()))(game, sol.policy)
    np.testing.assert_allclose(np.asarray(again.aggs.mu), np.asarray(flow.aggs.mu), atol=1e-6)
    np.testing.assert_allclose(np.asarray(again.pi), np.asarray(flow.pi), atol=1e-6)


@pytest.mark.slow
def test_beach_bar_without_closure_matches_the_dp_optimum():
    # No crowd term and no closure: a single-agent problem with a unique optimal value.
    model = BeachBar(closure=False, bar=50)
    dp = hm.solve(model, method="dp")
    sol = hm.solve(model, method="rspg", iterations=200, **QUIET)
    assert sol.exploitability <= 0.1  # |J| ~ 122
    assert abs(sol.result.policy_return - float(dp.history()["return"].iloc[-1])) <= 0.1
    # The policies move households identically: the flows agree at every date a policy acts on.
    # (Moves that the bar projects onto the same cell differ only in the move cost 1/101 per cell,
    # and the last move only changes mu_T, which no payoff reads.)
    mu, mu_dp = np.asarray(sol.flows.aggs.mu[0]), np.asarray(dp.flows.aggs.mu[0])
    assert np.max(0.5 * np.abs(mu - mu_dp)[:-1].sum(axis=(1, 2))) <= 0.01


# --- Beach Bar with the closure: RSPG anticipates, SPG cannot ------------------------------------------------


@pytest.fixture(scope="module")
def beach_bar_runs():
    model = BeachBar(bar=50)  # the closure coin at t = 15: two branches, trained and scored exactly
    return {m: hm.solve(model, method=m, iterations=200, **QUIET) for m in ("rspg", "spg")}


def _near_bar(sol):
    """Mean distance to the bar and mass adjacent to it by date, on the branch where it stays open."""
    mu = sol.flows.aggs.mu[..., 0]
    open_path = int(np.flatnonzero(np.asarray(sol.flows.aggs.z["closed"])[:, -1] == 0)[0])
    x = np.abs(np.arange(mu.shape[-1]) - 50)
    return (mu[open_path] * x).sum(-1), (mu[open_path] * (x == 1)).sum(-1)


@pytest.mark.slow  # 27 s
def test_beach_bar_rspg_moves_away_before_the_closure_and_spg_stays(beach_bar_runs):
    """The paper's finding. The closure penalty is charged to households next to the bar on the
    transition into date 15; RSPG's households gather next to the bar (date 11), step away before
    date 14 and come back when the bar stays open; SPG's memoryless households see the same signal
    every date and hover at the same distance throughout."""
    dist_r, adj_r = _near_bar(beach_bar_runs["rspg"])
    dist_s, adj_s = _near_bar(beach_bar_runs["spg"])
    assert adj_r[11] > 0.5 and adj_r[14] < 0.1 and dist_r[14] > dist_r[11] + 1.0
    assert adj_r[20] > 0.5  # back at the bar on the branch where it stays open
    assert abs(dist_s[14] - dist_s[11]) < 0.1 and abs(adj_s[14] - adj_s[11]) < 0.02
    # RSPG's anticipation pays: lower (exact, non-anticipative) exploitability than SPG's.
    r, s = beach_bar_runs["rspg"], beach_bar_runs["spg"]
    assert r.result.nonanticipative["exact"] and s.result.nonanticipative["exact"]
    assert r.exploitability < 0.5 * s.exploitability
    for sol in (r, s):
        assert sol.exploitability <= sol.result.exploitability_clairvoyant + 1e-4
        assert sol.exploitability_kind.startswith("non-anticipative, exact over all 2")


@pytest.fixture(scope="module")
def lq_noise_run():
    return hm.solve(LinearQuadratic(), method="rspg", iterations=30, eval_every=10, **QUIET)


def test_nonanticipative_exploitability_against_a_per_branch_dp_oracle(lq_noise_run):
    """LQ with its common noise z = +-1: signals reveal z from date 1 on, so the non-anticipative best
    response is the clairvoyant one from date 1 and, at date 0, max_a sum_z P(z) Q^z_0(s, a)."""
    sol = lq_noise_run
    game = sol.game
    assert sol.result.noise_paths == "exact" and sol.flows.pi.shape[0] == 2
    q0, mu0 = [], None
    for b in range(2):
        flow = _path(sol.flows, b)
        v_br, _ = best_response(game, flow)
        q0.append(np.asarray(game.q_values(_path(flow.aggs, 0), _path(flow.aggs, 1), v_br[1]), np.float64))
        mu0 = np.asarray(flow.aggs.mu[0], np.float64)
    v_na = np.max(0.5 * q0[0] + 0.5 * q0[1], axis=-1)
    ret_na = float(np.sum(mu0 * v_na))
    na = sol.result.nonanticipative
    np.testing.assert_allclose(na["best_response_return"], ret_na, rtol=1e-5)
    assert na["exact"] and sol.exploitability == na["exploitability"]
    assert 0 < na["exploitability"] <= na["clairvoyant_exploitability"]


# --- exploitability falls on every model ------------------------------------------------------------------------


def _small_models():
    from hetmacro.models.aiyagari import Aiyagari
    from hetmacro.models.krusell_smith import KrusellSmith

    return {
        "lq": lambda: LinearQuadratic(),
        "beach_bar": lambda: BeachBar(),
        "macro": lambda: Aiyagari.from_calibration("mfax_macro", n_a=40, T=16),
        "aiyagari": lambda: Aiyagari.from_calibration("aiyagari_1994", n_a=40, n_e=3, T=16),
        "krusell_smith": lambda: KrusellSmith.from_calibration("krusell_smith_1998", n_a=40, T=16),
    }


def _falls(sol):
    ev = sol.result.evaluations
    assert list(ev["iteration"]) == [0, 10, 20, 30]
    assert ev["eval_exploitability"].iloc[-1] < 0.5 * ev["eval_exploitability"].iloc[0]
    assert np.isfinite(sol.exploitability) and sol.exploitability >= -1e-4
    assert sol.flows.aggs.mu.shape[1] == sol.result.horizon + 1
    assert sol.timings["compile"] >= 0 and sol.timings["per_iteration"] > 0


def test_exploitability_falls_on_lq_with_common_noise(lq_noise_run):
    _falls(lq_noise_run)


@pytest.mark.parametrize(
    "name, method, iterations",
    [("macro", "rspg", 30)]
    + [
        # The Beach Bar's closure makes it the slowest game to learn (the reference code goes from
        # 461 to 323 in 20 iterations with 128 paths): it gets 90 iterations to halve.
        pytest.param(n, m, k, marks=pytest.mark.slow)
        for n, m, k in [
            ("beach_bar", "rspg", 90),
            ("krusell_smith", "rspg", 30),
            ("aiyagari", "spg", 30),
            ("lq", "spg", 30),
        ]
    ],
)
def test_exploitability_falls_during_training(name, method, iterations):
    every = iterations // 3
    sol = hm.solve(
        _small_models()[name](), method=method, iterations=iterations, eval_every=every, eval_paths=8, **QUIET
    )
    ev = sol.result.evaluations
    assert list(ev["iteration"]) == [0, every, 2 * every, iterations]
    assert ev["eval_exploitability"].iloc[-1] < 0.5 * ev["eval_exploitability"].iloc[0]
    assert np.isfinite(sol.exploitability) and sol.exploitability >= -1e-4
    assert sol.flows.aggs.mu.shape[1] == sol.result.horizon + 1
    assert sol.timings["compile"] >= 0 and sol.timings["per_iteration"] > 0


@pytest.mark.slow  # shares the Beach Bar runs (27 s) with the finding above
def test_beach_bar_exploitability_falls_with_sampled_paths(beach_bar_runs):
    # (random bars: the fast suite checks the fixed-bar runs' histories; the slow one the full game)
    for sol in beach_bar_runs.values():
        ev = sol.result.evaluations
        assert ev["eval_exploitability"].iloc[-1] < 0.25 * ev["eval_exploitability"].iloc[0]


# --- defaults ----------------------------------------------------------------------------------------------------


def test_defaults_follow_what_the_game_looks_like():
    from hetmacro.models.aiyagari import Aiyagari

    lq, rules = default_options(hm.compile(LinearQuadratic()))
    assert lq["head"] == "categorical" and lq["state_table"] and lq["entropy"] > 0 and lq["paths"] == 8
    assert any("integer moves" in r for r in rules)
    macro, _ = default_options(hm.compile(Aiyagari.from_calibration("mfax_macro", n_a=10, T=4)))
    assert macro["head"] == "kumaraswamy" and not macro["state_table"] and macro["entropy"] == 0
    flat, _ = default_options(hm.compile(LinearQuadratic(aggregate_risk=False)))
    assert flat["paths"] == 1
    with pytest.raises(TypeError, match="unknown option"):
        hm.solve(LinearQuadratic(), method="rspg", learning_rate=1e-3)


# --- NaN, checkpoints --------------------------------------------------------------------------------------------

TINY = {"iterations": 20, "chunk": 5, "eval_every": 0, "keep_paths": 1, "width": 16, "hidden": 16, **QUIET}


def _tiny(**kw):
    return LinearQuadratic(n_states=15, T=6, **kw)


def test_nan_in_the_model_stops_with_the_iteration_and_cause():
    # A NaN parameter is refused when a model is made; one that appears later (here set behind the
    # constructor's back) must still stop training with the iteration and the cause.
    model = eqx.tree_at(lambda m: m.kappa, _tiny(), np.asarray(float("nan")))
    with pytest.raises(
        FloatingPointError, match=r"stopped at iteration 0.*return is not finite.*grid and prices"
    ):
        hm.solve(model, method="rspg", **TINY)


def test_nan_from_a_huge_learning_rate_names_the_learning_rate():
    with pytest.raises(FloatingPointError, match=r"stopped at iteration [1-9]\d*: .*learning rate"):
        hm.solve(_tiny(), method="rspg", **{**TINY, "lr": 1e38})


@pytest.fixture(scope="module")
def tiny_run():
    return hm.solve(_tiny(), method="rspg", **TINY)


def test_checkpoint_resume_reproduces_an_uninterrupted_run(tmp_path, tiny_run):
    path = tmp_path / "run.ckpt"
    full = tiny_run

    def interrupt(row):
        if row["iteration"] >= 9:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        hm.solve(_tiny(), method="rspg", checkpoint=path, callback=interrupt, **TINY)
    assert path.exists() and (tmp_path / "run.ckpt.json").exists()
    resumed = hm.solve(_tiny(), method="rspg", checkpoint=path, **TINY)
    a, b = full.history(), resumed.history()
    assert len(b) == 20 and list(b["iteration"]) == list(range(20))
    np.testing.assert_allclose(b["return"], a["return"], rtol=1e-6)
    leaves = lambda s: jax.tree.leaves(eqx.filter(s.policy.network, eqx.is_array))  # noqa: E731
    for x, y in zip(leaves(full), leaves(resumed), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)
    # A checkpoint written with other settings is refused, naming them.
    with pytest.raises(ValueError, match="lr"):
        hm.solve(_tiny(), method="rspg", checkpoint=path, **{**TINY, "lr": 0.5})


def test_solution_saves_and_loads_with_its_network(tmp_path, tiny_run):
    sol = tiny_run
    sol.save(tmp_path / "rspg.hmx")
    back = hm.load(tmp_path / "rspg.hmx")
    assert isinstance(back.policy, NetworkPolicy)
    np.testing.assert_allclose(back.exploitability, sol.exploitability)
    game = back.game
    agg = game.reset(jax.random.PRNGKey(0))
    _, p1 = sol.policy(sol.policy.init_carry(), agg)
    _, p2 = back.policy(back.policy.init_carry(), agg)
    np.testing.assert_allclose(np.asarray(p1), np.asarray(p2), atol=1e-6)
