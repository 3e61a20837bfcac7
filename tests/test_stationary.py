"""The stationary-equilibrium solver: EGM household, Young's distribution through the Game's push,
and the root-finder on r."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import hetmacro as hm
from hetmacro.models import LinearQuadratic
from hetmacro.models.aiyagari import Aiyagari
from hetmacro.models.krusell_smith import KrusellSmith
from hetmacro.savings import egm
from hetmacro.savings import stationary as st
from hetmacro.savings.distribution import savings_kernel

# shared/reference/anchors.md §3: sequence-jacobian 1.0.0 on the aiyagari_1994 calibration.
SSJ = {"r": 0.03811647, "K": 5.704763, "w": 1.197914, "Y": 1.871740, "C": 1.415359}


@pytest.fixture(autouse=True)
def float64():
    """Tests run in float64, scoped to each test (never switched on globally)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def anchor():
    with jax.enable_x64(True):
        model = Aiyagari.from_calibration("aiyagari_1994")
        return hm.solve(model, method="stationary")


def _solve(model, **options):
    return hm.solve(model, method="stationary", **options)


def small(**kwargs):
    """A 200-point version of the anchor calibration, for comparative statics (same compiled code
    for every value of the array parameters beta, sigma, ...)."""
    return Aiyagari.from_calibration("aiyagari_1994", n_a=200, **kwargs)


# --- the anchor equilibrium -----------------------------------------------------------------------------
def test_anchor_matches_sequence_jacobian(anchor):
    agg = anchor.aggregates
    # SSJ's r* is printed to 8 decimals and carries its own distribution tolerance (1e-10 in mass,
    # about 3e-9 in r); ours agrees to 2e-10. K, w, Y, C are printed to 7 significant digits.
    assert agg["r"] == pytest.approx(SSJ["r"], abs=1e-7)
    for key in ("K", "w", "Y", "C"):
        assert agg[key] == pytest.approx(SSJ[key], abs=2e-6), key
    assert agg["saving_rate"] == pytest.approx(0.2438, abs=5e-5)


def test_anchor_clears_markets(anchor):
    agg = anchor.aggregates
    model = anchor.model
    assert abs(agg["excess_supply"]) < 1e-8
    # Walras: with asset and labour markets clear, C + delta K = Y (lottery means are exact).
    assert abs(agg["goods_market_residual"]) < 1e-8
    assert -float(model.delta) < agg["r"] < 1 / float(model.beta) - 1
    mu = anchor.stationary
    assert np.all(mu >= 0) and abs(mu.sum() - 1) < 1e-12
    assert anchor.result.top_mass < 1e-12  # the grid's top does not bind at r*


def test_anchor_excess_demand_independently(anchor):
    """Re-solve household and distribution from scratch at r* with tighter tolerances."""
    excess = st.excess_supply(anchor.model, anchor.aggregates["r"], hh_tol=1e-13, dist_tol=1e-15)
    assert abs(excess) < 1e-8


def test_distribution_is_a_fixed_point_of_the_game_push(anchor):
    game = anchor.game
    a_next = jnp.asarray(anchor.policy["a_next"])
    mu = jnp.asarray(anchor.stationary)
    kern = savings_kernel(game, a_next)
    pushed = game.push(mu, jnp.ones(a_next.shape + (1,)), kern)
    assert float(jnp.max(jnp.abs(pushed - mu))) < 1e-13
    # The income marginal is the chain's stationary distribution.
    np.testing.assert_allclose(np.asarray(mu).sum(axis=0), game.chain.stationary(), atol=1e-12)


def test_solution_reports(anchor):
    assert anchor.method == "stationary"
    hist = anchor.history()
    assert len(hist) == anchor.result.evaluations and len(hist) <= 20
    assert {"r", "excess_supply", "hh_iterations", "dist_iterations", "seconds"} <= set(hist.columns)
    assert set(anchor.timings) >= {"compile", "solve"}
    V = anchor.values
    assert V.shape == (500, 7) and np.all(np.isfinite(V))
    assert np.all(np.diff(V, axis=0) > 0)  # value increasing in wealth
    c = anchor.policy["c"]
    assert np.all(np.diff(c, axis=0) > 0)  # consumption increasing in wealth
    assert np.all((anchor.policy["consumption_share"] > 0) & (anchor.policy["consumption_share"] <= 1))


def test_euler_equation_at_unconstrained_points(anchor):
    """u'(c) = beta (1 + r) E[u'(c')] where a' > a_min; c' interpolated linearly in a', so the residual
    is interpolation error, not iteration error."""
    model, r = anchor.model, anchor.aggregates["r"]
    game = anchor.game
    a, P = np.asarray(game.grid.points), np.asarray(game.chain.P)
    c, a_next = anchor.policy["c"], anchor.policy["a_next"]
    c_next = np.stack([np.interp(a_next[:, j], a, c[:, jn]) for j in range(7) for jn in range(7)], axis=1)
    c_next = c_next.reshape(len(a), 7, 7)
    rhs = float(model.beta) * (1 + r) * np.einsum("ijk,jk->ij", c_next ** -float(model.sigma), P)
    free = (a_next > 1e-6) & (a_next < 0.5 * a[-1])
    resid = np.abs(1 - rhs ** (-1 / float(model.sigma)) / c)[free]
    assert resid.max() < 1e-3 and resid.mean() < 1e-5


