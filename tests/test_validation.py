"""Bad input fails early with a message that names the field, the offending value and the fix."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hetmacro as hm
from hetmacro.model import param, static
from hetmacro.models import LinearQuadratic


class Tiny(hm.Model):
    """A 3-point savings model whose pieces the tests replace to make them wrong."""

    beta: float = param(0.9)
    T: int | None = static(4)
    bad: str = static("")

    def grid(self):
        return hm.Grid("a", [0.0, 1.0, 2.0])

    def chain(self):
        return hm.Chain("e", [0.5, 1.5], [[0.9, 0.1], [0.1, 0.9]])

    def chain_transition(self, z, z_next):
        if self.bad == "chain_transition":
            return jnp.array([[0.75, 0.5], [0.25, 0.75]])
        return self.chain().P

    def actions(self):
        return hm.ActionGrid.midpoints("saving share", 3)

    def shocks(self):
        if self.bad == "shocks":
            return np.array([0.0, 1.0]), np.array([0.5, 0.75])
        return np.zeros(1), np.ones(1)

    def transition(self, s, a, eps, agg):
        if self.bad == "nan_transition":
            return a * s.a / (s.a - 1.0) * 0.0  # 0/0 at a = 1 (= NaN), 0 elsewhere
        return a * (s.a + s.e)

    def reward(self, s, a, agg, next_agg):
        return jnp.log(s.a + s.e)

    def initial_distribution(self, z):
        if self.bad == "initial":
            return jnp.full((3, 2), 0.2)
        return jnp.full((3, 2), 1.0 / 6)


# --- probabilities -------------------------------------------------------------------------------------


def test_chain_rows_must_sum_to_one():
    # (Values exact in binary, so the message shows them exactly in float32 and float64.)
    with pytest.raises(ValueError, match=r"Chain 'e'\.P: .*row 0 sums to 0\.75\. Fix: normalise each row"):
        hm.Chain("e", [1.0, 2.0], [[0.5, 0.25], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"MarkovChain\.P: .*row 1 sums to 1\.25\. Fix: normalise each row"):
        hm.MarkovChain([[1.0, 0.0], [0.75, 0.5]], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"Tiny\.shocks\(\) probabilities: .*sums to 1\.25\. Fix: normalise"):
        hm.compile(Tiny(bad="shocks"))
    with pytest.raises(
        ValueError, match=r"Tiny\.chain_transition\(z, z'\): .*row 0 sums to 1\.25\. Fix: normalise"
    ):
        hm.compile(Tiny(bad="chain_transition"))


def test_negative_probabilities():
    with pytest.raises(ValueError, match=r"Chain 'e'\.P: .*non-negative, got P\[0, 1\] = -0\.2\. Fix: "):
        hm.Chain("e", [1.0, 2.0], [[1.2, -0.2], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"MarkovChain\.initial_probs: .*non-negative.*= -0\.5\. Fix: "):
        hm.MarkovChain(np.eye(2), [1.5, -0.5])


def test_initial_distribution_must_be_a_distribution():
    msg = r"Tiny\.initial_distribution must be non-negative and sum to 1; sums to 1\.2 with min 0\.2\. Fix: "
    with pytest.raises(ValueError, match=msg):
        hm.compile(Tiny(bad="initial"))


# --- grids -----------------------------------------------------------------------------------------------


def test_grid_must_increase_strictly():
    msg = r"Grid 'a': grid points must be strictly increasing, but point 2 \(1\.0\) <= point 1 \(2\.0\)\. Fix: sort"
    with pytest.raises(ValueError, match=msg):
        hm.Grid("a", [0.0, 2.0, 1.0])
    with pytest.raises(
        ValueError, match=r"Grid 'a': .*point 2 \(1\.0\) <= point 1 \(1\.0\)\. Fix: .*drop duplicates"
    ):
        hm.Grid("a", [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"ActionGrid 'move': .*strictly increasing.*Fix: sort"):
        hm.ActionGrid("move", [1.0, 0.0, 2.0])


def test_action_grid_inside_declared_interval():
    msg = (
        r"ActionGrid 'share': values span \[0\.1, 1\.2\] but the declared interval is \[0\.0, 1\.0\]\. "
        r"Fix: widen low/high or drop the actions outside it"
    )
    with pytest.raises(ValueError, match=msg):
        hm.ActionGrid("share", [0.1, 0.5, 1.2], 0.0, 1.0)
    with pytest.raises(ValueError, match=r"ActionGrid 'share': values span \[-0\.1, 0\.5\]"):
        hm.ActionGrid("share", [-0.1, 0.5], 0.0, 1.0)
    edges = np.asarray(hm.ActionGrid("share", [0.1, 0.5, 0.9], 0.0, 1.0).edges)
    np.testing.assert_allclose(edges, [0.0, 0.3, 0.7, 1.0])


# --- discounting and persistence ------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [1.0, 1.25])
def test_beta_below_one_with_infinite_horizon(beta):
    msg = (
        rf"LinearQuadratic: discount factor beta = {beta} with an infinite horizon: need beta < 1 .* "
        r"Fix: lower beta or set a finite horizon T"
    )
    with pytest.raises(ValueError, match=msg):
        hm.compile(LinearQuadratic(T=None, beta=beta))
    with pytest.raises(
        ValueError, match=r"Tiny: discount factor beta = 1\.0 with an infinite horizon.*Fix: "
    ):
        hm.compile(Tiny(T=None, beta=1.0))


def test_beta_one_is_fine_with_a_finite_horizon():
    assert hm.compile(Tiny(beta=1.0)).T == 4
    assert hm.compile(Tiny(T=None, beta=0.99)).T is None


@pytest.mark.parametrize("rho", [1.0, -1.0, 1.5])
def test_ar1_persistence_below_one(rho):
    with pytest.raises(
        ValueError, match=rf"AR1\.rho = {rho}: need \|rho\| < 1 for a stationary shock process"
    ):
        hm.AR1(rho, 0.01)
    with pytest.raises(ValueError, match=rf"income persistence rho = {rho}: need \|rho\| < 1"):
        hm.rouwenhorst("e", 3, rho=rho, sd=0.2, sd_kind="unconditional")
    assert float(hm.AR1(0.9, 0.03).rho) == pytest.approx(0.9)


# --- calibration files -----------------------------------------------------------------------------------


def test_calibration_unknown_key_lists_valid_keys(tmp_path):
    path = tmp_path / "lq_typo.toml"
    path.write_text('kappa = 0.4\nkapa = 0.5\n\n[meta]\nsource = "a test"\n')
    with pytest.raises(ValueError) as err:
        LinearQuadratic.from_calibration(path)
    msg = str(err.value)
    assert "LinearQuadratic: unknown calibration key(s) ['kapa']" in msg
    valid = re.search(r"Valid keys: (\[.*\])", msg)
    assert valid, msg
    for field in ("kappa", "c_action", "q", "c_term", "sigma", "rho", "beta", "T"):
        assert repr(field) in valid.group(1)
    # An unknown override is reported the same way.
    good = tmp_path / "lq.toml"
    good.write_text("kappa = 0.4\nT = 12\n\n[variants.patient]\nbeta = 0.999\n")
    with pytest.raises(ValueError, match=r"unknown calibration key\(s\) \['betta'\]\. Valid keys: "):
        LinearQuadratic.from_calibration(good, betta=0.9)
    # The good file loads, [meta] is ignored, variants apply on request.
    model = LinearQuadratic.from_calibration(good)
    assert float(model.kappa) == pytest.approx(0.4) and model.T == 12
    assert float(LinearQuadratic.from_calibration(f"{good}:patient").beta) == pytest.approx(0.999)
    with pytest.raises(KeyError, match=r"no variant 'impatient'; variants: \['patient'\]"):
        LinearQuadratic.from_calibration(f"{good}:impatient")


def test_missing_calibration_lists_shipped_ones(tmp_path):
    shipped = re.escape(f"Shipped calibrations: {hm.shipped_calibrations()}")
    with pytest.raises(FileNotFoundError, match=rf"no calibration named 'no_such_calibration'\..*{shipped}"):
        LinearQuadratic.from_calibration("no_such_calibration")
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(
        FileNotFoundError, match=rf"calibration file '.*nowhere\.toml' does not exist\. {shipped}"
    ):
        LinearQuadratic.from_calibration(missing)


# --- NaN under jit ---------------------------------------------------------------------------------------


def test_nan_policy_under_jit_raises(games, ops):
    """A NaN in a policy table makes the distribution NaN; inside eqx.filter_jit that raises, naming NaN."""
    game = games.get("lq")
    pi = np.full((game.T, game.n, game.m, game.A), 1.0 / game.A, np.float32)
    flow = ops.rollout_table(game, jax.random.PRNGKey(0), pi)  # the same table without NaN runs
    assert np.all(np.isfinite(np.asarray(flow.aggs.mu)))
    for bad in (np.nan, np.inf):
        pi_bad = pi.copy()
        pi_bad[3, 40, 0, 2] = bad
        with pytest.raises(Exception, match="NaN or Inf in the distribution during a rollout"):
            jax.block_until_ready(ops.rollout_table(game, jax.random.PRNGKey(0), pi_bad).aggs.mu)


def test_nan_from_the_model_under_jit_raises(ops):
    """A transition that divides by zero puts NaN into the distribution: the rollout raises."""
    game = hm.compile(Tiny(bad="nan_transition"))
    pi = np.full((game.T, game.n, game.m, game.A), 1.0 / game.A, np.float32)
    with pytest.raises(Exception, match="NaN or Inf in the distribution"):
        jax.block_until_ready(ops.rollout_table(game, jax.random.PRNGKey(0), pi).aggs.mu)
    with pytest.raises(Exception, match="NaN or Inf in the distribution"):
        jax.block_until_ready(ops.rollout_table(game, jax.random.PRNGKey(0), pi[:2]).aggs.mu)
