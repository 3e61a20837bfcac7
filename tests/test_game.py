"""The compiled Game's operators: mass conservation, adjointness, and a dense-matrix oracle.

The oracle builds the S x S transition matrix of every action by looping over states, actions and
shock atoms in Python, calling only the model's own ``transition``, ``shocks`` and
``chain_transition`` and a separate numpy lottery; ``push``/``expect``/``expect_q`` must agree with
it to rounding (float64).
"""

from __future__ import annotations

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import hetmacro as hm
from hetmacro.models import BeachBar, LinearQuadratic


def _random_cases(game, ops, seed, n_cases=6):
    """Random (mu, pi, v) at random dates of sampled common-noise paths, pushed and pulled in one batch.

    Returns numpy arrays (mu, pi, v, push, expect, expect_q), each with a leading case axis.
    """
    rng = np.random.default_rng(seed)
    T = ops.horizon(game)
    keys = jax.random.split(jax.random.PRNGKey(seed), n_cases)
    ts = jnp.asarray(rng.integers(0, T, n_cases), jnp.int32)
    mu = ops.random_distribution(rng, game, (n_cases,))
    pi = ops.random_policy(rng, game, (n_cases,))
    v = rng.standard_normal((n_cases, game.n, game.m)).astype(game.dtype)
    out = ops.step_cases(game, keys, ts, mu, pi, v)
    return (mu, pi, v) + tuple(np.asarray(x) for x in out)


# --- mass conservation and non-negativity ----------------------------------------------------------


def _check_push_mass(game, ops, tol, seed):
    mu, _, _, pushed, _, _ = _random_cases(game, ops, seed)
    assert pushed.shape == mu.shape and pushed.dtype == game.dtype
    assert np.all(np.isfinite(pushed))
    assert pushed.min() >= 0.0, f"negative mass {pushed.min()}"
    mass_in = mu.astype(np.float64).sum(axis=(1, 2))
    mass_out = pushed.astype(np.float64).sum(axis=(1, 2))
    np.testing.assert_allclose(mass_in, 1.0, atol=tol)
    assert np.max(np.abs(mass_out - mass_in)) <= tol, mass_out - mass_in


def test_push_conserves_mass_float32(game32, ops):
    assert game32.dtype == jnp.float32
    _check_push_mass(game32, ops, 1e-6, seed=0)


def test_push_conserves_mass_float64(game64, ops):
    assert game64.dtype == jnp.float64
    _check_push_mass(game64, ops, 1e-12, seed=1)


def test_rollout_conserves_mass_every_date(game32, ops):
    """Along a sampled noise path under a random time-varying policy, every push keeps mass and sign."""
    T = ops.horizon(game32)
    pi = ops.random_policy(np.random.default_rng(2), game32, (T,))
    flow = ops.rollout_table(game32, jax.random.PRNGKey(3), pi)
    mu = np.asarray(flow.aggs.mu, np.float64)
    assert mu.shape == (T + 1, game32.n, game32.m)
    assert np.all(np.isfinite(mu)) and mu.min() >= 0.0
    mass = mu.sum(axis=(1, 2))
    assert abs(mass[0] - 1.0) <= 1e-6
    assert np.max(np.abs(np.diff(mass))) <= 1e-6, np.diff(mass)
    assert np.asarray(flow.aggs.t).tolist() == list(range(T + 1))


# --- adjointness -------------------------------------------------------------------------------------


def test_push_expect_adjoint(game64, ops):
    """<push(mu), v> = <mu, expect(v)> for random mu, v and policies (float64, to rounding)."""
    mu, pi, v, pushed, ev, q = _random_cases(game64, ops, seed=4)
    lhs = np.sum(pushed * v, axis=(1, 2))
    rhs = np.sum(mu * ev, axis=(1, 2))
    scale = np.max(np.abs(v), axis=(1, 2))
    assert np.all(np.abs(lhs - rhs) <= 1e-12 * scale), lhs - rhs
    # expect is the policy average of expect_q.
    np.testing.assert_allclose(ev, np.sum(pi * q, axis=-1), rtol=0, atol=1e-12 * scale.max())


# --- the dense oracle --------------------------------------------------------------------------------


def _np_lottery(points, x):
    """[(index, weight)] of x on the grid: the two neighbours inside, the end point outside."""
    if x <= points[0]:
        return [(0, 1.0)]
    if x >= points[-1]:
        return [(len(points) - 1, 1.0)]
    i = int(np.searchsorted(points, x, side="right")) - 1
    w = (x - points[i]) / (points[i + 1] - points[i])
    return [(i, 1.0 - w), (i + 1, w)]


