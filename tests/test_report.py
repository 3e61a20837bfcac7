"""Tables and figures of a Solution (hetmacro.report, hetmacro.plot).

Oracles: the flows the solver stored (paths), a direct re-simulation with the Game's own kernel and
push (IRF), numpy recomputations of the model's formulas (policy table), closed forms (Gini of
degenerate and two-point distributions) and brute force (Gini as a mean absolute difference).
"""

import io

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import hetmacro as hm
import hetmacro.models as hm_models
from hetmacro import report
from hetmacro.model import param, static
from hetmacro.models import LinearQuadratic


class Savings(hm.Model):
    """A small savings game with a deterministic AR(1) TFP process (so exact DP applies)."""

    beta: float = param(0.95)
    alpha: float = param(0.36)
    delta: float = param(0.08)
    tfp_rho: float = static(0.8)
    n_a: int = static(16)
    T: int = static(6)

    def grid(self):
        return hm.Grid("a", np.linspace(0.0, 8.0, self.n_a))

    def chain(self):
        return hm.Chain("e", [0.5, 1.5], [[0.9, 0.1], [0.1, 0.9]])

    def actions(self):
        return hm.ActionGrid.midpoints("consumption share", 6)

    def common_noise(self):
        return hm.AR1(self.tfp_rho, 0.0)

    def aggregates(self, dist):
        return {"K": dist.mean("a"), "L": dist.mean("e")}

    def prices(self, agg):
        Z = jnp.exp(agg.z)
        K = agg.K + 0.1
        return {
            "r": self.alpha * Z * (K / agg.L) ** (self.alpha - 1) - self.delta,
            "w": (1 - self.alpha) * Z * (K / agg.L) ** self.alpha,
            "Y": Z * K**self.alpha * agg.L ** (1 - self.alpha),
        }

    def cash(self, s, agg):
        return (1 + agg.r) * s.a + agg.w * s.e

    def transition(self, s, a, eps, agg):
        return (1 - a) * self.cash(s, agg)

    def reward(self, s, a, agg, next_agg):
        return jnp.log(a * self.cash(s, agg))

    def policy_quantities(self, s, a, agg):
        return {"c": a * self.cash(s, agg)}


@pytest.fixture(scope="module")
def sol():
    return hm.solve(Savings(), method="dp")


@pytest.fixture(scope="module")
def lq_risky():
    """LQ with its two-state common noise under a fixed random policy table, 8 evaluation paths."""
    with jax.enable_x64(True):
        game = hm.compile(LinearQuadratic(T=8, n_states=31))
        rng = np.random.default_rng(0)
        pi = rng.dirichlet(np.ones(game.A), (game.T, game.n, game.m))
        keys = jax.random.split(jax.random.PRNGKey(1), 8)
        flows = jax.vmap(lambda k: game.rollout_table(k, jnp.asarray(pi)))(keys)
    return hm.Solution("table", game.model, game=game, policy=pi, flows=jax.tree.map(np.asarray, flows))


# --- paths -------------------------------------------------------------------------------------------------
def test_paths_layout_and_values(sol):
    frame = sol.paths()
    T = sol.game.T
    assert frame.index.names == ["path", "t"]
    assert list(frame.index.get_level_values("t")) == list(range(T + 1))
    assert {"z", "K", "L", "r", "w", "Y", "C"} <= set(frame.columns)
    assert frame.attrs["units"]["K"].startswith("level")
    # Exactly the solver's flows.
    for k in ("K", "r", "w"):
        np.testing.assert_array_equal(frame[k].to_numpy(), sol.flows.aggs.values[k][0])
    # C = sum mu pi c, recomputed with numpy from the model's formulas; no policy at date T.
    a = np.asarray(sol.game.grid.points)[:, None, None]
    e = np.asarray(sol.game.chain.values)[None, :, None]
    s = np.asarray(sol.game.actions.values)[None, None, :]
    mu, pi = sol.flows.aggs.mu[0], sol.flows.pi[0]
    r, w = sol.flows.aggs.values["r"][0], sol.flows.aggs.values["w"][0]
    C = [np.sum(mu[t][:, :, None] * pi[t] * s * ((1 + r[t]) * a + w[t] * e)) for t in range(T)]
    np.testing.assert_allclose(frame["C"].to_numpy()[:T], C, rtol=1e-12)
    assert np.isnan(frame["C"].iloc[T])


