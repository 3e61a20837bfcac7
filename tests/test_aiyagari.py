"""The Aiyagari and Krusell-Smith models, their calibrations and their game form."""

import tomllib
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hetmacro as hm
from hetmacro.models.aiyagari import Aiyagari
from hetmacro.models.krusell_smith import KrusellSmith, ks_employment_blocks, ks_transition_matrix

# shared/reference/anchors.md §4b: HARK 0.17.2's joint (z, employment) matrix, printed to 6 decimals.
ANCHOR_KS_MATRIX = np.array(
    [
        [0.525, 0.35, 0.03125, 0.09375],
        [0.038889, 0.836111, 0.002083, 0.122917],
        [0.09375, 0.03125, 0.291667, 0.583333],
        [0.009115, 0.115885, 0.024306, 0.850694],
    ]
)


@pytest.fixture(autouse=True)
def float64():
    """Every test here runs in float64 (models built inside keep float64 parameters); the context is
    scoped to the test, never switched on globally."""
    with jax.enable_x64(True):
        yield


def x64_model(cls, *args, **kwargs):
    if args:
        return cls.from_calibration(*args, **kwargs)
    return cls(**kwargs)


def x64_compile(model):
    return hm.compile(model)


# --- Krusell-Smith transition matrix ---------------------------------------------------------------
def test_ks_matrix_matches_anchor():
    Pi = ks_transition_matrix()
    # The anchor is rounded to 6 decimals: agreement to half a unit of the last digit.
    np.testing.assert_allclose(Pi, ANCHOR_KS_MATRIX, atol=5e-7, rtol=0)


def test_ks_matrix_reproduces_its_targets():
    u = {0: 0.10, 1: 0.04}
    Pi = ks_transition_matrix()
    np.testing.assert_allclose(Pi.sum(axis=1), 1.0, atol=1e-15)
    assert np.all(Pi >= 0)
    blocks = ks_employment_blocks(Pi)
    for z in (0, 1):
        for zn in (0, 1):
            mass = Pi[2 * z : 2 * z + 2, 2 * zn : 2 * zn + 2].sum(axis=1)
            # TFP moves independently of the household's employment; regimes last 8 quarters.
            assert mass[0] == pytest.approx(mass[1], abs=1e-15)
            assert mass[0] == pytest.approx(1 - 1 / 8 if z == zn else 1 / 8, abs=1e-15)
            # Unemployment after a (z, z') move is u_z' exactly.
            P = blocks[z, zn]
            assert u[z] * P[0, 0] + (1 - u[z]) * P[1, 0] == pytest.approx(u[zn], abs=1e-15)
    # Mean unemployment spells while the regime lasts: 2.5 quarters (bad), 1.5 (good).
    assert 1 / (1 - blocks[0, 0][0, 0]) == pytest.approx(2.5, abs=1e-12)
    assert 1 / (1 - blocks[1, 1][0, 0]) == pytest.approx(1.5, abs=1e-12)
    # The persistence ratios of regime switches.
    assert blocks[1, 0][0, 0] / blocks[0, 0][0, 0] == pytest.approx(1.25, abs=1e-12)
    assert blocks[0, 1][0, 0] / blocks[1, 1][0, 0] == pytest.approx(0.75, abs=1e-12)
    # In the long run, unemployment conditional on z is u_z.
    p = hm.grids.stationary_distribution(Pi).reshape(2, 2)
    assert p[0, 0] / p[0].sum() == pytest.approx(0.10, abs=1e-12)
    assert p[1, 0] / p[1].sum() == pytest.approx(0.04, abs=1e-12)


def test_ks_matrix_rejects_inconsistent_targets():
    # From bad (10 % unemployed) to 1 % unemployment next quarter, with 25 % of the unemployed
    # staying so, more than all of the new unemployment: P(u' | e) < 0.
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        ks_transition_matrix(u_good=0.01)
    with pytest.raises(ValueError, match="spell_bad"):
        ks_transition_matrix(spell_bad=0.5)


