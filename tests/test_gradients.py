"""Derivatives of the stationary equilibrium (implicit function theorem) against finite differences of
hm.solve, and a calibration that recovers the parameter that generated its targets."""

import dataclasses

import jax
import numpy as np
import pytest

import hetmacro as hm
from hetmacro.models import Aiyagari


@pytest.fixture(scope="module")
def economy():
    with jax.enable_x64(True):
        model = Aiyagari.from_calibration("aiyagari_1994", n_a=120, n_e=3)
        return model, hm.solve(model, method="stationary")


def _solve(model, **values):
    with jax.enable_x64(True):
        return hm.solve(dataclasses.replace(model, **values), method="stationary")


def test_implicit_derivatives_equal_centred_differences(economy):
    model, sol = economy
    d = hm.gradient(sol, ["beta", "sigma"])
    for name, h in (("beta", 1e-5), ("sigma", 1e-4)):
        v = float(getattr(model, name))
        up, down = _solve(model, **{name: v + h}), _solve(model, **{name: v - h})
        for q in ("r", "K", "w", "C"):
            fd = (up.aggregates[q] - down.aggregates[q]) / (2 * h)
            # centred differences of r* solved to 1e-13: truncation O(h^2), rounding 1e-13 / h
            assert d.loc[q, name] == pytest.approx(fd, rel=1e-5), (name, q)
    # the partials: G rises with r (a well-posed market), and the total dr*/dbeta is G_beta / -G_r
    p = d.attrs["partials"]
    assert p["G_r"] > 0
    assert d.loc["r", "beta"] == pytest.approx(-p["G_beta"] / p["G_r"], rel=1e-12)
    # more patient households save more: lower r, more capital
    assert d.loc["r", "beta"] < 0 < d.loc["K", "beta"]


def test_parameters_that_move_the_grid_or_the_chain_are_refused(economy):
    _, sol = economy
    with pytest.raises(ValueError, match="'rho_e' changes the income chain"):
        hm.gradient(sol, ["rho_e"])
    with pytest.raises(ValueError, match="'n_a' is static"):
        hm.gradient(sol, ["n_a"])
    with pytest.raises(ValueError, match="needs the Solution of hm.solve\\(model, method='stationary'\\)"):
        hm.gradient(_relabel(sol), ["beta"])


def _relabel(sol):
    import copy

    other = copy.copy(sol)
    other.method = "linear"
    return other


def test_calibrate_recovers_the_parameter_that_made_its_targets(economy):
    model, sol = economy
    target = sol.aggregates["K"] / sol.aggregates["Y"]
    start = dataclasses.replace(model, beta=0.95)
    with jax.enable_x64(True):
        fitted, fit_sol, report = hm.calibrate(start, {"K/Y": target}, ["beta"], bounds={"beta": (0.9, 0.99)})
    assert report["success"]
    assert float(fitted.beta) == pytest.approx(float(model.beta), abs=1e-9)
    assert fit_sol.aggregates["K"] / fit_sol.aggregates["Y"] == pytest.approx(target, rel=1e-9)
    assert report["solves"] <= 12
    with pytest.raises(ValueError, match="unknown target"):
        hm.calibrate(start, {"gdp": 1.0}, ["beta"])
    with pytest.raises(ValueError, match="underdetermined"):
        hm.calibrate(start, {"r": 0.04}, ["beta", "sigma"])
    assert np.isfinite(report["quantities"]["K/Y"])