def test_paths_summary_layout(lq_risky):
    frame = lq_risky.paths(summary=True)
    assert frame.index.name == "t"
    assert frame.columns.names == ["variable", "statistic"]
    assert set(frame.columns.get_level_values("statistic")) == {"mean", "q5", "q50", "q95"}
    raw = lq_risky.paths()
    np.testing.assert_allclose(frame[("m", "mean")].to_numpy(), raw["m"].groupby(level="t").mean().to_numpy())
    assert np.all(frame[("m", "q5")] <= frame[("m", "q95")])


# --- impulse responses ---------------------------------------------------------------------------------------
def test_irf_to_a_zero_shock_is_exactly_zero(sol):
    frame = sol.irf("z", size=0.0)
    values = frame.to_numpy()
    assert np.all(values[np.isfinite(values)] == 0.0)
    # Only C at the final date T (no policy there) is undefined.
    assert np.isnan(values).sum() == 1 and np.isnan(frame["C (%)"].iloc[-1])


def test_irf_columns_say_their_units(sol):
    frame = sol.irf("z", size=0.01)
    assert frame.index.name == "h" and len(frame) == sol.game.T + 1
    assert {"z (level)", "K (%)", "L (%)", "Y (%)", "w (%)", "C (%)", "r (pp)"} == set(frame.columns)
    assert frame.attrs["units"]["pp"].startswith("percentage points")
    # Capital is predetermined: no response on impact; TFP decays at its persistence.
    assert frame["K (%)"].iloc[0] == 0.0
    np.testing.assert_allclose(frame["z (level)"], 0.01 * 0.8 ** np.arange(sol.game.T + 1), rtol=1e-12)