def test_ks_game_moves_unemployment_to_targets():
    """The compiled game's kernel applies P(e'|e, z, z'): pushing mu with u_z unemployed gives u_z'."""
    model = x64_model(KrusellSmith, n_a=20, a_max=50.0, T=4)
    game = x64_compile(model)
    u = (0.10, 0.04)
    pi = jnp.full((game.n, game.m, game.A), 1.0 / game.A)
    for z in (0, 1):
        agg = game.aggregate_state(model.initial_distribution(jnp.asarray(z)), jnp.asarray(z), 0)
        assert float(agg.mu[:, 0].sum()) == pytest.approx(u[z], abs=1e-14)
        assert float(agg.L) == pytest.approx((1 - u[z]) * model.l_bar, abs=1e-14)
        for zn in (0, 1):
            mu_next = game.push(agg.mu, pi, game.kernel(agg, jnp.asarray(zn)))
            assert float(mu_next[:, 0].sum()) == pytest.approx(u[zn], abs=1e-13)


def test_ks_ui_budget_balances():
    """Unemployment benefits b w l_bar are paid for by the employed's tax: E[y] = w L."""
    model = x64_model(KrusellSmith, n_a=20, a_max=50.0)
    game = x64_compile(model)
    for z in (0, 1):
        agg = game.aggregate_state(model.initial_distribution(jnp.asarray(z)), jnp.asarray(z), 0)
        y = model.income(game.chain.values, agg.values)
        assert float(y[0]) == pytest.approx(0.15 * float(agg.w) * model.l_bar, rel=1e-14)
        assert float(agg.mu.sum(axis=0) @ y) == pytest.approx(float(agg.w * agg.L), rel=1e-13)


# --- calibrations ------------------------------------------------------------------------------------
CALIBRATION_CLASSES = {"aiyagari_1994": Aiyagari, "krusell_smith_1998": KrusellSmith, "mfax_macro": Aiyagari}


def _read_shipped(name):
    return tomllib.loads(resources.files("hetmacro.calibrations").joinpath(f"{name}.toml").read_text())


def test_calibrations_are_shipped():
    assert set(CALIBRATION_CLASSES) <= set(hm.shipped_calibrations())


@pytest.mark.parametrize("name", sorted(CALIBRATION_CLASSES))
def test_calibration_meta(name):
    data = _read_shipped(name)
    meta = data["meta"]
    for key in ("model", "source", "period", "units", "sigma_convention", "notes"):
        assert meta.get(key), f"{name}: [meta] lacks '{key}'"
    assert meta["model"] == CALIBRATION_CLASSES[name].__name__
    # Every note names a field of the model (or the game form as a whole).
    fields = set(CALIBRATION_CLASSES[name].__dataclass_fields__) | {"game_form", "signals"}
    assert set(meta["notes"]) <= fields


@pytest.mark.parametrize(
    "spec",
    [
        "aiyagari_1994",
        "aiyagari_1994:tauchen",
        "aiyagari_1994:mu5_rho0.9_sd0.4",
        "krusell_smith_1998",
        "krusell_smith_1998:ar1",
        "krusell_smith_1998:ssj",
        "krusell_smith_1998:no_aggregate_risk",
        "mfax_macro",
        "mfax_macro:textbook",
        "mfax_macro:no_common_noise",
    ],
)
def test_calibration_loads_and_compiles(spec):
    cls = CALIBRATION_CLASSES[spec.split(":")[0]]
    game = x64_compile(x64_model(cls, spec))
    agg = game.reset(jax.random.PRNGKey(0))
    assert np.isfinite(float(agg.r)) and float(agg.w) > 0
    assert np.all(np.isfinite(np.asarray(game.signal(agg))))


def test_table_ii_variants_cover_the_grid():
    variants = _read_shipped("aiyagari_1994")["variants"]
    cells = {(v["sigma"], v["rho_e"], v["sd_e"]) for k, v in variants.items() if k.startswith("mu")}
    expected = {(mu, rho, sd) for mu in (1.0, 3.0, 5.0) for rho in (0.0, 0.3, 0.6, 0.9) for sd in (0.2, 0.4)}
    assert cells == expected
    model = Aiyagari.from_calibration("aiyagari_1994:mu3_rho0.6_sd0.4")
    assert (float(model.sigma), model.rho_e, model.sd_e) == (3.0, 0.6, 0.4)


def test_anchor_calibration_chain():
    """anchors §3: 7 Rouwenhorst states, unconditional s.d. 0.2 (innovation 0.0872), E[e] = 1."""
    model = Aiyagari.from_calibration("aiyagari_1994")
    chain = model.chain()
    pi = chain.stationary()
    log_e = np.log(np.asarray(chain.values))
    assert pi @ np.asarray(chain.values) == pytest.approx(1.0, abs=1e-12)
    mean = pi @ log_e
    assert np.sqrt(pi @ (log_e - mean) ** 2) == pytest.approx(0.2, rel=1e-10)
    grid = model.asset_grid()
    assert (grid[0], grid[-1], grid.size) == (0.0, 200.0, 500)
    np.testing.assert_allclose(grid, hm.double_exponential_grid(0.0, 200.0, 500), rtol=1e-14)