# --- independent method: VFI on the same grid ---------------------------------------------------------
def test_egm_agrees_with_vfi():
    """VFI (golden-section over a', V linear between points, i.e. the Game's lottery) is optimal among
    policies on that interpolation, so its value bounds EGM's policy's value from above; the gap and
    the policy difference are discretisation errors, O(h): they halve as the grid doubles."""
    vfi = jax.jit(egm.solve_vfi)
    gaps, diffs = [], []
    for n in (100, 200):
        problem = st.savings_problem(Aiyagari(n_a=n, a_max=50.0, grid_kind="uniform"))
        r = 0.035
        hh = st.household(problem, r)
        y = jnp.asarray(hh.y)
        V, c, _, _, err = vfi(problem.utility, problem.a, problem.P, y, r, problem.beta, 1e-11, 2000)
        assert float(err) < 1e-11
        # EGM's policy, with savings capped at the top as the lottery does.
        a_next = jnp.minimum(jnp.asarray(hh.a_next), problem.a[-1])
        V_egm, _, _ = egm.policy_value(
            problem.utility, problem.a, problem.P, y, r, problem.beta, a_next, V, 1e-12, 10**5
        )
        gap = np.asarray(V - V_egm)
        assert gap.min() > -1e-10  # VFI is optimal on this interpolation
        gaps.append(np.max(gap / np.abs(np.asarray(V))))
        inner = np.asarray(hh.a_next) < 0.8 * float(problem.a[-1])
        diffs.append(np.mean(np.abs(np.asarray(c) - hh.c)[inner] / hh.c[inner]))
    assert gaps[0] < 1e-3 and diffs[0] < 1e-2
    assert gaps[1] < 0.6 * gaps[0] and diffs[1] < 0.6 * diffs[0]


# --- comparative statics (Aiyagari 1994, Table II) -------------------------------------------------------
def test_r_falls_with_risk_aversion():
    rs = [_solve(small(sigma=s), values=False).aggregates["r"] for s in (1.0, 3.0, 5.0)]
    assert rs[0] > rs[1] > rs[2]
    # Aiyagari's Table II (rho 0.9, sigma 0.2): 4.01 / 3.58 / 3.05 % on this grid family.
    np.testing.assert_allclose(rs, [0.04009, 0.03580, 0.03050], atol=2e-4)


def test_r_falls_with_income_volatility():
    r_low = _solve(small(sd_e=0.2), values=False).aggregates["r"]
    r_high = _solve(small(sd_e=0.4), values=False).aggregates["r"]
    # anchors §5 (SSJ, CRRA 2 between its mu 1 and 3 columns): about 3.8 % -> 2.9 %.
    assert r_high < r_low - 0.005


def test_insurance_and_borrowing_raise_r():
    """Less need for precautionary saving means a higher r*: a tax-and-transfer scheme, or borrowing."""
    base = _solve(small(), values=False).aggregates
    taxed = _solve(small(tax=0.3), values=False).aggregates
    assert taxed["r"] > base["r"] + 1e-3
    assert abs(taxed["excess_supply"]) < 1e-8 and abs(taxed["goods_market_residual"]) < 1e-8
    assert taxed["transfer"] == pytest.approx(0.3 * taxed["w"] * taxed["L"], rel=1e-12)
    borrow = _solve(small(a_min=-1.0), values=False)
    assert borrow.aggregates["r"] > base["r"] + 1e-4
    assert borrow.policy["a_next"].min() >= -1.0 and abs(borrow.aggregates["excess_supply"]) < 1e-8


def test_ghh_equilibrium():
    sol = _solve(small(labour="ghh", chi=1.0, frisch=0.5), values=False)
    agg = sol.aggregates
    e, pi_e = np.asarray(sol.game.chain.values), sol.game.chain.stationary()
    n = (agg["w"] * e) ** 0.5
    assert agg["L"] == pytest.approx(pi_e @ (e * n), rel=1e-12)
    assert abs(agg["excess_supply"]) < 1e-8
    # Consumption includes the GHH disutility added back: C + delta K = Y still.
    assert abs(agg["goods_market_residual"]) < 1e-8


def test_krusell_smith_steady_state():
    model = KrusellSmith.from_calibration("krusell_smith_1998:no_aggregate_risk")
    sol = hm.solve(model, method="stationary", values=False)
    agg = sol.aggregates
    assert -0.025 < agg["r"] < 1 / 0.99 - 1
    assert agg["L"] == pytest.approx(0.93 * 0.3271, rel=1e-10)  # ergodic unemployment 7 %
    assert abs(agg["excess_supply"]) < 1e-7 and abs(agg["goods_market_residual"]) < 1e-8


