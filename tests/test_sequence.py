"""Sequence-space (first-order) impulse responses: ``hm.solve(model, method="linear")``.

Oracles: ``jax.jacfwd`` through the whole T-period household path and central finite differences
(for the fake-news Jacobians); the nonlinear perfect-foresight transition (first-order convergence, for
TFP and for the borrowing limit, which sequence-jacobian cannot shock); the stationary solver (no
shock); sequence-jacobian's Krusell–Smith IRFs to TFP, the discount factor and a labour tax (tests/data:
ssj_ks_irf.md and ssj_ks_irf_shocks.md).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hetmacro as hm
from hetmacro.models import KrusellSmith
from hetmacro.savings import sequence as sq

DATA = Path(__file__).parent / "data"


def _small_model(**overrides):
    """A small SSJ-like Krusell–Smith economy (AR(1) TFP, 3 income states, 40 assets)."""
    kw = dict(
        tfp_process="ar1",
        aggregate_risk=True,
        tfp_rho=0.9,
        tfp_sd=0.01,
        sigma=1.0,
        alpha=0.11,
        delta=0.025,
        beta=0.98,
        Z=0.88,
        income_process="rouwenhorst",
        n_e=3,
        rho_e=0.9,
        sd_e=0.5,
        a_max=60.0,
        n_a=40,
        grid_kind="geometric",
    )
    kw.update(overrides)
    return KrusellSmith(**kw)


@pytest.fixture(scope="module")
def small():
    with jax.enable_x64(True):
        model = _small_model()
        stat = hm.solve(_small_model(aggregate_risk=False), method="stationary", values=False)
        shocks = ("z", "beta")
        ss = sq.steady_state(model, shocks=shocks, solution=stat)
        T = 60
        J = sq.jacobians(ss, T, shocks)
        G = sq.ge_jacobians(ss, J)
    return {"model": model, "stationary": stat, "ss": ss, "T": T, "J": J, "G": G, "shocks": shocks}


def test_fake_news_equals_direct_jacobian(small, x64):
    """The fake-news assembly equals jax.jacfwd through the whole T-period path (both exact), for the
    market's unknown (capital as date t's prices read it), log TFP and the discount factor."""
    ss, T, J = small["ss"], small["T"], small["J"]
    D = sq.jacobians_direct(ss, T, small["shocks"])
    for o in ("A", "C"):
        for i in ("U", "z", "beta"):
            scale = float(np.max(np.abs(D[o][i])))
            err = float(np.max(np.abs(np.asarray(J[o][i]) - np.asarray(D[o][i]))))
            assert scale > 0 and err <= 1e-9 * scale, (o, i, err, scale)


def test_jacobian_matches_finite_differences(small, x64):
    """Columns of J^{A,U}, J^{C,beta}, ... against central differences of the nonlinear household path.

    Step h = 1e-6: the truncation error is O(h^2) ~ 1e-12 relative; rounding ~ eps / h ~ 1e-10; the
    lottery and the borrowing constraint are kinked, so a column whose step crosses a kink may differ
    by O(h) relative: tolerance 1e-5 of the column's largest entry."""
    ss, T, J = small["ss"], small["T"], small["J"]
    base = {k: np.full(T, float(ss.input_value(k))) for k in ("U", "z", "beta")}
    h = 1e-6
    for s_ in (0, 7, T - 1):
        for name in ("U", "beta"):
            up = {k: v.copy() for k, v in base.items()}
            down = {k: v.copy() for k, v in base.items()}
            up[name][s_] += h
            down[name][s_] -= h
            f_up, f_down = sq.household_path(ss, up), sq.household_path(ss, down)
            for o in ("A", "C"):
                fd = (np.asarray(f_up[o]) - np.asarray(f_down[o])) / (2 * h)
                col = np.asarray(J[o][name])[:, s_]
                assert np.max(np.abs(fd - col)) <= 1e-5 * np.max(np.abs(col)), (o, name, s_)


def test_no_shock_reproduces_the_stationary_equilibrium(small, x64):
    """Aggregate risk off: the steady state is a fixed point of the transition machinery (inputs at
    their steady state for T periods keep A_t = K), and solve_linear reports the stationary aggregates."""
    ss, stat, T = small["ss"], small["stationary"], small["T"]
    path = sq.household_path(ss, {"U": np.full(T, float(ss.U))})
    K = stat.aggregates["K"]
    assert np.max(np.abs(np.asarray(path["A"]) - K)) <= 1e-9 * K
    assert np.max(np.abs(np.asarray(path["C"]) - stat.aggregates["C"])) <= 1e-9 * K
    sol = hm.solve(_small_model(aggregate_risk=False), method="linear", T=T, shock="beta", steady_state=stat)
    for k in ("r", "w", "K", "Y", "C"):
        assert sol.aggregates[k] == pytest.approx(stat.aggregates[k], rel=1e-9, abs=1e-12), k
    # A zero shock gives a zero response.
    zero = sq.linear_irf(small["G"], {"z": jnp.zeros(T)})
    assert all(float(jnp.max(jnp.abs(v))) == 0.0 for v in zero.values())