# --- the paper's macro game -----------------------------------------------------------------------------
def test_mfax_macro_primitives():
    """mfax_spec.md §C3: grid, income chain, actions, horizon, discount."""
    model = Aiyagari.from_calibration("mfax_macro")
    k = model.asset_grid()
    assert k.size == 200 and k[0] == 0.0 and k[-1] == 99.0
    assert k[1] == pytest.approx(0.00763, abs=5e-6) and k[2] == pytest.approx(0.01550, abs=5e-6)
    assert int(np.argmax(k >= 1)) == 54 and int(np.argmax(k >= 10)) == 124
    assert k[197] == pytest.approx(93.21, abs=5e-3) and k[198] == pytest.approx(96.06, abs=5e-3)
    np.testing.assert_allclose((k[1:] + 0.25) / (k[:-1] + 0.25), 1.03053, atol=5e-6)
    chain = model.chain()
    np.testing.assert_allclose(chain.values, [0.1, 0.30731, 0.63741, 1.16304, 2.0], atol=5e-6)
    P = np.asarray(chain.P)
    expected = 0.8 * np.eye(5) + 0.1 * (np.eye(5, k=1) + np.eye(5, k=-1))
    expected[0, 0] = expected[4, 4] = 0.9
    np.testing.assert_allclose(P, expected, atol=1e-15)
    np.testing.assert_allclose(model.actions().values, np.arange(0.025, 1.0, 0.05), atol=1e-15)
    assert model.horizon() == 128 and float(model.discount()) == pytest.approx(0.95)
    assert model.timing == "paper" and float(model.delta) == 0.0


def test_mfax_macro_reset_prices():
    """r_0 = 0.053680, w_0 = 1.866725, K_0 = 16.4616, L_0 = 0.84155 (mfax_spec.md §C3, verified there)."""
    game = x64_compile(x64_model(Aiyagari, "mfax_macro"))
    agg = game.reset(jax.random.PRNGKey(0))
    assert float(agg.r) == pytest.approx(0.053680, abs=5e-7)
    assert float(agg.w) == pytest.approx(1.866725, abs=5e-7)
    assert float(agg.K) == pytest.approx(16.4616, abs=5e-5)
    assert float(agg.L) == pytest.approx(0.84155, abs=5e-6)
    # Signals are the prices relative to the complete-markets steady state: order one (spec §G11).
    assert np.all(np.abs(np.asarray(game.signal(agg)) - 1.0) < 0.1)


def test_mfax_uniform_policy_matches_aggregate_recursion():
    """Under the uniform policy, mean wealth is E[min((1 - s) x, a_max)] over the 20 shares s and the
    distribution: Young's lottery preserves means inside the grid and caps wealth at its top (spec
    §G12). Once the top is empty this is K' = ((1 + r) K + w L) / 2, whose fixed point is K = L, where
    r = alpha and w = 1 - alpha (the spec's r ~ 0.37 by t = 64)."""
    game = x64_compile(x64_model(Aiyagari, "mfax_macro:no_common_noise"))
    pi = jnp.full((game.n, game.m, game.A), 1.0 / game.A)
    flow = game.rollout_table(jax.random.PRNGKey(0), pi)
    K, r, w, L = (np.asarray(getattr(flow.aggs, k)) for k in ("K", "r", "w", "L"))
    mu = np.asarray(flow.aggs.mu)
    np.testing.assert_allclose(L, 0.841551987, atol=1e-9)  # the uniform income marginal is stationary
    a, e, s = (np.asarray(v) for v in (game.grid.points, game.chain.values, game.actions.values))
    x = (1 + r[:-1, None, None]) * a[None, :, None] + w[:-1, None, None] * e[None, None, :]
    saved = np.minimum((1 - s)[None, None, None, :] * x[..., None], a[-1]).mean(axis=-1)
    np.testing.assert_allclose(K[1:], np.sum(mu[:-1] * saved, axis=(1, 2)), rtol=1e-12)
    assert r[-1] == pytest.approx(0.36, abs=1e-6) and w[-1] == pytest.approx(0.64, abs=1e-6)
    # With TFP shocks, r_64 is near 0.37 on every path (spec: one path, about 0.37).
    game_cn = x64_compile(x64_model(Aiyagari, "mfax_macro"))
    for seed in range(3):
        r_cn = np.asarray(game_cn.rollout_table(jax.random.PRNGKey(seed), pi).aggs.r)
        assert 0.30 < r_cn[64] < 0.45