# --- convergence with the grid ------------------------------------------------------------------------------
@pytest.mark.slow
def test_r_converges_as_the_grid_is_refined():
    """r* on 125, 250, 500, 1000 double-exponential points: successive differences shrink at an
    observed order near 2 (measured 1.5 -> 2.2 from 100 to 3200 points)."""
    ns = (125, 250, 500, 1000)
    rs = [_solve(Aiyagari(n_a=n), values=False).aggregates["r"] for n in ns]
    d = np.abs(np.diff(rs))
    orders = np.log2(d[:-1] / d[1:])
    print("r* by grid size:", dict(zip(ns, rs)), "observed orders:", orders)
    assert np.all(orders > 1.2)
    assert d[-1] < 1e-5


def test_r_converges_as_the_grid_is_refined_quick(anchor):
    """r* on 200, 500 (the anchor) and 1000 points: fit r_n = r_inf + C n^(-p) to the three and
    require an observed order p > 1.2 (the slow test measures ~2 up to 3200 points)."""
    ns = np.array([200, 500, 1000])
    r200 = _solve(small(), values=False).aggregates["r"]
    r1000 = _solve(Aiyagari.from_calibration("aiyagari_1994", n_a=1000), values=False).aggregates["r"]
    rs = np.array([r200, anchor.aggregates["r"], r1000])
    d = np.diff(rs)
    assert d[0] > 0 and d[1] > 0  # monotone approach from below

    def ratio(p):
        h = ns ** (-p)
        return (h[0] - h[1]) / (h[1] - h[2])

    p = optimize.brentq(lambda p: ratio(p) - d[0] / d[1], 0.1, 6.0)
    print(f"r* by grid size {dict(zip(ns.tolist(), rs.tolist()))}; observed order {p:.2f}")
    assert p > 1.2
    assert d[1] < 5e-6


# --- robustness and errors -----------------------------------------------------------------------------------
def test_no_failure_near_the_top_of_the_bracket():
    """sequence-jacobian's distribution iteration fails near 1/beta - 1; ours converges there."""
    problem = st.savings_problem(small())
    r_top = 1 / 0.96 - 1
    excess = st.excess_supply(problem, r_top - 1e-6)
    assert np.isfinite(excess) and excess > 0  # supply far exceeds demand there
    # The low-risk cell of Table II has r* within 0.02 points of 1/beta - 1.
    sol = _solve(small(sigma=1.0, rho_e=0.0), values=False)
    assert r_top - 5e-4 < sol.aggregates["r"] < r_top
    assert abs(sol.aggregates["excess_supply"]) < 1e-7


def test_single_step_functions():
    problem = st.savings_problem(small())
    hh = st.household(problem, 0.038)
    assert hh.iterations > 10 and hh.error <= 1e-12
    assert np.all(hh.a_next >= 0) and np.all(hh.c > 0)
    dist = st.distribution(problem, hh.a_next)
    assert abs(dist.mu.sum() - 1) < 1e-12 and dist.error <= 1e-13 and np.all(dist.mu >= 0)


def test_household_rejects_impatient_rates():
    problem = st.savings_problem(small())
    with pytest.raises(ValueError, match=r"beta \(1 \+ r\)"):
        st.household(problem, 1 / 0.96 - 1)
    with pytest.raises(ValueError, match=r"beta \(1 \+ r\)"):
        st.household(problem, 0.05)
    with pytest.raises(ValueError, match="delta"):
        st.household(problem, -0.09)


def test_natural_borrowing_limit():
    problem = st.savings_problem(small(a_min=-30.0))
    with pytest.raises(ValueError, match="natural borrowing limit"):
        st.household(problem, 0.04)
    r_lo, r_hi = st.rate_bounds(problem)
    assert r_hi < 0.04  # the bracket stops where households at the limit could not repay


def test_no_equilibrium_on_a_short_grid():
    with pytest.raises(st.NoEquilibriumError, match="a_max"):
        _solve(Aiyagari(n_a=100, a_max=2.0))


def test_convergence_error_says_what_to_change():
    with pytest.raises(st.ConvergenceError, match="max_hh_iter"):
        _solve(small(), max_hh_iter=5)


def test_models_without_a_stationary_equilibrium():
    with pytest.raises(ValueError, match="aggregate risk"):
        hm.solve(Aiyagari.from_calibration("mfax_macro"), method="stationary")
    with pytest.raises(ValueError, match="aggregate risk"):
        hm.solve(KrusellSmith(n_a=50), method="stationary")
    with pytest.raises(ValueError, match="aggregate risk"):
        hm.solve(LinearQuadratic(), method="stationary")
    with pytest.raises(TypeError, match="not a hetmacro.SavingsEconomy"):
        hm.solve(LinearQuadratic(aggregate_risk=False), hm.Stationary(algorithm="egm"))
    with pytest.raises(ValueError, match="beta"):
        _solve(small(beta=1.0))