def _first_order_errors(ss, G, name, shape, sizes, keys):
    errors = []
    for size in sizes:
        d = {name: size * shape}
        lin = sq.linear_irf(G, d)
        non = sq.nonlinear_transition(ss, d, G["H_U"], tol=1e-14)
        steady = ss.aggregates()
        errors.append(
            max(
                float(np.max(np.abs((non[k] - steady[k]) - np.asarray(lin[k]))))
                / float(np.max(np.abs(lin[k])))
                for k in keys
            )
        )
    return np.array(errors)


def test_linear_irf_is_the_first_order_limit_of_the_nonlinear_transition(small, x64):
    """|nonlinear - linear| = O(size^2): the observed order over sizes 1e-2, 1e-3, 1e-4 is 2 (so the
    error relative to the response falls tenfold with a tenfold smaller shock)."""
    ss, T, G = small["ss"], small["T"], small["G"]
    errors = _first_order_errors(ss, G, "z", 0.9 ** np.arange(T), (1e-2, 1e-3, 1e-4), ("K", "r", "w", "C"))
    orders = np.log10(errors[:-1] / errors[1:])
    assert np.all(orders > 0.85) and np.all(orders < 1.15), (errors, orders)
    assert errors[0] < 1e-2  # a 1% shock: the second-order term is ~0.5% of the response


def test_borrowing_limit_shock_is_the_first_order_limit(x64):
    """Tightening the borrowing limit (a_min up from 0 by a small amount, decaying at 0.8): no peer can
    express it on a fixed grid, so the nonlinear transition is the oracle. Households at the limit are
    pushed up with it; the linear IRF is the limit of the nonlinear one as the shock shrinks (the error
    relative to the response falls at least threefold per tenfold smaller shock: the constraint's kink
    makes the remainder first order in the mass near the limit, not second)."""
    model = _small_model(aggregate_risk=False)
    stat = hm.solve(model, method="stationary", values=False)
    ss = sq.steady_state(model, shocks=("a_min",), solution=stat)
    T = 60
    G = sq.ge_jacobians(ss, sq.jacobians(ss, T, ("a_min",)))
    lin = sq.linear_irf(G, {"a_min": 1e-3 * 0.8 ** np.arange(T)})
    assert float(lin["K"][0]) > 0  # households forced to hold more assets: capital rises on impact
    errors = _first_order_errors(ss, G, "a_min", 0.8 ** np.arange(T), (1e-3, 1e-4, 1e-5), ("K", "r", "C"))
    assert errors[0] < 0.05 and np.all(errors[1:] < errors[:-1] / 3), errors


def test_solution_format(small, x64):
    """The Solution carries a report-format IRF table, aggregates and the first-order policy."""
    sol = hm.solve(small["model"], method="linear", T=small["T"], steady_state=small["stationary"])
    tab = sol.result.irf
    assert tab.index.name == "h" and len(tab) == 41
    assert list(tab.columns) == ["z (level)", "K (%)", "r (pp)", "w (%)", "Y (%)", "C (%)"]
    assert tab["K (%)"].iloc[0] == 0.0  # capital in production at h = 0 is predetermined
    assert tab["Y (%)"].iloc[0] == pytest.approx(1.0, rel=1e-12)  # dY/Y = dz at h = 0
    assert set(("compile", "jacobians", "ge", "total")) <= set(sol.timings)
    frame = hm.compare(sol)
    assert frame.loc["linear", "K"] == pytest.approx(small["stationary"].aggregates["K"])
    # The policy on the game's action grid: probabilities that reproduce the savings rule's E[a'].
    game = sol.game
    pol = sol.policy_fn()
    carry = sol.initial_carry()
    mu = jnp.asarray(small["stationary"].stationary)
    agg = game.aggregate_state(mu, jnp.asarray(0.01), 0)
    carry, pi = pol(carry, agg)
    assert np.allclose(np.asarray(pi.sum(-1)), 1.0)
    _, a_next = pol.rule.savings(pol.init_carry(), agg)
    y = jax.vmap(lambda e: game.model.income(e, agg.values))(game.chain.values)
    x = (1 + agg.r) * game.grid.points[:, None] + y[None]
    share = jnp.sum(pi * game.actions.values, axis=-1)
    inside = (share > game.actions.values[0]) & (share < game.actions.values[-1])
    assert np.allclose(np.asarray(((1 - share) * x)[inside]), np.asarray(a_next[inside]), atol=1e-10)