def test_irf_matches_a_direct_resimulation(sol):
    """Deterministic model, one-time TFP shock at date 1: the same policy rolled by hand on both paths."""
    size, at, H = 0.02, 1, sol.game.T
    frame = sol.irf("z", size=size, horizon=H - at, at=at)
    game, pi = sol.game, sol.policy

    @eqx.filter_jit
    def step(mu, z, z_next, t, pi_t):
        agg = game.aggregate_state(mu, z, t)
        return agg.values, game.push(mu, pi_t, game.kernel(agg, z_next))

    with jax.enable_x64(True):

        def simulate(z):
            z = jnp.asarray(z, game.dtype)
            mu = jnp.asarray(game.model.initial_distribution(z[0]), game.dtype)
            out = []
            for t in range(H + 1):
                values, mu_next = step(mu, z[t], z[min(t + 1, H)], t, jnp.asarray(pi[min(t, H - 1)]))
                out.append({k: float(v) for k, v in values.items()})
                mu = mu_next
            return pd.DataFrame(out)

        z_shock = np.array([0.0] * at + [size * 0.8**h for h in range(H + 1 - at)])
        base, shocked = simulate(np.zeros(H + 1)), simulate(z_shock)
    for k in ("K", "w", "Y"):
        expected = 100 * (shocked[k] - base[k]) / base[k]
        np.testing.assert_allclose(frame[f"{k} (%)"], expected.to_numpy()[at:], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(frame["r (pp)"], 100 * (shocked["r"] - base["r"]).to_numpy()[at:], atol=1e-12)


def test_irf_user_path_equals_the_one_time_shock_of_an_ar1(sol):
    kick = sol.irf("z", size=0.01)
    path = sol.irf(0.01 * 0.8 ** np.arange(sol.game.T + 1))
    np.testing.assert_allclose(path.to_numpy(), kick.to_numpy(), atol=1e-12)
    assert path.attrs["shock"] == "user-supplied path"


def test_irf_finite_state_noise_sets_the_state(lq_risky):
    """LQ's z is drawn once (z' = z): forcing z_0 = 1 changes only paths drawn with z = 0, so the
    generalised IRF is the share of such paths times the response of one path from z = 0 to z = 1."""
    with pytest.raises(ValueError, match="the state to set"):
        lq_risky.irf("z", size=2)
    frame = lq_risky.irf("z", size=1, paths=16, seed=3)
    share = frame["z (level)"].iloc[0]
    assert 0 < share < 1 and np.all(frame["z (level)"] == share)
    game = lq_risky.game
    with jax.enable_x64(True):
        pi = jnp.asarray(lq_risky.policy)
        zs = {v: jnp.full(game.T + 1, v, jnp.int32) for v in (0, 1)}
        m = {
            v: np.asarray(report.rollout_with_noise(game, report.TablePolicy(pi), zs[v]).aggs.values["m"])
            for v in zs
        }
    np.testing.assert_allclose(frame["m (%)"], share * 100 * (m[1] - m[0]) / m[0], rtol=1e-10, atol=1e-12)


def test_irf_errors_are_clear(sol):
    with pytest.raises(ValueError, match="no component 'tfp'"):
        sol.irf("tfp")
    with pytest.raises(ValueError, match="exceed the solution's horizon"):
        sol.irf("z", horizon=sol.game.T + 1)
    no_noise = hm.solve(LinearQuadratic(aggregate_risk=False, T=3, n_states=11), method="dp")
    with pytest.raises(ValueError, match="no common noise"):
        no_noise.irf("z")


def test_rollout_with_noise_reproduces_game_rollout(lq_risky):
    game = lq_risky.game
    with jax.enable_x64(True):
        pi = jnp.asarray(lq_risky.policy)
        key = jax.random.PRNGKey(5)
        flow = game.rollout_table(key, pi)
        mine = report.rollout_with_noise(game, report.TablePolicy(pi), report.noise_path(game, key, game.T))
    np.testing.assert_allclose(np.asarray(mine.aggs.mu), np.asarray(flow.aggs.mu), atol=1e-14)
    np.testing.assert_array_equal(np.asarray(mine.aggs.z), np.asarray(flow.aggs.z))


# --- policy, distribution, inequality ------------------------------------------------------------------------
def test_policy_table_layout_and_values(sol):
    t = 2
    table = sol.policy_table(t=t)
    game = sol.game
    assert table.index.names == ["a", "e"] and len(table) == game.n * game.m
    share = np.asarray(game.actions.values)
    probs = table[[f"P(consumption share={v:g})" for v in share]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(table["E[consumption share]"], probs @ share, rtol=1e-12)
    np.testing.assert_array_equal(table["mass"].to_numpy(), sol.flows.aggs.mu[0, t].reshape(-1))
    r, w = sol.flows.aggs.values["r"][0, t], sol.flows.aggs.values["w"][0, t]
    a = table.index.get_level_values("a").to_numpy()
    e = table.index.get_level_values("e").to_numpy()
    cash = (1 + r) * a + w * e
    np.testing.assert_allclose(table["c"], table["E[consumption share]"] * cash, rtol=1e-12)
    saved = np.sum(probs * np.clip((1 - share)[None, :] * cash[:, None], 0.0, 8.0), axis=1)
    np.testing.assert_allclose(table["a'"], saved, rtol=1e-12)
    # Negative dates count from the end; there is no policy at date T.
    pd.testing.assert_frame_equal(sol.policy_table(t=-1), sol.policy_table(t=game.T - 1))
    with pytest.raises(IndexError, match="out of range"):
        sol.policy_table(t=game.T)


def test_distribution_layout(sol):
    frame = sol.distribution(t=-1)
    assert frame.index.names == ["a", "e"] and list(frame.columns) == ["mass"]
    assert frame.attrs["t"] == sol.game.T
    np.testing.assert_allclose(frame["mass"].sum(), 1.0, atol=1e-12)


def test_gini_closed_forms_and_brute_force():
    x = np.array([0.0, 1.0, 2.0, 5.0])
    assert report.gini(x, [0, 0, 1, 0]) == 0.0
    assert report.gini([3.0], [1.0]) == 0.0
    for p, x1, x2 in ((0.5, 0.0, 1.0), (0.3, 1.0, 4.0), (0.9, 2.0, 2.5)):
        closed = p * (1 - p) * (x2 - x1) / (p * x1 + (1 - p) * x2)
        assert report.gini([x2, x1], [1 - p, p]) == pytest.approx(closed, rel=1e-12)
    rng = np.random.default_rng(0)
    v, w = rng.normal(3.0, 1.0, 40), rng.dirichlet(np.ones(40))
    brute = np.sum(w[:, None] * w[None, :] * np.abs(v[:, None] - v[None, :])) / (2 * np.sum(w * v))
    assert report.gini(v, w) == pytest.approx(brute, rel=1e-12)


def test_top_shares_and_lorenz():
    # Ten equal groups holding 1..10: the top 10% holds 10/55; the top 1% a tenth of that.
    x, w = np.arange(1.0, 11.0), np.full(10, 0.1)
    assert report.top_share(x, w, 0.10) == pytest.approx(10 / 55, rel=1e-12)
    assert report.top_share(x, w, 0.01) == pytest.approx(1 / 55, rel=1e-12)
    pop, share = report.lorenz_curve(x, w)
    assert (pop[0], share[0], pop[-1], share[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(share) >= 0)


def test_mean_abs_difference_against_brute_force_and_gini():
    rng = np.random.default_rng(3)
    v, w = rng.normal(0.2, 2.0, 50), rng.dirichlet(np.ones(50))
    brute = np.sum(w[:, None] * w[None, :] * np.abs(v[:, None] - v[None, :]))
    assert report.mean_abs_difference(v, w) == pytest.approx(brute, rel=1e-12)
    x = np.abs(v)
    mean = np.sum(w * x)
    assert report.mean_abs_difference(x, w) == pytest.approx(2 * mean * report.gini(x, w), rel=1e-12)
    assert report.mean_abs_difference([1.0, 1.0, 5.0], [0.5, 0.5, 0.0]) == 0.0


class Borrowing(Savings):
    """The savings game with a grid reaching into debt (mean wealth near 0 under a uniform policy)."""

    def grid(self):
        return hm.Grid("a", np.linspace(-4.0, 4.0, self.n_a))


def test_inequality_with_negative_wealth_is_not_silently_wrong():
    """Before: a borrowing economy reported Gini -1.6e7 and top-1% share -1.3e6. Now: Gini and top shares
    are NaN where households hold debt, the measures that stay defined are reported, and the share
    functions refuse negative values with a message that says what to use."""
    with jax.enable_x64(True):
        game = hm.compile(Borrowing())
        pi = jnp.full((game.T, game.n, game.m, game.A), 1.0 / game.A)
        flows = jax.tree.map(
            np.asarray,
            jax.vmap(lambda k: game.rollout_table(k, pi))(jax.random.split(jax.random.PRNGKey(0), 2)),
        )
    borrowing = hm.Solution("table", game.model, game=game, policy=np.asarray(pi), flows=flows)
    frame = borrowing.inequality(t=0)
    x = np.asarray(game.grid.points)
    w = np.asarray(flows.aggs.mu[0, 0]).sum(1)
    assert frame["share below 0"].iloc[0] == pytest.approx(w[x < 0].sum(), rel=1e-12) and w[x < 0].sum() > 0.1
    assert frame[["gini", "top 1% share", "top 10% share"]].isna().all().all()
    brute = np.sum(w[:, None] * w[None, :] * np.abs(x[:, None] - x[None, :]))
    assert frame["mean abs difference"].iloc[0] == pytest.approx(brute, rel=1e-10)
    assert "negative" in frame.attrs["note"]
    for fn in (report.gini, report.lorenz_curve, lambda v, m: report.top_share(v, m, 0.1)):
        with pytest.raises(ValueError, match="negative values.*mean_abs_difference"):
            fn(x, w)
    with pytest.raises(ValueError, match="negative values"):
        borrowing.lorenz(t=0)


def test_inequality_table(sol, lq_risky):
    frame = sol.inequality(t=-1)
    assert frame.index.name == "path"
    assert list(frame.columns) == [
        "gini",
        "top 1% share",
        "top 10% share",
        "share at borrowing limit",
        "share below 0",
        "mean a",
        "mean abs difference",
    ]
    mu = sol.flows.aggs.mu[0, -1]
    assert frame["share at borrowing limit"].iloc[0] == pytest.approx(mu[0].sum(), rel=1e-12)
    assert frame["gini"].iloc[0] == pytest.approx(report.gini(sol.game.grid.points, mu.sum(1)), rel=1e-12)
    assert len(lq_risky.inequality(t=3)) == 8 and len(lq_risky.inequality(t=3, path=2)) == 1
    lor = sol.lorenz(t=-1)
    assert list(lor.columns) == ["population share", "a share"] and lor.index.name == "point"


def test_history_and_compare(sol, lq_risky):
    hist = sol.history()
    assert {"iteration", "exploitability", "seconds"} <= set(hist.columns)
    hist.loc[0, "seconds"] = -1.0
    assert sol.history().loc[0, "seconds"] >= 0  # a copy
    frame = hm.compare(sol, sol, names=["a", "b"])
    assert frame.index.name == "solution" and list(frame.index) == ["a", "b"]
    assert list(frame.columns) == [
        "model",
        "method",
        "exploitability",
        "exploitability kind",
        "r",
        "w",
        "K",
        "L",
        "Y",
        "C",
        "time (s)",
    ]
    T = sol.game.T
    assert frame.loc["a", "K"] == pytest.approx(sol.flows.aggs.values["K"][0, :T].mean(), rel=1e-12)
    assert list(hm.compare(lq_risky).columns)[-2:] == ["m", "time (s)"]


# --- figures -------------------------------------------------------------------------------------------------
def test_figures_render_under_agg(sol, lq_risky):
    import matplotlib.pyplot as plt

    assert matplotlib.get_backend().lower() == "agg"
    before = plt.get_fignums()
    figures = [
        sol.plot.irf(),
        sol.plot.policy(t=1),
        sol.plot.distribution(t=-1),
        sol.plot.paths(),
        sol.plot.history(),
        lq_risky.plot.paths(),
        lq_risky.plot.irf(size=1, paths=16, seed=3),
    ]
    for fig in figures:
        assert isinstance(fig, Figure) and fig.axes
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.getvalue()[:4] == b"\x89PNG"
    assert plt.get_fignums() == before  # nothing registered with pyplot, nothing to show


# --- a stationary solution (issue 4's solver), when it is available ---------------------------------------------
@pytest.mark.skipif(not hasattr(hm_models, "Aiyagari"), reason="hetmacro.models.Aiyagari not available yet")
def test_stationary_solution_tables(tmp_path):
    with jax.enable_x64(True):
        model = hm_models.Aiyagari(n_a=60, a_max=60.0, n_e=3)
    sol = hm.solve(model, method="stationary", values=False)
    frame = sol.paths()
    assert frame.index.names == ["path", "t"] and len(frame) == 1
    assert frame["r"].iloc[0] == sol.aggregates["r"]
    table = sol.policy_table()
    assert {"mass", "c", "a'"} <= set(table.columns) and table.index.names == ["a", "e"]
    assert sol.distribution()["mass"].sum() == pytest.approx(1.0, abs=1e-12)
    ineq = sol.inequality()
    assert 0 < ineq["gini"].iloc[0] < 1
    with pytest.raises(NotImplementedError, match="continuous savings rule"):
        sol.irf("z")
    assert hm.compare(sol).loc["stationary", "r"] == sol.aggregates["r"]
    sol.save(tmp_path / "steady.hmx")
    back = hm.load(tmp_path / "steady.hmx")
    for name in ("paths", "policy_table", "distribution", "inequality"):
        pd.testing.assert_frame_equal(getattr(back, name)(), getattr(sol, name)(), check_exact=True)