def test_last_step_timing():
    """'paper' pays u(x_{T-1}) at t = T - 1 whatever the share, and nothing after; 'textbook' pays
    u(s x) and then u(x_T) at T."""
    for timing in ("paper", "textbook"):
        model = x64_model(Aiyagari, "mfax_macro", T=3, timing=timing)
        game = x64_compile(model)
        agg = game.reset(jax.random.PRNGKey(0))
        last = eqx_at_t(agg, 2)
        R = np.asarray(game.rewards(last, last))
        x = (1 + float(agg.r)) * np.asarray(game.grid.points)[:, None] + float(agg.w) * np.asarray(
            game.chain.values
        )[None, :]
        VT = np.asarray(game.terminal_value(agg))
        shares = np.asarray(game.actions.values)
        if timing == "paper":
            np.testing.assert_allclose(R, np.broadcast_to(-1 / x[..., None], R.shape), rtol=1e-12)
            assert np.all(VT == 0)
        else:
            np.testing.assert_allclose(R, -1 / (shares * x[..., None]), rtol=1e-12)
            np.testing.assert_allclose(VT, -1 / x, rtol=1e-12)


def eqx_at_t(agg, t):
    import equinox as eqx

    return eqx.tree_at(lambda a: a.t, agg, jnp.asarray(t, jnp.int32))


def test_crra_utility():
    c = jnp.asarray([0.5, 1.0, 2.0])
    np.testing.assert_allclose(hm.CRRA(2.0).u(c), -1 / np.asarray(c), rtol=1e-6)
    np.testing.assert_allclose(hm.CRRA(1.0).u(c), np.log(np.asarray(c)), rtol=1e-6)
    np.testing.assert_allclose(hm.CRRA(2.0).marginal(c), np.asarray(c) ** -2.0, rtol=1e-6)
    np.testing.assert_allclose(hm.CRRA(2.0).inverse_marginal(hm.CRRA(2.0).marginal(c)), c, rtol=1e-6)


# --- variants ------------------------------------------------------------------------------------------
def test_ghh_labour_fixed_point():
    """Under GHH, hours n = ((1 - tau) w e / chi)^frisch and L = E[e n] at the prices the game reports."""
    model = x64_model(Aiyagari, n_a=50, labour="ghh", chi=0.8, frisch=0.5, tax=0.1)
    game = x64_compile(model)
    agg = game.reset(jax.random.PRNGKey(0))
    e = np.asarray(game.chain.values)
    n = ((1 - 0.1) * float(agg.w) * e / 0.8) ** 0.5
    marginal = np.asarray(agg.mu).sum(axis=0)
    assert float(agg.L) == pytest.approx(marginal @ (e * n), rel=1e-12)
    r, w = model.factor_prices(agg.K, agg.L, model.Z)
    assert (float(r), float(w)) == pytest.approx((float(agg.r), float(agg.w)), rel=1e-12)


def test_tax_and_transfer_budget():
    """Labour income taxed at tau and rebated lump-sum: E[y] = w L, the poor gain."""
    model = x64_model(Aiyagari, n_a=50, tax=0.3)
    game = x64_compile(model)
    agg = game.reset(jax.random.PRNGKey(0))
    y = np.asarray(jax.vmap(lambda e: model.income(e, agg.values))(game.chain.values))
    marginal = np.asarray(agg.mu).sum(axis=0)
    assert marginal @ y == pytest.approx(float(agg.w * agg.L), rel=1e-12)
    e = np.asarray(game.chain.values)
    assert y[0] > float(agg.w) * e[0] and y[-1] < float(agg.w) * e[-1]


def test_borrowing_limit_shifts_the_grid():
    model = Aiyagari(a_min=-1.0, n_a=50)
    grid = model.asset_grid()
    assert grid[0] == -1.0 and grid[-1] == 200.0
    game = x64_compile(x64_model(Aiyagari, a_min=-1.0, n_a=50))
    # The consumption share is of resources beyond the limit: a' >= a_min for every share.
    agg = game.reset(jax.random.PRNGKey(0))
    kern = game.kernel(agg, agg.z)
    assert int(np.asarray(kern.i).min()) == 0