def test_a_tfp_parameter_shock_equals_the_log_tfp_shock(small, x64):
    """A shock to the TFP level Z (a parameter) and to log TFP z (the common noise) are the same shock to
    first order when dZ = Z dz: the two IRF tables agree to rounding."""
    model, T = small["model"], small["T"]
    z = hm.solve(model, method="linear", T=T, steady_state=small["stationary"])
    Z = hm.solve(
        model,
        method="linear",
        T=T,
        shock="Z",
        shock_size=0.01 * float(model.Z),
        shock_rho=0.9,
        steady_state=small["stationary"],
    )
    a, b = z.result.irf.drop(columns="z (level)"), Z.result.irf.drop(columns="Z (level)")
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-10)


def test_unknown_shock_names_are_clear_errors(small, x64):
    with pytest.raises(ValueError, match="no scalar parameter 'betta'"):
        hm.solve(
            small["model"], method="linear", T=small["T"], shock="betta", steady_state=small["stationary"]
        )
    with pytest.raises(ValueError, match="AR\\(1\\) common noise"):
        hm.solve(
            _small_model(aggregate_risk=False),
            method="linear",
            T=small["T"],
            steady_state=small["stationary"],
        )


@pytest.fixture(scope="module")
def ssj():
    with jax.enable_x64(True):
        model = KrusellSmith.from_calibration("krusell_smith_1998:ssj", grid_kind="geometric")
        sol = hm.solve(model, method="linear", calibrate_to={"r": 0.01, "Y": 1.0}, T=300, horizon=40)
    return sol


def _compare(ours: pd.DataFrame, ref: pd.DataFrame, suffix: str, H: int = 20) -> dict:
    """max_t<H |ours - ref| / max_t |ref| for r, w, C, K, Y (ref in sequence-jacobian's dating)."""
    out = {}
    for ours_col, ref_col, shift in (
        ("r (pp)", "r_dev_pp", 0),
        ("w (%)", "w_dev_pct", 0),
        ("C (%)", "C_dev_pct", 0),
        ("K (%)", "K_dev_pct", 1),  # ours: capital in production at h = SSJ's end-of-period K at h - 1
        ("Y (%)", "Y_dev_pct", 0),
    ):
        a = ours[ours_col].to_numpy()[shift : shift + H]
        b = ref[ref_col + suffix].to_numpy()[:H]
        out[ours_col] = float(np.max(np.abs(a - b)) / np.max(np.abs(ref[ref_col + suffix].to_numpy())))
    return out


def test_ssj_calibration(ssj):
    """beta and Z calibrated to r = 0.01, Y = 1 match sequence-jacobian's (ssj_ks_irf.md)."""
    assert float(ssj.model.beta) == pytest.approx(0.9819527881, abs=2e-10)
    assert float(ssj.model.Z) == pytest.approx(0.8816460975, abs=2e-10)
    assert ssj.aggregates["K"] == pytest.approx(3.1428571429, abs=1e-9)
    assert ssj.aggregates["C"] == pytest.approx(0.9214285742, abs=1e-8)


def test_ssj_irfs_match_the_reference(ssj):
    """IRFs to dZ_t = 0.01 Z 0.9^t against sequence-jacobian (shared/reference/ssj_ks_irf.md, copied to
    tests/data): within 1% of each series' peak over 20 quarters against its default one-sided
    finite-difference table (measured: 5e-5), and within 1e-7 of the peak against its converged
    two-sided table (measured: 3e-9; that table is itself accurate to ~1e-9)."""
    ref = pd.read_csv(DATA / "ssj_ks_irf.csv")
    conv = pd.read_csv(DATA / "ssj_ks_irf_converged.csv")
    tab = ssj.result.irf
    fd = _compare(tab, ref, "")
    assert max(fd.values()) < 1e-2, fd
    assert max(fd.values()) < 1e-4, fd  # the reference's own finite-difference error is ~5e-5
    exact = _compare(tab, conv, "_fd2s")
    assert max(exact.values()) < 1e-7, exact