def _dense_matrices(model, agg, z_next):
    """M[a] (A, S, S) with M[a][s, s'] = Prob(s' | s, a), s = i * m + j, built by explicit loops."""
    grid, chain, acts = model.grid(), model.chain(), model.actions()
    pts, vals, avals = np.asarray(grid.points), np.asarray(chain.values), np.asarray(acts.values)
    eps, eps_p = (np.asarray(x, np.float64) for x in model.shocks())
    declared = model.chain_transition(agg.z, z_next)
    P = np.asarray(chain.P if declared is None else declared, np.float64)
    n, m, A = pts.size, vals.size, avals.size

    # The model's own transition at every (i, j, a, eps) point, evaluated pointwise (vmap only batches
    # the calls); everything after it (lottery, index layout, chain) is assembled here in numpy.
    points = list(itertools.product(range(n), range(m), range(A), range(eps.size)))
    ii, jj, aa, kk = (np.array(c) for c in zip(*points))

    def next_value(i, j, a, e):
        s = hm.State({grid.name: grid.points[i], chain.name: chain.values[j], "i": i, "j": j})
        return model.transition(s, a, e, agg)

    x_next = np.asarray(jax.jit(jax.vmap(next_value))(ii, jj, avals[aa], eps[kk]), np.float64)

    M = np.zeros((A, n * m, n * m))
    for (i, j, ia, k), x in zip(points, x_next):
        for i2, w in _np_lottery(pts, x):
            for j2 in range(m):
                M[ia, i * m + j, i2 * m + j2] += eps_p[k] * w * P[j, j2]
    return M


@eqx.filter_jit
def _operators(game, mu, pi, v, z, z_next, t):
    """push, expect and expect_q for a batch of cases (leading axis), each at its own (t, z, z')."""

    def one(mu, pi, v, z, z_next, t):
        kern = game.kernel(game.aggregate_state(mu, z, t), z_next)
        return game.push(mu, pi, kern), game.expect(v, pi, kern), game.expect_q(v, kern)

    return jax.vmap(one)(mu, pi, v, z, z_next, t)


def _check_against_dense(game, cases, seed):
    """push, expect and expect_q against the dense matrices at each (t, z, z') of ``cases``."""
    n, m, A, C = game.n, game.m, game.A, len(cases)
    rng = np.random.default_rng(seed)
    mu = rng.dirichlet(np.ones(game.S), C).reshape(C, n, m)
    pi = rng.dirichlet(np.ones(A), (C, n, m))
    v = rng.standard_normal((C, n, m))
    ts = jnp.array([t for t, _, _ in cases], jnp.int32)
    zs = jax.tree.map(lambda *x: jnp.stack(x), *[z for _, z, _ in cases])
    zns = jax.tree.map(lambda *x: jnp.stack(x), *[zn for _, _, zn in cases])
    push, ev, q = (np.asarray(x) for x in _operators(game, mu, pi, v, zs, zns, ts))

    for c, (t, z, z_next) in enumerate(cases):
        M = _dense_matrices(game.model, game.aggregate_state(jnp.asarray(mu[c]), z, t), z_next)
        np.testing.assert_allclose(M.sum(axis=2), 1.0, atol=1e-12)  # the oracle itself is stochastic
        dense_A = np.einsum("sa,ast->st", pi[c].reshape(n * m, A), M)  # A(pi)[s, s']
        np.testing.assert_allclose(push[c].reshape(-1), dense_A.T @ mu[c].reshape(-1), rtol=0, atol=1e-12)
        np.testing.assert_allclose(ev[c].reshape(-1), dense_A @ v[c].reshape(-1), rtol=0, atol=1e-12)
        q_dense = np.einsum("ast,t->sa", M, v[c].reshape(-1))
        np.testing.assert_allclose(q[c].reshape(n * m, A), q_dense, rtol=0, atol=1e-12)


def test_dense_oracle_lq(x64):
    """LQ with 11 positions: the drift shifts at t < 8 and t > 20 and the edges clip heavily."""
    game = hm.compile(LinearQuadratic(n_states=11))
    one, zero = jnp.int32(1), jnp.int32(0)
    _check_against_dense(game, [(0, zero, zero), (3, one, one), (12, one, one), (25, zero, zero)], seed=5)


def test_dense_oracle_beach_bar(x64):
    """A 13-cell beach: the projection around the bar and the closure flag."""
    game = hm.compile(BeachBar(n_cells=13, max_move=3))

    def z(bar, closed):
        return {"bar": jnp.int32(bar), "closed": jnp.int32(closed)}

    _check_against_dense(
        game, [(0, z(0, 0), z(0, 0)), (14, z(2, 0), z(2, 1)), (20, z(5, 1), z(5, 1))], seed=6
    )


def test_dense_oracle_tiny_aiyagari(games, x64):
    """Lottery x 2 shock atoms x a 2-state income chain whose matrix depends on (z, z')."""
    game = games.get("tiny_aiyagari", x64=True)
    assert (game.n, game.m, game.A, game.eps.size) == (7, 2, 4, 2)
    cases = [(t, jnp.int32(z), jnp.int32(zn)) for t, z, zn in [(0, 0, 0), (1, 0, 1), (2, 1, 0), (3, 1, 1)]]
    _check_against_dense(game, cases, seed=7)
    # The chain really moves with (z, z'): the oracle would not see a kernel that ignored it.
    P = [np.asarray(game.model.chain_transition(jnp.int32(a), jnp.int32(b))) for a, b in [(0, 0), (1, 1)]]
    assert not np.allclose(P[0], P[1])