# --- bad declarations ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": -2.0}, "sigma"),
        ({"n_a": 1}, "n_a"),
        ({"n_a": 0}, "n_a"),
        ({"a_max": 0.0}, "a_max"),
        ({"a_min": 5.0, "a_max": 1.0}, "a_max"),
        ({"alpha": 1.2}, "alpha"),
        ({"delta": -0.1}, "delta"),
        ({"income_process": "markov"}, "income_process"),
        ({"aggregate_risk": True}, "tfp_sd"),
        ({"grid_kind": "geometric", "grid_pivot": 0.0}, "grid_pivot"),
    ],
)
def test_bad_calibrations_fail_clearly(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Aiyagari(**kwargs)


def test_bad_ks_calibrations_fail_clearly():
    with pytest.raises(ValueError, match="ui_replacement"):
        KrusellSmith(ui_replacement=0.0)
    with pytest.raises(ValueError, match="outside"):
        KrusellSmith(u_good=0.01)
    with pytest.raises(ValueError, match="tfp_process"):
        KrusellSmith(tfp_process="three_state")


def test_unknown_calibration_key():
    with pytest.raises(ValueError, match="unknown calibration key"):
        Aiyagari.from_calibration("aiyagari_1994", mu=3.0)


# --- the consumption-share grid of the game form ------------------------------------------------------
def test_geometric_share_grid_has_one_ratio_and_consumes_everything_at_the_top():
    grid = hm.ActionGrid.geometric("consumption share", 20, 0.02)
    v = np.asarray(grid.values)
    np.testing.assert_allclose(v[1:] / v[:-1], 50.0 ** (1 / 19), rtol=1e-12)
    assert v[0] == pytest.approx(0.02) and v[-1] == 1.0
    e = np.asarray(grid.edges)
    assert e[0] == 0.0 and e[-1] == 1.0 and np.all((e[:-1] <= v) & (v <= e[1:]))
    model = KrusellSmith.from_calibration("krusell_smith_1998:ssj", n_a=20)
    assert model.share_grid == "geometric"
    np.testing.assert_allclose(model.actions().values, v, rtol=1e-15)
    uniform = KrusellSmith.from_calibration("krusell_smith_1998:ssj", n_a=20, share_grid="uniform")
    np.testing.assert_allclose(uniform.actions().values, np.arange(0.025, 1.0, 0.05), atol=1e-15)


def test_bad_share_grids_are_refused():
    with pytest.raises(ValueError, match=r"share_grid = 'log': use one of \['geometric', 'uniform'\]"):
        Aiyagari(share_grid="log")
    with pytest.raises(ValueError, match=r"smallest_share = 0\.0: .* must lie in \(0, 1\)"):
        Aiyagari(share_grid="geometric", smallest_share=0.0)
    with pytest.raises(ValueError, match=r"need n >= 2 actions"):
        hm.ActionGrid.geometric("share", 1, 0.1)
    with pytest.raises(ValueError, match=r"need max\(0, low\) < smallest < high"):
        hm.ActionGrid.geometric("share", 5, 1.5)


def test_geometric_shares_put_the_games_steady_state_near_the_continuous_one(x64):
    """The game RSPG solves chooses among 20 consumption shares; its own steady state (policy iteration)
    lies below EGM's continuous one. On SSJ's Krusell–Smith calibration without aggregate risk (100
    assets): K 2.7% low with 20 equal cells (a rich household's shares 0.025 and 0.075 differ by a factor
    3; a constrained one cannot consume all of cash on hand), 0.14% low with shares spaced geometrically
    from 0.02 to 1 (benchmarks/ks_share_grid.py). Asserted: under 0.5%, and a fifth of the equal cells'."""
    gaps = {}
    for share_grid in ("uniform", "geometric"):
        model = KrusellSmith.from_calibration(
            "krusell_smith_1998:ssj", grid_kind="geometric", n_a=100, share_grid=share_grid
        ).without_aggregate_risk()
        egm = hm.solve(model, method="stationary")
        game = hm.solve(model, method="stationary", algorithm="policy iteration")
        gaps[share_grid] = abs(game.aggregates["K"] / egm.aggregates["K"] - 1)
    assert gaps["geometric"] < 0.005 and gaps["geometric"] < gaps["uniform"] / 5, gaps