@pytest.fixture(scope="module")
def ssj_parameter_irfs(ssj):
    """IRFs of the calibrated economy to its discount factor and its labour tax: one steady state, one
    fake-news pass with both inputs, one GE solve."""
    T, shocks = 300, {"beta": 0.001, "tax": 0.01}
    with jax.enable_x64(True):
        stat = hm.solve(ssj.model.without_aggregate_risk(), method="stationary", values=False)
        ss = sq.steady_state(ssj.model, shocks=tuple(shocks), solution=stat)
        G = sq.ge_jacobians(ss, sq.jacobians(ss, T, tuple(shocks)))
        out = {}
        for name, size in shocks.items():
            path = {name: size * 0.9 ** np.arange(T)}
            out[name] = sq.irf_table(ss, {**sq.linear_irf(G, path), **path}, 40, inputs=(name,))
    return out


@pytest.mark.parametrize("name, table", [("beta", "ssj_ks_irf_beta.csv"), ("tax", "ssj_ks_irf_tax.csv")])
def test_parameter_shocks_match_sequence_jacobian(ssj_parameter_irfs, name, table):
    """Shocks to a declared parameter, not TFP: the discount factor (dbeta_t = 0.001 x 0.9^t) and a
    labour-income tax rebated lump sum (dtau_t = 0.01 x 0.9^t from 0), on the calibrated economy,
    against sequence-jacobian's two-sided finite-difference tables (ssj_ks_irf_shocks.md: accurate to
    ~1e-8 of each peak). The same linearisation as the TFP test: within 1e-7 of each series' peak
    (measured: 1.6e-9 for beta, 3.3e-9 for the tax)."""
    ref = pd.read_csv(DATA / table)
    tab = ssj_parameter_irfs[name]
    assert {"w (%)", "r (pp)", "C (%)", "K (%)", "Y (%)"} <= set(tab.columns)  # every series moves
    err = _compare(tab, ref.rename(columns=lambda c: c + "_x" if c.endswith(("pct", "pp")) else c), "_x")
    assert max(err.values()) < 1e-7, err


class _Bond(hm.SavingsEconomy):
    """Huggett's economy (no firm, a bond in zero net supply) on a small grid."""

    beta: float = hm.param(0.96)
    sigma: float = hm.param(2.0)
    r: float = hm.param(0.0)
    n_a: int = hm.static(80)

    def utility(self):
        return hm.CRRA(self.sigma)

    def grid(self):
        return hm.Grid("a", -2.0 + hm.geometric_grid(0.0, 22.0, self.n_a))

    def chain(self):
        return hm.Chain("e", [0.1, 1.0], [[0.5, 0.5], [0.075, 0.925]])

    def income(self, e, p):
        return e

    def market(self):
        return hm.ZeroNetSupply()


def test_an_asset_in_zero_net_supply_has_its_rate_as_the_unknown(x64):
    """With the bond in zero net supply the unknown is its rate, an ex-ante rate: r_0 is predetermined,
    the rate falls when households become more patient (they want to save more and cannot in aggregate),
    the bond market clears along the path (A = 0 to rounding), and the linear IRF is the first-order
    limit of the nonlinear transition (the error relative to the response falls tenfold with the shock)."""
    T = 100
    lin = hm.solve(_Bond(), method="linear", shock="beta", shock_size=1e-3, T=T, horizon=10)
    tab = lin.result.irf
    assert list(tab.columns[:3]) == ["beta (level)", "r (pp)", "A (level)"]
    assert tab["r (pp)"].iloc[0] == 0.0 and tab["r (pp)"].iloc[1] < -0.05
    assert np.max(np.abs(tab["A (level)"])) < 1e-10
    ss = lin.result.steady_state
    G = sq.ge_jacobians(ss, sq.jacobians(ss, T, ("beta",)))
    errors = _first_order_errors(ss, G, "beta", 0.9 ** np.arange(T), (1e-3, 1e-4, 1e-5), ("r",))
    orders = np.log10(errors[:-1] / errors[1:])
    assert np.all(orders > 0.85) and errors[0] < 1e-3, errors


def test_a_float64_linear_rule_drives_a_float32_game_in_float32(small):
    """``init_policy="linear"`` / ``ergodic_policy="linear"`` solve the rule in float64 and simulate it
    in the (float32) game RSPG trains: its arrays are cast to the game's precision, so the rollout is
    float32 throughout and JAX has no float64 request to truncate (it warned once per array before)."""
    import warnings

    from hetmacro.mfg import infinite

    with jax.enable_x64(True):
        lin = hm.solve(small["model"], method="linear", T=small["T"], steady_state=small["stationary"])
    game = hm.compile(small["model"])
    assert game.dtype == jnp.float32
    policy, carry = infinite.resolve_policy(game, lin)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mu = game.rollout(jax.random.PRNGKey(0), policy, carry, T=3).aggs.mu
    assert mu.dtype == jnp.float32
    assert np.allclose(np.asarray(mu).sum(axis=(1, 2)), 1.0, atol=1e-5)
