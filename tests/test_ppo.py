"""IPPO / RIPPO (:mod:`hetmacro.mfg.ppo`, :mod:`hetmacro.mfg.ippo`): the PPO pieces by hand, learning on a
tiny LQ game, the scoring against the exact dynamic programme, the schedule, and bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hetmacro as hm
from hetmacro.mfg.dp import exploitability
from hetmacro.mfg.ppo import clipped_surrogate, gae
from hetmacro.models import LinearQuadratic

TINY = dict(n_states=21, T=10, max_move=1, shock_atoms=2, aggregate_risk=False)
SMALL_NET = dict(width=32, hidden=16, paths=1, agents=128, eval_paths=1, keep_paths=1, progress=False)


def test_gae_by_hand():
    """gamma = 0.9, lambda = 0.8 (gamma lambda = 0.72), values (0.5, 1, 1.5)."""
    r = jnp.array([1.0, 2.0, 3.0])
    v = jnp.array([0.5, 1.0, 1.5])
    # One episode ending at the last step: the bootstrap value 10 must be ignored.
    # deltas 1 + 0.9 - 0.5 = 1.4, 2 + 1.35 - 1 = 2.35, 3 - 1.5 = 1.5; A = (1.4 + 0.72 x 3.43, 2.35 + 0.72 x 1.5, 1.5)
    adv, ret = gae(r, v, jnp.array([0, 0, 1]), jnp.asarray(10.0), 0.9, 0.8)
    np.testing.assert_allclose(adv, [3.8696, 3.43, 1.5], rtol=1e-6)
    np.testing.assert_allclose(ret, [4.3696, 4.43, 3.0], rtol=1e-6)
    # An episode ends at step 1 (no bootstrap across it) and the next one is cut at step 2 (bootstrap 2.0):
    # deltas 1.4, 2 - 1 = 1.0, 3 + 1.8 - 1.5 = 3.3; A = (1.4 + 0.72 x 1.0, 1.0, 3.3)
    adv, _ = gae(r, v, jnp.array([0, 1, 0]), jnp.asarray(2.0), 0.9, 0.8)
    np.testing.assert_allclose(adv, [2.12, 1.0, 3.3], rtol=1e-6)
    # lambda = 1 without termination: A_t = discounted reward-to-go + bootstrap - V_t
    adv, _ = gae(r, v, jnp.zeros(3), jnp.asarray(2.0), 0.9, 1.0)
    togo = [1 + 0.9 * 2 + 0.81 * 3 + 0.729 * 2, 2 + 0.9 * 3 + 0.81 * 2, 3 + 0.9 * 2]
    np.testing.assert_allclose(adv, np.array(togo) - np.array([0.5, 1.0, 1.5]), rtol=1e-6)


def test_clipped_surrogate_by_hand():
    """Ratios (1.5, 0.5, 1.1, 0.7), advantages (1, 1, -1, -1), eps = 0.2:
    min(rA, clip(r)A) = (1.2, 0.5, -1.1, -0.8), loss = -mean = 0.05; the clip binds on samples 1 and 4
    (zero gradient there) and is active (|r - 1| > eps) on samples 1, 2, 4."""
    old = jnp.log(jnp.full(4, 0.5))
    ratio = jnp.array([1.5, 0.5, 1.1, 0.7])
    new = old + jnp.log(ratio)
    adv = jnp.array([1.0, 1.0, -1.0, -1.0])
    loss, frac = clipped_surrogate(new, old, adv, 0.2)
    np.testing.assert_allclose(loss, 0.05, rtol=1e-5)
    np.testing.assert_allclose(frac, 0.75)
    grad = jax.grad(lambda lp: clipped_surrogate(lp, old, adv, 0.2)[0])(new)
    # d/dlogp of -r A / 4 = -r A / 4 where unclipped
    np.testing.assert_allclose(grad, [0.0, -0.125, 0.275, 0.0], rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def tiny_ippo():
    model = LinearQuadratic(**TINY)
    sol = hm.solve(model, method="ippo", iterations=30, eval_every=10, lr=3e-3, seed=0, **SMALL_NET)
    return model, sol


def test_ippo_exploitability_falls(tiny_ippo):
    _, sol = tiny_ippo
    ev = sol.result.evaluations
    start, final = float(ev["eval_exploitability"].iloc[0]), float(sol.exploitability)
    assert sol.exploitability_kind == "exact (no common noise)"
    assert list(ev["iteration"]) == [0, 10, 20, 30]
    assert final < 0.15 * start, (start, final)
    assert list(ev["agent_steps"]) == [k * 128 * 10 for k in (0, 10, 20, 30)]


def test_ippo_is_scored_as_the_exact_exploitability(tiny_ippo):
    """The figure RSPG's scoring reports equals the dynamic programme's exploitability of the learned
    population policy on its own flow."""
    _, sol = tiny_ippo
    flow = sol.game.rollout(jax.random.PRNGKey(0), sol.policy, sol.policy.init_carry())
    expl = float(exploitability(sol.game, flow)[0])
    np.testing.assert_allclose(sol.exploitability, expl, rtol=1e-4, atol=1e-4)


def test_schedule_spans_the_optimiser_steps(tiny_ippo):
    _, sol = tiny_ippo
    res = sol.result
    steps = 30 * res.options["epochs"] * res.options["minibatches"]
    assert res.optimiser_steps == steps == 480
    lr = sol.history()["learning_rate"].to_numpy()
    # linear from 3e-3 (step 0) to 3e-4 (step 480): the last step of iteration k is 16 (k + 1) - 1
    k = np.arange(30)
    np.testing.assert_allclose(lr, 3e-3 * (1 - 0.9 * (16 * (k + 1) - 1) / 480), rtol=1e-5)
    assert lr[len(lr) // 2] > 0.5 * 3e-3  # the reference's schedule would be at 0.1 lr after 30 steps


@pytest.mark.slow
def test_compare_shows_ippo_beside_dp(tiny_ippo):
    model, sol = tiny_ippo
    dp = hm.solve(model, method="dp")
    table = hm.compare(sol, dp)
    assert list(table.index) == ["ippo", "dp"]
    assert table.loc["ippo", "exploitability"] == pytest.approx(sol.exploitability)
    assert table.loc["dp", "exploitability"] < table.loc["ippo", "exploitability"]


@pytest.mark.slow
def test_rippo_runs_and_keeps_memory():
    model = LinearQuadratic(**TINY)
    sol = hm.solve(model, method="rippo", iterations=3, eval_every=0, lr=3e-3, **SMALL_NET)
    assert sol.method == "rippo" and isinstance(sol.solver, hm.RIPPO)
    assert sol.policy.network.signal.recurrent
    assert np.isfinite(sol.exploitability)
    assert sol.result.agent_steps == 3 * 128 * 10


class _ContinuousActions(LinearQuadratic):
    def actions(self):
        return np.linspace(-1.0, 1.0, 5)


def test_bad_input_is_refused_before_compiling(monkeypatch):
    import hetmacro.mfg.ippo as ippo

    def no_compile(*a, **k):
        raise AssertionError("compiled")

    monkeypatch.setattr(ippo, "compile", no_compile)
    with pytest.raises(ValueError, match="does not divide agents"):
        hm.IPPO(agents=100, minibatches=3)
    with pytest.raises(ValueError, match="does not divide agents"):
        hm.solve(LinearQuadratic(**TINY), method="rippo", agents=10, minibatches=4)
    for lr in (0.0, -1e-3):
        with pytest.raises(ValueError, match="lr"):
            hm.RIPPO(lr=lr)
    with pytest.raises(ValueError, match="population"):
        hm.IPPO(population=0)
    with pytest.raises(ValueError, match="mean_field"):
        hm.IPPO(mean_field="mode")
    with pytest.raises(ValueError, match="not a discrete"):
        hm.solve(_ContinuousActions(**TINY), method="ippo")
    with pytest.raises(ValueError, match="infinite horizon"):
        hm.IPPO().solve(_infinite())


def _infinite():
    class Infinite(LinearQuadratic):
        def horizon(self):
            return None

    return Infinite(**TINY)


@pytest.mark.slow
def test_empirical_mean_field_learns():
    """The paper's RL setting: the frozen flow is the histogram of a sampled population."""
    model = LinearQuadratic(**TINY)
    sol = hm.solve(
        model,
        method="ippo",
        iterations=30,
        eval_every=10,
        lr=3e-3,
        mean_field="empirical",
        population=2000,
        **SMALL_NET,
    )
    ev = sol.result.evaluations
    assert sol.exploitability < 0.3 * float(ev["eval_exploitability"].iloc[0])


@pytest.mark.slow
def test_cli_solves_by_ippo(tmp_path):
    from hetmacro.cli import main

    out = tmp_path / "out"
    rc = main(
        [
            "solve",
            "lq",
            "--method",
            "ippo",
            "--set",
            "n_states=21",
            "--set",
            "T=10",
            "--set",
            "max_move=1",
            "--option",
            "iterations=3",
            "--option",
            "width=16",
            "--out",
            str(out),
            "--no-figures",
        ]
    )
    assert rc == 0
    assert (out / "solution.hmx").exists()
    sol = hm.load(out / "solution.hmx")
    assert sol.method == "ippo"
